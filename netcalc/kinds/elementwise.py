"""Elementwise layers: activations, dropout and softmax. Output shape = input shape; no parameters.

FLOPs: one per element for every activation (the convention torchscan uses; a sigmoid's exp is not
unpacked), none for dropout (inference is the identity), 3 per element for softmax (exp, sum, divide).
"""

from __future__ import annotations

from netcalc.kinds.base import Attr, Attrs, LayerKind, real, same_shape
from netcalc.shapes import Shape, numel


def per_element(count: int):
    def flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
        return count * numel(out)

    return flops


def _activation(name: str, summary: str, attrs: tuple[Attr, ...] = ()) -> LayerKind:
    return LayerKind(
        name=name,
        summary=summary,
        attrs=attrs,
        output_shape=same_shape,
        flops=per_element(1),
        flops_rule="1 per element",
    )


KINDS = (
    _activation("relu", "max(0, x)"),
    _activation("relu6", "min(max(0, x), 6) (MobileNetV2)"),
    _activation(
        "leaky_relu",
        "x if x > 0 else slope·x",
        (Attr("negative_slope", real(0.0), 0.01, "slope for negative inputs"),),
    ),
    _activation("sigmoid", "1 / (1 + e^−x)"),
    _activation("tanh", "hyperbolic tangent"),
    LayerKind(
        name="dropout",
        summary="randomly zeroes elements in training; the identity at inference",
        attrs=(Attr("p", real(0.0, 1.0), 0.5, "probability of zeroing an element"),),
        output_shape=same_shape,
        flops_rule="none (the identity at inference)",
    ),
    LayerKind(
        name="softmax",
        summary="softmax over the features (or the channels of a feature map)",
        output_shape=same_shape,
        flops=per_element(3),
        flops_rule="3 per element (exp, sum, divide)",
    ),
)
