"""The pointwise and normalisation kinds of issue 7: shape, params, buffers, MACs and FLOPs per kind, every
expected value written as the arithmetic that gives it, and the errors a user meets."""

from __future__ import annotations

import json
import math
import re

import pytest

import netcalc
from netcalc.analysis.report import LayerRow
from netcalc.errors import NetcalcError
from tests.conftest import one_layer, row

TABLE = [
    # (kind, attrs, input) -> (output, params, FLOPs); buffers and MACs are 0 for every one of them
    ("hardsigmoid", {}, (7, 7, 16), (7, 7, 16), 0, 1 * 7 * 7 * 16),
    ("hardswish", {}, (112, 112, 16), (112, 112, 16), 0, 1 * 112 * 112 * 16),
    ("silu", {}, (7, 7, 1280), (7, 7, 1280), 0, 1 * 7 * 7 * 1280),
    ("gelu", {}, (56, 56, 384), (56, 56, 384), 0, 1 * 56 * 56 * 384),
    ("gelu", {"approximate": "tanh"}, (10,), (10,), 0, 1 * 10),
    ("elu", {"alpha": 0.5}, (8, 8, 3), (8, 8, 3), 0, 1 * 8 * 8 * 3),
    ("prelu", {}, (28, 28, 64), (28, 28, 64), 64, 1 * 28 * 28 * 64),
    ("prelu", {"shared": True}, (28, 28, 64), (28, 28, 64), 1, 1 * 28 * 28 * 64),
    ("prelu", {}, (128,), (128,), 128, 1 * 128),
    ("scale", {}, (56, 56, 96), (56, 56, 96), 96, 1 * 56 * 56 * 96),  # ConvNeXt-T stage 1 layer scale
    ("scale", {}, (512,), (512,), 512, 1 * 512),
    ("stochastic_depth", {"p": 0.1}, (56, 56, 96), (56, 56, 96), 0, 0),
    ("stochastic_depth", {"p": 0.2, "mode": "batch"}, (7, 7, 320), (7, 7, 320), 0, 0),
    ("identity", {}, (14, 14, 40), (14, 14, 40), 0, 0),
    ("groupnorm", {"groups": 32}, (56, 56, 256), (56, 56, 256), 2 * 256, (5 + 2) * 56 * 56 * 256),
    ("groupnorm", {"groups": 4, "affine": False}, (8, 8, 12), (8, 8, 12), 0, 5 * 8 * 8 * 12),
    ("groupnorm", {"groups": 2}, (12,), (12,), 2 * 12, (5 + 2) * 12),
    ("instancenorm", {}, (128, 128, 64), (128, 128, 64), 0, 5 * 128 * 128 * 64),
    ("instancenorm", {"affine": True}, (64, 64, 3), (64, 64, 3), 2 * 3, (5 + 2) * 64 * 64 * 3),
    ("layernorm", {}, (56, 56, 96), (56, 56, 96), 2 * 96, (5 + 2) * 56 * 56 * 96),  # ConvNeXt-T's LayerNorm2d
    ("layernorm", {"affine": False}, (768,), (768,), 0, 5 * 768),
]


@pytest.mark.parametrize(
    ("kind", "attrs", "shape", "output", "params", "flops"), TABLE, ids=[f"{t[0]}-{i}" for i, t in enumerate(TABLE)]
)
def test_figures(kind, attrs, shape, output, params, flops):
    r = one_layer(kind, shape, **attrs) if len(shape) == 3 else flat_layer(kind, shape[0], **attrs)
    assert (r.output_shape, r.params, r.buffers, r.macs, r.flops) == (output, params, 0, 0, flops)
    assert r.activation_bytes == 4 * math.prod(output)


def flat_layer(kind: str, features: int, **attrs) -> LayerRow:
    """The row of `kind` applied to a flat vector of `features` (a 1×1×F input, flattened)."""
    layer = json.dumps({"kind": kind, "name": "x", **attrs})
    return row(netcalc.analyze(f"input: [1, 1, {features}]\nlayers: [flatten, {layer}]"), "x")


