"""`netcalc check` output: text (a table), JSON, GitHub workflow annotations or a JUnit XML report, each a
function of the CheckResult alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from netcalc.analysis.budget import CheckResult, Finding, Limit
from netcalc.render.console import Table, Text, printed, text_console
from netcalc.render.jsontext import json_document
from netcalc.render.units import human_bytes, human_count

SCHEMA_VERSION = 1
LABELS = {
    "params": "parameters",
    "macs": "MACs",
    "flops": "FLOPs",
    "activation_memory": "activation memory",
    "param_memory": "parameter memory",
    "peak_memory": "peak memory",
    "backward_macs": "backward MACs",
    "saved_memory": "memory saved for backward",
    "training_memory": "training memory",
    "min_receptive_field": "receptive field",
}


PARTIAL = "≥"  # prefixed to a figure that is only a lower bound (as `netcalc summary` does)


def _amount(limit: Limit, value: int, partial: bool = False) -> str:
    """`102,764,544 (102.76M)` or `60,581,792 B (57.78 MiB)`; small values exactly; `≥…` for a lower bound."""
    mark = PARTIAL if partial else ""
    if limit.in_bytes:
        exact = f"{value:,} B"
        human = human_bytes(value)
        return mark + (exact if human == exact else f"{exact} ({human})")
    human = human_count(value)
    return mark + (f"{value:,}" if human == str(value) else f"{value:,} ({human})")


def _limit_text(limit: Limit) -> str:
    """`2.5M = 2,500,000` as written and exactly; just the number when it was written plainly."""
    exact = f"{limit.value:,}" + (" B" if limit.in_bytes else "")
    return exact if limit.text == str(limit.value) else f"{limit.text} = {exact}"


def _subject(finding: Finding) -> str:
    return "total" if finding.layer is None else f"layer '{finding.layer}'"


def _why_partial(finding: Finding) -> str:
    if finding.layer is None:
        return "the total counts layers of unknown cost as 0"
    if finding.limit.lower:
        return "its receptive field passes through a layer of kind `unknown`"
    return "the layer is of kind `unknown`, counted as 0"


def _percent_over(finding: Finding) -> str:
    if finding.limit.value == 0:
        return ""
    return f" ({finding.excess / finding.limit.value:+.1%})"


def message(finding: Finding) -> str:
    """One sentence about one finding: a violation and by how much, or the headroom left."""
    limit = finding.limit
    what = f"{_subject(finding)}: {LABELS[limit.figure]} {_amount(limit, finding.actual, finding.partial)}"
    bound = "≥" if limit.lower else "≤"
    if finding.passed:
        return f"{what} is within {limit.key} {bound} {_limit_text(limit)}: {finding.usage:.1%} used"
    if finding.unknown:
        return (
            f"{what} is only a lower bound ({_why_partial(finding)}): unknown whether it meets "
            f"{limit.key} {bound} {_limit_text(limit)}"
        )
    over = f"{_amount(limit, finding.excess, finding.partial)}{_percent_over(finding)}"
    text = f"{what} is {'under' if limit.lower else 'over'} {limit.key} {bound} {_limit_text(limit)} by {over}"
    return f"{text} (a lower bound: {_why_partial(finding)})" if finding.partial else text


def verdict(result: CheckResult) -> str:
    """The one-line outcome: how many limits are exceeded, or the closest one when all pass."""
    name = result.report.name
    groups = result.by_limit()
    over = [limit for limit, findings in groups.items() if any(f.exceeded for f in findings)]
    unsure = [limit for limit, findings in groups.items() if limit not in over and any(f.unknown for f in findings)]
    if over:
        layers = len(result.exceeded)
        text = (
            f"{name}: over budget — {len(over)} of {len(groups)} limits exceeded "
            f"({layers} violation{'s' if layers != 1 else ''})"
        )
        return text + (f", {len(unsure)} unknown (partial figures)" if unsure else "")
    if unsure:
        return (
            f"{name}: budget not met — {len(unsure)} of {len(groups)} limits unknown: their figures are only lower "
            "bounds (layers of kind `unknown` count 0)"
        )
    if not result.findings:
        return f"{name}: within budget (no limit applied)"
    closest = max(result.findings, key=lambda f: f.usage)
    return f"{name}: within budget — {len(groups)} limits; closest: {closest.limit.key} at {closest.usage:.1%}"


def finding_dict(finding: Finding) -> dict[str, Any]:
    limit = finding.limit
    return {
        "budget": limit.key,
        "scope": limit.scope,
        "pattern": limit.pattern,
        "figure": limit.figure,
        "layer": finding.layer,
        "actual": finding.actual,
        "limit": limit.value,
        "limit_text": limit.text,
        "passed": finding.passed,
        "status": finding.status,
        "partial": finding.partial,
        "excess": finding.excess,
        "usage": None if finding.usage == float("inf") else finding.usage,
        "file": finding.file,
        "line": finding.line,
        "message": message(finding),
    }


def _status(result: CheckResult) -> str:
    """`passed`, `exceeded` (some limit is exceeded) or `unknown` (none is, but some cannot be settled)."""
    return "exceeded" if result.exceeded else "unknown" if result.unknown else "passed"


def to_json(result: CheckResult) -> str:
    data = {
        "schema_version": SCHEMA_VERSION,
        "name": result.report.name,
        "spec": result.report.source,
        "budget": result.budget.source,
        "batch": result.report.batch,
        "dtype": result.report.dtype,
        "passed": result.passed,
        "status": _status(result),
        "verdict": verdict(result),
        "findings": map(finding_dict, result.findings),
        "unmatched_globs": [limit.pattern for limit in result.unmatched],
    }
    return json_document(data, rows=("findings",))


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, text: str, *, file: str | None = None, line: int | None = None, title: str = "") -> str:
    """A GitHub Actions workflow command, `::error file=…,line=…,title=…::message`."""
    props = []
    if file:
        props.append(f"file={_escape_property(file)}")
        props.append(f"line={line or 1}")
    if title:
        props.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(text)}" if props else f"::{level}::{_escape_data(text)}"


def to_github(result: CheckResult) -> str:
    """An `::error` annotation at the offending layer's line in the spec (a total: at its budget key) for each
    violation, then the verdict as a notice (or an error when over budget)."""
    lines = [
        annotation(
            "error",
            message(f),
            file=f.file,
            line=f.line,
            title=f"netcalc budget{' unknown' if f.unknown else ''}: {f.limit.key}",
        )
        for f in result.violations
    ]
    for limit in result.unmatched:
        text = f'the glob "{limit.pattern}" matches no layer'
        lines.append(annotation("warning", text, file=limit.file, line=limit.line, title="netcalc budget"))
    lines.append(annotation("notice" if result.passed else "error", verdict(result)))
    return "\n".join(lines) + "\n"


def to_junit(result: CheckResult) -> str:
    """One test case per limit; a limit exceeded by any layer is a failure listing every violation; a limit
    that cannot be settled (its figures are only lower bounds) and is not exceeded is an error."""
    groups = result.by_limit()
    failures = sum(1 for findings in groups.values() if any(f.exceeded for f in findings))
    errors = sum(
        1 for findings in groups.values() if not any(f.exceeded for f in findings) and any(f.unknown for f in findings)
    )
    suites = ElementTree.Element(
        "testsuites", name="netcalc check", tests=str(len(groups)), failures=str(failures), errors=str(errors)
    )
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name=f"netcalc check {result.report.name}",
        tests=str(len(groups)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
    )
    for limit, findings in groups.items():
        first = next((f for f in findings if not f.passed), findings[0])
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"netcalc.analysis.budget.{result.report.name}",
            name=f"{limit.key} {'>=' if limit.lower else '<='} {limit.text}",
            file=first.file or "",
            line=str(first.line or 1),
        )
        violations = [f for f in findings if not f.passed]
        if any(f.exceeded for f in violations):
            first_over = next(f for f in violations if f.exceeded)
            failure = ElementTree.SubElement(case, "failure", message=message(first_over), type="BudgetExceeded")
            failure.text = "\n".join(message(f) for f in violations)
        elif violations:
            error = ElementTree.SubElement(case, "error", message=message(violations[0]), type="BudgetUnknown")
            error.text = "\n".join(message(f) for f in violations)
        else:
            ElementTree.SubElement(case, "system-out").text = "\n".join(message(f) for f in findings)
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"


def to_text(result: CheckResult, *, width: int | None = None, color: bool = False) -> str:
    """A box-drawn table of every finding (render/console.py); figures are never cut."""

    table = Table(header_style="bold")
    table.add_column("", no_wrap=True)
    table.add_column("Budget", no_wrap=True)
    table.add_column("Layer", no_wrap=True)
    table.add_column("Actual", justify="right", no_wrap=True)
    table.add_column("Limit", justify="right", no_wrap=True)
    table.add_column("Used", justify="right", no_wrap=True)
    table.add_column("Over by", justify="right", no_wrap=True)
    for f in result.findings:
        limit = f.limit
        human = human_bytes if limit.in_bytes else human_count
        mark = PARTIAL if f.partial else ""
        status = {
            "passed": Text("ok", style="green"),
            "exceeded": Text("OVER", style="bold red"),
            "unknown": Text("UNKNOWN", style="bold yellow"),
        }[f.status]
        table.add_row(
            status,
            limit.key,
            f.layer or "(total)",
            mark + human(f.actual),
            human(limit.value) if limit.text == str(limit.value) else limit.text,
            "?" if f.unknown else mark + ("∞" if f.usage == float("inf") else f"{f.usage:.1%}"),
            "" if f.passed else "?" if f.unknown else mark + human(f.excess),
        )
    console = text_console(width, color)
    source = f" from {result.budget.source}" if result.budget.source else ""
    console.print(f"{result.report.name}: budget{source}, batch {result.report.batch}, {result.report.dtype}")
    console.print(table)
    for f in result.violations:
        where = f"{f.file}:{f.line}: " if f.file and f.line else ""
        console.print(Text(f"{where}{message(f)}"))
    console.print(Text(verdict(result), style="green" if result.passed else "bold red"))
    return printed(console)


RENDERERS: dict[str, Callable[..., str]] = {
    "text": to_text,
    "json": to_json,
    "github": to_github,
    "junit": to_junit,
}
