"""Normalisation: batch norm, group, instance and layer norm, and AlexNet's local response normalisation.

batchnorm: parameters γ and β per channel (2·C); running mean and variance are buffers (2·C), not parameters.
           FLOPs: 2 per element (inference folds it to one multiply and one add).
groupnorm, instancenorm, layernorm: statistics of the sample itself, at inference too, so nothing folds; no
           buffers; with `affine`, γ and β per channel (2·C). groupnorm standardises each of G groups of C/G
           channels over H×W (PyTorch's GroupNorm), instancenorm each channel over H×W (InstanceNorm2d with its
           defaults: no running statistics, no affine), layernorm the C channels at each pixel (ConvNeXt's
           LayerNorm2d; LayerNorm over the features of a flat vector).
           FLOPs: 5 per element (a sum for the mean; subtract, square and sum for the variance; multiply by
           1/σ), + 2 with affine (γ·x̂ + β); the per-group √(σ² + ε) is not counted.
lrn:       PyTorch's LocalResponseNorm, b = a / (k + α/n · Σ a²)^β over n neighbouring channels; no parameters.
           FLOPs: 2·n + 3 per element (n squares and n − 1 adds, scale, add k, power, divide).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netcalc.errors import ShapeError
from netcalc.kinds.base import (
    Attr,
    Attrs,
    Extra,
    LayerKind,
    Notes,
    Saved,
    ShapeRule,
    channels,
    flag,
    no_notes,
    real,
    same_shape,
    spatial_input,
    whole,
)
from netcalc.kinds.elementwise import along_channels
from netcalc.shapes import Shape, format_shape, numel


def batchnorm_arrays(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    c = channels(ins[0])
    return {"gamma": (c,), "beta": (c,)}


def batchnorm_buffers(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    c = channels(ins[0])
    return {"running_mean": (c,), "running_var": (c,)}


def batchnorm_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return 2 * numel(out)


# batch statistics are kept in PyTorch's accumulation type: float32 for half-precision activations (as on a GPU,
# where half-precision training runs), the activations' own dtype for float32 and float64
STAT_BYTES = 4


def _statistics(count: int, batched: bool, inverse: str) -> tuple[Extra, Extra]:
    """The mean and 1/std (named `inverse`, as ATen does) a norm keeps, `count` of each per sample (or for the
    whole batch, when not batched)."""
    return (
        Extra("mean", count, batched=batched, min_itemsize=STAT_BYTES),
        Extra(inverse, count, batched=batched, min_itemsize=STAT_BYTES),
    )


def batchnorm_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    """native_batch_norm keeps its input, the batch mean and 1/std (per channel, for the whole batch); γ, β and
    the running statistics are the layer's own state, not counted."""
    return Saved(inputs=(0,), extras=_statistics(channels(ins[0]), batched=False, inverse="invstd"))


def statistics_saved(per_sample: Callable[[Attrs, Shape], int]) -> Callable[[Attrs, tuple[Shape, ...], Shape], Saved]:
    """A norm that keeps its input and a mean and 1/std per normalised group of each sample."""

    def saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
        return Saved(inputs=(0,), extras=_statistics(per_sample(attrs, ins[0]), batched=True, inverse="rstd"))

    return saved


STATISTICS_SAVED = {
    "groupnorm": statistics_saved(lambda attrs, shape: attrs["groups"]),
    "instancenorm": statistics_saved(lambda attrs, shape: channels(shape)),
    "layernorm": statistics_saved(lambda attrs, shape: numel(shape[:-1])),
}


