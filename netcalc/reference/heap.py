"""Keep freed memory for reuse while the reference pass runs (glibc), instead of returning it to the kernel, and
fault it in plain 4 KiB pages.

glibc serves every allocation over its mmap threshold (at most 32 MiB) with a fresh `mmap` and gives it back
with `munmap` when freed. A pass allocates and frees such blocks layer after layer: VGG-16's im2col columns
(up to 115 MB), outputs, gradients. Each new block then costs a page fault per 4 KiB page again, and the faults
can cost as much as the arithmetic (VGG-16, 224×224: 274,000 faults, 1.07 GB, for a 0.65 GB peak; on a
virtual machine each fault is slower still). With `mmap` off and trimming deferred, a freed block stays in the
heap and the next layer's arrays reuse its pages already mapped: 168,000 faults, about the peak, and a pass
~0.2–0.4 s shorter (benchmarks/bench_verify.py). PyTorch users get the same from jemalloc or tcmalloc.

NumPy asks the kernel for transparent huge pages (`madvise`) on every array of 4 MiB or more. Where the kernel
must compact memory to find 2 MiB pages (THP "defrag" on madvise, its common default), the first touch of
VGG-16's 552 MB of weights took 0.07–1.0 s, against a steady 0.22–0.26 s in 4 KiB pages, and whole passes
1.3–3.1 s against 1.4–1.5 s (a 2-core VM, measured alternately). A pass that touches each page a few times
gains little from huge pages, so the pass turns NumPy's request off, and back on after.

`reusing_freed_memory` sets both for the duration of a pass and restores them after it, handing the memory
kept back to the kernel with `malloc_trim` (without it, 130 of VGG-16's 640 MB stayed with the process). Where
there is no glibc (musl, macOS, Windows) it leaves the allocator alone.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# mallopt parameters (glibc's malloc.h) and the defaults restored after the pass
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536
KEEP_ALL = 2**31 - 1  # the largest value mallopt takes: never trim during the pass


def _glibc() -> ctypes.CDLL | None:
    """The C library this process runs on, if it is glibc (it has `mallopt` and `malloc_trim`)."""
    if not sys.platform.startswith("linux"):
        return None
    try:  # the symbols already loaded into this process, libc's among them: no `ldconfig` subprocess to find it
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


def _numpy_hugepage_switch() -> Callable[[bool], bool] | None:
    """NumPy's `_set_madvise_hugepage` (it returns the previous setting), if this NumPy has it."""
    import numpy as np

    for module in ("_core", "core"):  # NumPy 2, NumPy 1
        switch = getattr(getattr(getattr(np, module, None), "multiarray", None), "_set_madvise_hugepage", None)
        if switch is not None:
            return switch
    return None


_depth = 0  # a pass run inside another block of this kind: only the outermost one restores


@contextmanager
def reusing_freed_memory() -> Iterator[None]:
    """Within the block, large blocks come from the heap, freed memory stays in it for reuse and NumPy asks for no
    huge pages; after it, glibc's and NumPy's settings are back and the memory kept is returned to the kernel."""
    global _depth
    outermost = _depth == 0
    hugepages = _numpy_hugepage_switch() if outermost else None
    was_huge = hugepages(False) if hugepages else False
    if outermost and _LIBC is not None:
        _LIBC.mallopt(M_MMAP_MAX, 0)
        _LIBC.mallopt(M_TRIM_THRESHOLD, KEEP_ALL)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if hugepages:
            hugepages(was_huge)
        if outermost and _LIBC is not None:
            _LIBC.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            _LIBC.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
            _LIBC.malloc_trim(0)
