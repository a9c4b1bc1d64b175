"""Elementwise layers: activations, dropout, stochastic depth, layer scale, identity and softmax.
Output shape = input shape.

Parameters: none, except prelu's slopes (C per channel, or 1 shared) and scale's γ (C).
FLOPs: one per element for every activation, however many operations its formula spells out (a sigmoid's exp,
gelu's erf and hardswish's clamp and multiply are not unpacked; ptflops, mmcv and calflops count ReLU, PReLU,
ELU, SiLU and GELU the same way, fvcore not at all); one per element for scale (a multiply); none for dropout
and stochastic depth (both are the identity at inference) and identity; 3 per element for softmax (exp, sum,
divide).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from netcalc.kinds.base import (
    INPLACE,
    KEEPS_INPUT_FOR_BACKWARD,
    NEW,
    VIEW,
    ArrayShapes,
    Attr,
    Attrs,
    Extra,
    LayerKind,
    Saved,
    SavedRule,
    channels,
    choice,
    flag,
    no_arrays,
    real,
    same_shape,
    saves_input,
    saves_output,
)
from netcalc.lazy_numpy import np
from netcalc.shapes import Shape, numel


def per_element(count: int):
    def flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
        return count * numel(out)

    return flops


# --- NumPy reference. An activation's cache is the one array its gradient needs: the output y for relu, relu6,
# leaky_relu, sigmoid, tanh, hardsigmoid and elu (the next layer usually keeps the same array, so backward costs
# no extra memory), the input x for hardswish, silu, gelu and prelu, whose derivative is a function of x that y
# does not give back cheaply. `activate` may write into its input (`out=x`) for the y-keeping kinds, which a conv
# or fc with a fused activation does on its own fresh pre-activation.
#
# Definitions are PyTorch's:
#   hardsigmoid(x) = relu6(x + 3) / 6                   d/dx = 1/6 for −3 < x < 3, else 0
#   hardswish(x)   = x · relu6(x + 3) / 6               d/dx = 0 for x < −3, x/3 + 1/2 for −3 ≤ x ≤ 3, else 1
#   silu(x)        = x · σ(x)                           d/dx = σ(x) · (1 + x · (1 − σ(x)))
#   gelu(x)        = x · Φ(x) = x/2 · (1 + erf(x/√2))   d/dx = Φ(x) + x · φ(x), φ(x) = e^(−x²/2) / √(2π)
#   gelu, tanh     = x/2 · (1 + tanh(u)), u = √(2/π) · (x + 0.044715 x³)
#                                                       d/dx = (1 + t)/2 + x/2 · (1 − t²) · √(2/π) · (1 + 3·0.044715 x²)
#   elu(x)         = x if x > 0 else α · (e^x − 1)      d/dx = 1 if x > 0 else y + α
#   prelu(x)       = x if x > 0 else a_c · x            d/dx = 1 if x > 0 else a_c;  d/da_c = Σ dy · x over x ≤ 0

KEEPS_INPUT = frozenset({"hardswish", "silu", "gelu", "prelu"})
# The argument an activation takes from its attributes, and its value when fused into a conv or fc
ARGUMENTS = {"leaky_relu": ("negative_slope", 0.01), "elu": ("alpha", 1.0), "gelu": ("approximate", "none")}
_TANH_GELU = (math.sqrt(2 / math.pi), 0.044715)


def _sigmoid(x: Any) -> Any:
    """σ(x) = (1 + tanh(x/2)) / 2, which neither overflows nor loses the tails."""
    s = np.tanh(x * 0.5)
    s += 1
    s *= 0.5
    return s


def _erf(x: Any) -> Any:
    """erf elementwise through the C library's `math.erf` (NumPy has none): about 0.4 µs an element."""
    return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype, copy=False)


