"""Sliding-window arithmetic shared by convolution and pooling: output size, `same` padding, unread pixels."""

from __future__ import annotations

import math

from netcalc.errors import AttrError, ShapeError

AXES = ("height", "width")


def window_output(
    size: int, kernel: int, stride: int, pad: int, dilation: int, *, ceil_mode: bool = False, axis: str = "height"
) -> int:
    """⌊(H + 2P − D·(K−1) − 1)/S⌋ + 1, or PyTorch's ceil-mode rule (a last window may not start in the padding).

    A result below 1 is a ShapeError that shows the formula with its numbers.
    """
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if span < 0:
        raise ShapeError(
            f"kernel {_describe(kernel, dilation)} is larger than the padded {axis} "
            f"{size} + 2·{pad} = {size + 2 * pad}; output {axis} ⌊({size} + 2·{pad} − {dilation}·({kernel}−1) − 1)"
            f"/{stride}⌋ + 1 = {span // stride + 1}"
        )
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def unread(size: int, kernel: int, stride: int, pad: int, dilation: int, out: int) -> int:
    """How many trailing input rows (or columns) no window reads; padding rows do not count."""
    last_read = (out - 1) * stride + dilation * (kernel - 1) - pad
    return max(0, size - 1 - last_read)


def unread_notes(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> tuple[str, ...]:
    """One note when the windows leave trailing input rows or columns unread, e.g. a 1×1 stride-2 conv on 56×56."""
    rows, cols = (unread(*axis) for axis in zip(in_hw, kernel, stride, pad, dilation, out_hw))
    if not rows and not cols:
        return ()
    parts = [f"{n} {word}{'s' if n > 1 else ''}" for n, word in ((rows, "row"), (cols, "column")) if n]
    strides = f"{stride[0]}" if stride[0] == stride[1] else f"{stride[0]}×{stride[1]}"
    return (f"stride {strides} leaves the last {' and '.join(parts)} of the {in_hw[0]}×{in_hw[1]} input unread",)


def same_padding(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """Symmetric padding D·(K−1)/2 per side; an even D·(K−1) would need asymmetric padding, which we refuse."""
    pads = []
    for axis, k, d in zip(AXES, kernel, dilation):
        span = d * (k - 1)
        if span % 2:
            raise AttrError(
                f"padding 'same' needs an odd effective kernel along {axis}, got {_describe(k, d)}; "
                "give the padding as numbers instead"
            )
        pads.append(span // 2)
    return (pads[0], pads[1])


def _describe(kernel: int, dilation: int) -> str:
    return f"{kernel}" if dilation == 1 else f"{kernel} (dilation {dilation})"


def adaptive_span(size: int, out: int) -> int:
    """The bins' lengths summed, Σ (⌈(i+1)·H/o⌉ − ⌊i·H/o⌋) = H + o − gcd(H, o), in O(1) (a sum over the bins
    would take time and memory linear in `output`, which a spec may set to 10⁸)."""
    return size + out - math.gcd(size, out)


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins: [⌊i·H/o⌋, ⌈(i+1)·H/o⌉) for each output index i."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]
