"""Layers that move pixels without learning anything: pad, crop, subsample, upsample, pixel (un)shuffle.
No parameters, no MACs. Shapes H×W×C; the NumPy reference works in (N, C, H, W).

pad:             (H + top + bottom) × (W + left + right) × C; zeros (or `value`), reflect or replicate. FLOPs 0.
crop:            h × w × C, the window at `offset` (default centred: ⌊(H − h)/2⌋, ⌊(W − w)/2⌋), h × w from `size`
                 or from a second input's H×W (which lends only its shape: its gradient is zero). FLOPs 0.
subsample:       ⌈H/S⌉ × ⌈W/S⌉ × C, every S-th row and column from 0 (x[:, :, ::S, ::S]). FLOPs 0.
upsample:        oh × ow × C from `scale` (H·S), `size` or a second input's H×W; PyTorch's F.interpolate.
                 FLOPs: nearest 0 (a gather); bilinear 7 per output element (the 4 neighbours times their weights,
                 summed: 4 multiplies + 3 adds; the weights depend only on positions and are not counted).
pixel_shuffle:   H×W×(C·r²) → rH × rW × C: input channel c·r² + i·r + j goes to pixel (h·r + i, w·r + j) of
                 channel c (PyTorch's PixelShuffle, depth-to-space). FLOPs 0.
pixel_unshuffle: rH × rW × C → H×W×(C·r²), the inverse (PyTorch's PixelUnshuffle, space-to-depth). FLOPs 0.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netcalc.errors import AttrError, ShapeError
from netcalc.kinds.base import (
    MAX_REAL,
    NEW,
    VIEW,
    Attr,
    Attrs,
    LayerKind,
    Saved,
    Window,
    choice,
    flag,
    optional,
    pair,
    real,
    sides,
    spatial_input,
    whole,
)
from netcalc.kinds.window import AXES
from netcalc.lazy_numpy import np
from netcalc.shapes import Shape, format_shape, is_spatial, numel


def _ref_hw(kind: str, ins: tuple[Shape, ...]) -> tuple[int, int] | None:
    """The H×W of the second input (whose shape a crop or upsample takes), None with one input."""
    if len(ins) < 2:
        return None
    if not is_spatial(ins[1]):
        raise ShapeError(f"{kind} takes H×W from its second input, which is the flat vector {format_shape(ins[1])}")
    return (ins[1][0], ins[1][1])


# --- pad


def _resolve_pad(attrs: dict[str, Any]) -> dict[str, Any]:
    if attrs["mode"] != "zeros" and attrs["value"] != 0.0:
        raise AttrError(f"value {attrs['value']} applies to mode zeros only, not {attrs['mode']}")
    return attrs


def pad_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    h, w, c = spatial_input(ins, "pad")
    top, bottom, left, right = attrs["padding"]
    if attrs["mode"] == "reflect":  # a reflection repeats no edge pixel, so it needs more pixels than it pads
        for axis, size, pads in zip(AXES, (h, w), ((top, bottom), (left, right))):
            if max(pads) >= size:
                raise ShapeError(f"reflect padding {max(pads)} must be smaller than the {axis} {size}, as in PyTorch")
    return (h + top + bottom, w + left + right, c)


def pad_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y (N, C, H + top + bottom, W + left + right)."""
    x, mode = xs[0], attrs["mode"]
    top, bottom, left, right = attrs["padding"]
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    if mode == "zeros":
        y = np.pad(x, widths, constant_values=attrs["value"])
    else:
        y = np.pad(x, widths, mode="reflect" if mode == "reflect" else "edge")
    return y, (mode, attrs["padding"], x.shape[2:])


def _unpad_axis(g: Any, axis: int, before: int, size: int, mode: str) -> Any:
    """Fold the gradient of one padded axis (length before + size + after) back onto the `size` input rows.

    reflect: padded row before − k (k = 1 … before) is input row k, padded row before + size − 1 + k is input row
    size − 1 − k; replicate: every padded row before the input is row 0, every one after it row size − 1.
    """
    inner = [slice(None)] * g.ndim
    inner[axis] = slice(before, before + size)
    dx = g[tuple(inner)].copy()
    head = np.moveaxis(g, axis, 0)[:before]  # padded rows before the input, in order
    tail = np.moveaxis(g, axis, 0)[before + size :]
    d = np.moveaxis(dx, axis, 0)  # a view: writes land in dx
    if mode == "reflect":
        if len(head):
            d[1 : len(head) + 1] += head[::-1]
        if len(tail):
            d[size - 1 - len(tail) : size - 1] += tail[::-1]
    elif mode == "replicate":
        if len(head):
            d[0] += head.sum(axis=0)
        if len(tail):
            d[size - 1] += tail.sum(axis=0)
    return dx


