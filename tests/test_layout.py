"""A flatten of a view with gaps copies (netcalc.analysis.layout), in the analysis as in the reference pass and in
PyTorch: live bytes worked out by hand, and `verify --no-backward` (which measures them) agreeing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from netcalc.analysis.layout import merges
from netcalc.cli import cli

F32 = 4


def verify(path: str, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["verify", path, "--no-backward", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("view", "kept", "copies"),
    [
        # a crop of 6×5 of 8×8×3 cuts columns: its rows are not packed, so the flatten copies 6·5·3 values
        ("{kind: crop, size: [6, 5]}", 6 * 5 * 3, True),
        # every 2nd row and column: gaps, a copy of 4·4·3
        ("{kind: subsample, stride: 2}", 4 * 4 * 3, True),
        # every 2nd row of a one-column, one-channel map: 4 values evenly 2 apart, still one run: a view
        ("{kind: subsample, stride: [2, 1]}", 4, False),
        # whole rows of 2 of the channels: packed per sample, the flatten is a view
        ("{kind: channel_slice, start: 1, end: 3}", 8 * 8 * 2, False),
        # all of the rows and columns: no gap, a view
        ("{kind: crop, size: [8, 8]}", 8 * 8 * 3, False),
    ],
)
@pytest.mark.parametrize("batch", [1, 2])
def test_a_flatten_of_a_view_with_gaps_is_a_new_tensor(write_spec, view, kept, copies, batch):
    source = "8x1x1" if kept == 4 else "8x8x3"
    path = write_spec(f"input: {source}\nlayers:\n  - {view}\n  - {{kind: flatten, name: f}}\n")
    flatten = verify(path, "--batch", str(batch))["layers"][1]
    # while the flatten runs: the input (the view shares its storage), plus the copy when there is one
    whole = 8 if kept == 4 else 8 * 8 * 3
    expected = batch * (whole + (kept if copies else 0)) * F32
    assert flatten["live_bytes"] == {"analysed": expected, "measured": expected, "ok": True}


def test_axes_merge_only_when_each_stride_is_the_next_ones_times_its_size():
    assert merges((3, 8, 8), (64, 8, 1))
    assert not merges((3, 6, 5), (64, 8, 1))  # a crop of columns
    assert merges((1, 6, 8), (64, 8, 1))  # one channel of whole rows
    assert not merges((3, 4, 4), (64, 16, 2))  # every second row and column
    assert merges((1, 4, 1), (8, 2, 1))  # 4 values 2 apart: one evenly spaced run
    assert merges((2, 1, 1), (64, 8, 1))  # a 1×1 crop of 2 channels: two values 64 apart, one run
    assert merges((1, 1, 5), (64, 8, 1))  # axes of size 1 do not matter: 5 values in a row


def test_an_in_place_relu_writes_over_the_flattens_copy(write_spec):
    # the crop is a view of the input; the flatten's copy is a tensor of its own, read by nothing later, so relu
    # writes over it; the input's last reader was the flatten: while relu runs only the copy, 6·5·3 values, lives
    path = write_spec("input: 8x8x3\nlayers:\n  - {kind: crop, size: [6, 5]}\n  - flatten\n  - {kind: relu, name: r}\n")
    expected = 6 * 5 * 3 * F32
    assert verify(path)["layers"][2]["live_bytes"] == {"analysed": expected, "measured": expected, "ok": True}


@pytest.mark.parametrize("align", ["false", "true"])
def test_bilinear_resizing_to_the_same_size_reads_one_input(write_spec, align):
    # after a 1×1 conv of stride 2 (field 1, jump 2), a bilinear resize from 2×2 to 2×2 reads input i alone for
    # output i (source (i + ½)·2/2 − ½ = i, or i·1/1 with corners aligned: λ = 0), so the field stays 1, jump 2;
    # verify --receptive-field measures that support
    path = write_spec(
        "input: 4x4x1\nlayers:\n  - {kind: conv, out: 1, kernel: 1, stride: 2}\n"
        f"  - {{kind: upsample, name: up, mode: bilinear, size: [2, 2], align_corners: {align}}}\n"
    )
    result = CliRunner().invoke(cli, ["verify", path, "--receptive-field", "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = CliRunner().invoke(cli, ["summary", path, "--format", "json"])
    field = json.loads(summary.stdout)["layers"][1]["receptive_field"]
    assert (field["size"], field["jump"]) == ([1, 1], [2, 2])
