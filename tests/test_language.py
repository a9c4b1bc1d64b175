"""The language additions of issue 7: expressions, repeats, names, blocks, channel_split, outputs, hints.

Every error case goes through the CLI: exit 2, one located line on stderr.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

import netcalc
from netcalc.cli import cli
from netcalc.language.expr import ExprError, evaluate
from tests.conftest import row

# --- expressions ---


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.75", 0.75),
        ("1e-5", 1e-5),
        ("2.5E+2", 250.0),
        (".5 * 4", 2.0),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7.5 // 2", 3.0),
        ("-7 % 3", 2),
        ("min(3, w, 5)", 3),
        ("max(w, 8)", 8),
        ("floor(2.7)", 2),
        ("ceil(2.1)", 3),
        ("round(2.5)", 2),  # half to even, as Python
        ("round(3.5)", 4),
        ("round(2.675, 2)", 2.67),
        ("int(-2.7)", -2),  # towards zero
        ("abs(-3)", 3),
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("w == 4 and w != 5", True),
        ("not w > 4", True),
        ("0 or w", 4),
        ("w and 0", 0),
        ("10 if w > 2 else 20", 10),
        ("1 if w > 5 else 2 if w > 3 else 3", 2),
        ("2 + 3 * 4 - 6 / 3", 2 + 3 * 4 - 6 / 3),
        ("-(2 + 3) * -2", 10),
        ("1 if w else 1 // 0", 1),  # only the side needed is evaluated
        ("0 and 1 // 0", 0),
        ("+".join(["1"] * 500), 500),  # long but flat: no deep recursion
    ],
)
def test_expression_values(text, value):
    assert evaluate(text, {"w": 4}) == value


def _make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision.models._utils._make_divisible, copied as the oracle."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


MAKE_DIVISIBLE = "max(8, int(v + 4) // 8 * 8) + (8 if max(8, int(v + 4) // 8 * 8) < 0.9 * v else 0)"
BASE = (32, 16, 24, 40, 80, 112, 192, 320, 1280)  # EfficientNet-B0: stem, the seven stages, head
PUBLISHED = {
    # EfficientNet-B3 (width 1.2) and -B4 (width 1.4) as published (Tan & Le, torchvision's efficientnet_b3/b4)
    1.2: (40, 24, 32, 48, 96, 136, 232, 384, 1536),
    1.4: (48, 24, 32, 56, 112, 160, 272, 448, 1792),
    # MobileNetV3-Large's channels (16, 24, 40, 80, 112, 160, 960, 1280) at width 0.75 in torchvision
    0.75: (24, 16, 24, 32, 64, 88, 144, 240, 960),
}


@pytest.mark.parametrize("width", sorted(PUBLISHED))
def test_make_divisible_in_one_line_gives_published_channel_counts(width):
    got = tuple(evaluate(MAKE_DIVISIBLE, {"v": c * width}) for c in BASE)
    assert got == PUBLISHED[width]


def test_make_divisible_agrees_with_torchvision_everywhere():
    for tenths in range(1, 5000):
        v = tenths / 10
        assert evaluate(MAKE_DIVISIBLE, {"v": v}) == _make_divisible(v), v


def test_make_divisible_as_block_default_with_a_width_multiplier():
    text = f"""
input: 8x8x3
blocks:
  stem:
    params: {{width: 1.0, v: 32 * width, out: "{MAKE_DIVISIBLE}"}}
    layers: [{{kind: conv, name: c, out: out, kernel: 1}}]