def pad_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """dx (N, C, H, W): the interior of dy, plus (reflect, replicate) the padding's gradient folded back."""
    mode, (top, _, left, _), (h, w) = cache
    return (_unpad_axis(_unpad_axis(dy, 2, top, h, mode), 3, left, w, mode),), {}


# --- crop


def crop_box(attrs: Attrs, ins: tuple[Shape, ...]) -> tuple[int, int, int, int]:
    """(top, left, h, w) of the window a crop keeps; a ShapeError when it does not fit."""
    h, w, _ = spatial_input(ins, "crop")
    ref = _ref_hw("crop", ins)
    if (ref is None) == (attrs["size"] is None):
        raise ShapeError(
            "crop takes its size from `size` or from a second input in `from`, not both"
            if ref is not None
            else "crop needs `size: [h, w]` or a second input in `from` whose H×W it takes"
        )
    th, tw = ref if ref is not None else attrs["size"]
    if th > h or tw > w:
        raise ShapeError(f"crop {th}×{tw} is larger than its input {format_shape(ins[0])}")
    top, left = attrs["offset"] if attrs["offset"] is not None else ((h - th) // 2, (w - tw) // 2)
    if top + th > h or left + tw > w:
        raise ShapeError(
            f"crop {th}×{tw} at offset [{top}, {left}] reaches row {top + th} and column {left + tw} "
            f"of the {h}×{w} input"
        )
    return top, left, th, tw


def crop_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    _, _, th, tw = crop_box(attrs, ins)
    return (th, tw, ins[0][2])


def _analysis_shapes(xs: tuple[Any, ...]) -> tuple[Shape, ...]:
    return tuple((x.shape[2], x.shape[3], x.shape[1]) for x in xs)


def crop_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) [, ref (N, C', h, w)] → y (N, C, h, w), a view of x."""
    top, left, th, tw = crop_box(attrs, _analysis_shapes(xs))
    shapes = tuple(x.shape for x in xs)
    return xs[0][:, :, top : top + th, left : left + tw], (shapes, top, left)


def _zero_refs(shapes: tuple[Any, ...], dtype: Any) -> tuple[Any, ...]:
    """The reference input lends only its shape: its gradient is zero."""
    return tuple(np.zeros(shape, dtype=dtype) for shape in shapes[1:])


def crop_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    shapes, top, left = cache
    dx = np.zeros(shapes[0], dtype=dy.dtype)
    dx[:, :, top : top + dy.shape[2], left : left + dy.shape[3]] = dy
    return (dx, *_zero_refs(shapes, dy.dtype)), {}


# --- subsample


def subsample_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    h, w, c = spatial_input(ins, "subsample")
    sh, sw = attrs["stride"]
    return (-(-h // sh), -(-w // sw), c)


def subsample_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y (N, C, ⌈H/Sh⌉, ⌈W/Sw⌉) = x[:, :, ::Sh, ::Sw], a view."""
    sh, sw = attrs["stride"]
    return xs[0][:, :, ::sh, ::sw], (xs[0].shape, sh, sw)


def subsample_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    shape, sh, sw = cache
    dx = np.zeros(shape, dtype=dy.dtype)
    dx[:, :, ::sh, ::sw] = dy
    return (dx,), {}


# --- upsample


def _resolve_upsample(attrs: dict[str, Any]) -> dict[str, Any]:
    if attrs["scale"] is not None and attrs["size"] is not None:
        raise AttrError("give `scale` or `size`, not both")
    if attrs["align_corners"] and attrs["mode"] != "bilinear":
        raise AttrError("align_corners applies to mode bilinear only")
    return attrs


def upsample_size(attrs: Attrs, ins: tuple[Shape, ...]) -> tuple[int, int]:
    """The output H×W: input × scale, `size`, or the second input's H×W (exactly one of the three)."""
    h, w, _ = spatial_input(ins, "upsample")
    ref = _ref_hw("upsample", ins)
    given = [name for name in ("scale", "size") if attrs[name] is not None]
    if ref is not None and given:
        raise ShapeError(f"upsample takes its size from its second input; drop `{given[0]}`")
    if ref is None and not given:
        raise ShapeError("upsample needs `scale`, `size` or a second input in `from` whose H×W it takes")
    if ref is not None:
        return ref
    if attrs["scale"] is not None:
        return (h * attrs["scale"][0], w * attrs["scale"][1])
    return attrs["size"]


def upsample_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    return (*upsample_size(attrs, ins), ins[0][2])


def upsample_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return 7 * numel(out) if attrs["mode"] == "bilinear" else 0


def interpolation_taps(size: int, out: int, mode: str, align_corners: bool) -> tuple[Any, Any, Any]:
    """Along one axis, output i = (1 − λ[i])·x[low[i]] + λ[i]·x[high[i]], PyTorch's F.interpolate rules (float64):

    - nearest: low = high = ⌊i·size/out⌋ (exact integers), λ = 0. This is PyTorch's documented rule and ONNX
      Runtime's result; PyTorch's CPU kernel takes size/out in float32 and so reads one row or column lower at
      some non-integer ratios (14 → 46: column 6 at 23, where ⌊23·14/46⌋ = 7). netcalc follows the exact rule,
      which the value check against ONNX Runtime confirms (docs/verify.md);
    - bilinear: source s = i·(size − 1)/(out − 1) with align_corners (0 when out = 1), else
      max((i + ½)·size/out − ½, 0); low = ⌊s⌋, high = min(low + 1, size − 1), λ = s − low.

    low and high never decrease with i, which `_gather_adjoint` relies on.
    """
    rows = np.arange(out)
    if mode == "nearest":
        low = np.minimum(rows * size // out, size - 1)
        return low, low, np.zeros(out)
    if align_corners:
        source = rows * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        source = np.maximum((rows + 0.5) * (size / out) - 0.5, 0.0)
    low = np.minimum(source.astype(np.int64), size - 1)
    return low, np.minimum(low + 1, size - 1), source - low


def _weights(weight: Any, axis: int, ndim: int, dtype: Any) -> Any:
    """The per-position weights shaped to broadcast along `axis`."""
    shape = [1] * ndim
    shape[axis] = len(weight)
    return weight.astype(dtype).reshape(shape)


def _interpolate(x: Any, taps: tuple[Any, Any, Any], axis: int) -> Any:
    low, high, weight = taps
    y = np.take(x, low, axis=axis)
    if weight.any():
        lam = _weights(weight, axis, x.ndim, x.dtype)
        y *= 1 - lam
        y += np.take(x, high, axis=axis) * lam
    return y


def _gather_adjoint(g: Any, index: Any, size: int, axis: int) -> Any:
    """The adjoint of np.take(x, index, axis) for a non-decreasing index: the slices of g that read the same
    input row summed (np.add.reduceat over each run of equal indices) and put at that row; others zero."""
    rows, starts = np.unique(index, return_index=True)
    shape = list(g.shape)
    shape[axis] = size
    dx = np.zeros(shape, dtype=g.dtype)
    where: list[Any] = [slice(None)] * g.ndim
    where[axis] = rows
    dx[tuple(where)] = np.add.reduceat(g, starts, axis=axis)
    return dx


def _interpolate_adjoint(g: Any, taps: tuple[Any, Any, Any], size: int, axis: int) -> Any:
    low, high, weight = taps
    if not weight.any():
        return _gather_adjoint(g, low, size, axis)
    lam = _weights(weight, axis, g.ndim, g.dtype)
    return _gather_adjoint(g * (1 - lam), low, size, axis) + _gather_adjoint(g * lam, high, size, axis)


def upsample_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) [, ref] → y (N, C, oh, ow): `interpolation_taps` along H, then along W.

    Gathers and elementwise products, no GEMM: the weights are geometry, not the layer's MACs (and on this
    machine a BLAS call on such thin matrices costs more than the whole gather).
    """
    x = xs[0]
    (h, w), (oh, ow) = x.shape[2:], upsample_size(attrs, _analysis_shapes(xs))
    rows = interpolation_taps(h, oh, attrs["mode"], attrs["align_corners"])
    cols = interpolation_taps(w, ow, attrs["mode"], attrs["align_corners"])
    y = _interpolate(_interpolate(x, rows, 2), cols, 3)
    return y, (tuple(a.shape for a in xs), rows, cols)


def upsample_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Every output's gradient back to the two inputs (per axis) it was weighted from."""
    shapes, rows, cols = cache
    h, w = shapes[0][2:]
    dx = _interpolate_adjoint(_interpolate_adjoint(dy, cols, w, 3), rows, h, 2)
    return (dx, *_zero_refs(shapes, dy.dtype)), {}


# --- pixel shuffle


def pixel_shuffle_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    h, w, c = spatial_input(ins, "pixel_shuffle")
    r = attrs["factor"]
    if c % (r * r):
        raise ShapeError(f"pixel_shuffle factor {r} needs channels divisible by {r}² = {r * r}, got {c}")
    return (h * r, w * r, c // (r * r))


def pixel_unshuffle_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    h, w, c = spatial_input(ins, "pixel_unshuffle")
    r = attrs["factor"]
    if h % r or w % r:
        raise ShapeError(f"pixel_unshuffle factor {r} must divide the height and width of {format_shape(ins[0])}")
    return (h // r, w // r, c * r * r)


def depth_to_space(x: Any, r: int) -> Any:
    """(N, C·r², H, W) → (N, C, rH, rW): channel c·r² + i·r + j becomes pixel (h·r + i, w·r + j) of channel c."""
    n, c, h, w = x.shape
    # copied once (a new tensor, as torch's): at r = 1 the transpose is the identity and a reshape would be a view
    y = x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3).copy()
    return y.reshape(n, c // (r * r), h * r, w * r)


def space_to_depth(x: Any, r: int) -> Any:
    """(N, C, rH, rW) → (N, C·r², H, W), the inverse of `depth_to_space`."""
    n, c, h, w = x.shape
    # copied once, as `depth_to_space`
    y = x.reshape(n, c, h // r, r, w // r, r).transpose(0, 1, 3, 5, 2, 4).copy()
    return y.reshape(n, c * r * r, h // r, w // r)


def pixel_shuffle_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    return depth_to_space(xs[0], attrs["factor"]), attrs["factor"]


def pixel_shuffle_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (space_to_depth(dy, cache),), {}


def pixel_unshuffle_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    return space_to_depth(xs[0], attrs["factor"]), attrs["factor"]


def pixel_unshuffle_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (depth_to_space(dy, cache),), {}


# --- receptive-field geometry and what autograd keeps: PyTorch's constant padding, slicing (crop, subsample),
# interpolation and pixel shuffles keep only sizes; reflect and replicate padding keep their input.


def pad_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window]]:
    top, _, left, _ = attrs["padding"]
    return ((Window(offset=Fraction(-top)), Window(offset=Fraction(-left))),)


def pad_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    return Saved() if attrs["mode"] == "zeros" else Saved(inputs=(0,))


def crop_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window] | None, ...]:
    top, left, _, _ = crop_box(attrs, ins)
    return ((Window(offset=Fraction(top)), Window(offset=Fraction(left))), *(None for _ in ins[1:]))


def subsample_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window]]:
    sh, sw = attrs["stride"]
    return ((Window(stride=Fraction(sh)), Window(stride=Fraction(sw))),)


def resize_window(size: int, out: int, mode: str, align_corners: bool) -> Window:
    """Output o reads around (o + ½)·H/O − ½ (one input for nearest, two neighbours for bilinear); with
    align_corners around o·(H − 1)/(O − 1)."""
    span = Fraction(0 if mode == "nearest" or size == out else 1)  # to the same size, bilinear's λ is 0: one input
    if align_corners and mode == "bilinear":
        return Window(span, Fraction(size - 1, max(1, out - 1)), Fraction(0))
    return Window(span, Fraction(size, out), (Fraction(size, out) - 1) / 2)


def upsample_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window] | None, ...]:
    windows = tuple(resize_window(n, o, attrs["mode"], attrs["align_corners"]) for n, o in zip(ins[0][:2], out[:2]))
    return (windows, *(None for _ in ins[1:]))  # type: ignore[return-value]


