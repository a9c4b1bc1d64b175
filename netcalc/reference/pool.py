"""Max, average and adaptive average pooling, forward and backward, NCHW, PyTorch semantics.

Pooling performs no multiply-accumulates, so nothing here goes through `gemm`. Windows are walked by looping over
the KH·KW kernel offsets and touching one strided (N, C, HO, WO) slice at a time; backward adds those slices back
(a scatter-add without `np.add.at`).

Padding is P, (Ph, Pw) or (top, bottom, left, right).

Global pooling is the special case kernel = (H, W): `max_pool_forward(x, x.shape[2:])`,
`adaptive_avg_pool_forward(x, (1, 1))`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netcalc.kinds.window import adaptive_bins  # the one definition of the bins, NumPy-free
from netcalc.reference.im2col import Pad, Pair, pair, sides

__all__ = [
    "adaptive_avg_pool_backward",
    "adaptive_avg_pool_forward",
    "adaptive_bins",
    "avg_pool_backward",
    "avg_pool_forward",
    "max_pool_backward",
    "max_pool_forward",
    "pool_output_size",
]


def pool_output_size(size: int, kernel: int, stride: int, padding: Pair = 0, ceil_mode: bool = False) -> int:
    """Output length of a pooling window along one axis, PyTorch's rule; `padding` P on both sides or (Pb, Pa)
    before and after.

    out = ⌊(size + Pb + Pa − K) / S⌋ + 1, or ⌈…⌉ + 1 in ceil mode; in ceil mode the last window is dropped when it
    would start inside the padding after the input, i.e. when (out − 1)·S ≥ size + Pb.
    """
    before, after = pair(padding)
    if max(before, after) > kernel // 2:
        raise ValueError(f"padding {max(before, after)} should be at most half the kernel {kernel}")
    span = size + before + after - kernel
    if span < 0:
        raise ValueError(f"kernel {kernel} does not fit input {size} padded by {before} + {after}")
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + before:
        out -= 1
    return out


def _padded(x: np.ndarray, padding: tuple[int, int, int, int], extent: tuple[int, int], fill: float) -> np.ndarray:
    """x (N, C, H, W) padded by (top, bottom, left, right), the bottom and right up to extent at least (covers
    ceil-mode windows)."""
    (pt, pb, pl, pr), (eh, ew) = padding, extent
    _, _, h, w = x.shape
    after_h, after_w = max(pb, eh - h - pt), max(pr, ew - w - pl)
    if not (pt or pl or after_h or after_w):
        return x
    return np.pad(x, ((0, 0), (0, 0), (pt, after_h), (pl, after_w)), constant_values=fill)


def _crop(xp: np.ndarray, padding: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """The (H, W) interior of a padded gradient; a copy only if there is padding to drop (frees the big buffer)."""
    (pt, _, pl, _), (h, w) = padding, size
    if xp.shape[2:] == (h, w):
        return xp
    return xp[:, :, pt : pt + h, pl : pl + w].copy()


def _padded_shape(x_shape: tuple[int, ...], padding: tuple[int, int, int, int], extent: tuple[int, int]) -> tuple:
    """Shape of `_padded`'s result for an input of x_shape."""
    (pt, pb, pl, pr), (_, _, h, w) = padding, x_shape
    return tuple(x_shape[:2]) + (pt + max(h + pb, extent[0] - pt), pl + max(w + pr, extent[1] - pl))


def _window_slice(i: int, j: int, stride: tuple[int, int], out: tuple[int, int]) -> tuple[slice, ...]:
    """Index of offset (i, j) of every window: [:, :, i + oh·S, j + ow·S] for oh < HO, ow < WO."""
    (sh, sw), (ho, wo) = stride, out
    return (slice(None), slice(None), slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))


def _geometry(
    x_shape: tuple[int, ...], kernel: Pair, stride: Pair | None, padding: Pad, ceil_mode: bool
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int], tuple[int, int], tuple[int, int]]:
    kh, kw = pair(kernel)
    sh, sw = pair(kernel if stride is None else stride)  # PyTorch: stride defaults to the kernel
    pads = sides(padding)
    _, _, h, w = x_shape
    ho = pool_output_size(h, kh, sh, pads[:2], ceil_mode)
    wo = pool_output_size(w, kw, sw, pads[2:], ceil_mode)
    extent = ((ho - 1) * sh + kh, (wo - 1) * sw + kw)
    return (kh, kw), (sh, sw), pads, (ho, wo), extent


def _is_global(x_shape: tuple[int, ...], kernel: tuple[int, int], padding: tuple[int, int, int, int]) -> bool:
    return tuple(x_shape[2:]) == kernel and padding == (0, 0, 0, 0)


def argmax_offset_type(taps: int) -> type[np.integer]:
    """The integer type a max pool keeps its arg-max offsets in: int8 while the window's offsets, 0 … taps − 1,
    fit (the memory estimate counts its bytes too)."""
    return np.int8 if taps - 1 <= np.iinfo(np.int8).max else np.int32


