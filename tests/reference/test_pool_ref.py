import numpy as np
import pytest

from netcalc.reference.gradcheck import numerical_gradient, relative_error
from netcalc.reference.pool import (
    adaptive_avg_pool_backward,
    adaptive_avg_pool_forward,
    adaptive_bins,
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward,
    max_pool_forward,
    pool_output_size,
)


def loop_pool(x, kernel, stride, padding, out, reduce):
    """Loops over output pixels; `reduce(values, (r0, r1, c0, c1))` gets the window clipped to the input and the
    window's unclipped bounds in input coordinates."""
    n, c, h, w = x.shape
    y = np.zeros((n, c, *out))
    for oh in range(out[0]):
        for ow in range(out[1]):
            r0, c0 = oh * stride - padding, ow * stride - padding
            r1, c1 = r0 + kernel, c0 + kernel
            values = x[:, :, max(r0, 0) : min(r1, h), max(c0, 0) : min(c1, w)]
            y[:, :, oh, ow] = reduce(values, (r0, r1, c0, c1))
    return y


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "ceil_mode", "expected"),
    [
        (224, 2, 2, 0, False, 224 // 2),
        (112, 3, 2, 1, False, (112 + 2 - 3) // 2 + 1),
        (55, 3, 2, 0, True, -(-(55 - 3) // 2) + 1),  # AlexNet / SqueezeNet, divides evenly
        (56, 3, 2, 0, True, -(-(56 - 3) // 2) + 1),  # ceil adds a window that starts inside the input
        (5, 2, 2, 1, True, 3),  # ceil gives ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 4 starts at 6 ≥ 5 + 1: dropped
        (6, 3, 2, 1, True, 4),
    ],
)
def test_pool_output_size(size, kernel, stride, padding, ceil_mode, expected):
    assert pool_output_size(size, kernel, stride, padding, ceil_mode) == expected


def test_pool_output_size_rejects_too_much_padding():
    with pytest.raises(ValueError, match="half"):
        pool_output_size(8, 2, 2, 2)


CASES = [
    # kernel, stride, padding, ceil_mode, input H×W
    (2, 2, 0, False, (6, 6)),
    (3, 2, 1, False, (7, 6)),
    (3, 2, 0, True, (6, 7)),
    (3, 2, 1, True, (6, 5)),
    (2, 2, 1, True, (5, 5)),
    (3, 1, 1, False, (4, 4)),
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "ceil_mode", "hw"), CASES)
def test_max_pool_equals_loops_and_gradient(kernel, stride, padding, ceil_mode, hw):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, *hw))
    y, cache = max_pool_forward(x, kernel, stride, padding, ceil_mode)
    out = tuple(pool_output_size(s, kernel, stride, padding, ceil_mode) for s in hw)
    np.testing.assert_array_equal(y, loop_pool(x, kernel, stride, padding, out, lambda v, _: v.max(axis=(2, 3))))
    dy = rng.standard_normal(y.shape)
    dx = max_pool_backward(dy, cache)
    numeric = numerical_gradient(lambda v: max_pool_forward(v, kernel, stride, padding, ceil_mode)[0], x, dy)
    assert relative_error(dx, numeric) < 1e-6


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.ones((1, 1, 4, 4))
    y, cache = max_pool_forward(x, 2, 2)
    dx = max_pool_backward(np.ones_like(y), cache)
    assert dx[0, 0].tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]


def test_overlapping_max_pool_adds_gradients_of_shared_maximum():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    y, cache = max_pool_forward(x, 2, 1)
    dx = max_pool_backward(np.ones_like(y), cache)
    assert dx[0, 0, 1, 1] == 4 and dx.sum() == 4


@pytest.mark.parametrize("hw", [(7, 7), (3, 5)])
def test_global_max_pool_is_max_pool_over_the_whole_map(hw):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, *hw))
    y, cache = max_pool_forward(x, x.shape[2:])
    assert y.shape == (2, 3, 1, 1)
    np.testing.assert_array_equal(y[:, :, 0, 0], x.max(axis=(2, 3)))
    dy = rng.standard_normal(y.shape)
    numeric = numerical_gradient(lambda v: max_pool_forward(v, v.shape[2:])[0], x, dy)
    assert relative_error(max_pool_backward(dy, cache), numeric) < 1e-6


