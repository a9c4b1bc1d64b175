"""Fully connected and flatten: AlexNet's parameters live in its FC layers."""

from __future__ import annotations

import pytest

import netcalc
from netcalc.errors import NetcalcError
from tests.conftest import row


def test_fc_after_flatten():
    report = netcalc.analyze("input: 6x6x256\nlayers: [flatten, {kind: fc, out: 4096, name: fc6}]")
    assert row(report, "flatten1").output_shape == (6 * 6 * 256,)
    fc6 = row(report, "fc6")
    assert fc6.output_shape == (4096,)
    assert fc6.params == 6 * 6 * 256 * 4096 + 4096
    assert fc6.macs == 6 * 6 * 256 * 4096
    assert fc6.flops == 2 * (6 * 6 * 256 * 4096) + 4096


def test_fc_without_bias_and_with_fused_activation():
    report = netcalc.analyze("input: 1x1x10\nlayers: [flatten, {kind: fc, out: 5, bias: false, activation: relu}]")
    fc = report.layers[-1]
    assert (fc.params, fc.macs, fc.flops) == (10 * 5, 10 * 5, 2 * 10 * 5 + 5)


def test_fc_on_a_feature_map_asks_for_flatten():
    with pytest.raises(NetcalcError, match="fc needs a flat input, got the feature map 7×7×512; put a `flatten`"):
        netcalc.analyze("input: 7x7x512\nlayers: [fc-4096]")


def test_batch_multiplies_macs_and_memory_not_params():
    report = netcalc.analyze("input: 1x1x10\nlayers: [flatten, fc-5]", batch=8, dtype="float16")
    fc = report.layers[-1]
    assert (fc.params, fc.macs, fc.activation_bytes, fc.param_bytes) == (10 * 5 + 5, 8 * 10 * 5, 8 * 5 * 2, 55 * 2)
