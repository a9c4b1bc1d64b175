"""Max, average and adaptive average pooling, forward and backward, NCHW, PyTorch semantics.

Pooling performs no multiply-accumulates, so nothing here goes through `gemm`. Max-pool windows are walked by
looping over the KH·KW kernel offsets and touching one strided (N, C, HO, WO) slice at a time; backward adds those
slices back (a scatter-add without `np.add.at`). Average and adaptive average pooling sum their windows through
prefix sums, one axis after the other (`window_sums`): their cost is that of the input and output, whatever the
kernel, padding or number of bins (a 2001×2001 average pool of a 1×1 map no longer walks 4 million offsets).

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


_BLOCK = 1 << 18  # elements of x summed at a time: float64 temporaries of a few MiB, whatever the map


def window_sums(a: np.ndarray, axis: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Σ a[…, starts[o]:ends[o], …] along `axis` for every window o, in float64 (windows within the axis,
    possibly empty): the differences of the prefix sums at the windows' ends, O(size + windows) whatever the
    windows' lengths."""
    shape = list(a.shape)
    shape[axis] += 1
    prefix = np.zeros(shape)
    np.cumsum(a, axis=axis, dtype=np.float64, out=prefix[(slice(None),) * axis + (slice(1, None),)])
    out = np.take(prefix, ends, axis=axis)
    out -= np.take(prefix, starts, axis=axis)
    return out


