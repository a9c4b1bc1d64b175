"""`np` that imports NumPy on first use.

Kind modules keep their NumPy forward/backward beside their formulas, yet `netcalc summary` must start
without importing NumPy; this proxy defers the import until a reference pass actually touches `np`.
"""

from __future__ import annotations

import importlib
from typing import Any


class _LazyNumpy:
    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("numpy"), name)


np: Any = _LazyNumpy()