MULTIPLY = """
input: 14x14x40
layers:
  - {kind: conv, name: a, out: 40, kernel: 1}
  - {kind: conv, name: b, out: 40, kernel: 1, from: input}
  - {kind: global_avgpool, name: pool, from: a}
  - {kind: conv, name: gate, out: 40, kernel: 1, from: pool, activation: hardsigmoid}
  - {kind: flatten, name: flatgate, from: gate}
"""


@pytest.mark.parametrize(
    ("inputs", "output", "flops"),
    [
        (["a", "b"], (14, 14, 40), (2 - 1) * 14 * 14 * 40),
        (["a", "gate"], (14, 14, 40), (2 - 1) * 14 * 14 * 40),  # squeeze-and-excitation: a 1×1×C gate
        (["gate", "a"], (14, 14, 40), (2 - 1) * 14 * 14 * 40),  # in either order
        (["a", "flatgate"], (14, 14, 40), (2 - 1) * 14 * 14 * 40),  # the gate as a flat C vector
        (["a", "b", "gate"], (14, 14, 40), (3 - 1) * 14 * 14 * 40),
        (["gate", "gate"], (1, 1, 40), (2 - 1) * 40),
        (["gate", "flatgate", "a"], (14, 14, 40), (3 - 1) * 14 * 14 * 40),
        (["flatgate", "gate"], (1, 1, 40), (2 - 1) * 40),  # a flat gate over a 1×1×C map: the map's shape
    ],
)
def test_multiply(inputs, output, flops):
    r = netcalc.analyze(MULTIPLY + f"  - {{kind: multiply, name: m, from: [{', '.join(inputs)}]}}\n").layers[-1]
    assert (r.output_shape, r.params, r.macs, r.flops) == (output, 0, 0, flops)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            "  - {kind: maxpool, name: q, kernel: 2, from: a}\n  - {kind: multiply, from: [a, q]}\n",
            "multiply needs inputs of the same shape, or a 1×1×C (or flat C) gate over an H×W×C map, "
            "got 14×14×40, 7×7×40",
        ),
        (
            "  - {kind: conv, name: g8, out: 8, kernel: 1, from: pool}\n  - {kind: multiply, from: [a, g8]}\n",
            "got 14×14×40, 1×1×8",
        ),
        (
            "  - {kind: conv, name: g8, out: 8, kernel: 1, from: pool}\n  - {kind: multiply, from: [flatgate, g8]}\n",
            "got 40, 1×1×8",
        ),
        ("  - {kind: multiply, from: a}\n", "multiply needs `from:` with a list of two or more inputs"),
        ("  - {kind: groupnorm, groups: 3}\n", "groupnorm: groups 3 must divide the channels 40"),
        ("  - {kind: groupnorm}\n", "groupnorm is missing required key 'groups'"),
        ("  - {kind: instancenorm, from: flatgate}\n", "instancenorm needs an H×W×C input, got the flat vector 40"),
        ("  - {kind: gelu, approximate: fast}\n", "approximate: expected one of none, tanh, got 'fast'"),
        ("  - {kind: stochastic_depth, p: 1.5}\n", "p: expected a number ≥ 0.0 and ≤ 1.0, got 1.5"),
        ("  - {kind: stochastic_depth, mode: sample}\n", "mode: expected one of row, batch, got 'sample'"),
        ("  - {kind: prelu, shared: 1}\n", "shared: expected true or false, got 1"),
        ("  - {kind: conv, out: 4, kernel: 1, activation: swish}\n", "activation: expected one of none, relu"),
    ],
)
def test_errors(layers, message):
    with pytest.raises(NetcalcError, match=re.escape(message)):
        netcalc.analyze(MULTIPLY + layers)


