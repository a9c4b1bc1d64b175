"""Random specs either analyse or fail with a clean NetcalcError; window arithmetic against brute force."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netcalc
from netcalc.errors import NetcalcError
from netcalc.kinds import REGISTRY
from netcalc.kinds.window import window_output

SCALARS = st.one_of(
    st.integers(-3, 40),
    st.sampled_from(
        ["same", "relu", "x", "w * 2", "3 // 0", "(", "", "1/2", "input", "conv1", "in_channels // 2", "in_width"]
    ),
    st.booleans(),
    st.none(),
    st.floats(-1, 2, allow_nan=False),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=3), SCALARS, max_size=2))
ATTR_NAMES = sorted({a.name for kind in REGISTRY.values() for a in kind.attrs} | {"name", "from", "repeat", "bogus"})

LAYER = st.one_of(
    st.sampled_from(["conv3-8", "maxpool", "fc-4", "relu", "flatten", "batchnorm", "conv1-2/2", "global_avgpool"]),
    st.fixed_dictionaries(
        {"kind": st.sampled_from([*REGISTRY, "nope"])},
        optional={name: VALUES for name in ATTR_NAMES},
    ),
    VALUES,
)
SPEC = st.fixed_dictionaries(
    {
        "input": st.one_of(st.just("16x16x3"), st.lists(st.integers(-1, 20), min_size=2, max_size=4), SCALARS),
        "layers": st.one_of(st.lists(LAYER, max_size=6), SCALARS),
    },
    optional={
        "defaults": st.dictionaries(st.sampled_from(["conv", "fc", "maxpool", "zzz"]), VALUES, max_size=2),
        "blocks": st.dictionaries(
            st.sampled_from(["b", "conv"]),
            st.fixed_dictionaries({"layers": st.lists(LAYER, max_size=3)}, optional={"params": VALUES}),
            max_size=2,
        ),
        "name": SCALARS,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SPEC)
def test_random_specs_analyse_or_fail_cleanly(spec):
    try:
        report = netcalc.analyze(json.dumps(spec))
    except NetcalcError as error:
        assert str(error)  # a message, never an empty one
        return
    assert report.totals.params >= 0 and report.totals.macs >= 0
    assert all(d > 0 for r in report.layers for d in r.output_shape)


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    pad=st.integers(0, 3),
    dilation=st.integers(1, 3),
)
def test_window_output_counts_the_window_positions_that_fit(size, kernel, stride, pad, dilation):
    padded = size + 2 * pad
    positions = sum(1 for start in range(0, padded, stride) if start + dilation * (kernel - 1) < padded)
    if positions == 0:
        try:
            window_output(size, kernel, stride, pad, dilation)
        except NetcalcError:
            return
        raise AssertionError("a kernel larger than the padded input must be an error")
    assert window_output(size, kernel, stride, pad, dilation) == positions


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 40), kernel=st.integers(1, 6), stride=st.integers(1, 4), pad=st.integers(0, 3))
def test_ceil_mode_counts_windows_that_start_inside_input_or_left_padding(size, kernel, stride, pad):
    # PyTorch's ceil mode: a window counts when it starts before the right padding and overlaps the input.
    if 2 * pad > kernel or kernel > size + 2 * pad:
        return
    positions = sum(1 for start in range(0, size + 2 * pad, stride) if start < size + pad)
    floor = window_output(size, kernel, stride, pad, 1)
    ceil = window_output(size, kernel, stride, pad, 1, ceil_mode=True)
    assert floor <= ceil <= floor + 1
    assert ceil == min(positions, -(-(size + 2 * pad - kernel) // stride) + 1)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_escapes_as_a_traceback(text):
    with contextlib.suppress(NetcalcError):
        netcalc.analyze(text)
