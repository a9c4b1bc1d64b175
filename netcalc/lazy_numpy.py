"""`np` that imports NumPy on first use.

Kind modules keep their NumPy forward/backward beside their formulas, yet `netcalc summary` must start
without importing NumPy; this proxy defers the import until a reference pass actually touches `np`.
"""

from __future__ import annotations

import importlib
from typing import Any


class _LazyNumpy:
    def __getattr__(self, name: str) -> Any:
        # called only for a name not yet read: kept on the proxy, so every later `np.name` is a plain attribute
        # read instead of an import-system lookup (~3 µs, thousands of times in a pass over a deep network)
        value = getattr(importlib.import_module("numpy"), name)
        setattr(self, name, value)
        return value


np: Any = _LazyNumpy()
