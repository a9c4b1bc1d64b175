"""Pooling: max and average windows, adaptive average, global average and max.

maxpool/avgpool: out = ⌊(H + Pt + Pb − K)/S⌋ + 1 per axis (⌈ ⌉ with ceil_mode, and then, as in PyTorch, a last
window that would start inside the bottom/right padding is dropped). Stride defaults to the kernel. Padding may
be asymmetric (top, bottom, left, right) or TensorFlow's 'same'.
FLOPs: max = Kh·Kw − 1 comparisons per output element; avg = Kh·Kw − 1 adds + 1 divide = Kh·Kw.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from netcalc.errors import AttrError
from netcalc.kinds.base import (
    Attr,
    Attrs,
    Extra,
    LayerKind,
    Saved,
    Window,
    flag,
    padding,
    pair,
    saves_input,
    saves_nothing,
    spatial_input,
    whole_map,
    window_geometry,
)
from netcalc.kinds.window import (
    adaptive_span,
    resolve_same,
    settle_same,
    unread_notes,
    window_arithmetic,
    window_output,
    window_sides,
)
from netcalc.shapes import Shape, numel

_WINDOW = (
    Attr("kernel", pair(1), doc="window size, K or [Kh, Kw]"),
    Attr("stride", pair(1), None, "stride; defaults to the kernel"),
    Attr(
        "padding",
        padding,
        0,
        "implicit padding (−∞ for max, 0 for avg), P, [Ph, Pw], [top, bottom, left, right] or 'same' "
        "(TensorFlow's); at most half the kernel per side",
    ),
    Attr("ceil_mode", flag, False, "round the output size up instead of down"),
)


def _resolve_window(attrs: dict[str, Any]) -> dict[str, Any]:
    if attrs["stride"] is None:
        attrs["stride"] = attrs["kernel"]
    attrs = resolve_same(attrs)
    if attrs["padding"] != "same":  # TensorFlow's SAME never pads more than half the kernel on a side
        top, bottom, left, right = attrs["padding"]
        kh, kw = attrs["kernel"]
        for pad, kernel in zip((top, bottom, left, right), (kh, kh, kw, kw)):
            if 2 * pad > kernel:
                raise AttrError(f"padding {pad} must be at most half the kernel {kernel}, as in PyTorch")
    return attrs


def pool_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    h, w, c = spatial_input(ins, "pooling")
    (kh, kw), (sh, sw) = attrs["kernel"], attrs["stride"]
    top, bottom, left, right = window_sides(attrs, (h, w))
    ceil = attrs["ceil_mode"]
    return (
        window_output(h, kh, sh, (top, bottom), 1, ceil_mode=ceil, axis="height"),
        window_output(w, kw, sw, (left, right), 1, ceil_mode=ceil, axis="width"),
        c,
    )


POOL_FORMULAS = (
    "output   ⌊(H + Pt + Pb − (K−1) − 1)/S⌋ + 1 per axis (⌈ ⌉ with ceil_mode); channels unchanged",
    "weights  none",
)


def pool_explain(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[str, str], ...]:
    h, w, _ = ins[0]
    (kh, kw), (sh, sw), ceil = attrs["kernel"], attrs["stride"], attrs["ceil_mode"]
    top, bottom, left, right = window_sides(attrs, (h, w))
    return (
        ("output height", window_arithmetic(h, kh, sh, (top, bottom), 1, out[0], ceil)),
        ("output width", window_arithmetic(w, kw, sw, (left, right), 1, out[1], ceil)),
    )


def pool_notes(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[str, ...]:
    return unread_notes(ins[0][:2], attrs["kernel"], attrs["stride"], window_sides(attrs, ins[0][:2]), (1, 1), out[:2])


def pool_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window]]:
    top, _, left, _ = window_sides(attrs, ins[0][:2])
    return (window_geometry(attrs["kernel"], attrs["stride"], (top, left)),)


INDEX_BYTES = 8  # PyTorch keeps a max pool's argmax as int64


def max_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    """max_pool2d_with_indices keeps its input and the int64 index of every output's maximum."""
    return Saved(inputs=(0,), extras=(Extra("indices", numel(out), INDEX_BYTES),))


def widest_bin(size: int, out: int) -> int:
    """The longest adaptive bin, in O(1) (`output` may be huge). With q, r = divmod(H, o) and g = gcd(H, o), bin i
    has length q + 1 or q + 2 when r > 0 (q + 2 exactly when r > g), else q."""
    q, r = divmod(size, out)
    return q if r == 0 else q + 2 if r > math.gcd(size, out) else q + 1