layers: [{{block: stem, name: s, width: 1.2}}]
"""
    assert row(netcalc.analyze(text), "s.c").output_shape == (8, 8, 40)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(" * 40 + "1" + ")" * 40, "nests more than 32 levels deep"),
        ("-" * 40 + "1", "nests more than 32 levels deep"),
        ("not " * 40 + "1", "nests more than 32 levels deep"),
        ("1 + " * 700 + "1", "at most 2,000 allowed"),
        ("1" * 5000, "at most 2,000 allowed"),
        ("1" * 40, "has more than 30 digits"),
        ("1e999", "not a finite number"),
        ("1e99999", "out of range"),
        ("1e300 * 1e300", "absurdly large"),
        ("9" * 29 + " * " + "9" * 29, "absurdly large"),
        ("1 / 0", "division by zero"),
        ("1.5 % 0", "division by zero"),
        ("1 if w", "'if' without 'else'"),
        ("min(1)", r"min\(\) takes 2 or more arguments, got 1"),
        ("floor(1, 2)", r"floor\(\) takes 1 arguments"),
        ("sqrt(4)", "unexpected '\\('"),
        ("w ** 2", "unexpected '\\*'"),
        ("index + 1", "exist only inside an item with `repeat:`"),
    ],
)
def test_expression_errors_are_one_short_line(text, message):
    with pytest.raises(ExprError, match=message) as caught:
        evaluate(text, {"w": 4})
    assert len(str(caught.value)) < 300 and "\n" not in str(caught.value)


def cli_error(write_spec, text: str, *args: str) -> tuple[str, str]:
    path = write_spec(text)
    result = CliRunner().invoke(cli, ["summary", path, "--format", "json", *args])
    assert result.exit_code == 2, (result.output, result.exception)
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message and len(message) < 400, message
    return path, message


DEEP = "(" * 300 + "4" + ")" * 300
BLOCK_HEAD = "input: 8x8x3\nblocks:\n  b:\n    params: {w: 4}\n    layers: [{kind: conv, name: c, out: w, kernel: 1}]\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f"input: 8x8x3\nlayers:\n  - {{kind: conv, out: '{DEEP}', kernel: 1}}\n", 3),
        (f"input: 8x8x3\nlayers:\n  - {{kind: relu, repeat: '{DEEP}'}}\n", 3),
        (f"input: 8x8x3\ndefaults:\n  conv: {{out: '{DEEP}'}}\nlayers:\n  - {{kind: conv, kernel: 1}}\n", 3),
        (BLOCK_HEAD + f"layers: [{{block: b, w: '{DEEP}'}}]\n", 6),
        (BLOCK_HEAD.replace("w: 4", f"w: '{DEEP}'") + "layers: [{block: b}]\n", 3),
        (
            "input: 8x8x3\nblocks:\n  b:\n    layers: [{kind: conv, out: '"
            + DEEP
            + "', kernel: 1}]\n  a:\n    layers: [{block: b}]\nlayers: [{block: a}]\n",
            4,
        ),
    ],
    ids=["top-level", "repeat", "defaults", "block-use", "block-default", "nested-blocks"],
)
def test_deep_expressions_say_so_everywhere(write_spec, text, line):
    path, message = cli_error(write_spec, text)
    assert message.startswith(f"netcalc: error: {path}:{line}: ")
    assert "nests more than 32 levels deep" in message
    assert "blocks nest" not in message


def test_blocks_nesting_too_deeply_is_said_only_when_true(write_spec):
    blocks = "".join(f"  b{i}:\n    layers: [{{block: b{i + 1}}}]\n" for i in range(60))
    text = "input: 8x8x3\nblocks:\n" + blocks + "  b60:\n    layers: [relu]\nlayers: [{block: b0}]\n"
    _, message = cli_error(write_spec, text)
    assert "blocks nest more than 50 levels deep (b0 → b1 → b2 → … → b50)" in message
    ten = "".join(f"  b{i}:\n    layers: [{{block: b{i + 1}}}]\n" for i in range(10))
    report = netcalc.analyze("input: 8x8x3\nblocks:\n" + ten + "  b10:\n    layers: [relu]\nlayers: [{block: b0}]\n")
    assert report.layers[0].name == "b01." + ".".join(f"b{i}1" for i in range(1, 11)) + ".relu1"


def test_huge_literals_and_runaway_results_are_located(write_spec):
    huge = "1" * 5000
    path, message = cli_error(write_spec, f"input: 8x8x3\nlayers:\n  - {{kind: conv, out: '{huge} * 2', kernel: 1}}\n")
    assert message.startswith(f"netcalc: error: {path}:3: layer 'conv1'") and "int_max_str_digits" not in message
    _, message = cli_error(write_spec, f"input: 8x8x3\nlayers:\n  - {{kind: conv, out: '{'9' * 25} * {'9' * 25}', kernel: 1}}\n")
    assert "absurdly large" in message


@pytest.mark.parametrize("value", ["1e999", "1e300 * 1e300", ".nan", ".inf", "-.inf"])
def test_nan_and_infinity_never_come_out(write_spec, value):
    text = f"input: 8x8x3\nlayers:\n  - {{kind: batchnorm, eps: {value}}}\n"
    _, message = cli_error(write_spec, text)
    assert "eps:" in message and ("finite" in message or "range" in message or "absurdly" in message)


def test_decimals_wherever_a_float_is_meant():
    text = "input: 8x8x3\ndefaults:\n  batchnorm: {eps: 1e-3}\nlayers:\n  - batchnorm\n  - {kind: batchnorm, eps: 1e-5}\n"
    network = netcalc.parse_network_text(text)
    assert [layer.attrs["eps"] for layer in network.layers] == [1e-3, 1e-5]


def test_whole_number_attributes_take_integral_floats_only(write_spec):
    report = netcalc.analyze("input: 8x8x64\nlayers:\n  - {kind: conv, out: 64 * 0.5, kernel: 1.0}\n")
    assert report.layers[0].output_shape == (8, 8, 32)
    path, message = cli_error(write_spec, "input: 8x8x64\nlayers:\n  - {kind: conv, out: 64 * 0.3, kernel: 1}\n")
    assert message == (
        f"netcalc: error: {path}:3: layer 'conv1' (layers[0]): out: expected a whole number ≥ 1, got 19.2, "
        "which is not whole; round it explicitly with int(), round(), floor() or ceil()"
    )
    _, message = cli_error(write_spec, "input: 8x8x64\nlayers:\n  - {kind: relu, repeat: 5 / 2}\n")
    assert "repeat must be a whole number ≥ 0, got float 2.5; round it explicitly" in message


# --- repeats and names ---

REPEATS = """
input: 8x8x4
blocks:
  unit:
    params: {out: required}
    layers: [{kind: conv, name: c, out: out, kernel: 1}]
