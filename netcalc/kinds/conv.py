"""Convolution and transposed convolution: shape rule, weights, MACs and FLOPs.

conv:            out = ⌊(H + Pt + Pb − D·(K−1) − 1)/S⌋ + 1 per axis (padding top, bottom; likewise left, right)
                 weights Cout × Cin/G × Kh × Kw (+ Cout bias, + Cout slopes of a fused prelu)
                 MACs    Hout·Wout·Cout · (Cin/G)·Kh·Kw   (bias excluded)
conv_transpose:  out = (H − 1)·S − Pt − Pb + D·(K−1) + output_padding + 1 (padding removes output rows)
                 weights Cin × Cout/G × Kh × Kw (+ Cout bias, + Cout slopes of a fused prelu)
                 MACs    H·W·Cin · (Cout/G)·Kh·Kw          (every input pixel is scattered through the kernel)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from netcalc.errors import AttrError, ShapeError
from netcalc.kinds.base import (
    Attr,
    Attrs,
    LayerKind,
    Saved,
    Window,
    activation_attr,
    flag,
    fused_flops,
    fused_saved,
    fused_weights,
    padding,
    pair,
    sides,
    spatial_input,
    whole,
    window_geometry,
)
from netcalc.kinds.elementwise import activation_backward, activation_forward
from netcalc.kinds.window import resolve_same, settle_same, unread_notes, window_arithmetic, window_output, window_sides
from netcalc.shapes import Shape

_COMMON = (
    Attr("out", whole(1), doc="output channels"),
    Attr("kernel", pair(1), doc="kernel size, K or [Kh, Kw]"),
    Attr("stride", pair(1), 1, "stride, S or [Sh, Sw]"),
    Attr("padding", padding, 0, "zero padding, P, [Ph, Pw], [top, bottom, left, right] or 'same' (TensorFlow's)"),
)
_GROUPED = (
    Attr("dilation", pair(1), 1, "kernel dilation, D or [Dh, Dw]"),
    Attr("groups", whole(1), 1, "input and output channels split into G groups (G = Cin: depthwise)"),
    Attr("bias", flag, True, "learned bias per output channel"),
    activation_attr,
)


def _check_groups(attrs: Attrs, cin: int) -> None:
    groups, out = attrs["groups"], attrs["out"]
    if cin % groups or out % groups:
        raise ShapeError(f"groups {groups} must divide both the input channels {cin} and the output channels {out}")


def conv_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    h, w, cin = spatial_input(ins, "conv")
    _check_groups(attrs, cin)
    (kh, kw), (sh, sw), (dh, dw) = attrs["kernel"], attrs["stride"], attrs["dilation"]
    top, bottom, left, right = window_sides(attrs, (h, w))
    return (
        window_output(h, kh, sh, (top, bottom), dh, axis="height"),
        window_output(w, kw, sw, (left, right), dw, axis="width"),
        attrs["out"],
    )


def conv_weights(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    cin = ins[0][-1]
    kh, kw = attrs["kernel"]
    arrays = {"weight": (attrs["out"], cin // attrs["groups"], kh, kw)}
    if attrs["bias"]:
        arrays["bias"] = (attrs["out"],)
    return arrays | fused_weights(attrs, attrs["out"])


def conv_macs(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    """Each output element is one dot product over a (Cin/G)·Kh·Kw window."""
    h_out, w_out, c_out = out
    kh, kw = attrs["kernel"]
    return h_out * w_out * c_out * (ins[0][-1] // attrs["groups"]) * kh * kw


def conv_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return fused_flops(attrs, out)


def conv_notes(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[str, ...]:
    padding = window_sides(attrs, ins[0][:2])
    return unread_notes(ins[0][:2], attrs["kernel"], attrs["stride"], padding, attrs["dilation"], out[:2])


CONV_FORMULAS = (
    "output   ⌊(H + Pt + Pb − D·(K−1) − 1)/S⌋ + 1 per axis (Pt, Pb: the padding before and after)",
    "weights  Kh·Kw·(Cin/G)·Cout, + Cout biases",
    "MACs     Hout·Wout·Cout · Kh·Kw·(Cin/G)   (bias excluded)",
    "FLOPs    2·MACs + one per output element for the bias and one for a fused activation",
)
TRANSPOSE_FORMULAS = (
    "output   (H − 1)·S − Pt − Pb + D·(K−1) + output_padding + 1 per axis",
    "weights  Kh·Kw·Cin·(Cout/G), + Cout biases",
    "MACs     H·W·Cin · Kh·Kw·(Cout/G)   (per input pixel, bias excluded; not per output position)",
    "FLOPs    2·MACs + one per output element for the bias and one for a fused activation",
)


def _channels_text(c: int, groups: int) -> str:
    return f"{c}" if groups == 1 else f"({c}/{groups})"


def _weights_lines(attrs: Attrs, factors: str, weights: int, cout: int) -> tuple[tuple[str, str], ...]:
    lines = [("weights", f"{factors} = {weights:,}")]
    if attrs["bias"]:
        lines.append(("biases", f"{cout:,}"))
    return tuple(lines)


def conv_explain(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[str, str], ...]:
    h, w, cin = ins[0]
    (kh, kw), (sh, sw), (dh, dw), g = attrs["kernel"], attrs["stride"], attrs["dilation"], attrs["groups"]
    top, bottom, left, right = window_sides(attrs, (h, w))
    ho, wo, cout = out
    per_output = kh * kw * (cin // g)
    cg = _channels_text(cin, g)
    return (
        ("output height", window_arithmetic(h, kh, sh, (top, bottom), dh, ho)),
        ("output width", window_arithmetic(w, kw, sw, (left, right), dw, wo)),
        *_weights_lines(attrs, f"{kh}·{kw}·{cg}·{cout}", per_output * cout, cout),
        (
            "MACs per sample",
            f"{ho}·{wo}·{cout} outputs · {kh}·{kw}·{cg} inputs each = {ho * wo * cout:,} · {per_output:,}"
            f" = {ho * wo * cout * per_output:,}",
        ),
    )


def transpose_explain(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[str, str], ...]:
    h, w, cin = ins[0]
    (kh, kw), (sh, sw), (dh, dw), g = attrs["kernel"], attrs["stride"], attrs["dilation"], attrs["groups"]
    top, bottom, left, right = attrs["padding"]
    (oph, opw), (ho, wo, cout) = attrs["output_padding"], out
    per_input = kh * kw * (cout // g)
    sizes = [
        (axis, f"({n} − 1)·{s} − {a} − {b} + {d}·({k}−1) + {e} + 1 = {o}")
        for axis, n, s, a, b, d, k, e, o in (
            ("output height", h, sh, top, bottom, dh, kh, oph, ho),
            ("output width", w, sw, left, right, dw, kw, opw, wo),
        )
    ]
    return (
        *sizes,
        *_weights_lines(attrs, f"{kh}·{kw}·{cin}·{_channels_text(cout, g)}", per_input * cin, cout),
        (
            "MACs per sample",
            f"{h}·{w}·{cin} inputs · {kh}·{kw}·{_channels_text(cout, g)} outputs each = {h * w * cin:,} · "
            f"{per_input:,} = {h * w * cin * per_input:,}",
        ),
    )


def conv_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window]]:
    top, _, left, _ = window_sides(attrs, ins[0][:2])
    return (window_geometry(attrs["kernel"], attrs["stride"], (top, left), attrs["dilation"]),)


def conv_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    """Autograd keeps a convolution's input (for dL/dw) and its weight (a parameter, not counted)."""
    return fused_saved(attrs, Saved(inputs=(0,)), out)


