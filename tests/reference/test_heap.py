"""The reference pass's memory settings (netcalc.reference.heap): freed blocks are reused without new page faults,
NumPy asks for no huge pages, and both are back as they were after the pass, with the memory returned. The
oracles are the operating system's own counters (getrusage's page faults, /proc/self/status) and NumPy's getter."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

import netcalc
from netcalc.reference import heap
from netcalc.reference.engine import run

linux_glibc = pytest.mark.skipif(heap._LIBC is None, reason="glibc's allocator only")
hugepage_switch = heap._numpy_hugepage_switch()
hugepage = pytest.mark.skipif(hugepage_switch is None, reason="this NumPy has no huge-page switch")
MIB = 1 << 20
PAGES_64_MIB = 64 * MIB // 4096  # faults a fresh 64 MiB block costs in 4 KiB pages


def faults_of(make) -> int:
    """Minor page faults this process takes while `make` runs."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    make()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def touch_64_mib() -> None:
    np.ones(64 * MIB // 8)  # allocated, written, freed


@linux_glibc
def test_a_freed_block_is_reused_without_new_page_faults_inside_and_faulted_anew_outside():
    previous = hugepage_switch(False) if hugepage_switch else False  # count faults in 4 KiB pages outside too
    try:
        touch_64_mib()
        assert faults_of(touch_64_mib) > PAGES_64_MIB // 2  # glibc's default: a fresh mmap each time
        with heap.reusing_freed_memory():
            touch_64_mib()  # the first one faults its pages in
            assert faults_of(touch_64_mib) < PAGES_64_MIB // 20  # the second reuses them
        assert faults_of(touch_64_mib) > PAGES_64_MIB // 2  # defaults back after the block
    finally:
        if hugepage_switch:
            hugepage_switch(previous)


@linux_glibc
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_the_memory_kept_during_the_block_is_returned_after_it():
    before = rss_mib()
    with heap.reusing_freed_memory():
        for _ in range(3):
            np.ones(96 * MIB // 8)
        assert rss_mib() > before + 90  # kept while the block runs
    assert rss_mib() < before + 16


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
