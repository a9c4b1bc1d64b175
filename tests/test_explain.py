"""`netcalc explain` and `netcalc kinds conv`: the arithmetic with its numbers, as the lecture writes it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from netcalc.cli import cli

SPECS = Path(__file__).parent.parent / "specs"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})


def test_alexnet_conv1_written_out():
    result = invoke("explain", str(SPECS / "alexnet_original.yaml"), "conv1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "⌊(227 + 2·0 − 1·(11−1) − 1)/4⌋ + 1 = ⌊216/4⌋ + 1 = 55" in out
    assert f"11·11·3·96 = {11 * 11 * 3 * 96:,}" in out
    assert f"55·55·96 outputs · 11·11·3 inputs each = {55 * 55 * 96:,} · {11 * 11 * 3} = {55 * 55 * 96 * 363:,}" in out
    assert f"{55 * 55 * 96:,} elements · 4 B · batch 1 = {55 * 55 * 96 * 4:,} B" in out
    assert "size 1 + 10·1 = 11; jump 1·4 = 4; unit 0 centred at 0 + (5)·1 = 5" in out
    assert "(no input gradient)" in out  # the first layer's input is the image


def test_explain_a_pool_and_an_unknown_layer():
    result = invoke("explain", str(SPECS / "alexnet.yaml"), "maxpool3")
    assert result.exit_code == 0 and "⌊(13 + 2·0 − 1·(3−1) − 1)/2⌋ + 1 = ⌊10/2⌋ + 1 = 6" in result.output
    assert "size 163 + 2·16 = 195" in result.output
    bad = invoke("explain", str(SPECS / "alexnet.yaml"), "maxpool9")
    assert bad.exit_code == 2 and "no layer 'maxpool9'" in bad.output


def test_kinds_conv_prints_its_formulas():
    result = invoke("kinds", "conv")
    assert result.exit_code == 0
    assert "⌊(H + Pt + Pb − D·(K−1) − 1)/S⌋ + 1" in result.output
    assert "Kh·Kw·(Cin/G)·Cout" in result.output and "Hout·Wout·Cout · Kh·Kw·(Cin/G)" in result.output
    assert "per input pixel" in invoke("kinds", "conv_transpose").output