def test_global_max_pool_ties_go_to_the_first_maximum():
    y, cache = max_pool_forward(np.ones((1, 1, 2, 3)), (2, 3))
    assert max_pool_backward(np.ones_like(y), cache)[0, 0].tolist() == [[1, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize(("kernel", "stride", "padding", "ceil_mode", "hw"), CASES)
def test_avg_pool_equals_loops_and_gradient(kernel, stride, padding, ceil_mode, hw, count_include_pad):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, *hw))
    y, cache = avg_pool_forward(x, kernel, stride, padding, ceil_mode, count_include_pad)
    out = tuple(pool_output_size(s, kernel, stride, padding, ceil_mode) for s in hw)

    def torch_rule(values, bounds):
        r0, r1, c0, c1 = bounds
        if count_include_pad:  # the window clipped to the padded input only
            r1, c1 = min(r1, hw[0] + padding), min(c1, hw[1] + padding)
            return values.sum(axis=(2, 3)) / ((r1 - r0) * (c1 - c0))
        return values.mean(axis=(2, 3))

    np.testing.assert_allclose(y, loop_pool(x, kernel, stride, padding, out, torch_rule), rtol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = avg_pool_backward(dy, cache)
    f = lambda v: avg_pool_forward(v, kernel, stride, padding, ceil_mode, count_include_pad)[0]  # noqa: E731
    assert relative_error(dx, numerical_gradient(f, x, dy)) < 1e-6


def test_avg_pool_divisor_of_a_window_hanging_past_the_padding():
    # H = 6, K = 3, S = 2, P = 1, ceil: windows start at −1, 1, 3, 5; the last ends at 5 + 3 = 8 > 6 + 1, so it
    # counts 7 − 5 = 2 positions with count_include_pad (one pixel, one pad), 1 without
    x = np.ones((1, 1, 6, 6))
    y, _ = avg_pool_forward(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)
    assert y.shape == (1, 1, 4, 4)
    assert y[0, 0, 0, 0] == pytest.approx((2 * 2) / (3 * 3))
    assert y[0, 0, 3, 3] == pytest.approx((1 * 1) / (2 * 2))
    y, _ = avg_pool_forward(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(y, 1.0)


@pytest.mark.parametrize(("size", "out", "bins"), [(7, 3, [(0, 3), (2, 5), (4, 7)]), (6, 2, [(0, 3), (3, 6)])])
def test_adaptive_bins(size, out, bins):
    assert adaptive_bins(size, out) == bins


@pytest.mark.parametrize(("hw", "out"), [((7, 5), (3, 2)), ((6, 6), (6, 6)), ((5, 9), (1, 1)), ((4, 3), (5, 4))])
def test_adaptive_avg_pool_values_and_gradient(hw, out):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, *hw))
    y, cache = adaptive_avg_pool_forward(x, out)
    rows, cols = adaptive_bins(hw[0], out[0]), adaptive_bins(hw[1], out[1])
    i, j = out[0] - 1, out[1] - 1
    (r0, r1), (c0, c1) = rows[i], cols[j]
    np.testing.assert_allclose(y[:, :, i, j], x[:, :, r0:r1, c0:c1].mean(axis=(2, 3)))
    if out == (1, 1):
        np.testing.assert_allclose(y[:, :, 0, 0], x.mean(axis=(2, 3)))  # global average pooling
    dy = rng.standard_normal(y.shape)
    dx = adaptive_avg_pool_backward(dy, cache)
    numeric = numerical_gradient(lambda v: adaptive_avg_pool_forward(v, out)[0], x, dy)
    assert relative_error(dx, numeric) < 1e-6


@pytest.mark.parametrize(
    ("kernel", "stride", "shape"),
    [
        ((3, 2), (1, 3), (2, 2, 6, 7)),  # windows overlap along H only
        ((2, 3), (3, 1), (1, 3, 7, 6)),  # along W only
        ((3, 3), (2, 2), (1, 2, 7, 7)),  # along both
        ((2, 2), (2, 2), (1, 2, 6, 6)),  # along neither
        ((12, 12), (1, 1), (1, 1, 13, 13)),  # 144 taps: the arg-max offsets no longer fit an int8
    ],
)
def test_max_pool_gradient_goes_to_every_windows_maximum_by_loops(kernel, stride, shape):
    # each output's dy lands on its window's largest input, summed where windows share it: a loop over windows
    x = np.random.default_rng(5).permutation(np.prod(shape)).reshape(shape).astype(float)  # no ties
    y, cache = max_pool_forward(x, kernel, stride)
    dy = np.random.default_rng(6).standard_normal(y.shape)
    expected = np.zeros_like(x)
    for oh in range(y.shape[2]):
        for ow in range(y.shape[3]):
            r, c = oh * stride[0], ow * stride[1]
            window = x[:, :, r : r + kernel[0], c : c + kernel[1]].reshape(*shape[:2], -1)
            at = window.argmax(axis=2)
            for n in range(shape[0]):
                for ch in range(shape[1]):
                    i, j = divmod(int(at[n, ch]), kernel[1])
                    expected[n, ch, r + i, c + j] += dy[n, ch, oh, ow]
    np.testing.assert_allclose(max_pool_backward(dy, cache), expected, rtol=1e-15, atol=1e-15)  # sums in another order
