"""Random pointwise and normalisation layers on random shapes: whatever the analysis accepts, the reference pass
must produce with the same shape and parameters, and its gradients must check; what it refuses, it refuses with a
message a user can read. Hypothesis draws the kind, its attributes, the input shape (a feature map or a flat
vector) and, for multiply, what its second input is (an equal map, a 1×1×C or flat C gate, or something else)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import netcalc
from netcalc.errors import NetcalcError
from netcalc.reference.engine import run
from netcalc.reference.verify import compare

ACTIVATIONS = ["hardsigmoid", "hardswish", "silu", "gelu", "elu", "prelu"]

OTHER_INPUT = {  # a second input for multiply, read from `input` (H×W×C)
    "equal": {"kind": "identity"},
    "gate": {"kind": "global_avgpool"},
    "flat gate": {"kind": "global_avgpool"},  # flattened below
    "fewer channels": {"kind": "conv", "kernel": 1, "out": 1},
    "smaller map": {"kind": "maxpool", "kernel": 2},
}


@st.composite
def pointwise_layer(draw: st.DrawFn, channels: int) -> dict:
    kind = draw(st.sampled_from([*ACTIVATIONS, "groupnorm", "instancenorm", "layernorm", "scale", "identity",
                                 "stochastic_depth", "conv", "fc"]))
    if kind == "gelu":
        return {"kind": kind, "approximate": draw(st.sampled_from(["none", "tanh"]))}
    if kind == "elu":
        return {"kind": kind, "alpha": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))}
    if kind == "prelu":
        return {"kind": kind, "shared": draw(st.booleans())}
    if kind == "groupnorm":
        return {"kind": kind, "groups": draw(st.integers(1, 6)), "affine": draw(st.booleans())}
    if kind in ("instancenorm", "layernorm"):
        return {"kind": kind, "affine": draw(st.booleans())}
    if kind == "stochastic_depth":
        p, mode = draw(st.sampled_from([0.0, 0.3, 1.0])), draw(st.sampled_from(["row", "batch"]))
        return {"kind": kind, "p": p, "mode": mode}
    if kind in ("conv", "fc"):
        layer = {"kind": kind, "out": draw(st.integers(1, 4)), "activation": draw(st.sampled_from(ACTIVATIONS))}
        return layer | ({"kernel": 1} if kind == "conv" else {})
    return {"kind": kind}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), h=st.integers(1, 4), w=st.integers(1, 4), channels=st.integers(1, 6), flat=st.booleans(),
       batch=st.integers(1, 3), train=st.booleans())
def test_every_accepted_layer_verifies(data, h, w, channels, flat, batch, train):
    layer = data.draw(pointwise_layer(channels))
    layers = [{"kind": "flatten", "name": "flat"}] if flat else []
    layers.append({"name": "x", **layer})
    check(data, {"input": [h, w, channels], "layers": layers}, batch, train)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), h=st.integers(1, 4), w=st.integers(1, 4), channels=st.integers(2, 5),
       other=st.sampled_from(sorted(OTHER_INPUT)), swap=st.booleans(), batch=st.integers(1, 2))
def test_every_accepted_multiply_verifies(data, h, w, channels, other, swap, batch):
    layers = [
        {"kind": "conv", "name": "a", "kernel": 1, "out": channels, "from": "input"},
        {**OTHER_INPUT[other], "name": "b", "from": "input"},
    ]
    if other == "flat gate":
        layers.append({"kind": "flatten", "name": "c", "from": "b"})
    second = "c" if other == "flat gate" else "b"
    layers.append({"kind": "multiply", "name": "x", "from": [second, "a"] if swap else ["a", second]})
    accepted = check(data, {"input": [h, w, channels], "layers": layers}, batch, True)
    pooled_to_a_gate = other == "smaller map" and h // 2 == w // 2 == 1  # a 2×2 max pool of a 2×2 or 3×3 map
    assert accepted == (other in ("equal", "gate", "flat gate") or pooled_to_a_gate)


def check(data, spec: dict, batch: int, train: bool) -> bool:
    """Analyse `spec`; when accepted, verify it (float64, gradients checked) and say True."""
    try:
        network = netcalc.parse_network_text(json.dumps(spec))
        report = netcalc.analyze(network, batch=batch, dtype="float64")
    except NetcalcError as error:
        assert str(error) and "\n" not in str(error)
        event("refused by the analysis")
        return False
    event(f"verified: {spec['layers'][-1]['kind']}")
    result = run(network, batch=batch, dtype="float64", train=train, gradcheck=3, seed=data.draw(st.integers(0, 9)))
    verification = compare(report, result, gradcheck=3)
    assert verification.ok, [(c.name, c.disagreements, c.gradcheck_error) for c in verification.failed]
    return True
