"""Compare the analysis with what the NumPy reference pass really did, layer by layer.

Pure: an analysis `Report` and an engine `Run` in, frozen check records out; totals are derived from the rows.
No NumPy is imported here (the engine's results are plain ints, floats and shape tuples).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from netcalc.analysis.field import centre_sides
from netcalc.analysis.report import LayerRow, Report
from netcalc.shapes import Shape

if TYPE_CHECKING:
    from netcalc.reference.engine import Gradcheck, LayerRun, Run

T = TypeVar("T")

# Worst relative error a float64 central-difference check may show (see `layer_gradcheck`: correct layers give
# ~1e-9 and below; cs231n calls anything above 1e-2 wrong).
GRADCHECK_TOLERANCE = 1e-6


def _once(method: Callable[[object], T]) -> property:
    """A read-only property worked out on its first read and kept in the instance's __dict__ (which a frozen
    dataclass lets us write). functools.cached_property takes a lock on every read on Python 3.11: 14 µs, which
    a 20,000-row table reads twice a row."""
    name = method.__name__

    def get(self: object) -> T:
        try:
            return self.__dict__[name]
        except KeyError:
            value = self.__dict__[name] = method(self)
            return value

    return property(get, doc=method.__doc__)


@dataclass(frozen=True)
class Pair(Generic[T]):
    """One figure: what the analysis says and what the reference pass measured."""

    analysed: T
    measured: T

    @property
    def ok(self) -> bool:
        return self.analysed == self.measured


@dataclass(frozen=True)
class LayerCheck:
    name: str
    kind: str
    output_shape: Pair[Shape]  # H×W×C (or F); a measured shape whose batch is wrong stays as produced, NCHW
    params: Pair[int]
    buffers: Pair[int]
    macs: Pair[int]  # forward MACs: LayerRow.macs vs counted at the GEMM
    activation_bytes: Pair[int]  # LayerRow.activation_bytes vs the output array's nbytes
    forward_seconds: float
    backward_macs: int | None = None  # counted; no formula to compare with (conv/fc: 2 × forward)
    backward_seconds: float | None = None
    gradient_problems: tuple[str, ...] = ()
    gradcheck_error: float | None = None
    gradcheck: Gradcheck | None = None  # what was compared: arrays, entries, the error before any allowance
    nonfinite: tuple[str, ...] = ()  # arrays this layer made NaN or infinite ("output", "dweight", …): a failure
    zero_gradients: tuple[
        str, ...
    ] = ()  # weights whose gradient is identically zero: a warning, under strict a failure
    # a network output that is identically zero, and (on the first layer reading the network input) an input
    # gradient that is: the pass then checked nothing downstream of the zeros. A warning; under strict a failure
    zero_output: bool = False
    zero_input_gradient: bool = False
    strict: bool = False
    # backward MACs: dL/dx (also where training skips it: the reference computes every input gradient) + dL/dw
    backward: Pair[int] | None = None
    live_bytes: Pair[int] | None = None  # inference: LayerRow.live_bytes vs the engine's live arrays
    # the input rows and columns (first, last, first, last) the centre unit depends on, clipped to the image
    field: Pair[tuple[int, int, int, int]] | None = None

    @_once
    def figures(self) -> dict[str, Pair]:
        optional = {"backward_macs": self.backward, "live_bytes": self.live_bytes, "receptive_field": self.field}
        return {
            "output_shape": self.output_shape,
            "params": self.params,
            "buffers": self.buffers,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
            **{name: pair for name, pair in optional.items() if pair is not None},
        }

    @property
    def gradcheck_ok(self) -> bool:
        return self.gradcheck_error is None or self.gradcheck_error <= GRADCHECK_TOLERANCE

    @property
    def gradients_ok(self) -> bool:
        return (
            not self.gradient_problems
            and self.gradcheck_ok
            and not self.nonfinite
            and not (self.strict and self.zero_gradients)
        )

    @property
    def zero_values(self) -> tuple[str, ...]:
        """What is identically zero besides weight gradients: "output", "input gradient"."""
        return (("output",) if self.zero_output else ()) + (("input gradient",) if self.zero_input_gradient else ())

    @_once  # read by the verdict, the failed list, the table and the JSON
    def ok(self) -> bool:
        return all(p.ok for p in self.figures.values()) and self.gradients_ok and not (self.strict and self.zero_values)

    @property
    def disagreements(self) -> tuple[str, ...]:
        found = [name for name, pair in self.figures.items() if not pair.ok]
        if self.gradient_problems:
            found.append("gradient shapes")
        if not self.gradcheck_ok:
            found.append("gradcheck")
        if self.nonfinite:
            found.append("non-finite values")
        if self.strict and self.zero_gradients:
            found.append("zero gradients")
        if self.strict:
            found += [f"zero {what}" for what in self.zero_values]
        return tuple(found)

    @property
    def seconds(self) -> float:
        return self.forward_seconds + (self.backward_seconds or 0.0)


@dataclass(frozen=True)
class Verification:
    name: str
    input_shape: Shape
    batch: int
    dtype: str
    seed: int
    backward: bool
    gradcheck: int
    layers: tuple[LayerCheck, ...]

    @_once
    def ok(self) -> bool:
        return all(layer.ok for layer in self.layers)

    @_once
    def failed(self) -> tuple[LayerCheck, ...]:
        return tuple(layer for layer in self.layers if not layer.ok)

    @property
    def peak(self) -> Pair[int] | None:
        """The inference peak of live activation bytes, analysed and measured (None when not measured)."""
        pairs = [layer.live_bytes for layer in self.layers if layer.live_bytes is not None]
        if not pairs:
            return None
        return Pair(max(p.analysed for p in pairs), max(p.measured for p in pairs))

    @property
    def zero_gradient_layers(self) -> tuple[LayerCheck, ...]:
        """Layers with a weight whose gradient is identically zero: nothing checked that weight's backward."""
        return tuple(layer for layer in self.layers if layer.zero_gradients)

    @property
    def zero_value_layers(self) -> tuple[LayerCheck, ...]:
        """Layers whose output (a network output) or input gradient (the network input's) is identically zero."""
        return tuple(layer for layer in self.layers if layer.zero_values)

    @property
    def analysed_macs(self) -> int:
        return sum(layer.macs.analysed for layer in self.layers)

    @property
    def counted_macs(self) -> int:
        return sum(layer.macs.measured for layer in self.layers)

    @property
    def backward_macs(self) -> int:
        return sum(layer.backward_macs or 0 for layer in self.layers)

    @property
    def forward_seconds(self) -> float:
        return sum(layer.forward_seconds for layer in self.layers)

    @property
    def backward_seconds(self) -> float:
        return sum(layer.backward_seconds or 0.0 for layer in self.layers)

    @property
    def worst_gradcheck(self) -> float | None:
        """The worst layer's figure (NaN when any layer's check met a non-finite value)."""
        errors = [layer.gradcheck_error for layer in self.layers if layer.gradcheck_error is not None]
        if any(e != e for e in errors):
            return float("nan")
        return max(errors) if errors else None


