"""`netcalc summary` output: a table, JSON, CSV or Markdown, each a function of the Report alone."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from netcalc.analysis.field import Field, fraction_text, pair_text
from netcalc.analysis.report import CONVENTIONS, FIGURES, PEAKS, LayerRow, Report
from netcalc.render import markdown
from netcalc.render.console import Table, Text, printed, text_console
from netcalc.render.jsontext import json_document
from netcalc.render.units import human_bytes, human_count, share_bar
from netcalc.shapes import format_shape

SCHEMA_VERSION = 1
NARROW = 100  # columns below which the table leaves out the MACs-share bar
FIELD_COLUMNS = ("field_h", "field_w", "jump_h", "jump_w", "start_h", "start_w")
COLUMNS = ("name", "kind", "inputs", "output_shape", *FIGURES, *PEAKS, *FIELD_COLUMNS, "partial")
# column groups a user can ask the table and Markdown for (`--columns cost,field`); JSON and CSV carry everything
GROUPS = ("cost", "field", "memory", "train")
DEFAULT_GROUPS = ("cost",)
PARTIAL = "≥"  # prefixed to a figure that is a lower bound (a layer of kind `unknown` counts 0)


def bound(text: str, partial: bool) -> str:
    """`text`, marked as a lower bound when the figures it sums are partial."""
    return f"{PARTIAL}{text}" if partial else text


def _exact(value: Any) -> int | str:
    """A Fraction as JSON: a whole number as an int, else the exact text `a/b`."""
    return value.numerator if value.denominator == 1 else fraction_text(value)


def field_dict(field: Field | None, note: str = "") -> dict[str, Any] | None:
    if field is None:
        return None
    return {
        "size": [_exact(v) for v in field.size],
        "jump": [_exact(v) for v in field.jump],
        "start": [_exact(v) for v in field.start],
        "note": note or None,
    }


def _field_cells(field: Field | None) -> list[str]:
    if field is None:
        return [""] * len(FIELD_COLUMNS)
    return [fraction_text(v) for pair in (field.size, field.jump, field.start) for v in pair]


_row_figures = attrgetter(*FIGURES, *PEAKS)


def row_dict(row: LayerRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "inputs": list(row.inputs),
        "output_shape": list(row.output_shape),
        **dict(zip(FIGURES + PEAKS, _row_figures(row))),
        "receptive_field": field_dict(row.field, row.field_note),
        "block": row.groups[0].name if row.groups else None,
        "file": row.file,
        "line": row.line,
        "notes": list(row.notes),
        "partial": row.partial,
        "counted": row.counted,
    }


def training_dict(report: Report) -> dict[str, Any] | None:
    state, totals = report.training, report.totals
    if state is None:
        return None
    return {
        "optimizer": state.optimizer,
        "weights": state.weights,
        "buffers": state.buffers,
        "master_weights": state.master,
        "optimizer_state": state.optimizer_state,
        "gradients": state.gradients,
        "saved_activations": totals.saved_bytes,
        "peak": totals.training_bytes,
        "peak_layer": report.peak_layer("training_bytes"),
    }


def report_dict(report: Report, depth: int | None = None, columns: tuple[str, ...] = DEFAULT_GROUPS) -> dict[str, Any]:
    """The JSON contract (schema_version 1): exact integers (exact `a/b` text for a fractional field), conventions
    stated."""
    return _document(report, depth, [row_dict(row) for row in report.collapsed(depth)])


def _document(report: Report, depth: int | None, layers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The report's JSON object around `layers` (a list, or rows made as they are written)."""
    totals = report.totals
    output = report.layers[-1] if report.layers else None
    return {
        "schema_version": SCHEMA_VERSION,
        "name": report.name,
        "source": report.source,
        "input": list(report.input_shape),
        "batch": report.batch,
        "dtype": report.dtype,
        "output_shape": list(report.output_shape),
        "outputs": [{"name": n, "shape": list(s)} for n, s in zip(report.output_names, report.output_shapes)],
        "conventions": CONVENTIONS,
        "layers": layers,
        "totals": {
            **{f: getattr(totals, f) for f in FIGURES + PEAKS},
            "input_bytes": report.input_bytes,
            "peak_layer": report.peak_layer(),
            "receptive_field": field_dict(output.field, output.field_note) if output else None,
            "partial": totals.partial,
        },
        "training": training_dict(report),
    }


def to_json(report: Report, depth: int | None = None, columns: tuple[str, ...] = DEFAULT_GROUPS) -> str:
    """One line per layer (render/jsontext.py), each row encoded as it is made."""
    return json_document(_document(report, depth, map(row_dict, report.collapsed(depth))), rows=("layers",))