layers:
  - {kind: conv, name: stem, out: 4, kernel: 1}
  - {block: unit, repeat: 3, name: "features.{index + 2}", out: "8 * (index + 1)"}
  - {kind: dropout, name: drop, repeat: 4, p: "0.2 * index / repeats"}
  - {kind: conv, name: "head{index}of{repeats}", out: "2 + index", kernel: 1, repeat: 2}
"""


def test_index_and_repeats_in_attributes_block_parameters_and_names():
    network = netcalc.parse_network_text(REPEATS)
    layers = {layer.name: layer for layer in network.layers}
    assert [n for n in layers if n.startswith("features")] == ["features.2.c", "features.3.c", "features.4.c"]
    assert [layers[f"features.{i}.c"].attrs["out"] for i in (2, 3, 4)] == [8, 16, 24]
    assert [layers[f"drop.{i}"].attrs["p"] for i in range(4)] == [0.0, 0.2 * 1 / 4, 0.2 * 2 / 4, 0.2 * 3 / 4]
    assert layers["head0of2"].inputs == ("drop.3",) and layers["head1of2"].attrs["out"] == 3
    assert "head1of2" in layers and "head1of2.1" not in layers
    assert layers["features.3.c"].inputs == ("features.2.c",)


def test_a_templated_repeat_folds_under_its_template_and_a_plain_name_keeps_its_suffixes():
    report = netcalc.analyze(REPEATS)
    folded = [r.name for r in report.collapsed(1)]
    assert folded == ["stem", "features.{2..4}", "drop", "head{0..1}of2"]
    assert row(report, "drop.1").inputs == ("drop.0",)


def test_names_may_contain_dots_and_be_referenced():
    text = "input: 8x8x4\nlayers:\n  - {kind: conv, name: backbone.conv1, out: 4, kernel: 1}\n  - {kind: add, from: [backbone.conv1, input]}\n"
    assert netcalc.analyze(text).layers[-1].inputs == ("backbone.conv1", "input")


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("{kind: relu, repeat: 2, name: 'r{index // 2}'}", "duplicate layer name 'r0'"),
        ("{kind: relu, name: 'r{index'}", "unmatched brace"),
        ("{kind: relu, name: 'r{index}'}", "`index` and `repeats` exist only inside an item with `repeat:`"),
        ("{kind: relu, repeat: 2, name: 'r{index / 2}'}", "gives float 0.5; a name needs a whole number or a word"),
        ("{kind: relu, repeat: 2, name: 'r{in_channels}'}", "a name cannot depend on the input shape"),
        ("{kind: relu, repeat: in_channels // 2}", "repeat: 'in_channels // 2' depends on the input shape"),
        ("{kind: relu, name: 'a b'}", "`name` must be a word without spaces"),
    ],
)
def test_repeat_and_name_errors(write_spec, item, fragment):
    path, message = cli_error(write_spec, f"input: 8x8x4\nlayers:\n  - {item}\n")
    assert message.startswith(f"netcalc: error: {path}:3: ") and fragment in message, message
    assert "Deferred" not in message


def test_a_shape_dependent_block_parameter_used_as_a_repeat_is_a_clear_error(write_spec):
    text = "input: 8x8x4\nblocks:\n  b:\n    params: [n]\n    layers: [{kind: relu, repeat: n}]\nlayers: [{block: b, n: in_channels}]\n"
    _, message = cli_error(write_spec, text)
    assert "repeat: 'n' depends on the input shape" in message and "Deferred" not in message


# --- blocks ---


def test_parameter_defaults_are_expressions_of_other_parameters_in_any_order():
    text = """
