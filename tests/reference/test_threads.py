"""Copies split over threads (netcalc.reference.threads) give exactly the single-threaded arrays, and the split
itself: contiguous runs covering every item once, one run for small work."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from netcalc.reference import threads
from netcalc.reference.engine import PERIOD, _layer_stream, _uniform
from netcalc.reference.im2col import col2im, im2col


def test_runs_are_contiguous_cover_every_item_once_and_small_work_stays_whole(monkeypatch):
    monkeypatch.setattr(threads, "WORKERS", 3)
    assert threads.parts(range(10), threads.MIN_BYTES) == [range(0, 3), range(3, 6), range(6, 10)]  # 10·k // 3
    assert threads.parts(range(2), threads.MIN_BYTES) == [range(0, 1), range(1, 2)]  # never an empty run
    assert threads.parts(range(10), threads.MIN_BYTES - 1) == [range(10)]
    assert threads.parts([], threads.MIN_BYTES) == [[]]


def test_an_error_in_a_run_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(threads, "WORKERS", 2)

    def work(run):
        if 3 in run:
            raise ValueError("run with 3")

    with pytest.raises(ValueError, match="run with 3"):
        threads.run_parts(work, range(4), threads.MIN_BYTES)


@pytest.fixture
def split_everything(monkeypatch):
    """Every copy split into three runs, however small, to compare with one thread."""

    def single_and_split(compute):
        monkeypatch.setattr(threads, "WORKERS", 1)
        single = compute()
        monkeypatch.setattr(threads, "WORKERS", 3)
        monkeypatch.setattr(threads, "MIN_BYTES", 0)
        return single, compute()

    return single_and_split


@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "padding", "dilation"),
    [((2, 7, 9, 8), 3, 1, 1, 1), ((1, 5, 10, 11), (3, 2), 2, (1, 0, 2, 1), 2), ((3, 4, 6, 6), 5, 1, 2, 1)],
)
def test_im2col_and_col2im_split_over_threads_are_exactly_the_single_threaded_ones(
    split_everything, shape, kernel, stride, padding, dilation
):
    x = np.random.default_rng(1).standard_normal(shape)
    single, split = split_everything(lambda: im2col(x, kernel, stride, padding, dilation))
    assert np.array_equal(single, split)
    back_single, back_split = split_everything(lambda: col2im(single, shape, kernel, stride, padding, dilation))
    assert np.array_equal(back_single, back_split)


@pytest.mark.parametrize("shape", [(3, PERIOD // 2 + 5), (2 * PERIOD + 1,)])  # the second ends on one element
def test_seeded_weights_tiled_over_threads_are_the_single_threaded_ones(split_everything, shape):
    # larger than one period: the tail repeats the drawn block
    single, split = split_everything(lambda: _uniform(_layer_stream(0, 7), shape, "float32", 0.5))
    assert np.array_equal(single, split)
    flat = split.reshape(-1)
    assert np.array_equal(flat[PERIOD:], flat[: flat.size - PERIOD])  # element i is element i mod PERIOD


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_splits_copies_with_threads_of_its_own(monkeypatch):
    import netcalc.reference.im2col

    monkeypatch.setattr(threads, "MIN_BYTES", 0)
    monkeypatch.setattr(threads, "WORKERS", 2)
    monkeypatch.setattr(netcalc.reference.im2col, "_BLOCK_BYTES", 1)  # a block per channel: runs on 2 threads
    x = np.random.default_rng(2).standard_normal((1, 6, 5, 5))
    expected = im2col(x, 3, 1, 1)  # the parent's pool now exists
    both = threading.Barrier(2)
    threads.run_parts(lambda run: both.wait(5), [1, 2], 0)  # and has started both of its threads, now idle
    pid = os.fork()
    if pid == 0:  # the child: the same split must finish (it used to wait forever for the parent's threads)
        os._exit(0 if np.array_equal(im2col(x, 3, 1, 1), expected) else 1)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("the forked child hung on the parent's thread pool")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(done[1]) == 0
