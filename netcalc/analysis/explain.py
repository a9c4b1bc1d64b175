"""`netcalc explain`: one layer's figures with the arithmetic written out and its numbers substituted.

Pure: a Network, its Report and a layer name in; an Explanation (sections of labelled lines) out.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcalc.analysis.field import INPUT_FIELD, Field, fraction_text
from netcalc.analysis.report import Report
from netcalc.errors import NetcalcError, did_you_mean
from netcalc.kinds import REGISTRY
from netcalc.network import INPUT, Network
from netcalc.shapes import format_shape, numel

Lines = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Explanation:
    layer: str
    kind: str
    where: str
    sections: tuple[tuple[str, Lines], ...]


def _field_lines(field_in: Field, windows: tuple, field: Field) -> Lines:
    lines = []
    for axis, name in enumerate(("height", "width")):
        r, j, c, w = field_in.size[axis], field_in.jump[axis], field_in.start[axis], windows[axis]
        t = fraction_text
        lines.append(
            (
                f"field {name}",
                f"size {t(r)} + {t(w.span)}·{t(j)} = {t(field.size[axis])}; jump {t(j)}·{t(w.stride)} = "
                f"{t(field.jump[axis])}; unit 0 centred at {t(c)} + ({t(w.offset)})·{t(j)} = {t(field.start[axis])}",
            )
        )
    return tuple(lines)


def explain(network: Network, report: Report, name: str) -> Explanation:
    layers = {layer.name: layer for layer in network.layers}
    if name not in layers:
        raise NetcalcError(f"no layer {name!r} in {network.name}{did_you_mean(name, layers)}")
    layer, rows = layers[name], {row.name: row for row in report.layers}
    row, kind = rows[name], REGISTRY[layers[name].kind]
    shapes = {INPUT: report.input_shape, **{r.name: r.output_shape for r in report.layers}}
    ins, out = tuple(shapes[i] for i in layer.inputs), row.output_shape
    batch = report.batch
    size = row.activation_bytes // max(1, batch * numel(out))
    per = (lambda v: f"{v // batch:,} per sample · batch {batch} = {v:,}") if batch > 1 else (lambda v: f"{v:,}")

    shape: list[tuple[str, str]] = [
        ("input", ", ".join(f"{i} {format_shape(s)}" for i, s in zip(layer.inputs, ins))),
        ("output", format_shape(out)),
    ]
    shape += kind.explain(layer.attrs, ins, out) if kind.explain else ()
    weights = kind.weights(layer.attrs, ins)
    if weights:
        parts = " + ".join(f"{numel(s):,} ({n})" for n, s in weights.items())
        shape.append(("parameters", f"{parts} = {row.params:,}" if len(weights) > 1 else f"{row.params:,}"))
    cost = [
        ("MACs", per(row.macs)),
        ("FLOPs", f"2·{row.macs:,} + {row.flops - 2 * row.macs:,} ({kind.flops_rule or 'none'}) = {row.flops:,}"),
    ]
    memory = [
        ("output", f"{numel(out):,} elements · {size} B · batch {batch} = {row.activation_bytes:,} B"),
        (
            "live",
            f"{row.live_bytes:,} B alive while it runs (the network's peak: {report.totals.live_bytes:,} B at "
            f"{report.peak_layer()})",
        ),
    ]
    if row.params:
        memory.append(("parameters", f"{row.params:,} · {size} B = {row.param_bytes:,} B"))
    field: Lines = ()
    if row.field is not None:
        windows = kind.geometry(layer.attrs, ins, out)
        arriving = [
            (i, rows[i].field if i in rows else INPUT_FIELD, w) for i, w in zip(layer.inputs, windows) if w is not None
        ]
        chosen = next(((f, w) for _, f, w in arriving if f is not None and f.through(w) == row.field), None)
        if chosen is not None:
            field = _field_lines(chosen[0], chosen[1], row.field)
        if row.field_note:
            field += (("branches", row.field_note),)
    backward = (
        ("dL/dx MACs", f"{row.backward_input_macs:,}" + ("" if not row.skipped_input_macs else " (no input gradient)")),
        ("dL/dw MACs", f"{row.backward_weight_macs:,}"),
        ("FLOPs", f"{row.backward_flops:,}"),
        ("saved", f"{row.saved_bytes:,} B first kept by this layer for backward ({kind.saved_rule})"),
        ("training", f"{row.training_bytes:,} B in memory while its backward runs"),
    )
    where = f"{layer.location.file or network.source or ''}:{layer.location.line or ''}".strip(":")
    return Explanation(
        name,
        layer.kind,
        where,
        (
            ("shape and parameters", tuple(shape)),
            ("cost", tuple(cost)),
            ("memory", tuple(memory)),
            ("receptive field", field),
            ("backward", backward),
        ),
    )
