"""Budgets: limits on what a network may cost, and the check of a Report against them.

A budget is a mapping (a file of its own, or `budget:` inside a spec; see docs/budgets.md):

    total:     {params: 25.6M, macs: 4.2G, flops: 8.5G, activation_memory: 120MiB, param_memory: 100MiB}
    per_layer: {params: 2.5M, macs: 250M, activation_memory: 12MiB}
    layers:
      "fc*": {params: 1M}

`total` limits the network's totals, `per_layer` every single layer, and each entry of `layers` every layer
whose full name matches the glob (fnmatch, case-sensitive; `*` also matches dots). Pure logic: no printing,
no click; every mistake is a located BudgetError.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcalc.analysis.report import BYTE_NAMES, FIGURE_NAMES, PARTIAL_FIGURES, LayerRow, Report
from netcalc.errors import Location, NetcalcError, did_you_mean, excerpt
from netcalc.language.yamlload import load_yaml_file
from netcalc.network import Network
from netcalc.units import UnitError, parse_bytes, parse_count

# budget key -> the Report/LayerRow field it limits; a receptive field is a lower limit (a detector head must
# see at least N pixels), every other figure an upper one
FIGURES = {
    **{name: field for name, field in FIGURE_NAMES.items() if name != "receptive_field"},
    "min_receptive_field": "receptive_field",
}
LOWER_LIMITS = frozenset({"min_receptive_field"})
BYTE_FIGURES = BYTE_NAMES
SECTIONS = ("total", "per_layer", "layers")
MAX_GLOBS = 100  # layer globs in one budget (each costs a pass over the layers); docs/limits.md
MAX_GLOB_LENGTH = 200
PARSERS: dict[str, Callable[[object], int]] = {f: parse_bytes if f in BYTE_FIGURES else parse_count for f in FIGURES}


class BudgetError(NetcalcError):
    """A budget that cannot be read: an unknown key, a malformed value or unit."""


@dataclass(frozen=True)
class Limit:
    """One limit: `scope` is "total", "per_layer" or "layers" (then `pattern` is the glob)."""

    scope: str
    figure: str  # a key of FIGURES
    value: int
    text: str  # as written in the budget, e.g. "25.6M"
    pattern: str | None = None
    file: str | None = None
    line: int | None = None

    @property
    def key(self) -> str:
        """The limit's path in the budget: `total.params`, `per_layer.macs`, `layers["fc*"].params`."""
        return f'layers["{self.pattern}"].{self.figure}' if self.scope == "layers" else f"{self.scope}.{self.figure}"

    @property
    def in_bytes(self) -> bool:
        return self.figure in BYTE_FIGURES

    @property
    def lower(self) -> bool:
        """A minimum (`min_receptive_field`) rather than a maximum."""
        return self.figure in LOWER_LIMITS

    def met_by(self, actual: int) -> bool:
        return actual >= self.value if self.lower else actual <= self.value


@dataclass(frozen=True)
class Budget:
    limits: tuple[Limit, ...]
    source: str | None = None  # the file the budget was read from


PASSED, EXCEEDED, UNKNOWN = "passed", "exceeded", "unknown"


@dataclass(frozen=True)
class Finding:
    """One limit checked against one figure: a total, a layer over the limit, or (when none is) the layer
    closest to it. `file`/`line` point at what to fix: the layer's line in the spec, or the budget key.

    `partial`: the figure is only a lower bound (a layer of kind `unknown` counts 0). Such a figure never passes:
    a maximum it already exceeds is exceeded; anything else is `unknown` (see `status`)."""

    limit: Limit
    actual: int
    layer: str | None = None
    file: str | None = None
    line: int | None = None
    partial: bool = False

    @property
    def status(self) -> str:
        """`passed`, `exceeded`, or `unknown`: the figure is a lower bound that does not settle the limit (a
        maximum not yet exceeded by the bound, or any minimum: a receptive field through an operator netcalc
        cannot model is not known at all)."""
        if not self.partial:
            return PASSED if self.limit.met_by(self.actual) else EXCEEDED
        if not self.limit.lower and self.actual > self.limit.value:
            return EXCEEDED
        return UNKNOWN

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def exceeded(self) -> bool:
        return self.status == EXCEEDED

    @property
    def unknown(self) -> bool:
        return self.status == UNKNOWN

    @property
    def excess(self) -> int:
        """How far past the limit (over a maximum, under a minimum); negative: the headroom left."""
        return self.limit.value - self.actual if self.limit.lower else self.actual - self.limit.value

    @property
    def usage(self) -> float:
        """actual / limit (limit / actual for a minimum): 1.0 is exactly at the limit, above 1 past it."""
        used, room = (self.limit.value, self.actual) if self.limit.lower else (self.actual, self.limit.value)
        if room == 0:
            return 0.0 if used == 0 else float("inf")
        return used / room


