"""`netcalc verify`: the analysis checked layer by layer against the NumPy reference pass, through the CLI.

A deliberately wrong formula in the registry must make verify exit 1 and name the layer; the zoo specs must
verify cleanly (at reduced input sizes where the full size is too slow for CI, as each entry says).
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import netcalc
from netcalc.cli import cli
from netcalc.kinds import REGISTRY
from netcalc.kinds.conv import conv_macs
from netcalc.reference.engine import run
from netcalc.reference.verify import compare

SPECS = Path(__file__).parent.parent / "specs"

SMALL = """
name: small
input: 8x8x3
layers:
  - {kind: conv, name: conv, out: 16, kernel: 3, padding: 1, activation: relu}
  - {kind: batchnorm, name: bn}
  - {kind: maxpool, name: pool, kernel: 3, stride: 2, ceil_mode: true}
  - {kind: conv, name: branch, from: pool, out: 16, kernel: 1, bias: false}
  - {kind: add, name: add, from: [branch, pool]}
  - {kind: lrn, name: lrn, size: 3}
  - global_avgpool
  - flatten
  - {kind: fc, name: fc, out: 10}
  - {kind: dropout, name: drop}
  - softmax
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, ["verify", *args], env={"COLUMNS": "160", "NO_COLOR": "1"})


def test_a_small_spec_verifies(write_spec) -> None:
    result = invoke(write_spec(SMALL))
    assert result.exit_code == 0, result.output
    assert "✗" not in result.output
    assert "✓ all 11 layers agree (forward + backward, float32, seed 0)" in result.output
    assert f"MACs counted {8 * 8 * 16 * (3 * 3 * 3) + 4 * 4 * 16 * 16 + 16 * 10:,}" in result.output


