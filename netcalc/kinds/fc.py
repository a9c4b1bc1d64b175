"""Fully connected layers and the flatten that feeds them.

fc:      weights Out × In (+ Out bias, + Out slopes of a fused prelu); MACs In·Out. Needs a flat input: a
         feature map must be flattened first, so the spec says where the H×W×C → N reshape happens (no guess).
flatten: H×W×C → H·W·C, in PyTorch's C, H, W order.
"""

from __future__ import annotations

from typing import Any

from netcalc.errors import ShapeError
from netcalc.kinds.base import (
    VIEW,
    Attr,
    Attrs,
    LayerKind,
    activation_attr,
    flag,
    fused_flops,
    fused_weights,
    whole,
    whole_map,
)
from netcalc.kinds.conv import conv_saved, fused, grads, same_as_forward, unfused
from netcalc.shapes import Shape, format_shape, numel


def fc_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    if len(ins[0]) != 1:
        raise ShapeError(
            f"fc needs a flat input, got the feature map {format_shape(ins[0])}; put a `flatten` layer before it"
        )
    return (attrs["out"],)


def fc_weights(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    arrays = {"weight": (attrs["out"], ins[0][0])}
    if attrs["bias"]:
        arrays["bias"] = (attrs["out"],)
    return arrays | fused_weights(attrs, attrs["out"])


def fc_macs(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return ins[0][0] * attrs["out"]


def fc_explain(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[str, str], ...]:
    n, m = ins[0][0], attrs["out"]
    lines = [("weights", f"{n:,}·{m:,} = {n * m:,}")]
    if attrs["bias"]:
        lines.append(("biases", f"{m:,}"))
    lines.append(("MACs per sample", f"{n:,} inputs · {m:,} outputs = {n * m:,}"))
    return tuple(lines)


def fc_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return fused_flops(attrs, out)


def flatten_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    return (numel(ins[0]),)


# --- NumPy reference: fc over netcalc.reference.conv.linear_* (one counted GEMM), flatten as a reshape.


def fc_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, In), weight (Out, In), bias (Out,) → y (N, Out). With `spend_weights` (set by the engine when
    nothing reads the weights after this layer's backward) the weight gradient is written over the weight; a
    streamed weight (`LayerKind.streamed_weights`) is multiplied a block of rows at a time."""
    from netcalc.reference.conv import linear_forward

    bias = params["bias"] if attrs["bias"] else None
    z, cache = linear_forward(xs[0], params["weight"], bias, attrs.get("spend_weights", False))
    y, act = fused(z, attrs, params)
    return y, (cache, act)


def fc_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from netcalc.reference.conv import linear_backward

    inner, act = cache
    dz, dact = unfused(dy, act)
    dx, dw, db = linear_backward(dz, inner)
    return (dx,), grads(dw, db, dact)


def flatten_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y (N, C·H·W), a view in C, H, W order (PyTorch's)."""
    x = xs[0]
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (dy.reshape(cache),), {}


KINDS = (
    LayerKind(
        name="fc",
        summary="fully connected (linear) layer",
        attrs=(
            Attr("out", whole(1), doc="output features"),
            Attr("bias", flag, True, "learned bias per output feature"),
            activation_attr,
        ),
        output_shape=fc_output_shape,
        weights=fc_weights,
        macs=fc_macs,
        flops=fc_flops,
        flops_rule="2·MACs + one per output for the bias and one for a fused activation",
        forward=fc_forward,
        backward=fc_backward,
        streamed_weights=("weight",),
        saved=conv_saved,
        saved_rule="its input (and its output with a fused activation)",
        backward_macs=same_as_forward(fc_macs),
        formulas=(
            "output   Out features (a flat input of In features)",
            "weights  In·Out, + Out biases",
            "MACs     In·Out",
            "FLOPs    2·MACs + one per output for the bias and one for a fused activation",
        ),
        explain=fc_explain,
    ),
    LayerKind(
        name="flatten",
        summary="H×W×C feature map to a flat vector (C, H, W order)",
        output_shape=flatten_output_shape,
        flops_rule="none (a reshape)",
        forward=flatten_forward,
        backward=flatten_backward,
        geometry=whole_map,
        storage=VIEW,
    ),
)