def spread_sums(g: np.ndarray, axis: int, size: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The transpose of `window_sums`: out[…, p, …] = Σ g[…, o, …] over the windows o holding p, for an axis of
    `size`. The starts and the ends must each be non-decreasing in o (true of every pooling window): then the
    windows holding p are o ∈ [#(ends ≤ p), #(starts ≤ p)), a difference of g's prefix sums."""
    positions = np.arange(size)
    holding_from = np.searchsorted(ends, positions, side="right")
    holding_to = np.searchsorted(starts, positions, side="right")
    return window_sums(g, axis, holding_from, holding_to)


def _chunks(count: int, per: int) -> list[slice]:
    """Slices of `count` items of `per` elements each, about _BLOCK elements a slice (one item at least)."""
    step = max(1, _BLOCK // max(1, per))
    return [slice(b, b + step) for b in range(0, count, step)]


def _separable_sums(
    x: np.ndarray, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray], divisor: np.ndarray
) -> np.ndarray:
    """x (N, C, H, W) → y (N, C, HO, WO): the sum of x over rows [rs, re) × columns [cs, ce) of each output,
    divided by `divisor` (HO, WO), in float64, then in x's dtype. A block of channels and of output rows at a
    time, so the float64 temporaries stay a few MiB (one channel's prefix sums at least)."""
    n, c, h, w = x.shape
    (rs, re), (ho, wo) = rows, divisor.shape
    flat = x.reshape(n * c, h, w)
    y = np.empty((n * c, ho, wo), dtype=x.dtype)
    for block in _chunks(n * c, h * w):
        prefix = np.zeros((len(flat[block]), h + 1, w))
        np.cumsum(flat[block], axis=1, dtype=np.float64, out=prefix[:, 1:])
        for part in _chunks(ho, len(prefix) * max(w, wo)):
            sums = window_sums(prefix[:, re[part]] - prefix[:, rs[part]], 2, *cols)
            sums /= divisor[part]
            y[block, part] = sums
    return y.reshape(n, c, ho, wo)


def _separable_spread(
    g: np.ndarray, shape: tuple[int, ...], rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """The transpose of `_separable_sums` (without the divisor): g (N, C, HO, WO) → dx `shape` (N, C, H, W),
    a block of channels and of g's rows at a time, each block's rows spread over the input rows they cover."""
    n, c, h, w = shape
    (rs, re), (ho, wo) = rows, g.shape[2:]
    flat = g.reshape(n * c, ho, wo)
    dx = np.zeros((n * c, h, w), dtype=g.dtype)
    for block in _chunks(n * c, max(h * w, ho * wo)):
        for part in _chunks(ho, len(flat[block]) * max(w, wo)):
            lo, hi = int(rs[part][0]), int(re[part][-1])  # starts and ends are non-decreasing
            across = spread_sums(flat[block, part], 2, w, *cols)  # (b, part, W)
            dx[block, lo:hi] += spread_sums(across, 1, hi - lo, rs[part] - lo, re[part] - lo)
    return dx.reshape(shape)


def _avg_windows(
    size: int, kernel: int, stride: int, padding: tuple[int, int], out: int, count_include_pad: bool
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Along one axis: each window's part within the input, [start, end) (padding adds only zeros), and its
    divisor, PyTorch's rule: the window clipped to the padded input [−Pb, size + Pa) when count_include_pad,
    else clipped to the input [0, size)."""
    before, after = padding
    start = np.arange(out) * stride - before
    end = np.minimum(start + kernel, size + after)
    inside = (np.clip(start, 0, size), np.clip(end, 0, size))
    return inside, (end - start) if count_include_pad else (inside[1] - inside[0])


def avg_pool_forward(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair | None = None,
    padding: Pad = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W) -> y (N, C, HO, WO), cache; PyTorch's AvgPool2d (no divisor_override).

    The divisor of a window is separable: (rows counted) × (columns counted), see `_avg_windows`. A ceil-mode
    window hanging past the right padding never counts the part beyond it, even with count_include_pad. The
    sums are taken over the input alone (the padding adds zeros), by prefix sums in float64.
    """
    (kh, kw), (sh, sw), pads, (ho, wo), _ = _geometry(x.shape, kernel, stride, padding, ceil_mode)
    geometry = (x.shape, (kh, kw), (sh, sw), pads, (ho, wo), count_include_pad)
    rows, cols, divisor = _avg_layout(geometry)
    # the cache: the geometry and one (HO, WO) map in x's dtype, 1 / divisor (the memory rule counts one such map)
    return _separable_sums(x, rows, cols, divisor), (geometry, (1.0 / divisor).astype(x.dtype))


def _avg_layout(geometry: Any) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The rows and columns each window sums and its divisor (HO, WO), from an average pool's geometry."""
    (_, _, h, w), (kh, kw), (sh, sw), pads, (ho, wo), count_include_pad = geometry
    rows, div_h = _avg_windows(h, kh, sh, pads[:2], ho, count_include_pad)
    cols, div_w = _avg_windows(w, kw, sw, pads[2:], wo, count_include_pad)
    return rows, cols, np.outer(div_h, div_w).astype(np.float64)


def avg_pool_backward(dy: np.ndarray, cache: Any) -> np.ndarray:
    """dy (N, C, HO, WO) -> dx (N, C, H, W): each dy / divisor added to the input positions of its window."""
    geometry, scale = cache
    rows, cols, _ = _avg_layout(geometry)
    return _separable_spread(dy * scale, geometry[0], rows, cols)


def _bin_bounds(size: int, out: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The adaptive bins of an axis as arrays of starts and ends, and their lengths."""
    starts, ends = (np.array(v, dtype=np.int64) for v in zip(*adaptive_bins(size, out)))
    return (starts, ends), ends - starts


def adaptive_avg_pool_forward(x: np.ndarray, output_size: Pair) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W) -> y (N, C, OH, OW), cache; each output averages its bin (bins may overlap). Bins are
    summed by prefix sums (`window_sums`), so the cost is the input's and the output's, not OH·OW slices."""
    _, _, h, w = x.shape
    oh, ow = pair(output_size)
    if (oh, ow) == (1, 1):  # global average pooling: one bin, NumPy's own mean (pairwise sums)
        return x.mean(axis=(2, 3), keepdims=True), (x.shape, (oh, ow))
    (rows, len_h), (cols, len_w) = _bin_bounds(h, oh), _bin_bounds(w, ow)
    divisor = np.outer(len_h, len_w).astype(np.float64)
    return _separable_sums(x, rows, cols, divisor), (x.shape, (oh, ow))  # the bins are worked out again


def adaptive_avg_pool_backward(dy: np.ndarray, cache: Any) -> np.ndarray:
    """dy (N, C, OH, OW) -> dx (N, C, H, W): each dy / (its bin's size) added to its bin."""
    x_shape, (oh, ow) = cache
    (rows, len_h), (cols, len_w) = _bin_bounds(x_shape[2], oh), _bin_bounds(x_shape[3], ow)
    return _separable_spread(dy / np.outer(len_h, len_w).astype(dy.dtype), x_shape, rows, cols)