def same_as_forward(macs: Any) -> Any:
    """dL/dx and dL/dw of a conv or fc are each one GEMM as large as the forward one."""

    def backward_macs(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[int, int]:
        forward = macs(attrs, ins, out)
        return (forward, forward)

    return backward_macs


def transpose_window(kernel: int, stride: int, pad: int, dilation: int) -> Window:
    """Output o of a transposed conv reads the inputs i with i·S = o + P − D·k for a tap k (P the leading
    padding): its window's centre is (o + P − D·(K−1)/2)/S, and the span is the widest spread of the taps that
    land on whole inputs.

    In closed form, so the time does not grow with K or S: for one output, the taps landing on inputs are the k
    with D·k ≡ o + P (mod S), every S/g-th k (g = gcd(D, S)); some output's first such tap is k = 0, so the
    widest spread is D·⌊(K − 1)/(S/g)⌋ taps apart, (D/g)·⌊(K − 1)/(S/g)⌋ inputs."""
    g = math.gcd(dilation, stride)
    span = dilation // g * ((kernel - 1) // (stride // g))
    centre = Fraction(2 * pad - dilation * (kernel - 1), 2 * stride)
    return Window(Fraction(span), Fraction(1, stride), centre)


def transpose_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window]]:
    top, _, left, _ = attrs["padding"]
    axes = zip(attrs["kernel"], attrs["stride"], (top, left), attrs["dilation"])
    h, w = (transpose_window(*axis) for axis in axes)
    return ((h, w),)


