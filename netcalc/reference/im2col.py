"""im2col and its adjoint col2im, NCHW.

Column layout: `im2col(x)` for x (N, C, H, W) returns cols (N, C·KH·KW, HO·WO), each sample's block C-contiguous,
row index c·KH·KW + i·KW + j (channel outermost, then kernel row i, kernel column j — the order of a flattened
PyTorch weight (COUT, C, KH, KW)), column index oh·WO + ow. With this layout

- a convolution is one batched GEMM `w.reshape(COUT, C·KH·KW) @ cols` -> (N, COUT, HO·WO), which *is* the NCHW
  output: no transpose or copy after the GEMM;
- groups split the row axis into contiguous blocks, so `cols.reshape(N, G, C/G·KH·KW, HO·WO)` is a free view and
  one batched GEMM covers every group.

Both directions loop over the KH·KW kernel offsets and copy (im2col) or add (col2im) one strided slice of the
padded input per offset: for offset (i, j) the slice xp[:, :, i·D :: S, j·D :: S] (HO × WO of it) is exactly the
(N, C, HO, WO) block of cols for that offset. These are a handful of large vectorised copies — about 7× faster
than copying a transposed `sliding_window_view` in one go (measured on VGG16's conv1_2), and no `np.add.at`.
The loops run over blocks of channels small enough (`_BLOCK_BYTES`) that the block's padded copy lives in a
small reused buffer in the L2 cache while its KH·KW slices are read (im2col) or accumulated (col2im): no padded
copy of the whole input is ever made, which saves 10-30% on the large early layers of a VGG.

A 1×1 kernel at stride 1 without padding (ResNet's bottleneck convolutions) needs no unfolding: its columns are
x itself, a view, and col2im returns the columns as they are.

Large layers split their channel blocks over the machine's cores (`netcalc.reference.threads`).

A convolution whose columns would exceed `BAND_LIMIT` makes them a band of output rows at a time (`row_bands`,
`band_input`): a band's columns are im2col of the input rows its windows reach, padded only where the band
meets the border. VGG-16's conv1_2 would otherwise need 115 MB of columns twice a pass, each time in pages
the kernel has to fault in (28,000 faults, ~0.05 s on a 2-core VM); its bands reuse one buffer's pages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from netcalc.reference.threads import MIN_BYTES, parts, run_parts

__all__ = [
    "Pad",
    "Pair",
    "band_input",
    "col2im",
    "columns_are_input",
    "conv_output_size",
    "im2col",
    "pair",
    "row_bands",
    "sides",
]

Pair = int | tuple[int, int]
Pad = int | tuple[int, int] | tuple[int, int, int, int]  # P, (Ph, Pw) or (top, bottom, left, right)

_BLOCK_BYTES = 256 * 1024  # per block of padded input channels; well inside a 1-2 MiB L2 cache
BAND_BYTES = 16 << 20  # columns per band: at least threads.MIN_BYTES, so a band's copies still use every core
BAND_LIMIT = 2 * BAND_BYTES  # columns up to this are made whole: banding them saves nothing measurable


def pair(value: Pair) -> tuple[int, int]:
    """(h, w) from an int or a pair."""
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    h, w = value
    return int(h), int(w)


def sides(padding: Pad) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from P, (Ph, Pw) or the four sides."""
    if isinstance(padding, int | np.integer):
        p = int(padding)
        return p, p, p, p
    if len(padding) == 4:
        t, b, left, r = padding  # type: ignore[misc]
        return int(t), int(b), int(left), int(r)
    ph, pw = pair(padding)  # type: ignore[arg-type]
    return ph, ph, pw, pw


