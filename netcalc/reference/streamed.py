"""Weights too large to be worth holding, made from their drawn block when they are used.

A seeded weight larger than `PERIOD` values repeats its first `PERIOD` values (`engine._uniform`: element i is
element i mod PERIOD). Such a weight is fully described by that block and its shape, so a reference pass that
does not keep its weights need not hold it: `RepeatingMatrix` fills any run of rows (the first axis; a row is
everything after it) from the block on demand. Two ways to use one:

- a block of rows of about `BLOCK_BYTES` at a time, each a view of one small array that stays in the cache
  (`row_views`). An fc layer multiplies block by block, and its weight gradient is made block by block too and
  only checked (`GradientSummary`: finite, not all zero), never held. For VGG-16's fc6 (4096 × 25088, 411 MB)
  that saves the 411 MB of the weight and the first touch of their pages, which cost more than the products
  themselves: the layer's forward and backward in 0.06 s instead of 0.12 s from reused memory and 0.33 s from
  fresh pages (2-core VM, float32);
- whole, for the length of one GEMM (`np.asarray`): a convolution makes its weight in its forward and again in
  its backward, in memory the previous layer freed (`netcalc.reference.heap`), instead of holding it in fresh
  pages from one to the other. Copying the block runs at memory speed; a fresh page costs its first touch,
  and all of a network's weights are held at once at the start of the backward, the pass's peak.

The products and their MAC counts are those of the whole matrix; only the order of dx's sums over rows differs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BLOCK_BYTES", "PERIOD", "GradientSummary", "RepeatingMatrix", "block_rows", "block_values", "repeats"]

# Values drawn per array: a prime, so an array larger than this repeats them shifted, never aligned to a row. It is
# wider than any row of the zoo (VGG's fc6 has 25,088) and small enough that drawing it is cheap beside
# copying it: ResNet-50 draws 3.3M values instead of 20M, each ~10× dearer than a copied one.
PERIOD = 65_521  # the largest prime below 2¹⁶
BLOCK_BYTES = 1 << 20  # rows handed out at a time: with the gradient's block beside them, about an L2 cache


def repeats(shape: tuple[int, ...]) -> bool:
    """A weight of this shape (rows along the first axis, two axes or more) is drawn as repetitions of
    `PERIOD` values, so it can be streamed."""
    return len(shape) >= 2 and math.prod(shape) > PERIOD


def block_rows(cols: int, itemsize: int) -> int:
    """Rows of `cols` values handed out at a time: about `BLOCK_BYTES`, at least one."""
    return max(1, BLOCK_BYTES // max(1, cols * itemsize))


def block_values(shape: tuple[int, ...], itemsize: int) -> int:
    """Values in the largest block of rows a weight of `shape` is handed out in (its rows along the first axis)."""
    cols = math.prod(shape[1:])
    return min(shape[0], block_rows(cols, itemsize)) * cols


class RepeatingMatrix:
    """An array whose row-major values repeat `block`: m.flat[i] = block[i mod len(block)]. Its rows are its
    first axis, each of `cols` values (the product of the others): a conv weight (COUT, C/G, KH, KW) is the
    (COUT, C/G·KH·KW) matrix its GEMMs take.

    It quacks as far as the engine needs (`shape`, `dtype`, `size`, `nbytes`, `ndim`) and becomes the whole
    array only through `np.asarray`; `row_views` and `rows` give it a block of rows at a time."""

    def __init__(self, block: np.ndarray, shape: tuple[int, ...]) -> None:
        if block.ndim != 1 or not block.size or len(shape) < 2:
            raise ValueError(f"a repeating matrix needs a 1-D block and two axes or more, got {block.shape}, {shape}")
        self.block = block
        self.shape = tuple(int(d) for d in shape)
        self.dtype = block.dtype
        self.ndim = len(self.shape)
        self.cols = math.prod(self.shape[1:])
        self.size = self.shape[0] * self.cols
        self.nbytes = self.size * block.itemsize

    def __repr__(self) -> str:
        return f"RepeatingMatrix({self.shape}, {self.dtype}, period {self.block.size})"

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows start … stop − 1, (stop − start, cols), a new array."""
        if not 0 <= start <= stop <= self.shape[0]:
            raise IndexError(f"rows {start}:{stop} of a matrix of {self.shape[0]}")
        return self._cycle(start * self.cols, (stop - start) * self.cols).reshape(stop - start, self.cols)

    def _cycle(self, first: int, count: int) -> np.ndarray:
        """Flat values first … first + count − 1, a new array: the block from offset first mod PERIOD, and again
        from its start each time the period wraps."""
        flat = np.empty(count, dtype=self.dtype)
        period = self.block.size
        done, pos = 0, first % period
        while done < count:
            take = min(count - done, period - pos)
            flat[done : done + take] = self.block[pos : pos + take]
            done, pos = done + take, 0
        return flat

    def block_values(self) -> int:
        """Values in the largest block of rows `row_blocks` hands out."""
        return block_values(self.shape, self.block.itemsize)

    def row_buffer(self, dtype: Any = None) -> np.ndarray:
        """An empty (rows, cols) array as large as the largest block of rows `row_blocks` hands out, of `dtype`
        (default the matrix's): room for any block of rows of the gradient."""
        return np.empty((self.block_values() // self.cols, self.cols), dtype=self.dtype if dtype is None else dtype)

    def row_views(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """(start, stop, rows start … stop − 1) for each block of `row_blocks`, the rows read-only views of one
        array made for the walk: the drawn block followed by its first `block_values` values again. A block of
        rows starts at offset (start·cols) mod PERIOD of the period and runs on for at most `block_values`, so it
        lies in that array unbroken: no row is copied (fc6's 411 MB were, through a 1 MiB buffer, twice a pass)."""
        wrapped = self._cycle(0, self.block.size + self.block_values())
        wrapped.flags.writeable = False
        for start, stop in self.row_blocks():
            pos = start * self.cols % self.block.size
            yield start, stop, wrapped[pos : pos + (stop - start) * self.cols].reshape(stop - start, self.cols)

    def row_blocks(self) -> Iterator[tuple[int, int]]:
        """(start, stop) of consecutive runs of rows of about `BLOCK_BYTES` each (at least one row)."""
        step = block_rows(self.cols, self.block.itemsize)
        for start in range(0, self.shape[0], step):
            yield start, min(self.shape[0], start + step)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = self.rows(0, self.shape[0]).reshape(self.shape)
        return whole if dtype is None else whole.astype(dtype, copy=False)


@dataclass
class GradientSummary:
    """What the checks read of a gradient made block by block and never held: its shape, and whether any value
    was NaN or infinite (`finite`) or every value zero (`zero`)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    finite: bool = True
    zero: bool = True

    def add(self, block: np.ndarray) -> None:
        """Fold in the next block: one summing pass (NaN and ±infinity survive a sum); the exact elementwise
        tests only when the sum overflowed from finite values, or when it is zero."""
        with np.errstate(all="ignore"):
            total = np.add.reduce(block, axis=None)
        if not np.isfinite(total) and not np.isfinite(block).all():
            self.finite = False
        if self.zero and (total != 0 or block.any()):
            self.zero = False
