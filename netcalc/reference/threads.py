"""Large memory-bound copies of the reference pass, split over the machine's cores.

The GEMMs already run on every core (BLAS). What is left between them is NumPy copying memory on one thread:
im2col's and col2im's strided slices, and tiling the seeded weights (whose first touch of fresh pages is most of
their cost). NumPy releases the GIL while it copies, so a few threads, each on its own part of the array, do
these copies in parallel: on a 2-core machine the first touch of VGG-16's 553 MB of weights took 0.14–0.17 s
on two threads against 0.25–0.27 s on one. Each part writes only its own elements, so the result is exactly
the single-threaded one. Small arrays, where starting the work costs more than it saves, stay on one thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import TypeVar

T = TypeVar("T")

WORKERS = max(1, min(4, os.cpu_count() or 1))
MIN_BYTES = 8 << 20  # below this a copy stays on one thread

_pool: ThreadPoolExecutor | None = None


def _forget_pool() -> None:
    # a forked child (mutmut, multiprocessing) inherits the pool but not its threads: work submitted to it would
    # wait forever for workers that do not exist, so the child starts a pool of its own
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def parts(items: Sequence[T], nbytes: int) -> list[Sequence[T]]:
    """`items` cut into at most `WORKERS` contiguous runs of about equal length; one run when the work is under
    `MIN_BYTES`."""
    count = min(len(items), WORKERS if nbytes >= MIN_BYTES else 1)
    if count <= 1:
        return [items]
    bounds = [len(items) * k // count for k in range(count + 1)]
    return [items[lo:hi] for lo, hi in pairwise(bounds)]  # count ≤ len(items): no run is empty


def run_parts(work: Callable[[Sequence[T]], None], items: Sequence[T], nbytes: int) -> None:
    """`work(run)` for each run of `parts(items, nbytes)`, the runs in parallel; returns when all are done and
    raises the first error any of them raised."""
    global _pool
    runs = parts(items, nbytes)
    if len(runs) == 1:
        work(runs[0])
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="netcalc-copy")
    for future in [_pool.submit(work, run) for run in runs]:
        future.result()
