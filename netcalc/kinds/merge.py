"""Layers that merge two or more inputs named with `from:`.

concat: channels add up; every input must have the same H×W (or all be flat). No arithmetic.
add:    every input has exactly the same shape; (inputs − 1) adds per output element.
"""

from __future__ import annotations

from typing import Any

from netcalc.errors import ShapeError
from netcalc.kinds.base import INPLACE, MANY, Attrs, LayerKind
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


def add_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
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
    """y = x1 + x2 + …, all of one shape (N, …)."""
    y = xs[0] + xs[1]
    for x in xs[2:]:
        y += x
    return y, len(xs)


def add_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Every input receives dy unchanged."""
    return (dy,) * cache, {}


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
        flops=add_flops,
        flops_rule="(inputs − 1) adds per output element",
        forward=add_forward,
        backward=add_backward,
        storage=INPLACE,
    ),
)
