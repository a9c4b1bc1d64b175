import itertools

import numpy as np
import pytest

from netcalc.reference.conv import (
    conv_backward,
    conv_forward,
    conv_transpose_backward,
    conv_transpose_forward,
    conv_transpose_output_size,
    linear_backward,
    linear_forward,
)
from netcalc.reference.gemm import count_macs
from netcalc.reference.gradcheck import numerical_gradient, relative_error
from netcalc.reference.im2col import pair

from .loops import loop_conv, loop_conv_transpose

GRID = list(
    itertools.product(
        [1, 3, (2, 3)],  # kernel
        [1, 2, (2, 1)],  # stride
        [0, 1, (1, 2)],  # padding
        [1, 2],  # dilation
        [1, 2],  # groups
    )
)


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "groups"), GRID)
def test_conv_equals_seven_loops(kernel, stride, padding, dilation, groups):
    rng = np.random.default_rng(len(str((kernel, stride, padding, dilation, groups))))
    kh, kw = pair(kernel)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 4 // groups, kh, kw))
    b = rng.standard_normal(6)
    y, _ = conv_forward(x, w, b, stride, padding, dilation, groups)
    expected = loop_conv(x, w, b, pair(stride), pair(padding), pair(dilation), groups)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


TRANSPOSE_CASES = [
    # kernel, stride, padding, output_padding, dilation, groups
    (3, 1, 0, 0, 1, 1),
    (3, 2, 1, 1, 1, 1),
    (4, 2, 1, 0, 1, 2),
    ((2, 3), (3, 2), (0, 1), (2, 1), 1, 1),
    (3, 1, 1, 1, 2, 1),  # output_padding ≥ stride, allowed because it is < dilation
    (3, 2, 2, 1, 2, 2),
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "output_padding", "dilation", "groups"), TRANSPOSE_CASES)
def test_conv_transpose_equals_loops(kernel, stride, padding, output_padding, dilation, groups):
    rng = np.random.default_rng(3)
    kh, kw = pair(kernel)
    x = rng.standard_normal((2, 4, 4, 5))
    w = rng.standard_normal((4, 6 // groups, kh, kw))
    b = rng.standard_normal(6)
    y, _ = conv_transpose_forward(x, w, b, stride, padding, output_padding, dilation, groups)
    expected = loop_conv_transpose(x, w, b, pair(stride), pair(padding), pair(output_padding), pair(dilation), groups)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "groups"),
    [(3, 1, 1, 1, 1), (3, 2, 1, 1, 2), ((2, 3), (2, 3), (1, 0), 1, 1), (3, 2, 0, 2, 4), (1, 2, 0, 1, 1)],
)
def test_conv_transpose_is_the_adjoint_of_conv(kernel, stride, padding, dilation, groups):
    """⟨conv(x; w), y⟩ = ⟨x, convᵀ(y; w)⟩, with output_padding chosen to give back x's size."""
    rng = np.random.default_rng(4)
    kh, kw = pair(kernel)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((8, 4 // groups, kh, kw))
    y_conv, _ = conv_forward(x, w, None, stride, padding, dilation, groups)
    y = rng.standard_normal(y_conv.shape)
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    oph = 9 - conv_transpose_output_size(y.shape[2], kh, sh, ph, 0, dh)
    opw = 8 - conv_transpose_output_size(y.shape[3], kw, sw, pw, 0, dw)
    back, _ = conv_transpose_forward(y, w, None, stride, padding, (oph, opw), dilation, groups)
    assert back.shape == x.shape
    assert np.sum(y_conv * y) == pytest.approx(np.sum(x * back), rel=1e-12)


def _check(f, x, dy, analytic):
    numeric = numerical_gradient(f, x, dy)
    assert relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "groups"),
    [(3, 1, 1, 1, 1), (3, 2, 1, 1, 2), ((2, 3), (2, 1), (0, 1), 2, 1), (3, 1, 0, 1, 4)],
)
def test_conv_gradients(kernel, stride, padding, dilation, groups):
    rng = np.random.default_rng(5)
    kh, kw = pair(kernel)
    x = rng.standard_normal((2, 4, 6, 7))
    w = rng.standard_normal((4, 4 // groups, kh, kw))
    b = rng.standard_normal(4)
    y, cache = conv_forward(x, w, b, stride, padding, dilation, groups)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = conv_backward(dy, cache)
    _check(lambda v: conv_forward(v, w, b, stride, padding, dilation, groups)[0], x, dy, dx)
    _check(lambda v: conv_forward(x, v, b, stride, padding, dilation, groups)[0], w, dy, dw)
    _check(lambda v: conv_forward(x, w, v, stride, padding, dilation, groups)[0], b, dy, db)


def test_conv_without_bias_has_no_bias_gradient():
    x, w = np.ones((1, 2, 3, 3)), np.ones((2, 2, 3, 3))
    y, cache = conv_forward(x, w, None)
    assert conv_backward(y, cache)[2] is None


@pytest.mark.parametrize(("kernel", "stride", "padding", "output_padding", "dilation", "groups"), TRANSPOSE_CASES)
def test_conv_transpose_gradients(kernel, stride, padding, output_padding, dilation, groups):
    rng = np.random.default_rng(6)
    kh, kw = pair(kernel)
    x = rng.standard_normal((2, 4, 3, 4))
    w = rng.standard_normal((4, 4 // groups, kh, kw))
    b = rng.standard_normal(4)
    args = (stride, padding, output_padding, dilation, groups)
    y, cache = conv_transpose_forward(x, w, b, *args)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = conv_transpose_backward(dy, cache)
    _check(lambda v: conv_transpose_forward(v, w, b, *args)[0], x, dy, dx)
    _check(lambda v: conv_transpose_forward(x, v, b, *args)[0], w, dy, dw)
    _check(lambda v: conv_transpose_forward(x, w, v, *args)[0], b, dy, db)


def test_conv_transpose_rejects_large_output_padding():
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), None, stride=2, output_padding=2)


def test_linear_matches_matmul_and_gradients():
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)
    y, cache = linear_forward(x, w, b)
    np.testing.assert_allclose(y, x @ w.T + b)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = linear_backward(dy, cache)
    _check(lambda v: linear_forward(v, w, b)[0], x, dy, dx)
    _check(lambda v: linear_forward(x, v, b)[0], w, dy, dw)
    _check(lambda v: linear_forward(x, w, v)[0], b, dy, db)


# --- large convolutions, made a band of output rows at a time (netcalc.reference.im2col.row_bands) ---


BAND_CASES = [
    # kernel, stride, padding, dilation, groups
    (3, 1, 1, 1, 1),
    (3, 2, 1, 1, 2),
    ((2, 3), (2, 1), (1, 2), 1, 1),
    (3, 1, 0, 2, 1),
    (1, 1, 2, 1, 1),  # padding beyond the kernel's reach: the first and last bands read no input row
    (3, 3, 4, 1, 1),
    (1, 2, 0, 1, 2),
]


@pytest.fixture(params=[1, 2, 3], ids=lambda rows: f"bands of {rows}")
def banded(request, monkeypatch):
    """Every convolution made in bands of this many output rows, however small its columns."""
    import netcalc.reference.conv as conv

    rows = request.param
    monkeypatch.setattr(conv, "row_bands", lambda count, _: [(r, min(count, r + rows)) for r in range(0, count, rows)])
    return rows


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "groups"), BAND_CASES)
def test_a_banded_conv_equals_the_loops_forward_and_backward(banded, kernel, stride, padding, dilation, groups):
    rng = np.random.default_rng(banded)
    kh, kw = pair(kernel)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 4 // groups, kh, kw))
    b = rng.standard_normal(6)
    with count_macs() as forward:
        y, cache = conv_forward(x, w, b, stride, padding, dilation, groups)
    expected = loop_conv(x, w, b, pair(stride), pair(padding), pair(dilation), groups)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    # every band's GEMMs add up to the whole layer's: N·COUT·HO·WO·(C/G·KH·KW), and twice that backward
    assert forward.macs == 2 * 6 * y.shape[2] * y.shape[3] * (4 // groups * kh * kw)
    # the convolution is bilinear, so for any dy: Σ dy·conv(x, w) = Σ x·dx = Σ w·dw (bias apart), with conv the
    # seven loops; a dx or dw wrong anywhere breaks these for a random dy
    dy = rng.standard_normal(y.shape)
    with count_macs() as backward:
        dx, dw, db = conv_backward(dy, cache)
    assert backward.macs == 2 * forward.macs
    inner = float(np.sum(dy * loop_conv(x, w, None, pair(stride), pair(padding), pair(dilation), groups)))
    assert float(np.sum(x * dx)) == pytest.approx(inner, rel=1e-12)
    assert float(np.sum(w * dw)) == pytest.approx(inner, rel=1e-12)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 2, 3)))


def test_a_banded_conv_with_four_sided_padding_equals_the_whole_one(banded):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((1, 3, 9, 5)), rng.standard_normal((4, 3, 3, 2))
    dy = rng.standard_normal((1, 4, 10, 6))
    pads = (2, 1, 0, 2)  # top, bottom, left, right: 9 + 3 − 2 = 10 rows, 5 + 2 − 1 = 6 columns
    y, cache = conv_forward(x, w, None, 1, pads)
    dx, dw, _ = conv_backward(dy, cache)
    import netcalc.reference.conv as conv

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "row_bands", lambda count, _: [(0, count)])
        y_whole, cache_whole = conv_forward(x, w, None, 1, pads)
        dx_whole, dw_whole, _ = conv_backward(dy, cache_whole)
    np.testing.assert_allclose(y, y_whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, dx_whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, dw_whole, rtol=1e-12, atol=1e-12)
