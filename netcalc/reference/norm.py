"""Batch normalisation, standardisation over chosen axes (group, instance and layer norm), local response
normalisation and softmax, forward and backward.

Batch norm normalises per channel: over (N, H, W) of x (N, C, H, W), over N of x (N, F). These are elementwise
scalings, not multiply-accumulates into a reduction of weights, so nothing here goes through `gemm`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "batchnorm_backward",
    "batchnorm_forward",
    "batchnorm_running_stats",
    "lrn_backward",
    "lrn_forward",
    "softmax_backward",
    "softmax_forward",
    "standardize_backward",
    "standardize_forward",
]


def _channel_view(v: np.ndarray, ndim: int) -> np.ndarray:
    """(C,) -> broadcastable against (N, C, ...) of `ndim` dimensions."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _reduce_axes(x: np.ndarray) -> tuple[int, ...]:
    if x.ndim < 2:
        raise ValueError(f"batch norm expects (N, F) or (N, C, H, W), got {x.shape}")
    return (0, *range(2, x.ndim))


def _channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ a·b per channel (axis 1) in one pass, without the a·b temporary."""
    letters = "abcdefghij"[: a.ndim]
    return np.einsum(f"{letters},{letters}->b", a, b)


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    training: bool,
    eps: float = 1e-5,
) -> tuple[np.ndarray, Any]:
    """x (N, C, H, W) or (N, C), gamma/beta/running_mean/running_var (C,) -> y like x, cache.

    training: normalise with the batch mean and the biased batch variance (running stats are not read; update
    them with `batchnorm_running_stats`, passing `batch_stats(cache)` so they are not computed twice).
    Inference: normalise with running_mean and running_var, y = x·s + t per channel (x̂ is only made if a
    backward asks for it). In the dtype of x throughout, in as few passes as NumPy allows: x − mean once, its
    square summed without a temporary, x̂ scaled in place.
    """
    axes = _reduce_axes(x)
    if not training:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        scale = gamma * inv_std
        y = x * _channel_view(scale.astype(x.dtype, copy=False), x.ndim)
        y += _channel_view((beta - running_mean * scale).astype(x.dtype, copy=False), x.ndim)
        return y, (None, gamma, inv_std, False, (x, running_mean))
    mean = x.mean(axis=axes)
    xhat = x - _channel_view(mean, x.ndim)
    var = _channel_dot(xhat, xhat) / (x.size // x.shape[1])  # biased (divide by the count), as PyTorch
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat *= _channel_view(inv_std.astype(xhat.dtype, copy=False), x.ndim)
    y = xhat * _channel_view(gamma, x.ndim)
    y += _channel_view(beta, x.ndim)
    return y, (xhat, gamma, inv_std, True, (mean, var))


def batch_stats(cache: Any) -> tuple[np.ndarray, np.ndarray]:
    """The batch mean and biased variance a training-mode `batchnorm_forward` normalised with."""
    if not cache[3]:
        raise ValueError("an inference-mode batch norm has no batch statistics")
    return cache[4]


def batchnorm_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dy like x -> dx like x, dgamma (C,), dbeta (C,).

    training: the batch statistics depend on x, so dx = inv_std/M · (M·g − Σg − x̂·Σ(g·x̂)) with g = dy·gamma and
    M the number of values per channel; inference: dx = dy·gamma·inv_std. The cache is spent: dx is written
    over x̂, which nothing reads afterwards (call backward once per forward).
    """
    xhat, gamma, inv_std, training, kept = cache
    if xhat is None:  # inference: x̂ from the cached input and running mean, made only now
        x, mean = kept
        xhat = (x - _channel_view(mean, x.ndim)) * _channel_view(inv_std.astype(x.dtype, copy=False), x.ndim)
    axes = _reduce_axes(dy)
    dbeta = dy.sum(axis=axes)
    dgamma = _channel_dot(dy, xhat)
    scale = _channel_view((gamma * inv_std).astype(dy.dtype, copy=False), dy.ndim)
    if not training:
        return dy * scale, dgamma, dbeta
    m = dy.size // dy.shape[1]
    dx = xhat
    dx *= _channel_view(-dgamma / m, dy.ndim)
    dx += dy
    dx -= _channel_view(dbeta / m, dy.ndim)
    dx *= scale
    return dx, dgamma, dbeta


