"""The ONNX bridge over every kind netcalc has, through the CLI: one generated spec holding each kind ONNX can
express is exported, passes onnx.checker, imports back to the same layers and figures, and agrees with ONNX
Runtime; and the audit's bugs (a crop by size, groupnorm's round trip, the normalisation tolerance,
pixel_unshuffle, the opset message) each have a test that failed before its fix."""

from __future__ import annotations

from dataclasses import replace

import onnx
import pytest
import yaml
from click.testing import CliRunner

from netcalc.analysis.analyze import analyze_network
from netcalc.bridges.onnx import registry
from netcalc.bridges.onnx.importer import load_onnx_network
from netcalc.cli import cli
from netcalc.kinds import REGISTRY
from netcalc.language.spec import load_network

# Kinds ONNX cannot express at all: `unknown` stands for an operator netcalc does not model.
NOT_EXPRESSIBLE = {"unknown"}

# One layer of every expressible kind (several of some, for their variants); the name of the first layer of a
# kind is the kind. Input 16×16×8.
LAYERS = [
    {"kind": "conv", "name": "conv", "out": 8, "kernel": 3, "padding": 1, "activation": "relu"},
    {"kind": "conv_transpose", "name": "conv_transpose", "out": 8, "kernel": 2, "stride": 2},  # 32×32
    {"kind": "maxpool", "name": "maxpool", "kernel": 2, "stride": 2},  # 16×16
    {"kind": "avgpool", "name": "avgpool", "kernel": 3, "stride": 1, "padding": 1},
    {"kind": "batchnorm", "name": "batchnorm"},
    {"kind": "groupnorm", "name": "groupnorm", "groups": 4},
    {"kind": "instancenorm", "name": "instancenorm"},
    {"kind": "layernorm", "name": "layernorm"},
    {"kind": "lrn", "name": "lrn"},
    {"kind": "relu", "name": "relu"},
    {"kind": "relu6", "name": "relu6"},
    {"kind": "sigmoid", "name": "sigmoid"},
    {"kind": "tanh", "name": "tanh"},
    {"kind": "hardswish", "name": "hardswish"},
    {"kind": "hardsigmoid", "name": "hardsigmoid"},
    {"kind": "silu", "name": "silu"},
    {"kind": "gelu", "name": "gelu"},
    {"kind": "gelu", "name": "gelu_tanh", "approximate": "tanh"},
    {"kind": "elu", "name": "elu", "alpha": 0.5},
    {"kind": "leaky_relu", "name": "leaky_relu", "negative_slope": 0.2},
    {"kind": "prelu", "name": "prelu"},
    {"kind": "scale", "name": "scale"},
    {"kind": "stochastic_depth", "name": "stochastic_depth", "p": 0.1},
    {"kind": "identity", "name": "identity"},
    {"kind": "dropout", "name": "dropout", "p": 0.3},
    {"kind": "channel_shuffle", "name": "channel_shuffle", "groups": 2},
    {"kind": "channel_pad", "name": "channel_pad", "before": 2, "after": 2},  # 12 channels
    {"kind": "channel_slice", "name": "channel_slice", "start": 2, "end": 10},  # 8
    {"kind": "pad", "name": "pad", "padding": 1},  # 18×18
    {"kind": "pad", "name": "pad_reflect", "padding": [1, 0, 2, 1], "mode": "reflect"},  # 19×21
    {"kind": "crop", "name": "crop", "size": [16, 16]},  # centred
    {"kind": "crop", "name": "crop_offset", "size": [14, 14], "offset": [1, 2]},
    {"kind": "subsample", "name": "subsample", "stride": 2},  # 7×7
    {"kind": "upsample", "name": "upsample", "scale": 2},  # 14×14
    {"kind": "upsample", "name": "upsample_size", "size": [16, 16], "mode": "bilinear"},
    {"kind": "pixel_shuffle", "name": "pixel_shuffle", "factor": 2},  # 32×32×2
    {"kind": "pixel_unshuffle", "name": "pixel_unshuffle", "factor": 2},  # 16×16×8
    {"kind": "add", "name": "add", "from": ["pixel_unshuffle", "identity"]},
    {"kind": "multiply", "name": "multiply", "from": ["add", "upsample_size"]},
    {"kind": "concat", "name": "concat", "from": ["multiply", "add"]},  # 16×16×16
    {"kind": "crop", "name": "crop_ref", "from": ["concat", "subsample"]},  # 7×7×16
    {"kind": "upsample", "name": "upsample_ref", "from": ["crop_ref", "concat"], "mode": "bilinear"},  # 16×16
    {"kind": "adaptive_avgpool", "name": "adaptive_avgpool", "output": 8},
    {"kind": "global_avgpool", "name": "global_avgpool"},
    {"kind": "global_maxpool", "name": "global_maxpool", "from": "adaptive_avgpool"},
    {"kind": "add", "name": "add_pools", "from": ["global_avgpool", "global_maxpool"]},
    {"kind": "flatten", "name": "flatten"},
    {"kind": "fc", "name": "fc", "out": 10},
    {"kind": "layernorm", "name": "layernorm_flat"},
    {"kind": "softmax", "name": "softmax"},
]


