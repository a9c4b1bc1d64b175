"""`netcalc verify --against onnxruntime` output: a table or JSON of the finished RuntimeVerification alone."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from netcalc.bridges.onnx.runtime import RTOL, RuntimeVerification, ValueCheck
from netcalc.render.console import Table, Text, printed, text_console
from netcalc.render.jsontext import json_document
from netcalc.render.verify import CROSS, TICK
from netcalc.shapes import format_shape

SCHEMA_VERSION = 1


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def layer_dict(check: ValueCheck) -> dict[str, Any]:
    return {
        "name": check.name,
        "kind": check.kind,
        "ok": check.ok,
        "shape_ok": check.shape_ok,
        "max_error": _number(check.max_error),
        "allowed": check.allowed,
        "scale": check.scale,
        "worst_index": list(check.index),
        "onnxruntime": _number(check.ort),
        "reference": _number(check.reference),
    }


def to_json(result: RuntimeVerification) -> str:
    data = {
        "schema_version": SCHEMA_VERSION,
        "name": result.name,
        "against": result.runtime,
        "input": list(result.input_shape),
        "batch": result.batch,
        "seed": result.seed,
        "tolerance": (
            f"max|ort − ref| ≤ {RTOL:g} · (1 + √K) · scale, "
            "K = MACs per output element + elements per normalisation statistic"
        ),
        "ok": result.ok,
        "failed": [check.name for check in result.failed],
        "layers": [layer_dict(check) for check in result.layers],
    }
    return json_document(data, rows=("layers",))


def failure_line(check: ValueCheck) -> str:
    """The failing layer, its worst element and both values, in one line."""
    if not check.shape_ok:
        return f"layer '{check.name}' ({check.kind}): onnxruntime's output has another shape than the reference's"
    if check.nonfinite:
        return (
            f"layer '{check.name}' ({check.kind}): NaN or infinity made from finite inputs, first at element"
            f" {list(check.index)}: onnxruntime {check.ort:.9g}, reference {check.reference:.9g}"
        )
    return (
        f"layer '{check.name}' ({check.kind}): worst element {list(check.index)}: onnxruntime {check.ort:.9g}, "
        f"reference {check.reference:.9g}, |difference| {check.max_error:.3g} > allowed {check.allowed:.3g}"
    )


def summary_line(result: RuntimeVerification) -> str:
    if result.ok:
        verdict = f"{TICK} all {len(result.layers)} layers agree with {result.runtime}"
    else:
        verdict = f"{CROSS} {len(result.failed)} of {len(result.layers)} layers disagree with {result.runtime}"
    return f"{verdict} (float32, seed {result.seed}, batch {result.batch}) · {result.seconds:.2f} s"


def to_table(result: RuntimeVerification, *, width: int | None = None, color: bool = False) -> str:
    title = f"{result.name} — values against {result.runtime}, input {format_shape(result.input_shape)}"
    table = Table(title=title, title_justify="left", header_style="bold")
    for column, justify in (("Layer", "left"), ("Kind", "left"), ("Max |ort − ref|", "right"), ("Allowed", "right")):
        table.add_column(column, justify=justify, no_wrap=True)
    table.add_column("Worst element", no_wrap=True)
    for check in result.layers:
        mark = TICK if check.ok else CROSS
        table.add_row(
            Text(check.name, style="" if check.ok else "red"),
            check.kind,
            f"{mark} NaN or infinity" if check.nonfinite else f"{mark} {check.max_error:.2e}",
            f"{check.allowed:.2e}",
            f"{list(check.index)} ort {check.ort:.6g}, ref {check.reference:.6g}" if not check.ok else "",
        )
    console = text_console(width, color)
    console.print(table)
    for check in result.failed:
        console.print(failure_line(check), style="red")
    console.print(summary_line(result), style="green" if result.ok else "red")
    return printed(console)


RENDERERS: dict[str, Callable[..., str]] = {"table": to_table, "json": to_json}
