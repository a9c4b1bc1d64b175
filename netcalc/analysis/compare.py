"""Several networks side by side: one row of headline figures per analysed network, optionally as ratios to a
baseline row. Pure logic over finished Reports; `netcalc/render/compare.py` draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netcalc.analysis.report import FIGURE_NAMES, PARTIAL_FIGURES, Report
from netcalc.errors import NetcalcError, did_you_mean
from netcalc.shapes import Shape

FIGURES = FIGURE_NAMES  # column name -> the Totals field it shows
RATIO_COLUMNS = (*FIGURES, "depth")
SORT_COLUMNS = ("label", "input", *RATIO_COLUMNS)
PARTIAL_COLUMNS = PARTIAL_FIGURES | {"depth"}  # the columns a layer of kind `unknown` makes lower bounds


@dataclass(frozen=True)
class Largest:
    """The layer with the most of one figure, and its share of the network's total."""

    name: str
    value: int
    share: float


@dataclass(frozen=True)
class CompareRow:
    label: str
    source: str | None
    input_shape: Shape
    batch: int
    dtype: str
    params: int
    macs: int
    flops: int
    activation_memory: int
    param_memory: int
    peak_memory: int  # inference, by tensor lifetime
    backward_macs: int
    saved_memory: int
    training_memory: int  # at the backward pass's peak, with the analysis's optimizer
    receptive_field: int  # the output's smaller side, in input pixels
    depth: int  # weighted layers: layers with both parameters and MACs (conv, conv_transpose, fc)
    largest_params: Largest | None
    largest_macs: Largest | None
    partial: bool = False  # a layer's figures are unknown (kind `unknown`): PARTIAL_COLUMNS are lower bounds

    def is_partial(self, column: str) -> bool:
        """Whether this row's `column` is only a lower bound."""
        return self.partial and column in PARTIAL_COLUMNS

    def figure(self, column: str) -> int:
        return getattr(self, column)

    def ratio(self, baseline: CompareRow, column: str) -> float | None:
        """This row's figure over the baseline's; None when the baseline's is zero."""
        base = baseline.figure(column)
        return None if base == 0 else self.figure(column) / base


@dataclass(frozen=True)
class Comparison:
    rows: tuple[CompareRow, ...]
    baseline: CompareRow | None = None

    def ratios(self, row: CompareRow) -> dict[str, float | None]:
        if self.baseline is None:
            return {}
        return {column: row.ratio(self.baseline, column) for column in RATIO_COLUMNS}


def compare_row(report: Report, label: str | None = None) -> CompareRow:
    """The headline figures of one report."""
    totals = report.totals
    return CompareRow(
        label=label if label is not None else report.name,
        source=report.source,
        input_shape=report.input_shape,
        batch=report.batch,
        dtype=report.dtype,
        **{column: getattr(totals, field) for column, field in FIGURES.items()},
        depth=sum(1 for row in report.layers if row.params > 0 and row.macs > 0),
        largest_params=_largest(report, "params"),
        largest_macs=_largest(report, "macs"),
        partial=totals.partial,
    )


def _largest(report: Report, field: str) -> Largest | None:
    """The first layer with the most of `field`; None when no layer has any."""
    if not report.layers:
        return None
    top = max(report.layers, key=lambda row: getattr(row, field))
    value = getattr(top, field)
    if value == 0:
        return None
    return Largest(top.name, value, value / getattr(report.totals, field))


def compare(
    entries: Sequence[tuple[str | None, Report]], *, baseline: str | None = None, sort: str | None = None
) -> Comparison:
    """Rows for (label, report) pairs; a label of None means the report's name. Labels must end up unique.

    `baseline` names a row (exactly, or by the label before `@` when that is unambiguous); `sort` is one of
    SORT_COLUMNS, ascending and stable.
    """
    rows = [compare_row(report, label) for label, report in entries]
    labels = [row.label for row in rows]
    for label in labels:
        if labels.count(label) > 1:
            raise NetcalcError(f"two rows are labelled {label!r}; name them with LABEL=SPEC")
    base = None if baseline is None else _find(rows, baseline)
    if sort is not None:
        if sort not in SORT_COLUMNS:
            raise NetcalcError(f"cannot sort by {sort!r}{did_you_mean(sort, SORT_COLUMNS)}")
        rows.sort(key=lambda row: _sort_key(row, sort))
    return Comparison(tuple(rows), base)


def _sort_key(row: CompareRow, column: str) -> str | Shape | int:
    if column == "label":
        return row.label
    return row.input_shape if column == "input" else row.figure(column)


def _find(rows: list[CompareRow], name: str) -> CompareRow:
    exact = [row for row in rows if row.label == name]
    if exact:
        return exact[0]
    by_stem = [row for row in rows if row.label.split("@")[0] == name]
    if len(by_stem) == 1:
        return by_stem[0]
    labels = [row.label for row in rows]
    several = f" names {len(by_stem)} rows" if by_stem else f" names no row{did_you_mean(name, labels)}"
    raise NetcalcError(f"--baseline {name!r}{several}; rows: {', '.join(labels)}")
