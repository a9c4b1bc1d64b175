"""`netcalc summary` output: a table, JSON, CSV or Markdown, each a function of the Report alone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from netcalc.analysis.report import CONVENTIONS, FIGURES, LayerRow, Report
from netcalc.render.console import Table, Text, printed, text_console
from netcalc.render.units import human_bytes, human_count, share_bar
from netcalc.shapes import format_shape

SCHEMA_VERSION = 1
NARROW = 100  # columns below which the table leaves out the MACs-share bar
COLUMNS = ("name", "kind", "inputs", "output_shape", *FIGURES, "partial")
PARTIAL = "≥"  # prefixed to a figure that is a lower bound (a layer of kind `unknown` counts 0)


def bound(text: str, partial: bool) -> str:
    """`text`, marked as a lower bound when the figures it sums are partial."""
    return f"{PARTIAL}{text}" if partial else text


def row_dict(row: LayerRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "inputs": list(row.inputs),
        "output_shape": list(row.output_shape),
        **{f: getattr(row, f) for f in FIGURES},
        "block": row.groups[0].name if row.groups else None,
        "file": row.file,
        "line": row.line,
        "notes": list(row.notes),
        "partial": row.partial,
        "counted": row.counted,
    }


def report_dict(report: Report, depth: int | None = None) -> dict[str, Any]:
    """The JSON contract (schema_version 1): exact integers, conventions stated."""
    totals = report.totals
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
        "layers": [row_dict(row) for row in report.collapsed(depth)],
        "totals": {f: getattr(totals, f) for f in FIGURES} | {"partial": totals.partial},
    }


def to_json(report: Report, depth: int | None = None) -> str:
    return json.dumps(report_dict(report, depth), indent=2, ensure_ascii=False) + "\n"


def to_csv(report: Report, depth: int | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.collapsed(depth):
        writer.writerow(
            [row.name, row.kind, " ".join(row.inputs), "x".join(map(str, row.output_shape))]
            + [getattr(row, f) for f in FIGURES]
            + [int(row.partial)]
        )
    totals = report.totals
    shapes = " ".join("x".join(map(str, shape)) for shape in report.output_shapes)
    writer.writerow(["TOTAL", "", "", shapes] + [getattr(totals, f) for f in FIGURES] + [int(totals.partial)])
    return out.getvalue()


def to_markdown(report: Report, depth: int | None = None) -> str:
    header = ["Layer", "Kind", "Output", "Params", "MACs", "FLOPs", "Activations (B)"]
    lines = [
        f"**{report.name}** — input {format_shape(report.input_shape)}, batch {report.batch}, {report.dtype}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * 4) + "|",
    ]
    for row in report.collapsed(depth):
        cells = [f"`{row.name}`", row.kind, format_shape(row.output_shape)]
        cells += [bound(f"{v:,}", row.partial) for v in (row.params, row.macs, row.flops, row.activation_bytes)]
        lines.append("| " + " | ".join(cells) + " |")
    t = report.totals
    cells = ["**Total**", "", ", ".join(map(format_shape, report.output_shapes))]
    cells += [f"**{bound(f'{v:,}', t.partial)}**" for v in (t.params, t.macs, t.flops, t.activation_bytes)]
    lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Parameter memory: {t.param_bytes:,} B ({human_bytes(t.param_bytes)}); buffers: {t.buffers:,}."]
    if len(report.output_names) > 1:
        lines.append("Outputs: " + ", ".join(f"`{n}` {format_shape(s)}" for n, s in _outputs(report)) + ".")
    lines += [f"- ⚠ `{name}`: {note}" for name, note in report.notes]
    if t.partial:
        lines += ["", f"{PARTIAL} partial: {_partial_note(report)}"]
    return "\n".join(lines) + "\n"


def to_table(report: Report, depth: int | None = None, *, width: int | None = None, color: bool = False) -> str:
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
    params, macs = (bound(human_count(n), totals.partial) for n in (totals.params, totals.macs))
    table.add_column("Params", footer=params, justify="right", no_wrap=True, min_width=7)
    table.add_column("MACs", footer=macs, justify="right", no_wrap=True, min_width=7)
    table.add_column("Memory", footer=human_bytes(totals.activation_bytes), justify="right", no_wrap=True, min_width=10)
    with_bar = width is None or width >= NARROW
    if with_bar:
        table.add_column("MACs share", no_wrap=True)
    for row in report.collapsed(depth):
        share = row.macs / totals.macs if totals.macs else 0.0
        name = Text(row.name, style="yellow") if row.notes else row.name
        cells = [
            name,
            row.kind,
            format_shape(row.output_shape),
            "?" if row.partial else human_count(row.params) if row.params else "—",
            "?" if row.partial else human_count(row.macs) if row.macs else "—",
            human_bytes(row.activation_bytes),
        ]
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
