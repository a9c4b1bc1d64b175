"""`netcalc verify` output: a table or JSON, each a function of the finished Verification alone."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from netcalc.reference.verify import GRADCHECK_TOLERANCE, LayerCheck, Pair, Verification
from netcalc.render.console import Table, Text, printed, text_console
from netcalc.render.jsontext import json_document
from netcalc.render.units import human_bytes, human_count
from netcalc.shapes import format_shape

SCHEMA_VERSION = 1
TICK, CROSS = "✓", "✗"


def _pair_dict(pair: Pair) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    return {"analysed": plain(pair.analysed), "measured": plain(pair.measured), "ok": pair.ok}


def layer_dict(check: LayerCheck) -> dict[str, Any]:
    return {
        "name": check.name,
        "kind": check.kind,
        "ok": check.ok,
        **{name: _pair_dict(pair) for name, pair in check.figures.items()},
        "backward_macs": check.backward_macs,
        "gradient_problems": list(check.gradient_problems),
        "gradcheck_error": _plain_float(check.gradcheck_error),
        "gradcheck": None
        if check.gradcheck is None
        else {
            "compared": list(check.gradcheck.arrays),
            "entries": check.gradcheck.entries,
            "raw_error": _plain_float(check.gradcheck.raw_error),
            "error": _plain_float(check.gradcheck.error),
        },
        "nonfinite": list(check.nonfinite),
        "zero_gradients": list(check.zero_gradients),
        "zero_output": check.zero_output,
        "zero_input_gradient": check.zero_input_gradient,
        "forward_seconds": round(check.forward_seconds, 6),
        "backward_seconds": None if check.backward_seconds is None else round(check.backward_seconds, 6),
    }


def verification_dict(result: Verification) -> dict[str, Any]:
    """The JSON contract (schema_version 1): exact integers; `measured` shapes in the analysis's H×W×C."""
    return {
        "schema_version": SCHEMA_VERSION,
        "name": result.name,
        "input": list(result.input_shape),
        "batch": result.batch,
        "dtype": result.dtype,
        "seed": result.seed,
        "backward": result.backward,
        "gradcheck": result.gradcheck,
        "gradcheck_tolerance": GRADCHECK_TOLERANCE,
        "ok": result.ok,
        "layers": [layer_dict(check) for check in result.layers],
        "totals": {
            "layers": len(result.layers),
            "failed": [check.name for check in result.failed],
            "analysed_macs": result.analysed_macs,
            "counted_macs": result.counted_macs,
            "backward_macs": result.backward_macs if result.backward else None,
            "forward_seconds": round(result.forward_seconds, 6),
            "backward_seconds": round(result.backward_seconds, 6) if result.backward else None,
            "worst_gradcheck_error": _plain_float(result.worst_gradcheck),
            "zero_gradient_layers": [check.name for check in result.zero_gradient_layers],
            "zero_output_layers": [check.name for check in result.layers if check.zero_output],
            "zero_input_gradient": any(check.zero_input_gradient for check in result.layers),
            "peak_live_bytes": None if result.peak is None else _pair_dict(result.peak),
        },
    }


def _plain_float(value: float | None) -> float | str | None:
    """JSON has no NaN: a non-finite figure is written as the string "nan" / "inf"."""
    if value is None or math.isfinite(value):
        return value
    return str(value)


def to_json(result: Verification) -> str:
    """Indented, with one line per layer (render/jsontext.py)."""
    return json_document(verification_dict(result), rows=("layers",))


def _cell(pair: Pair, show: Callable[[Any], str]) -> str:
    """`✓ 1.23M` when the figures agree, `✗ analysed ≠ measured` (exact) when they do not."""
    if pair.ok:
        return f"{TICK} {show(pair.analysed)}"
    if isinstance(pair.analysed, int) and isinstance(pair.measured, int):
        return f"{CROSS} {pair.analysed:,} ≠ {pair.measured:,}"
    return f"{CROSS} {show(pair.analysed)} ≠ {show(pair.measured)}"


def _field(sides: tuple[int, int, int, int]) -> str:
    """The input rows and columns a unit's field covers: `rows 12–24, cols 12–24`."""
    top, bottom, left, right = sides
    return f"rows {top}–{bottom}, cols {left}–{right}"


def _count(value: int) -> str:
    return human_count(value) if value else "—"


def _params_cell(check: LayerCheck) -> str:
    """Parameters, and the buffers (running statistics) only when those disagree."""
    cell = _cell(check.params, _count)
    if not check.buffers.ok:
        cell = cell.replace(TICK, CROSS) + f"; buffers {check.buffers.analysed:,} ≠ {check.buffers.measured:,}"
    return cell


def _gradient_cell(check: LayerCheck) -> str:
    if check.backward_seconds is None:
        return ""
    if check.gradient_problems:
        return f"{CROSS} " + "; ".join(check.gradient_problems)
    if check.nonfinite:
        return f"{CROSS} non-finite " + ", ".join(check.nonfinite)
    zero = f"{CROSS if check.strict else '!'} zero d" + ", d".join(check.zero_gradients) if check.zero_gradients else ""
    if check.gradcheck is None:
        return zero or TICK
    figure = f"{TICK if check.gradcheck_ok else CROSS} {check.gradcheck_error:.1e}"
    if check.gradcheck.raw_error != check.gradcheck_error:
        figure += f" (raw {check.gradcheck.raw_error:.1e})"
    return f"{figure} · {check.gradcheck.entries} entries" + (f"; {zero}" if zero else "")


