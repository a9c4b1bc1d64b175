"""`netcalc verify SPEC --against onnxruntime`: the values each layer computes, checked against ONNX Runtime.

1. The spec is exported (`exporter.model_bytes`) with the reference pass's seeded float32 weights, and every
   layer's output (a value named after the layer) is made a graph output.
2. ONNX Runtime (CPU, graph optimisations off, so every node runs as written) runs it once on the reference
   pass's seeded input.
3. Each layer's NumPy reference forward (inference mode, float32 as `netcalc verify`) runs on the inputs ONNX
   Runtime gave that layer, with the same weights, and its output is compared with ONNX Runtime's. Feeding each
   layer ONNX Runtime's own inputs checks every layer alone: float32 rounding does not pile up along the network, and a
   wrong layer is named itself rather than every layer after it.

A layer agrees when max |ort − ref| ≤ RTOL · (1 + √K) · scale, where scale is the largest magnitude among the
layer's inputs and reference output, and K the multiply-accumulates per output element (0 for layers without
MACs) plus, for a normalisation (groupnorm, instancenorm, layernorm), the elements each of its statistics is
taken over: float32 rounding of a sum of K terms grows about as √K. The tolerances are stated in docs/verify.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from netcalc.bridges import require
from netcalc.errors import NetcalcError
from netcalc.lazy_numpy import np
from netcalc.network import INPUT, Network
from netcalc.shapes import numel

RTOL = 2e-6  # ≈ 16 float32 ulps (2⁻²³ ≈ 1.2e-7) of the layer's scale, × (1 + √K)


@dataclass(frozen=True)
class ValueCheck:
    """One layer: the worst disagreement between ONNX Runtime and the reference pass, and where it is."""

    name: str
    kind: str
    max_error: float
    allowed: float
    scale: float
    index: tuple[int, ...]  # of the worst element, (N, C, H, W) or (N, F)
    ort: float  # ONNX Runtime's value there
    reference: float  # the reference pass's value there
    shape_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.shape_ok and self.max_error <= self.allowed


@dataclass(frozen=True)
class RuntimeVerification:
    name: str
    input_shape: tuple[int, ...]
    batch: int
    seed: int
    runtime: str  # "onnxruntime <version>"
    layers: tuple[ValueCheck, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(layer.ok for layer in self.layers)

    @property
    def failed(self) -> tuple[ValueCheck, ...]:
        return tuple(layer for layer in self.layers if not layer.ok)


def checked_model(network: Network, report: Any, *, batch: int, seed: int) -> tuple[bytes, dict[str, Any]]:
    """The serialised exported model with the reference pass's seeded float32 weights as feeds, every layer's
    output made a graph output named after the layer; and the feeds (weights by value name, and each layer's
    arrays under "@" + its name for the reference forward). Written without the `onnx` package
    (`netcalc.bridges.onnx.proto`)."""
    from netcalc.bridges.onnx.exporter import model_bytes

    feeds: dict[str, Any] = {}
    model = model_bytes(network, weights="seeded", seed=seed, batch=batch, feeds=feeds, report=report, exposed=True)
    return model, feeds


def open_session(ort: Any, model: bytes) -> Any:
    """An ONNX Runtime CPU session on a serialised model, with graph optimisations off, so every node runs as
    written."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    # no arena: it grows by doubling, so one run could reserve twice what the check's memory estimate counts
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def verify_against_onnxruntime(
    network: Network, *, batch: int = 1, seed: int = 0, max_memory: int | None = None, limit_name: str = "the limit"
) -> RuntimeVerification:
    """Run `network` in ONNX Runtime and in the NumPy reference, layer by layer, and compare the values.
    `max_memory` (bytes, named `limit_name` in the message): refuse with `MemoryLimitError` (exit 2), before
    allocating anything, a check whose estimated peak exceeds it."""
    ort = require("onnxruntime", "verify --against onnxruntime")

    from netcalc.analysis.analyze import analyze_network
    from netcalc.kinds import REGISTRY
    from netcalc.reference.engine import check_reference, random_input
    from netcalc.reference.gemm import count_macs
    from netcalc.reference.memory import check_memory, estimate_value_check_memory

    start = time.perf_counter()
    check_reference(network, backward=False)
    report = analyze_network(network, batch=batch)
    check_memory(estimate_value_check_memory(network, report), max_memory, limit_name, "the ONNX Runtime value check")
    rows = {row.name: row for row in report.layers}
    model, feeds = checked_model(network, report, batch=batch, seed=seed)
    try:
        session = open_session(ort, model)
        names = [o.name for o in session.get_outputs()]
        x = random_input(network, batch, seed, "float32")
        inputs = {name: array for name, array in feeds.items() if not name.startswith("@")}
        values = dict(zip(names, session.run(names, {INPUT: x, **inputs})))
    except Exception as error:  # onnxruntime's own exception types (Fail, InvalidGraph, …)
        raise NetcalcError(f"ONNX Runtime could not run the exported model: {error}") from None
    values[INPUT] = x

    checks = []
    magnitudes: dict[str, float] = {}
    for index, layer in enumerate(network.layers):
        kind = REGISTRY[layer.kind]
        xs = tuple(values[name] for name in layer.inputs)
        params = feeds.pop("@" + layer.name)
        with count_macs():
            reference, _ = kind.forward(xs, params, {**layer.attrs, "seed": [seed, 3, index]}, False)  # type: ignore[misc]
        got = values[layer.name]
        row = rows[layer.name]
        per_element = row.macs / max(1, numel(row.output_shape) * batch)
        per_element += reduced_per_statistic(layer.kind, layer.attrs, row.output_shape)  # norms keep the shape
        for name in layer.inputs:
            if name not in magnitudes:
                magnitudes[name] = _largest(values[name])
        inputs = [magnitudes[name] for name in layer.inputs]
        checks.append(_compare(layer.name, layer.kind, np.asarray(reference), got, inputs, per_element))
    return RuntimeVerification(
        name=network.name,
        input_shape=network.input_shape,
        batch=batch,
        seed=seed,
        runtime=f"onnxruntime {ort.__version__}",
        layers=tuple(checks),
        seconds=time.perf_counter() - start,
    )


