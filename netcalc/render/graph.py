"""`netcalc graph` output: the network as Graphviz DOT, a Mermaid flowchart or a standalone SVG.

Each is a function of the finished Report. Node labels say what a reader of a paper wants: the layer's name,
its kind, its output shape and its cost (MACs, or parameters for a layer with no MACs).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from netcalc.analysis.report import LayerRow, Report
from netcalc.network import INPUT
from netcalc.render.layout import layered_layout
from netcalc.render.units import human_count
from netcalc.shapes import format_shape

# SVG geometry, in pixels: one column is a node's width plus a gap, one row a node's height plus a gap.
NODE_W, NODE_H, COL_W, ROW_H, MARGIN = 150, 40, 170, 60, 20


def _cost(row: LayerRow) -> str:
    if row.macs:
        return f"{human_count(row.macs)} MACs"
    if row.params:
        return f"{human_count(row.params)} params"
    return ""


def _lines(row: LayerRow) -> list[str]:
    return [row.name, f"{row.kind} · {format_shape(row.output_shape)}", _cost(row)]


def _input_label(report: Report) -> list[str]:
    return [INPUT, format_shape(report.input_shape), ""]


def to_dot(report: Report) -> str:
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    out = [f"digraph {quoted(report.name)} {{", "  rankdir=TB;", "  node [shape=box, style=rounded, fontsize=10];"]
    out.append(f"  {quoted(INPUT)} [label={quoted(chr(10).join(filter(None, _input_label(report))))}];")
    for row in report.layers:
        label = "\n".join(filter(None, _lines(row)))
        out.append(f"  {quoted(row.name)} [label={quoted(label)}];")
    for row in report.layers:
        out += [f"  {quoted(source)} -> {quoted(row.name)};" for source in row.inputs]
    out.append("}")
    return "\n".join(out) + "\n"


def to_mermaid(report: Report) -> str:
    """A Mermaid flowchart (GitHub renders it in Markdown). Ids are n0, n1, …; names live only in labels."""

    def label(lines: list[str]) -> str:
        text = "<br/>".join(escape(line, quote=False) for line in lines if line)
        return '"' + text.replace('"', "#quot;") + '"'

    ids = {INPUT: "n0"} | {row.name: f"n{i}" for i, row in enumerate(report.layers, start=1)}
    out = ["flowchart TD", f"  n0[{label(_input_label(report))}]"]
    out += [f"  {ids[row.name]}[{label(_lines(row))}]" for row in report.layers]
    out += [f"  {ids[source]} --> {ids[row.name]}" for row in report.layers for source in row.inputs]
    return "\n".join(out) + "\n"


def to_svg(report: Report) -> str:
    """A standalone SVG of the layered layout (no scripts, no external references)."""
    layout = layered_layout([(row.name, row.inputs) for row in report.layers])
    rows = {row.name: row for row in report.layers}
    where = {n.name: (MARGIN + n.column * COL_W, MARGIN + n.row * ROW_H) for n in layout.nodes}
    width = int(2 * MARGIN + (layout.columns - 1) * COL_W + NODE_W)
    height = int(2 * MARGIN + (layout.rows - 1) * ROW_H + NODE_H)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
        f"<title>{escape(report.name)}</title>",
        '<g fill="none" stroke="#8a8f98" stroke-width="1.2">',
    ]
    out += [f'<path d="{edge_path(where[a], where[b])}"/>' for a, b in layout.edges]
    out.append("</g>")
    for node in layout.nodes:
        x, y = where[node.name]
        lines = _lines(rows[node.name]) if node.name in rows else _input_label(report)
        out.append(
            f'<g transform="translate({x:g},{y:g})"><rect width="{NODE_W}" height="{NODE_H}" rx="5" '
            f'fill="#f4f6fa" stroke="#5b6b8c"/>'
        )
        for i, line in enumerate(filter(None, lines)):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="6" y="{12 + 12 * i}"{weight}>{escape(_fit(line))}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def edge_path(start: tuple[float, float], end: tuple[float, float]) -> str:
    """A cubic curve from the bottom centre of one node to the top centre of another; an edge that skips
    rows bows out to the right so it does not run through the nodes it passes."""
    (x1, y1), (x2, y2) = (start[0] + NODE_W / 2, start[1] + NODE_H), (end[0] + NODE_W / 2, end[1])
    skipped = round((y2 - y1 - (ROW_H - NODE_H)) / ROW_H)
    if skipped <= 0:
        mid = (y1 + y2) / 2
        return f"M{x1:g},{y1:g} C{x1:g},{mid:g} {x2:g},{mid:g} {x2:g},{y2:g}"
    bow = NODE_W / 2 + 10 + min(skipped, 8) * 3
    return f"M{x1:g},{y1:g} C{x1 + bow:g},{y1 + ROW_H:g} {x2 + bow:g},{y2 - ROW_H:g} {x2:g},{y2:g}"


def _fit(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


RENDERERS: dict[str, Callable[[Report], str]] = {"dot": to_dot, "mermaid": to_mermaid, "svg": to_svg}
