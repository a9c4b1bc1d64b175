"""Our NumPy forward and backward of the spatial and channel kinds, and of conv/pool with asymmetric or
TensorFlow-SAME padding, against the values PyTorch computes (tests/data/spatial_values.json, written by
tools/spatial_values_oracle.py: F.pad, F.interpolate, F.pixel_shuffle, nn.ChannelShuffle, conv2d and pools on an
explicit F.pad, …). Each case runs as a one-layer network through the reference engine in float64."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import netcalc
from netcalc.reference.engine import run

DATA = json.loads((Path(__file__).parent.parent / "data" / "spatial_values.json").read_text(encoding="utf-8"))
CASES = DATA["cases"]


def array(shape: list[int], salt: float) -> np.ndarray:
    """The oracle's deterministic arrays: sin(0.37·k + salt), C order."""
    return np.sin(0.37 * np.arange(math.prod(shape), dtype=np.float64) + salt).reshape(shape)


def one_layer_network(case: dict) -> netcalc.Network:
    _, c, h, w = case["input"]
    spec = {"input": [h, w, c], "layers": [{**case["layer"], "name": "x"}]}
    return netcalc.parse_network_text(json.dumps(spec))


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_pytorch(name: str) -> None:
    case = CASES[name]
    salts = DATA["salts"]
    network = one_layer_network(case)
    weights = {key: array(shape, salts[key]) for key, shape in case["weights"].items()}
    result = run(
        network,
        dtype="float64",
        x=array(case["input"], salts["x"]),
        params={"x": weights},
        output_grad=array(case["output"], salts["dy"]),
        keep=True,
    )
    assert list(result.output.shape) == case["output"]
    np.testing.assert_allclose(result.output.reshape(-1), case["y"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.input_grad.reshape(-1), case["grads"]["input"], rtol=1e-9, atol=1e-9)
    for key in case["weights"]:
        np.testing.assert_allclose(result.grads["x"][key].reshape(-1), case["grads"][key], rtol=1e-9, atol=1e-9)
    # and the analysis gives the shape the values have
    _, c, h, w = case["output"]
    assert netcalc.analyze(network).layers[-1].output_shape == (h, w, c)


def test_the_oracle_covers_every_mode() -> None:
    layers = [case["layer"] for case in CASES.values()]
    assert {layer.get("mode", "zeros") for layer in layers if layer["kind"] == "pad"} == {
        "zeros",
        "reflect",
        "replicate",
    }
    upsampling = {
        (lay.get("mode", "nearest"), lay.get("align_corners", False)) for lay in layers if lay["kind"] == "upsample"
    }
    assert upsampling == {("nearest", False), ("bilinear", False), ("bilinear", True)}
    assert {"pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "conv", "conv_transpose", "maxpool", "avgpool"} <= {
        layer["kind"] for layer in layers
    }