# --- reading ---


def load_budget(path: str | Path) -> Budget:
    """A budget file."""
    return parse_budget(load_yaml_file(path), str(path))


def budget_of(network: Network, path: str | Path | None = None) -> Budget:
    """The budget to check `network` against: the file at `path` if given (it wins), else the spec's `budget:`."""
    if path is not None:
        return load_budget(path)
    if network.budget is None:
        raise BudgetError(
            "no budget: give --budget BUDGET.yaml or put a `budget:` mapping in the spec", Location(network.source)
        )
    return parse_budget(network.budget, network.source)


def parse_budget(data: Any, file: str | None = None, *, where: str = "budget") -> Budget:
    """A Budget from loaded YAML (a LocatedDict keeps line numbers for errors and annotations)."""
    top = _mapping(data, Location(file, getattr(data, "line", None), where), "a mapping with total, per_layer, layers")
    limits: list[Limit] = []
    for section, body in top.items():
        at = _at(top, section, file, f"{where}.{section}")
        if section not in SECTIONS:
            raise BudgetError(_unknown("key", section, where, SECTIONS), at)
        body = _mapping(body, at, "a mapping")
        if section == "layers":
            if len(body) > MAX_GLOBS:
                raise BudgetError(f"{len(body):,} layer globs; a budget has at most {MAX_GLOBS}", at)
            for pattern, figures in body.items():
                if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_GLOB_LENGTH:
                    raise BudgetError(
                        f"a layer glob must be a string of 1 to {MAX_GLOB_LENGTH} characters, got {excerpt(pattern)}",
                        at,
                    )
                glob_at = _at(body, pattern, file, f'{where}.layers["{pattern}"]')
                figures = _mapping(figures, glob_at, "a mapping of figures, e.g. {params: 1M}")
                limits += _limits(figures, "layers", file, f'{where}.layers["{pattern}"]', pattern)
        else:
            limits += _limits(body, section, file, f"{where}.{section}", None)
    if not limits:
        raise BudgetError(
            f"the budget sets no limits; give {', '.join(SECTIONS)}",
            Location(file, getattr(data, "line", None), where),
        )
    return Budget(tuple(limits), file)


def _limits(body: Mapping[Any, Any], scope: str, file: str | None, where: str, pattern: str | None) -> list[Limit]:
    limits = []
    for figure, raw in body.items():
        at = _at(body, figure, file, f"{where}.{figure}")
        if figure not in FIGURES:
            raise BudgetError(_unknown("figure", figure, where, tuple(FIGURES)), at)
        try:
            value = PARSERS[figure](raw)
        except UnitError as error:
            raise BudgetError(error.message, at) from None  # `at` already names the figure
        limits.append(Limit(scope, figure, value, str(raw), pattern, file, at.line))
    return limits


def _unknown(what: str, key: Any, where: str, known: tuple[str, ...]) -> str:
    return f"unknown {what} {excerpt(key)} in {where}{did_you_mean(str(key), known)}; known: {', '.join(known)}"


def _mapping(value: Any, location: Location, expected: str) -> Mapping[Any, Any]:
    if not isinstance(value, dict):
        got = "nothing" if value is None else "a list" if isinstance(value, list) else excerpt(value)
        raise BudgetError(f"expected {expected}, got {got}", location)
    return value


def _at(container: Any, key: Any, file: str | None, where: str) -> Location:
    line_of = getattr(container, "line_of", None)
    return Location(file, line_of(key) if line_of else None, where)


# --- checking ---


