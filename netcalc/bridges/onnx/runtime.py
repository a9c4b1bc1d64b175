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
from dataclasses import dataclass, replace
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
    # the reference made NaN or infinity from finite inputs (as plain `verify` reports a layer's "non-finite
    # output"): a failure whatever ONNX Runtime gave; index, ort and reference are then its first such element
    nonfinite: bool = False

    @property
    def ok(self) -> bool:
        return self.shape_ok and not self.nonfinite and self.max_error <= self.allowed


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
    options.log_severity_level = 4  # fatal only: a refused node is reported once, by netcalc, not logged too
    ort.set_default_logger_severity(4)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _refused(error: Exception, network: Network) -> NetcalcError:
    """ONNX Runtime's refusal as one line, located at the layer whose node it names (nodes are named after
    layers, a layer's extra nodes `<layer>/…`), else at none."""
    import re

    message = " ".join(str(error).replace("\\n", " ").split())
    by_name = {layer.name: layer for layer in network.layers}
    for named in re.findall(r"[Nn]ode(?: name)?[ :]*\(?'?([^\s')]+)", message):
        layer = by_name.get(named) or by_name.get(named.split("/")[0])
        if layer is not None:
            return NetcalcError(f"ONNX Runtime refused this {layer.kind}: {message}", layer.where())
    return NetcalcError(f"ONNX Runtime could not run the exported model: {message}")


def verify_against_onnxruntime(
    network: Network, *, batch: int = 1, seed: int = 0, max_memory: int | None = None, limit_name: str = "the limit"
) -> RuntimeVerification:
    """Run `network` in ONNX Runtime and in the NumPy reference, layer by layer, and compare the values.
    `max_memory` (bytes, named `limit_name` in the message): refuse with `MemoryLimitError` (exit 2), before
    allocating anything, a check whose estimated peak exceeds it."""
    ort = require("onnxruntime", "verify --against onnxruntime")

    from netcalc.analysis.analyze import analyze_network
    from netcalc.reference.engine import check_reference, random_input
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
        raise _refused(error, network) from None
    values[INPUT] = x
    # NaN and infinity are found and reported by layer (`ValueCheck.nonfinite`), not warned about
    with np.errstate(all="ignore"):
        checks = _check_layers(network, values, feeds, rows, batch, seed)
    return RuntimeVerification(
        name=network.name,
        input_shape=network.input_shape,
        batch=batch,
        seed=seed,
        runtime=f"onnxruntime {ort.__version__}",
        layers=tuple(checks),
        seconds=time.perf_counter() - start,
    )


def _check_layers(
    network: Network, values: dict[str, Any], feeds: dict[str, Any], rows: dict[str, Any], batch: int, seed: int
) -> list[ValueCheck]:
    """Each layer's reference forward on ONNX Runtime's inputs, compared with ONNX Runtime's output."""
    from netcalc.kinds import REGISTRY
    from netcalc.reference.gemm import count_macs

    checks = []
    magnitudes: dict[str, float] = {}
    finite: dict[str, bool] = {}
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
                finite[name] = math.isfinite(magnitudes[name])
        inputs = [magnitudes[name] for name in layer.inputs]
        inputs_finite = all(finite[name] for name in layer.inputs)
        checks.append(_compare(layer.name, layer.kind, np.asarray(reference), got, inputs, per_element, inputs_finite))
    return checks


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
    """The largest magnitude in `a` (0 for an empty array), in two scans and no temporary; NaN or infinity
    when `a` holds one."""
    if not a.size:
        return 0.0
    high, low = float(a.max()), float(a.min())
    return math.nan if math.isnan(high) or math.isnan(low) else max(high, -low)


def _finite_largest(a: Any, largest: float) -> float:
    """The largest finite magnitude in `a` (0 when there is none), `largest` being `_largest(a)`."""
    if math.isfinite(largest):
        return largest
    kept = np.abs(a[np.isfinite(a)])
    return float(kept.max()) if kept.size else 0.0


def _made_nonfinite(check: ValueCheck, reference: Any, got: Any) -> ValueCheck:
    """The layer made NaN or infinity from finite inputs: failed, at its first non-finite element."""
    index = tuple(int(i) for i in np.unravel_index(int(np.argmin(np.isfinite(reference))), reference.shape))
    ort = float(got[index]) if got.shape == reference.shape else math.nan
    return replace(check, max_error=math.inf, index=index, ort=ort, reference=float(reference[index]), nonfinite=True)


def _compare(
    name: str,
    kind: str,
    reference: Any,
    got: Any,
    input_magnitudes: list[float],
    macs_per_element: float,
    inputs_finite: bool = True,
) -> ValueCheck:
    """`input_magnitudes`: `_largest` of each of the layer's inputs, worked out once per tensor by the caller
    (a tensor read by several layers, as a residual input is, is scanned once). A reference output holding NaN
    or infinity made from finite inputs fails the layer (`ValueCheck.nonfinite`)."""
    reference, got = np.asarray(reference), np.asarray(got)
    largest = _largest(reference)
    # the scale of the finite values: a NaN or infinity (reported as such) does not make the allowance NaN
    scale = max([_finite_largest(reference, largest), *(m for m in input_magnitudes if math.isfinite(m)), 1e-30])
    check = _compare_values(name, kind, reference, got, scale, macs_per_element)
    if inputs_finite and not math.isfinite(largest):
        return _made_nonfinite(check, reference, got)
    return check


def _compare_values(name: str, kind: str, reference: Any, got: Any, scale: float, macs_per_element: float):
    """The worst disagreement of `got` with `reference`, allowed RTOL · (1 + √K) · scale."""
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
    if not math.isfinite(worst):
        # where both hold the same NaN or infinity they agree (what a layer made non-finite is reported at that
        # layer): only then are the masks made, so a finite check costs no more memory
        error[(np.isnan(got) & np.isnan(reference)) | (np.isinf(got) & (got == reference))] = 0
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
        ort, ref = float(got[index]), float(reference[index])
        worst = abs(ort - ref)
    return ValueCheck(name, kind, worst if not math.isnan(worst) else math.inf, allowed, scale, index, ort, ref)
