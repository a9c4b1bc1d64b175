"""The finished analysis: one frozen row per layer, totals derived from the rows.

Renderers read only this. Totals are properties over the rows, so they cannot disagree with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from netcalc.analysis.field import Field
from netcalc.analysis.memory import TrainingState
from netcalc.errors import NetcalcError, excerpt
from netcalc.network import Group
from netcalc.shapes import Shape

DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
# figures a row has and the totals sum
FIGURES = (
    "params",
    "buffers",
    "macs",
    "flops",
    "activation_bytes",
    "param_bytes",
    "backward_input_macs",
    "backward_weight_macs",
    "backward_flops",
    "saved_bytes",
)
# figures whose total is the largest row's: memory at one moment, not a sum over layers
PEAKS = ("live_bytes", "training_bytes")
# the names users write (budget keys, compare columns) -> the Report/LayerRow field each one means
FIGURE_NAMES: dict[str, str] = {
    "params": "params",
    "macs": "macs",
    "flops": "flops",
    "activation_memory": "activation_bytes",
    "param_memory": "param_bytes",
    "peak_memory": "live_bytes",
    "backward_macs": "backward_macs",
    "saved_memory": "saved_bytes",
    "training_memory": "training_bytes",
    "receptive_field": "receptive_field",
}
BYTE_NAMES = frozenset({"activation_memory", "param_memory", "peak_memory", "saved_memory", "training_memory"})
# the figures a layer of kind `unknown` (counted as 0) makes lower bounds: what depends on its parameters or its
# work; activation and peak memory come from the output shapes, which are known, and a receptive field is not
# known at all past such a layer
PARTIAL_FIGURES = frozenset(
    {"params", "macs", "flops", "param_memory", "backward_macs", "saved_memory", "training_memory"}
)

CONVENTIONS = {
    "params": "weights + biases + batch-norm scale and shift; running statistics are `buffers`",
    "macs": "multiply-accumulates of conv, conv_transpose and fc for the whole batch; bias excluded",
    "flops": "2·MACs + elementwise work (bias, batch norm, activations, pooling, add, softmax, LRN) for the batch",
    "activation_bytes": "bytes of each layer's output tensor for the batch and dtype, summed over layers (an upper "
    "bound: no run holds them all); a fused activation adds none",
    "param_bytes": "parameters × bytes of the dtype (buffers not included)",
    "live_bytes": "inference: bytes of the tensors alive while the layer runs (input included; views, inference "
    "dropout and in-place relu/relu6/leaky_relu/add add no tensor); the total is the peak",
    "receptive_field": "input pixels one unit sees per axis (size), input pixels between units (jump), input "
    "coordinate of unit 0's centre (start); the total is the output's smaller side",
    "backward_input_macs": "MACs of dL/dx (none for a layer reading only the network input)",
    "backward_weight_macs": "MACs of dL/dw",
    "backward_macs": "backward_input_macs + backward_weight_macs",
    "backward_flops": "2·backward MACs + the layer's elementwise FLOPs, for layers autograd records",
    "saved_bytes": "bytes autograd keeps for backward (PyTorch's convention per kind; parameters and buffers "
    "excluded; a tensor saved by several layers counted at the first)",
    "training_bytes": "training memory while the layer's backward runs: weights, buffers, master weights, "
    "optimizer state, saved tensors, activation and weight gradients alive; the total is the peak",
    "partial": "a layer of kind `unknown` (an operator netcalc cannot model) counts 0; its row and the totals are "
    "then marked partial: lower bounds",
}


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    inputs: tuple[str, ...]
    output_shape: Shape
    params: int
    buffers: int
    macs: int
    flops: int
    activation_bytes: int
    param_bytes: int
    notes: tuple[str, ...] = ()
    counted: bool = True  # False for a layer that reaches no output: shown, but not in the totals
    groups: tuple[Group, ...] = ()
    line: int | None = None
    file: str | None = None  # where the layer is written: the spec, or a file it includes
    field: Field | None = None
    field_note: str = ""
    live_bytes: int = 0
    backward_input_macs: int = 0
    backward_weight_macs: int = 0
    skipped_input_macs: int = 0  # dL/dx a training step does not need (verify's reference pass computes it)
    backward_flops: int = 0
    saved_bytes: int = 0
    training_bytes: int = 0

    @property
    def backward_macs(self) -> int:
        return self.backward_input_macs + self.backward_weight_macs

    @property
    def receptive_field(self) -> int:
        """The smaller side of the field (rounded down), 0 when unknown."""
        return self.field.smallest if self.field else 0
    partial: bool = False  # its figures are unknown (kind `unknown`): the row and every total are lower bounds

    @property
    def anchor(self) -> tuple[str | None, int | None]:
        """Where a reviewer should look: the spec line that uses the outermost block or repeat holding this
        layer (a block's own lines are shared by every instance), else the layer's own line."""
        for group in self.groups:
            if group.location is not None:
                return group.location.file, group.location.line
        return self.file, self.line


@dataclass(frozen=True)
class Totals:
    params: int
    buffers: int
    macs: int
    flops: int
    activation_bytes: int
    param_bytes: int
    backward_input_macs: int
    backward_weight_macs: int
    backward_flops: int
    saved_bytes: int
    live_bytes: int  # the inference peak
    training_bytes: int  # the training peak
    receptive_field: int  # the outputs' smallest side
    partial: bool = False  # some row's figures are unknown: these totals are lower bounds

    @classmethod
    def of(cls, rows: tuple[LayerRow, ...], outputs: tuple[str, ...] = ()) -> Totals:
        """Sums over the rows that count (every layer that feeds an output), peaks over all rows, and the
        receptive field of the outputs (the smallest, when there are several; the last row by default)."""
        counted = tuple(r for r in rows if r.counted)
        wanted = set(outputs)
        ends = [r for r in rows if r.name in wanted] or list(rows[-1:])
        return cls(
            **{f: sum(getattr(r, f) for r in counted) for f in FIGURES},
            **{f: max((getattr(r, f) for r in rows), default=0) for f in PEAKS},
            receptive_field=min((r.receptive_field for r in ends), default=0),
            partial=any(r.partial for r in counted),
        )

    @property
    def backward_macs(self) -> int:
        return self.backward_input_macs + self.backward_weight_macs

    @property
    def peak_bytes(self) -> int:
        return self.live_bytes


@dataclass(frozen=True)
class Report:
    name: str
    input_shape: Shape
    batch: int
    dtype: str
    layers: tuple[LayerRow, ...]
    source: str | None = None
    group_outputs: dict[str, str] = field(default_factory=dict, compare=False)
    input_bytes: int = 0
    training: TrainingState | None = None
    outputs: tuple[str, ...] = ()  # the network's output layers; () means its last layer

    @cached_property
    def totals(self) -> Totals:
        return Totals.of(self.layers, self.output_names)

    def peak_layer(self, figure: str = "live_bytes") -> str | None:
        """The first layer where a peak figure (`live_bytes`, `training_bytes`) is reached."""
        if not isinstance(figure, str) or figure not in PEAKS:  # a sum such as macs has no peak layer
            raise NetcalcError(f"peak_layer takes a peak figure ({', '.join(PEAKS)}), got {excerpt(figure)}")
        if not self.layers:
            return None
        return max(self.layers, key=lambda row: getattr(row, figure)).name

    @property
    def output_field(self) -> Field | None:
        """The first output's receptive field."""
        fields = {row.name: row.field for row in self.layers}
        return fields.get(self.output_names[0]) if self.layers else None

    @cached_property
    def output_names(self) -> tuple[str, ...]:
        if self.outputs:
            return self.outputs
        return (self.layers[-1].name,) if self.layers else ()

    @cached_property
    def output_shapes(self) -> tuple[Shape, ...]:
        """The shape of each output, in the order of `outputs`."""
        shapes = {row.name: row.output_shape for row in self.layers}
        return tuple(shapes[name] for name in self.output_names) or (self.input_shape,)

    @property
    def output_shape(self) -> Shape:
        """The shape of the first (usually the only) output."""
        return self.output_shapes[0]

    @property
    def notes(self) -> tuple[tuple[str, str], ...]:
        return tuple((row.name, note) for row in self.layers for note in row.notes)

    def collapsed(self, depth: int | None) -> tuple[LayerRow, ...]:
        """Rows as seen `depth` levels deep: depth 1 folds every top-level block or repeat into one row
        (as torchinfo's depth), depth 2 shows one level inside them, None shows every layer."""
        if depth is None:
            return self.layers
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise NetcalcError(f"depth must be a whole number ≥ 1 (or None for every layer), got {excerpt(depth)}")
        order: list[LayerRow | Group] = []
        members: dict[str, list[LayerRow]] = {}
        for row in self.layers:
            if len(row.groups) < depth:
                order.append(row)
                continue
            group = row.groups[depth - 1]
            if group.name not in members:
                members[group.name] = []
                order.append(group)
            members[group.name].append(row)
        return tuple(
            item if isinstance(item, LayerRow) else _fold(item, members[item.name], self.group_outputs)
            for item in order
        )


def _fold(group: Group, rows: list[LayerRow], group_outputs: dict[str, str]) -> LayerRow:
    """One row standing for a whole block instance or repeat: figures summed, shape of its output layer."""
    totals = Totals.of(tuple(rows))
    inside = {r.name: r for r in rows}
    output = inside.get(group_outputs.get(group.name, ""), rows[-1])
    return LayerRow(
        name=group.name,
        kind=group.label,
        inputs=tuple(dict.fromkeys(i for r in rows for i in r.inputs if i not in inside)),
        output_shape=output.output_shape,
        notes=tuple(n for r in rows for n in r.notes),
        counted=any(r.counted for r in rows),
        groups=rows[0].groups[: rows[0].groups.index(group)],
        line=rows[0].line,
        file=rows[0].file,
        field=output.field,
        field_note=output.field_note,
        skipped_input_macs=sum(r.skipped_input_macs for r in rows),
        partial=totals.partial,
        **{f: getattr(totals, f) for f in FIGURES + PEAKS},
    )
