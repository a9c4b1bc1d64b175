"""Spatial and channel kinds: shape rule, parameters, MACs and FLOPs, every expected value written as arithmetic;
the values themselves are checked against PyTorch in test_spatial_oracle.py."""

from __future__ import annotations

import json
import re

import pytest

import netcalc
from netcalc.errors import NetcalcError
from netcalc.kinds.window import same_sides
from netcalc.render.expanded import to_yaml
from netcalc.shapes import numel
from tests.conftest import one_layer

TABLE = [
    # (kind, attrs, input H×W×C) -> (output, FLOPs); no kind here has parameters, buffers or MACs
    pytest.param("channel_slice", dict(start=58, end=116), (28, 28, 116), (28, 28, 116 - 58), 0, id="slice"),
    pytest.param("channel_shuffle", dict(groups=2), (28, 28, 116), (28, 28, 116), 0, id="shuffle"),
    pytest.param("channel_pad", dict(before=4, after=4), (16, 16, 16), (16, 16, 4 + 16 + 4), 0, id="channel-pad"),
    pytest.param("subsample", dict(stride=2), (32, 32, 16), (32 // 2, 32 // 2, 16), 0, id="subsample"),
    pytest.param("subsample", dict(stride=[2, 3]), (7, 7, 1), ((7 + 1) // 2, (7 + 2) // 3, 1), 0, id="subsample-odd"),
    pytest.param("pad", dict(padding=1), (5, 6, 3), (5 + 2, 6 + 2, 3), 0, id="pad"),
    pytest.param("pad", dict(padding=[1, 2]), (5, 6, 3), (5 + 1 + 1, 6 + 2 + 2, 3), 0, id="pad-pair"),
    pytest.param(
        "pad", dict(padding=[0, 1, 2, 3], mode="reflect"), (5, 6, 3), (5 + 0 + 1, 6 + 2 + 3, 3), 0, id="pad-sides"
    ),
    pytest.param("crop", dict(size=[56, 56]), (64, 64, 512), (56, 56, 512), 0, id="crop-unet"),
    pytest.param("crop", dict(size=[2, 3], offset=[0, 4]), (5, 7, 1), (2, 3, 1), 0, id="crop-offset"),
    pytest.param("upsample", dict(scale=2), (13, 13, 256), (26, 26, 256), 0, id="nearest-yolov3"),
    pytest.param(
        "upsample",
        dict(mode="bilinear", size=[224, 224]),
        (28, 28, 21),
        (224, 224, 21),
        7 * 224 * 224 * 21,
        id="bilinear-fcn",
    ),
    pytest.param(
        "upsample",
        dict(mode="bilinear", scale=[2, 3], align_corners=True),
        (4, 5, 2),
        (4 * 2, 5 * 3, 2),
        7 * 8 * 15 * 2,
        id="bilinear-align",
    ),
    pytest.param("pixel_shuffle", dict(factor=3), (8, 8, 9 * 4), (8 * 3, 8 * 3, 4), 0, id="pixel-shuffle"),
    pytest.param("pixel_unshuffle", dict(factor=2), (26, 26, 64), (26 // 2, 26 // 2, 64 * 2 * 2), 0, id="reorg"),
]


@pytest.mark.parametrize(("kind", "attrs", "shape", "out", "flops"), TABLE)
def test_spatial_table(kind, attrs, shape, out, flops):
    r = one_layer(kind, shape, **attrs)
    assert (r.output_shape, r.params, r.buffers, r.macs, r.flops) == (out, 0, 0, 0, flops)
    assert r.activation_bytes == 4 * numel(out)  # float32: the output tensor, like every layer


def test_channel_kinds_take_the_features_of_a_flat_vector():
    spec = {
        "input": [1, 1, 10],
        "layers": [
            "flatten",
            {"kind": "channel_slice", "start": 2, "end": 8},
            {"kind": "channel_shuffle", "groups": 3},
            {"kind": "channel_pad", "after": 2},
        ],
    }
    assert [r.output_shape for r in netcalc.analyze(json.dumps(spec)).layers] == [(10,), (8 - 2,), (6,), (6 + 2,)]


def two_inputs(kind: str, attrs: dict, x: tuple[int, int, int], ref_layer: dict) -> netcalc.analysis.report.LayerRow:
    """`kind` over the input, taking its H×W from `ref_layer` (itself applied to the input)."""
    spec = {
        "input": list(x),
        "layers": [{**ref_layer, "name": "ref"}, {"kind": kind, "name": "x", "from": ["input", "ref"], **attrs}],
    }
    return netcalc.analyze(json.dumps(spec)).layers[-1]


def test_unet_copy_and_crop_takes_the_decoder_size():
    # U-Net's first skip: 568×568×64 cropped to the 392×392 of the up-convolution, centred at (568 − 392)/2 = 88
    r = two_inputs("crop", {}, (568, 568, 64), {"kind": "conv", "out": 128, "kernel": 177})
    assert r.output_shape == (568 - 176, 568 - 176, 64)
    assert (r.params, r.macs, r.flops) == (0, 0, 0)


def test_upsample_to_another_layers_size():
    # FPN: the coarser map (here a stride-2 pool, 7×7) brought back to the finer 13×13 by nearest
    spec = {
        "input": [13, 13, 8],
        "layers": [
            {"kind": "maxpool", "name": "coarse", "kernel": 2, "ceil_mode": True},
            {"kind": "upsample", "name": "up", "from": ["coarse", "input"]},
        ],
    }
    rows = netcalc.analyze(json.dumps(spec)).layers
    assert [r.output_shape for r in rows] == [((13 + 1) // 2, (13 + 1) // 2, 8), (13, 13, 8)]
    assert rows[-1].flops == 0


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (224, 3, 2, (0, 1)),  # out 112: (112 − 1)·2 + 3 − 224 = 1, the extra row at the bottom
        (225, 3, 2, (1, 1)),  # out 113: (113 − 1)·2 + 3 − 225 = 2
        (224, 1, 2, (0, 0)),  # (112 − 1)·2 + 1 − 224 < 0: no padding
        (7, 4, 1, (1, 2)),  # stride 1: K − 1 = 3 split 1 before, 2 after
        (9, 5, 3, (1, 1)),  # out ⌈9/3⌉ = 3: (3 − 1)·3 + 5 − 9 = 2
        (11, 5, 3, (1, 2)),  # out ⌈11/3⌉ = 4: (4 − 1)·3 + 5 − 11 = 3, the odd one after
    ],
)
def test_same_is_tensorflows_same(size, kernel, stride, expected):
    top, bottom, left, right = same_sides((size, size), (kernel, kernel), (stride, stride), (1, 1))
    assert (top, bottom) == (left, right) == expected
    assert (size + top + bottom - kernel) // stride + 1 == -(-size // stride)


def test_same_becomes_numbers_for_the_input_it_meets():
    spec = (
        "input: 8x8x3\nlayers:\n  - {kind: conv, name: a, out: 4, kernel: 3, padding: same}\n"
        "  - {kind: conv, name: b, out: 4, kernel: 3, stride: 2, padding: same}\n"
        "  - {kind: maxpool, name: c, kernel: 3, stride: 2, padding: same}\n"
    )
    a, b, c = netcalc.parse_network_text(spec).layers
    assert a.attrs["padding"] == (1, 1, 1, 1)  # stride 1: (3 − 1)/2 each side, whatever the size
    assert b.attrs["padding"] == (0, 1, 0, 1)  # 8 → 4: (4 − 1)·2 + 3 − 8 = 1, at the bottom and right
    assert c.attrs["padding"] == (0, 1, 0, 1)  # 4 → 2: (2 − 1)·2 + 3 − 4 = 1
    # another input size, other numbers: 9 → 5: (5 − 1)·2 + 3 − 9 = 2, one each side
    _, b9, _ = netcalc.parse_network_text(spec, input_shape=(9, 9, 3)).layers
    assert b9.attrs["padding"] == (1, 1, 1, 1)


def test_pool_padding_may_be_asymmetric_and_same():
    assert one_layer("maxpool", (5, 6, 2), kernel=3, stride=2, padding=[1, 0, 0, 1]).output_shape == (
        (5 + 1 + 0 - 3) // 2 + 1,
        (6 + 0 + 1 - 3) // 2 + 1,
        2,
    )
    # TensorFlow's SAME max pool: ⌈112/2⌉
    assert one_layer("maxpool", (112, 112, 64), kernel=3, stride=2, padding="same").output_shape == (56, 56, 64)
    with pytest.raises(NetcalcError, match=re.escape("padding 2 must be at most half the kernel 3")):
        one_layer("maxpool", (8, 8, 1), kernel=3, padding=[0, 2, 0, 0])


def test_show_writes_what_parses_back():
    spec = (
        "input: 8x8x3\nlayers:\n"
        "  - {kind: conv, out: 4, kernel: 3, stride: 2, padding: same}\n"
        "  - {kind: pad, padding: [1, 0, 2, 0], mode: replicate}\n"
        "  - {kind: upsample, mode: bilinear, size: [5, 6]}\n"
        "  - {kind: crop, from: [input, upsample1]}\n"
    )
    network = netcalc.parse_network_text(spec)
    again = netcalc.parse_network_text(to_yaml(network))
    assert [layer.attrs for layer in again.layers] == [layer.attrs for layer in network.layers]
    assert netcalc.analyze(again).layers[-1].output_shape == (5, 6, 3)
