"""Every kind's NumPy forward/backward pair, as the engine calls it: gradients against central differences
(float64), counted MACs and output shapes against the formulas, and each adapter against an independent
computation written out here (the primitives themselves are tested against loops in tests/reference/)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import netcalc
from netcalc.kinds import REGISTRY
from netcalc.kinds.base import MANY
from netcalc.reference.engine import random_input, run
from netcalc.reference.verify import compare

TO_5x4 = {"kind": "conv_transpose", "out": 1, "kernel": 3}  # a second input for upsample: 3×2 → 5×4
# (kind, attrs, input H×W×C or [F]); a merge kind reads `input` twice (through two parents below).
TABLE = [
    ("conv", {"out": 4, "kernel": 3, "padding": 1}, [5, 5, 3]),
    ("conv", {"out": 6, "kernel": [3, 2], "stride": 2, "dilation": 2, "groups": 3, "bias": False}, [9, 8, 6]),
    ("conv", {"out": 4, "kernel": 1, "activation": "relu6"}, [4, 4, 4]),
    ("conv", {"out": 4, "kernel": 3, "padding": "same", "activation": "sigmoid"}, [4, 4, 2]),
    ("conv_transpose", {"out": 4, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1}, [3, 4, 2]),
    ("conv_transpose", {"out": 4, "kernel": 2, "stride": 2, "groups": 2, "activation": "tanh"}, [3, 3, 4]),
    ("maxpool", {"kernel": 3, "stride": 2, "ceil_mode": True}, [6, 7, 2]),
    ("maxpool", {"kernel": 3, "stride": 2, "padding": 1}, [5, 5, 2]),
    ("maxpool", {"kernel": [3, 2], "stride": [1, 3]}, [6, 7, 2]),  # windows overlap along H only
    ("maxpool", {"kernel": [4, 5], "stride": 1, "padding": 1}, [4, 5, 2]),  # the whole map, padded: not global
    ("maxpool", {"kernel": 3, "stride": 3, "padding": [0, 1, 0, 1]}, [7, 7, 2]),  # padding below, unread rows
    ("avgpool", {"kernel": [2, 3], "stride": [2, 1], "padding": [0, 1, 1, 0]}, [7, 6, 2]),
    ("avgpool", {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}, [6, 6, 2]),
    ("avgpool", {"kernel": 2}, [4, 5, 3]),
    ("adaptive_avgpool", {"output": [3, 2]}, [7, 5, 2]),
    ("global_avgpool", {}, [3, 4, 5]),
    ("global_maxpool", {}, [3, 4, 5]),
    ("fc", {"out": 5}, [7]),
    ("fc", {"out": 3, "bias": False, "activation": "leaky_relu"}, [6]),
    ("flatten", {}, [2, 3, 4]),
    ("batchnorm", {}, [3, 3, 4]),
    ("batchnorm", {"eps": 1e-3}, [6]),
    ("relu", {}, [3, 3, 2]),
    ("relu6", {}, [3, 3, 2]),
    ("leaky_relu", {"negative_slope": 0.2}, [3, 3, 2]),
    ("sigmoid", {}, [5]),
    ("tanh", {}, [5]),
    ("dropout", {"p": 0.3}, [3, 3, 2]),
    ("lrn", {"size": 3, "alpha": 0.5, "beta": 0.75, "k": 2.0}, [2, 2, 6]),
    ("softmax", {}, [6]),
    ("softmax", {}, [2, 2, 3]),
    ("concat", {}, [3, 3, 2]),
    ("add", {}, [3, 3, 2]),
    ("hardsigmoid", {}, [3, 3, 4]),
    ("hardswish", {}, [3, 3, 4]),
    ("silu", {}, [3, 3, 2]),
    ("gelu", {}, [3, 3, 2]),
    ("gelu", {"approximate": "tanh"}, [6]),
    ("elu", {"alpha": 0.7}, [3, 3, 2]),
    ("prelu", {}, [3, 3, 3]),
    ("prelu", {"shared": True}, [3, 3, 3]),
    ("prelu", {}, [5]),
    ("multiply", {}, [3, 3, 2]),
    ("multiply", {"from": ["a", "gate"]}, [3, 3, 4]),
    ("multiply", {"from": ["gate", "a", "a"]}, [2, 3, 4]),
    ("multiply", {"from": ["gate", "flatgate", "a"]}, [2, 3, 4]),
    ("multiply", {"from": ["flatgate", "gate"]}, [2, 3, 4]),
    ("multiply", {"from": ["a", "flatgate"]}, [3, 3, 4]),
    ("scale", {}, [3, 3, 4]),
    ("scale", {}, [6]),
    ("stochastic_depth", {"p": 0.5}, [3, 3, 2]),
    ("stochastic_depth", {"p": 0.2, "mode": "batch"}, [3, 3, 2]),
    ("identity", {}, [3, 3, 2]),
    ("groupnorm", {"groups": 2}, [3, 3, 4]),
    ("groupnorm", {"groups": 3, "affine": False, "eps": 0.1}, [2, 2, 6]),
    ("groupnorm", {"groups": 2}, [6]),
    ("instancenorm", {}, [3, 3, 2]),
    ("instancenorm", {"affine": True}, [2, 3, 2]),
    ("layernorm", {}, [3, 3, 4]),
    ("layernorm", {"affine": False}, [3, 3, 4]),
    ("layernorm", {"eps": 1e-6}, [6]),
    ("conv", {"out": 4, "kernel": 1, "activation": "hardswish"}, [3, 3, 2]),
    ("conv", {"out": 4, "kernel": 1, "activation": "hardsigmoid"}, [3, 3, 2]),
    ("conv", {"out": 4, "kernel": 3, "padding": 1, "activation": "silu"}, [3, 3, 2]),
    ("conv", {"out": 4, "kernel": 1, "activation": "gelu"}, [3, 3, 2]),
    ("conv", {"out": 4, "kernel": 1, "activation": "elu"}, [3, 3, 2]),
    ("conv", {"out": 4, "kernel": 1, "activation": "prelu"}, [3, 3, 2]),
    ("conv_transpose", {"out": 4, "kernel": 2, "stride": 2, "activation": "prelu"}, [2, 2, 3]),
    ("conv_transpose", {"out": 4, "kernel": 2, "stride": 2, "activation": "silu"}, [2, 2, 3]),
    ("fc", {"out": 3, "activation": "prelu"}, [6]),
    ("fc", {"out": 3, "activation": "gelu"}, [6]),
    ("fc", {"out": 3, "activation": "hardswish"}, [6]),
    ("conv", {"out": 3, "kernel": 3, "stride": 2, "padding": [0, 1, 2, 1]}, [6, 5, 2]),
    ("conv", {"out": 3, "kernel": 2, "stride": 2, "padding": "same"}, [5, 6, 2]),
    ("conv_transpose", {"out": 2, "kernel": 3, "stride": 2, "padding": [1, 0, 0, 2], "output_padding": 1}, [3, 3, 2]),
    ("maxpool", {"kernel": 3, "stride": 2, "padding": "same"}, [6, 7, 2]),
    ("avgpool", {"kernel": 3, "stride": 2, "padding": [0, 1, 1, 0], "count_include_pad": False}, [6, 5, 2]),
    ("channel_slice", {"start": 1, "end": 3}, [2, 2, 4]),
    ("channel_slice", {"end": 2}, [5]),
    ("channel_shuffle", {"groups": 2}, [2, 2, 6]),
    ("channel_pad", {"before": 1, "after": 2}, [2, 3, 2]),
    ("subsample", {"stride": [2, 3]}, [5, 7, 2]),
    ("pad", {"padding": [1, 0, 2, 1], "value": 0.5}, [3, 3, 2]),
    ("pad", {"padding": [2, 1, 1, 2], "mode": "reflect"}, [3, 4, 2]),
    ("pad", {"padding": [0, 3, 2, 0], "mode": "replicate"}, [3, 4, 2]),
    ("crop", {"size": [2, 3]}, [5, 5, 2]),
    ("crop", {"offset": [0, 1], "ref": {"kind": "conv", "out": 1, "kernel": [3, 2]}}, [5, 5, 2]),
    ("upsample", {"scale": [2, 3]}, [2, 3, 2]),
    ("upsample", {"mode": "bilinear", "size": [5, 7]}, [3, 4, 2]),
    ("upsample", {"mode": "bilinear", "align_corners": True, "ref": TO_5x4}, [3, 2, 2]),
    ("pixel_shuffle", {"factor": 2}, [2, 3, 8]),
    ("pixel_unshuffle", {"factor": 2}, [4, 6, 2]),
]


def single_layer(kind: str, attrs: dict, shape: list[int]) -> netcalc.Network:
    """`kind` applied to `shape`, fed by a 1×1 conv (or an fc for a flat shape), so the input it differentiates
    has a parent with weights; a merge kind gets two such parents, and `ref` (a layer, for crop and upsample)
    is a second input of another H×W, that layer applied to the network input."""
    flat = len(shape) == 1
    source = "flat" if flat else "input"
    parent = {"kind": "fc", "out": shape[0]} if flat else {"kind": "conv", "out": shape[-1], "kernel": 1}
    layers: list[dict] = [{"kind": "flatten", "name": "flat"}] if flat else []
    layers.append({**parent, "name": "a", "from": source})
    if REGISTRY[kind].inputs == MANY:
        layers.append({**parent, "name": "b", "from": source})
        if not flat:  # gates for multiply: a 1×1×C map and a flat C vector
            layers.append({"kind": "global_avgpool", "name": "pooled", "from": source})
            layers.append({"kind": "conv", "name": "gate", "out": shape[-1], "kernel": 1, "from": "pooled"})
            layers.append({"kind": "flatten", "name": "flatgate", "from": "gate"})
        attrs = {**attrs, "from": attrs.get("from", ["a", "b"])}
    if "ref" in attrs:
        attrs = dict(attrs)
        layers.append({**attrs.pop("ref"), "name": "b", "from": source})
        attrs["from"] = ["a", "b"]
    layers.append({"kind": kind, "name": "x", "from": attrs.pop("from", "a"), **attrs})
    return netcalc.parse_network_text(json.dumps({"input": [1, 1, shape[0]] if flat else shape, "layers": layers}))


@pytest.mark.parametrize(("kind", "attrs", "shape"), TABLE, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(TABLE)])
def test_gradients_and_figures(kind: str, attrs: dict, shape: list[int]) -> None:
    network = single_layer(kind, attrs, shape)
    result = run(network, batch=2, dtype="float64", gradcheck=8, seed=7)
    verification = compare(netcalc.analyze(network, batch=2, dtype="float64"), result, gradcheck=8)
    (check,) = [layer for layer in verification.layers if layer.name == "x"]
    assert check.ok, (check.disagreements, check)
    assert check.gradcheck_error is not None and check.gradcheck_error < 1e-7


@pytest.mark.parametrize(("kind", "attrs", "shape"), TABLE, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(TABLE)])
def test_a_float32_pass_stays_float32(kind: str, attrs: dict, shape: list[int]) -> None:
    # a gradient built with np.zeros(shape) is float64: it would double the pass's memory and, flowing into the
    # conv below, turn its weight gradient float64 too
    result = run(single_layer(kind, attrs, shape), batch=2, dtype="float32", keep=True, seed=7)
    assert result.output.dtype == np.float32 and result.input_grad.dtype == np.float32
    assert {(layer, name): g.dtype for layer, grads in result.grads.items() for name, g in grads.items()} == {
        (layer, name): np.float32 for layer, grads in result.grads.items() for name in grads
    }


def test_every_kind_has_a_reference_pair() -> None:
    # a `partial` kind (unknown) stands for an operator netcalc cannot model: it has no reference by definition
    assert [name for name, kind in REGISTRY.items() if kind.forward is None or kind.backward is None] == ["unknown"]
    assert {kind for kind, _, _ in TABLE} == {name for name, kind in REGISTRY.items() if not kind.partial}


def layer_run(spec: str, **options):
    network = netcalc.parse_network_text(spec)
    return network, run(network, dtype="float64", keep=True, **options)


def test_fused_activation_is_the_activation_of_the_plain_layer() -> None:
    fused, result = layer_run("input: 5x5x3\nlayers:\n  - {kind: conv, name: c, out: 4, kernel: 3, activation: relu}\n")
    plain = netcalc.parse_network_text("input: 5x5x3\nlayers:\n  - {kind: conv, name: c, out: 4, kernel: 3}\n")
    x = random_input(fused, 1, 0, "float64")
    z = run(plain, dtype="float64", x=x, params=result.params, backward=False).output
    np.testing.assert_array_equal(result.output, np.maximum(z, 0))
    assert (z < 0).any()


def test_fc_is_x_times_w_transposed_plus_b() -> None:
    network, result = layer_run("input: [1, 1, 6]\nlayers:\n  - flatten\n  - {kind: fc, name: fc, out: 4}\n")
    x = random_input(network, 1, 0, "float64").reshape(1, 6)
    w, b = result.params["fc"]["weight"], result.params["fc"]["bias"]
    np.testing.assert_allclose(result.output, x @ w.T + b)
    assert w.shape == (4, 6)


def test_flatten_is_channel_major_as_pytorch() -> None:
    network, result = layer_run("input: 2x3x4\nlayers:\n  - flatten\n")
    x = random_input(network, 1, 0, "float64")
    c, h, w = 3, 1, 2  # element (c, h, w) of the (N, C, H, W) input lands at c·H·W + h·W + w
    assert result.output[0, c * 2 * 3 + h * 3 + w] == x[0, c, h, w]


def test_concat_splits_its_gradient_back_by_channels() -> None:
    spec = """