def max_pool_forward(
    x: np.ndarray, kernel: Pair, stride: Pair | None = None, padding: Pad = 0, ceil_mode: bool = False
) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W) -> y (N, C, HO, WO), cache; padding never wins (it is −∞).

    The cache holds the arg-max offset i·KW + j per output (int8 when it fits): the first maximum in row-major
    window order on ties, as PyTorch.
    """
    (kh, kw), s, p, out, extent = _geometry(x.shape, kernel, stride, padding, ceil_mode)
    n, c, h, w = x.shape
    if _is_global(x.shape, (kh, kw), p):  # one window, the whole map: argmax, not a loop over H·W offsets
        flat = x.reshape(n, c, h * w)
        arg = flat.argmax(axis=2).reshape(n, c, 1, 1)  # first maximum, index i·W + j = i·KW + j
        y = np.take_along_axis(flat, arg.reshape(n, c, 1), axis=2).reshape(n, c, 1, 1)
        return y, (x.shape, arg, (kh, kw), s, p, extent)
    xp = _padded(x, p, extent, -np.inf)
    y = xp[_window_slice(0, 0, s, out)].copy()
    arg_type = argmax_offset_type(kh * kw)
    arg = np.zeros(y.shape, dtype=arg_type)
    for i in range(kh):
        for j in range(kw):
            if i == j == 0:
                continue
            v = xp[_window_slice(i, j, s, out)]
            better = v > y  # strictly greater keeps the first maximum
            np.maximum(y, v, out=y)
            # offsets come in increasing order, so "arg = offset where better" is a maximum: a fast ufunc, unlike
            # a masked copyto (4× slower)
            np.maximum(arg, np.multiply(better, i * kw + j, dtype=arg_type), out=arg)
    return y, (x.shape, arg, (kh, kw), s, p, extent)


def max_pool_backward(dy: np.ndarray, cache: Any) -> np.ndarray:
    """dy (N, C, HO, WO) -> dx (N, C, H, W): each gradient goes to its window's arg-max."""
    x_shape, arg, (kh, kw), s, pads, extent = cache
    n, c, h, w = x_shape
    out = dy.shape[2:]
    if _is_global(x_shape, (kh, kw), pads):
        dx = np.zeros((n, c, h * w), dtype=dy.dtype)
        np.put_along_axis(dx, arg.reshape(n, c, 1), dy.reshape(n, c, 1), axis=2)
        return dx.reshape(x_shape)
    dxp = np.zeros(_padded_shape(x_shape, pads, extent), dtype=dy.dtype)
    overlapping = s[0] < kh or s[1] < kw
    for i in range(kh):
        for j in range(kw):
            hit = arg == i * kw + j
            if overlapping:
                dxp[_window_slice(i, j, s, out)] += dy * hit
            else:  # each input position lies in one window at most: write dy or 0 in place, no temporary
                np.multiply(dy, hit, out=dxp[_window_slice(i, j, s, out)])
    return _crop(dxp, pads, (h, w))


def _avg_divisors(
    size: int, kernel: int, stride: int, padding: tuple[int, int], out: int, count_include_pad: bool
) -> np.ndarray:
    """Divisor of each window along one axis, PyTorch's rule: the window clipped to the padded input
    [−Pb, size + Pa) when count_include_pad, else clipped to the input [0, size)."""
    before, after = padding
    start = np.arange(out) * stride - before
    end = np.minimum(start + kernel, size + after)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def avg_pool_forward(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair | None = None,
    padding: Pad = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W) -> y (N, C, HO, WO), cache; PyTorch's AvgPool2d (no divisor_override).

    The divisor of a window is separable: (rows counted) × (columns counted), see `_avg_divisors`. A ceil-mode
    window hanging past the right padding never counts the part beyond it, even with count_include_pad.
    """
    (kh, kw), (sh, sw), pads, (ho, wo), extent = _geometry(x.shape, kernel, stride, padding, ceil_mode)
    _, _, h, w = x.shape
    div_h = _avg_divisors(h, kh, sh, pads[:2], ho, count_include_pad)
    div_w = _avg_divisors(w, kw, sw, pads[2:], wo, count_include_pad)
    scale = (1.0 / np.outer(div_h, div_w)).astype(x.dtype)  # (HO, WO)
    xp = _padded(x, pads, extent, 0.0)
    y = xp[_window_slice(0, 0, (sh, sw), (ho, wo))].copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                y += xp[_window_slice(i, j, (sh, sw), (ho, wo))]
    y *= scale
    return y, (x.shape, scale, (kh, kw), (sh, sw), pads, extent)


def avg_pool_backward(dy: np.ndarray, cache: Any) -> np.ndarray:
    """dy (N, C, HO, WO) -> dx (N, C, H, W)."""
    x_shape, scale, (kh, kw), s, pads, extent = cache
    _, _, h, w = x_shape
    g = dy * scale
    dxp = np.zeros(_padded_shape(x_shape, pads, extent), dtype=dy.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[_window_slice(i, j, s, dy.shape[2:])] += g
    return _crop(dxp, pads, (h, w))


def adaptive_avg_pool_forward(x: np.ndarray, output_size: Pair) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W) -> y (N, C, OH, OW), cache; each output averages its bin (bins may overlap)."""
    n, c, h, w = x.shape
    oh, ow = pair(output_size)
    rows, cols = adaptive_bins(h, oh), adaptive_bins(w, ow)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return y, (x.shape, rows, cols)


def adaptive_avg_pool_backward(dy: np.ndarray, cache: Any) -> np.ndarray:
    """dy (N, C, OH, OW) -> dx (N, C, H, W)."""
    x_shape, rows, cols = cache
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            dx[:, :, r0:r1, c0:c1] += dy[:, :, i : i + 1, j : j + 1] / ((r1 - r0) * (c1 - c0))
    return dx
