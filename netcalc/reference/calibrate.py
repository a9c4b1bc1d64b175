"""Measure this machine's roofline with NumPy: GEMM throughput per dtype and streaming memory bandwidth.

- Peak FLOP/s per dtype: the best of several square matrix products (2·n³ FLOPs each) through NumPy's BLAS,
  which is what the reference pass runs its convolutions on (float16 has no BLAS kernel in NumPy, so it is
  measured too but is usually far slower than float32 — that is the truth of this machine for NumPy).
- Bandwidth: the best of several copies of a buffer far larger than any cache (bytes read + bytes written,
  divided by the time), the STREAM "copy" kernel.
The best of several runs, not the mean: a shared machine's noise only ever slows a run down.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import numpy as np

from netcalc.analysis.roofline import Device

GEMM_SIZES = {"float64": 1024, "float32": 1536, "float16": 256}
STREAM_BYTES = 256 * 2**20


def _best(seconds: float, repeats: int, run: Callable[[], None]) -> float:
    """The shortest of at least `repeats` timed calls of `run`, going on while under `seconds` in total."""
    best, spent, done = float("inf"), 0.0, 0
    while done < repeats or spent < seconds:
        start = time.perf_counter()
        run()
        took = time.perf_counter() - start
        best, spent, done = min(best, took), spent + took, done + 1
        if done >= 50 * repeats:
            break
    return best


def gemm_flops(dtype: str, seconds: float = 0.5) -> float:
    n = GEMM_SIZES[dtype]
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=out)  # warm up: threads started, pages touched
    return 2 * n**3 / _best(seconds, 3, lambda: np.matmul(a, b, out=out))


def stream_bandwidth(seconds: float = 0.5) -> float:
    source = np.ones(STREAM_BYTES // 8)
    target = np.empty_like(source)
    np.copyto(target, source)
    return 2 * source.nbytes / _best(seconds, 3, lambda: np.copyto(target, source))


def calibrate(seconds: float = 0.5, dtypes: tuple[str, ...] = ("float32", "float64", "float16")) -> Device:
    """This machine's profile, measured now (about `seconds` per figure)."""
    peaks = {dtype: gemm_flops(dtype, seconds) for dtype in dtypes}
    machine = f"{platform.node() or 'this machine'} ({platform.machine()}, NumPy {np.__version__})"
    return Device(
        name="calibrated",
        peak_flops=peaks,
        memory_bandwidth=stream_bandwidth(seconds),
        description=f"measured on {machine}",
        source=f"netcalc calibrate, {time.strftime('%Y-%m-%d %H:%M')}: best NumPy GEMM per dtype, best STREAM copy",
    )
