"""Sliding-window arithmetic shared by convolution and pooling: output size, `same` padding, unread pixels.

Padding is (top, bottom, left, right) throughout; `same` is TensorFlow's SAME (see `same_sides`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from netcalc.errors import ShapeError
from netcalc.kinds.base import ShapeDependent, Sides
from netcalc.shapes import Shape, is_spatial

AXES = ("height", "width")


def window_output(
    size: int,
    kernel: int,
    stride: int,
    pad: int | tuple[int, int],
    dilation: int,
    *,
    ceil_mode: bool = False,
    axis: str = "height",
) -> int:
    """⌊(H + Pb + Pa − D·(K−1) − 1)/S⌋ + 1 with Pb, Pa the padding before and after (P, P when `pad` is an int),
    or PyTorch's ceil-mode rule (a last window may not start in the padding after the input).

    A result below 1 is a ShapeError that shows the formula with its numbers.
    """
    before, after = (pad, pad) if isinstance(pad, int) else pad
    span = size + before + after - dilation * (kernel - 1) - 1
    if span < 0:
        pads = f"2·{before}" if before == after else f"{before} + {after}"
        raise ShapeError(
            f"kernel {_describe(kernel, dilation)} is larger than the padded {axis} "
            f"{size} + {pads} = {size + before + after}; output {axis} ⌊({size} + {pads} − {dilation}·({kernel}−1) − 1)"
            f"/{stride}⌋ + 1 = {span // stride + 1}"
        )
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + before:
        out -= 1
    return out


def unread(size: int, kernel: int, stride: int, pad: int, dilation: int, out: int) -> int:
    """How many trailing input rows (or columns) no window reads; `pad` is the padding before the input, and
    padding rows do not count."""
    last_read = (out - 1) * stride + dilation * (kernel - 1) - pad
    return max(0, size - 1 - last_read)


def read_lines(size: int, kernel: int, stride: int, pad: int, dilation: int, out: int) -> int:
    """How many input rows (or columns) some window reads: a 1×1 stride-2 window reads every other one.

    The rows read are the taps o·S + k·D − P (0 ≤ o < out, 0 ≤ k < K) inside [0, size), counted without listing
    them (a set of every tap was a tenth of a 100,000-layer analysis). With g = gcd(S, D), S = g·s, D = g·d
    (s, d coprime), a tap is g·w − P with w = o·s + k·d. The taps k ≡ k0 (mod s) give w = s·q + k0·d with
    q = o + j·d (k = k0 + j·s): runs of `out` consecutive q starting every d. Distinct k0 < s fall in distinct
    residues of w mod s, so their counts add up.
    """
    g = math.gcd(stride, dilation)
    s, d = stride // g, dilation // g
    lo, hi = -(-pad // g), (size - 1 + pad) // g  # the w whose tap lies in [0, size)
    total = 0
    for k0 in range(min(s, kernel)):
        runs = (kernel - 1 - k0) // s + 1
        first, last = -(-(lo - k0 * d) // s), (hi - k0 * d) // s  # the q of this residue inside [lo, hi]
        total += _covered(first, last, runs, d, out)
    return total


def _covered(first: int, last: int, runs: int, step: int, length: int) -> int:
    """How many integers in [first, last] lie in one of the runs [j·step, j·step + length − 1], 0 ≤ j < runs."""
    if last < first:
        return 0
    if step <= length:  # the runs touch or overlap: one interval
        return max(0, min(last, (runs - 1) * step + length - 1) - max(first, 0) + 1)
    return _covered_below(last + 1, runs, step, length) - _covered_below(first, runs, step, length)


def _covered_below(x: int, runs: int, step: int, length: int) -> int:
    """How many integers below x the disjoint runs (step > length) cover: the whole runs, and part of one."""
    whole = 0 if x < length else min(runs, (x - length) // step + 1)
    partial = max(0, x - whole * step) if whole < runs else 0
    return whole * length + partial


def unread_notes(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Sides,
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> tuple[str, ...]:
    """One note when the windows leave input rows or columns unread — the last ones (a 3×3 stride-2 pool on
    112×112), or every other one (a 1×1 stride-2 conv on 56×56) — with the share of pixels no window reads."""
    before = (padding[0], padding[2])
    axes = list(zip(in_hw, kernel, stride, before, dilation, out_hw))
    read = [read_lines(*axis) for axis in axes]
    trailing = [unread(*axis) for axis in axes]
    missing = [size - n for size, n in zip(in_hw, read)]
    if not any(missing):
        return ()
    words = [(n, tail, size, word) for n, tail, size, word in zip(missing, trailing, in_hw, ("row", "column")) if n]

    def counted(n: int, word: str) -> str:
        return f"{n} {word}" + ("s" if n > 1 else "")

    if all(n == tail for n, tail, _, _ in words):  # only the last rows/columns: "the last 1 row and 2 columns"
        parts = ["the last " + " and ".join(counted(n, word) for n, _, _, word in words)]
    else:  # "the last 2 rows", or "1 of the 3 rows" where those left are not all at the end (so 2 rows or more)
        parts = [
            f"the last {counted(n, word)}" if n == tail else f"{n} of the {size} {word}s"
            for n, tail, size, word in words
        ]
    strides = f"{stride[0]}" if stride[0] == stride[1] else f"{stride[0]}×{stride[1]}"
    share = 1 - read[0] * read[1] / (in_hw[0] * in_hw[1])
    return (
        f"stride {strides} leaves {' and '.join(parts)} of the {in_hw[0]}×{in_hw[1]} input unread: "
        f"no window reads {share:.1%} of its pixels",
    )


def same_sides(
    in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> Sides:
    """TensorFlow's SAME padding: output ⌈H/S⌉, total padding max((⌈H/S⌉ − 1)·S + D·(K−1) + 1 − H, 0), half of
    it (rounded down) before the input and the rest after, so an odd total puts the extra row at the bottom and
    the extra column on the right. At stride 1 this is D·(K−1) whatever H is: symmetric for an odd kernel."""
    pads: list[int] = []
    for size, k, s, d in zip(in_hw, kernel, stride, dilation):
        total = max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return (pads[0], pads[1], pads[2], pads[3])


def resolve_same(attrs: dict[str, Any]) -> dict[str, Any]:
    """`padding: same` at stride 1 becomes numbers now (they do not depend on the input size); at a larger stride
    it is marked ShapeDependent, for `settle_same` once the input size is known."""
    if attrs["padding"] == "same":
        if tuple(attrs["stride"]) == (1, 1):
            attrs["padding"] = same_sides((1, 1), attrs["kernel"], (1, 1), attrs.get("dilation", (1, 1)))
        else:
            attrs["padding"] = ShapeDependent("same")
    return attrs


def settle_same(attrs: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    """`padding: same` at a stride > 1 as (top, bottom, left, right) for this input (a flat input is left for the
    shape rule to refuse)."""
    if attrs["padding"] == "same" and is_spatial(ins[0]):
        attrs["padding"] = window_sides(attrs, (ins[0][0], ins[0][1]))
    return attrs


def window_sides(attrs: Mapping[str, Any], in_hw: tuple[int, int]) -> Sides:
    """The layer's padding (top, bottom, left, right) for an input of H×W = in_hw (a parsed Network's padding is
    numbers already; 'same' is worked out here for layers built otherwise)."""
    padding = attrs["padding"]
    if padding == "same":
        return same_sides(in_hw, attrs["kernel"], attrs["stride"], attrs.get("dilation", (1, 1)))
    return padding


def _describe(kernel: int, dilation: int) -> str:
    return f"{kernel}" if dilation == 1 else f"{kernel} (dilation {dilation})"


def adaptive_span(size: int, out: int) -> int:
    """The bins' lengths summed, Σ (⌈(i+1)·H/o⌉ − ⌊i·H/o⌋) = H + o − gcd(H, o), in O(1) (a sum over the bins
    would take time and memory linear in `output`, which a spec may set to 10⁸)."""
    return size + out - math.gcd(size, out)


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins: [⌊i·H/o⌋, ⌈(i+1)·H/o⌉) for each output index i."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def window_arithmetic(
    size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int, out: int, ceil_mode: bool = False
) -> str:
    """The output-size rule with its numbers: `⌊(227 + 2·0 − 1·(11−1) − 1)/4⌋ + 1 = ⌊216/4⌋ + 1 = 55`."""
    before, after = pad
    pads = f"2·{before}" if before == after else f"{before} + {after}"
    span = size + before + after - dilation * (kernel - 1) - 1
    left, right = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    text = f"{left}({size} + {pads} − {dilation}·({kernel}−1) − 1)/{stride}{right} + 1"
    text += f" = {left}{span}/{stride}{right} + 1"
    raw = (-(-span // stride) if ceil_mode else span // stride) + 1
    if raw != out:  # ceil mode dropped a window that would start in the padding
        text += f" = {raw}, less the window starting in the padding"
    return f"{text} = {out}"