def reduced_per_statistic(kind: str, attrs: Any, shape: tuple[int, ...]) -> int:
    """K of a normalisation: the elements each mean and variance is taken over (a group's C/G·H·W, a channel's
    H·W, a pixel's C or a vector's F); 0 for other kinds. float32 rounding of those sums grows about as √K, as
    that of a sum of K products does, and the normalised output magnifies it (it has no MACs to account)."""
    if kind == "groupnorm":
        return numel(shape) // attrs["groups"]
    if kind == "instancenorm":
        return numel(shape) // shape[-1]
    if kind == "layernorm":
        return shape[-1]
    return 0


def _largest(a: Any) -> float:
    """The largest magnitude in `a` (0 for an empty array), in two scans and no temporary."""
    return max(float(a.max()), -float(a.min())) if a.size else 0.0


def _compare(
    name: str, kind: str, reference: Any, got: Any, input_magnitudes: list[float], macs_per_element: float
) -> ValueCheck:
    """`input_magnitudes`: `_largest` of each of the layer's inputs, worked out once per tensor by the caller
    (a tensor read by several layers, as a residual input is, is scanned once)."""
    reference, got = np.asarray(reference), np.asarray(got)
    scale = max([_largest(reference), *input_magnitudes, 1e-30])
    allowed = RTOL * (1 + math.sqrt(macs_per_element)) * scale
    if reference.shape != got.shape:
        return ValueCheck(name, kind, math.inf, allowed, scale, (), math.nan, math.nan, shape_ok=False)
    if reference.size == 0:
        return ValueCheck(name, kind, 0.0, allowed, scale, (), 0.0, 0.0)
    # the worst element found in the arrays' own dtype (argmax stops at the first NaN), its error then taken
    # exactly in float64: one subtraction and one scan instead of float64 copies of both arrays
    error = np.subtract(got, reference)
    np.abs(error, out=error)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
    ort, ref = float(got[index]), float(reference[index])
    worst = abs(ort - ref)
    return ValueCheck(name, kind, worst if not math.isnan(worst) else math.inf, allowed, scale, index, ort, ref)
