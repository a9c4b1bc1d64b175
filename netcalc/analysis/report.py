"""The finished analysis: one frozen row per layer, totals derived from the rows.

Renderers read only this. Totals are properties over the rows, so they cannot disagree with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from netcalc.network import Group
from netcalc.shapes import Shape

DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
FIGURES = ("params", "buffers", "macs", "flops", "activation_bytes", "param_bytes")
# the names users write (budget keys, compare columns) -> the Report/LayerRow field each one means
FIGURE_NAMES: dict[str, str] = {
    "params": "params",
    "macs": "macs",
    "flops": "flops",
    "activation_memory": "activation_bytes",
    "param_memory": "param_bytes",
}

CONVENTIONS = {
    "params": "weights + biases + batch-norm scale and shift; running statistics are `buffers`",
    "macs": "multiply-accumulates of conv, conv_transpose and fc for the whole batch; bias excluded",
    "flops": "2·MACs + elementwise work (bias, batch norm, activations, pooling, add, softmax, LRN) for the batch",
    "activation_bytes": "bytes of each layer's output tensor for the batch and dtype; a fused activation adds none",
    "param_bytes": "parameters × bytes of the dtype (buffers not included)",
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
    partial: bool = False  # some row's figures are unknown: these totals are lower bounds

    @classmethod
    def of(cls, rows: tuple[LayerRow, ...]) -> Totals:
        """The sums over the rows that count: every layer that feeds an output."""
        counted = tuple(r for r in rows if r.counted)
        return cls(**{f: sum(getattr(r, f) for r in counted) for f in FIGURES}, partial=any(r.partial for r in counted))


@dataclass(frozen=True)
class Report:
    name: str
    input_shape: Shape
    batch: int
    dtype: str
    layers: tuple[LayerRow, ...]
    source: str | None = None
    group_outputs: dict[str, str] = field(default_factory=dict, compare=False)
    outputs: tuple[str, ...] = ()  # the network's output layers; () means its last layer

    @cached_property
    def totals(self) -> Totals:
        return Totals.of(self.layers)

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
        partial=totals.partial,
        **{f: getattr(totals, f) for f in FIGURES},
    )
