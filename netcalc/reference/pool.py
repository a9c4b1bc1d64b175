"""Max, average and adaptive average pooling, forward and backward, NCHW, PyTorch semantics.

Pooling performs no multiply-accumulates, so nothing here goes through `gemm`. Windows are walked by looping over
the KH·KW kernel offsets and touching one strided (N, C, HO, WO) slice at a time; backward adds those slices back
(a scatter-add without `np.add.at`).

Global pooling is the special case kernel = (H, W): `max_pool_forward(x, x.shape[2:])`,
`adaptive_avg_pool_forward(x, (1, 1))`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netcalc.kinds.window import adaptive_bins  # the one definition of the bins, NumPy-free
from netcalc.reference.im2col import Pair, pair

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


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> int:
    """Output length of a pooling window along one axis, PyTorch's rule.

    out = ⌊(size + 2P − K) / S⌋ + 1, or ⌈…⌉ + 1 in ceil mode; in ceil mode the last window is dropped when it
    would start inside the right padding, i.e. when (out − 1)·S ≥ size + P.
    """
    if padding > kernel // 2:
        raise ValueError(f"padding {padding} should be at most half the kernel {kernel}")
    span = size + 2 * padding - kernel
    if span < 0:
        raise ValueError(f"kernel {kernel} does not fit input {size} padded by {padding}")
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _padded(x: np.ndarray, padding: tuple[int, int], extent: tuple[int, int], fill: float) -> np.ndarray:
    """x (N, C, H, W) padded by P on the left/top and on the right/bottom up to extent (covers ceil-mode windows)."""
    (ph, pw), (eh, ew) = padding, extent
    _, _, h, w = x.shape
    after_h, after_w = max(ph, eh - h - ph), max(pw, ew - w - pw)
    if not (ph or pw or after_h or after_w):
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, after_h), (pw, after_w)), constant_values=fill)


def _crop(xp: np.ndarray, padding: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """The (H, W) interior of a padded gradient; a copy only if there is padding to drop (frees the big buffer)."""
    (ph, pw), (h, w) = padding, size
    if xp.shape[2:] == (h, w):
        return xp
    return xp[:, :, ph : ph + h, pw : pw + w].copy()


def _window_slice(i: int, j: int, stride: tuple[int, int], out: tuple[int, int]) -> tuple[slice, ...]:
    """Index of offset (i, j) of every window: [:, :, i + oh·S, j + ow·S] for oh < HO, ow < WO."""
    (sh, sw), (ho, wo) = stride, out
    return (slice(None), slice(None), slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))


def _geometry(
    x_shape: tuple[int, ...], kernel: Pair, stride: Pair | None, padding: Pair, ceil_mode: bool
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    kh, kw = pair(kernel)
    sh, sw = pair(kernel if stride is None else stride)  # PyTorch: stride defaults to the kernel
    ph, pw = pair(padding)
    _, _, h, w = x_shape
    ho = pool_output_size(h, kh, sh, ph, ceil_mode)
    wo = pool_output_size(w, kw, sw, pw, ceil_mode)
    extent = ((ho - 1) * sh + kh, (wo - 1) * sw + kw)
    return (kh, kw), (sh, sw), (ph, pw), (ho, wo), extent


def _is_global(x_shape: tuple[int, ...], kernel: tuple[int, int], padding: tuple[int, int]) -> bool:
    return tuple(x_shape[2:]) == kernel and padding == (0, 0)


def max_pool_forward(
    x: np.ndarray, kernel: Pair, stride: Pair | None = None, padding: Pair = 0, ceil_mode: bool = False
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
    arg_type = np.int8 if kh * kw <= 127 else np.int32
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
    x_shape, arg, (kh, kw), s, (ph, pw), extent = cache
    n, c, h, w = x_shape
    out = dy.shape[2:]
    if _is_global(x_shape, (kh, kw), (ph, pw)):
        dx = np.zeros((n, c, h * w), dtype=dy.dtype)
        np.put_along_axis(dx, arg.reshape(n, c, 1), dy.reshape(n, c, 1), axis=2)
        return dx.reshape(x_shape)
    dxp = np.zeros(x_shape[:2] + (max(h + 2 * ph, extent[0]), max(w + 2 * pw, extent[1])), dtype=dy.dtype)
    overlapping = s[0] < kh or s[1] < kw
    for i in range(kh):
        for j in range(kw):
            hit = arg == i * kw + j
            if overlapping:
                dxp[_window_slice(i, j, s, out)] += dy * hit
            else:  # each input position lies in one window at most: write dy or 0 in place, no temporary
                np.multiply(dy, hit, out=dxp[_window_slice(i, j, s, out)])
    return _crop(dxp, (ph, pw), (h, w))


def _avg_divisors(size: int, kernel: int, stride: int, padding: int, out: int, count_include_pad: bool) -> np.ndarray:
    """Divisor of each window along one axis, PyTorch's rule: the window clipped to the padded input
    [−P, size + P) when count_include_pad, else clipped to the input [0, size)."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def avg_pool_forward(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W) -> y (N, C, HO, WO), cache; PyTorch's AvgPool2d (no divisor_override).

    The divisor of a window is separable: (rows counted) × (columns counted), see `_avg_divisors`. A ceil-mode
    window hanging past the right padding never counts the part beyond it, even with count_include_pad.
    """
    (kh, kw), (sh, sw), (ph, pw), (ho, wo), extent = _geometry(x.shape, kernel, stride, padding, ceil_mode)
    _, _, h, w = x.shape
    div_h = _avg_divisors(h, kh, sh, ph, ho, count_include_pad)
    div_w = _avg_divisors(w, kw, sw, pw, wo, count_include_pad)
    scale = (1.0 / np.outer(div_h, div_w)).astype(x.dtype)  # (HO, WO)
    xp = _padded(x, (ph, pw), extent, 0.0)
    y = xp[_window_slice(0, 0, (sh, sw), (ho, wo))].copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                y += xp[_window_slice(i, j, (sh, sw), (ho, wo))]
    y *= scale
    return y, (x.shape, scale, (kh, kw), (sh, sw), (ph, pw), extent)


def avg_pool_backward(dy: np.ndarray, cache: Any) -> np.ndarray:
    """dy (N, C, HO, WO) -> dx (N, C, H, W)."""
    x_shape, scale, (kh, kw), s, (ph, pw), extent = cache
    _, _, h, w = x_shape
    g = dy * scale
    dxp = np.zeros(x_shape[:2] + (max(h + 2 * ph, extent[0]), max(w + 2 * pw, extent[1])), dtype=dy.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[_window_slice(i, j, s, dy.shape[2:])] += g
    return _crop(dxp, (ph, pw), (h, w))


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
