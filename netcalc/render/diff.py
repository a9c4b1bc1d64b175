"""`netcalc diff` output: a table, JSON or Markdown (for a pull-request comment), functions of the Diff alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netcalc.analysis.diff import ADDED, CHANGED, REMOVED, Diff, LayerChange
from netcalc.analysis.report import FIGURES as SUMMED
from netcalc.analysis.report import PEAKS, LayerRow
from netcalc.render import markdown
from netcalc.render.console import Table, Text, printed, text_console
from netcalc.render.jsontext import json_document
from netcalc.render.units import human_bytes, human_count
from netcalc.shapes import format_shape

FIGURES = SUMMED + PEAKS  # the peaks' change matters as much as the sums'
SCHEMA_VERSION = 1
SIGNS = {ADDED: "+", REMOVED: "-", CHANGED: "~"}
TOTAL_LABELS = {
    "params": "Params",
    "buffers": "Buffers",
    "macs": "MACs",
    "flops": "FLOPs",
    "activation_bytes": "Activations",
    "param_bytes": "Param memory",
}
BYTE_FIGURES = ("activation_bytes", "param_bytes")
# what a layer of kind `unknown` (counted as 0) makes a lower bound; activations come from shapes, which are known
PARTIAL_FIGURES = frozenset({"params", "buffers", "macs", "flops", "param_bytes"})
PARTIAL = "≥"


def _human(figure: str, value: int) -> str:
    return human_bytes(value) if figure in BYTE_FIGURES else human_count(value)


def _signed(figure: str, value: int) -> str:
    if value == 0:
        return "0"
    return ("+" if value > 0 else "") + _human(figure, value)


def _signed_exact(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _percent(old: int, new: int) -> str:
    if old == 0:
        return "" if new == 0 else "new"
    return f"{(new - old) / old:+.1%}"


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shape(change: LayerChange) -> str:
    old = format_shape(change.old.output_shape) if change.old else None
    new = format_shape(change.new.output_shape) if change.new else None
    if old is None or new is None or old == new:
        return old or new or ""
    return f"{old} → {new}"


def _kind(change: LayerChange) -> str:
    old, new = (change.old.kind if change.old else None), (change.new.kind if change.new else None)
    return f"{old} → {new}" if old and new and old != new else (new or old or "")


def _total_cells(diff: Diff, figure: str) -> list[str]:
    """Old, new, Δ and % of one total; a partial figure is a lower bound (`≥`), and a change between bounds is
    bounded one way (new partial: `≥`; old partial: `≤`) or, when both are partial, unknown (`?`)."""
    old, new = getattr(diff.old.totals, figure), getattr(diff.new.totals, figure)
    counted = figure in PARTIAL_FIGURES
    was, now = counted and diff.old.totals.partial, counted and diff.new.totals.partial
    mark = "?" if was and now else PARTIAL if now else "≤" if was else ""
    delta = "?" if mark == "?" else mark + _signed_exact(new - old)
    percent = _percent(old, new)
    percent = "?" if mark == "?" else mark + percent if percent not in ("", "new") else percent
    return [(PARTIAL if was else "") + f"{old:,}", (PARTIAL if now else "") + f"{new:,}", delta, percent]


def _layer_delta(change: LayerChange, figure: str) -> str:
    """A layer's change in one figure; `?` when either side is of kind `unknown` and the figure is one it
    cannot know."""
    partial = any(row is not None and row.partial for row in (change.old, change.new))
    return "?" if partial and figure in PARTIAL_FIGURES else _signed(figure, change.delta(figure))


def _partial_note(diff: Diff) -> str:
    sides = [side for side, report in (("old", diff.old), ("new", diff.new)) if report.totals.partial]
    if not sides:
        return ""
    which = "the old and the new network hold" if len(sides) == 2 else f"the {sides[0]} network holds"
    return (
        f"{PARTIAL} partial: {which} layers of unknown cost counted as 0; their params, buffers, MACs, FLOPs and "
        "parameter memory are lower bounds"
    )


def _what(change: LayerChange) -> str:
    """The reason a changed layer is listed: its attribute changes, else what else differs."""
    parts = [f"{key}: {_value(old)} → {_value(new)}" for key, old, new in change.attrs]
    if change.old and change.new and change.old.inputs != change.new.inputs:
        parts.append(f"from: {', '.join(change.old.inputs)} → {', '.join(change.new.inputs)}")
    if change.status != CHANGED:
        parts.append(change.status)
    elif not parts and "kind" not in change.what:
        parts.append("input changed upstream")
    return "; ".join(parts)


def _counts(diff: Diff) -> str:
    counts = [f"{len(diff.of(status))} {status}" for status in (ADDED, REMOVED, CHANGED)]
    return ", ".join(counts) + f", {diff.unchanged} unchanged"


def _figures(row: LayerRow | None) -> dict[str, int] | None:
    return None if row is None else {f: getattr(row, f) for f in FIGURES}


def change_dict(change: LayerChange) -> dict[str, Any]:
    return {
        "name": change.name,
        "status": change.status,
        "line": change.line,
        "kind": {"old": change.old.kind if change.old else None, "new": change.new.kind if change.new else None},
        "output_shape": {
            "old": list(change.old.output_shape) if change.old else None,
            "new": list(change.new.output_shape) if change.new else None,
        },
        "changed": list(change.what),
        "attrs": [{"name": key, "old": old, "new": new} for key, old, new in change.attrs],
        "old": _figures(change.old),
        "new": _figures(change.new),
        "delta": {f: change.delta(f) for f in FIGURES},
    }


def to_json(diff: Diff) -> str:
    old, new = diff.old.totals, diff.new.totals
    data = {
        "schema_version": SCHEMA_VERSION,
        "old": {"name": diff.old.name, "source": diff.old.source},
        "new": {"name": diff.new.name, "source": diff.new.source},
        "summary": {status: len(diff.of(status)) for status in (ADDED, REMOVED, CHANGED)}
        | {"unchanged": diff.unchanged},
        "layers": map(change_dict, diff.changes),
        "totals": {
            "old": {f: getattr(old, f) for f in FIGURES} | {"partial": old.partial},
            "new": {f: getattr(new, f) for f in FIGURES} | {"partial": new.partial},
            "delta": {f: diff.delta(f) for f in FIGURES},
        },
    }
    return json_document(data, rows=("layers",), default=list)


def _title(diff: Diff) -> str:
    old = diff.old.source or diff.old.name
    new = diff.new.source or diff.new.name
    return f"{old} → {new}: {_counts(diff)}"


def to_markdown(diff: Diff) -> str:
    lines = [f"**{markdown.text(_title(diff))}**", ""]
    if diff.changes:
        lines += [
            "| | Layer | Kind | Output | Params Δ | MACs Δ | Activations Δ | Change |",
            "|---|---|---|---|---:|---:|---:|---|",
        ]
        for change in diff.changes:
            cells = [SIGNS[change.status], markdown.code_cell(change.name), _kind(change), _shape(change)]
            cells += [_layer_delta(change, f) for f in ("params", "macs", "activation_bytes")]
            cells.append(markdown.cell(_what(change)))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["| Total | Old | New | Δ | |", "|---|---:|---:|---:|---:|"]
    for figure, label in TOTAL_LABELS.items():
        cells = [label, *_total_cells(diff, figure)]
        lines.append("| " + " | ".join(cells) + " |")
    if _partial_note(diff):
        lines += ["", _partial_note(diff)]
    return "\n".join(lines) + "\n"


def to_table(diff: Diff, *, width: int | None = None, color: bool = False) -> str:
    """Box-drawn tables (render/console.py); figures are never cut."""

    styles = {ADDED: "green", REMOVED: "red", CHANGED: "yellow"}
    console = text_console(width, color)
    console.print(_title(diff))
    if diff.changes:
        layers = Table(header_style="bold")
        for title, justify in (("", "left"), ("Layer", "left"), ("Kind", "left"), ("Output", "right")):
            layers.add_column(title, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for title in ("Params Δ", "MACs Δ", "Activations Δ"):
            layers.add_column(title, justify="right", no_wrap=True)
        layers.add_column("Change")
        for change in diff.changes:
            layers.add_row(
                Text(SIGNS[change.status], style=styles[change.status]),
                Text(change.name, style=styles[change.status]),
                _kind(change),
                _shape(change),
                *(_layer_delta(change, f) for f in ("params", "macs", "activation_bytes")),
                _what(change),
            )
        console.print(layers)
    totals = Table(header_style="bold")
    totals.add_column("Total")
    for title in ("Old", "New", "Δ", "%"):
        totals.add_column(title, justify="right", no_wrap=True)
    for figure, label in TOTAL_LABELS.items():
        totals.add_row(label, *_total_cells(diff, figure))
    console.print(totals)
    if _partial_note(diff):
        console.print(_partial_note(diff))
    return printed(console)


RENDERERS: dict[str, Callable[..., str]] = {
    "table": to_table,
    "json": to_json,
    "markdown": to_markdown,
}
