"""`verify` cannot pass vacuously: a NaN or infinity anywhere in the pass fails the layer that made it, a weight
whose gradient is identically zero is reported (a failure under --strict), and the gradcheck figure says what it
compared."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

import netcalc
from netcalc.cli import cli
from netcalc.kinds import REGISTRY
from netcalc.reference.engine import run
from netcalc.reference.verify import compare

LRN_ZERO = """
name: lrn0
input: 8x8x3
layers:
  - {kind: conv, name: conv, out: 4, kernel: 3}
  - {kind: lrn, name: lrn, size: 3, k: 0, alpha: 0}
  - flatten
  - {kind: fc, name: fc, out: 3}
"""

# batch norm over a 1×1 map: at batch 1 in training mode it sees one value per channel, x̂ = 0, and every
# gradient upstream of it is exactly zero
ONE_PIXEL_BN = """
name: bn1
input: 1x1x4
layers:
  - {kind: conv, name: conv, out: 4, kernel: 1}
  - {kind: batchnorm, name: bn}
  - flatten
  - {kind: fc, name: fc, out: 3}
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, ["verify", *args], env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.mark.parametrize("args", [[], ["--no-backward"], ["--gradcheck", "3", "--dtype", "float64"]])
def test_lrn_with_k_0_and_alpha_0_fails_at_the_lrn(write_spec, args) -> None:
    # s = k + α/n Σ x² = 0, y = x · s^−β: infinite or NaN
    result = invoke(write_spec(LRN_ZERO), "--format", "json", *args)
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["totals"]["failed"] == ["lrn"]  # only the layer that made them, not everything after it
    lrn = next(layer for layer in data["layers"] if layer["name"] == "lrn")
    assert lrn["nonfinite"] == ["output"] and lrn["ok"] is False
    table = invoke(write_spec(LRN_ZERO), *args)
    assert table.exit_code == 1 and "disagree: lrn" in table.output
    assert "NaN or infinity made by lrn (output)" in table.output
    assert "RuntimeWarning" not in table.output


def test_batch_norm_with_a_nan_eps_fails_at_the_batch_norm() -> None:
    # the parser refuses eps: .nan; a Network built in Python can still carry it
    network = netcalc.parse_network_text(ONE_PIXEL_BN.replace("1x1x4", "4x4x4"))
    layers = tuple(
        dataclasses.replace(layer, attrs={**layer.attrs, "eps": math.nan}) if layer.kind == "batchnorm" else layer
        for layer in network.layers
    )
    # the analysis refuses eps NaN as the parser does; its figures do not depend on eps, so the valid network's
    # report stands for the pass's
    report = netcalc.analyze(network, batch=2)
    network = dataclasses.replace(network, layers=layers)
    for backward in (True, False):
        result = run(network, batch=2, backward=backward)
        assert {layer.name: layer.nonfinite for layer in result.layers if layer.nonfinite} == {"bn": ("output",)}
        verification = compare(report, result, backward=backward)
        assert [layer.name for layer in verification.failed] == ["bn"]
        assert verification.failed[0].disagreements == ("non-finite values",)


def test_a_backward_that_makes_nan_fails_and_names_the_gradient(write_spec, monkeypatch) -> None:
    fc = REGISTRY["fc"]

    def nan_weight_gradient(dy, cache):
        dxs, dparams = fc.backward(dy, cache)
        return dxs, {**dparams, "weight": dparams["weight"] * np.nan}

    monkeypatch.setitem(REGISTRY, "fc", dataclasses.replace(fc, backward=nan_weight_gradient))
    result = invoke(write_spec(ONE_PIXEL_BN.replace("1x1x4", "4x4x4")), "--format", "json", "--batch", "2")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["totals"]["failed"] == ["fc"]
    assert data["layers"][-1]["nonfinite"] == ["dweight"]
    # with --gradcheck the comparison meets the NaN too: the figure is NaN, never a silent 0
    result = invoke(write_spec(ONE_PIXEL_BN.replace("1x1x4", "4x4x4")), "--format", "json", "--gradcheck", "2")
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["totals"]["worst_gradcheck_error"] == "nan"


def test_identically_zero_weight_gradients_are_reported(write_spec) -> None:
    spec = write_spec(ONE_PIXEL_BN)
    result = invoke(spec, "--format", "json")
    assert result.exit_code == 0  # a warning …
    data = json.loads(result.stdout)
    assert data["totals"]["zero_gradient_layers"] == ["conv", "bn"]
    assert data["layers"][0]["zero_gradients"] == ["weight", "bias"]
    assert data["layers"][1]["zero_gradients"] == ["gamma"]  # β still gets Σ dy
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 3 and warnings[0].startswith("netcalc: warning: layer 'conv' (conv): the gradient of")
    # every gradient upstream of the batch norm is zero: the image's too
    assert warnings[2].startswith("netcalc: warning: the gradient with respect to the network input")
    strict = invoke(spec, "--strict", "--format", "json")  # … a failure under --strict
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)["totals"]["failed"] == ["conv", "bn"]
    assert "netcalc: error: layer 'bn' (batchnorm)" in strict.stderr
    # two samples give the batch norm two values per channel: every gradient carries information
    two = invoke(spec, "--strict", "--batch", "2")
    assert two.exit_code == 0 and two.stderr == ""