def _fresh(name: str, x: Any, arg: Any) -> Any:
    """y = act(x) as a new array, for the activations without an in-place form."""
    if name == "hardsigmoid":
        return np.clip(x + 3, 0, 6) / 6
    if name == "hardswish":
        return x * np.clip(x + 3, 0, 6) / 6
    if name == "silu":
        return x * _sigmoid(x)
    if name == "gelu" and arg == "tanh":
        k, c = _TANH_GELU
        return 0.5 * x * (1 + np.tanh(k * (x + c * x**3)))
    if name == "gelu":
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)))
    if name == "elu":
        return np.where(x > 0, x, arg * np.expm1(np.minimum(x, 0)))
    if name == "prelu":
        return np.where(x > 0, x, x * arg)
    raise ValueError(f"no reference for activation {name!r}")


def activate(name: str, x: Any, arg: Any = None, out: Any = None) -> Any:
    """y = act(x), elementwise, shape-preserving; `out` may be x itself. `arg` is the activation's argument
    (leaky_relu's slope, elu's α, gelu's approximation, prelu's slopes broadcastable against x), by default
    its value when fused (ARGUMENTS)."""
    arg = ARGUMENTS.get(name, (None, None))[1] if arg is None else arg
    out = np.empty_like(x) if out is None else out
    if name == "relu":
        np.maximum(x, 0, out=out)
    elif name == "relu6":
        np.clip(x, 0, 6, out=out)
    elif name == "leaky_relu":
        np.copyto(out, np.where(x > 0, x, x * arg))
    elif name == "sigmoid":
        with np.errstate(over="ignore"):
            np.negative(x, out=out)
            np.exp(out, out=out)
            out += 1
            np.reciprocal(out, out=out)
    elif name == "tanh":
        np.tanh(x, out=out)
    elif name != "none":
        np.copyto(out, _fresh(name, x, arg))
    elif out is not x:
        np.copyto(out, x)
    return out


def activation_grad(name: str, dy: Any, kept: Any, arg: Any = None) -> Any:
    """dL/dx from dL/dy and the array the activation keeps (x for KEEPS_INPUT, else y); a new array."""
    arg = ARGUMENTS.get(name, (None, None))[1] if arg is None else arg
    if name == "relu":
        return dy * (kept > 0)
    if name == "relu6":
        return dy * ((kept > 0) & (kept < 6))
    if name == "leaky_relu":
        return np.where(kept > 0, dy, dy * arg)
    if name == "sigmoid":
        return dy * kept * (1 - kept)
    if name == "tanh":
        return dy * (1 - kept * kept)
    if name == "hardsigmoid":
        return dy * ((kept > 0) & (kept < 1)) / 6
    if name == "elu":
        return np.where(kept > 0, dy, dy * (kept + arg))
    x = kept
    if name == "hardswish":
        # PyTorch's kernel at the kinks: 0 at x = −3, dy at x = 3 (the one-sided slopes outside [−3, 3])
        return np.where(x <= -3, 0, np.where(x < 3, dy * (x / 3 + 0.5), dy))
    if name == "silu":
        s = _sigmoid(x)
        return dy * s * (1 + x * (1 - s))
    if name == "gelu" and arg == "tanh":
        k, c = _TANH_GELU
        t = np.tanh(k * (x + c * x**3))
        return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * c * x * x))
    if name == "gelu":
        return dy * (0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))
    if name == "prelu":
        return np.where(x > 0, dy, dy * arg)
    if name == "none":
        return dy
    raise ValueError(f"no reference for activation {name!r}")


def activation_forward(
    name: str, x: Any, arg: Any = None, params: Any = None, inplace: bool = False
) -> tuple[Any, Any]:
    """y = act(x) and the cache `activation_backward` needs. A prelu reads its slopes, (C,) or (1,) along axis 1,
    from `params["slope"]`; `inplace` lets y overwrite x when the activation does not keep x."""
    if name == "prelu":
        slope = params["slope"]
        slopes = along_channels(slope, x.ndim)
        return activate(name, x, slopes), (name, x, slopes, slope.size)
    if name in KEEPS_INPUT:
        return activate(name, x, arg), (name, x, arg, 0)
    y = activate(name, x, arg, out=x if inplace else None)
    return y, (name, y, arg, 0)


