"""Tensor shapes as users see them: (H, W, C) for feature maps, (N,) for flat vectors."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from netcalc.errors import excerpt

Shape = tuple[int, ...]

# ASCII digits only: `\d` would read "２２４" (fullwidth) as 224
_SHAPE_TEXT = re.compile(r"\s*([0-9]{1,30})\s*[xX×]\s*([0-9]{1,30})\s*[xX×]\s*([0-9]{1,30})\s*")
# Each input dimension is at most this (a 1,048,576-pixel side, 1,048,576 channels); docs/limits.md.
MAX_INPUT_SIDE = 2**20


def numel(shape: Shape) -> int:
    return math.prod(shape)


def is_spatial(shape: Shape) -> bool:
    return len(shape) == 3


def format_shape(shape: Sequence[int]) -> str:
    """`56×56×256` for a feature map, `4096` for a flat vector."""
    return "×".join(str(d) for d in shape)


def parse_shape(value: object) -> Shape:
    """`224x224x3`, `224×224×3` or `[224, 224, 3]` as (H, W, C); ValueError says what was expected."""
    expected = "H×W×C, e.g. 224x224x3 or [224, 224, 3]"
    if isinstance(value, str):
        match = _SHAPE_TEXT.fullmatch(value)
        if match is None:
            digits = "" if value.isascii() or not any(c.isdigit() for c in value) else "; digits are 0-9 only"
            raise ValueError(f"expected {expected}, got {excerpt(value)}{digits}")
        dims = tuple(int(g) for g in match.groups())
    elif isinstance(value, (list, tuple)):
        if len(value) != 3 or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
            raise ValueError(f"expected {expected}, got {excerpt(list(value))}")
        dims = tuple(value)
    else:
        raise ValueError(f"expected {expected}, got {excerpt(value)}")
    if any(d <= 0 for d in dims):
        raise ValueError(f"every size must be positive, got {format_shape(dims)}")
    if max(dims) > MAX_INPUT_SIDE:
        raise ValueError(f"{format_shape(dims)} is too large; each size is at most {MAX_INPUT_SIDE:,}")
    return dims
