"""The compact chain notation: `conv3-64`, `conv3-64/2`, `maxpool`, `maxpool3/2`, `fc-4096`, `relu`, …

Each string becomes the layer mapping it abbreviates; attributes it does not mention come from defaults.
"""

from __future__ import annotations

import re
from typing import Any

from netcalc.errors import SpecError, did_you_mean
from netcalc.kinds import REGISTRY

# ASCII digits only (`\d` would read `conv٣-64`, an Arabic-Indic 3, as a 3×3 conv), the whole string matched
_CONV = re.compile(r"conv([0-9]+)-([0-9]+)(?:/([0-9]+))?")
_POOL = re.compile(r"(maxpool|avgpool)([0-9]+)?(?:/([0-9]+))?")
_FC = re.compile(r"fc-([0-9]+)")
POOL_KERNEL = 2  # `maxpool` alone is the VGG paper's 2×2 window with stride 2

FORMS = "conv3-64, conv3-64/2, maxpool, maxpool3/2, avgpool, fc-4096, or a kind with no required attributes"


def expand_compact(text: str) -> dict[str, Any]:
    """The layer mapping that `text` stands for; SpecError (unlocated) when it is not a known form."""
    if match := _CONV.fullmatch(text):
        kernel, out, stride = match.groups()
        layer: dict[str, Any] = {"kind": "conv", "kernel": int(kernel), "out": int(out)}
        if stride:
            layer["stride"] = int(stride)
        return layer
    if match := _POOL.fullmatch(text):
        kind, kernel, stride = match.groups()
        layer = {"kind": kind, "kernel": int(kernel) if kernel else POOL_KERNEL}
        if stride:
            layer["stride"] = int(stride)
        return layer
    if match := _FC.fullmatch(text):
        return {"kind": "fc", "out": int(match.group(1))}
    kind = REGISTRY.get(text)
    if kind is not None:
        required = [a.name for a in kind.attrs if a.required]
        if required:
            raise SpecError(f"'{text}' needs {', '.join(required)}; write it as a mapping with kind: {text}")
        return {"kind": text}
    forms = list(REGISTRY) + ["conv3-64", "maxpool", "fc-4096"]
    digits = "" if text.isascii() or not any(c.isdigit() for c in text) else "; digits are 0-9 only"
    raise SpecError(f"cannot read the compact layer {text!r}{did_you_mean(text, forms)}; forms: {FORMS}{digits}")
