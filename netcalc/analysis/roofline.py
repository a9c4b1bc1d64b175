"""Roofline estimates: how long each layer takes on a device, from its FLOPs and the bytes it moves.

A layer runs no faster than its compute allows (FLOPs / peak FLOP/s) nor than its memory traffic allows
(bytes moved / bandwidth), so its time is estimated as the larger of the two (Williams, Waterman & Patterson,
"Roofline", CACM 2009). Bytes moved are the layer's inputs, its weights and buffers, and its output, each read
or written once in the report's dtype — the traffic of a layer that keeps nothing in cache between layers.
Arithmetic intensity is FLOPs per byte moved; a layer whose intensity is below the device's ridge point
(peak / bandwidth) is memory-bound. Optional efficiency factors scale the peaks down to what a real kernel
reaches. Pure arithmetic over a finished Report: no NumPy, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netcalc.analysis.report import DTYPE_BYTES, Report
from netcalc.errors import NetcalcError
from netcalc.network import INPUT
from netcalc.shapes import numel


@dataclass(frozen=True)
class Device:
    """A device profile: peak FLOP/s per dtype, memory bandwidth (bytes/s) and where the figures come from."""

    name: str
    peak_flops: Mapping[str, float]
    memory_bandwidth: float
    compute_efficiency: float = 1.0
    memory_efficiency: float = 1.0
    description: str = ""
    source: str = ""
    file: str | None = field(default=None, compare=False)

    def peak(self, dtype: str) -> float:
        """Reachable FLOP/s for `dtype` (the peak times the compute efficiency)."""
        if dtype not in self.peak_flops:
            known = ", ".join(self.peak_flops) or "none"
            raise NetcalcError(f"device '{self.name}' has no peak for {dtype} (it has: {known}); choose --dtype")
        return self.peak_flops[dtype] * self.compute_efficiency

    @property
    def bandwidth(self) -> float:
        """Reachable bytes/s (the bandwidth times the memory efficiency)."""
        return self.memory_bandwidth * self.memory_efficiency

    def ridge(self, dtype: str) -> float:
        """The arithmetic intensity (FLOPs/byte) above which a layer is compute-bound."""
        return self.peak(dtype) / self.bandwidth


@dataclass(frozen=True)
class LayerEstimate:
    name: str
    kind: str
    flops: int
    bytes_moved: int
    seconds: float

    compute_seconds: float
    memory_seconds: float
    partial: bool = False  # a layer of kind `unknown` (or a group holding one): every figure is a lower bound

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved (0 for a layer that moves nothing)."""
        return self.flops / self.bytes_moved if self.bytes_moved else 0.0

    @property
    def bound(self) -> str:
        return "compute" if self.compute_seconds >= self.memory_seconds else "memory"


@dataclass(frozen=True)
class Roofline:
    device: Device
    dtype: str
    layers: tuple[LayerEstimate, ...]

    @property
    def seconds(self) -> float:
        return sum(layer.seconds for layer in self.layers)

    @property
    def flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    @property
    def bytes_moved(self) -> int:
        return sum(layer.bytes_moved for layer in self.layers)

    @property
    def partial(self) -> bool:
        """Some layer's figures are unknown (kind `unknown`, counted as 0): the totals are lower bounds."""
        return any(layer.partial for layer in self.layers)


def bytes_moved(report: Report) -> dict[str, int]:
    """Per layer: its inputs read, its weights and buffers read, its output written, in the report's dtype."""
    size = DTYPE_BYTES[report.dtype]
    out_bytes = {INPUT: report.batch * numel(report.input_shape) * size}
    moved = {}
    for row in report.layers:
        reads = sum(out_bytes[name] for name in row.inputs) + (row.params + row.buffers) * size
        moved[row.name] = reads + row.activation_bytes
        out_bytes[row.name] = row.activation_bytes
    return moved


def folded(report: Report, roofline: Roofline, depth: int | None) -> tuple[LayerEstimate, ...]:
    """The estimates as `report.collapsed(depth)` shows the rows: each block or repeat below `depth` one row
    whose FLOPs, bytes and seconds are its layers' sums (None: every layer)."""
    if depth is None:
        return roofline.layers
    groups: dict[str, list[LayerEstimate]] = {}
    labels: dict[str, str] = {}
    for row, layer in zip(report.layers, roofline.layers, strict=True):
        if len(row.groups) >= depth:
            group = row.groups[depth - 1]
            key, labels[group.name] = group.name, group.label
        else:
            key, labels[row.name] = row.name, row.kind
        groups.setdefault(key, []).append(layer)
    return tuple(
        members[0]
        if len(members) == 1 and members[0].name == key
        else LayerEstimate(
            key,
            labels[key],
            sum(m.flops for m in members),
            sum(m.bytes_moved for m in members),
            sum(m.seconds for m in members),
            sum(m.compute_seconds for m in members),
            sum(m.memory_seconds for m in members),
            any(m.partial for m in members),
        )
        for key, members in groups.items()
    )


def estimate(report: Report, device: Device) -> Roofline:
    """Every layer's estimated time on `device`: max(FLOPs / peak, bytes moved / bandwidth)."""
    peak, bandwidth = device.peak(report.dtype), device.bandwidth
    moved = bytes_moved(report)
    layers = []
    for row in report.layers:
        compute, memory = row.flops / peak, moved[row.name] / bandwidth
        layers.append(
            LayerEstimate(
                row.name, row.kind, row.flops, moved[row.name], max(compute, memory), compute, memory, row.partial
            )
        )
    return Roofline(device, report.dtype, tuple(layers))


@dataclass(frozen=True)
class TimedLayer:
    """A layer's roofline estimate beside the time a run really took."""

    name: str
    kind: str
    bound: str
    estimated: float
    measured: float

    @property
    def ratio(self) -> float:
        """measured / estimated: 1 is a perfect estimate, 3 a run three times slower than its roofline."""
        return self.measured / self.estimated if self.estimated else float("inf")


def held_against(roofline: Roofline, measured: Mapping[str, float]) -> tuple[TimedLayer, ...]:
    """Each layer's estimate beside its measured seconds (`measured` by layer name; layers it lacks are left out)."""
    return tuple(
        TimedLayer(layer.name, layer.kind, layer.bound, layer.seconds, measured[layer.name])
        for layer in roofline.layers
        if layer.name in measured
    )