def conv_output_size(size: int, kernel: int, stride: int, padding: Pair, dilation: int = 1) -> int:
    """Output length of a convolution along one axis: ⌊(size + Pb + Pa − D·(K − 1) − 1) / S⌋ + 1, with the
    padding P on both sides or (Pb, Pa) before and after."""
    before, after = pair(padding)
    out = (size + before + after - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(
            f"kernel {kernel} (dilation {dilation}) does not fit input {size} padded by {padding}: output {out}"
        )
    return out


def _geometry(
    x_shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Pad,
    dilation: Pair,
    output_size: tuple[int, int] | None,
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int], tuple[int, int], int, int]:
    kh, kw = pair(kernel)
    sh, sw = pair(stride)
    top, bottom, left, right = sides(padding)
    dh, dw = pair(dilation)
    _, _, h, w = x_shape
    ho = conv_output_size(h, kh, sh, (top, bottom), dh)
    wo = conv_output_size(w, kw, sw, (left, right), dw)
    if output_size is not None:
        if not (1 <= output_size[0] <= ho and 1 <= output_size[1] <= wo):
            raise ValueError(f"output_size {output_size} exceeds the {(ho, wo)} windows that fit in {x_shape}")
        ho, wo = output_size
    return (kh, kw), (sh, sw), (top, bottom, left, right), (dh, dw), ho, wo


