"""Numerical gradients by central differences, for checking the analytic backward passes (cs231n's
`eval_numerical_gradient_array`). Use float64 inputs: in float32 the differences drown in rounding."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "numerical_gradient_sampled", "rel_error", "relative_error"]


def _central_difference(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, ix: tuple, h: float
) -> float:
    old = x[ix]
    x[ix] = old + h
    plus = np.array(f(x), dtype=np.float64)  # copy: f may return a buffer it reuses
    x[ix] = old - h
    minus = np.array(f(x), dtype=np.float64)
    x[ix] = old
    return float(np.sum((plus - minus) * df) / (2 * h))


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of L(x) = Σ f(x)·df with respect to x, like x: (L(x + h·e_i) − L(x − h·e_i)) / 2h per element.

    f must read x (it is perturbed in place and restored), e.g. `lambda x: conv_forward(x, w, b)[0]`.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        grad[ix] = _central_difference(f, x, df, ix, h)
    return grad


def numerical_gradient_sampled(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    df: np.ndarray,
    samples: int,
    h: float = 1e-5,
    rng: np.random.Generator | int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """As `numerical_gradient`, but only at `samples` distinct random elements (for tensors too big to sweep).

    Returns (flat indices (S,), numerical gradients (S,)); compare with `analytic.reshape(-1)[indices]`.
    """
    rng = np.random.default_rng(rng)
    indices = rng.choice(x.size, size=min(samples, x.size), replace=False)
    values = np.array([_central_difference(f, x, df, np.unravel_index(i, x.shape), h) for i in indices])
    return indices, values


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a − b| / max(1e-8, max(|a| + |b|)), maxima over all elements: one number for the whole array, scaled by
    its largest entry so that tiny gradients do not blow up the ratio; 0 for two empty arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


rel_error = relative_error  # the cs231n name, used by the engine
