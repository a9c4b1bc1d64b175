"""Layers that merge two or more inputs named with `from:`.

concat: channels add up; every input must have the same H×W (or all be flat). No arithmetic.
add:    every input has exactly the same shape; (inputs − 1) adds per output element.
"""

from __future__ import annotations

from netcalc.errors import ShapeError
from netcalc.kinds.base import MANY, Attrs, LayerKind
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


KINDS = (
    LayerKind(
        name="concat",
        summary="join inputs along channels (Inception, DenseNet)",
        inputs=MANY,
        output_shape=concat_output_shape,
        flops_rule="none (a copy)",
    ),
    LayerKind(
        name="add",
        summary="elementwise sum of inputs of equal shape (residual connection)",
        inputs=MANY,
        output_shape=add_output_shape,
        flops=add_flops,
        flops_rule="(inputs − 1) adds per output element",
    ),
)
