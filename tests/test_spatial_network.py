"""A whole network using every spatial and channel kind (tests/data/spatial_kinds.yaml) through the reference
engine: gradients of the whole network's loss against central differences (float64), training and inference
runs, and the reference input of crop/upsample getting no gradient."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import netcalc
from netcalc.reference.engine import random_input, run
from tests.test_engine import whole_network_gradcheck

SPEC = (Path(__file__).parent / "data" / "spatial_kinds.yaml").read_text(encoding="utf-8")


def test_whole_network_gradients_match_central_differences() -> None:
    errors = whole_network_gradcheck(SPEC)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


def test_training_and_inference_runs_agree() -> None:
    # none of these kinds behaves differently in training; the inference pass is forward only
    network = netcalc.parse_network_text(SPEC)
    trained = run(network, batch=3, dtype="float64", train=True, keep=True)
    inferred = run(network, batch=3, dtype="float64", train=False, backward=False, params=trained.params)
    assert inferred.output.shape == (3, 2)
    np.testing.assert_array_equal(inferred.output, trained.output)
    assert trained.input_grad is not None and trained.input_grad.shape == (3, 4, 8, 8)
    report = netcalc.analyze(network, batch=3, dtype="float64")
    assert [r.output_nbytes for r in trained.layers] == [r.activation_bytes for r in report.layers]


def test_the_reference_input_lends_only_its_shape() -> None:
    spec = """
input: 6x6x2
layers:
  - {kind: conv, name: x, out: 3, kernel: 1}
  - {kind: conv, name: small, from: input, out: 1, kernel: 3}
  - {kind: conv, name: big, from: input, out: 1, kernel: 3, padding: 2}
  - {kind: crop, name: cropped, from: [x, small]}
  - {kind: upsample, name: up, mode: bilinear, from: [cropped, big]}
"""
    network = netcalc.parse_network_text(spec)
    result = run(network, dtype="float64", keep=True)
    assert result.output.shape == (1, 3, 6 + 2 * 2 - 2, 6 + 2 * 2 - 2)
    for ref in ("small", "big"):
        assert not result.grads[ref]["weight"].any() and not result.grads[ref]["bias"].any()
    assert result.grads["x"]["weight"].any()
    # and the values do not depend on the reference's values, only on its shape
    x = random_input(network, 1, 0, "float64")
    params = {name: dict(arrays) for name, arrays in result.params.items()}
    params["small"] = {k: v * 3.0 for k, v in params["small"].items()}
    again = run(network, dtype="float64", x=x, params=params, backward=False)
    np.testing.assert_array_equal(again.output, result.output)
