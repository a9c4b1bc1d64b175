"""Saved-for-backward memory against PyTorch's autograd itself (tests/data/autograd_saved.json, written by
tools/autograd_saved_oracle.py with saved_tensors_hooks; parameters, buffers and shared storages excluded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netcalc

HERE = Path(__file__).parent
ORACLE = json.loads((HERE / "data" / "autograd_saved.json").read_text())
# PyTorch's CPU dropout keeps a float noise tensor (4 bytes an element); the fused CUDA kernel — what training on a
# GPU runs, and what netcalc counts — keeps a bool mask (1 byte). The oracle ran on the CPU: 3 bytes an element
# apart, stated here rather than hidden (docs/conventions.md).
CPU_MASK_EXTRA = 4 - 1


@pytest.mark.parametrize("model", sorted(ORACLE["models"]))
def test_saved_for_backward_equals_autograds(model):
    figures = ORACLE["models"][model]
    report = netcalc.analyze_file(HERE.parent / "specs" / f"{model}.yaml")
    assert (ORACLE["batch"], ORACLE["dtype"], tuple(ORACLE["input"])) == (1, "float32", report.input_shape)
    assert report.totals.saved_bytes == figures["saved_bytes"] - CPU_MASK_EXTRA * figures["dropout_elements"]


def test_the_oracle_covers_branchy_and_inplace_networks():
    assert {"resnet50", "densenet121", "googlenet", "mobilenet_v2"} <= set(ORACLE["models"])


def test_backward_costs_follow_what_autograd_records_by_hand():
    report = netcalc.analyze(
        "input: 4x4x2\nlayers:\n"
        "  - {kind: relu, name: r0}\n"  # on the input: nothing upstream needs a gradient, autograd records nothing
        "  - {kind: conv, name: c, out: 3, kernel: 1}\n"  # its weights need dL/dw; its input needs no dL/dx
        "  - {kind: relu, name: r1}\n",
        batch=2,
    )
    r0, c, r1 = report.layers
    assert (r0.backward_input_macs, r0.backward_weight_macs, r0.backward_flops) == (0, 0, 0)
    dw = 2 * 4 * 4 * 3 * 2  # N·HO·WO·COUT·CIN
    db = 2 * 4 * 4 * 3  # the bias gradient sums dy over N·H·W, per channel
    assert (c.backward_input_macs, c.backward_weight_macs, c.backward_flops) == (0, dw, 2 * dw + db)
    assert (r1.backward_input_macs, r1.backward_flops) == (0, 2 * 4 * 4 * 3)  # one step per element


@pytest.mark.parametrize("batch", [0, -1, True, 2.0, "2"])
def test_the_library_refuses_a_batch_that_is_not_a_whole_number_from_1(batch):
    network = netcalc.parse_network_text("input: 2x2x1\nlayers: [relu]")
    with pytest.raises(netcalc.NetcalcError, match=rf"batch must be a whole number ≥ 1, got {batch!r}"):
        netcalc.analyze_network(network, batch=batch)


def test_the_library_names_the_dtypes_it_knows():
    network = netcalc.parse_network_text("input: 2x2x1\nlayers: [relu]")
    known = "float64, float32, float16, bfloat16, int8"
    with pytest.raises(netcalc.NetcalcError, match=rf"unknown dtype 'int4'; known: {known}$"):
        netcalc.analyze_network(network, dtype="int4")


def test_the_library_names_the_optimizers_it_knows():
    network = netcalc.parse_network_text("input: 2x2x1\nlayers: [relu]")
    with pytest.raises(netcalc.NetcalcError, match=r"unknown optimizer 'lion'; known: sgd, "):
        netcalc.analyze_network(network, optimizer="lion")


def test_dropout_saves_its_mask_only_when_it_drops():
    # PyTorch's dropout returns its input untouched when p = 0 (ATen's `_dropout`: "if p == 0 || !train … return
    # input"), so autograd records no mask; for 0 < p < 1 it keeps one byte an element (the fused kernel's bool
    # mask): 4·4·2 = 32 bytes here
    def saved(p):
        report = netcalc.analyze(
            "input: 4x4x2\nlayers:\n  - {kind: conv, out: 2, kernel: 1}\n"
            f"  - {{kind: dropout, name: d, p: {p}}}\n"
        )
        return next(row.saved_bytes for row in report.layers if row.name == "d")

    assert saved(0) == 0
    assert saved(0.5) == 32
