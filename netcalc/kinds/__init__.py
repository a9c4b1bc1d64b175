"""The registry of layer kinds: a plain dict from kind name to its `LayerKind` record.

Each module here holds a few related kinds, formulas and NumPy reference side by side; adding a kind means
adding a `LayerKind` to one module's `KINDS` (and its tests).
"""

from __future__ import annotations

from netcalc.errors import SpecError, did_you_mean
from netcalc.kinds import channels, conv, elementwise, fc, merge, norm, pool, spatial, unknown
from netcalc.kinds.base import LayerKind

MODULES = (conv, pool, fc, merge, norm, elementwise, channels, spatial, unknown)
REGISTRY: dict[str, LayerKind] = {kind.name: kind for module in MODULES for kind in module.KINDS
}


def get_kind(name: str) -> LayerKind:
    """The kind called `name`; an unknown name is a SpecError listing the known kinds."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise SpecError(
            f"unknown kind {name!r}{did_you_mean(str(name), REGISTRY)}; known kinds: {', '.join(REGISTRY)}"
        ) from None
