"""The record every layer kind is: its attributes and one small pure function per figure.

A kind's figures are per sample; the analysis multiplies by the batch. `forward`/`backward` are the NumPy
reference pair in the cs231n manner and live in the same module as the formulas they prove.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netcalc.errors import AttrError, ShapeError, excerpt
from netcalc.shapes import Shape, format_shape, is_spatial, numel

Attrs = Mapping[str, Any]
ShapeRule = Callable[[Attrs, tuple[Shape, ...]], Shape]
ArrayShapes = Callable[[Attrs, tuple[Shape, ...]], dict[str, Shape]]
Figure = Callable[[Attrs, tuple[Shape, ...], Shape], int]
Notes = Callable[[Attrs, tuple[Shape, ...], Shape], tuple[str, ...]]

REQUIRED: Any = object()
# The largest whole number an attribute takes (a size, a count, a stride): int32's maximum, as in ONNX and the
# frameworks. Every figure netcalc derives from such numbers stays an exact Python int; docs/limits.md.
MAX_WHOLE = 2**31 - 1
# Real attributes (eps, momentum, p, slopes, LRN's α/β/k) must be finite and at most this in magnitude.
MAX_REAL = 1e9
MANY = 0  # `inputs` value for kinds that merge two or more inputs
Sides = tuple[int, int, int, int]  # padding (top, bottom, left, right)


class ShapeDependent(str):
    """An attribute value only the input shape can fix (`padding: same` at a stride > 1, TensorFlow's SAME).
    Expanding a spec calls the kind's `settle` once the shapes are known, so a parsed Network holds none."""


@dataclass(frozen=True)
class Attr:
    """One attribute: its name, a parser that validates and normalises a value, its default and doc."""

    name: str
    parse: Callable[[Any], Any]
    default: Any = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def no_arrays(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    return {}


def no_figure(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return 0


def no_notes(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[str, ...]:
    return ()


def same_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    return ins[0]


def resolve_nothing(attrs: dict[str, Any]) -> dict[str, Any]:
    return attrs


def settle_nothing(attrs: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    return attrs


@dataclass(frozen=True)
class LayerKind:
    """Everything netcalc knows about one kind of layer.

    - `output_shape(attrs, input_shapes)` raises ShapeError for an input it cannot take.
    - `weights`/`buffers` give the named array shapes the layer owns; parameters are their sizes.
    - `macs` counts multiply-accumulates (bias excluded); `flops` the elementwise work beyond 2·MACs.
    - `resolve` fills defaults that depend on other attributes (pool stride, `same` padding).
    - `settle(attrs, input_shapes)` replaces any ShapeDependent value `resolve` left with plain numbers.
    - `forward(xs, params, attrs, train) -> (y, cache)`, `backward(dy, cache) -> (dxs, dparams)`.
    - `inputs`: how many inputs `from:` names: exactly that many, MANY (two or more), or a range (low, high),
      e.g. (1, 2) for crop and upsample, whose optional second input lends only its H×W.
    """

    name: str
    summary: str
    output_shape: ShapeRule
    attrs: tuple[Attr, ...] = ()
    inputs: int | tuple[int, int] = 1
    weights: ArrayShapes = no_arrays
    buffers: ArrayShapes = no_arrays
    macs: Figure = no_figure
    flops: Figure = no_figure
    notes: Notes = no_notes
    resolve: Callable[[dict[str, Any]], dict[str, Any]] = resolve_nothing
    settle: Callable[[dict[str, Any], tuple[Shape, ...]], dict[str, Any]] = settle_nothing
    forward: Callable[..., Any] | None = field(default=None, compare=False)
    backward: Callable[..., Any] | None = field(default=None, compare=False)
    flops_rule: str = ""
    partial: bool = False  # figures unknown (the `unknown` kind): reports mark the row and totals partial

    @property
    def attr_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attrs)

    @property
    def input_range(self) -> tuple[int, int | None]:
        """(fewest, most) inputs; most is None for no limit."""
        if isinstance(self.inputs, tuple):
            return self.inputs
        return (2, None) if self.inputs == MANY else (self.inputs, self.inputs)

    @property
    def inputs_text(self) -> str:
        """'one', 'two or more', 'one or two'."""
        low, high = self.input_range
        words = ("none", "one", "two", "three", "four")
        if high is None:
            return f"{words[low]} or more"
        return words[low] if low == high else f"{words[low]} or {words[high]}"


# --- attribute parsers: each returns the normalised value or raises AttrError saying what was expected ---


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole(minimum: int = 1) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            raise AttrError(f"expected a whole number ≥ {minimum}, got {excerpt(value)}")
        if value > MAX_WHOLE:
            raise AttrError(f"{excerpt(value)} is too large; at most {MAX_WHOLE:,}")
        return value

    return parse


def pair(minimum: int = 1) -> Callable[[Any], tuple[int, int]]:
    """An int for both axes or `[h, w]`."""

    def parse(value: Any) -> tuple[int, int]:
        if _is_int(value) and value >= minimum:
            result = (value, value)
        elif isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) and v >= minimum for v in value):
            result = (value[0], value[1])
        else:
            raise AttrError(f"expected a whole number ≥ {minimum} or a pair [h, w] of them, got {excerpt(value)}")
        if max(result) > MAX_WHOLE:
            raise AttrError(f"{excerpt(value)} is too large; at most {MAX_WHOLE:,}")
        return result

    return parse


def sides(value: Any) -> Sides:
    """Padding per side, normalised to (top, bottom, left, right): P, [Ph, Pw] or [top, bottom, left, right]."""
    if isinstance(value, (list, tuple)) and len(value) == 4 and all(_is_int(v) and v >= 0 for v in value):
        return (value[0], value[1], value[2], value[3])
    try:
        ph, pw = pair(0)(value)
    except AttrError:
        raise AttrError(
            f"expected a whole number ≥ 0, a pair [h, w] or [top, bottom, left, right], got {value!r}"
        ) from None
    return (ph, ph, pw, pw)


def padding(value: Any) -> Sides | str:
    """`sides`, or 'same' (TensorFlow's SAME: output ⌈H/S⌉, any odd total put on the bottom/right)."""
    if value == "same":
        return "same"
    try:
        return sides(value)
    except AttrError:
        raise AttrError(
            f"expected a whole number ≥ 0, a pair [h, w], [top, bottom, left, right] or 'same', got {excerpt(value)}"
        ) from None


def optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, or None for an attribute left out (`null`, as `netcalc show` writes it)."""

    def parse_optional(value: Any) -> Any:
        return None if value is None else parse(value)

    return parse_optional


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise AttrError(f"expected true or false, got {excerpt(value)}")
    return value


def real(low: float, high: float | None = None) -> Callable[[Any], float]:
    """A finite number in [low, high], at most MAX_REAL in magnitude: NaN and infinity are always refused."""

    def parse(value: Any) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(value, float) and not math.isfinite(value):
            raise AttrError(f"expected a finite number, got {excerpt(value)}")
        if not ok or value < low or (high is not None and value > high):
            upper = f" and ≤ {high}" if high is not None else ""
            raise AttrError(f"expected a number ≥ {low}{upper}, got {excerpt(value)}")
        if abs(value) > MAX_REAL:
            raise AttrError(f"{excerpt(value)} is too large; at most {MAX_REAL:g}")
        return float(value)

    return parse


def choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in options:
            raise AttrError(f"expected one of {', '.join(options)}, got {excerpt(value)}")
        return value

    return parse


# --- shape helpers shared by kinds ---


def spatial_input(ins: tuple[Shape, ...], kind: str) -> tuple[int, int, int]:
    """The single H×W×C input, or a ShapeError that says why a flat vector will not do."""
    shape = ins[0]
    if not is_spatial(shape):
        raise ShapeError(f"{kind} needs an H×W×C input, got the flat vector {format_shape(shape)}")
    return shape  # type: ignore[return-value]


def channels(shape: Shape) -> int:
    """Channels of a feature map, features of a flat vector."""
    return shape[-1]



# Activations a conv or fc layer may fuse (`activation: relu`): counted in FLOPs, no tensor of their own. A fused
# activation takes its defaults (leaky_relu's slope 0.01, elu's α 1, gelu exact); a fused prelu learns one slope
# per output channel (or feature), `slope`, counted in the layer's params.
FUSABLE = (
    "none", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "hardsigmoid", "hardswish", "silu", "gelu", "elu",
    "prelu",
)
activation_attr = Attr(
    "activation",
    choice(*FUSABLE),
    "none",
    "fused activation with its defaults (a prelu learns one slope per output): " + ", ".join(FUSABLE),
)


def fused_weights(attrs: Attrs, out_channels: int) -> dict[str, Shape]:
    """The arrays a fused activation adds to its layer: a prelu's slope per output channel."""
    return {"slope": (out_channels,)} if attrs.get("activation") == "prelu" else {}


def fused_flops(attrs: Attrs, out: Shape) -> int:
    """Bias adds and a fused activation: one FLOP per output element each."""
    return numel(out) * (int(attrs.get("bias", False)) + int(attrs.get("activation", "none") != "none"))
