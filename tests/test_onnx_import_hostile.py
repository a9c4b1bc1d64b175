"""Hostile and unusual ONNX models (the ONNX importer's bug hunt): bad input is one located line and exit 2, never
a traceback, a blow-up or a silent guess; valid models get exact figures. The oracles are ONNX Runtime's output
shapes, the element counts of the file's own initializers and arithmetic written out here."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from netcalc.cli import cli

ROOT = Path(__file__).parent.parent


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})


def summary(path: Path, *args: str) -> dict:
    result = invoke("summary", str(path), *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def error_of(path: Path, *args: str) -> str:
    result = invoke("summary", str(path), *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert "line None" not in lines[0]
    return lines[0]


def weight(name: str, shape: list[int], values: object = None, dtype: object = np.float32) -> TensorProto:
    array = np.zeros(shape, dtype) if values is None else np.asarray(values, dtype).reshape(shape)
    return numpy_helper.from_array(array, name)


def ints(name: str, values: list[int]) -> TensorProto:
    return weight(name, [len(values)], values, np.int64)


def save(
    path: Path,
    nodes: list,
    initializers: list,
    x: tuple[int, ...] = (1, 3, 8, 8),
    outputs: tuple[str, ...] = ("y",),
    opset: int = 17,
) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def runtime_shapes(path: Path, x: tuple[int, ...] = (1, 3, 8, 8)) -> list[tuple[int, ...]]:
    """ONNX Runtime's output shapes, the independent oracle."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"x": np.zeros(x, np.float32)})
    return [tuple(o.shape) for o in outputs]


def runtime_rejects(path: Path, x: tuple[int, ...] = (1, 3, 8, 8)) -> bool:
    try:
        runtime_shapes(path, x)
    except Exception:  # onnxruntime's Fail / InvalidArgument / RuntimeException
        return True
    return False


def hwc(shape: tuple[int, ...]) -> list[int]:
    return [shape[2], shape[3], shape[1]]


def limited_summary(path: Path, megabytes: int = 1500) -> subprocess.CompletedProcess:
    """`netcalc summary` as a process whose address space is capped, so an allocation of gigabytes fails."""
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({megabytes} << 20, {megabytes} << 20))\n"
        "from netcalc.cli import cli\n"
        "cli(['summary', sys.argv[1], '--format', 'json'], prog_name='netcalc')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, timeout=60)


# --- A1, A2: weights kept in external files ---


def external(name: str, dims: list[int], location: str, length: int | None = None) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims, data_location=TensorProto.EXTERNAL)
    tensor.external_data.add(key="location", value=location)
    if length is not None:
        tensor.external_data.add(key="length", value=str(length))
    return tensor


def conv_with_external_weight(path: Path, location: str) -> Path:
    return save(
        path, [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [external("w", [4, 3, 3, 3], location)]
    )


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("weights.bin", "which does not exist"),
        ("/dev/zero", "it must be a path relative to the model's directory"),
        ("../outside.bin", "which is outside the model's directory"),
        ("link.bin", "which is a symbolic link"),
        ("zero", "which is not a regular file"),
        ("short.bin", "the file has 8"),
    ],
)
def test_external_data_that_cannot_be_read_is_one_line_naming_model_tensor_and_file(tmp_path, location, problem):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (tmp_path / "outside.bin").write_bytes(bytes(4 * 108))
    (model_dir / "real.bin").write_bytes(bytes(4 * 108))
    (model_dir / "link.bin").symlink_to(model_dir / "real.bin")
    (model_dir / "zero").symlink_to("/dev/zero") if location != "zero" else os.mkfifo(model_dir / "zero")
    (model_dir / "short.bin").write_bytes(bytes(8))
    path = conv_with_external_weight(model_dir / "m.onnx", location)
    message = error_of(path)
    assert f"m.onnx: initializer 'w' keeps its data in external file '{location}'" in message
    assert problem in message


def test_external_weights_are_never_read_only_their_shape(tmp_path):
    # a 3 GiB weight, a sparse file: an fc of 2²² outputs on 3·8·8 = 192 features, analysed under a 1.5 GB cap
    rows = 2**22
    (tmp_path / "big.bin").open("wb").truncate(4 * rows * 192)
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "w"], ["y"], name="fc", transB=1),
    ]
    path = save(tmp_path / "big.onnx", nodes, [external("w", [rows, 192], "big.bin", 4 * rows * 192)])
    result = limited_summary(path)
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)["totals"]
    assert totals["params"] == math.prod(onnx.load(str(path), load_external_data=False).graph.initializer[0].dims)
    assert totals["macs"] == rows * 192


