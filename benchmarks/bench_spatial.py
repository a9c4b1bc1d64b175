"""Time the NumPy reference of the spatial and channel kinds on realistic large layers, forward + backward,
batch 1, float32, and put each next to the time of copying its input once (the least any of them can cost).

    python benchmarks/bench_spatial.py [--repeats 5]

Layers: FCN's bilinear ×8 upsampling of 28×28×21 to 224×224; YOLOv3's nearest ×2 of 13×13×256 and of
26×26×128; U-Net's first copy-and-crop (568×568×64 → 392×392); a reflect and a replicate pad of 224×224×64;
ShuffleNetV2's channel split and shuffle at 28×28×116; pixel shuffle/unshuffle by 2 at 112×112×64.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from netcalc.kinds import REGISTRY
from netcalc.language.spec import parse_network_text

CASES = [
    # (label, kind, attrs, input (C, H, W))
    ("FCN bilinear 28→224", "upsample", "{mode: bilinear, size: [224, 224]}", (21, 28, 28)),
    ("YOLOv3 nearest ×2, 13×13×256", "upsample", "{scale: 2}", (256, 13, 13)),
    ("YOLOv3 nearest ×2, 26×26×128", "upsample", "{scale: 2}", (128, 26, 26)),
    ("U-Net crop 568→392", "crop", "{size: [392, 392]}", (64, 568, 568)),
    ("reflect pad 3, 224×224×64", "pad", "{padding: 3, mode: reflect}", (64, 224, 224)),
    ("replicate pad 3, 224×224×64", "pad", "{padding: 3, mode: replicate}", (64, 224, 224)),
    ("channel_slice half, 28×28×116", "channel_slice", "{start: 58, end: 116}", (116, 28, 28)),
    ("channel_shuffle 2, 28×28×116", "channel_shuffle", "{groups: 2}", (116, 28, 28)),
    ("pixel_shuffle 2, 112×112×64", "pixel_shuffle", "{factor: 2}", (64, 112, 112)),
    ("pixel_unshuffle 2, 112×112×64", "pixel_unshuffle", "{factor: 2}", (64, 112, 112)),
]


def attrs_of(kind: str, attrs: str, chw: tuple[int, int, int]) -> dict:
    c, h, w = chw
    network = parse_network_text(f"input: {h}x{w}x{c}\nlayers:\n  - {{kind: {kind}, name: x, {attrs[1:-1]}}}\n")
    return dict(network.layers[0].attrs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'layer':34} {'forward':>10} {'backward':>10} {'copy of x':>10}   (median of {args.repeats}, float32)")
    for label, kind_name, text, chw in CASES:
        kind = REGISTRY[kind_name]
        attrs = attrs_of(kind_name, text, chw)
        x = rng.standard_normal((1, *chw), dtype=np.float32)
        forward, backward, copy = [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            y, cache = kind.forward((x,), {}, attrs, True)
            forward.append(time.perf_counter() - start)
            dy = np.ones_like(y)
            start = time.perf_counter()
            kind.backward(dy, cache)
            backward.append(time.perf_counter() - start)
            start = time.perf_counter()
            x.copy()
            copy.append(time.perf_counter() - start)
        ms = [1000 * statistics.median(t) for t in (forward, backward, copy)]
        print(f"{label:34} {ms[0]:8.2f}ms {ms[1]:8.2f}ms {ms[2]:8.2f}ms")


if __name__ == "__main__":
    main()