def test_json_gives_exact_figures(write_spec) -> None:
    result = invoke(write_spec(SMALL), "--format", "json", "--batch", "2", "--dtype", "float64", "--gradcheck", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True and data["batch"] == 2 and data["dtype"] == "float64"
    conv = data["layers"][0]
    assert conv["name"] == "conv" and conv["ok"] is True
    assert conv["output_shape"] == {"analysed": [8, 8, 16], "measured": [8, 8, 16], "ok": True}
    assert conv["params"]["measured"] == 3 * 3 * 3 * 16 + 16
    assert conv["macs"] == {
        "analysed": 2 * 8 * 8 * 16 * (3 * 3 * 3),
        "measured": 2 * 8 * 8 * 16 * (3 * 3 * 3),
        "ok": True,
    }
    assert conv["backward_macs"] == 2 * (2 * 8 * 8 * 16 * (3 * 3 * 3))
    assert conv["activation_bytes"]["measured"] == 2 * 8 * 8 * 16 * 8
    bn = data["layers"][1]
    assert bn["params"]["measured"] == 2 * 16 and bn["buffers"]["measured"] == 2 * 16
    assert all(layer["gradcheck_error"] < 1e-6 for layer in data["layers"])
    assert data["totals"]["failed"] == []
    assert (
        data["totals"]["counted_macs"]
        == data["totals"]["analysed_macs"]
        == 2 * (8 * 8 * 16 * 27 + 4 * 4 * 16 * 16 + 16 * 10)
    )


def test_forward_only(write_spec) -> None:
    result = invoke(write_spec(SMALL), "--no-backward", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["backward"] is False
    assert all(layer["backward_macs"] is None for layer in data["layers"])


def test_a_wrong_mac_formula_is_caught(write_spec, monkeypatch: pytest.MonkeyPatch) -> None:
    def off_by_one(attrs, ins, out):
        return conv_macs(attrs, ins, out) + 1

    monkeypatch.setitem(REGISTRY, "conv", dataclasses.replace(REGISTRY["conv"], macs=off_by_one))
    result = invoke(write_spec(SMALL))
    assert result.exit_code == 1, result.output
    macs = 8 * 8 * 16 * (3 * 3 * 3)
    assert f"✗ {macs + 1:,} ≠ {macs:,}" in result.output
    assert "✗ 2 of 11 layers disagree: conv, branch" in result.output


def test_a_wrong_shape_rule_is_caught(write_spec, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = REGISTRY["maxpool"]

    def floor_instead_of_ceil(attrs, ins):
        return pool.output_shape({**attrs, "ceil_mode": False}, ins)

    monkeypatch.setitem(REGISTRY, "maxpool", dataclasses.replace(pool, output_shape=floor_instead_of_ceil))
    result = invoke(write_spec(SMALL), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["pool"]["output_shape"] == {"analysed": [3, 3, 16], "measured": [4, 4, 16], "ok": False}
    assert layers["pool"]["activation_bytes"]["analysed"] == 3 * 3 * 16 * 4
    assert data["totals"]["failed"][0] == "pool"
    table = invoke(write_spec(SMALL))
    assert table.exit_code == 1 and "✗ 3×3×16 ≠ 4×4×16" in table.output


def test_a_wrong_parameter_count_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    bn = REGISTRY["batchnorm"]
    monkeypatch.setitem(
        REGISTRY, "batchnorm", dataclasses.replace(bn, weights=lambda a, i: {**bn.weights(a, i), "extra": (1,)})
    )
    network = netcalc.parse_network_text(SMALL)
    verification = compare(netcalc.analyze(network), run(network), seed=0)
    (failed,) = verification.failed
    assert failed.name == "bn" and failed.params.analysed == 2 * 16 + 1 and failed.params.measured == 2 * 16
    assert failed.disagreements == ("params", "gradient shapes")  # no gradient for `extra` either


def test_a_kind_without_reference_exits_1(write_spec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "lrn", dataclasses.replace(REGISTRY["lrn"], forward=None))
    result = invoke(write_spec(SMALL))
    assert result.exit_code == 1
    assert "no NumPy reference forward/backward for kind lrn (lrn)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "missing.yaml"),
        (["SPEC", "--dtype", "float16"], "'float16' is not one of 'float32', 'float64'"),
        (["SPEC", "--input", "8x8"], "expected H×W×C"),
        (["SPEC", "--gradcheck", "2", "--no-backward"], "--gradcheck needs the backward pass"),
        (["SPEC", "--input", "2x2x3"], "larger than the padded height"),
        (["SPEC", "--format", "csv"], "'csv' is not one of 'table', 'json'"),
        (["SPEC", "--seed", "-1"], "-1 is not in the range x>=0"),
    ],
)
def test_bad_input_exits_2(write_spec, args: list[str], message: str) -> None:
    path = write_spec(SMALL.replace("global_avgpool", "{kind: maxpool, kernel: 3}"))
    result = invoke(*[path if a == "SPEC" else a for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_no_progress_bar_without_a_terminal(write_spec) -> None:
    result = CliRunner().invoke(cli, ["verify", write_spec(SMALL)])
    assert result.exit_code == 0 and result.stderr == ""


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from netcalc.commands import verify as command

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(command.sys, "stderr", terminal)
    steps = []
    with command._progress_bar(4) as advance:
        assert advance is not None
        for name in ("a", "b"):
            advance("forward", name)
            steps.append(name)
    assert steps == ["a", "b"]


# Every network in specs/ is verified. Full size where a run takes well under a second on 2 cores; the deep
# ResNets and DenseNet-121 at 64×64 (ResNet-101/152 at 32×32); the VGGs at 32×32, which still builds all their
# weights (the adaptive pool keeps fc6 25088 wide) but spares the 224×224 convolutions. Every layer is reached
# at these sizes.
SMALLER = {
    "resnet34.yaml": "64x64x3",
    "resnet50.yaml": "64x64x3",
    "resnet101.yaml": "32x32x3",
    "resnet152.yaml": "32x32x3",
    "densenet121.yaml": "64x64x3",
    "vgg11.yaml": "32x32x3",
    "vgg13.yaml": "32x32x3",
    "vgg16.yaml": "32x32x3",
    "vgg16_bn.yaml": "32x32x3",
    "vgg19.yaml": "32x32x3",
    # Today's networks, at batch 2 like all: a 1×1 map before the classifier still gives batch norm two values.
    "convnext_tiny.yaml": "32x32x3",
    "efficientnet_b1.yaml": "32x32x3",
    "googlenet_aux.yaml": "32x32x3",
    "mnasnet1_0.yaml": "32x32x3",
    "mobilenet_v3_large.yaml": "32x32x3",
    "regnet_y_400mf.yaml": "32x32x3",
    # at 32×32, stage4.0.branch1.1's β reaches the loss only through the next batch norm, which removes it exactly
    "shufflenet_v2_x0_5.yaml": "64x64x3",
    "fcn_resnet50.yaml": "16x16x3",  # output stride 8: 2×2 from layer2 on
    "deeplabv3_resnet50.yaml": "16x16x3",
    "unet.yaml": "188x188x1",  # the smallest input its valid convolutions allow: 4×4×2 out
}
# U-Net has no batch norm and no stochastic depth (which at batch 1 may drop a whole block's branch and leave its
# weights without gradient, as in ConvNeXt), so batch 1 checks everything: 31M weights on 188×188 maps.
BATCH = {"unet.yaml": 1}
NOT_NETWORKS = ("blocks", "budgets")  # shared blocks and budget files
NETWORKS = sorted(
    str(p.relative_to(SPECS)) for p in SPECS.rglob("*.yaml") if p.relative_to(SPECS).parts[0] not in NOT_NETWORKS
)


def test_the_smaller_sizes_name_real_specs():
    assert set(SMALLER) | set(BATCH) <= set(NETWORKS)


@pytest.mark.parametrize("name", NETWORKS)
def test_zoo_specs_verify(name: str) -> None:
    # batch 2 (or more; 1 only where BATCH says so): a training-mode batch norm over a 1×1 map at batch 1 sees one
    # value per channel, and every gradient upstream of it is exactly zero (ResNet-101/152 at 32×32); --strict
    # makes such a layer fail
    args = [str(SPECS / name), "--format", "json", "--batch", str(BATCH.get(name, 2)), "--strict"]
    result = invoke(*args + (["--input", SMALLER[name]] if name in SMALLER else []))
    assert result.exit_code == 0, result.output[-2000:]
    data = json.loads(result.output)
    assert data["ok"] and data["totals"]["counted_macs"] == data["totals"]["analysed_macs"] > 0
    assert data["totals"]["zero_gradient_layers"] == []
    assert all(layer["nonfinite"] == [] for layer in data["layers"])


@pytest.mark.parametrize(("kind", "layer"), [("batchnorm", "bn"), ("lrn", "lrn")])
def test_a_slightly_wrong_gradient_is_caught_by_gradcheck(write_spec, monkeypatch, kind, layer) -> None:
    # Every input gradient of one kind 0.1% too large: shapes and MACs still agree, only --gradcheck can tell.
    original = REGISTRY[kind]

    def backward_off_by_a_thousandth(dy, cache):
        dxs, dparams = original.backward(dy, cache)
        return tuple(dx * 1.001 for dx in dxs), dparams

    monkeypatch.setitem(REGISTRY, kind, dataclasses.replace(original, backward=backward_off_by_a_thousandth))
    spec = write_spec(SMALL)
    assert invoke(spec, "--format", "json", "--dtype", "float64").exit_code == 0
    result = invoke(spec, "--format", "json", "--dtype", "float64", "--gradcheck", "4")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["totals"]["failed"] == [layer]
    error = next(entry for entry in data["layers"] if entry["name"] == layer)["gradcheck_error"]
    assert error > 1e-4  # about 0.001 / 2


@pytest.mark.parametrize("extra", [[], ["--against", "onnxruntime"], ["--no-backward"]])
def test_a_network_longer_than_the_reference_takes_is_refused_at_its_first_layer_past(
    write_spec, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> None:
    from netcalc.reference import engine

    def never(*args, **kwargs):
        raise AssertionError("the pass started")

    monkeypatch.setattr(engine, "_run", never)
    spec = "name: long\ninput: 2x2x1\nlayers:\n  - {kind: relu, name: r, repeat: 20001}\n"
    result = invoke(write_spec(spec), *extra)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "runs at most 20,000 layers and this network has 20,001" in lines[0]
    assert lines[0].endswith("(summary, show and check take up to 40,000)")  # the spec language's maximum
    assert ":4: layer 'r." in lines[0]  # the spec line of the layer past the maximum
    with pytest.raises(netcalc.NetcalcError, match="at most 20,000 layers"):
        run(netcalc.parse_network_text(spec))


def test_a_network_of_the_maximum_length_verifies(write_spec, monkeypatch: pytest.MonkeyPatch) -> None:
    from netcalc.reference import engine

    monkeypatch.setattr(engine, "MAX_LAYERS", 3)  # 20,000 layers take seconds; the boundary is the same
    spec = "name: long\ninput: 1x1x1\nlayers:\n  - {kind: relu, name: r, repeat: 3}\n"
    assert invoke(write_spec(spec)).exit_code == 0
    assert invoke(write_spec(spec.replace("repeat: 3", "repeat: 4"))).exit_code == 2


def test_forward_only_activations_overwrite_their_input_as_the_analysis_counts(write_spec) -> None:
    # Without backward nothing keeps a ReLU's input, so it writes over it: after relu1 only its output (the
    # stem's buffer) and nothing else is alive. Were it a fresh array, the measured live bytes would be the
    # stem's output and relu1's (2 × 8·8·8·4 B) against the analysed one, and the check fails.
    spec = write_spec(
        "name: inplace\ninput: 8x8x3\nlayers:\n  - {kind: conv, name: stem, out: 8, kernel: 3, padding: 1}\n"
        "  - {kind: relu, name: relu1}\n  - {kind: conv, name: c2, out: 8, kernel: 1}\n"
        "  - {kind: relu6, name: relu2}\n"
    )
    result = invoke(spec, "--no-backward", "--format", "json")
    assert result.exit_code == 0, result.output[-2000:]
    live = {layer["name"]: layer["live_bytes"] for layer in json.loads(result.output)["layers"]}
    act = 8 * 8 * 8 * 4
    assert live["relu1"] == {"analysed": act, "measured": act, "ok": True}
    assert live["relu2"] == {"analysed": act, "measured": act, "ok": True}
