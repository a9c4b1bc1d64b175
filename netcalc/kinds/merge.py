"""Layers that merge two or more inputs named with `from:`.

concat: channels add up; every input must have the same H×W (or all be flat). No arithmetic.
add:    every input has exactly the same shape; (inputs − 1) adds per output element.
multiply: elementwise product; every input has the output's shape, except that a 1×1×C (or flat C) input gates an
        H×W×C one, broadcast over H×W (squeeze-and-excitation); (inputs − 1) multiplies per output element.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netcalc.errors import ShapeError
from netcalc.kinds.base import IDENTITY, INPLACE, MANY, Attrs, LayerKind, Saved, Window
from netcalc.lazy_numpy import np
from netcalc.shapes import Shape, format_shape, is_spatial, numel


def _listing(ins: tuple[Shape, ...]) -> str:
    return ", ".join(format_shape(s) for s in ins)


def concat_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    if all(is_spatial(s) for s in ins):
        if len({s[:2] for s in ins}) != 1:
            raise ShapeError(f"concat needs inputs of equal H×W, got {_listing(ins)}")
        return (ins[0][0], ins[0][1], sum(s[2] for s in ins))
    if all(len(s) == 1 for s in ins):
        return (sum(s[0] for s in ins),)
    raise ShapeError(f"concat cannot join feature maps with flat vectors, got {_listing(ins)}")


def add_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    if len(set(ins)) != 1:
        raise ShapeError(f"add needs inputs of exactly the same shape, got {_listing(ins)}")
    return ins[0]


def _gates(gate: Shape, full: Shape) -> bool:
    """A 1×1×C map or a flat C vector scaling each channel of the H×W×C map `full`."""
    return is_spatial(full) and gate in ((1, 1, full[2]), (full[2],))


def multiply_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    full = max(ins, key=lambda s: (numel(s), len(s)))  # a 1×1×C map over a flat C vector: the map's shape
    if any(s != full and not _gates(s, full) for s in ins):
        raise ShapeError(
            f"multiply needs inputs of the same shape, or a 1×1×C (or flat C) gate over an H×W×C map, "
            f"got {_listing(ins)}"
        )
    return full


# A gate is read at its one unit for every output position: span 0, stride 0. Its field arrives with jump 0, the
# same input pixels for every unit (docs/conventions.md, "Broadcast inputs").
BROADCAST = (Window(Fraction(0), Fraction(0), Fraction(0)), Window(Fraction(0), Fraction(0), Fraction(0)))


def multiply_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window] | None, ...]:
    """An input of the output's shape is read at the output's own position; a broadcast gate at its one unit."""
    return tuple(IDENTITY if s == out or not _gates(s, out) else BROADCAST for s in ins)


def merge_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return (len(ins) - 1) * numel(out)


# --- NumPy reference. Both backward passes hand out views of dy (or dy itself): the engine adds them up with
# `+=` only into arrays it owns, so a gradient shared by several inputs is never modified in place.


def concat_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """Join along axis 1: (N, C1, H, W), (N, C2, H, W), … → (N, C1 + C2 + …, H, W); flat (N, F) likewise."""
    sizes = [x.shape[1] for x in xs]
    return np.concatenate(xs, axis=1), sizes


def concat_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """dy split back along axis 1, one slice per input."""
    bounds = np.cumsum(cache)[:-1]
    return tuple(np.split(dy, bounds, axis=1)), {}


def add_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """y = x1 + x2 + …, all of one shape (N, …); at inference maybe written over input `attrs["inplace"]`."""
    target = attrs.get("inplace")
    if target is not None:
        y = xs[target]
        for k, x in enumerate(xs):
            if k != target:
                y += x
        return y, len(xs)
    y = xs[0] + xs[1]
    for x in xs[2:]:
        y += x
    return y, len(xs)


def add_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Every input receives dy unchanged."""
    return (dy,) * cache, {}


def multiply_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """y = x1 · x2 · …: inputs (N, C, H, W), a gate (N, C, 1, 1) or (N, C) broadcast over H and W; y is the
    largest input's shape."""
    full = max(xs, key=lambda x: (x.size, x.ndim))
    views = [x.reshape(x.shape + (1,) * (full.ndim - x.ndim)) for x in xs]  # (N, C) gate → (N, C, 1, 1)
    y = views[0] * views[1]
    for v in views[2:]:
        y = y * v if y.size < v.size else np.multiply(y, v, out=y)  # a gates-only product grows to the map
    return y, (views, [x.shape for x in xs])


def multiply_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """dL/dx_i = dy · Π_{j≠i} x_j, summed over H and W for a gate and shaped as x_i arrived."""
    views, shapes = cache
    dxs = []
    for i, (v, shape) in enumerate(zip(views, shapes)):
        g = dy
        for j, other in enumerate(views):
            if j != i:
                g = g * other
        if g.shape != v.shape:
            g = g.sum(axis=(2, 3), keepdims=True)
        dxs.append(g.reshape(shape))
    return tuple(dxs), {}


def multiply_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    """mul keeps each factor for the other's gradient."""
    return Saved(inputs=tuple(range(len(ins))))


KINDS = (
    LayerKind(
        name="concat",
        summary="join inputs along channels (Inception, DenseNet)",
        inputs=MANY,
        output_shape=concat_output_shape,
        flops_rule="none (a copy)",
        forward=concat_forward,
        backward=concat_backward,
    ),
    LayerKind(
        name="add",
        summary="elementwise sum of inputs of equal shape (residual connection)",
        inputs=MANY,
        output_shape=add_output_shape,
        flops=merge_flops,
        flops_rule="(inputs − 1) adds per output element",
        forward=add_forward,
        backward=add_backward,
        storage=INPLACE,
    ),
    LayerKind(
        name="multiply",
        summary="elementwise product of inputs of equal shape, or a 1×1×C gate over H×W×C (squeeze-and-excitation)",
        inputs=MANY,
        output_shape=multiply_output_shape,
        flops=merge_flops,
        flops_rule="(inputs − 1) multiplies per output element",
        geometry=multiply_geometry,
        forward=multiply_forward,
        backward=multiply_backward,
        saved=multiply_saved,
        saved_rule="every input (each factor for the others' gradients)",
    ),
)