def activation_backward(dy: Any, cache: Any) -> tuple[Any, dict[str, Any]]:
    """dL/dx and, for a prelu, dL/d slope."""
    name, kept, arg, slopes = cache
    dx = activation_grad(name, dy, kept, arg)
    return dx, ({"slope": prelu_slope_grad(dy, kept, slopes)} if slopes else {})


def along_channels(v: Any, ndim: int) -> Any:
    """A per-channel vector (C,) — or (1,), one value for all — shaped to broadcast along axis 1 of an (N, C, …)
    array of `ndim` dimensions."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def prelu_slope_grad(dy: Any, x: Any, slopes: int) -> Any:
    """dL/da (slopes,): Σ dy · x where x ≤ 0, over every axis but the channels (over all of them when shared)."""
    g = np.where(x > 0, 0, dy * x)
    axes = (0, *range(2, x.ndim)) if slopes > 1 else None
    return np.asarray(g.sum(axis=axes)).reshape(slopes)


def _activation_pair(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
        """x (N, …) → y (N, …); prelu's slopes (C,) or (1,) apply along axis 1."""
        arg = attrs[ARGUMENTS[name][0]] if name in ARGUMENTS else None
        if attrs.get("inplace") is not None:  # inference only (the engine's plan): nothing to keep for backward
            return activate(name, xs[0], arg, out=xs[0]), None
        return activation_forward(name, xs[0], arg, params)

    def backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        dx, dparams = activation_backward(dy, cache)
        return (dx,), dparams

    return forward, backward


