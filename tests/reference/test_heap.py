"""The reference pass's memory settings (netcalc.reference.heap): freed blocks are reused without new page faults,
NumPy asks for no huge pages, and both are back as they were after the pass, with the memory returned. The
oracles are the operating system's own counters (getrusage's page faults, /proc/self/status) and NumPy's getter."""

from __future__ import annotations

import platform
import subprocess
import sys

import numpy as np
import pytest

import netcalc
from netcalc.reference import heap
from netcalc.reference.engine import run

# glibc by platform.libc_ver, not by heap's own finding: a heap that failed to find it must fail here, not skip
GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
linux_glibc = pytest.mark.skipif(not GLIBC, reason="glibc's allocator only")
# NumPy's switch looked up here, not by heap: NumPy 2 keeps it in numpy._core.multiarray, NumPy 1 in numpy.core
_multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
hugepage_switch = getattr(_multiarray, "_set_madvise_hugepage", None)
hugepage = pytest.mark.skipif(hugepage_switch is None, reason="this NumPy has no huge-page switch")
MIB = 1 << 20
PAGES_64_MIB = 64 * MIB // 4096  # faults a fresh 64 MiB block costs in 4 KiB pages


# In a fresh interpreter: what glibc does with a freed block depends on the heap this process has built up (a
# free chunk left by an earlier test is reused whatever the settings), so each figure is taken from a clean heap.
PROBE = """
import resource, sys
import numpy as np
from netcalc.reference import heap

switch = heap._numpy_hugepage_switch()
if switch:
    switch(False)  # count faults in 4 KiB pages outside the block too

def faults_of_64_mib():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(64 << 17)  # 64 MiB of float64: allocated, written, freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

def rss_mib():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS:")).split()[1]) / 1024

def in_brk_heap():  # is a new 64 MiB block inside the [heap] mapping (brk), rather than an mmap of its own?
    block = np.ones(64 << 17)
    with open("/proc/self/maps") as maps:
        low, high = next(line.split()[0] for line in maps if line.rstrip().endswith("[heap]")).split("-")
    return int(int(low, 16) <= block.ctypes.data < int(high, 16))

figures = [faults_of_64_mib(), faults_of_64_mib(), in_brk_heap()]
base = rss_mib()
with heap.reusing_freed_memory():
    figures += [faults_of_64_mib(), faults_of_64_mib(), in_brk_heap()]
    for _ in range(3):
        np.ones(96 << 17)
    figures.append(rss_mib() - base)
figures += [rss_mib() - base, faults_of_64_mib(), in_brk_heap()]
print(*figures)
"""


@linux_glibc
def test_inside_a_freed_block_is_reused_without_page_faults_and_after_it_the_memory_is_returned():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    before, again, heap_before, first_inside, reused_inside, heap_inside, kept_inside, kept_after, after, heap_after = (
        map(float, out.split())
    )
    # glibc's default: a block this large is a fresh mmap each time, faulted page by page
    assert before > PAGES_64_MIB // 2 and again > PAGES_64_MIB // 2 and heap_before == 0
    assert first_inside > PAGES_64_MIB // 2  # inside, the first one faults its pages in …
    assert reused_inside < PAGES_64_MIB // 20 and heap_inside == 1  # … and the next one reuses them, in the heap
    assert kept_inside > 90  # MiB kept while the block runs
    assert kept_after < 16  # handed back after it
    assert after > PAGES_64_MIB // 2 and heap_after == 0  # the defaults are back: its own mmap again


@hugepage
@pytest.mark.parametrize("setting", [True, False])
def test_numpy_asks_for_no_huge_pages_inside_and_its_setting_is_back_after(setting):
    previous = hugepage_switch(setting)
    try:
        with heap.reusing_freed_memory():
            assert np._core.multiarray._get_madvise_hugepage() is False
            with heap.reusing_freed_memory():  # a block inside another: only the outermost restores
                pass
            assert np._core.multiarray._get_madvise_hugepage() is False
        assert np._core.multiarray._get_madvise_hugepage() is setting
    finally:
        hugepage_switch(previous)


@hugepage
def test_settings_are_back_after_a_pass_that_fails():
    spec = "input: 4x4x2\nlayers:\n  - {kind: conv, name: c, out: 3, kernel: 5}\n"
    before = np._core.multiarray._get_madvise_hugepage()
    with pytest.raises(netcalc.NetcalcError):
        run(netcalc.parse_network_text(spec))
    assert np._core.multiarray._get_madvise_hugepage() is before
    assert heap._depth == 0


@linux_glibc
def test_on_glibc_the_allocator_is_found_in_the_process_itself():
    # platform.libc_ver reads the C library this interpreter links; heap must find the same one, with both calls
    assert heap._LIBC is not None
    assert hasattr(heap._LIBC, "mallopt") and hasattr(heap._LIBC, "malloc_trim")


@hugepage
def test_heap_finds_numpys_huge_page_switch():
    assert heap._numpy_hugepage_switch() is hugepage_switch
