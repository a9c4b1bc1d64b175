"""Random windowed layers: whatever the shape rule and the MAC formula say, the reference pass must produce.

The analysis and the engine share no arithmetic: the engine's output shape comes from slicing and GEMMs, its MACs
from the counting point. Hypothesis draws kernel, stride, padding, dilation, groups and ceil mode; a layer the
analysis refuses must be refused for a reason a user can read, and every accepted one must verify. Padding is
drawn symmetric, per side ([top, bottom, left, right]) or TensorFlow's `same`.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import netcalc
from netcalc.errors import NetcalcError
from netcalc.language.spec import parse_network_text
from netcalc.reference.engine import analysis_shape, run
from netcalc.reference.verify import compare

SIZES = st.integers(1, 12)
PAIRS = st.one_of(st.integers(1, 4), st.lists(st.integers(1, 4), min_size=2, max_size=2))


@st.composite
def windowed_layer(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["conv", "conv_transpose", "maxpool", "avgpool", "adaptive_avgpool"]))
    if kind == "adaptive_avgpool":
        return {"kind": kind, "output": draw(PAIRS)}
    sides = st.lists(st.integers(0, 2), min_size=4, max_size=4)  # [top, bottom, left, right]
    padding = st.one_of(st.integers(0, 2), sides, *([st.just("same")] if kind == "conv" else []))
    layer = {"kind": kind, "kernel": draw(PAIRS), "stride": draw(PAIRS), "padding": draw(padding)}
    if kind in ("conv", "conv_transpose"):
        groups = draw(st.sampled_from([1, 2]))
        layer.update(out=2 * draw(st.integers(1, 3)), groups=groups, dilation=draw(PAIRS), bias=draw(st.booleans()))
        if kind == "conv_transpose":
            layer["output_padding"] = draw(st.integers(0, 1))
    else:  # pooling pads at most half the kernel (PyTorch's rule, which the analysis enforces)
        kh, kw = layer["kernel"] if isinstance(layer["kernel"], list) else (layer["kernel"],) * 2
        sides = [draw(st.integers(0, k // 2)) for k in (kh, kh, kw, kw)]
        pads = st.one_of(st.integers(0, min(kh, kw) // 2), st.just(sides), st.just("same"))  # TF's SAME fits too
        layer.update(padding=draw(pads), ceil_mode=draw(st.booleans()))
    return layer


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=windowed_layer(), h=SIZES, w=SIZES, channels=st.sampled_from([2, 4]), batch=st.integers(1, 2))
def test_every_accepted_layer_verifies(layer, h, w, channels, batch):
    spec = json.dumps({"input": [h, w, channels], "layers": [{"name": "x", **layer}]})
    try:
        network = parse_network_text(spec)
        report = netcalc.analyze(network, batch=batch, dtype="float64")
    except NetcalcError as error:
        assert str(error)
        event("refused by the analysis")
        return
    event(f"verified: {layer['kind']}")
    result = run(network, batch=batch, dtype="float64")
    (row,), (measured,) = report.layers, result.layers
    assert analysis_shape(measured.output_shape) == row.output_shape
    assert measured.forward_macs == row.macs
    assert measured.params_used == row.params
    assert compare(report, result).ok