input: 8x8x4
blocks:
  b:
    params: {wide: planes * expansion, planes: required, expansion: 4, out: wide + 1}
    layers: [{kind: conv, name: c, out: out, kernel: 1}]
layers: [{block: b, name: x, planes: 2}, {block: b, name: y, planes: 2, expansion: 1}]
"""
    report = netcalc.analyze(text)
    assert row(report, "x.c").output_shape == (8, 8, 2 * 4 + 1)
    assert row(report, "y.c").output_shape == (8, 8, 2 * 1 + 1)


def test_a_default_may_read_the_input_shape():
    text = """
input: 8x8x6
blocks:
  b:
    params: {hidden: in_channels * 4}
    layers: [{kind: conv, name: c, out: hidden, kernel: 1}]
layers: [{block: b, name: x}]
"""
    assert row(netcalc.analyze(text), "x.c").output_shape == (8, 8, 24)


def test_kind_and_activation_are_parameters():
    text = """
input: 8x8x4
blocks:
  b:
    params: {act: relu, fused: relu6, norm: batchnorm}
    layers:
      - {kind: conv, name: c, out: 4, kernel: 1, activation: fused}
      - {kind: norm, name: n}
      - {kind: act, name: a}
layers: [{block: b, name: x}, {block: b, name: y, act: sigmoid, fused: none, norm: dropout}]
"""
    network = netcalc.parse_network_text(text)
    kinds = {layer.name: (layer.kind, layer.attrs.get("activation")) for layer in network.layers}
    assert kinds["x.c"] == ("conv", "relu6") and kinds["x.n"][0] == "batchnorm" and kinds["x.a"][0] == "relu"
    assert kinds["y.c"] == ("conv", "none") and kinds["y.n"][0] == "dropout" and kinds["y.a"][0] == "sigmoid"


UNET = """
input: 32x32x3
blocks:
  down:
    params: [out]
    layers:
      - {kind: conv, name: conv, out: out, kernel: 3, padding: 1}
      - {kind: maxpool, name: pool, kernel: 2}
  up:
    params: [skip, out]
    layers:
      - {kind: conv_transpose, name: up, out: out, kernel: 2, stride: 2}
      - {kind: concat, name: cat, from: [up, skip]}
  up_twice:
    params: [skip]
    layers: [{block: up, name: inner, skip: skip, out: 4}]
layers:
  - {block: down, name: enc1, out: 8}
  - {block: down, name: enc2, out: 16}
  - {block: up, name: dec2, skip: enc1.pool, out: 8}
  - {block: up_twice, name: dec1, skip: input}