def test_a_small_external_constant_is_read_for_its_values(tmp_path):
    # the target shape of a Reshape kept outside: [1, 192]
    np.asarray([1, 192], np.int64).tofile(tmp_path / "shape.bin")
    shape = TensorProto(name="s", data_type=TensorProto.INT64, dims=[2], data_location=TensorProto.EXTERNAL)
    shape.external_data.add(key="location", value="shape.bin")
    path = save(tmp_path / "m.onnx", [helper.make_node("Reshape", ["x", "s"], ["y"], name="flat")], [shape])
    loaded = onnx.load(str(path))  # onnx reads the external data in, for ONNX Runtime, which cannot
    session = ort.InferenceSession(loaded.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.zeros((1, 3, 8, 8), np.float32)})
    assert summary(path)["output_shape"] == [out.shape[1]] == [3 * 8 * 8]


# --- A3: GroupNormalization-21, on which onnx's shape inference gives up, alternating with Conv ---


def groupnorm_chain(path: Path, n: int) -> Path:
    nodes, weights, x = [], [], "x"
    for i in range(n):
        nodes.append(
            helper.make_node("GroupNormalization", [x, f"s{i}", f"b{i}"], [f"g{i}"], name=f"gn{i}", num_groups=2)
        )
        nodes.append(helper.make_node("Conv", [f"g{i}", f"w{i}"], [f"c{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]))
        weights += [weight(f"s{i}", [4]), weight(f"b{i}", [4]), weight(f"w{i}", [4, 4, 3, 3])]
        x = f"c{i}"
    nodes.append(helper.make_node("Relu", [x], ["y"], name="relu"))
    return save(path, nodes, weights, x=(1, 4, 8, 8), opset=21)


def test_shape_inference_runs_a_bounded_number_of_times_whatever_the_chain(tmp_path, monkeypatch):
    runs = []
    infer = onnx.shape_inference.infer_shapes
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", lambda *a, **k: runs.append(1) or infer(*a, **k))
    path = groupnorm_chain(tmp_path / "gn.onnx", 40)
    data = summary(path)
    assert len(runs) <= 2  # it was one run per GroupNormalization, 41
    # each block: γ and β of 4 channels, then a 3×3 conv 4 → 4 without bias, keeping 8×8
    assert data["totals"]["params"] == 40 * (2 * 4 + 4 * 4 * 3 * 3)
    assert data["totals"]["macs"] == 40 * (8 * 8 * 4 * 4 * 3 * 3)
    assert [tuple(data["output_shape"])] == [tuple(hwc(s)) for s in runtime_shapes(path, (1, 4, 8, 8))]


# --- A4: constant folding never computes a constant of gigabytes ---


@pytest.mark.parametrize("case", ["expand", "range", "broadcast"])
def test_folding_a_huge_constant_keeps_its_shape_only(tmp_path, case):
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    if case == "expand":  # 2¹⁴ × 2¹⁴ floats: 1 GiB
        node = helper.make_node("Expand", ["one", "shape"], ["big"], name="expand")
        weights = [weight("one", [1], [1.0]), ints("shape", [2**14, 2**14])]
    elif case == "range":  # 2³¹ int64: 16 GiB
        node = helper.make_node("Range", ["s", "l", "d"], ["big"], name="range")
        weights = [weight("s", [], 0, np.int64), weight("l", [], 2**31, np.int64), weight("d", [], 1, np.int64)]
    else:  # [2¹⁵, 1] × [1, 2¹⁵]: 4 GiB
        node = helper.make_node("Mul", ["a", "b"], ["big"], name="mul")
        weights = [weight("a", [2**15, 1], np.ones(2**15)), weight("b", [1, 2**15], np.ones(2**15))]
    path = save(tmp_path / f"{case}.onnx", [node, relu], weights)
    result = limited_summary(path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output_shape"] == [8, 8, 3]


def test_a_value_needed_from_a_huge_folded_constant_is_refused_at_its_node(tmp_path):
    nodes = [
        helper.make_node("Range", ["s", "l", "d"], ["r"], name="range"),
        helper.make_node("Reshape", ["x", "r"], ["y"], name="reshape"),
    ]
    weights = [weight("s", [], 0, np.int64), weight("l", [], 2**31, np.int64), weight("d", [], 1, np.int64)]
    message = error_of(save(tmp_path / "m.onnx", nodes, weights))
    assert "node 'reshape' (Reshape, node 2 of 2)" in message


# --- B5, B6: shapes ---


def test_split_into_num_outputs_rounds_up_as_onnx_does(tmp_path):
    nodes = [helper.make_node("Split", ["x"], ["a", "b", "c"], name="split", axis=1, num_outputs=3)]
    nodes += [helper.make_node("Conv", [p, "w" + p], ["y" + p], name="c" + p) for p in "abc"]
    weights = [weight("wa", [1, 4, 1, 1]), weight("wb", [1, 4, 1, 1]), weight("wc", [1, 2, 1, 1])]
    path = save(tmp_path / "split.onnx", nodes, weights, x=(1, 10, 8, 8), outputs=("ya", "yb", "yc"), opset=18)
    assert runtime_shapes(path, (1, 10, 8, 8)) == [(1, 1, 8, 8)] * 3  # so each conv's weight fits ONNX's parts
    rows = {row["name"]: row for row in summary(path)["layers"]}
    slices = [
        rows[n]["output_shape"][2] for n in ("split.channel_slice", "split.channel_slice_2", "split.channel_slice_3")
    ]
    assert slices == [4, 4, 10 - 4 - 4]  # ⌈10 / 3⌉ each but the last
    assert [rows[c]["params"] for c in ("ca", "cb", "cc")] == [4, 4, 2]  # the file's own weights


def test_resize_of_the_channels_is_refused_at_its_node(tmp_path):
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", mode="nearest")
    path = save(tmp_path / "resize.onnx", [node], [weight("scales", [4], [1, 2, 2, 2])])
    assert runtime_shapes(path) == [(1, 6, 16, 16)]  # ONNX doubles the channels too
    assert "node 'up' (Resize, node 1 of 1): it resizes N or C ([1, 3, 8, 8] to [1, 6, 16, 16])" in error_of(path)


# --- B7, B8, B9, C10: a parameter count is of the arrays the file holds ---


def flat(node: object) -> list:
    return [helper.make_node("Flatten", ["x"], ["f"], name="flat"), node]


def test_layernorm_without_bias_is_refused_not_counted_twice(tmp_path):
    path = save(
        tmp_path / "ln.onnx",
        flat(helper.make_node("LayerNormalization", ["f", "s"], ["y"], name="ln")),
        [weight("s", [192])],
    )
    assert runtime_shapes(path) == [(1, 192)]  # valid: a scale of 192 and no bias
    assert "node 'ln' (LayerNormalization, node 2 of 2): it has a scale but no bias" in error_of(path)
    with_bias = flat(helper.make_node("LayerNormalization", ["f", "s", "b"], ["y"], name="ln"))
    path = save(tmp_path / "ln2.onnx", with_bias, [weight("s", [192]), weight("b", [192])])
    assert summary(path)["totals"]["params"] == 192 + 192


def test_groupnorm_18_has_its_scale_per_group(tmp_path):
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], name="gn", num_groups=2)
    path = save(tmp_path / "gn18.onnx", [node], [weight("s", [2]), weight("b", [2])], x=(1, 6, 8, 8), opset=18)
    assert "GroupNormalization-18 has a scale and bias per group (4 parameters)" in error_of(path)
    path = save(tmp_path / "gn21.onnx", [node], [weight("s", [6]), weight("b", [6])], x=(1, 6, 8, 8), opset=21)
    assert summary(path)["totals"]["params"] == 6 + 6


def test_gemm_with_a_broadcast_scalar_bias_is_refused(tmp_path):
    gemm = helper.make_node("Gemm", ["f", "w", "b"], ["y"], name="fc", transB=1)
    path = save(tmp_path / "gemm.onnx", flat(gemm), [weight("w", [5, 192]), weight("b", [1])])
    assert runtime_shapes(path) == [(1, 5)]
    assert "node 'fc' (Gemm, node 2 of 2): bias 'b' has shape [1]; netcalc's fc has one bias per output" in error_of(
        path
    )
    path = save(tmp_path / "gemm5.onnx", flat(gemm), [weight("w", [5, 192]), weight("b", [5])])
    assert summary(path)["totals"]["params"] == 5 * 192 + 5


@pytest.mark.parametrize(
    ("node", "weights", "expected"),
    [
        (
            helper.make_node("Conv", ["x", "w"], ["y"], name="conv"),
            [weight("w", [16, 3, 3, 3])],
            "weight 'w' has shape [16, 3, 3, 3]; expected [16, 6, 3, 3] (6 input channels, group 1",
        ),
        (
            helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[5, 5]),
            [weight("w", [16, 6, 3, 3])],
            "weight 'w' has shape [16, 6, 3, 3]; expected [16, 6, 5, 5]",
        ),
        (
            helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv"),
            [weight("w", [16, 6, 3, 3]), weight("b", [8])],
            "bias 'b' has shape [8]; expected [16]",
        ),
        (
            helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn"),
            [weight(n, [5]) for n in "sbmv"],
            "scale 's' has shape [5]; expected [6] (one per channel of its 6)",
        ),
        (
            helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="deconv"),
            [weight("w", [3, 4, 3, 3])],
            "weight 'w' has shape [3, 4, 3, 3]; expected [6, 4, 3, 3]",
        ),
    ],
)
def test_weights_inconsistent_with_their_node_are_refused(tmp_path, node, weights, expected):
    path = save(tmp_path / "m.onnx", [node], weights, x=(1, 6, 8, 8))
    assert runtime_rejects(path, (1, 6, 8, 8))
    message = error_of(path)
    assert f"node '{node.name}' ({node.op_type}, node 1 of 1): {expected}" in message