def to_csv(report: Report, depth: int | None = None, columns: tuple[str, ...] = DEFAULT_GROUPS) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.collapsed(depth):
        writer.writerow(
            [row.name, row.kind, " ".join(row.inputs), "x".join(map(str, row.output_shape))]
            + [getattr(row, f) for f in FIGURES + PEAKS]
            + _field_cells(row.field)
            + [int(row.partial)]
        )
    totals = report.totals
    shapes = " ".join("x".join(map(str, shape)) for shape in report.output_shapes)
    writer.writerow(
        ["TOTAL", "", "", shapes]
        + [getattr(totals, f) for f in FIGURES + PEAKS]
        + _field_cells(report.output_field)
        + [int(totals.partial)]
    )
    return out.getvalue()


# column groups: (header, the row/total attribute or field part, unit); Markdown shows exact figures, the
# table human units (and leaves FLOPs to the line below it)
COLUMN_GROUPS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "cost": (
        ("Params", "params", "count"),
        ("MACs", "macs", "count"),
        ("FLOPs", "flops", "count"),
        ("Activations", "activation_bytes", "bytes"),
    ),
    "field": (("Field", "size", "field"), ("Jump", "jump", "field"), ("Start", "start", "field")),
    "memory": (("Live", "live_bytes", "peak"),),
    "train": (
        ("Backward MACs", "backward_macs", "count"),
        ("Saved", "saved_bytes", "bytes"),
        ("Training", "training_bytes", "peak"),
    ),
}
TABLE_ONLY_LEAVES_OUT = ("flops",)


def _chosen(columns: tuple[str, ...], table: bool) -> list[tuple[str, str, str]]:
    return [
        c for g in GROUPS if g in columns for c in COLUMN_GROUPS[g] if not (table and c[1] in TABLE_ONLY_LEAVES_OUT)
    ]


def _cell(report: Report, row: LayerRow | None, column: tuple[str, str, str], exact: bool) -> str:
    """One cell of a row (or, for None, of the totals line)."""
    _, attr, unit = column
    if unit == "field":
        return _field_text(row.field if row else report.output_field, attr)
    value = getattr(row if row else report.totals, attr)
    partial = row.partial if row else report.totals.partial
    if unit == "count" and partial and row is not None and not exact:
        return "?"  # a layer of kind `unknown`: its figures are not known
    if exact:
        text = f"{value:,}"
    elif unit == "count":
        text = human_count(value) if value or not row else "—"
    else:
        text = human_bytes(value)
    text = bound(text, partial and unit == "count")
    if row is None:
        text = f"peak {text}" if unit == "peak" else text
        return f"**{text}**" if exact else text
    return text


def _field_text(field: Field | None, part: str) -> str:
    return "" if field is None else pair_text(getattr(field, part))


def memory_lines(report: Report, train: bool) -> list[str]:
    """The peak (always) and, when training is asked for, what training memory is made of."""
    t = report.totals
    lines = [
        f"peak inference memory {t.live_bytes:,} B ({human_bytes(t.live_bytes)}) at {report.peak_layer()}, "
        f"input included; activations summed over layers {t.activation_bytes:,} B"
    ]
    state = report.training
    if train and state is not None:
        parts = [
            f"weights {human_bytes(state.weights)}",
            f"gradients {human_bytes(state.gradients)}",
            f"{state.optimizer} state {human_bytes(state.optimizer_state)}",
        ]
        if state.master:
            parts.append(f"float32 master weights {human_bytes(state.master)}")
        if state.buffers:
            parts.append(f"buffers {human_bytes(state.buffers)}")
        parts.append(f"saved for backward {human_bytes(t.saved_bytes)}")
        lines.append(
            f"training memory {t.training_bytes:,} B ({human_bytes(t.training_bytes)}) at the backward of "
            f"{report.peak_layer('training_bytes')}: " + ", ".join(parts)
        )
        lines.append(
            f"backward MACs {t.backward_macs:,} (dL/dx {t.backward_input_macs:,}, dL/dw {t.backward_weight_macs:,})"
            f" · backward FLOPs {t.backward_flops:,}"
        )
    return lines


