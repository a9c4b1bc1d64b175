"""Defects a hostile-input hunt found in the language and the analysis: each case is a correct result or exit 2
with one located line, in time that does not grow with an attribute's value. Expected figures are worked out by
hand in the comments; the receptive-field span's brute-force definition is written here, not imported."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from netcalc.analysis.memory import Step, storage_plan
from netcalc.cli import cli
from netcalc.kinds.base import INPLACE, NEW, VIEW
from netcalc.kinds.conv import transpose_window
from netcalc.language.expr import evaluate
from netcalc.language.spec import parse_network_text
from netcalc.network import INPUT


def run(path: str, *args: str):
    return CliRunner().invoke(cli, ["summary", path, "--format", "json", *args])


def one_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == "" and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


# --- expressions ---


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("round(5, -100000000)", 0),  # Python's round(5, -10⁸) computes 10^(10⁸) first: minutes
        ("round(-5e29, -31)", 0),  # every value is within ±10³⁰: rounding to 10³¹ gives 0
        ("round(123456, -3)", 123000),
        ("round(1.25, 1000000000)", 1.25),
    ],
)
def test_round_to_far_digits_is_immediate_and_exact(text, value):
    assert evaluate(text, {}) == value


def test_non_ascii_digits_in_an_expression_are_refused(write_spec):
    message = one_line(run(write_spec("input: 8x8x3\nlayers:\n  - {kind: conv, out: '1 + \u0663', kernel: 1}\n")))
    assert "spec.yaml:3" in message and "out" in message


# --- transposed convolution: figures in time independent of stride and kernel ---


def _span_by_definition(kernel: int, stride: int, pad: int, dilation: int) -> int:
    """The widest spread, in inputs, of the taps of one output that land on whole inputs: output o reads input
    i where i·S = o + P − D·k, over every residue of o modulo S (the loop the closed form replaced)."""
    spans = []
    for residue in range(stride):
        taps = [residue + pad - dilation * k for k in range(kernel)]
        hits = [t // stride for t in taps if t % stride == 0]
        if hits:
            spans.append(max(hits) - min(hits))
    return max(spans, default=0)


@pytest.mark.parametrize("kernel", [1, 2, 3, 5, 8, 11])
@pytest.mark.parametrize("stride", [1, 2, 3, 4, 6, 9])
@pytest.mark.parametrize("dilation", [1, 2, 3, 4, 6])
def test_transpose_window_span_matches_its_definition(kernel, stride, dilation):
    for pad in range(4):
        expected = _span_by_definition(kernel, stride, pad, dilation)
        assert transpose_window(kernel, stride, pad, dilation).span == expected


def test_huge_transposed_stride_and_kernel_are_figures_not_hangs(write_spec):
    wide = run(write_spec("input: 1x1x8\nlayers:\n  - {kind: conv_transpose, out: 4, kernel: 1, stride: 2147483647}\n"))
    assert wide.exit_code == 0
    layer = json.loads(wide.stdout)["layers"][0]
    assert layer["output_shape"] == [1, 1, 4]  # (1 − 1)·S + 1 = 1 per side
    assert layer["params"] == 8 * 4 + 4
    big = run(write_spec("input: 8x8x8\nlayers:\n  - {kind: conv_transpose, out: 4, kernel: 100000000}\n", "big.yaml"))
    assert big.exit_code == 0
    layer = json.loads(big.stdout)["layers"][0]
    side = (8 - 1) * 1 + (100_000_000 - 1) + 1  # (H − 1)·S + D·(K − 1) + 1
    assert layer["output_shape"] == [side, side, 4]
    assert layer["params"] == 8 * 4 * 100_000_000**2 + 4
    assert layer["macs"] == 8 * 8 * 8 * 4 * 100_000_000**2  # every input element meets every tap


# --- the network's shape ---


def test_a_network_that_expands_to_no_layer_is_one_located_line(write_spec):
    message = one_line(run(write_spec("input: 8x8x3\nlayers: [{kind: relu, repeat: 0}]\n")))
    assert message.endswith(
        "spec.yaml:2: layers: it expands to no layer at all (every item is repeated 0 times); a network needs at"
        " least one\n"
    )
    block = "input: 8x8x3\nblocks:\n  b: {layers: [relu]}\nlayers: [{block: b, repeat: 0}]\n"
    assert "expands to no layer" in one_line(run(write_spec(block, "block.yaml")))


def test_input_and_outputs_messages_say_what_is_wrong_once(write_spec):
    message = one_line(run(write_spec("input: [8, 8]\nlayers: [relu]\n")))
    assert message.endswith("spec.yaml:1: input: expected H×W×C, e.g. 224x224x3 or [224, 224, 3], got [8, 8]\n")
    message = one_line(run(write_spec("input: 8x8x3\nlayers: [relu]\noutputs: []\n", "outs.yaml")))
    assert "`outputs` is an empty list; name at least one layer" in message


def test_many_outputs_are_each_listed_once(write_spec):
    names = [f"l{i}" for i in range(2000)]
    layers = "".join(f"  - {{kind: identity, name: {n}, from: input}}\n" for n in names)
    result = run(write_spec(f"input: 2x2x1\nlayers:\n{layers}outputs: [{', '.join(names)}]\n"))
    assert result.exit_code == 0
    assert [o["name"] for o in json.loads(result.stdout)["outputs"]] == names
    twice = f"input: 2x2x1\nlayers:\n{layers}outputs: [l0, l1, l0]\n"
    assert "'l0' is listed twice in `outputs`" in one_line(run(write_spec(twice, "twice.yaml")))


# --- memory plan: chains of in-place layers ---


def test_a_long_in_place_chain_shares_one_storage():
    # r1 cannot write over the network input, so it gets a storage of its own; every later relu reads only its
    # predecessor, which nothing reads afterwards, so each writes over it: 3,000 layers, one storage
    steps = [Step(f"r{i}", (INPUT if i == 1 else f"r{i - 1}",), INPLACE, 4) for i in range(1, 3001)]
    plan = storage_plan(steps, ["r3000"])
    assert {plan.owner[s.name] for s in steps} == {"r1"}
    assert plan.overwrites == {i: 0 for i in range(1, 3000)}


def test_an_in_place_layer_keeps_off_a_storage_read_later_or_holding_an_output():
    # b may not write over a (c reads a after b); d reads b, and writes over it unless b is an output
    steps = [
        Step("a", (INPUT,), NEW, 4),
        Step("b", ("a",), INPLACE, 4),
        Step("c", ("a",), NEW, 4),
        Step("d", ("b",), INPLACE, 4),
    ]
    plan = storage_plan(steps, ["c", "d"])
    assert plan.owner["b"] == "b" and plan.owner["d"] == "b" and plan.overwrites == {3: 0}
    plan = storage_plan(steps, ["c", "d", "b"])
    assert plan.owner["d"] == "d" and plan.overwrites == {}
    # the storage remembers its members: e writes over d's storage (a's, by then) only once a is read no more
    steps = [
        Step("a", (INPUT,), NEW, 4),
        Step("d", ("a",), INPLACE, 4),  # a is read by f later: no
        Step("e", ("d",), INPLACE, 4),  # d's storage is d's own; nothing reads d later: yes
        Step("f", ("a",), NEW, 4),
    ]
    plan = storage_plan(steps, ["e", "f"])
    assert plan.owner == {INPUT: INPUT, "a": "a", "d": "d", "e": "d", "f": "f"} and plan.overwrites == {2: 0}
    # a storage is read until its last member is: v is a view of x read no more after y, but x itself is read by
    # z after y, so y must not write over their shared storage
    steps = [
        Step("x", (INPUT,), NEW, 4),
        Step("v", ("x",), VIEW, 4),
        Step("y", ("v",), INPLACE, 4),
        Step("z", ("x",), NEW, 4),
    ]
    plan = storage_plan(steps, ["y", "z"])
    assert plan.owner["v"] == "x" and plan.owner["y"] == "y" and plan.overwrites == {}


# --- YAML merge keys, defaults and block parameters ---


def test_a_merge_key_is_overridden_by_the_mapping_s_own_keys_as_in_pyyaml(write_spec):
    text = (
        "input: 8x8x3\nlayers:\n"
        "  - &a {kind: conv, out: 8, kernel: 3, name: a1}\n"
        "  - &b {kind: conv, out: 16, kernel: 1, name: b1, stride: 2}\n"
        "  - {<<: [*a, *b], name: c3}\n"
    )
    layer = parse_network_text(text).layers[2]
    # YAML's merge key: "keys in mapping nodes earlier in the sequence override keys specified in later mapping
    # nodes", and the mapping's own keys override both: out 8 and kernel 3 from a, stride 2 from b alone, name c3
    # (PyYAML 6.0.4 lets the later mapping win; netcalc follows the spec whatever PyYAML is installed)
    assert (layer.name, layer.attrs["out"], layer.attrs["kernel"], layer.attrs["stride"]) == ("c3", 8, (3, 3), (2, 2))
    # a merge of one mapping, itself merging another: the nearer mapping's keys win over the farther one's
    nested = (
        "input: 8x8x3\nlayers:\n"
        "  - &base {kind: conv, out: 4, kernel: 5, name: b0}\n"
        "  - &mid {<<: *base, out: 6, name: m0}\n"
        "  - {<<: *mid, name: top}\n"
    )
    layer = parse_network_text(nested).layers[2]
    assert (layer.name, layer.attrs["out"], layer.attrs["kernel"]) == ("top", 6, (5, 5))
    bad = "input: 8x8x3\nlayers:\n  - {<<: [1, 2], kind: relu}\n"
    assert "`<<` merges a mapping or a list of mappings" in one_line(run(write_spec(bad, "bad.yaml")))
    twice = "input: 8x8x3\nlayers:\n  - &c {kind: conv, out: 8, kernel: 3, name: c1}\n  - {<<: *c, out: 16, out: 4}\n"
    assert "duplicate key 'out'" in one_line(run(write_spec(twice)))


def test_a_default_for_a_layer_s_own_key_says_so(write_spec):
    message = one_line(run(write_spec("input: 8x8x3\ndefaults: {conv: {name: x}}\nlayers: [conv3-4]\n")))
    assert "defaults.conv.name: `name` cannot have a default: each layer gives its own" in message
    message = one_line(run(write_spec("input: 8x8x3\ndefaults: {conv: {kernl: 3}}\nlayers: [conv3-4]\n", "k.yaml")))
    assert message.endswith(
        "(did you mean 'kernel'?); known: out, kernel, stride, padding, dilation, groups, bias, activation\n"
    )


def test_a_numeric_layer_name_passes_through_a_block_parameter():
    text = (
        "input: 8x8x3\nblocks:\n  a: {params: {s: required}, layers: [{kind: add, from: [input, s]}]}\n"
        "layers: [{kind: relu, name: 3}, {kind: relu, name: r}, {block: a, s: 3}]\n"
    )
    assert parse_network_text(text).layers[-1].inputs == ("r", "3")
    # a number that names no layer is still a plain number wherever it is not read as a layer
    text = "input: 8x8x3\nblocks:\n  a: {params: {s: required}, layers: [{kind: conv, out: s, kernel: 1}]}\n"
    assert parse_network_text(text + "layers: [{block: a, s: 5}]\n").layers[0].attrs["out"] == 5


# --- nearest upsampling to a size: the documented rule, as ONNX Runtime computes it ---


def test_nearest_upsampling_to_a_size_reads_the_documented_row(write_spec):
    from netcalc.kinds.spatial import interpolation_taps

    # ⌊i·size/out⌋ exactly: 23·14/46 = 7 (PyTorch's CPU kernel, in float32, reads 6 there), 61·2/122 = 1
    assert interpolation_taps(14, 46, "nearest", False)[0][23] == 7
    assert interpolation_taps(2, 122, "nearest", False)[0][61] == 1
    pytest.importorskip("onnxruntime")
    up = write_spec("input: 14x14x2\nlayers:\n  - {kind: upsample, name: up, mode: nearest, size: [46, 46]}\n")
    result = CliRunner().invoke(cli, ["verify", up, "--against", "onnxruntime", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"], result.output


def test_a_split_into_more_parts_than_its_chunks_fill_says_so(write_spec):
    # 6 channels in `parts: 4` of ⌈6/4⌉ = 2: parts 0–2 take all 6 and part 3 is left empty (torch.chunk gives 3)
    text = "input: 8x8x6\nlayers:\n  - {kind: channel_split, name: s, parts: 4}\n  - {kind: concat, from: [s.0, s.1]}\n"
    message = one_line(run(write_spec(text)))
    assert "spec.yaml:3: layer 's.3': channel_slice [6, 6) is empty" in message
    assert "torch.chunk would return fewer parts here" in message
