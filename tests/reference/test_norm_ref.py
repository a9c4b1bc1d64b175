import numpy as np
import pytest

from netcalc.reference.gradcheck import numerical_gradient, relative_error
from netcalc.reference.norm import (
    batch_stats,
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_running_stats,
    lrn_backward,
    lrn_forward,
    softmax_backward,
    softmax_forward,
)


def _check(f, x, dy, analytic):
    assert relative_error(analytic, numerical_gradient(f, x, dy)) < 1e-6


@pytest.mark.parametrize("shape", [(4, 3, 3, 2), (5, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(shape, training):
    rng = np.random.default_rng(20)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    mean, var = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    y, cache = batchnorm_forward(x, gamma, beta, mean, var, training)
    dy = rng.standard_normal(y.shape)
    dx, dgamma, dbeta = batchnorm_backward(dy, cache)
    _check(lambda v: batchnorm_forward(v, gamma, beta, mean, var, training)[0], x, dy, dx)
    _check(lambda v: batchnorm_forward(x, v, beta, mean, var, training)[0], gamma, dy, dgamma)
    _check(lambda v: batchnorm_forward(x, gamma, v, mean, var, training)[0], beta, dy, dbeta)


def test_batchnorm_training_normalises_with_biased_variance():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((8, 3, 2, 2)) * 3 + 5
    y, _ = batchnorm_forward(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), training=True, eps=0.0)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1)  # np.var is biased: exact only for the biased variance


def test_batchnorm_inference_uses_running_statistics():
    x = np.full((2, 2), 3.0)
    y, _ = batchnorm_forward(
        x, np.array([2.0, 1.0]), np.array([0.5, 0.0]), np.array([1.0, 3.0]), np.array([4.0, 1.0]), False, eps=0.0
    )
    assert y.tolist() == [[2.0 * (3 - 1) / 2 + 0.5, 0.0]] * 2


def test_batchnorm_running_stats_take_unbiased_variance():
    x = np.array([[1.0], [3.0]])  # mean 2, unbiased variance 2
    mean, var = batchnorm_running_stats(x, np.zeros(1), np.ones(1), momentum=0.1)
    assert mean[0] == pytest.approx(0.9 * 0 + 0.1 * 2)
    assert var[0] == pytest.approx(0.9 * 1 + 0.1 * 2)


def loop_lrn(x, size, alpha, beta, k):
    c = x.shape[1]
    y = np.empty_like(x)
    for ci in range(c):
        lo, hi = max(0, ci - size // 2), min(c, ci + (size - 1) // 2 + 1)
        y[:, ci] = x[:, ci] / (k + alpha / size * (x[:, lo:hi] ** 2).sum(axis=1)) ** beta
    return y


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_lrn_values_and_gradient(size):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 6, 3, 2))
    alpha, beta, k = 0.3, 0.75, 2.0
    y, cache = lrn_forward(x, size, alpha, beta, k)
    np.testing.assert_allclose(y, loop_lrn(x, size, alpha, beta, k), rtol=1e-12)
    dy = rng.standard_normal(y.shape)
    _check(lambda v: lrn_forward(v, size, alpha, beta, k)[0], x, dy, lrn_backward(dy, cache))


def test_alexnet_lrn_defaults_are_pytorchs():
    x = np.ones((1, 5, 1, 1))
    y, _ = lrn_forward(x, 5)  # alpha 1e-4, beta 0.75, k 1; centre channel sees all five
    assert y[0, 2, 0, 0] == pytest.approx((1 + 1e-4 / 5 * 5) ** -0.75)
    assert y[0, 0, 0, 0] == pytest.approx((1 + 1e-4 / 5 * 3) ** -0.75)


@pytest.mark.parametrize("shape", [(3, 5), (2, 4, 2, 3)])
def test_softmax_values_and_gradient(shape):
    rng = np.random.default_rng(23)
    x = rng.standard_normal(shape) * 3
    y, cache = softmax_forward(x)
    np.testing.assert_allclose(y.sum(axis=1), 1)
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum(axis=1, keepdims=True))
    dy = rng.standard_normal(y.shape)
    _check(lambda v: softmax_forward(v)[0], x, dy, softmax_backward(dy, cache))


def test_softmax_is_stable_for_large_inputs():
    y, _ = softmax_forward(np.array([[1000.0, 1000.0]]))
    assert y.tolist() == [[0.5, 0.5]]


def test_running_statistics_from_x_alone_follow_pytorchs_update():
    # x (N=1, C=2, 1, 3): channel 0 holds 1, 2, 6 (mean 3, unbiased variance ((−2)² + (−1)² + 3²)/2 = 7),
    # channel 1 holds 0, 0, 3 (mean 1, unbiased variance (1 + 1 + 4)/2 = 3); momentum 0.1 from mean 0, var 1
    x = np.array([[[[1.0, 2.0, 6.0]], [[0.0, 0.0, 3.0]]]])
    mean, var = batchnorm_running_stats(x, np.zeros(2), np.ones(2))
    np.testing.assert_allclose(mean, [0.1 * 3, 0.1 * 1], rtol=1e-15)
    np.testing.assert_allclose(var, [0.9 + 0.1 * 7, 0.9 + 0.1 * 3], rtol=1e-15)


def test_an_inference_mode_batch_norm_has_no_batch_statistics_to_give():
    x = np.ones((1, 2, 2, 2))
    _, cache = batchnorm_forward(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), training=False)
    with pytest.raises(ValueError, match="inference-mode batch norm has no batch statistics"):
        batch_stats(cache)


def test_an_inference_mode_backward_stays_in_float32():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    c = np.float32
    _, cache = batchnorm_forward(x, np.ones(3, c), np.zeros(3, c), np.zeros(3, c), np.ones(3, c), training=False)
    dx, dgamma, dbeta = batchnorm_backward(np.ones_like(x), cache)
    assert dx.dtype == np.float32 and dgamma.dtype == np.float32 and dbeta.dtype == np.float32