"""


def test_a_parameter_carries_a_layer_reference_from_the_callers_scope():
    report = netcalc.analyze(UNET)
    assert row(report, "dec2.cat").inputs == ("dec2.up", "enc1.pool")
    assert row(report, "dec2.cat").output_shape == (16, 16, 8 + 8)
    assert row(report, "dec1.inner.cat").inputs == ("dec1.inner.up", "input")  # passed on through two blocks
    assert row(report, "dec1.inner.cat").output_shape == (32, 32, 4 + 3)


def test_an_unknown_layer_reference_parameter_is_located_with_a_hint(write_spec):
    path, message = cli_error(write_spec, UNET.replace("skip: enc1.pool", "skip: enc1.pol"))
    assert message.startswith(f"netcalc: error: {path}:20: layers[2]: ")
    assert "`from` names the parameter 'skip', whose value 'enc1.pol' is no layer listed before the block" in message
    assert "(did you mean 'enc1.pool'?)" in message


def test_defaults_referring_to_each_other_are_an_error(write_spec):
    text = "input: 8x8x3\nblocks:\n  b:\n    params: {a: b + 1, b: a + 1}\n    layers: [relu]\nlayers: [{block: b}]\n"
    path, message = cli_error(write_spec, text)
    assert message.startswith(f"netcalc: error: {path}:3: ") and "defaults of block 'b' refer to each other: a, b" in message


# --- channel_split ---


@pytest.fixture
def channel_slice(monkeypatch):
    """The channel_slice kind, or until it lands in main a stand-in with its contract's attributes."""
    from netcalc.kinds import REGISTRY
    from netcalc.kinds.base import Attr, LayerKind, whole

    if "channel_slice" not in REGISTRY:
        def shape(attrs, ins):
            return (*ins[0][:-1], attrs["end"] - attrs["start"])

        stand_in = LayerKind(
            "channel_slice", "stand-in", shape, attrs=(Attr("start", whole(0), 0), Attr("end", whole(1)))
        )
        monkeypatch.setitem(REGISTRY, "channel_slice", stand_in)


SHUFFLE = """
input: 8x8x116
layers:
  - {kind: channel_split, name: s, sizes: [58, 58]}
  - {kind: conv, name: branch, from: s.1, out: 58, kernel: 1}
  - {kind: concat, name: cat, from: [s.0, branch]}
  - {kind: channel_split, name: t, parts: 3, from: cat}
  - {kind: concat, from: [t.0, t.1, t.2]}
"""


def test_channel_split_by_sizes_and_by_parts(channel_slice):
    network = netcalc.parse_network_text(SHUFFLE)
    layers = {layer.name: layer for layer in network.layers}
    assert (layers["s.0"].kind, layers["s.0"].inputs) == ("channel_slice", ("input",))
    assert [(layers[f"s.{i}"].attrs["start"], layers[f"s.{i}"].attrs["end"]) for i in (0, 1)] == [(0, 58), (58, 116)]
    # torch.chunk(3) of 116 channels: parts of ceil(116 / 3) = 39, the last smaller
    assert [(layers[f"t.{i}"].attrs["start"], layers[f"t.{i}"].attrs["end"]) for i in range(3)] == [
        (0, 39), (39, 78), (78, 116)
    ]
    assert layers["t.2"].inputs == ("cat",)
    assert netcalc.analyze(network).output_shape == (8, 8, 116)


@pytest.mark.parametrize(
    ("items", "line", "fragment"),
    [
        ("  - {kind: channel_split, name: s, parts: 2}\n  - {kind: relu, from: s}\n", 4, "'s' is a channel_split: name one of its parts (s.0, s.1)"),
        ("  - {kind: channel_split, name: s, parts: 2}\n  - relu\n", 4, "the item before this one is the channel_split 's'"),
        ("  - {kind: channel_split, name: s}\n", 3, "needs one of `sizes: [c0, c1, …]` or `parts: n`"),
        ("  - {kind: channel_split, name: s, parts: 2, sizes: [1, 1]}\n", 3, "needs one of"),
        ("  - {kind: channel_split, name: s, parts: 0}\n", 3, "parts: expected a whole number ≥ 1, got int 0"),
        ("  - {kind: channel_split, name: s, sizes: [2, 0.5]}\n", 3, "sizes: expected a list of whole numbers"),
        ("  - {kind: channel_split, name: s, part: 2}\n", 3, "unknown key 'part' in channel_split (did you mean 'parts'?)"),
        ("  - {kind: channel_split, name: s, sizes: [in_channels // 2, 2]}\n", 3, "the sizes cannot depend on the input shape"),
    ],
)
def test_channel_split_errors(write_spec, channel_slice, items, line, fragment):
    path, message = cli_error(write_spec, "input: 8x8x4\nlayers:\n" + items)
    assert message.startswith(f"netcalc: error: {path}:{line}: ") and fragment in message, message