def shuffle_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window]]:
    r = attrs["factor"]
    window = Window(Fraction(0), Fraction(1, r), (Fraction(1, r) - 1) / 2)  # output o reads input ⌊o/r⌋
    return ((window, window),)


def unshuffle_geometry(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[tuple[Window, Window]]:
    r = attrs["factor"]
    window = Window(Fraction(r - 1), Fraction(r), Fraction(r - 1, 2))  # output o gathers inputs o·r … o·r + r − 1
    return ((window, window),)


KINDS = (
    LayerKind(
        name="pad",
        summary="pad H×W with zeros (or a value), a reflection or the edge pixels (PyTorch's F.pad)",
        attrs=(
            Attr("padding", sides, doc="P, [Ph, Pw] or [top, bottom, left, right]"),
            Attr("mode", choice("zeros", "reflect", "replicate"), "zeros", "zeros, reflect or replicate"),
            Attr("value", real(-MAX_REAL), 0.0, "the constant of mode zeros"),
        ),
        output_shape=pad_output_shape,
        resolve=_resolve_pad,
        flops_rule="none (a copy)",
        forward=pad_forward,
        backward=pad_backward,
        geometry=pad_geometry,
        saved=pad_saved,
        saved_rule="nothing (zeros); its input (reflect, replicate)",
    ),
    LayerKind(
        name="crop",
        summary="an h×w window, centred or at an offset; h×w given or taken from a second input (U-Net)",
        attrs=(
            Attr(
                "size", optional(pair(1)), None, "[h, w]; or omit it and name a second input in `from` to take its H×W"
            ),
            Attr(
                "offset",
                optional(pair(0)),
                None,
                "[top, left] of the window; default centred, ⌊(H − h)/2⌋, ⌊(W − w)/2⌋",
            ),
        ),
        inputs=(1, 2),
        output_shape=crop_output_shape,
        flops_rule="none (a copy)",
        forward=crop_forward,
        backward=crop_backward,
        geometry=crop_geometry,
        storage=VIEW,
    ),
    LayerKind(
        name="subsample",
        summary="every S-th row and column from the first (x[:, :, ::S, ::S])",
        attrs=(Attr("stride", pair(1), doc="S or [Sh, Sw]"),),
        output_shape=subsample_output_shape,
        flops_rule="none (a copy)",
        forward=subsample_forward,
        backward=subsample_backward,
        geometry=subsample_geometry,
        storage=VIEW,
    ),
    LayerKind(
        name="upsample",
        summary="resize H×W by nearest or bilinear interpolation (PyTorch's F.interpolate)",
        attrs=(
            Attr("mode", choice("nearest", "bilinear"), "nearest", "nearest or bilinear"),
            Attr("scale", optional(pair(1)), None, "whole-number factor S or [Sh, Sw]"),
            Attr("size", optional(pair(1)), None, "output [h, w]"),
            Attr("align_corners", flag, False, "bilinear only: corner pixels of input and output aligned"),
        ),
        inputs=(1, 2),
        output_shape=upsample_output_shape,
        flops=upsample_flops,
        resolve=_resolve_upsample,
        flops_rule="nearest: none (a gather); bilinear: 7 per output element (4 weighted neighbours summed)",
        forward=upsample_forward,
        backward=upsample_backward,
        geometry=upsample_geometry,
        storage=NEW,
    ),
    LayerKind(
        name="pixel_shuffle",
        summary="depth to space: H×W×C·r² → rH×rW×C (PyTorch's PixelShuffle)",
        attrs=(Attr("factor", whole(1), doc="r"),),
        output_shape=pixel_shuffle_output_shape,
        flops_rule="none (a copy)",
        forward=pixel_shuffle_forward,
        backward=pixel_shuffle_backward,
        geometry=shuffle_geometry,
    ),
    LayerKind(
        name="pixel_unshuffle",
        summary="space to depth: rH×rW×C → H×W×C·r² (PyTorch's PixelUnshuffle; YOLOv2's reorg)",
        attrs=(Attr("factor", whole(1), doc="r"),),
        output_shape=pixel_unshuffle_output_shape,
        flops_rule="none (a copy)",
        forward=pixel_unshuffle_forward,
        backward=pixel_unshuffle_backward,
        geometry=unshuffle_geometry,
    ),
)
