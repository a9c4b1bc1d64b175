"""`netcalc import` and ONNX files wherever a spec is accepted: torchvision's own exports (made by
tools/make_onnx_fixtures.py, weights stripped) give exactly torchvision's figures; bad input is one line and
exit 2."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from netcalc.bridges.onnx.registry import supported_operators
from netcalc.cli import cli

HERE = Path(__file__).parent
FIXTURES = HERE / "data" / "onnx"
ORACLE = json.loads((HERE / "data" / "torchvision_figures.json").read_text())["models"]
# other exports of a model (tools/make_onnx_fixtures.py VARIANTS), tested on their own below
VARIANTS = ("_folded", "_dynamo", "_dynamic")
EXPORTS = sorted(p.stem for p in FIXTURES.glob("*.onnx") if not p.stem.endswith(VARIANTS))
FOLDED = sorted(p.stem for p in FIXTURES.glob("*_folded.onnx"))


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})


def summary_json(*args: str) -> dict:
    result = invoke("summary", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# measured by the oracle in training mode, the only mode in which its auxiliary heads run; an export is of the
# inference graph, so there is no fixture to compare with those figures
TRAINING_ONLY = {"googlenet_aux"}


def test_every_oracle_model_has_a_fixture():
    assert set(EXPORTS) == set(ORACLE) - TRAINING_ONLY
    assert all(p.stat().st_size < 1_000_000 for p in FIXTURES.glob("*.onnx"))


@pytest.mark.parametrize("name", EXPORTS)
def test_torchvision_export_gives_torchvisions_figures(name):
    totals = summary_json(str(FIXTURES / f"{name}.onnx"))["totals"]
    oracle = ORACLE[name]
    assert (totals["params"], totals["buffers"], totals["macs"]) == (
        oracle["params"],
        oracle["buffers"],
        oracle["macs"],
    )
    assert totals["partial"] is False


def test_the_dynamo_exporters_unoptimised_resnet18_gives_torchvisions_figures():
    # Constant value_ints, CastLike, and a zero bias made by Expand for each bias-free conv: no weights of its own
    totals = summary_json(str(FIXTURES / "resnet18_dynamo.onnx"))["totals"]
    oracle = ORACLE["resnet18"]
    figures = (totals["params"], totals["buffers"], totals["macs"])
    assert figures == (oracle["params"], oracle["buffers"], oracle["macs"])


def test_shufflenet_with_dynamic_height_and_width_settles_every_chunk():
    # 16 blocks whose chunk sizes come from shapes: one more settles per pass. Figures measured with PyTorch
    # (forward hooks on every Conv2d and Linear of torchvision's shufflenet_v2_x1_0 at 1×3×224×224, bias
    # excluded; sum of numel over parameters; BatchNorm running statistics)
    path = str(FIXTURES / "shufflenet_v2_x1_0_dynamic.onnx")
    totals = summary_json(path, "--input", "224x224x3", "--batch", "1")["totals"]
    assert (totals["params"], totals["buffers"], totals["macs"]) == (2_278_604, 16_180, 144_907_992)


def _model(nodes: list, initializers: list, out_shape: list[int], path: Path, opset: int = 18) -> str:
    graph = helper.make_graph(
        nodes,
        "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return str(path)


def _ones(name: str, *shape: int) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.FLOAT, shape, [1.0] * math.prod(shape))


def test_gelu_in_the_dynamo_exporters_order_is_one_gelu(tmp_path):
    # 0.5 · x · (1 + erf(x/√2)) with ½ multiplied first, then x (PyTorch's dynamo exporter)
    consts = [
        helper.make_node("Constant", [], [name], value_float=value)
        for name, value in (("r2", math.sqrt(2)), ("one", 1.0), ("half", 0.5))
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        *consts,
        helper.make_node("Div", ["c", "r2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]),
        helper.make_node("Mul", ["half", "a"], ["m"]),
        helper.make_node("Mul", ["c", "m"], ["y"]),
    ]
    layers = summary_json(_model(nodes, [_ones("w", 8, 3, 3, 3)], [1, 8, 6, 6], tmp_path / "g.onnx"))["layers"]
    assert [(layer["kind"], layer["params"]) for layer in layers] == [("conv", 8 * 3 * 3 * 3), ("gelu", 0)]


def test_constant_ints_and_castlike_are_read(tmp_path):
    # a Reshape's target as `value_ints`, and a conv bias cast onto the conv's own output type by CastLike
    bias = helper.make_tensor("b", TensorProto.DOUBLE, [8, 1, 1], [float(i) for i in range(8)])
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("CastLike", ["b", "c"], ["bc"]),
        helper.make_node("Add", ["c", "bc"], ["cb"]),
        helper.make_node("Constant", [], ["s"], value_ints=[1, -1]),
        helper.make_node("Reshape", ["cb", "s"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1),
    ]
    initializers = [_ones("w", 8, 3, 3, 3), bias, _ones("fc", 10, 8 * 6 * 6)]
    totals = summary_json(_model(nodes, initializers, [1, 10], tmp_path / "c.onnx"))["totals"]
    assert totals["params"] == (8 * 3 * 3 * 3 + 8) + 10 * 8 * 6 * 6  # conv with its bias, fc without one
    assert totals["macs"] == 6 * 6 * 8 * 27 + 10 * 288


def per_use_initializer_elements(path: Path) -> int:
    """Independent count from the graph itself: elements of every weight each node reads, once per use, through
    the Identity nodes the TorchScript exporter puts in front of shared initializers."""
    graph = onnx.load(str(path)).graph
    sizes = {t.name: int(__import__("math").prod(t.dims)) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in sizes:
            sizes[node.output[0]] = sizes[node.input[0]]
    weighted = ("Conv", "Gemm", "BatchNormalization")
    return sum(sizes.get(name, 0) for node in graph.node if node.op_type in weighted for name in node.input[1:])


@pytest.mark.parametrize("name", FOLDED)
def test_folded_export_gives_exact_macs_and_the_folded_graphs_params(name):
    totals = summary_json(str(FIXTURES / f"{name}.onnx"))["totals"]
    oracle = ORACLE[name.removesuffix("_folded")]
    assert totals["macs"] == oracle["macs"]
    # each batch norm (2C params, 2C buffers) became a bias of C on the conv before it
    assert totals["params"] == oracle["params"] - oracle["buffers"] // 2
    assert totals["params"] == per_use_initializer_elements(FIXTURES / f"{name}.onnx")
    assert totals["buffers"] == 0


def test_node_names_become_layer_names_and_depth_folds_by_them():
    data = summary_json(str(FIXTURES / "resnet18.onnx"))
    names = [row["name"] for row in data["layers"]]
    assert names[:4] == ["conv1", "bn1", "relu", "maxpool"]
    assert {"layer2.0.conv1", "layer2.0.downsample.0", "layer2.0.add", "fc"} <= set(names)
    folded = summary_json(str(FIXTURES / "resnet18.onnx"), "--depth", "1")
    assert [row["name"] for row in folded["layers"]] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten", "fc",
    ]  # fmt: skip
    layer2 = next(row for row in folded["layers"] if row["name"] == "layer2")
    # two BasicBlocks 64→128 (stride 2, 1×1 projection) and 128→128, each conv without bias plus its batch norm
    assert layer2["params"] == (3 * 3 * 64 * 128 + 3 * 3 * 128 * 128 + 64 * 128) + 3 * 3 * 128 * 128 * 2 + 2 * 5 * 128
    assert folded["totals"] == data["totals"]


def test_import_writes_a_spec_that_analyses_identically(tmp_path):
    out = tmp_path / "googlenet.yaml"
    result = invoke("import", str(FIXTURES / "googlenet.onnx"), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    assert "{kind: conv, name: inception3a.branch1.conv, out: 64, kernel: 1, bias: false}" in text
    assert summary_json(str(out))["totals"] == summary_json(str(FIXTURES / "googlenet.onnx"))["totals"]


def test_every_command_takes_an_onnx_file(tmp_path):
    model = str(FIXTURES / "squeezenet1_0.onnx")
    budget = tmp_path / "budget.yaml"
    budget.write_text("total: {params: 1.3M}\n")
    assert invoke("check", model, "--budget", str(budget)).exit_code == 0
    budget.write_text("total: {params: 1.2M}\n")
    assert invoke("check", model, "--budget", str(budget)).exit_code == 1
    assert invoke("compare", model, str(FIXTURES / "alexnet.onnx")).exit_code == 0
    assert invoke("diff", str(FIXTURES / "resnet18.onnx"), str(FIXTURES / "resnet34.onnx")).exit_code == 0
    assert invoke("show", model).exit_code == 0
    result = invoke("verify", model, "--input", "64x64x3", "--no-backward")
    assert result.exit_code == 0, result.stdout + result.stderr


def test_input_binds_the_spatial_size():
    data = summary_json(str(FIXTURES / "resnet18.onnx"), "--input", "128x96x3", "--batch", "2")
    assert data["input"] == [128, 96, 3] and data["batch"] == 2
    assert data["layers"][0]["output_shape"] == [64, 48, 64]


# --- bad input ---


def tiny_model(path: Path, op: str = "Relu", batch: object = 1, **attrs) -> str:
    """A one-node model `op`(input) of 1×3×8×8 (the batch may be a symbolic name)."""
    node = helper.make_node(op, ["input"], ["y"], name="/block/odd/" + op, **attrs)
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def error_of(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    return result.stderr


def test_corrupt_file(tmp_path):
    data = (FIXTURES / "resnet18.onnx").read_bytes()
    path = tmp_path / "broken.onnx"
    path.write_bytes(data[: len(data) // 2])
    assert "broken.onnx: not a readable ONNX model" in error_of("summary", str(path))


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "spec.onnx"
    path.write_text("input: 32x32x3\nlayers: [relu]\n")
    message = error_of("summary", str(path))
    assert "spec.onnx" in message and "ONNX model" in message


def test_missing_file(tmp_path):
    assert "no such file" in error_of("summary", str(tmp_path / "nothing.onnx"))


def test_unsupported_operator_names_node_op_and_position(tmp_path):
    path = tiny_model(tmp_path / "cos.onnx", "Cos")
    message = error_of("summary", path)
    assert "node '/block/odd/Cos' (Cos, node 1 of 1): netcalc has no converter for Cos (opset 17)" in message


def test_unsupported_operator_as_unknown_layer_marks_every_total_partial(tmp_path):
    path = tiny_model(tmp_path / "cos.onnx", "Cos")
    data = summary_json(path, "--allow-unknown")
    row = data["layers"][0]
    assert (row["name"], row["kind"], row["output_shape"], row["partial"]) == ("block.odd", "unknown", [8, 8, 3], True)
    assert data["totals"]["partial"] is True
    table = invoke("summary", path, "--allow-unknown").stdout
    assert "partial" in table and "≥" in table
    assert "≥" in invoke("summary", path, "--allow-unknown", "--format", "markdown").stdout
    csv_total = invoke("summary", path, "--allow-unknown", "--format", "csv").stdout.splitlines()[-1]
    assert csv_total.startswith("TOTAL") and csv_total.endswith(",1")
    spec = invoke("import", path, "--allow-unknown").stdout
    assert "{kind: unknown, name: block.odd, op: Cos, shape: [8, 8, 3]}" in spec


def test_unsupported_use_of_a_supported_operator(tmp_path):
    path = tiny_model(tmp_path / "clip.onnx", "LeakyRelu", alpha=0.2)
    assert invoke("summary", path).exit_code == 0
    path = tiny_model(tmp_path / "softmax.onnx", "Softmax", axis=2)
    assert "only a softmax over the features" in error_of("summary", path)


def test_symbolic_batch_needs_batch(tmp_path):
    path = tiny_model(tmp_path / "dynamic.onnx", batch="batch_size")
    message = error_of("summary", path)
    assert "dimension N (batch) of input 'input' is symbolic ('batch_size'); give --batch N" in message
    assert summary_json(path, "--batch", "4")["batch"] == 4


def test_symbolic_size_needs_input(tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = str(tmp_path / "sized.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert "dimension H of input 'x' is symbolic ('height'); give --input HxWxC" in error_of("summary", path)
    assert summary_json(path, "--input", "16x12x3")["output_shape"] == [16, 12, 3]


def test_missing_onnx_package_says_how_to_install(without_module):
    without_module("onnx")
    message = error_of("summary", str(FIXTURES / "alexnet.onnx"))
    assert 'needs the `onnx` package: pip install "netcalc[onnx]"' in message


def test_summary_of_a_yaml_spec_imports_neither_onnx_nor_numpy():
    code = (
        "import sys; from netcalc.cli import cli\n"
        "try:\n    cli(['summary', sys.argv[1], '--format', 'json'], prog_name='netcalc')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numpy', 'onnx', 'onnxruntime') if m in sys.modules), file=sys.stderr)\n"
    )
    spec = str(HERE / "data" / "tiny_net.yaml")
    result = subprocess.run([sys.executable, "-c", code, spec], capture_output=True, text=True, check=True)
    assert result.stderr.strip() == "[]"


def test_registry_is_keyed_by_since_version():
    table = supported_operators()
    assert table["Conv"] == [1, 11, 22] and table["Relu"] == [6, 13, 14]
    assert "Cos" not in table


def test_float32_attributes_read_as_written():
    # torchvision's MobileNetV3 batch norms: eps 0.001, momentum 0.01 (ONNX stores 0.99 as float32)
    spec = invoke("import", str(FIXTURES / "mobilenet_v3_large.onnx")).stdout
    assert "{kind: batchnorm, name: features.0.1, eps: 0.001, momentum: 0.01}" in spec
    assert "{kind: hardswish, name: features.0.2}" in spec


def test_a_graph_too_large_for_the_layer_maximum_is_refused_before_shape_inference(tmp_path, monkeypatch):
    import netcalc.bridges.onnx.importer as importer
    from netcalc.language import spec

    monkeypatch.setattr(spec, "MAX_LAYERS", 3)  # so the graph can stay small: 2 nodes per layer allow 6 nodes
    inferred = []
    monkeypatch.setattr(importer, "infer_shapes", lambda *args: inferred.append(args) or {})
    names = ["input", *(f"r{i}" for i in range(7))]
    nodes = [helper.make_node("Relu", [a], [b], name=b) for a, b in pairwise(names)]  # 7 nodes
    graph = helper.make_graph(
        nodes,
        "long",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info(names[-1], TensorProto.FLOAT, None)],
    )
    path = tmp_path / "long.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    message = error_of("summary", str(path))
    assert "the graph has 7 nodes; netcalc imports at most 6 (2 per layer, for networks of at most 3 layers)" in message
    assert not inferred  # refused before any shape inference