# --- D11, D12, D13: valid models once refused ---


def test_slice_with_negative_indices_on_h_and_w(tmp_path):
    node = helper.make_node("Slice", ["x", "s", "e", "a"], ["y"], name="trim")
    path = save(tmp_path / "slice.onnx", [node], [ints("s", [1, 1]), ints("e", [-1, -1]), ints("a", [2, 3])])
    assert summary(path)["output_shape"] == hwc(runtime_shapes(path)[0]) == [6, 6, 3]


@pytest.mark.parametrize(
    "attrs",
    [
        {"strides": [2, 2], "output_shape": [16, 16]},  # 2·7 + 3 = 17: one row less, taken at the start
        {"strides": [2, 2], "output_shape": [15, 15]},  # two less: one each side
        {"strides": [2, 2], "auto_pad": "SAME_UPPER"},  # 8 · 2 = 16, taken at the end
        {"strides": [2, 2], "pads": [1, 1, 0, 0], "output_padding": [1, 1]},
    ],
)
def test_conv_transpose_output_shape_and_implied_padding(tmp_path, attrs):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="deconv", **attrs)
    path = save(tmp_path / "ct.onnx", [node], [weight("w", [3, 4, 3, 3])])
    data = summary(path)
    assert data["output_shape"] == hwc(runtime_shapes(path)[0])
    assert data["totals"]["params"] == 3 * 4 * 3 * 3
    assert data["totals"]["macs"] == 8 * 8 * 3 * 3 * 3 * 4  # each input pixel meets the whole kernel


