"""Elementwise layers: activations, dropout and softmax. Output shape = input shape; no parameters.

FLOPs: one per element for every activation (the convention torchscan uses; a sigmoid's exp is not
unpacked), none for dropout (inference is the identity), 3 per element for softmax (exp, sum, divide).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netcalc.kinds.base import INPLACE, NEW, VIEW, Attr, Attrs, Extra, LayerKind, Saved, real, same_shape, saves_output
from netcalc.lazy_numpy import np
from netcalc.shapes import Shape, numel


def per_element(count: int):
    def flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
        return count * numel(out)

    return flops


# --- NumPy reference. Every activation keeps only its output y as cache: the next layer usually keeps the same
# array, so backward costs no extra memory. `activate` may write into its input (`out=x`), which a conv or fc
# with a fused activation does on its own fresh pre-activation.


def activate(name: str, x: Any, slope: float = 0.01, out: Any = None) -> Any:
    """y = act(x), elementwise, shape-preserving; `out` may be x itself."""
    out = np.empty_like(x) if out is None else out
    if name == "relu":
        np.maximum(x, 0, out=out)
    elif name == "relu6":
        np.clip(x, 0, 6, out=out)
    elif name == "leaky_relu":
        np.copyto(out, np.where(x > 0, x, x * slope))
    elif name == "sigmoid":
        with np.errstate(over="ignore"):
            np.negative(x, out=out)
            np.exp(out, out=out)
            out += 1
            np.reciprocal(out, out=out)
    elif name == "tanh":
        np.tanh(x, out=out)
    elif name != "none":
        raise ValueError(f"no reference for activation {name!r}")
    elif out is not x:
        np.copyto(out, x)
    return out


def activation_grad(name: str, dy: Any, y: Any, slope: float = 0.01) -> Any:
    """dL/dx from dL/dy and the activation's output y (a new array; dy is not modified)."""
    if name == "relu":
        return dy * (y > 0)
    if name == "relu6":
        return dy * ((y > 0) & (y < 6))
    if name == "leaky_relu":
        return np.where(y > 0, dy, dy * slope)
    if name == "sigmoid":
        return dy * y * (1 - y)
    if name == "tanh":
        return dy * (1 - y * y)
    if name == "none":
        return dy
    raise ValueError(f"no reference for activation {name!r}")


def _activation_pair(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
        """x (N, …) → y (N, …)."""
        slope = attrs.get("negative_slope", 0.01)
        y = activate(name, xs[0], slope)
        return y, (y, slope)

    def backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        y, slope = cache
        return (activation_grad(name, dy, y, slope),), {}

    return forward, backward


def _activation(name: str, summary: str, attrs: tuple[Attr, ...] = (), storage: str = INPLACE) -> LayerKind:
    forward, backward = _activation_pair(name)
    return LayerKind(
        name=name,
        summary=summary,
        attrs=attrs,
        output_shape=same_shape,
        flops=per_element(1),
        flops_rule="1 per element",
        forward=forward,
        backward=backward,
        saved=saves_output,
        saved_rule="its output",
        storage=storage,
    )


MASK_BYTES = 1  # a CUDA dropout keeps a bool mask (PyTorch's CPU kernel keeps a float one: docs/conventions.md)


def dropout_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    return Saved(extras=(Extra("mask", numel(out), MASK_BYTES),)) if attrs["p"] > 0 else Saved()


def dropout_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """Inverted dropout, as PyTorch: in training each element is kept with probability 1 − p and scaled by
    1/(1 − p), with a mask drawn from `attrs["seed"]` (the engine gives each layer its own); at inference the
    identity. x (N, …) → y (N, …)."""
    x, p = xs[0], attrs["p"]
    if not train or p == 0:
        return x, None
    keep = np.random.default_rng(attrs.get("seed", 0)).random(x.shape) >= p
    scale = x.dtype.type(0.0 if p == 1 else 1 / (1 - p))
    return x * keep * scale, (keep, scale)


def dropout_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if cache is None:
        return (dy,), {}
    keep, scale = cache
    return (dy * keep * scale,), {}


def softmax_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """Softmax over axis 1: the features of (N, F), the channels of (N, C, H, W)."""
    from netcalc.reference.norm import softmax_forward as primitive

    return primitive(xs[0], axis=1)


def softmax_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from netcalc.reference.norm import softmax_backward as primitive

    return (primitive(dy, cache),), {}


KINDS = (
    _activation("relu", "max(0, x)"),
    _activation("relu6", "min(max(0, x), 6) (MobileNetV2)"),
    _activation(
        "leaky_relu",
        "x if x > 0 else slope·x",
        (Attr("negative_slope", real(0.0), 0.01, "slope for negative inputs"),),
    ),
    _activation("sigmoid", "1 / (1 + e^−x)", storage=NEW),
    _activation("tanh", "hyperbolic tangent", storage=NEW),
    LayerKind(
        name="dropout",
        summary="randomly zeroes elements in training; the identity at inference",
        attrs=(Attr("p", real(0.0, 1.0), 0.5, "probability of zeroing an element"),),
        output_shape=same_shape,
        flops_rule="none (the identity at inference)",
        forward=dropout_forward,
        backward=dropout_backward,
        saved=dropout_saved,
        saved_rule="a one-byte mask per element (when p > 0)",
        storage=VIEW,
        train_storage=NEW,
    ),
    LayerKind(
        name="softmax",
        summary="softmax over the features (or the channels of a feature map)",
        output_shape=same_shape,
        flops=per_element(3),
        flops_rule="3 per element (exp, sum, divide)",
        forward=softmax_forward,
        backward=softmax_backward,
        saved=saves_output,
        saved_rule="its output",
    ),
)