def adaptive_window(size: int, out: int) -> Window:
    """Bins [⌊i·H/o⌋, ⌈(i+1)·H/o⌉): stride H/o, the widest bin's span, bin 0's centre (exact when o divides H)."""
    return Window(Fraction(widest_bin(size, out) - 1), Fraction(size, out), Fraction(-(-size // out) - 1, 2))


def adaptive_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window]]:
    return ((adaptive_window(ins[0][0], out[0]), adaptive_window(ins[0][1], out[1])),)


def adaptive_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    """_adaptive_avg_pool2d keeps its input; to 1×1 PyTorch takes a mean instead, which keeps only sizes."""
    return Saved() if out[:2] == (1, 1) else Saved(inputs=(0,))


def max_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    kh, kw = attrs["kernel"]
    return numel(out) * (kh * kw - 1)


def avg_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    kh, kw = attrs["kernel"]
    return numel(out) * kh * kw


def adaptive_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    _, _, c = spatial_input(ins, "adaptive_avgpool")
    oh, ow = attrs["output"]
    return (oh, ow, c)


def adaptive_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    """Each output averages its bin: bin-size adds and divides, summed over bins exactly."""
    h, w, c = ins[0]
    rows, cols = adaptive_span(h, out[0]), adaptive_span(w, out[1])
    return c * rows * cols


def global_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    _, _, c = spatial_input(ins, "global pooling")
    return (1, 1, c)


def global_avg_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return numel(ins[0])


def global_max_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    h, w, c = ins[0]
    return (h * w - 1) * c


# --- NumPy reference: thin adapters over netcalc.reference.pool (no multiply-accumulates). Global pooling is a
# window as large as the input (max) or a single adaptive bin (average).


def maxpool_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y (N, C, Hout, Wout); padding is −∞, ceil mode as PyTorch."""
    from netcalc.reference.pool import max_pool_forward

    padding = window_sides(attrs, xs[0].shape[2:])
    return max_pool_forward(xs[0], attrs["kernel"], attrs["stride"], padding, attrs["ceil_mode"])


def maxpool_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from netcalc.reference.pool import max_pool_backward

    return (max_pool_backward(dy, cache),), {}


def avgpool_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y (N, C, Hout, Wout); padding counts as zeros (in the divisor if count_include_pad)."""
    from netcalc.reference.pool import avg_pool_forward

    padding = window_sides(attrs, xs[0].shape[2:])
    return avg_pool_forward(
        xs[0], attrs["kernel"], attrs["stride"], padding, attrs["ceil_mode"], attrs["count_include_pad"]
    )


def avgpool_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from netcalc.reference.pool import avg_pool_backward

    return (avg_pool_backward(dy, cache),), {}


def adaptive_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y (N, C, Oh, Ow), each output the mean of its bin."""
    from netcalc.reference.pool import adaptive_avg_pool_forward

    return adaptive_avg_pool_forward(xs[0], attrs["output"])


def adaptive_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from netcalc.reference.pool import adaptive_avg_pool_backward

    return (adaptive_avg_pool_backward(dy, cache),), {}


def global_avg_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y (N, C, 1, 1)."""
    from netcalc.reference.pool import adaptive_avg_pool_forward

    return adaptive_avg_pool_forward(xs[0], (1, 1))


def global_max_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y (N, C, 1, 1)."""
    from netcalc.reference.pool import max_pool_forward

    return max_pool_forward(xs[0], xs[0].shape[2:])


# what max and average pooling share: the window's shape rule, its notes, defaults, geometry and arithmetic
_SLIDING: dict[str, Any] = {
    "output_shape": pool_output_shape,
    "notes": pool_notes,
    "resolve": _resolve_window,
    "settle": settle_same,
    "geometry": pool_geometry,
    "formulas": POOL_FORMULAS,
    "explain": pool_explain,
}

KINDS = (
    LayerKind(
        name="maxpool",
        summary="max pooling over Kh×Kw windows",
        attrs=_WINDOW,
        flops=max_flops,
        flops_rule="Kh·Kw − 1 comparisons per output element",
        forward=maxpool_forward,
        backward=maxpool_backward,
        **_SLIDING,
        field_proxy="avgpool",
        saved=max_saved,
        saved_rule="its input and the int64 index of each output's maximum",
    ),
    LayerKind(
        name="avgpool",
        summary="average pooling over Kh×Kw windows",
        attrs=_WINDOW + (Attr("count_include_pad", flag, True, "padding zeros count in the divisor"),),
        flops=avg_flops,
        flops_rule="Kh·Kw per output element (Kh·Kw − 1 adds and a divide)",
        forward=avgpool_forward,
        backward=avgpool_backward,
        **_SLIDING,
        saved=saves_input,
        saved_rule="its input",
    ),
    LayerKind(
        name="adaptive_avgpool",
        summary="average pooling to a fixed output size (PyTorch's AdaptiveAvgPool2d)",
        attrs=(Attr("output", pair(1), doc="output size, O or [Oh, Ow]"),),
        output_shape=adaptive_output_shape,
        flops=adaptive_flops,
        flops_rule="one per input element of each bin (adds and the divide), summed over bins",
        forward=adaptive_forward,
        backward=adaptive_backward,
        geometry=adaptive_geometry,
        saved=adaptive_saved,
        saved_rule="its input (nothing when the output is 1×1: PyTorch takes a mean)",
    ),
    LayerKind(
        name="global_avgpool",
        summary="average over all of H×W (output 1×1×C)",
        output_shape=global_output_shape,
        flops=global_avg_flops,
        flops_rule="one per input element",
        forward=global_avg_forward,
        backward=adaptive_backward,
        geometry=whole_map,
        saved=saves_nothing,
        saved_rule="nothing (a mean keeps only sizes)",
    ),
    LayerKind(
        name="global_maxpool",
        summary="maximum over all of H×W (output 1×1×C)",
        output_shape=global_output_shape,
        flops=global_max_flops,
        flops_rule="H·W − 1 comparisons per channel",
        forward=global_max_forward,
        backward=maxpool_backward,
        geometry=whole_map,
        field_proxy="global_avgpool",
        saved=max_saved,
        saved_rule="its input and the int64 index of each channel's maximum",
    ),
)
