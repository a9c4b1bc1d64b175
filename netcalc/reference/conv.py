"""Convolution, transposed convolution and fully connected layers, forward and backward, through `gemm`.

Shapes: x (N, C, H, W); conv weight w (COUT, C/G, KH, KW); transposed-conv weight w (C, COUT/G, KH, KW)
(PyTorch's layouts); bias (COUT,) or None; linear x (N, F), w (OUT, F). Padding is P, (Ph, Pw) or
(top, bottom, left, right).

Every product goes through `gemm`, so counted MACs are, per pass:
- conv forward N·COUT·HO·WO·(C/G·KH·KW); backward twice that (dw and dx), bias not counted;
- transposed conv forward N·C·H·W·(COUT/G·KH·KW) (H, W of its input); backward twice that;
- linear forward N·OUT·F; backward twice that.

Memory: the convolution cache keeps x (a reference, not a copy — do not modify x in place before backward) rather
than its im2col matrix, and backward unfolds x again. The network holds x anyway (it is the previous layer's
output), while the columns are KH·KW times bigger: keeping them for all 13 convolutions of VGG16 doubles the peak
(0.38 vs 0.17 GiB in float32) and, measured, makes the whole pass slower, not faster, since every fresh
buffer is paid for in page faults. So at most one layer's columns exist at a time, and for a large layer only
a band of its output rows' columns (`netcalc.reference.im2col.row_bands`).

A weight may come as a `RepeatingMatrix` (`netcalc.reference.streamed`). A linear layer multiplies it a block of
rows at a time, and makes its gradient block by block and summarises it, never held. A convolution makes it
whole for its forward GEMM and again for its backward ones, and its cache keeps only the `RepeatingMatrix`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netcalc.reference.gemm import gemm
from netcalc.reference.im2col import (
    Pad,
    Pair,
    band_input,
    col2im,
    columns_are_input,
    conv_output_size,
    im2col,
    pair,
    row_bands,
    sides,
)
from netcalc.reference.streamed import GradientSummary, RepeatingMatrix

__all__ = [
    "conv_backward",
    "conv_forward",
    "conv_transpose_backward",
    "conv_transpose_forward",
    "conv_transpose_output_size",
    "linear_backward",
    "linear_forward",
]


def _check_groups(channels: int, groups: int, what: str) -> None:
    if groups < 1 or channels % groups:
        raise ValueError(f"{what} {channels} is not divisible by groups {groups}")


def conv_forward(
    x: np.ndarray,
    w: np.ndarray | RepeatingMatrix,
    b: np.ndarray | None,
    stride: Pair = 1,
    padding: Pad = 0,
    dilation: Pair = 1,
    groups: int = 1,
) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W), w (COUT, C/G, KH, KW), b (COUT,) or None -> y (N, COUT, HO, WO), cache.

    One batched GEMM over samples and groups: (G, COUT/G, C/G·KH·KW) @ (N, G, C/G·KH·KW, HO·WO); for columns
    larger than `BAND_LIMIT`, one per band of output rows (`row_bands`), written into that band of y.
    """
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    _check_groups(c, groups, "input channels")
    _check_groups(cout, groups, "output channels")
    if cg * groups != c:
        raise ValueError(f"weight {w.shape} expects {cg * groups} input channels with groups {groups}, got {c}")
    (sh, sw), pads, (dh, dw) = pair(stride), sides(padding), pair(dilation)
    ho, wo = conv_output_size(h, kh, sh, pads[:2], dh), conv_output_size(wd, kw, sw, pads[2:], dw)
    wmat = np.asarray(w).reshape(groups, cout // groups, cg * kh * kw)  # a `RepeatingMatrix` made whole
    bands = _bands(x, (kh, kw), (sh, sw), pads, (ho, wo))
    if len(bands) == 1:
        cols = im2col(x, (kh, kw), (sh, sw), pads, (dh, dw)).reshape(n, groups, cg * kh * kw, ho * wo)
        y = gemm(wmat, cols).reshape(n, cout, ho, wo)  # (N, G, COUT/G, HO·WO) is already NCHW
        del cols
    else:
        y = np.empty((n, cout, ho, wo), dtype=np.result_type(x, w.dtype))
        y_rows = y.reshape(n, groups, cout // groups, ho * wo)
        for first, end in bands:
            rows, band_pads = band_input(first, end, h, kh, sh, pads[0], dh)
            cols = im2col(x[:, :, rows], (kh, kw), (sh, sw), (*band_pads, *pads[2:]), (dh, dw))
            gemm(wmat, cols.reshape(n, groups, cg * kh * kw, -1), out=y_rows[..., first * wo : end * wo])
            del cols
    del wmat  # made whole from a `RepeatingMatrix`: gone before the next layer's weight is made
    if b is not None:
        y += b.reshape(1, cout, 1, 1)
    cache = (x, w, b is not None, (kh, kw), (sh, sw), pads, (dh, dw), groups)
    return y, cache


def _bands(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: tuple[int, int, int, int],
    out: tuple[int, int],
) -> list[tuple[int, int]]:
    """The bands of output rows a convolution's columns are made in: all rows at once when the columns are the
    input itself (a 1×1 stride-1 convolution) or small enough (`row_bands`)."""
    n, c, h, w = x.shape
    if columns_are_input(kernel, stride, pads, out, (h, w)):
        return [(0, out[0])]
    return row_bands(out[0], n * c * kernel[0] * kernel[1] * out[1] * x.itemsize)


def conv_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """dy (N, COUT, HO, WO) -> dx (N, C, H, W), dw (COUT, C/G, KH, KW), db (COUT,) or None.

    dw = dy @ colsᵀ (summed over samples), dx = col2im(wᵀ @ dy); cols is rebuilt from the cached x, a band of
    output rows at a time for columns larger than `BAND_LIMIT` (dw summed and dx added over the bands).
    """
    x, w, has_bias, kernel, stride, padding, dilation, groups = cache
    n, cout, ho, wo = dy.shape
    _, cg, kh, kw = w.shape
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None
    wmat = np.asarray(w).reshape(groups, cout // groups, cg * kh * kw)  # a `RepeatingMatrix` made whole again
    dyg = dy.reshape(n, groups, cout // groups, ho * wo)
    bands = _bands(x, kernel, stride, padding, (ho, wo))
    if len(bands) == 1:
        cols = im2col(x, kernel, stride, padding, dilation).reshape(n, groups, cg * kh * kw, ho * wo)
        dw, dcols = _band_backward(wmat, dyg, cols, spend=not np.may_share_memory(cols, x))
        del cols
        dx = col2im(dcols, x.shape, kernel, stride, padding, dilation)
        return dx, dw.reshape(w.shape), db
    dx = np.zeros_like(x)
    dw_sum = None
    for first, end in bands:
        rows, band_pads = band_input(first, end, x.shape[2], kh, stride[0], padding[0], dilation[0])
        x_band = x[:, :, rows]
        band_padding = (*band_pads, *padding[2:])
        cols = im2col(x_band, kernel, stride, band_padding, dilation).reshape(n, groups, cg * kh * kw, -1)
        dw, dcols = _band_backward(wmat, dyg[..., first * wo : end * wo], cols, spend=True)
        del cols
        dw_sum = dw if dw_sum is None else np.add(dw_sum, dw, out=dw_sum)
        dx[:, :, rows] += col2im(dcols, x_band.shape, kernel, stride, band_padding, dilation)
        del dcols  # the band's columns: gone before the next band's are made
    return dx, dw_sum.reshape(w.shape), db  # type: ignore[union-attr]


def _band_backward(wmat: np.ndarray, dyg: np.ndarray, cols: np.ndarray, spend: bool) -> tuple[np.ndarray, np.ndarray]:
    """(dw (G, COUT/G, C/G·KH·KW) summed over samples, dcols like cols) of one band of output rows."""
    n = dyg.shape[0]
    # dw[g] = Σ_n dy[n, g] @ cols[n, g]ᵀ; the transposed view is F-contiguous, which BLAS takes as is
    dw = gemm(dyg, cols.swapaxes(-1, -2))
    dw = dw.sum(axis=0) if n > 1 else dw[0]
    # wᵀ as a transposed view: BLAS takes it as is, and measured it is as fast or faster (up to 3.5× on VGG's
    # first layers) than multiplying by a contiguous copy, which would also cost the copy. The columns are
    # spent once dw is made, so dcols (their shape) is written over them: no second buffer of the layer's
    # largest size, whose fresh pages would each cost a fault. A 1×1 stride-1 convolution's "columns" are a
    # view of x itself (no copy) and must not be written over (`spend` False).
    return dw, gemm(wmat.swapaxes(-1, -2), dyg, out=cols if spend else None)


def conv_transpose_output_size(
    size: int, kernel: int, stride: int, padding: Pair, output_padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a transposed convolution (PyTorch): (size − 1)·S − 2P + D·(K − 1) + output_padding + 1,
    or − Pb − Pa for padding (Pb, Pa) removed before and after."""
    if not 0 <= output_padding < max(stride, dilation):
        raise ValueError(f"output_padding {output_padding} must be smaller than stride {stride} or dilation {dilation}")
    before, after = pair(padding)
    out = (size - 1) * stride - before - after + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"transposed convolution output size {out} < 1")
    return out


def conv_transpose_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride: Pair = 1,
    padding: Pad = 0,
    output_padding: Pair = 0,
    dilation: Pair = 1,
    groups: int = 1,
) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W), w (C, COUT/G, KH, KW), b (COUT,) or None -> y (N, COUT, HO, WO), cache; PyTorch semantics.

    The adjoint of the convolution from COUT to C channels whose weight is w: a GEMM
    (G, COUT/G·KH·KW, C/G) @ (N, G, C/G, H·W), then col2im into (N, COUT, HO, WO).
    """
    n, c, h, wd = x.shape
    cin, coutg, kh, kw = w.shape
    _check_groups(c, groups, "input channels")
    if cin != c:
        raise ValueError(f"weight {w.shape} expects {cin} input channels, got {c}")
    (sh, sw), pads, (oph, opw), (dh, dw) = pair(stride), sides(padding), pair(output_padding), pair(dilation)
    ho = conv_transpose_output_size(h, kh, sh, pads[:2], oph, dh)
    wo = conv_transpose_output_size(wd, kw, sw, pads[2:], opw, dw)
    cout = coutg * groups
    wmat = w.reshape(groups, c // groups, coutg * kh * kw)
    wmat_t = np.ascontiguousarray(wmat.swapaxes(-1, -2))  # see conv_backward
    dcols = gemm(wmat_t, x.reshape(n, groups, c // groups, h * wd))
    y = col2im(dcols, (n, cout, ho, wo), (kh, kw), (sh, sw), pads, (dh, dw), output_size=(h, wd))
    del dcols
    if b is not None:
        y += b.reshape(1, cout, 1, 1)
    cache = (x, w, b is not None, (kh, kw), (sh, sw), pads, (dh, dw), groups)
    return y, cache


def conv_transpose_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """dy (N, COUT, HO, WO) -> dx (N, C, H, W), dw (C, COUT/G, KH, KW), db (COUT,) or None.

    dx is the convolution of dy with w; dw pairs x with im2col(dy).
    """
    x, w, has_bias, kernel, stride, padding, dilation, groups = cache
    n, c, h, wd = x.shape
    _, coutg, kh, kw = w.shape
    cols = im2col(dy, kernel, stride, padding, dilation, output_size=(h, wd))
    cols = cols.reshape(n, groups, coutg * kh * kw, h * wd)
    wmat = w.reshape(groups, c // groups, coutg * kh * kw)
    dx = gemm(wmat, cols).reshape(x.shape)
    xg = x.reshape(n, groups, c // groups, h * wd)
    dw = gemm(xg, cols.swapaxes(-1, -2))  # (N, G, C/G, COUT/G·KH·KW)
    dw = (dw.sum(axis=0) if n > 1 else dw[0]).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dw, db


def linear_forward(
    x: np.ndarray, w: np.ndarray | RepeatingMatrix, b: np.ndarray | None, spend_weight: bool = False
) -> tuple[np.ndarray, Any]:
    """x (N, F), w (OUT, F), b (OUT,) or None -> y (N, OUT), cache.

    `spend_weight`: nothing reads w after this layer's backward, so backward writes dw over it (see
    `linear_backward`). A `RepeatingMatrix` w is multiplied a block of rows at a time and never held whole."""
    if x.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ValueError(f"linear expects x (N, {w.shape[1]}), got {x.shape}")
    if isinstance(w, RepeatingMatrix):
        y = np.empty((x.shape[0], w.shape[0]), dtype=np.result_type(x, w.dtype))
        for start, stop, rows in w.row_views():
            y[:, start:stop] = gemm(x, rows.T)
    else:
        y = gemm(x, w.T)
    if b is not None:
        y += b
    return y, (x, w, b is not None, spend_weight)


def linear_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray | GradientSummary, np.ndarray | None]:
    """dy (N, OUT) -> dx (N, F), dw (OUT, F), db (OUT,) or None.

    dx = dy @ w is made first; then, when the weight was spent (`linear_forward`), dw = dyᵀ @ x is written over
    w's memory instead of fresh pages: VGG-16's fc6 weight and its gradient are 411 MB each, and a fresh buffer
    that size costs a page fault per 4 KiB and as much memory again at the peak of the pass. For a
    `RepeatingMatrix` w, dx is summed block of rows by block, and dw is made block by block into one reused
    buffer and returned as its `GradientSummary` (shape, finite, all zero): what the checks read of it."""
    x, w, has_bias, spend_weight = cache
    db = dy.sum(axis=0) if has_bias else None
    if isinstance(w, RepeatingMatrix):
        dx = np.zeros((dy.shape[0], w.shape[1]), dtype=np.result_type(dy, w.dtype))
        summary = GradientSummary(w.shape, np.result_type(dy, x))
        dw_block = w.row_buffer(summary.dtype)
        for start, stop, rows in w.row_views():
            dx += gemm(dy[:, start:stop], rows)
            summary.add(gemm(dy[:, start:stop].T, x, out=dw_block[: stop - start]))
        return dx, summary, db
    dx = gemm(dy, w)
    dw = gemm(dy.T, x, out=w if spend_weight and w.flags.c_contiguous and w.flags.writeable else None)
    return dx, dw, db