def zero_value_warnings(result: Verification) -> list[str]:
    """One stderr line per network output that is identically zero, and one for an identically zero gradient
    with respect to the network input: the pass then checked nothing but zeros there."""
    from netcalc.render.console import printable

    word = "error" if result.layers and result.layers[0].strict else "warning"
    lines = [
        f"netcalc: {word}: output '{printable(check.name)}' ({check.kind}) is identically zero, so its values "
        "check nothing (e.g. a crop of padding only, or dropout with p = 1)"
        for check in result.layers
        if check.zero_output
    ]
    if any(check.zero_input_gradient for check in result.layers):
        lines.append(
            f"netcalc: {word}: the gradient with respect to the network input is identically zero, so the "
            "backward pass carried nothing to it"
        )
    return lines


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def summary_line(result: Verification) -> str:
    passes = "forward + backward" if result.backward else "forward"
    timing = f"forward {_seconds(result.forward_seconds)}"
    if result.backward:
        timing += f", backward {_seconds(result.backward_seconds)}"
    macs = f"MACs counted {result.counted_macs:,} (analysed {result.analysed_macs:,})"
    if result.backward:
        macs += f", backward {result.backward_macs:,}"
    if result.peak is not None:
        peak = result.peak
        agree = f"{TICK} {peak.measured:,} B"
        if not peak.ok:
            agree = f"{CROSS} analysed {peak.analysed:,} ≠ {peak.measured:,} B"
        macs += f" · inference peak {agree}"
    grad = ""
    if result.worst_gradcheck is not None:
        entries = sum(check.gradcheck.entries for check in result.layers if check.gradcheck is not None)
        grad = (
            f" · worst gradcheck error {result.worst_gradcheck:.1e} (≤ {GRADCHECK_TOLERANCE:.0e}) over {entries:,} "
            "sampled gradient entries"
        )
    made = [f"{check.name} ({', '.join(check.nonfinite)})" for check in result.layers if check.nonfinite]
    if made:
        grad += " · NaN or infinity made by " + ", ".join(made[:5]) + (", …" if len(made) > 5 else "")
    if result.zero_gradient_layers:
        grad += f" · {len(result.zero_gradient_layers)} layers with an identically zero weight gradient"
    zeros = [check.name for check in result.layers if check.zero_output]
    if zeros:
        grad += " · identically zero output: " + ", ".join(zeros[:5]) + (", …" if len(zeros) > 5 else "")
    if any(check.zero_input_gradient for check in result.layers):
        grad += " · identically zero input gradient"
    if result.ok:
        verdict = f"{TICK} all {len(result.layers)} layers agree"
    else:
        names = ", ".join(check.name for check in result.failed[:5]) + (", …" if len(result.failed) > 5 else "")
        verdict = f"{CROSS} {len(result.failed)} of {len(result.layers)} layers disagree: {names}"
    return f"{verdict} ({passes}, {result.dtype}, seed {result.seed}) · {macs}{grad} · {timing}"


def to_table(result: Verification, *, width: int | None = None, color: bool = False) -> str:
    """A box-drawn table (render/console.py); figures are never cut."""

    title = f"{result.name} — verify, input {format_shape(result.input_shape)}, batch {result.batch}, {result.dtype}"
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("Layer", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("Output", justify="right", no_wrap=True)
    table.add_column("Params", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("Memory", justify="right", no_wrap=True)
    optional = [
        (title, attr, show)
        for title, attr, show in (
            ("Live", "live_bytes", human_bytes),
            ("Bwd MACs", "backward", _count),
            ("Field", "field", _field),
        )
        if any(getattr(check, attr) is not None for check in result.layers)
    ]
    for title, _, _ in optional:
        table.add_column(title, justify="right", no_wrap=True)
    if result.backward:
        table.add_column("Gradients", justify="right", no_wrap=True)
    table.add_column("Time", justify="right", no_wrap=True)
    for check in result.layers:
        style = None if check.ok else "red"
        cells = [
            Text(check.name, style=style or ""),
            check.kind,
            _cell(check.output_shape, format_shape),
            _params_cell(check),
            _cell(check.macs, _count),
            _cell(check.activation_bytes, human_bytes),
        ]
        for _, attr, show in optional:
            pair = getattr(check, attr)
            cells.append("" if pair is None else _cell(pair, show))
        if result.backward:
            cells.append(_gradient_cell(check))
        cells.append(_seconds(check.seconds))
        table.add_row(*cells)
    console = text_console(width, color)
    console.print(table)
    console.print(summary_line(result), style="green" if result.ok else "red")
    return printed(console)


RENDERERS: dict[str, Callable[..., str]] = {"table": to_table, "json": to_json}
