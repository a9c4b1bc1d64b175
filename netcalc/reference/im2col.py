"""im2col and its adjoint col2im, NCHW.

Column layout: `im2col(x)` for x (N, C, H, W) returns cols (N, C·KH·KW, HO·WO), each sample's block C-contiguous,
row index c·KH·KW + i·KW + j (channel outermost, then kernel row i, kernel column j — the order of a flattened
PyTorch weight (COUT, C, KH, KW)), column index oh·WO + ow. With this layout

- a convolution is one batched GEMM `w.reshape(COUT, C·KH·KW) @ cols` -> (N, COUT, HO·WO), which *is* the NCHW
  output: no transpose or copy after the GEMM;
- groups split the row axis into contiguous blocks, so `cols.reshape(N, G, C/G·KH·KW, HO·WO)` is a free view and
  one batched GEMM covers every group.

Both directions loop over the KH·KW kernel offsets and copy (im2col) or add (col2im) one strided slice of shape
(N, C, HO, WO) at a time: a handful of large vectorised copies, several times faster than copying a transposed
`sliding_window_view` in one go, and no `np.add.at`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["Pair", "col2im", "conv_output_size", "im2col", "pair"]

Pair = int | tuple[int, int]


def pair(value: Pair) -> tuple[int, int]:
    """(h, w) from an int or a pair."""
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    h, w = value
    return int(h), int(w)


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution along one axis: ⌊(size + 2P − D·(K − 1) − 1) / S⌋ + 1."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(
            f"kernel {kernel} (dilation {dilation}) does not fit input {size} padded by {padding}: output {out}"
        )
    return out


def _geometry(
    x_shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    output_size: tuple[int, int] | None,
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], int, int]:
    kh, kw = pair(kernel)
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    dh, dw = pair(dilation)
    _, _, h, w = x_shape
    ho = conv_output_size(h, kh, sh, ph, dh)
    wo = conv_output_size(w, kw, sw, pw, dw)
    if output_size is not None:
        if not (1 <= output_size[0] <= ho and 1 <= output_size[1] <= wo):
            raise ValueError(f"output_size {output_size} exceeds the {(ho, wo)} windows that fit in {x_shape}")
        ho, wo = output_size
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), ho, wo


def im2col(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    output_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Unfold x (N, C, H, W) into cols (N, C·KH·KW, HO·WO), zero padding; layout in the module docstring.

    `output_size` (HO, WO) keeps only the first HO × WO windows (a transposed convolution whose output_padding
    is at least its stride has one window more than its input has pixels); default: every window that fits.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), ho, wo = _geometry(x.shape, kernel, stride, padding, dilation, output_size)
    n, c, _, _ = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    # windows[n, c, oh, ow, i, j] = xp[n, c, oh·S + i·D, ow·S + j·D]; a view, nothing copied yet
    windows = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]
    cols = np.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = windows[:, :, :ho, :wo, i, j]
    return cols.reshape(n, c * kh * kw, ho * wo)


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    output_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Adjoint of `im2col`: fold cols (N, C·KH·KW, HO·WO) back into (N, C, H, W) = x_shape, adding overlaps.

    Also accepts cols shaped (N, G, C/G·KH·KW, HO·WO) (same memory order). Positions no window reaches, such as
    rows past the last window, get zero. `output_size` as for `im2col`.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), ho, wo = _geometry(x_shape, kernel, stride, padding, dilation, output_size)
    n, c, h, w = x_shape
    if cols.size != n * c * kh * kw * ho * wo:
        raise ValueError(f"cols {cols.shape} do not match x {x_shape} with kernel {(kh, kw)}, output {(ho, wo)}")
    cols6 = cols.reshape(n, c, kh, kw, ho, wo)
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            r, s = i * dh, j * dw
            xp[:, :, r : r + sh * (ho - 1) + 1 : sh, s : s + sw * (wo - 1) + 1 : sw] += cols6[:, :, i, j]
    if ph or pw:
        # copy the interior out so the padded buffer is freed now rather than kept alive by a view
        return xp[:, :, ph : ph + h, pw : pw + w].copy()
    return xp