# --- several outputs ---

AUX = """
input: 16x16x3
layers:
  - {kind: conv, name: stem, out: 8, kernel: 3, padding: 1}
  - {kind: global_avgpool, name: aux_pool, from: stem}
  - flatten
  - {kind: fc, name: aux_fc, out: 10}
  - {kind: conv, name: body, out: 8, kernel: 3, padding: 1, from: stem}
  - {kind: relu, name: forgotten, from: body}
  - {kind: global_avgpool, name: pool, from: body}
  - {kind: flatten, name: flat}
  - {kind: fc, name: fc, out: 10}
outputs: [fc, aux_fc]
"""
STEM = 16 * 16 * 8 * 27
BODY = 16 * 16 * 8 * 72


def test_totals_count_every_layer_that_feeds_an_output():
    report = netcalc.analyze(AUX)
    assert report.output_names == ("fc", "aux_fc")
    assert report.output_shapes == ((10,), (10,))
    assert report.totals.macs == STEM + BODY + 8 * 10 + 8 * 10
    assert report.totals.activation_bytes == 4 * sum(
        16 * 16 * 8 if name in ("stem", "body") else 8 if "pool" in name or name.startswith("flat") else 10
        for name in ("stem", "aux_pool", "flatten1", "aux_fc", "body", "pool", "flat", "fc")
    )
    assert not row(report, "forgotten").counted and row(report, "aux_fc").counted
    assert report.notes == (("forgotten", row(report, "forgotten").notes[0]),)


def test_by_default_the_last_layer_is_the_output_and_the_aux_head_is_a_warning():
    report = netcalc.analyze(AUX.replace("outputs: [fc, aux_fc]", ""))
    assert report.output_names == ("fc",)
    assert {name for name, _ in report.notes} == {"forgotten", "aux_pool", "flatten1", "aux_fc"}
    assert report.totals.macs == STEM + BODY + 8 * 10


