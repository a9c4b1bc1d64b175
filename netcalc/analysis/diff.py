"""What changed between two versions of a network: layers matched by name, then added, removed or changed.

A layer present in both is "changed" when its kind, attributes, inputs, output shape or any figure differs
(a layer whose own attributes stayed the same changes too when a layer upstream changed its input).
Pure logic over finished Networks and Reports; `netcalc/render/diff.py` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netcalc.analysis.report import FIGURES, LayerRow, Report
from netcalc.network import Network

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(frozen=True)
class LayerChange:
    name: str
    status: str  # ADDED, REMOVED or CHANGED
    old: LayerRow | None
    new: LayerRow | None
    attrs: tuple[tuple[str, Any, Any], ...] = ()  # (attribute, old value, new value); None where absent
    what: tuple[str, ...] = ()  # for CHANGED: which of kind, attrs, inputs, shape, figures differ

    def delta(self, figure: str) -> int:
        """new − old for one figure of report.FIGURES; a missing side counts as zero."""
        return (getattr(self.new, figure) if self.new else 0) - (getattr(self.old, figure) if self.old else 0)

    @property
    def line(self) -> int | None:
        row = self.new or self.old
        return row.line if row else None


@dataclass(frozen=True)
class Diff:
    old: Report
    new: Report
    changes: tuple[LayerChange, ...]  # in the new network's order, removed layers where they stood

    def delta(self, figure: str) -> int:
        return getattr(self.new.totals, figure) - getattr(self.old.totals, figure)

    def of(self, status: str) -> tuple[LayerChange, ...]:
        return tuple(change for change in self.changes if change.status == status)

    @property
    def unchanged(self) -> int:
        return len(self.new.layers) - len(self.of(ADDED)) - len(self.of(CHANGED))


def diff(old_network: Network, old: Report, new_network: Network, new: Report) -> Diff:
    """Compare two analysed versions of a network (each Report analysed from its Network)."""
    old_rows = {row.name: row for row in old.layers}
    new_rows = {row.name: row for row in new.layers}
    old_attrs = {layer.name: dict(layer.attrs) for layer in old_network.layers}
    new_attrs = {layer.name: dict(layer.attrs) for layer in new_network.layers}

    removed_after: dict[str | None, list[LayerChange]] = {}
    anchor: str | None = None
    for row in old.layers:  # a removed layer is shown after the last layer before it that survives
        if row.name in new_rows:
            anchor = row.name
        else:
            removed_after.setdefault(anchor, []).append(LayerChange(row.name, REMOVED, row, None))

    changes = list(removed_after.get(None, []))
    for row in new.layers:
        before = old_rows.get(row.name)
        if before is None:
            changes.append(LayerChange(row.name, ADDED, None, row))
        else:
            change = _compare(before, row, old_attrs.get(row.name, {}), new_attrs.get(row.name, {}))
            if change is not None:
                changes.append(change)
        changes += removed_after.get(row.name, [])
    return Diff(old, new, tuple(changes))


def _compare(old: LayerRow, new: LayerRow, old_attrs: dict[str, Any], new_attrs: dict[str, Any]) -> LayerChange | None:
    attrs = tuple(
        (key, old_attrs.get(key), new_attrs.get(key))
        for key in dict.fromkeys([*old_attrs, *new_attrs])
        if old_attrs.get(key) != new_attrs.get(key)
    )
    checks = {
        "kind": old.kind != new.kind,
        "attrs": bool(attrs),
        "inputs": old.inputs != new.inputs,
        "shape": old.output_shape != new.output_shape,
        "figures": any(getattr(old, f) != getattr(new, f) for f in FIGURES),
    }
    what = tuple(name for name, differs in checks.items() if differs)
    return LayerChange(new.name, CHANGED, old, new, attrs, what) if what else None