input: 2x2x3
layers:
  - {kind: conv, name: a, out: 2, kernel: 1}
  - {kind: conv, name: b, from: input, out: 5, kernel: 1}
  - {kind: concat, name: cat, from: [b, a]}
"""
    network = netcalc.parse_network_text(spec)
    g = np.arange(2 * 7 * 2 * 2, dtype=np.float64).reshape(2, 7, 2, 2)
    result = run(network, batch=2, dtype="float64", output_grad=g, keep=True)
    assert result.output.shape == (2, 5 + 2, 2, 2)
    x = random_input(network, 2, 0, "float64")
    # d weight of the 1×1 conv b = Σ over samples and pixels of g[:, :5] · x
    expected = np.einsum("nohw,nihw->oi", g[:, :5], x).reshape(5, 3, 1, 1)
    np.testing.assert_allclose(result.grads["b"]["weight"], expected)
    expected = np.einsum("nohw,nihw->oi", g[:, 5:], x).reshape(2, 3, 1, 1)
    np.testing.assert_allclose(result.grads["a"]["weight"], expected)


def test_global_pools_reduce_over_height_and_width() -> None:
    network, result = layer_run("input: 3x4x5\nlayers:\n  - {kind: global_maxpool, name: m}\n")
    x = random_input(network, 1, 0, "float64")
    np.testing.assert_array_equal(result.output, x.max(axis=(2, 3), keepdims=True))
    network, result = layer_run("input: 3x4x5\nlayers:\n  - {kind: global_avgpool, name: m}\n")
    np.testing.assert_allclose(result.output, x.mean(axis=(2, 3), keepdims=True))


def test_softmax_sums_to_one_over_channels() -> None:
    _, result = layer_run("input: 2x2x5\nlayers:\n  - softmax\n")
    np.testing.assert_allclose(result.output.sum(axis=1), 1.0)


def test_lrn_matches_its_formula_at_one_point() -> None:
    network, result = layer_run("input: 1x1x7\nlayers:\n  - {kind: lrn, size: 5, alpha: 0.3, beta: 0.75, k: 2.0}\n")
    x = random_input(network, 1, 0, "float64")[0, :, 0, 0]
    c = 1  # window c − 2 … c + 2, clipped to channels 0 … 3
    expected = x[c] / (2.0 + 0.3 / 5 * np.sum(x[0:4] ** 2)) ** 0.75
    assert result.output[0, c, 0, 0] == pytest.approx(expected)


def test_leaky_relu_and_relu6_values() -> None:
    network, result = layer_run(
        "input: [1, 1, 200]\nlayers:\n  - flatten\n  - {kind: leaky_relu, negative_slope: 0.2}\n"
    )
    x = random_input(network, 1, 0, "float64").reshape(1, -1)
    np.testing.assert_allclose(result.output, np.where(x > 0, x, 0.2 * x))
    network, result = layer_run("input: [1, 1, 200]\nlayers:\n  - flatten\n  - relu6\n")
    np.testing.assert_allclose(result.output, np.clip(x * 1, 0, 6))


def test_summary_does_not_import_numpy() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from netcalc.cli import cli; "
        "r = CliRunner().invoke(cli, ['summary', 'specs/vgg16.yaml', '--format', 'json']); "
        "assert r.exit_code == 0, r.output; print('numpy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
