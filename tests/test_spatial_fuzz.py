"""Random spatial and channel layers: whatever the shape rule says, the reference pass must produce it.

The shape rules are arithmetic on attributes; the engine's shapes come from NumPy slicing, padding, gathers and
reshapes. Hypothesis draws the attributes (sometimes impossible ones); a layer the analysis refuses must be
refused in a sentence, and every accepted one must verify (shape, zero MACs, memory) forward and backward.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import netcalc
from netcalc.errors import NetcalcError
from netcalc.kinds import channels, spatial
from netcalc.reference.engine import run
from netcalc.reference.verify import compare

SMALL = st.integers(0, 4)
POSITIVE = st.integers(1, 4)
PAIR = st.one_of(POSITIVE, st.lists(POSITIVE, min_size=2, max_size=2))
SIDES = st.one_of(SMALL, st.lists(SMALL, min_size=2, max_size=2), st.lists(SMALL, min_size=4, max_size=4))


@st.composite
def spatial_layer(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from([kind.name for kind in channels.KINDS + spatial.KINDS]))
    layer: dict = {"kind": kind}
    if kind == "channel_slice":
        layer.update(start=draw(SMALL), end=draw(POSITIVE))
    elif kind == "channel_shuffle":
        layer.update(groups=draw(POSITIVE))
    elif kind == "channel_pad":
        layer.update(before=draw(SMALL), after=draw(SMALL))
    elif kind == "subsample":
        layer.update(stride=draw(PAIR))
    elif kind == "pad":
        layer.update(padding=draw(SIDES), mode=draw(st.sampled_from(["zeros", "reflect", "replicate"])))
    elif kind == "crop":
        layer.update(size=draw(PAIR))
        if draw(st.booleans()):
            layer.update(offset=draw(st.lists(SMALL, min_size=2, max_size=2)))
    elif kind == "upsample":
        mode = draw(st.sampled_from(["nearest", "bilinear"]))
        layer.update(mode=mode, **({"scale": draw(PAIR)} if draw(st.booleans()) else {"size": draw(PAIR)}))
        if mode == "bilinear":
            layer.update(align_corners=draw(st.booleans()))
    else:
        layer.update(factor=draw(st.integers(1, 3)))
    return layer


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=spatial_layer(), h=st.integers(1, 7), w=st.integers(1, 7), channels=st.integers(1, 6))
def test_every_accepted_spatial_layer_verifies(layer, h, w, channels):
    spec = json.dumps({"input": [h, w, channels], "layers": [{"name": "x", **layer}]})
    try:
        network = netcalc.parse_network_text(spec)
        report = netcalc.analyze(network, batch=2, dtype="float64")
    except NetcalcError as error:
        assert str(error) and "\n" not in str(error)
        event("refused by the analysis")
        return
    event(f"verified: {layer['kind']}")
    result = run(network, batch=2, dtype="float64")
    assert compare(report, result).ok
