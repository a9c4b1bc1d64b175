"""`netcalc summary --device`: each layer's arithmetic intensity, bound and estimated time on a device.

Functions of the finished Roofline (and its Report) alone, one per format.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable
from typing import Any

from netcalc.analysis.report import Report
from netcalc.analysis.roofline import Roofline, TimedLayer, folded
from netcalc.render import markdown
from netcalc.render.console import Table, printed, text_console
from netcalc.render.jsontext import json_document
from netcalc.render.summary import PARTIAL, bound, report_dict
from netcalc.render.units import human_bytes, human_count

COLUMNS = ("name", "kind", "flops", "bytes_moved", "intensity", "bound", "seconds", "partial")


def human_seconds(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def human_rate(value: float, unit: str) -> str:
    """`8.1 TFLOP/s`, `320 GB/s`: rates in powers of 1000, as datasheets print them."""
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.4g} {prefix}{unit}/s"
    return f"{value:.4g} {unit}/s"


def headline(roofline: Roofline) -> str:
    device = roofline.device
    return (
        f"on {device.name} ({roofline.dtype}): {bound(human_seconds(roofline.seconds), roofline.partial)} estimated · "
        f"peak {human_rate(device.peak(roofline.dtype), 'FLOP')}, {human_rate(device.bandwidth, 'B')}, "
        f"ridge {device.ridge(roofline.dtype):.1f} FLOP/B"
    )


def roofline_dict(roofline: Roofline, layers: tuple[Any, ...] | None = None) -> dict[str, Any]:
    device = roofline.device
    return {
        "device": {
            "name": device.name,
            "description": device.description,
            "source": device.source,
            "peak_flops": dict(device.peak_flops),
            "memory_bandwidth": device.memory_bandwidth,
            "efficiency": {"compute": device.compute_efficiency, "memory": device.memory_efficiency},
            "ridge_flops_per_byte": device.ridge(roofline.dtype),
        },
        "convention": "seconds = max(FLOPs / reachable peak, bytes moved / reachable bandwidth); bytes moved = "
        "inputs + weights + buffers + output, once each, in the dtype",
        "layers": [
            {
                "name": layer.name,
                "kind": layer.kind,
                "flops": layer.flops,
                "bytes_moved": layer.bytes_moved,
                "intensity": layer.intensity,
                "bound": layer.bound,
                "seconds": layer.seconds,
                "partial": layer.partial,
            }
            for layer in (roofline.layers if layers is None else layers)
        ],
        "total_seconds": roofline.seconds,
        "partial": roofline.partial,
    }


def partial_note(report: Report) -> str:
    """Why the estimate is a lower bound: the layers netcalc cannot model."""
    unknown = [row.name for row in report.layers if row.partial]
    listing = ", ".join(unknown[:5]) + (", …" if len(unknown) > 5 else "")
    return (
        f"every total is a lower bound: {len(unknown)} layer(s) of unknown cost counted as 0 FLOPs and no "
        f"weights ({listing})"
    )


def to_json(report: Report, roofline: Roofline, depth: int | None = None) -> str:
    data = {**report_dict(report, depth), "roofline": roofline_dict(roofline, folded(report, roofline, depth))}
    return json_document(data, rows=("layers", "roofline.layers"))


def to_csv(report: Report, roofline: Roofline, depth: int | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for layer in folded(report, roofline, depth):
        writer.writerow(
            [
                layer.name,
                layer.kind,
                layer.flops,
                layer.bytes_moved,
                f"{layer.intensity:.6g}",
                layer.bound,
                f"{layer.seconds:.6g}",
                int(layer.partial),
            ]
        )
    writer.writerow(
        ["TOTAL", "", roofline.flops, roofline.bytes_moved, "", "", f"{roofline.seconds:.6g}", int(roofline.partial)]
    )
    return out.getvalue()


def to_markdown(report: Report, roofline: Roofline, depth: int | None = None) -> str:
    lines = [
        f"**{markdown.text(report.name)}** {headline(roofline)}",
        "",
        "| Layer | Kind | FLOPs | Moved | FLOP/B | Bound | Time |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for layer in folded(report, roofline, depth):
        p = layer.partial
        lines.append(
            f"| {markdown.code_cell(layer.name)} | {layer.kind} | {bound(f'{layer.flops:,}', p)} | "
            f"{bound(f'{layer.bytes_moved:,}', p)} | {layer.intensity:.1f} | {layer.bound} | "
            f"{bound(human_seconds(layer.seconds), p)} |"
        )
    p = roofline.partial
    lines.append(
        f"| **Total** | | **{bound(f'{roofline.flops:,}', p)}** | **{bound(f'{roofline.bytes_moved:,}', p)}** | | | "
        f"**{bound(human_seconds(roofline.seconds), p)}** |"
    )
    if p:
        lines += ["", f"{PARTIAL} partial: {markdown.text(partial_note(report))}"]
    if roofline.device.source:
        lines += ["", f"Device figures: {roofline.device.source}."]
    return "\n".join(lines) + "\n"


def _layer_table(title: str) -> Table:
    """A table with a totals footer, starting with the Layer and Kind columns."""
    table = Table(title=title, title_justify="left", show_footer=True, header_style="bold", footer_style="bold")
    table.add_column("Layer", footer="Total", overflow="ellipsis")
    table.add_column("Kind", overflow="ellipsis")
    return table


def to_table(
    report: Report, roofline: Roofline, depth: int | None = None, *, width: int | None = None, color: bool = False
) -> str:
    total = roofline.seconds or 1.0
    p = roofline.partial
    table = _layer_table(f"{report.name} {headline(roofline)}")
    table.add_column("FLOPs", footer=bound(human_count(roofline.flops), p), justify="right", no_wrap=True, min_width=7)
    moved = bound(human_bytes(roofline.bytes_moved), p)
    table.add_column("Moved", footer=moved, justify="right", no_wrap=True, min_width=10)
    table.add_column("FLOP/B", justify="right", no_wrap=True, min_width=6)
    table.add_column("Bound", no_wrap=True, min_width=7)
    time = bound(human_seconds(roofline.seconds), p)
    table.add_column("Time", footer=time, justify="right", no_wrap=True, min_width=9)
    table.add_column("Share", justify="right", no_wrap=True, min_width=6)
    for layer in folded(report, roofline, depth):
        if layer.partial and layer.flops == 0:
            flops = "?"  # a layer of kind `unknown`: its FLOPs are not known
        else:
            flops = bound(human_count(layer.flops), layer.partial) if layer.flops else "—"
        table.add_row(
            layer.name,
            layer.kind,
            flops,
            bound(human_bytes(layer.bytes_moved), layer.partial),
            f"{layer.intensity:.1f}",
            layer.bound,
            bound(human_seconds(layer.seconds), layer.partial),
            f"{layer.seconds / total:.1%}",
        )
    console = text_console(width, color)
    console.print(table)
    if p:
        console.print(f"partial {partial_note(report)}")
    if roofline.device.source:
        console.print(f"device figures: {roofline.device.source}")
    return printed(console)


def timed_dict(roofline: Roofline, timed: tuple[TimedLayer, ...]) -> dict[str, Any]:
    """`verify --device`: the roofline's estimate of each layer's forward time beside the measured one."""
    ratios = [t.ratio for t in timed if t.estimated]
    return {
        **roofline_dict(roofline),
        "layers": [
            {
                "name": t.name,
                "kind": t.kind,
                "bound": t.bound,
                "estimated_seconds": t.estimated,
                "measured_seconds": t.measured,
                "ratio": t.ratio if t.estimated else None,
            }
            for t in timed
        ],
        "total_estimated_seconds": sum(t.estimated for t in timed),
        "total_measured_seconds": sum(t.measured for t in timed),
        "median_ratio": statistics.median(ratios) if ratios else None,
    }


def timed_table(
    roofline: Roofline, timed: tuple[TimedLayer, ...], *, width: int | None = None, color: bool = False
) -> str:
    estimated, measured = sum(t.estimated for t in timed), sum(t.measured for t in timed)
    ratios = sorted(t.ratio for t in timed if t.estimated)
    table = _layer_table(f"forward pass {headline(roofline)}")
    table.add_column("Bound", no_wrap=True, min_width=7)
    table.add_column("Estimated", footer=human_seconds(estimated), justify="right", no_wrap=True, min_width=9)
    table.add_column("Measured", footer=human_seconds(measured), justify="right", no_wrap=True, min_width=9)
    table.add_column(
        "× est.", footer=f"{measured / estimated:.2f}" if estimated else "", justify="right", no_wrap=True, min_width=6
    )
    for t in timed:
        table.add_row(
            t.name,
            t.kind,
            t.bound,
            human_seconds(t.estimated),
            human_seconds(t.measured),
            f"{t.ratio:.2f}" if t.estimated else "—",
        )
    console = text_console(width, color)
    console.print(table)
    if ratios:
        console.print(
            f"measured / estimated per layer: median {statistics.median(ratios):.2f}, "
            f"best {ratios[0]:.2f}, worst {ratios[-1]:.2f}"
        )
    return printed(console)


RENDERERS: dict[str, Callable[..., str]] = {
    "table": to_table,
    "json": to_json,
    "csv": to_csv,
    "markdown": to_markdown,
}
