"""Padding (top, bottom, left, right) in the NumPy primitives: each equals the same primitive without padding run on
an input padded explicitly (zeros for conv and average, −∞ for max), or, for the transposed convolution, the
unpadded output with those rows and columns removed; the loops of tests/reference/loops.py are the unpadded
oracle, and gradients are checked against central differences."""

from __future__ import annotations

import numpy as np
import pytest

from netcalc.reference.conv import conv_backward, conv_forward, conv_transpose_backward, conv_transpose_forward
from netcalc.reference.gradcheck import numerical_gradient, relative_error
from netcalc.reference.pool import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward
from tests.reference.loops import loop_conv, loop_conv_transpose

SIDES = [(0, 1, 0, 1), (2, 0, 1, 3), (1, 2, 2, 0)]


def explicit(x: np.ndarray, sides: tuple[int, int, int, int], fill: float = 0.0) -> np.ndarray:
    top, bottom, left, right = sides
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


@pytest.mark.parametrize("sides", SIDES)
@pytest.mark.parametrize(("kernel", "stride", "dilation", "groups"), [(3, (2, 1), 1, 1), ((2, 3), 2, (2, 1), 2)])
def test_conv_pads_each_side_as_asked(sides, kernel, stride, dilation, groups):
    rng = np.random.default_rng(1)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, w, b = rng.standard_normal((2, 4, 6, 7)), rng.standard_normal((4, 4 // groups, kh, kw)), rng.standard_normal(4)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    y, cache = conv_forward(x, w, b, stride, sides, dilation, groups)
    np.testing.assert_allclose(y, loop_conv(explicit(x, sides), w, b, pair(stride), (0, 0), pair(dilation), groups))
    dy = rng.standard_normal(y.shape)
    dx, dw, _ = conv_backward(dy, cache)
    f = lambda v: conv_forward(v, w, b, stride, sides, dilation, groups)[0]  # noqa: E731
    assert relative_error(dx, numerical_gradient(f, x, dy)) < 1e-6
    g = lambda v: conv_forward(x, v, b, stride, sides, dilation, groups)[0]  # noqa: E731
    assert relative_error(dw, numerical_gradient(g, w, dy)) < 1e-6


@pytest.mark.parametrize("sides", SIDES)
def test_conv_transpose_removes_each_side_as_asked(sides):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, 3, 3))
    top, bottom, left, right = sides
    full = loop_conv_transpose(x, w, None, (2, 2), (0, 0), (1, 1), (1, 1), 1)  # output_padding 1 on both axes
    y, cache = conv_transpose_forward(x, w, None, 2, sides, 1)
    np.testing.assert_allclose(y, full[:, :, top : full.shape[2] - bottom, left : full.shape[3] - right])
    dy = rng.standard_normal(y.shape)
    dx, dw, _ = conv_transpose_backward(dy, cache)
    f = lambda v: conv_transpose_forward(v, w, None, 2, sides, 1)[0]  # noqa: E731
    assert relative_error(dx, numerical_gradient(f, x, dy)) < 1e-6
    g = lambda v: conv_transpose_forward(x, v, None, 2, sides, 1)[0]  # noqa: E731
    assert relative_error(dw, numerical_gradient(g, w, dy)) < 1e-6


@pytest.mark.parametrize("sides", [(0, 1, 0, 1), (1, 0, 1, 1), (1, 1, 0, 0)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pools_pad_each_side_as_asked(sides, ceil_mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 7))
    y, cache = max_pool_forward(x, 3, 2, sides, ceil_mode)
    padded = explicit(x, sides, -np.inf)
    unpadded, _ = max_pool_forward(padded, 3, 2, 0, ceil_mode)
    rows, cols = y.shape[2:]
    np.testing.assert_array_equal(y, unpadded[:, :, :rows, :cols])  # ceil mode may add a window in the padding
    dy = rng.standard_normal(y.shape)
    f = lambda v: max_pool_forward(v, 3, 2, sides, ceil_mode)[0]  # noqa: E731
    assert relative_error(max_pool_backward(dy, cache), numerical_gradient(f, x, dy)) < 1e-6
    # average with the padding counted: the zero-padded input's windows, when none hangs past the padding
    y, cache = avg_pool_forward(x, 3, 2, sides, False, True)
    np.testing.assert_allclose(y, avg_pool_forward(explicit(x, sides), 3, 2)[0])
    # and without: the sum over real pixels divided by their number
    y, cache = avg_pool_forward(x, 3, 2, sides, False, False)
    sums = avg_pool_forward(explicit(x, sides), 3, 2)[0]
    counts = avg_pool_forward(explicit(np.ones_like(x), sides), 3, 2)[0]
    np.testing.assert_allclose(y, sums / counts)
    f = lambda v: avg_pool_forward(v, 3, 2, sides, False, False)[0]  # noqa: E731
    dy = rng.standard_normal(y.shape)
    assert relative_error(avg_pool_backward(dy, cache), numerical_gradient(f, x, dy)) < 1e-6
