import itertools

import numpy as np
import pytest

from netcalc.reference.im2col import BAND_BYTES, BAND_LIMIT, band_input, col2im, conv_output_size, im2col, row_bands


def test_layout_rows_channel_then_kernel_offset_columns_output_pixel():
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    cols = im2col(x, (2, 3), stride=1, padding=0)
    assert cols.shape == (2, 3 * 2 * 3, 3 * 3)
    n, c, i, j, oh, ow = 1, 2, 1, 2, 2, 0
    assert cols[n, c * (2 * 3) + i * 3 + j, oh * 3 + ow] == x[n, c, oh + i, ow + j]


def test_padding_is_zero_and_dilation_skips():
    x = np.ones((1, 1, 3, 3))
    cols = im2col(x, 3, padding=1, dilation=2)
    assert cols.shape == (1, 9, 1 * 1)  # (3 + 2 − 2·2 − 1) + 1 = 1 window
    # taps at rows/cols −1, 1, 3 of the input: only the centre (1, 1) is inside
    assert cols[0, :, 0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [
        (1, 1, 0, 1),
        (3, 1, 1, 1),
        (3, 2, 1, 1),
        ((2, 3), (2, 1), (0, 1), 1),
        (3, 1, 2, 2),
        ((3, 2), 3, (1, 0), (1, 2)),
        (3, 1, (0, 0, 1, 0), 1),  # padding on the left only
        (3, 1, (0, 0, 0, 2), 1),  # on the right only
        (2, 1, (0, 1, 0, 0), 1),  # below only
    ],
)
def test_col2im_is_the_adjoint_of_im2col(kernel, stride, padding, dilation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 8))
    cols = im2col(x, kernel, stride, padding, dilation)
    c = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * col2im(c, x.shape, kernel, stride, padding, dilation))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_col2im_sums_overlapping_windows():
    # 3×3 windows, stride 1, on 4×4: interior pixels are covered by 4 windows, corners by 1
    cols = np.ones((1, 9, 2 * 2))
    x = col2im(cols, (1, 1, 4, 4), 3)
    assert x[0, 0].tolist() == [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]


def test_output_size_formula_and_errors():
    assert conv_output_size(224, 11, 4, 2) == (224 + 2 * 2 - 11) // 4 + 1
    assert conv_output_size(7, 3, 1, 0, dilation=3) == 1
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(4, 3, 1, 0, dilation=2)
    with pytest.raises(ValueError, match="do not match"):
        col2im(np.ones((1, 9, 5)), (1, 1, 4, 4), 3)


def test_large_columns_are_made_in_bands_of_about_16_mib() -> None:
    assert (BAND_BYTES, BAND_LIMIT) == (16 << 20, 32 << 20)
    # VGG-16's conv1_2: 64·3·3 rows of columns for each of 224 output columns, float32, 516,096 bytes an output
    # row, 115.6 MB in all: 16 MiB take 32 rows (16,777,216 // 516,096), so 7 bands of 32
    row = 64 * 3 * 3 * 224 * 4
    assert row_bands(224, row) == [(r, r + 32) for r in range(0, 224, 32)]
    # conv2_1's 28.9 MB (64·9 × 112·112 float32) are under the 32 MiB limit: one band, made whole
    assert row_bands(112, 64 * 9 * 112 * 4) == [(0, 112)]
    assert row_bands(3, BAND_LIMIT) == [(0, 1), (1, 2), (2, 3)]  # a row above the band comes alone
    assert row_bands(2, BAND_LIMIT // 2) == [(0, 2)]  # columns of exactly the limit are made whole


def test_a_band_reads_exactly_the_padded_rows_its_windows_reach() -> None:
    # every band of every small geometry: output row r reads padded rows r·S … r·S + D·(K − 1); those inside the
    # input must be the slice, those outside it the zero rows before and after, in order
    geometries = itertools.product(range(1, 8), range(1, 4), range(1, 4), range(5), range(5), (1, 2))
    for size, k, s, before, after, d in geometries:
        padded = before + size + after
        out = (padded - d * (k - 1) - 1) // s + 1
        for first, end in itertools.combinations(range(out + 1), 2):
            rows, (zeros_before, zeros_after) = band_input(first, end, size, k, s, before, d)
            reached = range(first * s - before, (end - 1) * s + d * (k - 1) + 1 - before)
            inside = [r for r in reached if 0 <= r < size]
            assert list(range(size)[rows]) == inside
            assert zeros_before == sum(r < 0 for r in reached) and zeros_after == sum(r >= size for r in reached)
