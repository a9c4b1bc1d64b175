"""concat and add: what must match, and what they produce."""

from __future__ import annotations

import pytest

import netcalc
from netcalc.errors import NetcalcError

BRANCHES = """
input: 28x28x256
layers:
  - {kind: conv, name: a, out: 64, kernel: 1, from: input}
  - {kind: conv, name: b, out: 128, kernel: 3, padding: 1, from: input}
  - {kind: maxpool, name: p, kernel: 3, stride: 1, padding: 1, from: input}
"""


def test_concat_adds_channels():
    report = netcalc.analyze(BRANCHES + "  - {kind: concat, name: cat, from: [a, b, p]}\n")
    cat = report.layers[-1]
    assert cat.output_shape == (28, 28, 64 + 128 + 256)
    assert (cat.params, cat.macs, cat.flops) == (0, 0, 0)


def test_add_counts_one_add_per_element_per_extra_input():
    text = BRANCHES + "  - {kind: conv, name: c, out: 64, kernel: 1, from: input}\n  - {kind: add, from: [a, c]}\n"
    assert netcalc.analyze(text).layers[-1].flops == 28 * 28 * 64


def test_add_of_unequal_shapes_shows_both():
    with pytest.raises(NetcalcError, match="add needs inputs of exactly the same shape, got 28×28×64, 28×28×128"):
        netcalc.analyze(BRANCHES + "  - {kind: add, from: [a, b]}\n")


def test_concat_of_unequal_sizes_shows_both():
    text = BRANCHES + "  - {kind: maxpool, name: q, kernel: 2, from: a}\n  - {kind: concat, from: [a, q]}\n"
    with pytest.raises(NetcalcError, match="concat needs inputs of equal H×W, got 28×28×64, 14×14×64"):
        netcalc.analyze(text)