def transpose_output_size(
    size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int, extra: int, axis: str
) -> int:
    before, after = pad
    out = (size - 1) * stride - before - after + dilation * (kernel - 1) + extra + 1
    if out < 1:
        pads = f"2·{before}" if before == after else f"{before} − {after}"
        raise ShapeError(
            f"output {axis} ({size} − 1)·{stride} − {pads} + {dilation}·({kernel}−1) + {extra} + 1 = {out} "
            "is not positive"
        )
    return out


def _resolve_transpose(attrs: dict[str, Any]) -> dict[str, Any]:
    for extra, stride, dilation in zip(attrs["output_padding"], attrs["stride"], attrs["dilation"]):
        if extra >= max(stride, dilation):
            raise AttrError(
                f"output_padding {extra} must be smaller than the stride or the dilation "
                f"(here {stride} and {dilation}), as in PyTorch"
            )
    return attrs


def transpose_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    h, w, cin = spatial_input(ins, "conv_transpose")
    _check_groups(attrs, cin)
    top, bottom, left, right = attrs["padding"]
    sizes = [
        transpose_output_size(size, k, s, p, d, e, axis)
        for size, k, s, p, d, e, axis in zip(
            (h, w),
            attrs["kernel"],
            attrs["stride"],
            ((top, bottom), (left, right)),
            attrs["dilation"],
            attrs["output_padding"],
            ("height", "width"),
        )
    ]
    return (sizes[0], sizes[1], attrs["out"])