@pytest.mark.parametrize(
    ("activation", "params", "flops"),
    [  # conv 3×3, 16 → 32 channels on 8×8, bias: MACs 8·8·32·(3·3·16)
        ("hardswish", 3 * 3 * 16 * 32 + 32, 2 * (8 * 8 * 32 * 3 * 3 * 16) + 8 * 8 * 32 + 8 * 8 * 32),
        ("silu", 3 * 3 * 16 * 32 + 32, 2 * (8 * 8 * 32 * 3 * 3 * 16) + 8 * 8 * 32 + 8 * 8 * 32),
        ("gelu", 3 * 3 * 16 * 32 + 32, 2 * (8 * 8 * 32 * 3 * 3 * 16) + 8 * 8 * 32 + 8 * 8 * 32),
        ("prelu", 3 * 3 * 16 * 32 + 32 + 32, 2 * (8 * 8 * 32 * 3 * 3 * 16) + 8 * 8 * 32 + 8 * 8 * 32),
    ],
)
def test_fused_activation_on_conv(activation, params, flops):
    r = one_layer("conv", (8, 8, 16), out=32, kernel=3, padding=1, activation=activation)
    assert (r.params, r.macs, r.flops) == (params, 8 * 8 * 32 * (3 * 3 * 16), flops)


def test_fused_prelu_on_conv_transpose_and_fc():
    r = one_layer("conv_transpose", (4, 4, 8), out=16, kernel=2, stride=2, bias=False, activation="prelu")
    assert (r.output_shape, r.params) == ((8, 8, 16), 8 * 16 * 2 * 2 + 16)
    report = netcalc.analyze("input: 1x1x10\nlayers: [flatten, {kind: fc, name: fc, out: 5, activation: prelu}]")
    fc = row(report, "fc")
    assert (fc.params, fc.macs, fc.flops) == (10 * 5 + 5 + 5, 10 * 5, 2 * 10 * 5 + 5 + 5)


def test_convnext_block_figures():
    """torchvision's ConvNeXt-T CNBlock at stage 1 (96 channels, 56×56): dwconv 7×7, LayerNorm, Linear 96→384,
    GELU, Linear 384→96, layer scale, stochastic depth; parameters as torchvision counts them."""
    spec = """
input: 56x56x96
layers:
  - {kind: conv, name: dw, out: 96, kernel: 7, padding: 3, groups: 96}
  - {kind: layernorm, name: norm, eps: 1e-6}
  - {kind: conv, name: pw1, out: 384, kernel: 1, activation: gelu}
  - {kind: conv, name: pw2, out: 96, kernel: 1}
  - {kind: scale, name: layer_scale}
  - {kind: stochastic_depth, name: sd, p: 0.1}
  - {kind: add, name: out, from: [sd, input]}
"""
    report = netcalc.analyze(spec)
    # torchvision: sum(p.numel() for p in convnext_tiny().features[1][0].parameters())
    assert report.totals.params == (7 * 7 * 96 + 96) + 2 * 96 + (96 * 384 + 384) + (384 * 96 + 96) + 96
    assert report.totals.macs == 56 * 56 * 96 * 7 * 7 + 56 * 56 * 384 * 96 + 56 * 56 * 96 * 384


@pytest.mark.parametrize(
    ("kind", "attrs", "shape", "note"),
    [
        ("instancenorm", {}, (1, 1, 8), "each channel of 1×1×8 is normalised over a single value: the output is 0"),
        ("groupnorm", {"groups": 8}, (1, 1, 8), "each group of 1×1×8 is normalised over a single value: "
         "the output is β"),
        ("layernorm", {}, (4, 4, 1), "each pixel of 4×4×1 is normalised over a single value: the output is β"),
    ],
)
def test_a_normalisation_over_single_values_is_noted(kind, attrs, shape, note):
    assert one_layer(kind, shape, **attrs).notes == (note + " whatever the input",)


def test_two_values_per_statistic_are_not_noted():
    assert one_layer("groupnorm", (2, 1, 8), groups=8).notes == ()
    assert one_layer("instancenorm", (1, 2, 8)).notes == ()
    assert one_layer("layernorm", (4, 4, 2)).notes == ()
