"""Defects of `netcalc verify` found by a bug hunt, each held to an independent oracle: ONNX Runtime, arithmetic
written out here, or a brute-force loop written here (never netcalc's own function run again)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from netcalc.cli import cli
from netcalc.language.spec import parse_network_text
from netcalc.reference.engine import run
from netcalc.reference.norm import lrn_backward, lrn_forward
from netcalc.reference.pool import (
    adaptive_avg_pool_backward,
    adaptive_avg_pool_forward,
    avg_pool_backward,
    avg_pool_forward,
)

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "160", "NO_COLOR": "1"})


def process(*args: str) -> subprocess.CompletedProcess:
    """netcalc as a whole process: what ONNX Runtime's C++ logger writes to fd 2 shows up in its stderr."""
    return subprocess.run(
        [sys.executable, "-m", "netcalc", *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "160", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


# --- 1. a fused prelu or gelu is exported (prelu with the reference pass's own slopes) ---

FUSED = {
    "conv": "input: 4x4x3\nlayers:\n  - {kind: conv, name: c, out: 4, kernel: 3, activation: %s}\n",
    "conv_transpose": "input: 4x4x3\nlayers:\n  - {kind: conv_transpose, name: c, out: 4, kernel: 3, activation: %s}\n",
    "fc": "input: 4x4x3\nlayers:\n  - flatten\n  - {kind: fc, name: c, out: 4, activation: %s}\n",
}
# weights + bias + one slope per output (prelu) or none (gelu), by hand
PARAMS = {
    "conv": 4 * 3 * 3 * 3 + 4,
    "conv_transpose": 3 * 4 * 3 * 3 + 4,
    "fc": (4 * 4 * 3) * 4 + 4,
}


@pytest.mark.parametrize("activation", ["prelu", "gelu"])
@pytest.mark.parametrize("kind", sorted(FUSED))
def test_a_fused_prelu_or_gelu_agrees_with_onnxruntime(write_spec, kind, activation, tmp_path):
    spec = write_spec(FUSED[kind] % activation)
    result = invoke("verify", spec, "--against", "onnxruntime", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and data["failed"] == []
    assert all(layer["ok"] for layer in data["layers"])
    # the fused layer's output reaches negative values, where the slopes (or gelu's curve) matter
    assert data["layers"][-1]["max_error"] <= data["layers"][-1]["allowed"]

    model = tmp_path / "model.onnx"
    assert invoke("export", spec, "-o", str(model)).exit_code == 0
    summary = invoke("summary", str(model), "--format", "json")
    assert summary.exit_code == 0, summary.output
    params = sum(layer["params"] for layer in json.loads(summary.output)["layers"])
    assert params == PARAMS[kind] + (4 if activation == "prelu" else 0)


def test_a_fused_prelus_slopes_are_the_reference_pass_ones(write_spec):
    """Halving the exported slopes must be seen: the conv's output has negative values, the slopes act on them."""
    from netcalc.bridges.onnx import exporter

    spec = write_spec(FUSED["conv"] % "prelu")
    real = exporter.Site.param

    def halved(self, g, key, shape=None):
        if key == "slope" and not isinstance(self.arrays[key], tuple):
            self = exporter.Site(self.layer, self.inputs, self.in_shapes, self.out_shape, {**self.arrays})
            self.arrays[key] = self.arrays[key] * 0.5
        return real(self, g, key, shape)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exporter.Site, "param", halved)
        result = invoke("verify", spec, "--against", "onnxruntime")
    assert result.exit_code == 1, result.output


# --- 4. an identity channel shuffle is a new tensor, as torch's ---


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_a_channel_shuffle_of_any_groups_has_the_analysed_live_bytes(write_spec, groups):
    spec = write_spec(
        "input: 4x4x6\nlayers:\n  - {kind: conv, out: 6, kernel: 1}\n"
        f"  - {{kind: channel_shuffle, groups: {groups}}}\n  - relu\n"
    )
    result = invoke("verify", spec, "--no-backward", "--format", "json")
    assert result.exit_code == 0, result.output
    # right after the shuffle, conv's output and the shuffle's copy, 2 × 4·4·6 float32, are alive together
    shuffle = json.loads(result.output)["layers"][1]
    assert shuffle["live_bytes"] == {"analysed": 2 * 4 * 4 * 6 * 4, "measured": 2 * 4 * 4 * 6 * 4, "ok": True}


@pytest.mark.parametrize("groups", [1, 6])
def test_an_in_place_relu_after_an_identity_shuffle_leaves_the_shuffles_input_alone(groups):
    """c = x (an identity 1×1 conv), s = shuffle(c), r = relu(s) in place, out = c + r: x + relu(x)."""
    network = parse_network_text(
        "input: 3x3x6\nlayers:\n  - {kind: conv, name: c, out: 6, kernel: 1, bias: false}\n"
        f"  - {{kind: channel_shuffle, name: s, groups: {groups}}}\n  - {{kind: relu, name: r}}\n"
        "  - {kind: add, name: out, from: [c, r]}\n"
    )
    x = np.random.default_rng(4).standard_normal((1, 6, 3, 3)).astype(np.float32)
    weight = np.eye(6, dtype=np.float32).reshape(6, 6, 1, 1)
    result = run(network, backward=False, x=x.copy(), params={"c": {"weight": weight}})
    np.testing.assert_array_equal(result.output, x + np.maximum(x, 0))  # with groups G=1 or C, s is c


@pytest.mark.parametrize(
    ("layer", "channels"), [("{kind: pixel_shuffle, factor: 1}", 6), ("{kind: pixel_unshuffle, factor: 1}", 6)]
)
def test_a_pixel_shuffle_of_factor_one_is_a_new_tensor(write_spec, layer, channels):
    # factor 1 permutes nothing: the output must still be a tensor of its own, as torch's, so right after it
    # conv's output and the copy, 2 × 4·4·6 float32, are alive together, and an in-place relu after it leaves
    # conv's output alone
    spec = write_spec(f"input: 4x4x{channels}\nlayers:\n  - {{kind: conv, out: 6, kernel: 1}}\n  - {layer}\n  - relu\n")
    result = invoke("verify", spec, "--no-backward", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["layers"][1]["live_bytes"]["measured"] == 2 * 4 * 4 * 6 * 4


# --- 5. average pooling and LRN cost what their tensors cost, whatever their attributes ---


def brute_avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad):
    """PyTorch's AvgPool2d by its definition, one window at a time (padding P on every side)."""
    _, _, h, w = x.shape

    def out_size(size):
        span = size + 2 * padding - kernel
        out = (-(-span // stride) if ceil_mode else span // stride) + 1
        if ceil_mode and (out - 1) * stride >= size + padding:
            out -= 1
        return out

    ho, wo = out_size(h), out_size(w)
    y = np.zeros((*x.shape[:2], ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * stride - padding, j * stride - padding
            r1, c1 = min(r0 + kernel, h + padding), min(c0 + kernel, w + padding)
            total = x[:, :, max(r0, 0) : min(r1, h), max(c0, 0) : min(c1, w)].sum(axis=(2, 3))
            if count_include_pad:
                count = (r1 - r0) * (c1 - c0)
            else:
                count = (min(r1, h) - max(r0, 0)) * (min(c1, w) - max(c0, 0))
            y[:, :, i, j] = total / count
    return y


def brute_gradient(forward, x, dy):
    """dL/dx of L = Σ forward(x)·dy, exactly, for a forward linear in x: the response to each unit input."""
    dx = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = 1
        dx[index] = (forward(e) * dy).sum()
    return dx


@pytest.mark.parametrize("seed", range(12))
def test_avg_pool_equals_its_definition_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    kernel = int(rng.integers(1, 9))
    h, w = (int(v) for v in rng.integers(max(1, kernel - 2), 12, size=2))
    padding = int(rng.integers(0, kernel // 2 + 1))
    h, w = max(h, kernel - 2 * padding), max(w, kernel - 2 * padding)
    stride = int(rng.integers(1, 4))
    ceil_mode, count_include_pad = bool(rng.integers(2)), bool(rng.integers(2))
    x = rng.standard_normal((2, 3, h, w))
    y, cache = avg_pool_forward(x, kernel, stride, padding, ceil_mode, count_include_pad)
    expected = brute_avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-13)
    dy = rng.standard_normal(y.shape)
    brute = brute_gradient(lambda v: brute_avg_pool(v, kernel, stride, padding, ceil_mode, count_include_pad), x, dy)
    np.testing.assert_allclose(avg_pool_backward(dy, cache), brute, rtol=1e-12, atol=1e-13)


def brute_adaptive(x, oh, ow):
    """PyTorch's adaptive bins: [⌊i·H/O⌋, ⌈(i+1)·H/O⌉), each output the mean of its bin."""
    _, _, h, w = x.shape
    y = np.zeros((*x.shape[:2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, r1 = (i * h) // oh, -((-(i + 1) * h) // oh)
            c0, c1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return y


@pytest.mark.parametrize(("hw", "out"), [((7, 5), (3, 2)), ((2, 2), (9, 5)), ((5, 9), (1, 1)), ((6, 4), (4, 7))])
def test_adaptive_avg_pool_equals_its_definition(hw, out):
    rng = np.random.default_rng(sum(hw) + sum(out))
    x = rng.standard_normal((2, 3, *hw))
    y, cache = adaptive_avg_pool_forward(x, out)
    np.testing.assert_allclose(y, brute_adaptive(x, *out), rtol=1e-12, atol=1e-13)
    dy = rng.standard_normal(y.shape)
    brute = brute_gradient(lambda v: brute_adaptive(v, *out), x, dy)
    np.testing.assert_allclose(adaptive_avg_pool_backward(dy, cache), brute, rtol=1e-12, atol=1e-13)


def brute_lrn(x, size, alpha, beta, k):
    """PyTorch's LocalResponseNorm: channels c − ⌊size/2⌋ … c + ⌊(size − 1)/2⌋, one at a time."""
    c = x.shape[1]
    y = np.empty_like(x)
    for ci in range(c):
        total = np.zeros_like(x[:, 0])
        for cj in range(ci - size // 2, ci + (size - 1) // 2 + 1):
            if 0 <= cj < c:
                total += x[:, cj] ** 2
        y[:, ci] = x[:, ci] / (k + alpha / size * total) ** beta
    return y


@pytest.mark.parametrize("size", [2, 5, 17, 18, 40, 41])  # narrow windows, and wider than the 20 channels
def test_lrn_of_any_size_equals_its_definition(size):
    rng = np.random.default_rng(size)
    x = rng.standard_normal((2, 20, 2, 3))
    y, cache = lrn_forward(x, size, 0.5, 0.75, 1.5)
    np.testing.assert_allclose(y, brute_lrn(x, size, 0.5, 0.75, 1.5), rtol=1e-12)
    dy = rng.standard_normal(y.shape)
    h = 1e-6  # the gradient by central differences of the brute-force definition
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = h
        numeric[index] = ((brute_lrn(x + e, size, 0.5, 0.75, 1.5) - brute_lrn(x - e, size, 0.5, 0.75, 1.5)) * dy).sum()
    np.testing.assert_allclose(lrn_backward(dy, cache), numeric / (2 * h), rtol=1e-6, atol=1e-8)


def test_an_lrn_of_size_two_to_the_31_minus_one_finishes_with_the_whole_window():
    x = np.random.default_rng(1).standard_normal((1, 3, 2, 2))
    size = 2**31 - 1
    y, cache = lrn_forward(x, size, 1.0, 0.75, 1.0)
    total = (x**2).sum(axis=1, keepdims=True)  # every window holds all three channels
    np.testing.assert_allclose(y, x / (1.0 + total / size) ** 0.75, rtol=1e-12)
    assert lrn_backward(np.ones_like(y), cache).shape == x.shape


def test_big_average_pools_finish_with_the_right_values():
    # adaptive: a 2×2 map into 2,500 × 2,500 bins, each bin one pixel: the map scaled up by 1,250
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    y, cache = adaptive_avg_pool_forward(x, 2500)
    np.testing.assert_array_equal(y[0, 0], np.kron(x[0, 0], np.ones((1250, 1250), dtype=np.float32)))
    dx = adaptive_avg_pool_backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(dx, np.full_like(x, 1250 * 1250))  # each pixel fills 1,250² bins
    # a 2001×2001 window padded by 1000 over a 1×1 map: one window, 2001² counted with the padding, 1 without
    one = np.full((1, 1, 1, 1), 3.0)
    assert avg_pool_forward(one, 2001, 1, 1000)[0].tolist() == [[[[3.0 / 2001**2]]]]
    assert avg_pool_forward(one, 2001, 1, 1000, count_include_pad=False)[0].tolist() == [[[[3.0]]]]
    # a 1001×1001 window over a 1001×1001 map of ones
    ones = np.ones((1, 2, 1001, 1001), dtype=np.float32)
    y, cache = avg_pool_forward(ones, 1001)
    assert y.shape == (1, 2, 1, 1) and np.all(y == 1)
    np.testing.assert_allclose(avg_pool_backward(np.ones_like(y), cache), 1 / 1001**2, rtol=1e-6)


# --- 6. --against onnxruntime: one line, located, no runtime or NumPy noise ---


def test_an_even_lrn_size_is_refused_at_its_layer_before_onnxruntime(write_spec):
    spec = write_spec("input: 4x4x6\nlayers:\n  - {kind: lrn, name: norm, size: 4}\n")
    result = process("verify", spec, "--against", "onnxruntime")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"netcalc: error: {spec}:3: layer 'norm': ONNX's LRN cannot express an even size")
    assert "\x1b" not in result.stderr


def test_an_odd_lrn_size_still_agrees(write_spec):
    spec = write_spec("input: 4x4x6\nlayers:\n  - {kind: lrn, name: norm, size: 3}\n")
    assert invoke("verify", spec, "--against", "onnxruntime").exit_code == 0


def test_a_nan_made_by_a_layer_fails_it_without_warnings(write_spec):
    """instancenorm with eps 0 on 1×1: (x − x) / √0 is 0/0, NaN, in both implementations."""
    spec = write_spec("input: 1x1x3\nlayers:\n  - {kind: instancenorm, name: norm, eps: 0}\n")
    result = process("verify", spec, "--against", "onnxruntime", "--format", "json")
    assert result.returncode == 1
    assert result.stderr == ""  # no RuntimeWarning
    layer = json.loads(result.stdout)["layers"][0]
    assert not layer["ok"]
    assert 0 < layer["allowed"] < 1e-4  # a number: NaN does not make the allowance NaN
    assert layer["onnxruntime"] is None and layer["reference"] is None  # NaN both
    table = process("verify", spec, "--against", "onnxruntime")
    assert "✗ NaN or infinity" in table.stdout
    assert (
        "layer 'norm' (instancenorm): NaN or infinity made from finite inputs, first at element [0, 0, 0, 0]:"
        " onnxruntime nan, reference nan"
    ) in table.stdout


def test_onnxruntimes_refusal_names_the_layer_of_its_node():
    from netcalc.bridges.onnx.runtime import _refused

    network = parse_network_text("input: 4x4x6\nlayers:\n  - {kind: relu, name: a}\n  - {kind: gelu, name: b}\n")
    error = _refused(RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Node (b/erf) Op (Erf) failed.\\n"), network)
    assert str(error).startswith("line 4: layer 'b': ONNX Runtime refused this gelu: ")  # line 4: b's
    assert "\n" not in str(error) and "\\n" not in str(error)
    unnamed = _refused(RuntimeError("something else"), network)
    assert str(unnamed) == "ONNX Runtime could not run the exported model: something else"


# --- 7. options with no effect on --against onnxruntime are refused, by name ---


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--receptive-field"], "--receptive-field"),
        (["--device", "calibrated"], "--device"),
        (["--strict"], "--strict"),
        (["--no-backward"], "--no-backward"),
        (["--gradcheck", "2"], "--gradcheck"),
        (["--dtype", "float64"], "--dtype"),
        (["--strict", "--receptive-field"], "--receptive-field, --strict"),
    ],
)
def test_options_without_effect_against_onnxruntime_are_refused(write_spec, options, named):
    spec = write_spec("input: 4x4x3\nlayers:\n  - relu\n")
    result = invoke("verify", spec, "--against", "onnxruntime", *options)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and named in lines[-1] and "no effect" in lines[-1], result.output


def test_a_ceil_mode_max_pool_is_exported_as_the_padding_it_amounts_to(write_spec):
    # 9 rows, kernel 4, stride 4, padding 2, ceil_mode: PyTorch gives 3 rows (the 4th window would start at row
    # 12 of the padded 13, past the input and the left padding), and so does ONNX Runtime's kernel, but ONNX's
    # shape inference says 4, so a graph adding the pool's output to a 3-row tensor was refused; written as
    # floor mode over the padding, every part of ONNX reads 3
    spec = write_spec(
        "input: 9x4x1\nlayers:\n  - {kind: maxpool, name: m, kernel: 4, padding: 2, ceil_mode: true}\n"
        "  - {kind: conv, name: c, out: 1, kernel: 3, padding: same, bias: false}\n"
        "  - {kind: add, name: s, from: [c, m, m]}\n"
    )
    result = invoke("verify", spec, "--against", "onnxruntime", "--format", "json")
    assert result.exit_code == 0, result.output
    assert all(layer["ok"] and layer["shape_ok"] for layer in json.loads(result.output)["layers"])
    # the exported pool: floor mode, the padding it amounts to (here none beyond the given 2: 13 − 4 = 9 = 2·4 + 1)
    from netcalc.bridges.onnx.exporter import export_network
    from netcalc.language.spec import load_network

    pool = next(n for n in export_network(load_network(spec), weights="zeros").graph.node if n.op_type == "MaxPool")
    attributes = {a.name: list(a.ints) if a.ints else a.i for a in pool.attribute}
    assert (attributes["ceil_mode"], attributes["pads"]) == (0, [2, 2, 2, 2])
