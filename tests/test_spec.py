"""The layer language: blocks, scoping, repeat, expressions, compact notation, defaults, references."""

from __future__ import annotations

import pytest

import netcalc
from netcalc.language.expr import ExprError, evaluate
from netcalc.language.spec import parse_network_text
from tests.conftest import row

BOTTLENECK = """
name: tiny_resnet
input: 56x56x256
blocks:
  bottleneck:
    params: {width: required, stride: 1}
    layers:
      - {kind: conv, name: conv1, out: width, kernel: 1, bias: false}
      - {kind: batchnorm, name: bn1}
      - {kind: relu, name: relu1}
      - {kind: conv, name: conv2, out: width, kernel: 3, stride: stride, padding: 1, bias: false}
      - {kind: batchnorm, name: bn2}
      - {kind: relu, name: relu2}
      - {kind: conv, name: conv3, out: width * 4, kernel: 1, bias: false}
      - {kind: batchnorm, name: bn3}
      - {kind: add, name: add, from: [bn3, input]}
      - {kind: relu, name: out}
layers:
  - {block: bottleneck, name: layer1, width: 64, repeat: 3}
"""


def test_blocks_scope_names_and_repeat_chains_instances():
    report = netcalc.analyze(BOTTLENECK)
    names = [r.name for r in report.layers]
    assert len(names) == 3 * 10
    assert names[:2] == ["layer1.0.conv1", "layer1.0.bn1"]
    assert row(report, "layer1.1.conv1").inputs == ("layer1.0.out",)
    assert row(report, "layer1.2.add").inputs == ("layer1.2.bn3", "layer1.1.out")
    assert row(report, "layer1.0.add").inputs == ("layer1.0.bn3", "input")


def test_the_lecture_bottleneck_256_64_64_256():
    report = netcalc.analyze(BOTTLENECK.replace("repeat: 3", "repeat: 1"))
    assert report.output_shape == (56, 56, 256)
    convs = 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256
    assert report.totals.params == convs + 2 * (64 + 64 + 256)
    assert report.totals.macs == 56 * 56 * convs


def test_block_parameters_default_and_expressions_evaluate():
    text = BOTTLENECK.replace("width: 64, repeat: 3", "width: 32 // 2 + 48")
    report = netcalc.analyze(text)
    assert row(report, "layer1.conv1").output_shape == (56, 56, 64)
    assert row(report, "layer1.conv2").output_shape == (56, 56, 64)  # stride took its default, 1


def test_compact_chain_notation_reads_like_the_vgg_table():
    report = netcalc.analyze("input: 32x32x3\nlayers: [conv3-64, conv3-64/2, maxpool, maxpool3/2, flatten, fc-10]")
    shapes = [r.output_shape for r in report.layers]
    # conv3 without padding: 30, then ⌊(30 − 3)/2⌋ + 1 = 14, pool 2 → 7, pool 3/2 → 3
    assert shapes == [(30, 30, 64), (14, 14, 64), (7, 7, 64), (3, 3, 64), (3 * 3 * 64,), (10,)]
    assert [r.name for r in report.layers] == ["conv1", "conv2", "maxpool1", "maxpool2", "flatten1", "fc1"]


def test_defaults_apply_everywhere_and_a_layer_wins():
    text = """
input: 8x8x3
defaults: {conv: {padding: same, bias: false}}
layers:
  - conv3-4
  - {kind: conv, out: 4, kernel: 3, padding: 0}
"""
    first, second = netcalc.analyze(text).layers
    assert (first.output_shape, first.params) == ((8, 8, 4), 3 * 3 * 3 * 4)
    assert second.output_shape == (6, 6, 4)


def test_a_layer_may_name_one_listed_after_it():
    text = """
input: 8x8x3
layers:
  - {kind: add, name: sum, from: [left, right]}
  - {kind: conv, name: left, out: 3, kernel: 1, from: input}
  - {kind: conv, name: right, out: 3, kernel: 1, from: input}
"""
    network = parse_network_text(text)
    assert [layer.name for layer in network.layers] == ["left", "right", "sum"]