def lrn_saved(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> Saved:
    return Saved(inputs=(0,), output=True)
def affine_arrays(attrs: Attrs, ins: tuple[Shape, ...]) -> dict[str, Shape]:
    return batchnorm_arrays(attrs, ins) if attrs["affine"] else {}


def standardize_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return (5 + 2 * attrs["affine"]) * numel(out)


def _single_value_notes(count: Callable[[Attrs, Shape], int], what: str) -> Notes:
    """A note when each mean and variance is taken over one value: x̂ is then 0 and the output β, whatever x."""

    def notes(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> tuple[str, ...]:
        if count(attrs, ins[0]) != 1:
            return ()
        result = "β" if attrs["affine"] else "0"
        shape = format_shape(ins[0])
        return (f"{what} of {shape} is normalised over a single value: the output is {result} whatever the input",)

    return notes


def groupnorm_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    c, groups = channels(ins[0]), attrs["groups"]
    if c % groups:
        raise ShapeError(f"groupnorm: groups {groups} must divide the channels {c}")
    return ins[0]


def instancenorm_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    return spatial_input(ins, "instancenorm")


def lrn_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    return spatial_input(ins, "lrn")


def lrn_flops(attrs: Attrs, ins: tuple[Shape, ...], out: Shape) -> int:
    return (2 * attrs["size"] + 3) * numel(out)


# --- NumPy reference: thin adapters over netcalc.reference.norm (no multiply-accumulates).


def batchnorm_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, H, W) or (N, F), γ/β (C,) → y like x. Training: batch statistics, and the running statistics
    updated in place as PyTorch does (momentum, unbiased variance); inference: the running statistics."""
    from netcalc.reference.norm import batch_stats, batchnorm_running_stats
    from netcalc.reference.norm import batchnorm_forward as primitive

    x, mean, var = xs[0], params["running_mean"], params["running_var"]
    y, cache = primitive(x, params["gamma"], params["beta"], mean, var, train, attrs["eps"])
    if train:
        new_mean, new_var = batchnorm_running_stats(x, mean, var, attrs["momentum"], batch_stats(cache))
        mean[...], var[...] = new_mean, new_var
    return y, cache


def batchnorm_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from netcalc.reference.norm import batchnorm_backward as primitive

    dx, dgamma, dbeta = primitive(dy, cache)
    return (dx,), {"gamma": dgamma, "beta": dbeta}


def _standardize_pair(
    view: Callable[[tuple[int, ...], Attrs], tuple[tuple[int, ...], tuple[int, ...]]],
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """forward/backward of a normalisation that standardises x reshaped by `view(x.shape, attrs)` over the axes
    it names, then applies γ·x̂ + β per channel (axis 1) when `affine`."""

    def forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
        """x (N, C, H, W) or (N, F) → y like x; the same in training and at inference."""
        from netcalc.reference.norm import standardize_forward

        x = xs[0]
        shape, axes = view(x.shape, attrs)
        xhat, inner = standardize_forward(x.reshape(shape), axes, attrs["eps"])
        xhat = xhat.reshape(x.shape)
        if not attrs["affine"]:
            return xhat, (inner, xhat, None, shape)
        gamma = params["gamma"]
        y = xhat * along_channels(gamma, x.ndim) + along_channels(params["beta"], x.ndim)
        return y, (inner, xhat, gamma, shape)

    def backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        from netcalc.reference.norm import standardize_backward

        inner, xhat, gamma, shape = cache
        if gamma is None:
            return (standardize_backward(dy.reshape(shape), inner).reshape(dy.shape),), {}
        axes = (0, *range(2, dy.ndim))
        dparams = {"gamma": (dy * xhat).sum(axis=axes), "beta": dy.sum(axis=axes)}
        dxhat = dy * along_channels(gamma, dy.ndim)
        return (standardize_backward(dxhat.reshape(shape), inner).reshape(dy.shape),), dparams

    return forward, backward


def _standardizing(
    name: str,
    summary: str,
    output_shape: ShapeRule,
    view: Callable[[tuple[int, ...], Attrs], tuple[tuple[int, ...], tuple[int, ...]]],
    affine: bool,
    attrs: tuple[Attr, ...] = (),
    eps_doc: str = "added to the variance",
    notes: Notes = no_notes,
    *,
    statistics: str,
    field_proxy: str = "",
) -> LayerKind:
    """A normalisation kind over the statistics `view` picks: `eps` and `affine` attributes, γ and β with affine.
    Autograd keeps its input and a mean and 1/std per `statistics` (group, channel, pixel) of a sample, float32
    for half-precision activations."""
    forward, backward = _standardize_pair(view)
    return LayerKind(
        name=name,
        summary=summary,
        attrs=attrs
        + (Attr("eps", real(0.0), 1e-5, eps_doc), Attr("affine", flag, affine, "learned γ and β per channel")),
        output_shape=output_shape,
        weights=affine_arrays,
        flops=standardize_flops,
        flops_rule="5 per element, + 2 with affine",
        notes=notes,
        forward=forward,
        backward=backward,
        saved=STATISTICS_SAVED[name],
        saved_rule=f"its input, and a mean and 1/std per {statistics} of each sample (float32 for float16 inputs)",
        field_proxy=field_proxy,
    )


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
        saved_rule="its input, and the batch mean and 1/std per channel (float32 for float16 inputs)",
    ),
    # groupnorm views (N, C, …) as (N, G, C/G·H·W), instancenorm as (N, C, H·W); layernorm takes axis 1 as it is
    _standardizing(
        "groupnorm",
        "group normalisation: each group of channels standardised over H×W and its channels",
        groupnorm_output_shape,
        lambda s, a: ((s[0], a["groups"], -1), (2,)),
        affine=True,
        attrs=(Attr("groups", whole(1), doc="channel groups G (must divide C)"),),
        notes=_single_value_notes(lambda a, s: numel(s) // a["groups"], "each group"),
        statistics="group",
        field_proxy="identity",  # statistics over H×W: counted as pointwise, as receptive-field tools do
    ),
    _standardizing(
        "instancenorm",
        "instance normalisation: each channel of each sample standardised over H×W (no running stats)",
        instancenorm_output_shape,
        lambda s, a: ((s[0], s[1], -1), (2,)),
        affine=False,
        notes=_single_value_notes(lambda a, s: s[0] * s[1], "each channel"),
        statistics="channel",
        field_proxy="identity",
    ),
    _standardizing(
        "layernorm",
        "layer normalisation over the channels at each pixel (ConvNeXt), or over a flat vector's features",
        same_shape,
        lambda s, a: (s, (1,)),
        affine=True,
        eps_doc="added to the variance (ConvNeXt uses 1e-6)",
        notes=_single_value_notes(lambda a, s: s[-1], "each pixel"),
        statistics="pixel (or vector)",
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