def measured_shape(produced: tuple[int, ...], batch: int) -> Shape:
    """The engine's NCHW (or (N, F)) shape in the analysis convention, H×W×C (or F), when N is the batch."""
    if len(produced) not in (2, 4) or produced[0] != batch:
        return tuple(produced)
    if len(produced) == 4:
        return (produced[2], produced[3], produced[1])
    return (produced[1],)


def field_pair(row: LayerRow, report: Report, measured: tuple[int, int, int, int] | None) -> Pair | None:
    """The centre unit's input rows and columns, analysed and measured; None where either is missing."""
    if measured is None or row.field is None:
        return None
    analysed = centre_sides(row.field, row.output_shape, report.input_shape)
    return None if analysed is None else Pair(analysed, measured)


def check_layer(
    row: LayerRow,
    run: LayerRun,
    batch: int,
    strict: bool = False,
    field: Pair[tuple[int, int, int, int]] | None = None,
) -> LayerCheck:
    return LayerCheck(
        name=row.name,
        kind=row.kind,
        output_shape=Pair(tuple(row.output_shape), measured_shape(run.output_shape, batch)),
        params=Pair(row.params, run.params_used),
        buffers=Pair(row.buffers, run.buffers_used),
        macs=Pair(row.macs, run.forward_macs),
        activation_bytes=Pair(row.activation_bytes, run.output_nbytes),
        forward_seconds=run.forward_seconds,
        backward_macs=run.backward_macs,
        backward_seconds=run.backward_seconds,
        gradient_problems=run.gradient_problems,
        gradcheck_error=run.gradcheck_error,
        backward=None
        if run.backward_macs is None
        else Pair(row.backward_macs + row.skipped_input_macs, run.backward_macs),
        live_bytes=None if run.live_bytes is None else Pair(row.live_bytes, run.live_bytes),
        gradcheck=run.gradcheck,
        nonfinite=run.nonfinite,
        zero_gradients=run.zero_gradients,
        zero_output=run.zero_output,
        zero_input_gradient=run.zero_input_gradient,
        strict=strict,
        field=field,
    )


def compare(
    report: Report,
    run: Run,
    *,
    seed: int = 0,
    backward: bool = True,
    gradcheck: int = 0,
    strict: bool = False,
    fields: dict[str, tuple[int, int, int, int]] | None = None,
) -> Verification:
    """One LayerCheck per analysed layer, matched to the reference pass by name and order; with `strict` a weight
    whose gradient is identically zero, an identically zero network output or input gradient, fails its layer
    instead of being a warning; with `fields` (from
    `netcalc.reference.field.measure_fields`) each layer's receptive field is checked too."""
    if [r.name for r in report.layers] != [r.name for r in run.layers]:
        raise ValueError("the analysis and the reference pass do not cover the same layers")
    measured = fields or {}
    return Verification(
        name=report.name,
        input_shape=report.input_shape,
        batch=report.batch,
        dtype=report.dtype,
        seed=seed,
        backward=backward,
        gradcheck=gradcheck,
        layers=tuple(
            check_layer(r, m, report.batch, strict, field_pair(r, report, measured.get(r.name)))
            for r, m in zip(report.layers, run.layers)
        ),
    )