def to_markdown(report: Report, depth: int | None = None, columns: tuple[str, ...] = DEFAULT_GROUPS) -> str:
    chosen = _chosen(columns, table=False)
    header = ["Layer", "Kind", "Output", *(h if unit in ("count", "field") else f"{h} (B)" for h, _, unit in chosen)]
    about = f"input {format_shape(report.input_shape)}, batch {report.batch}, {report.dtype}"
    lines = [
        f"**{markdown.text(report.name)}** — {about}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * len(chosen)) + "|",
    ]
    for row in report.collapsed(depth):
        cells = [markdown.code_cell(row.name), row.kind, format_shape(row.output_shape)]
        lines.append("| " + " | ".join(cells + [_cell(report, row, c, True) for c in chosen]) + " |")
    t = report.totals
    cells = ["**Total**", "", ", ".join(map(format_shape, report.output_shapes))]
    cells += [_cell(report, None, c, True) for c in chosen]
    lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Parameter memory: {t.param_bytes:,} B ({human_bytes(t.param_bytes)}); buffers: {t.buffers:,}."]
    if len(report.output_names) > 1:
        outputs = ", ".join(f"{markdown.code(n)} {format_shape(s)}" for n, s in _outputs(report))
        lines.append(f"Outputs: {outputs}.")
    memory = memory_lines(report, "train" in columns)
    lines += ["", *(markdown.text(f"{line[0].upper()}{line[1:]}.") for line in memory)]
    lines += [f"- ⚠ {markdown.code(name)}: {note}" for name, note in report.notes]
    if t.partial:
        lines += ["", f"{PARTIAL} partial: {_partial_note(report)}"]
    return "\n".join(lines) + "\n"


def to_table(
    report: Report,
    depth: int | None = None,
    columns: tuple[str, ...] = DEFAULT_GROUPS,
    *,
    width: int | None = None,
    color: bool = False,
) -> str:
    """A box-drawn table (render/console.py): names give way in a narrow terminal, figures never do."""

    totals = report.totals
    title = f"{report.name} — input {format_shape(report.input_shape)}, batch {report.batch}, {report.dtype}"
    table = Table(title=title, title_justify="left", show_footer=True, header_style="bold", footer_style="bold")
    table.add_column("Layer", footer="Total", overflow="ellipsis")
    table.add_column("Kind", overflow="ellipsis")
    # The figures never shrink (no_wrap); names and the
    # share bar give way first, and the bar is left out when the terminal is too narrow for it.
    several = len(report.output_names) > 1
    output_footer = f"{len(report.output_names)} outputs" if several else format_shape(report.output_shape)
    table.add_column("Output", footer=output_footer, justify="right", no_wrap=True, min_width=9)
    chosen = _chosen(columns, table=True)
    for column in chosen:
        footer = _cell(report, None, column, False)
        header = "Memory" if column[1] == "activation_bytes" else column[0]
        table.add_column(header, footer=footer, justify="right", no_wrap=True, min_width=max(7, len(footer)))
    with_bar = "cost" in columns and (width is None or width >= NARROW)
    if with_bar:
        table.add_column("MACs share", no_wrap=True)
    for row in report.collapsed(depth):
        share = row.macs / totals.macs if totals.macs else 0.0
        name = Text(row.name, style="yellow") if row.notes else row.name
        cells = [name, row.kind, format_shape(row.output_shape)] + [_cell(report, row, c, False) for c in chosen]
        if with_bar:
            cells.append(f"{share_bar(share)} {share:5.1%}" if row.macs else "")
        table.add_row(*cells)
    console = text_console(width, color)
    console.print(table)
    mark = PARTIAL if totals.partial else ""
    console.print(
        f"params {mark}{totals.params:,} ({human_bytes(totals.param_bytes)} as {report.dtype}), "
        f"buffers {mark}{totals.buffers:,} · MACs {mark}{totals.macs:,} · FLOPs {mark}{totals.flops:,} · "
        f"activations {totals.activation_bytes:,} B"
    )
    if several:
        console.print("outputs: " + ", ".join(f"{n} {format_shape(s)}" for n, s in _outputs(report)))
    for line in memory_lines(report, "train" in columns):
        console.print(line)
    if "field" in columns:
        for row in report.collapsed(depth):
            if row.field_note:
                console.print(f"field {row.name}: {row.field_note}")
    for name, note in report.notes:
        console.print(Text("note", style="yellow"), f"{name}: {note}")
    if totals.partial:
        console.print(Text("partial", style="yellow"), _partial_note(report))
    return printed(console)


def _partial_note(report: Report) -> str:
    unknown = [row.name for row in report.layers if row.partial]
    listing = ", ".join(unknown[:5]) + (", …" if len(unknown) > 5 else "")
    return f"every total is a lower bound: {len(unknown)} layer(s) of unknown cost counted as 0 ({listing})"


def _outputs(report: Report) -> list[tuple[str, tuple[int, ...]]]:
    return list(zip(report.output_names, report.output_shapes))


def warnings(report: Report) -> list[str]:
    """The notes as one-line warnings, for formats that have no place for them (CSV) or are read by programs."""
    return [f"layer '{name}': {note}" for name, note in report.notes]


RENDERERS: dict[str, Callable[..., str]] = {
    "table": to_table,
    "json": to_json,
    "csv": to_csv,
    "markdown": to_markdown,
}
