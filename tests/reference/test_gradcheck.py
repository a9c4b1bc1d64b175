import numpy as np
import pytest

from netcalc.reference.gradcheck import numerical_gradient, numerical_gradient_sampled, rel_error, relative_error


def test_numerical_gradient_of_a_weighted_square():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    df = np.array([[1.0, 2.0], [3.0, 4.0]])
    grad = numerical_gradient(lambda v: v**2, x, df)
    np.testing.assert_allclose(grad, 2 * x * df, rtol=1e-8)
    assert x.tolist() == [[1.0, -2.0], [0.5, 3.0]]  # restored after perturbation


def test_sampled_gradient_checks_distinct_coordinates():
    x = np.random.default_rng(30).standard_normal((10, 10))
    df = np.ones_like(x)
    idx, values = numerical_gradient_sampled(lambda v: np.sin(v), x, df, samples=7, rng=1)
    assert len(set(idx.tolist())) == 7
    np.testing.assert_allclose(values, np.cos(x).reshape(-1)[idx], rtol=1e-8)


def test_relative_error_formula():
    a, b = np.array([1.0, -2.0]), np.array([1.5, -2.0])
    assert relative_error(a, b) == pytest.approx(0.5 / (2.0 + 2.0))  # max|a−b| / max(|a|+|b|)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(1e-9 / 1e-8)  # floor 1e-8
    assert rel_error is relative_error