def _tap(
    i: int, j: int, stride: tuple[int, int], dilation: tuple[int, int], out: tuple[int, int]
) -> tuple[slice, slice]:
    """Rows and columns of the padded input that kernel offset (i, j) meets, one per output pixel:
    xp[..., oh·S + i·D, ow·S + j·D] for oh < HO, ow < WO."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out
    r, s = i * dh, j * dw
    return slice(r, r + sh * (ho - 1) + 1, sh), slice(s, s + sw * (wo - 1) + 1, sw)


def _channel_blocks(n: int, c: int, hp: int, wp: int, itemsize: int) -> tuple[int, list[slice]]:
    """Blocks of the channel axis whose padded maps (N, block, HP, WP) take about `_BLOCK_BYTES` (≥ 1 channel)."""
    step = max(1, _BLOCK_BYTES // max(1, n * hp * wp * itemsize))
    step = min(step, c)
    return step, [slice(c0, min(c, c0 + step)) for c0 in range(0, c, step)]


def padded_block_bytes(x_shape: tuple[int, int, int, int], pads: tuple[int, int, int, int], itemsize: int) -> int:
    """Bytes of the padded channel blocks one `im2col` or `col2im` over x of `x_shape` (N, C, H, W) holds at once:
    one block per run of channels (`netcalc.reference.threads`), each at least one padded channel map, which on a
    large map is far more than `_BLOCK_BYTES`; none without padding. Counted as if the columns were large enough to
    be split over every core, so it errs high only for small layers, by a few blocks."""
    n, c, h, w = x_shape
    pt, pb, pl, pr = pads
    if not (pt or pb or pl or pr):
        return 0
    hp, wp = h + pt + pb, w + pl + pr
    step, blocks = _channel_blocks(n, c, hp, wp, itemsize)
    return len(parts(blocks, MIN_BYTES)) * n * step * hp * wp * itemsize


def columns_are_input(
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: tuple[int, int, int, int],
    out: tuple[int, int],
    size: tuple[int, int],
) -> bool:
    """A 1×1 kernel at stride 1 without padding over every pixel: the columns are the input, unchanged (the
    reference pass makes no copy, and the memory estimate counts none)."""
    return kernel == (1, 1) and stride == (1, 1) and not any(pads) and out == size


def row_bands(rows: int, row_bytes: int) -> list[tuple[int, int]]:
    """(first, end) of consecutive runs of a convolution's `rows` output rows whose columns take `row_bytes` a
    row: one run of every row when they come to `BAND_LIMIT` or less, else runs of about `BAND_BYTES`."""
    if rows * row_bytes <= BAND_LIMIT:
        return [(0, rows)]
    step = max(1, BAND_BYTES // max(1, row_bytes))
    return [(first, min(rows, first + step)) for first in range(0, rows, step)]


def band_input(
    first: int, end: int, size: int, kernel: int, stride: int, before: int, dilation: int
) -> tuple[slice, tuple[int, int]]:
    """The input rows that output rows first … end − 1 of a convolution read (along an axis of `size`, padded by
    `before` ahead), as a slice of the unpadded input, and the (before, after) zero rows the band needs around
    them: output row r reads padded rows r·S … r·S + D·(K − 1)."""
    lo = first * stride - before
    hi = (end - 1) * stride - before + dilation * (kernel - 1) + 1
    # a band may lie wholly in the padding (padding wider than the kernel's reach): then it reads no input row
    return slice(max(0, lo), max(0, min(size, hi))), (max(0, min(hi, 0) - lo), max(0, hi - max(size, lo)))


def im2col(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair = 1,
    padding: Pad = 0,
    dilation: Pair = 1,
    output_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Unfold x (N, C, H, W) into cols (N, C·KH·KW, HO·WO), zero padding (P, (Ph, Pw) or (top, bottom, left,
    right)); layout in the module docstring.

    `output_size` (HO, WO) keeps only the first HO × WO windows (a transposed convolution whose output_padding
    is at least its stride has one window more than its input has pixels); default: every window that fits.
    """
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw), ho, wo = _geometry(
        x.shape, kernel, stride, padding, dilation, output_size
    )
    n, c, h, w = x.shape
    if columns_are_input((kh, kw), (sh, sw), (pt, pb, pl, pr), (ho, wo), (h, w)):
        return x.reshape(n, c, h * w)  # each column is one pixel's channels: x itself, no copy
    hp, wp = h + pt + pb, w + pl + pr
    cols = np.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
    step, blocks = _channel_blocks(n, c, hp, wp, x.itemsize)

    def unfold(run: Sequence[slice]) -> None:
        # one small padded block per run of blocks, reused: its border stays zero, only the interior is rewritten
        padded = np.zeros((n, step, hp, wp), dtype=x.dtype) if pt or pb or pl or pr else None
        for block in run:
            if padded is None:
                xb = x[:, block]
            else:
                xb = padded[:, : block.stop - block.start]
                xb[:, :, pt : pt + h, pl : pl + w] = x[:, block]
            for i in range(kh):
                for j in range(kw):
                    cols[:, block, i, j] = xb[(slice(None), slice(None), *_tap(i, j, (sh, sw), (dh, dw), (ho, wo)))]

    run_parts(unfold, blocks, cols.nbytes)  # the channel blocks are disjoint: each run writes its own rows
    return cols.reshape(n, c * kh * kw, ho * wo)


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel: Pair,
    stride: Pair = 1,
    padding: Pad = 0,
    dilation: Pair = 1,
    output_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Adjoint of `im2col`: fold cols (N, C·KH·KW, HO·WO) back into (N, C, H, W) = x_shape, adding overlaps.

    Also accepts cols shaped (N, G, C/G·KH·KW, HO·WO) (same memory order). Positions no window reaches, such as
    rows past the last window, get zero. `output_size` as for `im2col`.
    """
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw), ho, wo = _geometry(
        x_shape, kernel, stride, padding, dilation, output_size
    )
    n, c, h, w = x_shape
    if cols.size != n * c * kh * kw * ho * wo:
        raise ValueError(f"cols {cols.shape} do not match x {x_shape} with kernel {(kh, kw)}, output {(ho, wo)}")
    if columns_are_input((kh, kw), (sh, sw), (pt, pb, pl, pr), (ho, wo), (h, w)):
        return cols.reshape(x_shape)  # nothing overlaps: the columns are the gradient itself
    cols6 = cols.reshape(n, c, kh, kw, ho, wo)
    hp, wp = h + pt + pb, w + pl + pr
    padded_any = bool(pt or pb or pl or pr)
    x = np.empty(x_shape, dtype=cols.dtype) if padded_any else np.zeros(x_shape, dtype=cols.dtype)
    step, blocks = _channel_blocks(n, c, hp, wp, cols.itemsize)

    def fold(run: Sequence[slice]) -> None:
        # accumulate each block in a small padded buffer that stays in cache, then keep its interior
        padded = np.empty((n, step, hp, wp), dtype=cols.dtype) if padded_any else None
        for block in run:
            if padded is None:
                xb = x[:, block]
            else:
                xb = padded[:, : block.stop - block.start]
                xb.fill(0)
            for i in range(kh):
                for j in range(kw):
                    xb[(slice(None), slice(None), *_tap(i, j, (sh, sw), (dh, dw), (ho, wo)))] += cols6[:, block, i, j]
            if padded is not None:
                x[:, block] = xb[:, :, pt : pt + h, pl : pl + w]

    run_parts(fold, blocks, cols.nbytes)  # disjoint channels: each run sums its own, in the same order as one
    return x