def every_kind_spec() -> str:
    return yaml.safe_dump({"name": "every_kind", "input": "16x16x8", "layers": LAYERS}, sort_keys=False)


def figures(report):
    fields = ("name", "kind", "inputs", "output_shape", "params", "buffers", "macs", "flops", "activation_bytes")
    return [tuple(getattr(row, f) for f in fields) for row in report.layers]


def test_the_generated_spec_holds_every_kind_onnx_can_express():
    kinds = {layer["kind"] for layer in LAYERS}
    assert kinds | NOT_EXPRESSIBLE == set(REGISTRY), "a new kind: add it to LAYERS or to NOT_EXPRESSIBLE"
    assert not kinds & NOT_EXPRESSIBLE


def test_every_kind_exports_checks_imports_and_agrees_with_onnxruntime(tmp_path):
    spec = tmp_path / "every_kind.yaml"
    spec.write_text(every_kind_spec())
    out, back = tmp_path / "every_kind.onnx", tmp_path / "back.yaml"
    runner = CliRunner()
    exported = runner.invoke(cli, ["export", str(spec), "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    imported = runner.invoke(cli, ["import", str(out), "-o", str(back)])
    assert imported.exit_code == 0, imported.output
    network, again = load_network(spec), load_network(back)
    assert [(layer.name, layer.kind) for layer in again.layers] == [
        (layer.name, layer.kind) for layer in network.layers
    ]
    assert figures(analyze_network(again)) == figures(analyze_network(network))
    assert analyze_network(again).totals == analyze_network(network).totals
    summary = runner.invoke(cli, ["summary", str(out), "--format", "csv"])
    assert summary.exit_code == 0, summary.output
    verified = runner.invoke(cli, ["verify", str(spec), "--against", "onnxruntime", "--batch", "2"])
    assert verified.exit_code == 0, verified.output


# --- 1. a crop by size ---

CROP = """
input: 16x16x3
layers:
  - {kind: conv, name: conv, out: 4, kernel: 3, padding: 1}
  - {kind: crop, name: crop, size: [8, 8]%s}
"""


@pytest.mark.parametrize(("offset", "starts"), [("", [4, 4]), (", offset: [1, 6]", [1, 6])])
def test_a_crop_by_size_exports_as_a_slice_and_agrees_with_onnxruntime(tmp_path, offset, starts):
    spec, out = tmp_path / "crop.yaml", tmp_path / "crop.onnx"
    spec.write_text(CROP % offset)
    result = CliRunner().invoke(cli, ["export", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    model = onnx.load(str(out))
    node = next(n for n in model.graph.node if n.name == "crop")
    assert node.op_type == "Slice"
    values = {t.name: onnx.numpy_helper.to_array(t).tolist() for t in model.graph.initializer}
    assert values[node.input[1]] == starts and values[node.input[2]] == [starts[0] + 8, starts[1] + 8]
    verified = CliRunner().invoke(cli, ["verify", str(spec), "--against", "onnxruntime"])
    assert verified.exit_code == 0, verified.output
    summary = CliRunner().invoke(cli, ["summary", str(out), "--format", "csv"])
    assert summary.exit_code == 0 and "crop,crop" in summary.stdout.replace(" ", "")


def test_a_kind_onnx_cannot_express_is_one_located_line(tmp_path):
    spec = tmp_path / "three.yaml"
    spec.write_text(
        "input: 8x8x4\nlayers:\n  - {kind: relu, name: a}\n  - {kind: sigmoid, name: b, from: input}\n"
        "  - {kind: multiply, name: m, from: [a, b, input]}\n"
    )
    for args in (
        ["export", str(spec), "-o", str(tmp_path / "x.onnx")],
        ["verify", str(spec), "--against", "onnxruntime"],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert "layer 'm': ONNX export of multiply takes two inputs" in result.stderr
        assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


# --- 2. groupnorm's round trip; an unexpected exception while importing ---

GROUPNORM = """
input: 16x16x8
layers:
  - {kind: groupnorm, name: groupnorm1, groups: 4}
  - {kind: relu, name: relu1}
  - {kind: conv, name: conv1, out: 4, kernel: 3, stride: 2}
"""


def test_groupnorm_exported_then_imported(tmp_path):
    spec, out = tmp_path / "g.yaml", tmp_path / "g.onnx"
    spec.write_text(GROUPNORM)
    runner = CliRunner()
    assert runner.invoke(cli, ["export", str(spec), "-o", str(out)]).exit_code == 0
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    imported = runner.invoke(cli, ["import", str(out)])
    assert imported.exit_code == 0, imported.output
    layers = yaml.safe_load(imported.stdout)["layers"]
    assert [(entry["kind"], entry["name"]) for entry in layers] == [
        ("groupnorm", "groupnorm1"),
        ("relu", "relu1"),
        ("conv", "conv1"),
    ]
    assert layers[0]["groups"] == 4 and layers[2]["stride"] == 2
    summary = runner.invoke(cli, ["summary", str(out), "--format", "csv"])
    assert summary.exit_code == 0, summary.output
    assert "7×7×4" in summary.stdout or "7x7x4" in summary.stdout  # (16 − 3) // 2 + 1 = 7, after the groupnorm


MIXED = """
input: 16x16x4
layers:
  - {kind: conv, name: c1, out: 8, kernel: 3, padding: 1}
  - {kind: maxpool, name: mp, kernel: 2, stride: 2}
  - {kind: pad, name: pd, padding: 1}
  - {kind: upsample, name: up, scale: 2}
  - {kind: pixel_shuffle, name: ps, factor: 2}
  - {kind: groupnorm, name: gn, groups: 2}
  - {kind: prelu, name: pr}
  - {kind: channel_pad, name: cp, before: 2, after: 2}
  - {kind: scale, name: sc}
  - {kind: stochastic_depth, name: sd, p: 0.1}
  - {kind: layernorm, name: ln}
"""


def test_the_audits_mixed_spec_exports_and_summarises(tmp_path):
    spec, out = tmp_path / "x.yaml", tmp_path / "x.onnx"
    spec.write_text(MIXED)
    runner = CliRunner()
    assert runner.invoke(cli, ["export", str(spec), "-o", str(out)]).exit_code == 0
    summary = runner.invoke(cli, ["summary", str(out), "--format", "csv"])
    assert summary.exit_code == 0, summary.output
    assert figures(analyze_network(load_onnx_network(out))) == figures(analyze_network(load_network(spec)))


def test_an_unexpected_exception_while_importing_is_one_line_naming_the_node(tmp_path, monkeypatch):
    spec, out = tmp_path / "g.yaml", tmp_path / "g.onnx"
    spec.write_text(GROUPNORM)
    assert CliRunner().invoke(cli, ["export", str(spec), "-o", str(out)]).exit_code == 0

    def broken(imp, node):
        raise ValueError("planted")

    key = next(k for k in registry.CONVERTERS if k[1] == "Relu" and k[2] == 14)
    monkeypatch.setitem(registry.CONVERTERS, key, broken)
    result = CliRunner().invoke(cli, ["import", str(out)])
    assert result.exit_code == 2
    assert "node 'relu1' (Relu, node 2 of 3): importing it failed: ValueError: planted" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


# --- 3. the tolerance of normalisations ---

NORM = """
input: 112x112x8
layers:
  - {kind: sigmoid, name: s}
  - {kind: groupnorm, name: gn, groups: 4}
"""


def test_groupnorm_over_a_large_map_agrees_with_onnxruntime(tmp_path):
    # float32 means over 2·112·112 values after a sigmoid (mean ½, small spread): ONNX Runtime and NumPy differ
    # by about 10⁻⁵, more than a tolerance blind to the elements reduced allowed (5.7·10⁻⁶).
    spec = tmp_path / "gn.yaml"
    spec.write_text(NORM)
    for seed in ("0", "1"):
        result = CliRunner().invoke(
            cli, ["verify", str(spec), "--against", "onnxruntime", "--batch", "2", "--seed", seed]
        )
        assert result.exit_code == 0, result.output


def test_a_wrong_groupnorm_still_fails(tmp_path, monkeypatch):
    original = REGISTRY["groupnorm"]

    def twice_the_groups(xs, params, attrs, train):
        return original.forward(xs, params, {**attrs, "groups": attrs["groups"] * 2}, train)

    monkeypatch.setitem(REGISTRY, "groupnorm", replace(original, forward=twice_the_groups))
    spec = tmp_path / "gn.yaml"
    spec.write_text(NORM)
    result = CliRunner().invoke(cli, ["verify", str(spec), "--against", "onnxruntime"], env={"COLUMNS": "160"})
    assert result.exit_code == 1
    assert "layer 'gn' (groupnorm): worst element [" in result.stdout


# --- 4. pixel_unshuffle ---

UNSHUFFLE = """
input: 8x12x3
layers:
  - {kind: conv, name: conv, out: 4, kernel: 3, padding: 1}
  - {kind: pixel_unshuffle, name: reorg, factor: 2}
  - {kind: conv, name: head, out: 5, kernel: 1}
"""


def test_pixel_unshuffle_exports_imports_and_agrees_with_onnxruntime(tmp_path):
    spec, out = tmp_path / "pu.yaml", tmp_path / "pu.onnx"
    spec.write_text(UNSHUFFLE)
    runner = CliRunner()
    result = runner.invoke(cli, ["export", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    imported = runner.invoke(cli, ["import", str(out)])
    assert imported.exit_code == 0, imported.output
    layers = yaml.safe_load(imported.stdout)["layers"]
    assert layers[1] == {"kind": "pixel_unshuffle", "name": "reorg", "factor": 2}
    summary = runner.invoke(cli, ["summary", str(out), "--format", "csv"])
    assert summary.exit_code == 0 and "reorg" in summary.stdout
    # the values (PyTorch's channel order, c·4 + i·2 + j) against ONNX Runtime, layer by layer
    verified = runner.invoke(cli, ["verify", str(spec), "--against", "onnxruntime", "--batch", "2"])
    assert verified.exit_code == 0, verified.output


# --- 5. the opset the export message names ---


@pytest.mark.parametrize(("spec_text", "opset"), [(GROUPNORM, 21), (CROP % "", 17)])
def test_the_export_message_names_the_files_opset(tmp_path, spec_text, opset):
    spec, out = tmp_path / "s.yaml", tmp_path / "s.onnx"
    spec.write_text(spec_text)
    result = CliRunner().invoke(cli, ["export", str(spec), "-o", str(out)])
    assert result.exit_code == 0
    model = onnx.load(str(out))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert f"opset {opset}" in result.stderr
