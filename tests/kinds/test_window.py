"""Rows some window reads, counted arithmetically (kinds/window.py: read_lines), against listing every tap."""

from __future__ import annotations

import itertools

from netcalc.kinds.window import read_lines


def listed_reads(size: int, kernel: int, stride: int, pad: int, dilation: int, out: int) -> int:
    """The definition: every tap o·S − P + k·D of every window, the distinct ones inside the input."""
    taps = {o * stride - pad + dilation * k for o in range(out) for k in range(kernel)}
    return len([t for t in taps if 0 <= t < size])


def test_every_small_window_matches_the_listed_taps() -> None:
    # every combination in a small range, including outputs the window rule would not give (the count is
    # defined for any number of windows), strides larger than kernels and dilations sharing factors with strides
    for size, kernel, stride, pad, dilation, out in itertools.product(
        range(1, 9), range(1, 6), range(1, 6), range(0, 5), range(1, 5), range(1, 9)
    ):
        expected = listed_reads(size, kernel, stride, pad, dilation, out)
        assert read_lines(size, kernel, stride, pad, dilation, out) == expected, (size, kernel, stride, pad, dilation)


def test_known_layers() -> None:
    # ResNet's 1×1 stride-2 downsample on 56: rows 0, 2, …, 54, i.e. 28 rows
    assert read_lines(56, 1, 2, 0, 1, 28) == 56 // 2
    # a 3×3 stride-1 conv with padding 1 on 32 reads every row
    assert read_lines(32, 3, 1, 1, 1, 32) == 32
    # 3×3 stride 2 on 112 (no padding): windows start at 0..108, cover up to 110: row 111 unread
    assert read_lines(112, 3, 2, 0, 1, 55) == 112 - 1
    # a 2-tap dilation-4 window, stride 4, on 16: taps 4o and 4o + 4 for o < 3 → rows 0, 4, 8, 12
    assert read_lines(16, 2, 4, 0, 4, 3) == 16 // 4


def test_huge_windows_are_counted_instantly() -> None:
    # a 1×1 stride-2 window over a million rows: every other row, without listing half a million taps
    assert read_lines(2**20, 1, 2, 0, 1, 2**19) == 2**20 // 2
    # a kernel as large as the padded input: one window reading every row
    assert read_lines(2**20, 2**20 + 2, 1, 1, 1, 1) == 2**20


def test_unread_notes_count_rows_and_columns_in_words() -> None:
    from netcalc.kinds.window import unread_notes

    # 3×3 stride 3 on 8×8: windows at 0 and 3 read rows and columns 0-5; 2 of each are left at the end,
    # 1 - 6·6/64 = 43.75% of the pixels
    assert unread_notes((8, 8), (3, 3), (3, 3), (0, 0, 0, 0), (1, 1), (2, 2)) == (
        "stride 3 leaves the last 2 rows and 2 columns of the 8×8 input unread: no window reads 43.8% of its pixels",
    )
    # rows as above; columns 1×1 stride 2 on 7: 0, 2, 4, 6 read, so 3 left in the middle; 1 - 6·4/56 = 57.14%
    assert unread_notes((8, 7), (3, 1), (3, 2), (0, 0, 0, 0), (1, 1), (2, 4)) == (
        "stride 3×2 leaves the last 2 rows and 3 of the 7 columns of the 8×7 input unread: "
        "no window reads 57.1% of its pixels",
    )