def test_conv_transpose_output_shape_needing_a_large_output_padding_is_refused_at_its_node(tmp_path):
    node = helper.make_node(
        "ConvTranspose", ["x", "w"], ["y"], name="deconv", auto_pad="SAME_UPPER", output_shape=[16, 16]
    )
    path = save(tmp_path / "ct.onnx", [node], [weight("w", [3, 4, 5, 5])])
    message = error_of(path)
    assert "node 'deconv' (ConvTranspose, node 1 of 1)" in message


def test_negative_pads_are_a_crop(tmp_path):
    path = save(
        tmp_path / "pad.onnx",
        [helper.make_node("Pad", ["x", "p"], ["y"], name="pad")],
        [ints("p", [0, 0, -1, -2, 0, 0, -1, 0])],
    )
    data = summary(path)
    assert data["output_shape"] == hwc(runtime_shapes(path)[0]) == [8 - 1 - 1, 8 - 2, 3]
    assert data["layers"][0]["kind"] == "crop"
    mixed = save(
        tmp_path / "mixed.onnx",
        [helper.make_node("Pad", ["x", "p"], ["y"], name="pad")],
        [ints("p", [0, 0, -1, 1, 0, 0, -1, 1])],
    )
    assert "node 'pad' (Pad, node 1 of 1): pads [0, 0, -1, 1, 0, 0, -1, 1] both add and remove" in error_of(mixed)