def batchnorm_running_stats(
    x: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    momentum: float = 0.1,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """New (running_mean, running_var) after a training batch x, PyTorch's update: the running variance takes the
    *unbiased* batch variance. `stats`, the batch mean and biased variance when already known (`batch_stats`),
    saves two passes over x. Returns new arrays; the inputs are not modified."""
    m = x.size // x.shape[1]
    mean, var = stats if stats is not None else (x.mean(axis=_reduce_axes(x)), x.var(axis=_reduce_axes(x)))
    unbiased = var * (m / (m - 1)) if m > 1 else var
    return (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * unbiased


def standardize_forward(x: np.ndarray, axes: tuple[int, ...], eps: float = 1e-5) -> tuple[np.ndarray, Any]:
    """x̂ = (x − μ) / √(σ² + ε) with μ and the biased σ² taken over `axes` of x, one pair per remaining index.

    Group norm views (N, C, H, W) as (N, G, C/G·H·W) and standardises over axis 2, instance norm views it as
    (N, C, H·W) (axis 2), layer norm over the channels standardises axis 1 at each pixel. Returns x̂ like x.
    """
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = centred * inv_std
    return xhat, (xhat, inv_std, axes)


def standardize_backward(dxhat: np.ndarray, cache: Any) -> np.ndarray:
    """dx from dL/dx̂: inv_std · (g − mean(g) − x̂ · mean(g · x̂)), means over the standardised axes."""
    xhat, inv_std, axes = cache
    dx = dxhat - dxhat.mean(axis=axes, keepdims=True)
    dx -= xhat * np.mean(dxhat * xhat, axis=axes, keepdims=True)
    dx *= inv_std
    return dx


_LOOPED = 16  # windows up to this many channels are summed shift by shift; wider ones by prefix sums


def _channel_window_sum(z: np.ndarray, before: int, after: int) -> np.ndarray:
    """out[:, c] = Σ z[:, c'] for c − before ≤ c' ≤ c + after, zero outside [0, C).

    A reach beyond C − 1 channels adds nothing, so it is clamped there (`size` may be 2³¹ − 1). A narrow window
    is the sum of its shifted copies of z; a wider one the difference of prefix sums along the channels, taken
    in float64: the cost is z's, whatever the size."""
    c = z.shape[1]
    before, after = min(before, c - 1), min(after, c - 1)
    if before + after + 1 > _LOOPED:
        channel = np.arange(c)
        prefix = np.zeros((z.shape[0], c + 1, *z.shape[2:]))
        np.cumsum(z, axis=1, dtype=np.float64, out=prefix[:, 1:])
        sums = np.take(prefix, np.minimum(channel + after + 1, c), axis=1)
        sums -= np.take(prefix, np.maximum(channel - before, 0), axis=1)
        return sums.astype(z.dtype, copy=False)
    out = np.zeros_like(z)
    for d in range(-before, after + 1):
        lo, hi = max(0, -d), min(c, c - d)  # channels c with 0 ≤ c + d < C
        if lo < hi:
            out[:, lo:hi] += z[:, lo + d : hi + d]
    return out


def lrn_forward(
    x: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> tuple[np.ndarray, Any]:
    """x (N, C, ...) -> y like x, cache; PyTorch's LocalResponseNorm.

    y_c = x_c / (k + alpha/size · Σ x_{c'}²)^beta over c − ⌊size/2⌋ ≤ c' ≤ c + ⌊(size−1)/2⌋, channels outside
    [0, C) counting as zero; alpha is divided by size even at the edges.
    """
    before, after = size // 2, (size - 1) // 2
    s = k + (alpha / size) * _channel_window_sum(x * x, before, after)
    y = x * s**-beta
    return y, (x, s, size, alpha, beta)


def lrn_backward(dy: np.ndarray, cache: Any) -> np.ndarray:
    """dy (N, C, ...) -> dx like dy.

    dx_c = dy_c · s_c^−β − 2αβ/size · x_c · Σ_{c' whose window holds c} dy_{c'} x_{c'} s_{c'}^(−β−1).
    """
    x, s, size, alpha, beta = cache
    before, after = size // 2, (size - 1) // 2
    t = dy * x * s ** (-beta - 1)
    # c lies in the window of c' iff c' − before ≤ c ≤ c' + after: the transposed window swaps the two reaches
    back = _channel_window_sum(t, after, before)
    return dy * s**-beta - (2 * alpha * beta / size) * x * back


def softmax_forward(x: np.ndarray, axis: int = 1) -> tuple[np.ndarray, Any]:
    """x (N, F) (or (N, C, H, W) over channels) -> y like x, cache; y sums to 1 along `axis`."""
    z = x - x.max(axis=axis, keepdims=True)  # shift for stability; softmax is shift invariant
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z, (z, axis)


def softmax_backward(dy: np.ndarray, cache: Any) -> np.ndarray:
    """dy like y -> dx = y · (dy − Σ dy·y along axis)."""
    y, axis = cache
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))
