"""The layered layout: rows are longest paths from the input, branches spread, merges sit between inputs."""

from __future__ import annotations

import itertools

import netcalc
from netcalc.render.layout import layered_layout


def placed(layers):
    layout = layered_layout(layers)
    return {n.name: (n.row, n.column) for n in layout.nodes}, layout


def test_a_chain_is_one_column_one_row_per_layer():
    where, layout = placed([("a", ["input"]), ("b", ["a"]), ("c", ["b"])])
    assert {name: row for name, (row, _) in where.items()} == {"input": 0, "a": 1, "b": 2, "c": 3}
    assert {col for _, col in where.values()} == {0.0}
    assert (layout.rows, layout.columns) == (4, 1.0)


def test_four_branches_spread_one_column_apart_and_the_merge_sits_below_the_longest():
    # an Inception-like module: four branches of lengths 1, 2, 2, 1 from one input, then a concat
    layers = [
        ("b1", ["input"]),
        ("b2a", ["input"]),
        ("b2b", ["b2a"]),
        ("b3a", ["input"]),
        ("b3b", ["b3a"]),
        ("b4", ["input"]),
        ("cat", ["b1", "b2b", "b3b", "b4"]),
    ]
    where, _ = placed(layers)
    assert [where[n][0] for n in ("b1", "b2a", "b3a", "b4")] == [1, 1, 1, 1]
    assert where["cat"][0] == 1 + 2  # below the two-layer branches
    columns = [where[n][1] for n in ("b1", "b2a", "b3a", "b4")]
    assert columns == sorted(columns) and all(b - a == 1 for a, b in itertools.pairwise(columns))
    assert sum(columns) / 4 == where["input"][1]  # the branches are centred under their parent
    assert where["b2b"][1] == where["b2a"][1]  # a branch goes straight down
    assert where["cat"][1] == sum(columns) / 4  # the merge is centred under its inputs


def test_residual_blocks_stay_in_one_column():
    # 30 identity residual blocks: conv, conv, add(input) — the main path must not drift sideways
    layers, previous = [], "input"
    for i in range(30):
        layers += [(f"c{i}a", [previous]), (f"c{i}b", [f"c{i}a"]), (f"add{i}", [f"c{i}b", previous])]
        previous = f"add{i}"
    where, layout = placed(layers)
    assert layout.columns < 2
    assert max(col for _, col in where.values()) - min(col for _, col in where.values()) < 1


def test_every_layer_of_a_zoo_network_is_placed_once_and_no_two_share_a_spot():
    report = netcalc.analyze_file("specs/googlenet.yaml")
    where, layout = placed([(r.name, r.inputs) for r in report.layers])
    assert set(where) == {"input"} | {r.name for r in report.layers}
    spots = [(row, round(col, 6)) for row, col in where.values()]
    assert len(spots) == len(set(spots))
    for r in report.layers:  # every edge points down
        assert all(where[i][0] < where[r.name][0] for i in r.inputs)
    assert len(layout.edges) == sum(len(r.inputs) for r in report.layers)
