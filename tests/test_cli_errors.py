"""Bad input through the CLI: exit code 2 and one located line on stderr, never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from netcalc.cli import cli

GOOD_HEAD = "input: 32x32x3\nlayers:\n"

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdefgh", "bcdefghi")
)

CASES = [
    # (id, spec text, line, fragment of the message)
    ("yaml-syntax", "input: 32x32x3\nlayers: [conv3-8\n", 3, "YAML syntax error"),
    ("unknown-kind", GOOD_HEAD + "  - {kind: convv, out: 8, kernel: 3}\n", 3, "unknown kind 'convv' (did you mean 'conv'?)"),
    ("unknown-key", GOOD_HEAD + "  - {kind: conv, out: 8, kernel: 3, strid: 2}\n", 3, "unknown key 'strid' for conv (did you mean 'stride'?)"),
    ("unknown-top-key", "input: 32x32x3\nlayer: [relu]\n", 2, "unknown key 'layer' in top level (did you mean 'layers'?)"),
    ("missing-required", GOOD_HEAD + "  - {kind: conv, kernel: 3}\n", 3, "conv is missing required key 'out'"),
    ("missing-input", "layers: [relu]\n", 1, "missing required key `input`"),
    ("wrong-type", GOOD_HEAD + "  - {kind: conv, out: eight, kernel: 3}\n", 3, "out: expected a whole number ≥ 1, got 'eight'"),
    ("wrong-type-bool", GOOD_HEAD + "  - {kind: conv, out: 8, kernel: 3, bias: 1}\n", 3, "bias: expected true or false, got 1"),
    ("zero-size", "input: 0x32x3\nlayers: [relu]\n", 1, "every size must be positive, got 0×32×3"),
    ("negative-size", GOOD_HEAD + "  - {kind: conv, out: -4, kernel: 3}\n", 3, "got -4"),
    ("undefined-name", GOOD_HEAD + "  - {kind: relu, from: conv9}\n", 3, "`from` names an undefined layer 'conv9'"),
    ("duplicate-name", GOOD_HEAD + "  - {kind: relu, name: a}\n  - {kind: relu, name: a}\n", 4, "duplicate layer name 'a' (first defined at line 3)"),
    ("cycle", GOOD_HEAD + "  - {kind: relu, name: a, from: b}\n  - {kind: relu, name: b, from: a}\n", 4, "the layers form a cycle: a → b → a"),
    ("add-unequal", GOOD_HEAD + "  - {kind: conv, name: a, out: 8, kernel: 1}\n  - {kind: add, from: [a, input]}\n", 4, "add needs inputs of exactly the same shape, got 32×32×8, 32×32×3"),
    ("concat-unequal", GOOD_HEAD + "  - {kind: maxpool, name: a, kernel: 2}\n  - {kind: concat, from: [a, input]}\n", 4, "concat needs inputs of equal H×W, got 16×16×3, 32×32×3"),
    ("kernel-too-large", GOOD_HEAD + "  - {kind: conv, out: 8, kernel: 35}\n", 3, "kernel 35 is larger than the padded height 32 + 2·0 = 32"),
    ("bad-expression", "input: 8x8x3\nblocks:\n  b:\n    params: {w: 4}\n    layers: [{kind: conv, out: w / 3, kernel: 1}]\nlayers: [{block: b}]\n", 5, "got 1.3333333333333333, which is not whole; round it explicitly with int(), round(), floor() or ceil()"),
    ("unknown-param", "input: 8x8x3\nblocks:\n  b:\n    params: {width: 4}\n    layers: [relu]\nlayers: [{block: b, widht: 2}]\n", 6, "unknown parameter 'widht' for block 'b' (did you mean 'width'?)"),
    ("recursive-block", "input: 8x8x3\nblocks:\n  a:\n    layers: [{block: b}]\n  b:\n    layers: [{block: a}]\nlayers: [{block: a}]\n", 6, "block 'a' uses itself: a → b → a"),
    ("absurd-repeat", GOOD_HEAD + "  - {kind: relu, repeat: 1000000000}\n", 3, "repeat 1,000,000,000 is absurd"),
    ("alias-bomb", BOMB, None, "alias bomb"),
    ("not-a-mapping", "- relu\n", 1, "expected a mapping with `input` and `layers`"),
    ("fc-on-map", GOOD_HEAD + "  - fc-10\n", 3, "put a `flatten` layer before it"),
    ("bad-compact", GOOD_HEAD + "  - conv3x64\n", 3, "cannot read the compact layer 'conv3x64'"),
    ("duplicate-yaml-key", "input: 32x32x3\ninput: 8x8x3\nlayers: [relu]\n", 2, "duplicate key 'input'"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_spec_is_one_located_line_and_exit_2(write_spec, text, line, fragment):
    path = write_spec(text)
    result = CliRunner().invoke(cli, ["summary", path, "--format", "json"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    prefix = f"netcalc: error: {path}:{line}: " if line else f"netcalc: error: {path}: "
    assert message.startswith(prefix), message
    assert fragment in message, message


def test_include_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("include: b.yaml\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    (tmp_path / "dup.yaml").write_text("blocks:\n  unit:\n    layers: [relu]\n")
    cases = {
        "input: 8x8x3\ninclude: nowhere.yaml\nlayers: [relu]\n": ":2: include: cannot include 'nowhere.yaml': no such file",
        "input: 8x8x3\ninclude: a.yaml\nlayers: [relu]\n": "b.yaml:1: include: 'a.yaml' includes itself",
        "input: 8x8x3\ninclude: dup.yaml\nblocks:\n  unit:\n    layers: [relu]\nlayers: [relu]\n": ":4: blocks.unit: block 'unit' is defined twice (first at",
        "input: 8x8x3\ninclude: 7\nlayers: [relu]\n": "`include` must be a file name or a list of them",
    }
    for text, fragment in cases.items():
        spec = tmp_path / "spec.yaml"
        spec.write_text(text)
        result = CliRunner().invoke(cli, ["summary", str(spec)])
        assert result.exit_code == 2
        assert fragment in result.stderr, result.stderr


def test_missing_file():
    result = CliRunner().invoke(cli, ["summary", "no/such/spec.yaml"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "netcalc: error: no/such/spec.yaml: no such file"


def test_block_layer_errors_name_the_scoped_layer(write_spec):
    text = "input: 8x8x3\nblocks:\n  b:\n    layers:\n      - {kind: conv, name: c, out: 4, kernel: 9}\nlayers: [{block: b, name: s1}]\n"
    result = CliRunner().invoke(cli, ["summary", write_spec(text)])
    assert result.exit_code == 2
    assert "spec.yaml:5: layer 's1.c': kernel 9 is larger" in result.stderr


def test_strict_turns_unread_pixels_into_an_error(write_spec):
    path = write_spec(GOOD_HEAD + "  - {kind: conv, out: 8, kernel: 2, stride: 2, name: down}\n  - {kind: maxpool, kernel: 3, stride: 2}\n")
    assert CliRunner().invoke(cli, ["summary", path, "--format", "json"]).exit_code == 0
    result = CliRunner().invoke(cli, ["summary", path, "--strict"])
    assert result.exit_code == 2
    share = 1 - 15 * 15 / (16 * 16)  # 3×3 windows at stride 2 on 16 read rows 0…14
    assert f"layer 'maxpool1': stride 2 leaves the last 1 row and 1 column of the 16×16 input unread: no window reads {share:.1%} of its pixels (--strict)" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--input", "224x224"], "expected H×W×C"),
        (["--batch", "0"], "--batch"),
        (["--dtype", "float8"], "--dtype"),
        (["--format", "yaml"], "--format"),
        (["--depth", "0"], "--depth"),
    ],
)
def test_bad_options_exit_2(write_spec, args, fragment):
    result = CliRunner().invoke(cli, ["summary", write_spec(GOOD_HEAD + "  - relu\n"), *args])
    assert result.exit_code == 2
    assert fragment in result.stderr


# Digits are ASCII: Python's `\d` and int() also read Arabic-Indic (٣) and fullwidth (２) digits.
FORMS = "forms: conv3-64, conv3-64/2, maxpool, maxpool3/2, avgpool, fc-4096, or a kind with no required attributes"
NON_ASCII_DIGITS = [
    ("compact-arabic-indic", GOOD_HEAD + "  - conv٣-64\n", 3, f"layers[0]: cannot read the compact layer 'conv٣-64' (did you mean 'conv3-64'?); {FORMS}; digits are 0-9 only"),
    ("compact-fullwidth-fc", GOOD_HEAD + "  - flatten\n  - fc-１０\n", 4, "layers[1]: cannot read the compact layer 'fc-１０'"),
    ("compact-pool-stride", GOOD_HEAD + "  - maxpool3/２\n", 3, "layers[0]: cannot read the compact layer 'maxpool3/２'"),
    ("input-fullwidth", 'input: "２２４x224x3"\nlayers: [relu]\n', 1, "input: expected H×W×C, e.g. 224x224x3 or [224, 224, 3], got '２２４x224x3'; digits are 0-9 only"),
]


@pytest.mark.parametrize(("text", "line", "start"), [pytest.param(*c[1:], id=c[0]) for c in NON_ASCII_DIGITS])
def test_digits_other_than_ascii_are_refused_in_one_line(write_spec, text, line, start):
    path = write_spec(text)
    result = CliRunner().invoke(cli, ["summary", path])
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"netcalc: error: {path}:{line}: {start}")
    assert result.stderr.endswith("; digits are 0-9 only\n")


def test_an_input_option_of_fullwidth_digits_is_refused(write_spec):
    result = CliRunner().invoke(cli, ["summary", write_spec(GOOD_HEAD + "  - relu\n"), "--input", "２２４x224x3"])
    assert result.exit_code == 2
    expected = "Invalid value for '--input': expected H×W×C, e.g. 224x224x3 or [224, 224, 3], got '２２４x224x3'; digits are 0-9 only"
    assert result.stderr == f"netcalc: error: {expected}\n"


# a path of 99-letter directories; the message is the path and ": no such file" (14 characters)
LONG_PATH = "/".join(["n" * 99] * 4)


def test_a_message_of_360_characters_is_printed_whole():
    path = LONG_PATH[:341] + ".yaml"  # 346 + 14 = 360 characters
    result = CliRunner().invoke(cli, ["summary", path])
    assert result.exit_code == 2
    assert result.stderr == f"netcalc: error: {path}: no such file\n"


def test_a_message_of_361_characters_keeps_its_start_and_end_in_360():
    path = LONG_PATH[:342] + ".yaml"  # 347 + 14 = 361 characters
    result = CliRunner().invoke(cli, ["summary", path])
    assert result.exit_code == 2
    line = result.stderr.removesuffix("\n")
    assert "\n" not in line and len(line) == len("netcalc: error: ") + 360
    head, ellipsis, tail = line.removeprefix("netcalc: error: ").partition(" … ")
    assert ellipsis and path.startswith(head) and len(head) >= 200
    assert tail.endswith("n.yaml: no such file") and len(tail) >= 60
