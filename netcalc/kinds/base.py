"""The record every layer kind is: its attributes and one small pure function per figure.

A kind's figures are per sample; the analysis multiplies by the batch. `forward`/`backward` are the NumPy
reference pair in the cs231n manner and live in the same module as the formulas they prove.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from netcalc.errors import AttrError, ShapeError, excerpt
from netcalc.shapes import Shape, format_shape, is_spatial, numel

Attrs = Mapping[str, Any]
ShapeRule = Callable[[Attrs, tuple[Shape, ...]], Shape]
ArrayShapes = Callable[[Attrs, tuple[Shape, ...]], dict[str, Shape]]
Figure = Callable[[Attrs, tuple[Shape, ...], Shape], int]
Notes = Callable[[Attrs, tuple[Shape, ...], Shape], tuple[str, ...]]


@dataclass(frozen=True)
class Window:
    """How one output index reads its input along one axis, in input units: the centre of output o's window is
    `offset + o·stride`, and the window reaches `span` input steps from its first input unit to its last.

    A conv: span D·(K−1), stride S, offset D·(K−1)/2 − P. Transposed convs and upsampling have fractional strides.
    """

    span: Fraction = Fraction(0)
    stride: Fraction = Fraction(1)
    offset: Fraction = Fraction(0)


IDENTITY = (Window(), Window())
# per input: its (height, width) windows, or None for an input that contributes only its shape (crop's ref)
Geometry = Callable[[Attrs, tuple[Shape, ...], Shape], tuple[tuple[Window, Window] | None, ...]]


@dataclass(frozen=True)
class Extra:
    """A tensor a layer saves for backward besides its inputs and output: max pool's indices, a dropout mask,
    batch norm's statistics. `elements` per sample (or in all, when not `batched`), `itemsize` bytes each."""

    name: str
    elements: int
    itemsize: int | None = None  # None: the activations' dtype
    batched: bool = True
    min_itemsize: int = 0  # at least this many bytes each (statistics: float32 for half precision, else the dtype)


@dataclass(frozen=True)
class Saved:
    """What one layer keeps for its backward pass, by PyTorch autograd's convention: some of its inputs (by
    index), its output, and extra tensors. Parameters and buffers are not counted here."""

    inputs: tuple[int, ...] = ()
    output: bool = False
    extras: tuple[Extra, ...] = ()


# (what, the arithmetic with its numbers), e.g. ("output height", "⌊(227 + 2·0 − 1·(11−1) − 1)/4⌋ + 1 = 55")
Explain = Callable[[Attrs, tuple[Shape, ...], Shape], tuple[tuple[str, str], ...]]
SavedRule = Callable[[Attrs, tuple[Shape, ...], Shape], Saved]
# (MACs of dL/dx for all inputs, MACs of dL/dw), per sample
BackwardMacs = Callable[[Attrs, tuple[Shape, ...], Shape], tuple[int, int]]

# How a layer's output is stored (PyTorch's habits, which peak memory follows):
NEW = "new"  # a tensor of its own
VIEW = "view"  # the input's storage, unchanged (flatten is a view, inference dropout returns its input)
INPLACE = "inplace"  # written over its input when nothing later reads that input (ReLU(inplace=True), `out += x`)

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


def pointwise(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window] | None, ...]:
    """Every input read at the output's own position: the receptive field passes through unchanged."""
    return (IDENTITY,) * len(ins)


def whole_map(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window] | None, ...]:
    """One window over all of the input's H×W (global pooling; a flatten, whose flat vector stands for the whole
    map downstream). A flat input passes through."""
    if not is_spatial(ins[0]):
        return (IDENTITY,)
    return (tuple(Window(Fraction(n - 1), Fraction(1), Fraction(n - 1, 2)) for n in ins[0][:2]),)  # type: ignore[return-value]


def saves_nothing(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    return Saved()


def saves_input(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    return Saved(inputs=(0,))


def saves_output(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    return Saved(output=True)


def no_backward_macs(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[int, int]:
    return (0, 0)


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
    - `streamed_weights` names weights the reference takes as a `netcalc.reference.streamed.RepeatingMatrix`
      when the pass need not keep them: it uses a block of rows at a time (its backward then gives their
      gradient as a `GradientSummary`, as fc does) or makes the weight whole for each use (as conv does).
    - `geometry` gives each input's windows for the receptive field (default: pointwise); `field_proxy` names
      a kind whose gradient reaches every input of the window (a max pool's is the average pool: a max pool's
      own gradient reaches only the winner), for measuring the field with the reference pass.
    - `saved` says what autograd keeps for backward; `backward_macs` the MACs of the input and weight gradients.
    - `storage` / `train_storage` say whether the output is a new tensor, a view or written in place.
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
    geometry: Geometry = pointwise
    field_proxy: str = ""
    saved: SavedRule = saves_nothing
    saved_rule: str = "nothing"
    backward_macs: BackwardMacs = no_backward_macs
    storage: str = NEW
    train_storage: str | None = None  # when training differs (dropout makes a new tensor)
    formulas: tuple[str, ...] = ()  # the shape, parameter and MAC rules in letters, for `netcalc kinds KIND`
    explain: Explain | None = None  # the same rules with one layer's numbers substituted
    streamed_weights: tuple[str, ...] = ()

    def storage_in(self, train: bool) -> str:
        return self.train_storage if train and self.train_storage is not None else self.storage
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


# Activations whose autograd keeps their input (hardtanh_, hardswish_ and silu_ a copy of it), measured with
# saved_tensors_hooks; the others keep their output.
KEEPS_INPUT_FOR_BACKWARD = ("relu6", "hardsigmoid", "hardswish", "silu", "gelu", "elu", "prelu")


def fused_saved(attrs: Attrs, saved: Saved, out: Shape) -> Saved:
    """A fused activation keeps its output for backward (as an in-place ReLU after the layer would), or a copy
    of the layer's result before it (as ReLU6(inplace=True) does)."""
    act = attrs.get("activation", "none")
    if act == "none":
        return saved
    if act in KEEPS_INPUT_FOR_BACKWARD:
        return Saved(saved.inputs, saved.output, (*saved.extras, Extra("pre-activation", numel(out))))
    return Saved(saved.inputs, True, saved.extras)


def window_geometry(
    kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int], dilation: tuple[int, int] = (1, 1)
) -> tuple[Window, Window]:
    """Sliding windows (conv, pooling): span D·(K−1), stride S, first centre D·(K−1)/2 − P. Whole numbers stay
    ints (a Fraction only for an odd D·(K−1)): the receptive field then composes in int arithmetic."""
    return tuple(  # type: ignore[return-value]
        Window(d * (k - 1), s, _half(d * (k - 1)) - p)  # type: ignore[arg-type]
        for k, s, p, d in zip(kernel, stride, pad, dilation)
    )


def _half(n: int) -> int | Fraction:
    return n // 2 if n % 2 == 0 else Fraction(n, 2)
def fused_weights(attrs: Attrs, out_channels: int) -> dict[str, Shape]:
    """The arrays a fused activation adds to its layer: a prelu's slope per output channel."""
    return {"slope": (out_channels,)} if attrs.get("activation") == "prelu" else {}


def fused_flops(attrs: Attrs, out: Shape) -> int:
    """Bias adds and a fused activation: one FLOP per output element each."""
    return numel(out) * (int(attrs.get("bias", False)) + int(attrs.get("activation", "none") != "none"))