def test_dotted_reference_into_a_block_and_block_output():
    text = """
input: 16x16x3
blocks:
  stage:
    params: {width: required}
    output: pool
    layers:
      - {kind: conv, name: conv, out: width, kernel: 3, padding: 1}
      - {kind: maxpool, name: pool, kernel: 2}
      - {kind: relu, name: unused}
layers:
  - {block: stage, name: s1, width: 8}
  - {kind: conv, name: skip, out: 4, kernel: 1, from: s1.conv}
  - {kind: conv, name: after, out: 4, kernel: 1, from: s1}
"""
    report = netcalc.analyze(text)
    assert row(report, "skip").output_shape == (16, 16, 4)
    assert row(report, "after").inputs == ("s1.pool",)


def test_repeat_zero_passes_the_input_through():
    report = netcalc.analyze("input: 4x4x2\nlayers: [{kind: relu, repeat: 0}, flatten]")
    assert [r.name for r in report.layers] == ["flatten1"]
    assert report.layers[0].inputs == ("input",)


def test_input_override():
    report = netcalc.analyze(BOTTLENECK, input_shape=(28, 28, 256))
    assert report.output_shape == (28, 28, 256)


def test_pairs_and_parameters_inside_lists():
    text = """
input: 17x17x8
blocks:
  b:
    params: {k: 7}
    layers: [{kind: conv, out: 8, kernel: [1, k], padding: [0, k // 2]}]
layers: [{block: b}]
"""
    assert netcalc.analyze(text).output_shape == (17, 17, 8)


@pytest.mark.parametrize(
    ("text", "value"),
    [("width * 4", 64 * 4), ("(out - 1) // 2", (9 - 1) // 2), ("-3 + 10 % 4", -3 + 10 % 4), ("2 * (3 + 4)", 14)],
)
def test_expressions(text, value):
    assert evaluate(text, {"width": 64, "out": 9}) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("width ** 2", "unexpected '\\*'"),
        ("widht * 2", "unknown name 'widht'"),
        ("(1 + 2", "missing '\\)'"), ("1 +", "ends too early"),
        ("4 // 0", "division by zero"),
        ("__import__('os')", "unexpected character"),
        ("9" * 20 + " * " + "9" * 20, "absurdly large"),
    ],
)
def test_expression_errors(text, message):
    with pytest.raises(ExprError, match=message):
        evaluate(text, {"width": 64})


def test_show_output_is_a_spec_that_analyses_identically(tmp_path):
    from netcalc.render.expanded import to_yaml

    network = parse_network_text(BOTTLENECK, "b.yaml")
    expanded = tmp_path / "expanded.yaml"
    expanded.write_text(to_yaml(network))
    again = netcalc.analyze_file(expanded)
    original = netcalc.analyze(network)
    def figures(report):
        return [(r.name, r.kind, r.inputs, r.output_shape, r.params, r.macs, r.flops) for r in report.layers]

    assert figures(again) == figures(original)
    assert again.totals == original.totals


def test_include_shares_blocks_and_locates_their_layers(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "units.yaml").write_text(
        "blocks:\n  unit:\n    params: {w: required}\n    layers:\n      - {kind: conv, name: c, out: w, kernel: 3}\n"
    )
    (tmp_path / "net.yaml").write_text("input: 8x8x3\ninclude: parts/units.yaml\nlayers: [{block: unit, w: 4}]\n")
    report = netcalc.analyze_file(tmp_path / "net.yaml")
    conv = report.layers[0]
    assert (conv.name, conv.params) == ("unit1.c", 3 * 3 * 3 * 4 + 4)
    assert (conv.file, conv.line) == (str(tmp_path / "parts" / "units.yaml"), 5)


