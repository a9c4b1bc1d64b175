"""Independent oracle for the values of netcalc's spatial and channel kinds, computed by PyTorch itself.

A standalone script, not part of the package; it needs torch and torchvision (netcalc never depends on them):

    /work/venvs/torch/bin/python tools/spatial_values_oracle.py     # writes tests/data/spatial_values.json

Each case is one netcalc layer (kind and attributes, as a spec writes them) and the PyTorch computation that
should give the same numbers: F.pad in every mode (asymmetric), F.interpolate (nearest, bilinear with and without
align_corners, by scale and by size), F.pixel_shuffle / F.pixel_unshuffle, nn.ChannelShuffle (checked against
torchvision's ShuffleNetV2 channel_shuffle), torchvision's center_crop, and conv2d / conv_transpose2d /
max_pool2d / avg_pool2d with asymmetric or TensorFlow-SAME padding written as an explicit F.pad (or, for the
transposed convolution, as a crop of its output), since PyTorch's own modules only pad symmetrically.

Inputs, weights and the upstream gradient are deterministic, so the JSON need not store them:
    array(shape, salt) = sin(0.37 · k + salt) for k = 0, 1, … in C order, float64
with salt 0.5 for the input, 1.1 for a weight, 2.3 for a bias and 3.7 for dL/dy. The JSON stores, per case,
y = f(x) and the gradients of L = Σ y · dy with respect to the input and to every weight, each flattened in C
order and rounded to 10 significant digits.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.shufflenetv2 import channel_shuffle as torchvision_channel_shuffle
from torchvision.transforms.functional import center_crop

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "spatial_values.json"
SALTS = {"x": 0.5, "weight": 1.1, "bias": 2.3, "dy": 3.7}


def array(shape: tuple[int, ...], salt: float) -> torch.Tensor:
    k = np.arange(math.prod(shape), dtype=np.float64)
    return torch.from_numpy(np.sin(0.37 * k + salt).reshape(shape))


def tf_same(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (tf.nn docs, "padding"): out = ceil(size / stride),
    pad_total = max((out − 1)·stride + kernel − size, 0), pad_before = pad_total // 2."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def lrtb(top: int, bottom: int, left: int, right: int) -> tuple[int, int, int, int]:
    """F.pad's order for the last two axes: (left, right, top, bottom)."""
    return (left, right, top, bottom)


