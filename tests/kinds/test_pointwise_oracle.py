"""The pointwise and normalisation kinds' NumPy forward and backward against PyTorch's own implementations.

tests/data/pointwise_values.json is written by tools/pointwise_values_oracle.py (torch 2.14.1, torchvision
0.29.1, float64): per case the inputs, the learned arrays, an upstream gradient dy, and torch's output and
gradients. Here netcalc's pair runs on the same numbers, as the engine calls it (inference mode: stochastic
depth is the identity there), and every fused activation once more through a 1×1 conv whose weight is the
identity, so the `activation:` path is held to the same oracle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from netcalc.kinds import REGISTRY
from netcalc.kinds.base import FUSABLE

DATA = json.loads((Path(__file__).parent.parent / "data" / "pointwise_values.json").read_text(encoding="utf-8"))
CASES = DATA["cases"]
TOLERANCE = {"rtol": 1e-12, "atol": 1e-13}  # the file keeps 15 significant digits
# torch's hardsigmoid backward multiplies by the float32 constant 1.0f / 6.0f even in float64 (0.16666667163…,
# 3e-8 off); its gradients are rescaled to the exact 1/6 here instead of loosening the tolerance
TORCH_SIXTH = float(np.float32(1 / 6))


def input_grads(case: dict) -> list[np.ndarray]:
    exact = (1 / 6) / TORCH_SIXTH if case["kind"] == "hardsigmoid" else 1.0
    return [np.array(g) * exact for g in case["dinputs"]]


def attributes(kind: str, given: dict) -> dict:
    """The kind's defaults with the case's attributes, each through its parser, as a spec would give them."""
    record = REGISTRY[kind]
    attrs = {a.name: a.default for a in record.attrs if not a.required}
    attrs.update(given)
    return {a.name: a.parse(attrs[a.name]) for a in record.attrs}


def arrays(case: dict) -> tuple[tuple[np.ndarray, ...], dict[str, np.ndarray]]:
    xs = tuple(np.array(x, dtype=np.float64) for x in case["inputs"])
    return xs, {k: np.array(v, dtype=np.float64) for k, v in case["params"].items()}


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}-{i}" for i, c in enumerate(CASES)])
def test_forward_and_backward_match_torch(case: dict) -> None:
    kind = REGISTRY[case["kind"]]
    xs, params = arrays(case)
    y, cache = kind.forward(xs, params, attributes(case["kind"], case["attrs"]), False)
    np.testing.assert_allclose(y, np.array(case["y"]), **TOLERANCE)
    dxs, dparams = kind.backward(np.array(case["dy"], dtype=np.float64), cache)
    assert len(dxs) == len(xs)
    for dx, expected in zip(dxs, input_grads(case)):
        np.testing.assert_allclose(dx, expected, **TOLERANCE)
    assert set(dparams) == set(case["dparams"])
    for name, expected in case["dparams"].items():
        np.testing.assert_allclose(dparams[name], np.array(expected), **TOLERANCE)


def test_the_oracle_covers_every_new_kind() -> None:
    new = {"hardsigmoid", "hardswish", "silu", "gelu", "elu", "prelu", "groupnorm", "instancenorm", "layernorm",
           "stochastic_depth", "multiply", "scale"}
    assert new <= {c["kind"] for c in CASES}
    assert {"none", "tanh"} <= {c["attrs"].get("approximate", "none") for c in CASES if c["kind"] == "gelu"}


# a fused activation takes its defaults, so gelu's tanh form and elu's α = 0.7 have no fused counterpart
ACTIVATION_CASES = [
    c
    for c in CASES
    if c["kind"] in FUSABLE and (not c["attrs"] or c["kind"] == "prelu") and np.ndim(c["inputs"][0]) == 4
]


@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=[c["kind"] for c in ACTIVATION_CASES])
def test_fused_activation_matches_torch(case: dict) -> None:
    """conv 1×1 with the identity as weight and no bias, `activation: <kind>`: y and dx are torch's."""
    (x,), params = arrays(case)
    c = x.shape[1]
    conv = REGISTRY["conv"]
    attrs = attributes("conv", {"out": c, "kernel": 1, "bias": False, "activation": case["kind"]})
    slope = params.get("slope")
    weights = {"weight": np.eye(c).reshape(c, c, 1, 1)}
    if slope is not None:
        weights["slope"] = np.broadcast_to(slope, (c,)).copy()  # a fused prelu has one slope per channel
    y, cache = conv.forward((x,), weights, attrs, False)
    np.testing.assert_allclose(y, np.array(case["y"]), **TOLERANCE)
    (dx,), dparams = conv.backward(np.array(case["dy"]), cache)
    np.testing.assert_allclose(dx, input_grads(case)[0], **TOLERANCE)
    if slope is not None and slope.size == c:
        np.testing.assert_allclose(dparams["slope"], np.array(case["dparams"]["slope"]), **TOLERANCE)
