"""A layered drawing of a network's graph: each layer gets a row (its rank) and a column position.

CNN graphs are long chains with short side branches (Inception's four branches, a ResNet downsample, a
U-Net skip), so a simple Sugiyama-style layout reads well and runs in linear time on 10,000-layer networks:

- rank: the longest path from the input (a merge sits below all of its inputs);
- columns: ranks are visited top-down and each layer asks for the mean column of its inputs (a branch that
  fans out asks for its parent's column plus its place among the siblings); the layers of one rank are sorted
  by what they ask for and pushed apart to one column at least, keeping their mean where it was asked.

Long edges (a skip connection over 30 rows) are not routed around nodes; the renderers bend them aside.
Pure arithmetic: no drawing here, so the HTML report, the SVG export and the tests share one layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netcalc.network import INPUT


@dataclass(frozen=True)
class Placed:
    """One drawn node: its name, its row (rank; the input is row 0) and its column (a float, 0 at the left)."""

    name: str
    row: int
    column: float


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Placed, ...]  # the input first, then the layers in dependency order
    edges: tuple[tuple[str, str], ...]  # (from, to), one per input of each layer
    rows: int
    columns: float  # width in columns (the rightmost column + 1)


def layered_layout(layers: Sequence[tuple[str, Sequence[str]]]) -> Layout:
    """Rows and columns for `layers`, given as (name, inputs) in dependency order; `input` is the source."""
    rank: dict[str, int] = {INPUT: 0}
    children: dict[str, list[str]] = {INPUT: []}
    for name, inputs in layers:
        rank[name] = 1 + max((rank[i] for i in inputs), default=0)
        children[name] = []
        if len(inputs) == 1:  # branches: a merge sits between its inputs and is nobody's branch
            children[inputs[0]].append(name)
    by_row: dict[int, list[str]] = {}
    for name in rank:
        by_row.setdefault(rank[name], []).append(name)

    inputs_of = dict(layers)
    column: dict[str, float] = {INPUT: 0.0}
    for row in range(1, max(by_row) + 1):
        wanted = {name: _wanted_column(name, inputs_of[name], children, column) for name in by_row[row]}
        order = sorted(by_row[row], key=lambda n: wanted[n])  # stable: ties keep the spec's order
        for name, col in zip(order, _spread([wanted[n] for n in order]), strict=True):
            column[name] = col
    shift = -min(column.values())
    nodes = tuple(Placed(name, rank[name], column[name] + shift) for name in rank)
    edges = tuple((i, name) for name, inputs in layers for i in inputs)
    return Layout(nodes, edges, max(by_row) + 1, max(n.column for n in nodes) + 1)


def _wanted_column(name: str, inputs: Sequence[str], children: dict[str, list[str]], column: dict[str, float]) -> float:
    """The mean column of a layer's inputs; a layer that is one of several single-input children of a layer
    (a branch) asks for its place among them, centred under the parent, so branches spread out instead of
    stacking, and a chain of residual blocks stays in one column."""
    if len(inputs) == 1:
        siblings = children[inputs[0]]
        if len(siblings) > 1:
            return column[inputs[0]] + siblings.index(name) - (len(siblings) - 1) / 2
    return sum(column[i] for i in inputs) / len(inputs) if inputs else 0.0


def _spread(wanted: list[float]) -> list[float]:
    """Columns at least 1 apart, in the given (sorted) order, as close to `wanted` as a simple sweep gets:
    push right to clear the left neighbour, then shift the whole row so its mean is the mean asked for."""
    placed: list[float] = []
    for want in wanted:
        placed.append(want if not placed else max(want, placed[-1] + 1))
    offset = (sum(wanted) - sum(placed)) / len(placed)
    return [p + offset for p in placed]