def test_zoo_resnets_share_one_block_file():
    from pathlib import Path

    specs = Path(__file__).parent.parent / "specs"
    for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        assert "include: blocks/resnet.yaml" in (specs / f"{name}.yaml").read_text()


SHAPE_EXPRESSIONS = """
input: 16x16x64
blocks:
  transition:
    layers:
      - batchnorm
      - {kind: conv, name: conv, out: in_channels // 2, kernel: 1}
      - {kind: avgpool, name: pool, kernel: 2}
  expand:
    params: {hidden: required}
    layers:
      - {kind: conv, name: up, out: hidden, kernel: 1}
      - {kind: conv, name: dw, out: in_channels, kernel: 3, padding: 1, groups: in_channels}
layers:
  - {block: transition, name: t1}
  - {block: transition, name: t2}
  - {block: expand, name: e, hidden: in_channels * 6}
  - {kind: conv, name: wide, out: 4, kernel: [1, in_width]}
"""


def test_shape_names_describe_the_layer_input_or_the_block_input():
    report = netcalc.analyze(SHAPE_EXPRESSIONS)
    assert row(report, "t1.conv").output_shape == (16, 16, 64 // 2)
    assert row(report, "t2.conv").output_shape == (8, 8, 32 // 2)
    # `hidden` was given where the block is used: the block's input has 16 channels, so 16·6.
    assert row(report, "e.up").output_shape == (4, 4, 16 * 6)
    assert row(report, "e.dw").params == 3 * 3 * 1 * 96 + 96  # depthwise over the 96 channels it reads
    assert row(report, "wide").output_shape == (4, 1, 4)  # a 1×4 kernel over the 4-wide map


def test_shape_names_follow_an_input_override():
    report = netcalc.analyze(SHAPE_EXPRESSIONS, input_shape=(32, 32, 128))
    assert row(report, "t1.conv").output_shape == (32, 32, 64)
    assert row(report, "wide").output_shape == (8, 1, 4)


def test_shape_names_become_numbers_in_the_expanded_network():
    network = parse_network_text(SHAPE_EXPRESSIONS)
    layer = next(layer for layer in network.layers if layer.name == "e.dw")
    assert (layer.attrs["out"], layer.attrs["groups"]) == (96, 96)


def test_shape_name_errors_are_located():
    from netcalc.errors import NetcalcError

    text = "input: 4x4x3\nlayers:\n  - flatten\n  - {kind: fc, out: in_height * 2}\n"
    with pytest.raises(NetcalcError, match=r"line 4: layer 'fc1': out: unknown name 'in_height'"):
        netcalc.analyze(text)


def test_repeated_layers_are_parsed_as_if_each_were_alone():
    # Parsing is remembered per distinct written layer (speed at 100,000 layers): a value equal in Python but
    # of another type (1 == True) must still be refused, and each layer must own its attributes.
    with pytest.raises(netcalc.SpecError, match="bias: expected true or false, got 1"):
        parse_network_text(
            "input: 8x8x3\nlayers:\n  - {kind: conv, out: 4, kernel: 3, bias: true}\n"
            "  - {kind: conv, out: 4, kernel: 3, bias: 1}\n"
        )
    network = parse_network_text(
        "input: 8x8x3\nlayers:\n  - {kind: conv, out: 4, kernel: 3}\n  - {kind: conv, out: 4, kernel: 3}\n"
    )
    first, second = network.layers
    assert first.attrs == second.attrs and first.attrs is not second.attrs
    # a block parameter in the attribute: the same written layer with different values gives different layers
    network = parse_network_text(
        "input: 8x8x3\nblocks:\n  b: {params: [w], layers: [{kind: conv, name: c, out: w, kernel: 1}]}\n"
        "layers:\n  - {block: b, name: x, w: 4}\n  - {block: b, name: y, w: 6}\n"
    )
    assert [layer.attrs["out"] for layer in network.layers] == [4, 6]