def test_an_unread_layer_is_a_warning_in_every_format(write_spec):
    path = write_spec(AUX)
    runner = CliRunner()
    table = runner.invoke(cli, ["summary", path], env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert table.exit_code == 0 and "note forgotten: reaches no output" in table.stdout
    assert "outputs: fc 10, aux_fc 10" in table.stdout and "2 outputs" in table.stdout
    markdown = runner.invoke(cli, ["summary", path, "--format", "markdown"])
    assert "- ⚠ `forgotten`: reaches no output" in markdown.stdout and "Outputs: `fc` 10, `aux_fc` 10." in markdown.stdout
    as_json = runner.invoke(cli, ["summary", path, "--format", "json"])
    data = json.loads(as_json.stdout)
    assert data["outputs"] == [{"name": "fc", "shape": [10]}, {"name": "aux_fc", "shape": [10]}]
    forgotten = next(layer for layer in data["layers"] if layer["name"] == "forgotten")
    assert forgotten["counted"] is False and "reaches no output" in forgotten["notes"][0]
    assert as_json.stderr == ""
    as_csv = runner.invoke(cli, ["summary", path, "--format", "csv"])
    assert as_csv.stdout.splitlines()[-1].startswith("TOTAL,,,10 10,")
    assert as_csv.stderr.startswith("netcalc: warning: layer 'forgotten': reaches no output")
    strict = runner.invoke(cli, ["summary", path, "--strict"])
    assert strict.exit_code == 2
    assert strict.stderr.strip().startswith(f"netcalc: error: {path}:9: layer 'forgotten': reaches no output")


@pytest.mark.parametrize(
    ("outputs", "fragment"),
    [
        ("[fc, aux_fcc]", "`from` names an undefined layer 'aux_fcc' (did you mean 'aux_fc'?)"),
        ("[fc, fc]", "'fc' is listed twice in `outputs`"),
        ("[input]", "the network's input cannot be one of its outputs"),
        ("{a: 1}", "`outputs` must be a layer name or a list of them"),
    ],
)
def test_output_errors(write_spec, outputs, fragment):
    path, message = cli_error(write_spec, AUX.replace("[fc, aux_fc]", outputs))
    assert message.startswith(f"netcalc: error: {path}:13: ") and fragment in message, message


def test_a_block_instance_may_be_an_output():
    text = "input: 8x8x3\nblocks:\n  b:\n    layers: [{kind: conv, name: c, out: 2, kernel: 1}, relu]\nlayers:\n  - {block: b, name: x}\n  - {kind: relu, name: y, from: input}\noutputs: [x, y]\n"
    assert netcalc.analyze(text).output_names == ("x.relu1", "y")


@pytest.mark.parametrize("spec", ["AUX", "REPEATS", "UNET", "SHUFFLE"])
def test_show_prints_a_spec_that_analyses_identically(tmp_path, channel_slice, spec):
    from netcalc.render.expanded import to_yaml

    network = netcalc.parse_network_text(globals()[spec], "x.yaml")
    expanded = tmp_path / "expanded.yaml"
    expanded.write_text(to_yaml(network))
    again, original = netcalc.analyze_file(expanded), netcalc.analyze(network)
    assert _rows(again) == _rows(original)
    assert again.totals == original.totals and again.output_names == original.output_names


def _rows(report):
    return [(r.name, r.kind, r.inputs, r.output_shape, r.params, r.buffers, r.macs, r.flops, r.counted) for r in report.layers]


# --- words from PyTorch and Keras ---


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("{kind: Conv2d, out: 4, kernel: 3}", "unknown kind 'Conv2d' (netcalc calls it 'conv')"),
        ("{kind: Linear, out: 4}", "unknown kind 'Linear' (netcalc calls it 'fc')"),
        ("{kind: linear, out: 4}", "unknown kind 'linear' (netcalc calls it 'fc')"),
        ("{kind: Dense, out: 4}", "(netcalc calls it 'fc')"),
        ("{kind: BatchNorm2d}", "(netcalc calls it 'batchnorm')"),
        ("{kind: MaxPool2d, kernel: 2}", "(netcalc calls it 'maxpool')"),
        ("{kind: ReLU}", "(netcalc calls it 'relu')"),
        ("{kind: conv, out_channels: 4, kernel: 3}", "unknown key 'out_channels' for conv (netcalc calls it 'out')"),
        ("{kind: conv, out: 4, kernel_size: 3}", "unknown key 'kernel_size' for conv (netcalc calls it 'kernel')"),
        ("{kind: conv, in_channels: 3, out: 4, kernel: 3}", "netcalc reads it from the input shape: leave it out"),
        ("{kind: conv, out: 4, kernel: 3, padding: valid}", "(Keras's 'valid' is padding: 0)"),
        ("{kind: conv, out: 4, kernel: 3, activation: ReLU}", "(did you mean 'relu'?)"),
        ("{kind: batchnorm, epsilon: 0.001}", "(netcalc calls it 'eps')"),
    ],
)
def test_words_from_pytorch_and_keras_get_a_hint(write_spec, item, fragment):
    path, message = cli_error(write_spec, f"input: 8x8x3\nlayers:\n  - {item}\n")
    assert message.startswith(f"netcalc: error: {path}:3: ") and fragment in message, message


def test_padding_same_is_fine():
    assert netcalc.analyze("input: 8x8x3\nlayers: [{kind: conv, out: 4, kernel: 3, padding: same}]").output_shape == (8, 8, 4)


def test_no_float_noise_in_names_or_integral_attributes():
    network = netcalc.parse_network_text("input: 8x8x3\nlayers: [{kind: conv, name: 'c{3 * 0.5 * 2}', out: 2.0 * 2, kernel: 1}]")
    assert network.layers[0].name == "c3" and network.layers[0].attrs["out"] == 4 and not math.isnan(4)


ZOO = sorted(
    p
    for p in (__import__("pathlib").Path(__file__).parent.parent / "specs").glob("*.yaml")
    if any(word in p.read_text() for word in ("outputs:", "{index", "channel_split", "repeats"))
)


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.name)
def test_show_round_trips_the_zoo_specs_that_use_the_new_language(tmp_path, path):
    from netcalc.render.expanded import to_yaml

    network = netcalc.load_network(path)
    expanded = tmp_path / "expanded.yaml"
    expanded.write_text(to_yaml(network))
    again, original = netcalc.analyze_file(expanded), netcalc.analyze(network)
    assert _rows(again) == _rows(original)
    assert again.totals == original.totals and again.output_names == original.output_names
