"""`netcalc compare` output: a table, JSON, CSV or Markdown, each a function of the Comparison alone.

Table and Markdown show human units (K/M/G, KiB/MiB); JSON and CSV carry the exact integers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from netcalc.analysis.compare import FIGURES, PARTIAL_COLUMNS, RATIO_COLUMNS, CompareRow, Comparison, Largest
from netcalc.analysis.report import CONVENTIONS
from netcalc.render import markdown
from netcalc.render.console import Table, printed, text_console
from netcalc.render.jsontext import json_document
from netcalc.render.summary import PARTIAL, bound
from netcalc.render.units import human_bytes, human_count
from netcalc.shapes import format_shape

SCHEMA_VERSION = 1
DEPTH_CONVENTION = "layers with both parameters and MACs (conv, conv_transpose, fc); batch norm does not count"
HEADERS = {
    "params": "Params",
    "macs": "MACs",
    "flops": "FLOPs",
    "activation_memory": "Activations",
    "param_memory": "Param memory",
    "peak_memory": "Peak memory",
    "training_memory": "Training memory",
    "receptive_field": "Field",
    "depth": "Depth",
}
BYTE_COLUMNS = ("activation_memory", "param_memory", "peak_memory", "saved_memory", "training_memory")
PLAIN_COLUMNS = ("depth", "receptive_field")


def _human(column: str, value: int) -> str:
    if column in BYTE_COLUMNS:
        return human_bytes(value)
    return str(value) if column in PLAIN_COLUMNS else human_count(value)


def _ratio_text(ratio: float | None, mark: str = "") -> str:
    return "—" if ratio is None else f"{mark}{ratio:.2f}×"


def _ratio_mark(comparison: Comparison, row: CompareRow, column: str) -> str:
    """A lower bound over an exact figure is a lower bound (`≥`), an exact one over a lower bound an upper bound
    (`≤`); two lower bounds say nothing (`?`)."""
    base = comparison.baseline
    if base is None or row is base:
        return ""
    mine, theirs = row.is_partial(column), base.is_partial(column)
    return "?" if mine and theirs else PARTIAL if mine else "≤" if theirs else ""


def _cell(comparison: Comparison, row: CompareRow, column: str) -> str:
    text = bound(_human(column, row.figure(column)), row.is_partial(column))
    if comparison.baseline is None:
        return text
    mark = _ratio_mark(comparison, row, column)
    ratio = "?" if mark == "?" else _ratio_text(comparison.ratios(row)[column], mark)
    return f"{text} ({ratio})"


def _partial_note(comparison: Comparison) -> str:
    labels = [row.label for row in comparison.rows if row.partial]
    if not labels:
        return ""
    columns = ", ".join(column for column in RATIO_COLUMNS if column in PARTIAL_COLUMNS)
    return (
        f"{PARTIAL} partial: {', '.join(labels)} {'holds' if len(labels) == 1 else 'hold'} layers of unknown cost "
        f"counted as 0; their {columns} are lower bounds"
    )


def _largest_text(largest: Largest | None) -> str:
    return "—" if largest is None else f"{largest.name} ({largest.share:.1%})"


def _label(comparison: Comparison, row: CompareRow) -> str:
    return f"{row.label} (baseline)" if row is comparison.baseline else row.label


def _largest_dict(largest: Largest | None) -> dict[str, Any] | None:
    return None if largest is None else {"layer": largest.name, "value": largest.value, "share": largest.share}


def row_dict(comparison: Comparison, row: CompareRow) -> dict[str, Any]:
    data: dict[str, Any] = {
        "label": row.label,
        "source": row.source,
        "input": list(row.input_shape),
        "batch": row.batch,
        "dtype": row.dtype,
        **{column: row.figure(column) for column in RATIO_COLUMNS},
        "largest_by_params": _largest_dict(row.largest_params),
        "largest_by_macs": _largest_dict(row.largest_macs),
        "partial": row.partial,
        "partial_columns": sorted(c for c in RATIO_COLUMNS if row.is_partial(c)),
    }
    if comparison.baseline is not None:
        data["ratios"] = comparison.ratios(row)
    return data


def to_json(comparison: Comparison) -> str:
    conventions = {column: CONVENTIONS[field] for column, field in FIGURES.items()}
    data = {
        "schema_version": SCHEMA_VERSION,
        "conventions": {**conventions, "depth": DEPTH_CONVENTION},
        "baseline": comparison.baseline.label if comparison.baseline else None,
        "rows": [row_dict(comparison, row) for row in comparison.rows],
    }
    return json_document(data, rows=("rows",))


def to_csv(comparison: Comparison) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    ratios = [f"{column}_ratio" for column in RATIO_COLUMNS] if comparison.baseline else []
    writer.writerow(
        ["label", "source", "input", "batch", "dtype", *RATIO_COLUMNS]
        + ["largest_params_layer", "largest_params", "largest_params_share"]
        + ["largest_macs_layer", "largest_macs", "largest_macs_share", *ratios, "partial"]
    )
    for row in comparison.rows:
        cells: list[Any] = [row.label, row.source or "", "x".join(map(str, row.input_shape)), row.batch, row.dtype]
        cells += [row.figure(column) for column in RATIO_COLUMNS]
        for largest in (row.largest_params, row.largest_macs):
            cells += ["", 0, 0.0] if largest is None else [largest.name, largest.value, f"{largest.share:.6f}"]
        if comparison.baseline:
            cells += ["" if r is None else f"{r:.6f}" for r in comparison.ratios(row).values()]
        writer.writerow([*cells, int(row.partial)])
    return out.getvalue()


def to_markdown(comparison: Comparison) -> str:
    header = ["Network", "Input", *HEADERS.values(), "Largest by params", "Largest by MACs"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * len(HEADERS) + ["---"] * 2) + "|",
    ]
    for row in comparison.rows:
        cells = [f"**{markdown.text_cell(_label(comparison, row))}**", format_shape(row.input_shape)]
        cells += [_cell(comparison, row, column) for column in HEADERS]
        cells += [markdown.code_cell(_largest_text(largest)) for largest in (row.largest_params, row.largest_macs)]
        lines.append("| " + " | ".join(cells) + " |")
    batch = {(row.batch, row.dtype) for row in comparison.rows}
    note = ", ".join(f"batch {b}, {d}" for b, d in sorted(batch))
    suffix = f"; ratios to **{markdown.text(comparison.baseline.label)}**" if comparison.baseline else ""
    lines += ["", f"_{note}; depth = {DEPTH_CONVENTION}{suffix}._"]
    if _partial_note(comparison):
        lines += ["", markdown.text(_partial_note(comparison))]
    return "\n".join(lines) + "\n"


def to_table(comparison: Comparison, *, width: int | None = None, color: bool = False) -> str:
    """A box-drawn table (render/console.py); figures are never cut."""

    table = Table(header_style="bold")
    table.add_column("Network", no_wrap=True)
    table.add_column("Input", justify="right", no_wrap=True)
    for title in HEADERS.values():
        table.add_column(title, justify="right", no_wrap=True)
    table.add_column("Largest by params")
    table.add_column("Largest by MACs")
    for row in comparison.rows:
        table.add_row(
            _label(comparison, row),
            format_shape(row.input_shape),
            *(_cell(comparison, row, column) for column in HEADERS),
            _largest_text(row.largest_params),
            _largest_text(row.largest_macs),
        )
    console = text_console(width, color)
    console.print(table)
    batch = sorted({(row.batch, row.dtype) for row in comparison.rows})
    console.print(", ".join(f"batch {b}, {d}" for b, d in batch) + f"; depth = {DEPTH_CONVENTION}")
    if _partial_note(comparison):
        console.print(_partial_note(comparison))
    return printed(console)


RENDERERS: dict[str, Callable[..., str]] = {
    "table": to_table,
    "json": to_json,
    "csv": to_csv,
    "markdown": to_markdown,
}
