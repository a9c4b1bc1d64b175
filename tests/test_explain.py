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


def lines_of(output: str) -> set[str]:
    """Each line of an explanation, stripped: a figure is asserted as its whole line, so nothing may follow it."""
    return {line.strip() for line in output.splitlines()}


def test_window_arithmetic_with_asymmetric_padding_dilation_groups_and_ceil_mode(tmp_path):
    spec = tmp_path / "windows.yaml"
    spec.write_text(
        "input: 9x8x6\nlayers:\n"
        "  - {kind: conv, name: c, out: 4, kernel: [3, 2], stride: [2, 1], dilation: [2, 1],"
        " padding: [1, 0, 2, 2], groups: 2}\n"
        "  - {kind: maxpool, name: p, from: input, kernel: [2, 3], stride: 2, padding: [1, 1, 0, 1], ceil_mode: true}\n"
    )
    conv = lines_of(invoke("explain", str(spec), "c").output)
    # height: 9 + 1 + 0 − 2·(3−1) − 1 = 5, ⌊5/2⌋ + 1 = 3; width: 8 + 2 + 2 − 1·(2−1) − 1 = 10, ⌊10/1⌋ + 1 = 11
    assert "output height    ⌊(9 + 1 + 0 − 2·(3−1) − 1)/2⌋ + 1 = ⌊5/2⌋ + 1 = 3" in conv
    assert "output width     ⌊(8 + 2·2 − 1·(2−1) − 1)/1⌋ + 1 = ⌊10/1⌋ + 1 = 11" in conv
    assert "weights          3·2·(6/2)·4 = 72" in conv and "biases           4" in conv
    assert f"MACs per sample  3·11·4 outputs · 3·2·(6/2) inputs each = 132 · 18 = {132 * 18:,}" in conv
    pool = lines_of(invoke("explain", str(spec), "p").output)
    # height: 9 + 2·1 − 1 − 1 = 9, ⌈9/2⌉ + 1 = 6, but window 6 would start at 5·2 = 10 ≥ 9 + 1, in the padding
    dropped = "⌈(9 + 2·1 − 1·(2−1) − 1)/2⌉ + 1 = ⌈9/2⌉ + 1 = 6, less the window starting in the padding = 5"
    assert f"output height  {dropped}" in pool
    # width: 8 + 0 + 1 − 2 − 1 = 6, ⌈6/2⌉ + 1 = 4, the last window starts at 3·2 = 6 < 8: kept
    assert "output width   ⌈(8 + 0 + 1 − 1·(3−1) − 1)/2⌉ + 1 = ⌈6/2⌉ + 1 = 4" in pool
    assert "output         5×4×6" in pool


def test_a_transposed_conv_and_an_fc_written_out(tmp_path):
    spec = tmp_path / "decoder.yaml"
    spec.write_text(
        "input: 3x4x6\nlayers:\n"
        "  - {kind: conv_transpose, name: t, out: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1, groups: 2}\n"
        "  - {kind: flatten, name: f}\n"
        "  - {kind: fc, name: fc, out: 10}\n"
    )
    t = lines_of(invoke("explain", str(spec), "t").output)
    # (H − 1)·S − Pt − Pb + D·(K − 1) + output_padding + 1: (3 − 1)·2 − 1 − 1 + 2 + 1 + 1 = 6, and 8 for W = 4
    assert "output height    (3 − 1)·2 − 1 − 1 + 1·(3−1) + 1 + 1 = 6" in t
    assert "output width     (4 − 1)·2 − 1 − 1 + 1·(3−1) + 1 + 1 = 8" in t
    # PyTorch's weight (Cin, Cout/G, K, K) = 6·2·3·3; every input pixel feeds K·K·Cout/G outputs
    assert f"weights          3·3·6·(4/2) = {6 * 2 * 3 * 3}" in t and "biases           4" in t
    assert f"MACs per sample  3·4·6 inputs · 3·3·(4/2) outputs each = 72 · 18 = {72 * 18:,}" in t
    fc = lines_of(invoke("explain", str(spec), "fc").output)
    # the 6×8×4 map flattens to 192 features
    assert f"weights          192·10 = {192 * 10:,}" in fc and "biases           10" in fc
    assert f"MACs per sample  192 inputs · 10 outputs = {192 * 10:,}" in fc
    assert f"parameters       {1920:,} (weight) + 10 (bias) = {1930:,}" in fc