def prelu_weights(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    return {"slope": (1 if attrs["shared"] else channels(ins[0]),)}


# How PyTorch runs each activation, which memory follows (measured with saved_tensors_hooks, torch 2.14):
# torchvision builds ReLU, ReLU6, Hardswish and SiLU with inplace=True. relu_, leaky_relu_, sigmoid and tanh keep
# their output for backward; hardtanh_ (relu6), hardswish_ and silu_ keep a copy of their input (so in training
# they cost a new tensor), elu, gelu, hardsigmoid and prelu their input.
IN_PLACE = ("relu", "relu6", "leaky_relu", "hardswish", "silu")


def _activation(name: str, summary: str, attrs: tuple[Attr, ...] = (), weights: ArrayShapes = no_arrays) -> LayerKind:
    keeps_input = name in KEEPS_INPUT_FOR_BACKWARD
    saved: SavedRule = saves_input if keeps_input else saves_output
    forward, backward = _activation_pair(name)
    return LayerKind(
        name=name,
        summary=summary,
        attrs=attrs,
        output_shape=same_shape,
        weights=weights,
        flops=per_element(1),
        flops_rule="1 per element",
        forward=forward,
        backward=backward,
        saved=saved,
        saved_rule="its input" if keeps_input else "its output",
        storage=INPLACE if name in IN_PLACE else NEW,
        train_storage=NEW if name in IN_PLACE and keeps_input else None,
    )


MASK_BYTES = 1  # a CUDA dropout keeps a bool mask (PyTorch's CPU kernel keeps a float one: docs/conventions.md)


def dropout_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    return Saved(extras=(Extra("mask", numel(out), MASK_BYTES),)) if attrs["p"] > 0 else Saved()


def stochastic_depth_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    """torchvision multiplies by a noise tensor of one value per sample (row) or one in all (batch)."""
    if attrs["p"] == 0:
        return Saved()
    return Saved(extras=(Extra("noise", 1, None, attrs["mode"] == "row"),))


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


def stochastic_depth_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """torchvision.ops.stochastic_depth: in training, mode `row` keeps each sample's whole tensor with probability
    1 − p (one draw per sample), mode `batch` keeps or drops the whole batch (one draw), and what is kept is
    scaled by 1/(1 − p) (p = 1 drops everything, unscaled); the mask comes from `attrs["seed"]`. At inference
    (or p = 0) the identity. x (N, …) → y (N, …)."""
    x, p = xs[0], attrs["p"]
    if not train or p == 0:
        return x, None
    size = (x.shape[0],) + (1,) * (x.ndim - 1) if attrs["mode"] == "row" else (1,) * x.ndim
    keep = np.random.default_rng(attrs.get("seed", 0)).random(size) < 1 - p
    scale = x.dtype.type(1.0 if p == 1 else 1 / (1 - p))
    return x * (keep * scale), keep * scale


def stochastic_depth_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (dy if cache is None else dy * cache,), {}


def scale_weights(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    return {"gamma": (channels(ins[0]),)}


def scale_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """y = x · γ_c: x (N, C, H, W) or (N, C), γ (C,) along axis 1."""
    x, gamma = xs[0], params["gamma"]
    return x * along_channels(gamma, x.ndim), (x, gamma)


def scale_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """dx = dy · γ_c; dγ_c = Σ dy · x over every axis but the channels."""
    x, gamma = cache
    dgamma = (dy * x).sum(axis=(0, *range(2, x.ndim)))
    return (dy * along_channels(gamma, x.ndim),), {"gamma": dgamma}


def identity_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """y = x (the same array)."""
    return xs[0], None


def identity_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (dy,), {}


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
    _activation("sigmoid", "1 / (1 + e^−x)"),
    _activation("tanh", "hyperbolic tangent"),
    _activation("hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3's gate)"),
    _activation("hardswish", "x · relu6(x + 3) / 6 (MobileNetV3)"),
    _activation("silu", "x · σ(x), also called swish (EfficientNet)"),
    _activation(
        "gelu",
        "x · Φ(x), Φ the normal CDF (ConvNeXt); or its tanh approximation",
        (Attr("approximate", choice("none", "tanh"), "none", "none: the exact erf form; tanh: the approximation"),),
    ),
    _activation(
        "elu",
        "x if x > 0 else α·(e^x − 1)",
        (Attr("alpha", real(0.0), 1.0, "α, the value approached for very negative x is −α"),),
    ),
    _activation(
        "prelu",
        "x if x > 0 else a·x with a learned slope a per channel (or one shared)",
        (Attr("shared", flag, False, "true: one slope for every channel; false: one per channel"),),
        weights=prelu_weights,
    ),
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
        name="stochastic_depth",
        summary="drops a residual branch per sample in training (scaled by 1/(1 − p)); the identity at inference",
        attrs=(
            Attr("p", real(0.0, 1.0), 0.0, "probability of dropping the branch"),
            Attr("mode", choice("row", "batch"), "row", "row: one draw per sample; batch: one for the whole batch"),
        ),
        output_shape=same_shape,
        flops_rule="none (the identity at inference)",
        forward=stochastic_depth_forward,
        backward=stochastic_depth_backward,
        saved=stochastic_depth_saved,
        saved_rule="its noise: one value per sample (row) or one in all (batch), when p > 0",
        storage=VIEW,
        train_storage=NEW,
    ),
    LayerKind(
        name="scale",
        summary="learned scale per channel, no bias (ConvNeXt's layer scale)",
        output_shape=same_shape,
        weights=scale_weights,
        flops=per_element(1),
        flops_rule="1 per element (a multiply)",
        forward=scale_forward,
        backward=scale_backward,
        saved=saves_input,
        saved_rule="its input (for the scale's gradient)",
    ),
    LayerKind(
        name="identity",
        summary="passes its input through unchanged",
        output_shape=same_shape,
        flops_rule="none",
        forward=identity_forward,
        backward=identity_backward,
        storage=VIEW,
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
