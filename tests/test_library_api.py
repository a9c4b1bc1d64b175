"""The library refuses bad input as the CLI does: one NetcalcError with a located message, never a TypeError,
KeyError or nonsense figures; a Network built by hand is checked as a spec is and analyses as the spec does."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import netcalc
from netcalc import Layer, NetcalcError, Network, SpecError
from netcalc.language.spec import check_network
from netcalc.network import is_checked

HERE = Path(__file__).parent
ROOT = HERE.parent
CONV_TEXT = "input: 8x8x3\nlayers:\n  - {kind: conv, name: c, out: 4, kernel: 3}\n"
# 3×3 conv, 3 → 4 channels, no padding on 8×8: output 6×6×4
CONV_PARAMS = 4 * 3 * 3 * 3 + 4
CONV_MACS = 6 * 6 * 4 * (3 * 3 * 3)
SHAPE_HELP = "expected H×W×C, e.g. 224x224x3 or [224, 224, 3]"


def message(call: Any, error: type[NetcalcError] = NetcalcError) -> str:
    """The message of the one error `call` raises, which must be an `error`."""
    with pytest.raises(error) as caught:
        call()
    return str(caught.value)


# --- input_shape= is read as --input is ---


BAD_SHAPES = [
    ((-8, 8, 3), "every size must be positive, got -8×8×3"),
    ((0, 8, 3), "every size must be positive, got 0×8×3"),
    ((8.5, 8, 3), f"{SHAPE_HELP}, got [8.5, 8, 3]"),
    ((64.0, 64.0, 3.0), f"{SHAPE_HELP}, got [64.0, 64.0, 3.0]"),
    ((8, 8, 3, 5), f"{SHAPE_HELP}, got [8, 8, 3, 5]"),
    ((True, True, True), f"{SHAPE_HELP}, got [True, True, True]"),
    ((2**30, 2**30, 3), "1073741824×1073741824×3 is too large; each size is at most 1,048,576"),
    (64, f"{SHAPE_HELP}, got 64"),
    ("abc", f"{SHAPE_HELP}, got 'abc'"),
]
ENTRY_POINTS = {
    "analyze": lambda shape: netcalc.analyze(CONV_TEXT, input_shape=shape),
    "parse_network_text": lambda shape: netcalc.parse_network_text(CONV_TEXT, input_shape=shape),
    "parse_network": lambda shape: netcalc.parse_network({"input": "8x8x3", "layers": ["relu"]}, input_shape=shape),
    "load_network": lambda shape: netcalc.load_network(ROOT / "specs" / "lenet5.yaml", input_shape=shape),
    "analyze_file": lambda shape: netcalc.analyze_file(ROOT / "specs" / "lenet5.yaml", input_shape=shape),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("shape", "expected"), BAD_SHAPES)
def test_a_bad_input_shape_is_refused_with_the_clis_message(entry: str, shape: Any, expected: str) -> None:
    assert message(lambda: ENTRY_POINTS[entry](shape), SpecError) == f"input_shape: {expected}"


@pytest.mark.parametrize("shape", ["8x8x3", "8 × 8 × 3", [8, 8, 3], (8, 8, 3)])
def test_input_shape_takes_what_input_takes(shape: Any) -> None:
    report = netcalc.analyze(CONV_TEXT.replace("8x8x3", "99x99x3"), input_shape=shape)
    assert (report.input_shape, report.totals.params, report.totals.macs) == ((8, 8, 3), CONV_PARAMS, CONV_MACS)


def test_a_network_takes_no_input_shape_of_its_own() -> None:
    network = netcalc.parse_network_text(CONV_TEXT)
    assert "input_shape applies to a spec" in message(lambda: netcalc.analyze(network, input_shape=(16, 16, 3)))


# --- a Network built by hand ---


def conv(name: str, attrs: Any, inputs: Any = ("input",)) -> Layer:
    return Layer(name, "conv", attrs, inputs)


def hand(*layers: Any, input_shape: Any = (32, 32, 3), **more: Any) -> Network:
    return Network("hand", input_shape, tuple(layers), **more)


HAND_TEXT = """
name: hand
input: 32x32x3
layers:
  - {kind: conv, name: c, out: 8, kernel: 3, padding: 1}
  - {kind: relu, name: r}
  - {kind: maxpool, name: p, kernel: 2}
  - {kind: flatten, name: f}
  - {kind: fc, name: o, out: 10}
