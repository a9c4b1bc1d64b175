"""Measure receptive fields with the reference pass: the input pixels one output unit really depends on.

For every layer whose output is a feature map, the support of d(its centre unit)/d(input) is the set of input
pixels that unit depends on. To make the support exactly the structural one (no gradient vanishing by chance):

- every weight is made positive (uniform in [0.5, 1.5) over the fan-in), biases and shifts zero, scales and
  variances one, and the input positive, so no product of positive terms cancels;
- activations become ReLUs, which pass a positive signal unchanged (a ReLU6 or hard sigmoid would saturate and
  cut the gradient), and fused activations are dropped;
- a kind whose own gradient reaches only part of its window names a `field_proxy` whose gradient reaches all of
  it: a max pool is measured as the average pool over the same windows, a normalisation over H×W (whose
  statistics make every pixel matter) as the identity, as the analysis counts it;
- inference mode (running statistics), so samples stay independent.

One backward pass measures many layers at once: sample k of the batch carries probe k, a unit gradient injected
at the centre of layer k's output (`run(inject=…)`). Layers are probed in chunks to bound memory; that memory
(float64, a batch of up to `CHUNK`) is estimated by `estimate_field_memory`, so `verify --receptive-field` can
refuse it before anything is allocated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from netcalc.analysis.report import DTYPE_BYTES, Report
from netcalc.kinds import REGISTRY
from netcalc.kinds.base import no_arrays, pointwise, same_shape
from netcalc.network import Layer, Network
from netcalc.reference.engine import engine_shape, run
from netcalc.reference.memory import MemoryEstimate, estimate_memory
from netcalc.shapes import Shape, is_spatial, numel

Sides = tuple[int, int, int, int]  # first row, last row, first column, last column
ZERO_VECTORS = ("bias", "beta", "running_mean", "mean")
CHUNK = 8  # probes per backward pass


def _probe_layer(layer: Layer) -> Layer:
    """The layer as the measurement runs it (see the module docstring)."""
    kind = REGISTRY[layer.kind]
    attrs = dict(layer.attrs)
    if kind.field_proxy:
        proxy = REGISTRY[kind.field_proxy]
        attrs = {a.name: attrs.get(a.name, a.default) for a in proxy.attrs}
        return replace(layer, kind=proxy.name, attrs=attrs)
    if "activation" in attrs:
        attrs["activation"] = "none"
    elif kind.geometry is pointwise and kind.weights is no_arrays and kind.output_shape is same_shape:
        return replace(layer, kind="relu", attrs={})
    return replace(layer, attrs=attrs)


def probe_network(network: Network) -> Network:
    return replace(network, layers=tuple(_probe_layer(layer) for layer in network.layers))


def estimate_field_memory(network: Network, report: Report, chunk: int = CHUNK) -> MemoryEstimate:
    """The peak bytes of `measure_fields`: the probe network's reference pass in float64 with one sample per
    layer probed at once (up to `chunk`), plus the injected gradients, each as large as its layer's output for
    the whole batch (counted for the `chunk` largest layers), and the output gradient."""
    from netcalc.analysis.analyze import analyze_network

    spatial = sorted((numel(row.output_shape) for row in report.layers if is_spatial(row.output_shape)), reverse=True)
    batch = max(1, min(chunk, len(spatial)))
    probe = probe_network(network)
    estimate = estimate_memory(probe, analyze_network(probe, batch=batch, dtype="float64"), params_given=True)
    # the injected gradients and the (zero) output gradient are the caller's: held for the whole pass
    given = (sum(spatial[:batch]) + numel(report.output_shape)) * batch * DTYPE_BYTES["float64"]
    return replace(estimate, peak=estimate.peak + given)


def _positive_params(network: Network, shapes: dict[str, Shape], rng: np.random.Generator) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for layer in network.layers:
        kind = REGISTRY[layer.kind]
        ins = tuple(shapes[name] for name in layer.inputs)
        arrays = {}
        for name, shape in {**kind.weights(layer.attrs, ins), **kind.buffers(layer.attrs, ins)}.items():
            if len(shape) >= 2:
                fan_in = int(np.prod(shape[1:]))
                weight = rng.random(shape)  # in place: no temporaries as large as VGG's 822 MB fc6
                weight += 0.5
                weight /= fan_in
                arrays[name] = weight
            else:
                arrays[name] = np.zeros(shape) if name in ZERO_VECTORS else np.ones(shape)
        params[layer.name] = arrays
    return params


def measure_fields(
    network: Network, report: Report, seed: int = 0, chunk: int = CHUNK, layers: Sequence[str] | None = None
) -> dict[str, Sides]:
    """Layer name → the input rows and columns (first, last) the centre unit of its output depends on, for every
    layer with a feature-map output (or those named in `layers`)."""
    probe = probe_network(network)
    # Only the injected units may carry gradient: the engine gives every output but the first a random dL/dy,
    # so the probe keeps one output (its dL/dy zero); the others become ends whose gradient is zero.
    sole = replace(probe, outputs=(probe.output,))
    shapes = {"input": report.input_shape, **{row.name: row.output_shape for row in report.layers}}
    rng = np.random.default_rng(seed)
    params = _positive_params(probe, shapes, rng)
    names = [
        row.name
        for row in report.layers
        if is_spatial(row.output_shape) and (layers is None or row.name in layers)
    ]
    found: dict[str, Sides] = {}
    for start in range(0, len(names), chunk):
        batch = names[start : start + chunk]
        x = rng.random(engine_shape(report.input_shape, len(batch))) + 0.5
        inject = {}
        for k, name in enumerate(batch):
            h, w, _ = shapes[name]
            g = np.zeros(engine_shape(shapes[name], len(batch)))
            g[k, :, (h - 1) // 2, (w - 1) // 2] = 1.0  # every channel: a concat's reach all its inputs
            inject[name] = g
        out_shape = engine_shape(report.output_shape, len(batch))
        result = run(
            sole,
            batch=len(batch),
            dtype="float64",
            train=False,
            x=x,
            params=params,
            output_grad=np.zeros(out_shape),
            inject=inject,
        )
        support = np.abs(result.input_grad).sum(axis=1) > 0  # (N, H, W)
        for k, name in enumerate(batch):
            rows, cols = np.nonzero(support[k].any(axis=1))[0], np.nonzero(support[k].any(axis=0))[0]
            if rows.size:
                found[name] = (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))
    return found
