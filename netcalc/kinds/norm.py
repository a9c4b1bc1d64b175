"""Normalisation: batch norm and AlexNet's local response normalisation.

batchnorm: parameters γ and β per channel (2·C); running mean and variance are buffers (2·C), not parameters.
           FLOPs: 2 per element (inference folds it to one multiply and one add).
lrn:       PyTorch's LocalResponseNorm, b = a / (k + α/n · Σ a²)^β over n neighbouring channels; no parameters.
           FLOPs: 2·n + 3 per element (n squares and n − 1 adds, scale, add k, power, divide).
"""

from __future__ import annotations

from typing import Any

from netcalc.kinds.base import Attr, Attrs, Extra, LayerKind, Saved, channels, real, same_shape, spatial_input, whole
from netcalc.shapes import Shape, numel


def batchnorm_arrays(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    c = channels(ins[0])
    return {"gamma": (c,), "beta": (c,)}


def batchnorm_buffers(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    c = channels(ins[0])
    return {"running_mean": (c,), "running_var": (c,)}


def batchnorm_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return 2 * numel(out)


STAT_BYTES = 4  # batch statistics are float32 even for half-precision activations


def batchnorm_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    """native_batch_norm keeps its input, the batch mean and 1/std (float32, per channel); γ, β and the running
    statistics are the layer's own state, not counted."""
    c = channels(ins[0])
    return Saved(inputs=(0,), extras=(Extra("mean", c, STAT_BYTES, False), Extra("invstd", c, STAT_BYTES, False)))


def lrn_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    return Saved(inputs=(0,), output=True)


def lrn_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    return spatial_input(ins, "lrn")


def lrn_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return (2 * attrs["size"] + 3) * numel(out)


# --- NumPy reference: thin adapters over netcalc.reference.norm (no multiply-accumulates).


def batchnorm_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) or (N, F), γ/β (C,) → y like x. Training: batch statistics, and the running statistics
    updated in place as PyTorch does (momentum, unbiased variance); inference: the running statistics."""
    from netcalc.reference.norm import batchnorm_forward as primitive
    from netcalc.reference.norm import batchnorm_running_stats

    x, mean, var = xs[0], params["running_mean"], params["running_var"]
    y, cache = primitive(x, params["gamma"], params["beta"], mean, var, train, attrs["eps"])
    if train:
        new_mean, new_var = batchnorm_running_stats(x, mean, var, attrs["momentum"])
        mean[...], var[...] = new_mean, new_var
    return y, cache


def batchnorm_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from netcalc.reference.norm import batchnorm_backward as primitive

    dx, dgamma, dbeta = primitive(dy, cache)
    return (dx,), {"gamma": dgamma, "beta": dbeta}


def lrn_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) → y like x, PyTorch's LocalResponseNorm."""
    from netcalc.reference.norm import lrn_forward as primitive

    return primitive(xs[0], attrs["size"], attrs["alpha"], attrs["beta"], attrs["k"])


def lrn_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from netcalc.reference.norm import lrn_backward as primitive

    return (primitive(dy, cache),), {}


KINDS = (
    LayerKind(
        name="batchnorm",
        summary="batch normalisation per channel (or per feature of a flat input)",
        attrs=(
            Attr("eps", real(0.0), 1e-5, "added to the variance"),
            Attr("momentum", real(0.0, 1.0), 0.1, "running-statistics update rate"),
        ),
        output_shape=same_shape,
        weights=batchnorm_arrays,
        buffers=batchnorm_buffers,
        flops=batchnorm_flops,
        flops_rule="2 per element (a multiply and an add once folded)",
        forward=batchnorm_forward,
        backward=batchnorm_backward,
        saved=batchnorm_saved,
        saved_rule="its input, and the batch mean and 1/std (float32, per channel)",
    ),
    LayerKind(
        name="lrn",
        summary="local response normalisation across channels (AlexNet)",
        attrs=(
            Attr("size", whole(1), 5, "neighbouring channels summed, n"),
            Attr("alpha", real(0.0), 1e-4, "α (divided by n, as in PyTorch)"),
            Attr("beta", real(0.0), 0.75, "β"),
            Attr("k", real(0.0), 1.0, "k (AlexNet uses 2)"),
        ),
        output_shape=lrn_output_shape,
        flops=lrn_flops,
        flops_rule="2·size + 3 per element",
        forward=lrn_forward,
        backward=lrn_backward,
        saved=lrn_saved,
        saved_rule="its input and output (what its gradient needs; PyTorch's composite keeps more)",
    ),
)
