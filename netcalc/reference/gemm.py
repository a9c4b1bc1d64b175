"""The one counting point for multiply-accumulates.

Every primitive that multiplies and accumulates (convolution, transposed convolution, fully connected; forward and
backward) calls `gemm`, which runs `np.matmul` and adds m·k·n MACs (times the batch size for a batched product) to
every open counter.

Counters nest: a `gemm` call is added to *all* open counters, innermost to outermost, so

    with count_macs() as total:
        y, cache = conv_forward(...)
        with count_macs() as back:
            dx, dw, db = conv_backward(dy, cache)
    forward_macs = total.macs - back.macs

and opening one counter around forward and another around backward counts the two passes apart. A counter
closed out of order (e.g. by an exception) is removed by identity, so it never corrupts the others.
Counting is per process and not thread-safe; the reference runs on one thread (BLAS threads are below us).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = ["MacCounter", "count_macs", "gemm", "gemm_macs"]


@dataclass
class MacCounter:
    """MACs and wall time spent in `gemm` while this counter was open.

    `macs` is a plain int (exact for any size); `calls` counts `gemm` invocations; `seconds` is the wall time
    inside `np.matmul`, so a benchmark can tell GEMM time from im2col/col2im overhead.
    """

    macs: int = 0
    calls: int = 0
    seconds: float = 0.0


_open: list[MacCounter] = []


@contextmanager
def count_macs() -> Iterator[MacCounter]:
    """Open a fresh `MacCounter` for the `with` block; nested counters all see the inner block's MACs."""
    counter = MacCounter()
    _open.append(counter)
    try:
        yield counter
    finally:
        # remove by identity, not pop(): safe even if counters are closed out of order
        for i in range(len(_open) - 1, -1, -1):
            if _open[i] is counter:
                del _open[i]
                break


def gemm_macs(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> int:
    """MACs of `a @ b` for a (..., M, K) and b (..., K, N): batch · M · K · N, batch dims broadcast."""
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError(f"gemm needs 2-D or batched operands, got {a_shape} and {b_shape}")
    m, k = a_shape[-2:]
    k2, n = b_shape[-2:]
    if k != k2:
        raise ValueError(f"gemm inner dimensions differ: {a_shape} @ {b_shape}")
    batch = math.prod(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
    return batch * m * k * n


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`a @ b` for a (..., M, K), b (..., K, N) -> (..., M, N), counting batch·M·K·N MACs in every open counter.

    Batch dimensions broadcast as in `np.matmul`. `out`, if given, receives the product (saves an allocation).
    """
    macs = gemm_macs(a.shape, b.shape)
    start = time.perf_counter()
    # K = 1 is an outer product (fc's dW at batch 1), which a broadcast multiply does many times faster than BLAS.
    outer = a.shape[-1] == 1 and a.ndim == b.ndim == 2
    y = np.multiply(a, b, out=out) if outer else np.matmul(a, b, out=out)
    seconds = time.perf_counter() - start
    for counter in _open:
        counter.macs += macs
        counter.calls += 1
        counter.seconds += seconds
    return y