def check_budget(report: Report, budget: Budget) -> tuple[Finding, ...]:
    """Every limit against the report, in the budget's order.

    A total gives one finding. A per-layer or glob limit gives one finding per layer over it, or — when every
    layer is within it — one for the layer closest to it, so the output can say how much room is left. A glob
    that matches no layer gives no finding (see `unmatched_patterns`).
    """
    findings: list[Finding] = []
    cache: dict[str, list[LayerRow]] = {}
    downstream: set[str] | None = None
    for limit in budget.limits:
        field = FIGURES[limit.figure]
        # a figure an `unknown` layer leaves a lower bound (PARTIAL_FIGURES), or a field that passes through one
        counts_unknown = limit.figure in PARTIAL_FIGURES
        if field == "receptive_field" and downstream is None:
            downstream = _downstream_of_unknown(report)
        unsure = downstream if field == "receptive_field" and downstream is not None else set()
        if limit.scope == "total":
            actual = getattr(report.totals, field)
            partial = (counts_unknown and report.totals.partial) or any(n in unsure for n in report.output_names)
            findings.append(Finding(limit, actual, None, limit.file, limit.line, partial))
            continue
        rows = _rows(report, limit, cache)
        if not rows:
            continue
        every = [
            _layer_finding(report, limit, row, (counts_unknown and row.partial) or row.name in unsure) for row in rows
        ]
        unsettled = [f for f in every if not f.passed]  # exceeded, or unknown: each is listed
        closest = min if limit.lower else max
        findings += unsettled or [closest(every, key=lambda f: f.actual)]
    return tuple(findings)


def _layer_finding(report: Report, limit: Limit, row: LayerRow, partial: bool) -> Finding:
    file, line = row.anchor
    return Finding(limit, getattr(row, FIGURES[limit.figure]), row.name, file or report.source, line, partial)


def _downstream_of_unknown(report: Report) -> set[str]:
    """Layers whose receptive field passes through a layer of kind `unknown` (their field is not known)."""
    tainted: set[str] = set()
    for row in report.layers:
        if row.partial or any(name in tainted for name in row.inputs):
            tainted.add(row.name)
    return tainted


def unmatched_patterns(report: Report, budget: Budget) -> tuple[Limit, ...]:
    """The first limit of each glob that matches no layer of the report (a warning, not a failure)."""
    unmatched = {}
    cache: dict[str, list[LayerRow]] = {}
    for limit in budget.limits:
        if limit.pattern is not None and limit.pattern not in unmatched and not _rows(report, limit, cache):
            unmatched[limit.pattern] = limit
    return tuple(unmatched.values())


def _rows(report: Report, limit: Limit, cache: dict[str, list[LayerRow]]) -> list[LayerRow]:
    """The layers a limit covers; a glob's matches are computed once (a glob with several figures is several
    limits), so checking costs one pass over the layers per glob."""
    if limit.pattern is None:
        return list(report.layers)
    if limit.pattern not in cache:
        match = re.compile(fnmatch.translate(limit.pattern)).match
        cache[limit.pattern] = [row for row in report.layers if match(row.name)]
    return cache[limit.pattern]


@dataclass(frozen=True)
class CheckResult:
    """A report checked against a budget: what the renderers of `netcalc check` read."""

    report: Report
    budget: Budget
    findings: tuple[Finding, ...]
    unmatched: tuple[Limit, ...] = ()

    @property
    def passed(self) -> bool:
        return all(finding.passed for finding in self.findings)

    @property
    def violations(self) -> tuple[Finding, ...]:
        """Every finding that does not pass: exceeded, or unknown (a lower bound that cannot settle it)."""
        return tuple(finding for finding in self.findings if not finding.passed)

    @property
    def exceeded(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.exceeded)

    @property
    def unknown(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.unknown)

    def by_limit(self) -> dict[Limit, tuple[Finding, ...]]:
        """Findings grouped by their limit, in the budget's order."""
        groups: dict[Limit, list[Finding]] = {}
        for finding in self.findings:
            groups.setdefault(finding.limit, []).append(finding)
        return {limit: tuple(findings) for limit, findings in groups.items()}


def check(report: Report, budget: Budget) -> CheckResult:
    """Check `report` against `budget`: every finding, and the globs that matched nothing."""
    return CheckResult(report, budget, check_budget(report, budget), unmatched_patterns(report, budget))