"""
HAND = hand(
    conv("c", {"out": 8, "kernel": 3, "padding": 1}),
    Layer("r", "relu", {}, ("c",)),
    Layer("p", "maxpool", {"kernel": 2}, ("r",)),
    Layer("f", "flatten", {}, ("p",)),
    Layer("o", "fc", {"out": 10}, ("f",)),
)


def figures(report: netcalc.Report) -> list[tuple[Any, ...]]:
    return [
        (r.name, r.kind, r.inputs, r.output_shape, r.params, r.macs, r.flops, r.live_bytes, r.training_bytes)
        for r in report.layers
    ]


def test_a_hand_built_network_analyses_as_its_spec_does() -> None:
    report, spec = netcalc.analyze(HAND, batch=2), netcalc.analyze(HAND_TEXT, batch=2)
    # conv 3×3, 3 → 8, padding 1: 32×32×8; pool 2: 16×16×8; fc 16·16·8 → 10
    assert report.totals.params == (8 * 3 * 3 * 3 + 8) + (16 * 16 * 8 * 10 + 10)
    assert report.totals.macs == 2 * (32 * 32 * 8 * (3 * 3 * 3) + 16 * 16 * 8 * 10)
    assert figures(report) == figures(spec)
    assert report.totals == spec.totals


def test_a_hand_built_layer_gets_the_parsers_defaults() -> None:
    checked = check_network(HAND)
    parsed = netcalc.parse_network_text(HAND_TEXT)
    assert [layer.attrs for layer in checked.layers] == [layer.attrs for layer in parsed.layers]
    assert checked.layers[0].attrs["groups"] == 1 and checked.layers[0].attrs["kernel"] == (3, 3)


def test_a_hand_built_layer_may_use_shape_expressions_and_same_padding() -> None:
    network = hand(conv("c", {"out": "in_channels * 2", "kernel": 3, "stride": 2, "padding": "same"}))
    report = netcalc.analyze(network)
    # SAME at stride 2: ⌈32 / 2⌉ = 16; out 3 · 2 = 6
    assert report.output_shape == (16, 16, 6)
    assert report.totals.params == 6 * 3 * 3 * 3 + 6


FULL_CONV = {"out": 8, "kernel": 3}
BAD_NETWORKS = [
    (hand(conv("a", {"out": -8, "kernel": 3})), "layer 'a': out: expected a whole number ≥ 1, got -8"),
    (hand(conv("a", {"out": 8, "kernel": 3, "groups": 0})), "layer 'a': groups: expected a whole number ≥ 1, got 0"),
    (hand(conv("a", {"kernel": 3})), "layer 'a': conv is missing required key 'out'"),
    (hand(conv("a", {**FULL_CONV, "colour": 1})), "layer 'a': unknown key 'colour' for conv"),
    (hand(conv("a", None)), "layer 'a': expected attributes as a mapping, got nothing"),
    (hand(Layer("a", "relu", {}, ("input", "input"))), "layer 'a': relu takes one input, got 2"),
    (hand(Layer("a", "add", {}, ("input",))), "layer 'a': add takes two or more inputs, got 1"),
    (hand(Layer("a", "relu", {}, "input")), "layer 'a': `inputs` must be a tuple of layer names, got str 'input'"),
    (hand(Layer("a", "foo", {}, ("input",))), "layer 'a': unknown kind 'foo'"),
    (
        hand(Layer("a", "relu", {}, ("nope",))),
        "layer 'a': input 'nope' is not a layer listed before this one (layers go in dependency order)",
    ),
    (
        hand(Layer("a", "relu", {}, ("b",)), Layer("b", "relu", {}, ("input",))),
        "layer 'a': input 'b' is not a layer listed before this one (layers go in dependency order)",
    ),
    (
        hand(Layer("a", "relu", {}, ("input",)), Layer("a", "relu", {}, ("a",))),
        "layer 'a': duplicate layer name 'a'",
    ),
    (hand(Layer("input", "relu", {}, ("input",))), "layer 'input': 'input' is reserved"),
    (hand(Layer("a", "relu", {}, ("input",)), outputs=("zz",)), "outputs: 'zz' is no layer of the network"),
    (hand(Layer("a", "relu", {}, ("input",)), input_shape=None), f"input_shape: {SHAPE_HELP}, got None"),
    (hand(Layer("a", "relu", {}, ("input",)), input_shape=(100,)), f"input_shape: {SHAPE_HELP}, got [100]"),
    (hand("relu"), "layers[0]: expected a netcalc.Layer, got str 'relu'"),
    (hand(conv("a", {"out": 8, "kernel": 9}), input_shape=(4, 4, 3)), "layer 'a': kernel 9 is larger than"),
]


@pytest.mark.parametrize(("network", "expected"), BAD_NETWORKS)
def test_a_bad_hand_built_network_is_refused_at_its_layer(network: Network, expected: str) -> None:
    assert message(lambda: netcalc.analyze(network)).startswith(expected)


def test_a_hand_built_network_may_take_its_input_shape_as_text() -> None:
    network = hand(conv("c", {"out": 4, "kernel": 3}), input_shape="8x8x3")
    assert netcalc.analyze_network(network).totals.params == CONV_PARAMS


def test_a_parsed_network_is_checked_once_and_a_replaced_one_again() -> None:
    parsed = netcalc.parse_network_text(CONV_TEXT)
    assert is_checked(parsed) and check_network(parsed) is parsed  # the parser's checks are not run twice
    broken = dataclasses.replace(parsed, layers=(conv("c", {"out": 0, "kernel": 3}),))
    assert not is_checked(broken)
    assert message(lambda: netcalc.analyze(broken), SpecError) == "layer 'c': out: expected a whole number ≥ 1, got 0"
    again = dataclasses.replace(parsed)  # a valid copy: checked again, same figures
    assert netcalc.analyze(again).totals == netcalc.analyze(parsed).totals


# --- arguments of the wrong type ---


SPEC = ROOT / "specs" / "lenet5.yaml"
WRONG_TYPES = [
    (lambda: netcalc.analyze_file(None), "expected a file path (str or pathlib.Path), got nothing"),
    (lambda: netcalc.analyze_file(123), "expected a file path (str or pathlib.Path), got int 123"),
    (lambda: netcalc.load_network(None), "expected a file path (str or pathlib.Path), got nothing"),
    (lambda: netcalc.analyze(None), "expected a spec (YAML text or a mapping) or a netcalc.Network, got NoneType"),
    (lambda: netcalc.analyze(123), "expected a spec (YAML text or a mapping) or a netcalc.Network, got int"),
    (lambda: netcalc.parse_network_text(None), "expected a spec's YAML text (str), got nothing"),
    (lambda: netcalc.analyze_network(None), "expected a netcalc.Network (or, for analyze, a spec), got nothing"),
    (lambda: netcalc.analyze_network("x"), "expected a netcalc.Network (or, for analyze, a spec), got str 'x'"),
    (
        lambda: netcalc.analyze_file(SPEC, dtype=[]),
        "unknown dtype []; known: float64, float32, float16, bfloat16, int8",
    ),
    (
        lambda: netcalc.analyze_file(SPEC, optimizer=[]),
        "unknown optimizer []; known: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw",
    ),
    (lambda: netcalc.analyze_file(SPEC, strict="no"), "strict must be True or False, got 'no'"),
]


@pytest.mark.parametrize(("call", "expected"), WRONG_TYPES)
def test_an_argument_of_the_wrong_type_says_what_was_expected(call: Any, expected: str) -> None:
    assert message(call) == expected


def test_analyze_takes_the_mapping_yaml_loads() -> None:
    spec = {"input": [8, 8, 3], "layers": [{"kind": "conv", "out": 4, "kernel": 3}]}
    assert netcalc.analyze(spec).totals.params == CONV_PARAMS


# --- the report's own questions ---


@pytest.fixture(scope="module")
def report() -> netcalc.Report:
    return netcalc.analyze_file(ROOT / "specs" / "resnet18.yaml")


@pytest.mark.parametrize("depth", [0, -1, "a", 1.5, True])
def test_collapsed_takes_a_depth_of_at_least_one(report: netcalc.Report, depth: Any) -> None:
    assert message(lambda: report.collapsed(depth)).startswith("depth must be a whole number ≥ 1 (or None")


def test_collapsed_folds_the_top_level_blocks(report: netcalc.Report) -> None:
    folded = report.collapsed(1)
    assert len(folded) < len(report.layers) and sum(r.params for r in folded) == report.totals.params


@pytest.mark.parametrize("figure", ["foo", None, "name", "macs"])
def test_peak_layer_takes_a_peak_figure(report: netcalc.Report, figure: Any) -> None:
    expected = f"peak_layer takes a peak figure (live_bytes, training_bytes), got {figure!r}"
    assert message(lambda: report.peak_layer(figure)) == expected


# --- ONNX files, as every command reads them ---


def test_analyze_file_reads_an_onnx_model() -> None:
    pytest.importorskip("onnx")
    report = netcalc.analyze_file(HERE / "data" / "onnx" / "alexnet.onnx")
    assert report.totals.params == 61_100_840  # torchvision's AlexNet
    assert report.totals.params == netcalc.analyze_file(ROOT / "specs" / "alexnet.yaml").totals.params
    assert netcalc.load_network(str(HERE / "data" / "onnx" / "alexnet.onnx")).input_shape == (224, 224, 3)


def test_the_library_reads_a_yaml_spec_without_onnx_or_numpy() -> None:
    code = (
        "import sys, netcalc\n"
        f"netcalc.analyze_file({str(SPEC)!r})\n"
        "print('onnx' in sys.modules, 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


def test_an_onnx_model_with_a_symbolic_batch_takes_the_analysis_batch():
    # PyTorch's dynamic export of shufflenet_v2_x1_0: 2,278,604 params and 144,907,992 MACs per sample, measured
    # with PyTorch (tests/test_onnx_import.py); the batch binds the symbolic N and multiplies the MACs
    path = Path(__file__).parent / "data" / "onnx" / "shufflenet_v2_x1_0_dynamic.onnx"
    report = netcalc.analyze_file(path, batch=8, input_shape="224x224x3")
    assert (report.totals.params, report.totals.macs) == (2_278_604, 8 * 144_907_992)
    with pytest.raises(NetcalcError, match="dimension N \\(batch\\) of input 'input' is symbolic"):
        netcalc.load_network(path, input_shape="224x224x3")