def transpose_weights(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    cin = ins[0][-1]
    kh, kw = attrs["kernel"]
    arrays = {"weight": (cin, attrs["out"] // attrs["groups"], kh, kw)}
    if attrs["bias"]:
        arrays["bias"] = (attrs["out"],)
    return arrays | fused_weights(attrs, attrs["out"])


def transpose_macs(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    """Each input element is multiplied by a (Cout/G)·Kh·Kw slice of the kernel."""
    h, w, cin = ins[0]
    kh, kw = attrs["kernel"]
    return h * w * cin * (attrs["out"] // attrs["groups"]) * kh * kw


# --- NumPy reference: thin adapters over netcalc.reference.conv (im2col + GEMM + col2im), which counts every MAC
# at the GEMM. A fused activation is applied in place to the fresh pre-activation and undone first in backward.


def _bias(params: Any, attrs: Attrs) -> Any:
    """The bias array when the layer has one (a KeyError, loud, if `weights` forgot to declare it)."""
    return params["bias"] if attrs["bias"] else None


def fused(z: Any, attrs: Attrs, params: Any) -> tuple[Any, Any]:
    """Apply the layer's fused activation to z (in place, unless the activation keeps its input); the cache is
    what `unfused` needs. A fused prelu reads its slopes (Cout,) from `params["slope"]`."""
    act = attrs["activation"]
    if act == "none":
        return z, None
    return activation_forward(act, z, params=params, inplace=True)


def unfused(dy: Any, cache: Any) -> tuple[Any, dict[str, Any]]:
    """dL/dz from dL/dy through the fused activation (dy itself when there is none), and a prelu's dL/d slope."""
    return (dy, {}) if cache is None else activation_backward(dy, cache)


def grads(dw: Any, db: Any, dact: dict[str, Any]) -> dict[str, Any]:
    """A layer's weight gradients: weight, bias when it has one, and its fused activation's."""
    return {"weight": dw, **({} if db is None else {"bias": db}), **dact}


def _reference_pair(forward_name: str, backward_name: str, geometry: tuple[str, ...]) -> tuple[Any, Any]:
    """forward/backward adapters over one primitive pair of `netcalc.reference.conv`, which takes
    (x, weight, bias, *the attributes named in `geometry`) and returns (y, cache)."""

    def forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
        from netcalc.reference import conv as reference

        primitive = getattr(reference, forward_name)
        attrs = {**attrs, "padding": window_sides(attrs, xs[0].shape[2:])}
        z, cache = primitive(xs[0], params["weight"], _bias(params, attrs), *(attrs[a] for a in geometry))
        y, act = fused(z, attrs, params)
        return y, (cache, act)

    def backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        from netcalc.reference import conv as reference

        inner, act = cache
        dz, dact = unfused(dy, act)
        dx, dw, db = getattr(reference, backward_name)(dz, inner)
        return (dx,), grads(dw, db, dact)

    return forward, backward


# conv: x (N, Cin, H, W), weight (Cout, Cin/G, Kh, Kw), bias (Cout,) → y (N, Cout, Hout, Wout)
conv_forward, conv_backward = _reference_pair(
    "conv_forward", "conv_backward", ("stride", "padding", "dilation", "groups")
)
# conv_transpose: x (N, Cin, H, W), weight (Cin, Cout/G, Kh, Kw), bias (Cout,) → y (N, Cout, Hout, Wout)
transpose_forward, transpose_backward = _reference_pair(
    "conv_transpose_forward", "conv_transpose_backward", ("stride", "padding", "output_padding", "dilation", "groups")
)


# what conv and conv_transpose share: FLOPs beyond MACs, what autograd keeps, dL/dx and dL/dw as large as forward
def _shared_by_convs(macs: Any) -> dict[str, Any]:
    return {
        "saved": conv_saved,
        "saved_rule": "its input (and its output with a fused activation)",
        "backward_macs": same_as_forward(macs),
        "flops": conv_flops,
        "flops_rule": "2·MACs + one per output element for the bias and one for a fused activation",
    }


KINDS = (
    LayerKind(
        name="conv",
        summary="2-D convolution (any kernel, stride, padding, dilation, groups)",
        attrs=_COMMON + _GROUPED,
        output_shape=conv_output_shape,
        weights=conv_weights,
        macs=conv_macs,
        notes=conv_notes,
        resolve=resolve_same,
        settle=settle_same,
        forward=conv_forward,
        backward=conv_backward,
        geometry=conv_geometry,
        formulas=CONV_FORMULAS,
        explain=conv_explain,
        streamed_weights=("weight",),  # made whole for each GEMM, not held from forward to backward
        **_shared_by_convs(conv_macs),
    ),
    LayerKind(
        name="conv_transpose",
        summary="transposed convolution ('deconvolution'), PyTorch's ConvTranspose2d",
        attrs=_COMMON[:3]
        + (Attr("padding", sides, 0, "padding removed from the output, P, [Ph, Pw] or [top, bottom, left, right]"),)
        + (Attr("output_padding", pair(0), 0, "extra rows/columns added on one side of the output"),)
        + _GROUPED,
        output_shape=transpose_output_shape,
        weights=transpose_weights,
        macs=transpose_macs,
        resolve=_resolve_transpose,
        forward=transpose_forward,
        backward=transpose_backward,
        geometry=transpose_geometry,
        formulas=TRANSPOSE_FORMULAS,
        explain=transpose_explain,
        **_shared_by_convs(transpose_macs),
    ),
)
