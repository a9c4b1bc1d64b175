"""Receptive field, effective stride (jump) and the centre of the first unit, per layer and per axis.

Each kind says how its output reads its inputs (`LayerKind.geometry`: per input and axis a `Window` of span,
stride and offset, in input units). Composing them from the network input gives, for every tensor, per axis:

    size   r_out = r_in + span·j_in          input pixels one unit depends on (ignoring the image border)
    jump   j_out = j_in · stride             input pixels between neighbouring units
    start  c_out = c_in + offset·j_in        input coordinate of unit 0's centre (pixel i's centre is i)

The network input is r = 1, j = 1, c = 0. Strides below one (transposed convs, upsampling) make jumps and
centres exact Fractions (whole values are kept as ints). A broadcast input (a 1×1×C gate over an H×W×C map) is
read at its one unit for every output position, a window of stride 0: its field arrives with jump 0, the same
input pixels for every unit, and a field of jump 0 stays so (a window over equal units sees what each sees).
Where inputs merge (add, concat, multiply) the largest field is kept and a note says the inputs' fields differ.
Pure arithmetic: no NumPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

from netcalc.kinds.base import IDENTITY, Window

Exact = int | Fraction  # a whole number is kept as an int; a Fraction only where upsampling made it fractional


@dataclass(frozen=True)
class Field:
    """One tensor's receptive field per axis (height, width), in network-input pixels."""

    size: tuple[Exact, Exact]
    jump: tuple[Exact, Exact]  # 0 past a broadcast gate: every unit sees the same pixels, centred at `start`
    start: tuple[Exact, Exact]
    # No window on the way had a stride below one. Past upsampling (pixel_shuffle, a transposed conv) the field
    # is the continuous model's even where a later stride makes the jump whole again: output o of a pixel shuffle
    # reads input ⌊o/r⌋, which no centre-and-jump line gives exactly for every o.
    exact: bool = True

    @property
    def smallest(self) -> int:
        """The smaller side, rounded down: the figure a `min_receptive_field` budget checks."""
        return int(min(self.size))

    @property
    def whole(self) -> bool:
        """An exact count of pixels: every jump a whole number and no upsampling on the way."""
        return self.exact and all(j.denominator == 1 for j in self.jump)

    def through(self, windows: tuple[Window, Window]) -> Field:
        if windows is IDENTITY:  # a pointwise layer (most of them): the same field, no Fraction arithmetic
            return self
        (r0, j0, c0), (r1, j1, c1) = (
            (_simplest(r + w.span * j), _simplest(j * w.stride), _simplest(c + w.offset * j))
            for r, j, c, w in zip(self.size, self.jump, self.start, windows)
        )
        exact = self.exact and all(w.stride.denominator == 1 for w in windows)
        return Field((r0, r1), (j0, j1), (c0, c1), exact)

    def interval(self, axis: int, unit: int) -> tuple[Exact, Exact]:
        """First and last input coordinate unit `unit` depends on along `axis` (before clipping to the image)."""
        centre = self.start[axis] + unit * self.jump[axis]
        half = Fraction(self.size[axis] - 1, 2)
        return centre - half, centre + half


def _simplest(value: Exact) -> Exact:
    """A whole Fraction as an int, so the common path (no upsampling) stays in fast int arithmetic."""
    return value.numerator if type(value) is Fraction and value.denominator == 1 else value


INPUT_FIELD = Field((1, 1), (1, 1), (0, 0))


def fraction_text(value: Exact) -> str:
    """`7`, `-1/2`, `3/2`: exact."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def pair_text(values: tuple[Exact, Exact], sep: str = "×") -> str:
    """`7×7`: both axes, as shapes are shown."""
    return sep.join(fraction_text(v) for v in values)


def merge(fields: list[tuple[str, Field]]) -> tuple[Field, str]:
    """The largest of the fields arriving at a layer, and a note when they differ."""
    if not fields:
        return INPUT_FIELD, ""
    if len(fields) == 1:  # most layers have one input
        return fields[0][1], ""
    largest = max((f for _, f in fields), key=lambda f: f.size[0] * f.size[1])
    if all(f == largest for _, f in fields):
        return largest, ""
    seen = ", ".join(f"{n} {pair_text(f.size)}" for n, f in fields)
    exact = all(f.exact for _, f in fields)  # an upsampled branch makes the merged field approximate too
    note = f"inputs see different fields ({seen}); the largest is shown"
    if not any(largest.jump) and any(any(f.jump) for _, f in fields):
        note += ", the same for every unit (jump 0: a broadcast input's)"
    return replace(largest, exact=exact), note


def centre_sides(field: Field, out: tuple[int, ...], image: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The input rows and columns (first, last, first, last) the field gives the output's centre unit, clipped to
    the image; None past upsampling (the field is then the continuous model's, see `Field.exact`)."""
    if not field.whole:
        return None
    sides = []
    for axis in (0, 1):
        lo, hi = field.interval(axis, (out[axis] - 1) // 2)
        sides += [max(0, math.ceil(lo)), min(image[axis] - 1, math.floor(hi))]
    return (sides[0], sides[1], sides[2], sides[3])