def test_the_gradcheck_figure_says_what_it_compared(write_spec) -> None:
    spec = write_spec(ONE_PIXEL_BN)
    result = invoke(spec, "--format", "json", "--batch", "2", "--dtype", "float64", "--gradcheck", "3")
    assert result.exit_code == 0, result.output
    conv, bn, flatten, fc = json.loads(result.stdout)["layers"]
    # conv: dinput has 2·4 entries, dweight 4·4, dbias 4 → 3 sampled from each
    assert conv["gradcheck"]["compared"] == ["dinput", "dweight", "dbias"]
    assert conv["gradcheck"]["entries"] == 3 + 3 + 3
    assert flatten["gradcheck"] == {
        "compared": ["dbn"],
        "entries": 3,
        "raw_error": flatten["gradcheck"]["raw_error"],
        "error": flatten["gradcheck"]["error"],
    }
    for layer in (conv, bn, flatten, fc):
        check = layer["gradcheck"]
        assert 0 <= check["error"] <= check["raw_error"] < 1e-6  # the allowance only ever lowers the figure
        assert layer["gradcheck_error"] == check["error"]
    table = invoke(spec, "--batch", "2", "--dtype", "float64", "--gradcheck", "3")
    assert "over 30 sampled gradient entries" in table.output  # 9 + 9 + 3 + 9


def test_a_float32_pass_is_gradient_checked_in_float64(write_spec) -> None:
    # in float32 a central difference with h = 1e-5 drowns in rounding (errors of 1e-2 and more): the check
    # must copy the layer's arrays to float64 whatever the pass's dtype
    result = invoke(write_spec(ONE_PIXEL_BN), "--format", "json", "--batch", "2", "--gradcheck", "3")
    assert result.exit_code == 0, result.output
    layers = json.loads(result.stdout)["layers"]
    assert all(layer["gradcheck"]["raw_error"] < 1e-6 for layer in layers)


# pad 3 puts image row 0 at row 3 of a 10×10 map; a 2×2 crop at offset 0 takes rows 0–1 and columns 0–1: padding
# only (3 > 0 + 2 − 1), so the output is identically zero, and so is the gradient reaching the image
PADDING_ONLY = """
name: padding_only
input: 4x4x3
layers:
  - {kind: pad, name: pad, padding: 3}
  - {kind: crop, name: crop, size: [2, 2], offset: [%d, %d]}
"""


def test_an_identically_zero_output_and_input_gradient_are_reported(write_spec) -> None:
    spec = write_spec(PADDING_ONLY % (0, 0))
    result = invoke(spec, "--format", "json")
    assert result.exit_code == 0  # a warning …
    data = json.loads(result.stdout)
    assert data["totals"]["zero_output_layers"] == ["crop"] and data["totals"]["zero_input_gradient"] is True
    assert data["layers"][1]["zero_output"] is True
    assert data["layers"][0]["zero_input_gradient"] is True  # pad is the layer reading the input
    warnings = result.stderr.strip().splitlines()
    assert warnings == [
        "netcalc: warning: output 'crop' (crop) is identically zero, so its values check nothing "
        "(e.g. a crop of padding only, or dropout with p = 1)",
        "netcalc: warning: the gradient with respect to the network input is identically zero, so the backward "
        "pass carried nothing to it",
    ]
    strict = invoke(spec, "--strict", "--format", "json")  # … a failure under --strict
    assert strict.exit_code == 1 and json.loads(strict.stdout)["totals"]["failed"] == ["pad", "crop"]
    assert strict.stderr.startswith("netcalc: error: output 'crop'")
    table = invoke(spec, "--strict")
    assert "✗ 2 of 2 layers disagree" in table.stdout and "identically zero output: crop" in table.stdout
    # offset 3 starts the crop at image row 0: rows 3–4 of the padded map are image rows 0–1, not zero
    real = invoke(write_spec(PADDING_ONLY % (3, 3), "real.yaml"), "--strict")
    assert real.exit_code == 0 and real.stderr == ""


def test_a_forward_only_pass_reports_a_zero_output(write_spec) -> None:
    spec = write_spec(
        "name: conv_then_padding\ninput: 4x4x3\nlayers:\n"
        "  - {kind: conv, name: conv, out: 4, kernel: 3, padding: 1}\n"
        "  - {kind: pad, name: pad, padding: 3}\n"
        "  - {kind: crop, name: crop, size: [2, 2], offset: [0, 0]}\n"
    )
    result = invoke(spec, "--no-backward")
    assert result.exit_code == 0 and "output 'crop' (crop) is identically zero" in result.stderr
    assert "input gradient" not in result.stderr  # no backward: nothing said about it
    assert invoke(spec, "--no-backward", "--strict").exit_code == 1


def test_only_the_zero_one_of_several_outputs_is_reported() -> None:
    network = netcalc.parse_network_text(
        "name: two\ninput: 4x4x3\nlayers:\n"
        "  - {kind: conv, name: conv, out: 4, kernel: 3, padding: 1}\n"
        "  - {kind: pad, name: pad, padding: 3}\n"
        "  - {kind: crop, name: zero, size: [2, 2], offset: [0, 0]}\n"
        "  - {kind: crop, name: real, from: pad, size: [2, 2], offset: [3, 3]}\n"
        "outputs: [zero, real]\n"
    )
    checks = {c.name: c for c in compare(netcalc.analyze_network(network), run(network)).layers}
    assert checks["zero"].zero_output and not checks["real"].zero_output
    assert not checks["conv"].zero_input_gradient  # `real` carries its gradient back to the image


def test_a_sum_of_zero_is_not_taken_for_zeros() -> None:
    from netcalc.reference.engine import _summed

    # 1 + (−1) + 0 sums to exactly 0, but the array is not zero: the second pass (`any`) tells them apart
    assert _summed(np.array([1.0, -1.0, 0.0])) == (True, False)
    assert _summed(np.zeros((2, 3))) == (True, True)
    assert _summed(np.array([np.nan, 0.0])) == (False, False)