# --- E14: names holding braces ---


def test_braces_in_node_names_survive_import(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu{1}"),
        helper.make_node("Relu", ["a"], ["b"], name="relu1"),
        helper.make_node("Relu", ["b"], ["y"], name="relu{i}"),
    ]
    path = save(tmp_path / "braces.onnx", nodes, [])
    assert [row["name"] for row in summary(path)["layers"]] == ["relu(1)", "relu1", "relu(i)"]
    spec = tmp_path / "braces.yaml"
    assert invoke("import", str(path), "-o", str(spec)).exit_code == 0
    assert [row["name"] for row in summary(spec)["layers"]] == ["relu(1)", "relu1", "relu(i)"]


# --- F15, F16: messages that say what is wrong ---


@pytest.mark.parametrize(
    ("pads", "expected"),
    [
        ([-1, -1, -1, -1], "`pads` [-1, -1, -1, -1]: each must be between 0 and 2,147,483,647"),
        ([2**40] * 4, f"`pads` {[2**40] * 4}: each must be between 0 and 2,147,483,647"),
        ([1, 1], "`pads` [1, 1] has 2 values; a 2-D Conv needs 4"),
    ],
)
def test_conv_pads_out_of_range_are_named_as_such(tmp_path, pads, expected):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=pads)
    message = error_of(save(tmp_path / "m.onnx", [node], [weight("w", [4, 3, 3, 3])]))
    assert f"node 'conv' (Conv, node 1 of 1): {expected}" in message
    assert "asymmetric" not in message


@pytest.mark.parametrize("size", [0, -3])
def test_an_input_dimension_below_one_is_not_called_symbolic(tmp_path, size):
    path = save(tmp_path / "m.onnx", [helper.make_node("Relu", ["x"], ["y"], name="relu")], [], x=(1, 3, size, 8))
    message = error_of(path)
    assert f"dimension H of input 'x' is {size}; a size must be at least 1" in message
    assert "symbolic" not in message


def test_missing_shape_says_why_shape_inference_gave_none(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Add", ["x", "r2"], ["y"], name="add"),
    ]
    nodes.insert(1, helper.make_node("Conv", ["r", "w"], ["r2"], name="conv"))  # 3×3 valid conv: 6×6, not 8×8
    message = error_of(save(tmp_path / "m.onnx", nodes, [weight("w", [3, 3, 3, 3])]))
    assert "node 'add' (Add, node 3 of 3): shape inference gave no static shape for its output 'y': " in message
    assert "Incompatible dimensions" in message or "mismatch" in message.lower()


def test_a_shape_inference_failure_without_a_reason_still_says_something(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("")

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", fail)
    path = save(tmp_path / "m.onnx", [helper.make_node("Relu", ["x"], ["y"], name="relu")], [])
    assert error_of(path).endswith("ONNX shape inference failed: RuntimeError, with no reason given")


def test_an_opset_onnx_does_not_know_is_refused(tmp_path):
    path = save(tmp_path / "m.onnx", [helper.make_node("Relu", ["x"], ["y"], name="relu")], [], opset=1000)
    assert "m.onnx: the model imports opset 1000 of the default ONNX operator set; onnx" in error_of(path)


def test_a_value_written_twice_or_over_the_input_is_refused(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="r1"),
        helper.make_node("Sigmoid", ["x"], ["a"], name="s1"),
        helper.make_node("Relu", ["a"], ["y"], name="r2"),
    ]
    message = error_of(save(tmp_path / "twice.onnx", nodes, []))
    assert "node 's1' (Sigmoid, node 2 of 3): its output 'a' is already written by node 'r1' (node 1)" in message
    nodes = [helper.make_node("Relu", ["x"], ["x"], name="r1"), helper.make_node("Relu", ["x"], ["y"], name="r2")]
    message = error_of(save(tmp_path / "over.onnx", nodes, []))
    assert "node 'r1' (Relu, node 1 of 2): its output 'x' overwrites a graph input or initializer" in message
