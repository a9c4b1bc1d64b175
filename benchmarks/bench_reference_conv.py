"""Time VGG16's conv stack (13 conv3×3 pad 1 + ReLU, 5 max pools 2×2) at 224×224, batch 1, forward + backward,
through the NumPy reference primitives.

Prints, per dtype: the wall time of the whole pass, the time inside `gemm` (np.matmul) alone, what im2col/col2im,
pooling and ReLU add on top, the counted MACs, and the peak traced memory (tracemalloc, in a separate run so
tracing does not slow the timed one). Target: everything else adds at most 30% over the GEMM time; peak < 2 GiB.

"first" is the first pass in the process: it pays for first-touch page faults of every fresh buffer and is the
figure a one-shot `netcalc` run sees; "best" and "median" are steady state. On a shared machine the GEMM rate
itself varies several-fold between runs: compare ratios within one run, and repeat.

    python benchmarks/bench_reference_conv.py [--dtype float32|float64 ...] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from netcalc.reference.conv import conv_backward, conv_forward
from netcalc.reference.gemm import count_macs
from netcalc.reference.pool import max_pool_backward, max_pool_forward

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG16_CONV_MACS = sum(  # the analysis' figure: H·W·COUT·(CIN·3·3) per conv layer
    size * size * cout * (cin * 3 * 3)
    for size, cin, cout in [
        (224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128),
        (56, 128, 256), (56, 256, 256), (56, 256, 256),
        (28, 256, 512), (28, 512, 512), (28, 512, 512),
        (14, 512, 512), (14, 512, 512), (14, 512, 512),
    ]
)  # fmt: skip
GiB = 1024**3


def make_weights(dtype: np.dtype, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray] | None]:
    rng = np.random.default_rng(seed)
    weights: list[tuple[np.ndarray, np.ndarray] | None] = []
    cin = 3
    for item in VGG16:
        if item == "M":
            weights.append(None)
            continue
        scale = np.sqrt(2.0 / (cin * 9))  # He init keeps activations O(1) through 13 layers
        w = (rng.standard_normal((item, cin, 3, 3)) * scale).astype(dtype)
        weights.append((w, np.zeros(item, dtype=dtype)))
        cin = item
    return weights


def one_pass(weights: list, dtype: np.dtype, times: dict[str, float]) -> tuple[int, int]:
    """Forward then backward through the stack; adds seconds per category into `times`; returns (fwd, bwd) MACs."""
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(dtype)
    caches = []
    with count_macs() as forward:
        for layer in weights:
            start = time.perf_counter()
            if layer is None:
                x, cache = max_pool_forward(x, 2, 2)
                times["pool"] += time.perf_counter() - start
                caches.append(("pool", cache))
                continue
            x, cache = conv_forward(x, layer[0], layer[1], 1, 1)
            mid = time.perf_counter()
            np.maximum(x, 0, out=x)  # ReLU in place; its output is its cache
            times["relu"] += time.perf_counter() - mid
            times["conv"] += mid - start
            caches.append(("conv", (cache, x)))
    dy = np.ones_like(x)
    del x
    with count_macs() as backward:
        while caches:
            kind, cache = caches.pop()  # pop: each cache is freed as soon as its layer is done
            start = time.perf_counter()
            if kind == "pool":
                dy = max_pool_backward(dy, cache)
                times["pool"] += time.perf_counter() - start
                continue
            conv_cache, y = cache
            dy *= y > 0
            mid = time.perf_counter()
            times["relu"] += mid - start
            dy, _, _ = conv_backward(dy, conv_cache)
            times["conv"] += time.perf_counter() - mid
            del cache, conv_cache, y
    times["gemm"] += forward.seconds + backward.seconds
    return forward.macs, backward.macs


def bench(dtype_name: str, repeats: int) -> None:
    dtype = np.dtype(dtype_name)
    weights = make_weights(dtype)
    runs = []
    for _ in range(repeats):
        times: dict[str, float] = defaultdict(float)
        start = time.perf_counter()
        fwd, bwd = one_pass(weights, dtype, times)
        times["total"] = time.perf_counter() - start
        runs.append(times)
    assert fwd == VGG16_CONV_MACS, (fwd, VGG16_CONV_MACS)
    assert bwd == 2 * VGG16_CONV_MACS, bwd  # dw and dx per layer (dx of the image too: the primitive always makes it)
    tracemalloc.start()
    one_pass(weights, dtype, defaultdict(float))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"VGG16 conv stack, 224×224, batch 1, {dtype_name}, forward + backward ({repeats} runs)")
    print(f"  MACs counted: forward {fwd:,} (= analysis {VGG16_CONV_MACS:,}), backward {bwd:,}")
    by_total = sorted(runs, key=lambda t: t["total"])
    for label, times in (("first", runs[0]), ("best", by_total[0]), ("median", by_total[len(runs) // 2])):
        total, gemm = times["total"], times["gemm"]
        im2col = times["conv"] - gemm
        other = total - times["conv"] - times["pool"] - times["relu"]
        print(
            f"  {label:6}: total {total:6.3f} s   gemm {gemm:6.3f} s ({(fwd + bwd) / gemm / 1e9:5.1f} GMAC/s)   "
            f"im2col/col2im/bias {im2col:5.3f} s   pool {times['pool']:5.3f} s   relu {times['relu']:5.3f} s   "
            f"other {other:5.3f} s   overhead over gemm {100 * (total - gemm) / gemm:5.1f}%"
        )
    print(f"  peak traced memory {peak / GiB:.3f} GiB (target < 2 GiB)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", action="append", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    for dtype_name in args.dtype or ["float32", "float64"]:
        bench(dtype_name, args.repeats)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(f"process peak RSS {rss / GiB:.3f} GiB (ru_maxrss, whole process incl. interpreter and all runs)")


if __name__ == "__main__":
    main()
