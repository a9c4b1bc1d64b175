"""conv and conv_transpose: shape rule, parameters and MACs, with every expected value written as arithmetic."""

from __future__ import annotations

import re

import pytest

from netcalc.errors import NetcalcError
from tests.conftest import one_layer

CONV_TABLE = [
    # (attrs, input H×W×C) -> (output, params, MACs)
    pytest.param(  # AlexNet conv1 as the lectures draw it: 227×227×3, 96 filters 11×11 stride 4
        dict(out=96, kernel=11, stride=4),
        (227, 227, 3),
        ((227 - 11) // 4 + 1, (227 - 11) // 4 + 1, 96),
        11 * 11 * 3 * 96 + 96,
        55 * 55 * 96 * (11 * 11 * 3),
        id="alexnet-conv1",
    ),
    pytest.param(  # VGG 3×3 'same' convolution
        dict(out=64, kernel=3, padding="same"),
        (224, 224, 64),
        (224, 224, 64),
        3 * 3 * 64 * 64 + 64,
        224 * 224 * 64 * (3 * 3 * 64),
        id="vgg-3x3-same",
    ),
    pytest.param(  # ResNet stem: 7×7 stride 2 pad 3 → ⌊(224 + 6 − 7)/2⌋ + 1 = 112
        dict(out=64, kernel=7, stride=2, padding=3, bias=False),
        (224, 224, 3),
        (112, 112, 64),
        7 * 7 * 3 * 64,
        112 * 112 * 64 * (7 * 7 * 3),
        id="resnet-stem",
    ),
    pytest.param(  # 1×1 bottleneck reduction
        dict(out=64, kernel=1, bias=False),
        (56, 56, 256),
        (56, 56, 64),
        256 * 64,
        56 * 56 * 64 * 256,
        id="1x1",
    ),
    pytest.param(  # AlexNet's two-group split: each filter sees half the input channels
        dict(out=256, kernel=5, padding=2, groups=2),
        (27, 27, 96),
        (27, 27, 256),
        5 * 5 * (96 // 2) * 256 + 256,
        27 * 27 * 256 * (5 * 5 * 48),
        id="groups-2",
    ),
    pytest.param(  # depthwise 3×3 stride 2 (MobileNetV2)
        dict(out=32, kernel=3, stride=2, padding=1, groups=32, bias=False),
        (112, 112, 32),
        (56, 56, 32),
        3 * 3 * 1 * 32,
        56 * 56 * 32 * (3 * 3 * 1),
        id="depthwise",
    ),
    pytest.param(  # dilation 2: effective kernel 5, ⌊(32 + 4 − 2·2 − 1)/1⌋ + 1 = 32
        dict(out=8, kernel=3, padding=2, dilation=2),
        (32, 32, 4),
        (32, 32, 8),
        3 * 3 * 4 * 8 + 8,
        32 * 32 * 8 * (3 * 3 * 4),
        id="dilated",
    ),
    pytest.param(  # rectangular kernel (Inception v3's 1×7) with [h, w] padding
        dict(out=192, kernel=[1, 7], padding=[0, 3], bias=False),
        (17, 17, 128),
        (17, 17, 192),
        1 * 7 * 128 * 192,
        17 * 17 * 192 * (1 * 7 * 128),
        id="1x7",
    ),
    pytest.param(  # 'same' at stride 2 gives ⌈H/S⌉: ⌊(15 + 2 − 2 − 1)/2⌋ + 1 = 8
        dict(out=4, kernel=3, stride=2, padding="same"),
        (15, 15, 2),
        (8, 8, 4),
        3 * 3 * 2 * 4 + 4,
        8 * 8 * 4 * (3 * 3 * 2),
        id="same-stride-2",
    ),
    pytest.param(  # TensorFlow's SAME on an even size: total padding (8 − 1)·2 + 3 − 16 = 1, all of it at the bottom
        dict(out=4, kernel=3, stride=2, padding="same"),
        (16, 16, 2),
        (16 // 2, 16 // 2, 4),
        3 * 3 * 2 * 4 + 4,
        8 * 8 * 4 * (3 * 3 * 2),
        id="same-stride-2-even",
    ),
    pytest.param(  # 'same' with an even kernel: D·(K−1) = 1 row of padding, at the bottom/right
        dict(out=4, kernel=2, padding="same", bias=False),
        (8, 8, 3),
        (8, 8, 4),
        2 * 2 * 3 * 4,
        8 * 8 * 4 * (2 * 2 * 3),
        id="same-even-kernel",
    ),
    pytest.param(  # [top, bottom, left, right]: ⌊(5 + 1 + 2 − 3)/1⌋ + 1 = 6 rows, ⌊(6 + 0 + 3 − 3)/1⌋ + 1 = 7 columns
        dict(out=2, kernel=3, padding=[1, 2, 0, 3], bias=False),
        (5, 6, 3),
        (6, 7, 2),
        3 * 3 * 3 * 2,
        6 * 7 * 2 * (3 * 3 * 3),
        id="asymmetric",
    ),
    pytest.param(  # TensorFlow-ported stride-2 stem written out: [0, 1, 0, 1] → ⌊(16 + 0 + 1 − 3)/2⌋ + 1 = 8
        dict(out=2, kernel=3, stride=2, padding=[0, 1, 0, 1], bias=False),
        (16, 16, 3),
        (8, 8, 2),
        3 * 3 * 3 * 2,
        8 * 8 * 2 * (3 * 3 * 3),
        id="asymmetric-stride-2",
    ),
]


@pytest.mark.parametrize(("attrs", "shape", "out", "params", "macs"), CONV_TABLE)
def test_conv_table(attrs, shape, out, params, macs):
    r = one_layer("conv", shape, **attrs)
    assert (r.output_shape, r.params, r.macs) == (out, params, macs)


def test_conv_flops_are_two_per_mac_plus_bias_and_fused_activation():
    r = one_layer("conv", (8, 8, 3), out=4, kernel=3, padding=1, activation="relu")
    elements = 8 * 8 * 4
    assert r.flops == 2 * (elements * 3 * 3 * 3) + elements + elements


def test_conv_activation_memory_is_the_output_tensor():
    r = one_layer("conv", (224, 224, 3), out=64, kernel=3, padding=1)
    assert r.activation_bytes == 224 * 224 * 64 * 4


TRANSPOSE_TABLE = [
    pytest.param(  # FCN/U-Net 2× upsampling: (14 − 1)·2 − 0 + (2 − 1) + 0 + 1 = 28
        dict(out=256, kernel=2, stride=2),
        (14, 14, 512),
        (28, 28, 256),
        512 * 256 * 2 * 2 + 256,
        14 * 14 * 512 * (256 * 2 * 2),
        id="unet-up",
    ),
    pytest.param(  # (7 − 1)·2 − 2·1 + (3 − 1) + 1 + 1 = 14
        dict(out=16, kernel=3, stride=2, padding=1, output_padding=1, bias=False),
        (7, 7, 32),
        (14, 14, 16),
        32 * 16 * 3 * 3,
        7 * 7 * 32 * (16 * 3 * 3),
        id="output-padding",
    ),
    pytest.param(
        dict(out=8, kernel=4, stride=2, padding=1, groups=2),
        (5, 5, 4),
        ((5 - 1) * 2 - 2 + 3 + 1, (5 - 1) * 2 - 2 + 3 + 1, 8),
        4 * (8 // 2) * 4 * 4 + 8,
        5 * 5 * 4 * (8 // 2) * 4 * 4,
        id="grouped",
    ),
    pytest.param(  # [top, bottom, left, right] removed from the output: (4 − 1)·2 − 0 − 1 + (3 − 1) + 1 = 8 rows,
        # (4 − 1)·2 − 1 − 1 + 2 + 1 = 7 columns (ONNX ConvTranspose's pads)
        dict(out=2, kernel=3, stride=2, padding=[0, 1, 1, 1], bias=False),
        (4, 4, 3),
        (8, 7, 2),
        3 * 2 * 3 * 3,
        4 * 4 * 3 * (2 * 3 * 3),
        id="asymmetric",
    ),
]


@pytest.mark.parametrize(("attrs", "shape", "out", "params", "macs"), TRANSPOSE_TABLE)
def test_conv_transpose_table(attrs, shape, out, params, macs):
    r = one_layer("conv_transpose", shape, **attrs)
    assert (r.output_shape, r.params, r.macs) == (out, params, macs)


@pytest.mark.parametrize(
    ("attrs", "shape", "message"),
    [
        (dict(out=4, kernel=7), (5, 5, 3), "larger than the padded height 5 + 2·0 = 5"),
        (dict(out=4, kernel=3, groups=2), (8, 8, 3), "groups 2 must divide both the input channels 3"),
        (dict(out=4, kernel=3, padding=[1, 1, 1]), (8, 8, 3), "[top, bottom, left, right] or 'same', got [1, 1, 1]"),
        (dict(out=4, kernel=5, padding=[0, 1, 0, 0]), (3, 3, 3), "padded height 3 + 0 + 1 = 4"),
        (dict(out=0, kernel=3), (8, 8, 3), "expected a whole number ≥ 1, got 0"),
        (dict(out=4, kernel=[3, 3, 3]), (8, 8, 3), "pair [h, w]"),
    ],
)
def test_conv_rejects(attrs, shape, message):
    with pytest.raises(NetcalcError, match=re.escape(message)):
        one_layer("conv", shape, **attrs)


def test_conv_transpose_output_padding_must_be_below_stride():
    with pytest.raises(NetcalcError, match="output_padding 2 must be smaller than the stride"):
        one_layer("conv_transpose", (4, 4, 2), out=2, kernel=3, stride=2, output_padding=2)


def test_conv_needs_a_feature_map():
    with pytest.raises(NetcalcError, match="conv needs an H×W×C input, got the flat vector 10"):
        import netcalc

        netcalc.analyze("input: 1x1x10\nlayers: [flatten, {kind: conv, out: 2, kernel: 1}]")


def test_unread_rows_are_noted():
    # ResNet's 1×1 stride-2 downsample on 56×56: the windows read rows 0, 2, …, 54 only, so every odd row and
    # column (28 of 56 each) is never read, and 1 − 28·28/(56·56) = 75% of the pixels are not.
    r = one_layer("conv", (56, 56, 256), out=512, kernel=1, stride=2, bias=False)
    assert r.output_shape == (28, 28, 512)
    share = 1 - 28 * 28 / (56 * 56)
    assert r.notes == (
        f"stride 2 leaves 28 of the 56 rows and 28 of the 56 columns of the 56×56 input unread: "
        f"no window reads {share:.1%} of its pixels",
    )


def test_padding_rows_left_unread_are_not_noted():
    # 3×3 stride 2 pad 1 on 56: the last window covers rows 53..55; only the padding row 56 is unread.
    assert one_layer("conv", (56, 56, 8), out=8, kernel=3, stride=2, padding=1).notes == ()