NEG = -math.inf
# (name, netcalc layer, input N×C×H×W, {weight name: shape}, torch function of (x, weights))
TF_H, TF_W = tf_same(6, 3, 2), tf_same(7, 3, 2)  # (0, 1) and (1, 1)
TFP_H, TFP_W = tf_same(5, 3, 2), tf_same(6, 3, 2)  # (1, 1) and (0, 1)
CASES = [
    ("pad-zeros", {"kind": "pad", "padding": [1, 2, 0, 3]}, (1, 2, 3, 4), {}, lambda x, p: F.pad(x, lrtb(1, 2, 0, 3))),
    (
        "pad-value",
        {"kind": "pad", "padding": [2, 0, 1, 1], "value": 1.5},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.pad(x, lrtb(2, 0, 1, 1), value=1.5),
    ),
    (
        "pad-reflect",
        {"kind": "pad", "padding": [2, 1, 1, 3], "mode": "reflect"},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.pad(x, lrtb(2, 1, 1, 3), mode="reflect"),
    ),
    (
        "pad-replicate",
        {"kind": "pad", "padding": [3, 0, 2, 1], "mode": "replicate"},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.pad(x, lrtb(3, 0, 2, 1), mode="replicate"),
    ),
    (
        "nearest-scale",
        {"kind": "upsample", "scale": 2},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.interpolate(x, scale_factor=2, mode="nearest"),
    ),
    (
        "nearest-scale-3x2",
        {"kind": "upsample", "scale": [3, 2]},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.interpolate(x, scale_factor=(3, 2), mode="nearest"),
    ),
    (
        "nearest-size",
        {"kind": "upsample", "size": [7, 5]},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.interpolate(x, size=(7, 5), mode="nearest"),
    ),
    (
        "bilinear-scale",
        {"kind": "upsample", "mode": "bilinear", "scale": 2},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
    ),
    (
        "bilinear-size",
        {"kind": "upsample", "mode": "bilinear", "size": [5, 7]},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False),
    ),
    (
        "bilinear-shrink",
        {"kind": "upsample", "mode": "bilinear", "size": [2, 3]},
        (1, 2, 3, 5),
        {},
        lambda x, p: F.interpolate(x, size=(2, 3), mode="bilinear", align_corners=False),
    ),
    (
        "bilinear-align-scale",
        {"kind": "upsample", "mode": "bilinear", "scale": 3, "align_corners": True},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.interpolate(x, scale_factor=3, mode="bilinear", align_corners=True),
    ),
    (
        "bilinear-align-size",
        {"kind": "upsample", "mode": "bilinear", "size": [5, 7], "align_corners": True},
        (1, 2, 3, 4),
        {},
        lambda x, p: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True),
    ),
    (
        "pixel-shuffle",
        {"kind": "pixel_shuffle", "factor": 2},
        (1, 8, 2, 3),
        {},
        lambda x, p: F.pixel_shuffle(x, 2),
    ),
    (
        "pixel-unshuffle",
        {"kind": "pixel_unshuffle", "factor": 2},
        (1, 2, 4, 6),
        {},
        lambda x, p: F.pixel_unshuffle(x, 2),
    ),
    (
        "channel-shuffle",
        {"kind": "channel_shuffle", "groups": 3},
        (1, 6, 2, 2),
        {},
        lambda x, p: nn.ChannelShuffle(3)(x),
    ),
    (
        "channel-slice",
        {"kind": "channel_slice", "start": 1, "end": 4},
        (1, 5, 2, 3),
        {},
        lambda x, p: x[:, 1:4],
    ),
    (
        "channel-pad",
        {"kind": "channel_pad", "before": 2, "after": 1},
        (1, 3, 2, 2),
        {},
        lambda x, p: F.pad(x, (0, 0, 0, 0, 2, 1)),  # the ResNet-20 option-A shortcut's F.pad
    ),
    (
        "subsample",
        {"kind": "subsample", "stride": 2},
        (1, 2, 5, 4),
        {},
        lambda x, p: x[:, :, ::2, ::2],
    ),
    (
        "crop-centre",
        {"kind": "crop", "size": [2, 4]},
        (1, 2, 6, 6),
        {},
        lambda x, p: center_crop(x, [2, 4]),
    ),
    (
        "conv-asymmetric",
        {"kind": "conv", "out": 3, "kernel": 3, "stride": 2, "padding": [0, 1, 1, 2]},
        (1, 2, 5, 6),
        {"weight": (3, 2, 3, 3), "bias": (3,)},
        lambda x, p: F.conv2d(F.pad(x, lrtb(0, 1, 1, 2)), p["weight"], p["bias"], stride=2),
    ),
    (
        "conv-same-even-kernel",
        {"kind": "conv", "out": 2, "kernel": 2, "padding": "same", "bias": False},
        (1, 2, 4, 5),
        {"weight": (2, 2, 2, 2)},
        lambda x, p: F.conv2d(x, p["weight"], padding="same"),
    ),
    (
        "conv-tf-same-stride-2",
        {"kind": "conv", "out": 2, "kernel": 3, "stride": 2, "padding": "same"},
        (1, 2, 6, 7),
        {"weight": (2, 2, 3, 3), "bias": (2,)},
        lambda x, p: F.conv2d(F.pad(x, lrtb(*TF_H, *TF_W)), p["weight"], p["bias"], stride=2),
    ),
    (
        "conv-transpose-asymmetric",
        {"kind": "conv_transpose", "out": 2, "kernel": 3, "stride": 2, "padding": [0, 1, 1, 1], "bias": False},
        (1, 3, 3, 4),
        {"weight": (3, 2, 3, 3)},
        # the full transposed convolution is 7×9; padding [top 0, bottom 1, left 1, right 1] removes those rows
        lambda x, p: F.conv_transpose2d(x, p["weight"], stride=2)[:, :, 0 : 7 - 1, 1 : 9 - 1],
    ),
    (
        "maxpool-asymmetric",
        {"kind": "maxpool", "kernel": 3, "stride": 2, "padding": [1, 0, 0, 1]},
        (1, 2, 5, 6),
        {},
        lambda x, p: F.max_pool2d(F.pad(x, lrtb(1, 0, 0, 1), value=NEG), 3, 2),
    ),
    (
        "maxpool-tf-same",
        {"kind": "maxpool", "kernel": 3, "stride": 2, "padding": "same"},
        (1, 2, 5, 6),
        {},
        lambda x, p: F.max_pool2d(F.pad(x, lrtb(*TFP_H, *TFP_W), value=NEG), 3, 2),
    ),
    (
        "avgpool-asymmetric",
        {"kind": "avgpool", "kernel": 3, "stride": 2, "padding": [1, 0, 0, 1]},
        (1, 2, 5, 6),
        {},
        lambda x, p: F.avg_pool2d(F.pad(x, lrtb(1, 0, 0, 1)), 3, 2),
    ),
    (
        "avgpool-asymmetric-exclude-pad",
        {"kind": "avgpool", "kernel": 3, "stride": 2, "padding": [0, 1, 1, 1], "count_include_pad": False},
        (1, 2, 5, 6),
        {},
        # TensorFlow's average: the sum over the real pixels divided by their count
        lambda x, p: (
            F.avg_pool2d(F.pad(x, lrtb(0, 1, 1, 1)), 3, 2)
            / F.avg_pool2d(F.pad(torch.ones_like(x), lrtb(0, 1, 1, 1)), 3, 2)
        ),
    ),
]


def flat(t: torch.Tensor) -> list[float]:
    return [float(f"{v:.10g}") for v in t.detach().reshape(-1).tolist()]


def run_case(layer: dict, shape: tuple[int, ...], weights: dict, fn) -> dict:
    x = array(shape, SALTS["x"]).requires_grad_(True)
    params = {name: array(s, SALTS[name]).requires_grad_(True) for name, s in weights.items()}
    y = fn(x, params)
    dy = array(tuple(y.shape), SALTS["dy"])
    (y * dy).sum().backward()
    return {
        "layer": layer,
        "input": list(shape),
        "weights": {name: list(s) for name, s in weights.items()},
        "output": list(y.shape),
        "y": flat(y),
        "grads": {"input": flat(x.grad), **{name: flat(p.grad) for name, p in params.items()}},
    }


def main() -> None:
    torch.set_default_dtype(torch.float64)
    probe = array((1, 6, 2, 2), 0.0)
    assert torch.equal(nn.ChannelShuffle(3)(probe), torchvision_channel_shuffle(probe, 3))
    cases = {name: run_case(layer, shape, weights, fn) for name, layer, shape, weights, fn in CASES}
    data = {
        "source": f"torch {torch.__version__}, torchvision {torchvision.__version__}; tools/spatial_values_oracle.py",
        "arrays": "sin(0.37·k + salt), k = 0, 1, … in C order, float64",
        "salts": SALTS,
        "cases": cases,
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
