"""The spatial and channel kinds through the CLI: every bad attribute or shape is one located line and exit 2,
`netcalc kinds` describes them, and a network using every one of them verifies against the reference pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcalc.cli import cli
from netcalc.kinds import channels, spatial
from tests import test_cli_errors

HEAD = "input: 32x32x3\nlayers:\n"
SPEC = Path(__file__).parent / "data" / "spatial_kinds.yaml"

CASES = [
    # (id, layers after HEAD, line, fragment of the message)
    ("crop-too-large", "  - {kind: crop, size: [40, 40]}\n", 3, "crop 40×40 is larger than its input 32×32×3"),
    (
        "crop-offset-outside",
        "  - {kind: crop, size: [8, 8], offset: [30, 0]}\n",
        3,
        "crop 8×8 at offset [30, 0] reaches row 38 and column 8 of the 32×32 input",
    ),
    ("crop-no-size", "  - {kind: crop}\n", 3, "crop needs `size: [h, w]` or a second input in `from`"),
    (
        "crop-size-and-ref",
        "  - {kind: maxpool, name: p, kernel: 2}\n  - {kind: crop, from: [input, p], size: [2, 2]}\n",
        4,
        "crop takes its size from `size` or from a second input in `from`, not both",
    ),
    (
        "crop-three-inputs",
        "  - {kind: crop, from: [input, input, input]}\n",
        3,
        "crop takes one or two inputs, but `from` names 3",
    ),
    (
        "crop-flat-ref",
        "  - {kind: flatten, name: f}\n  - {kind: crop, from: [input, f]}\n",
        4,
        "crop takes H×W from its second input, which is the flat vector 3072",
    ),
    (
        "upsample-scale-0",
        "  - {kind: upsample, scale: 0}\n",
        3,
        "scale: expected a whole number ≥ 1 or a pair [h, w] of them, got 0",
    ),
    ("upsample-scale-fraction", "  - {kind: upsample, scale: 1.5}\n", 3, "got 1.5"),
    ("upsample-no-size", "  - {kind: upsample}\n", 3, "upsample needs `scale`, `size` or a second input in `from`"),
    (
        "upsample-scale-and-size",
        "  - {kind: upsample, scale: 2, size: [8, 8]}\n",
        3,
        "give `scale` or `size`, not both",
    ),
    (
        "upsample-ref-and-scale",
        "  - {kind: maxpool, name: p, kernel: 2}\n  - {kind: upsample, from: [p, input], scale: 2}\n",
        4,
        "upsample takes its size from its second input; drop `scale`",
    ),
    (
        "upsample-align-nearest",
        "  - {kind: upsample, scale: 2, align_corners: true}\n",
        3,
        "align_corners applies to mode bilinear only",
    ),
    (
        "upsample-bicubic",
        "  - {kind: upsample, scale: 2, mode: bicubic}\n",
        3,
        "expected one of nearest, bilinear, got 'bicubic'",
    ),
    (
        "shuffle-groups",
        "  - {kind: channel_shuffle, groups: 2}\n",
        3,
        "channel_shuffle groups 2 must divide the 3 channels of 32×32×3",
    ),
    (
        "slice-past-the-end",
        "  - {kind: channel_slice, end: 5}\n",
        3,
        "channel_slice [0, 5) must lie within the 3 channels of 32×32×3",
    ),
    ("slice-empty", "  - {kind: channel_slice, start: 2, end: 1}\n", 3, "with start < end"),
    ("slice-no-end", "  - {kind: channel_slice, start: 1}\n", 3, "channel_slice is missing required key 'end'"),
    ("channel-pad-negative", "  - {kind: channel_pad, before: -1}\n", 3, "before: expected a whole number ≥ 0, got -1"),
    (
        "reflect-too-wide",
        "  - {kind: pad, padding: [0, 0, 32, 0], mode: reflect}\n",
        3,
        "reflect padding 32 must be smaller than the width 32",
    ),
    (
        "pad-value-reflect",
        "  - {kind: pad, padding: 1, mode: reflect, value: 1}\n",
        3,
        "value 1.0 applies to mode zeros only, not reflect",
    ),
    ("pad-three-sides", "  - {kind: pad, padding: [1, 2, 3]}\n", 3, "or [top, bottom, left, right], got [1, 2, 3]"),
    ("pad-no-padding", "  - {kind: pad}\n", 3, "pad is missing required key 'padding'"),
    ("pad-flat", "  - flatten\n  - {kind: pad, padding: 1}\n", 4, "pad needs an H×W×C input, got the flat vector 3072"),
    (
        "pixel-shuffle-channels",
        "  - {kind: pixel_shuffle, factor: 2}\n",
        3,
        "pixel_shuffle factor 2 needs channels divisible by 2² = 4, got 3",
    ),
    (
        "pixel-unshuffle-size",
        "  - {kind: pixel_unshuffle, factor: 5}\n",
        3,
        "pixel_unshuffle factor 5 must divide the height and width of 32×32×3",
    ),
    ("subsample-0", "  - {kind: subsample, stride: 0}\n", 3, "stride: expected a whole number ≥ 1"),
    (
        "conv-three-sides",
        "  - {kind: conv, out: 4, kernel: 3, padding: [1, 1, 1]}\n",
        3,
        "[top, bottom, left, right] or 'same', got [1, 1, 1]",
    ),
    (
        "pool-pad-over-half",
        "  - {kind: maxpool, kernel: 3, padding: [0, 2, 0, 0]}\n",
        3,
        "padding 2 must be at most half the kernel 3",
    ),
    (
        "transpose-same",
        "  - {kind: conv_transpose, out: 4, kernel: 2, padding: same}\n",
        3,
        "[top, bottom, left, right], got 'same'",
    ),
    ("relu-two-inputs", "  - {kind: relu, from: [input, input]}\n", 3, "relu takes one input, but `from` names 2"),
]


@pytest.mark.parametrize(("layers", "line", "fragment"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_spatial_layer_is_one_located_line_and_exit_2(write_spec, layers, line, fragment):
    test_cli_errors.test_bad_spec_is_one_located_line_and_exit_2(write_spec, HEAD + layers, line, fragment)


def test_kinds_describes_the_inputs_of_crop_and_upsample():
    result = CliRunner().invoke(cli, ["kinds", "crop"])
    assert result.exit_code == 0
    assert "inputs: one or two, named in `from`" in result.stdout
    upsample = CliRunner().invoke(cli, ["kinds", "upsample"]).stdout
    assert "FLOPs: nearest: none (a gather); bilinear: 7 per output element" in upsample
    assert "inputs: one\n" in CliRunner().invoke(cli, ["kinds", "pad"]).stdout


def verify(*args: str):
    return CliRunner().invoke(cli, ["verify", str(SPEC), *args], env={"COLUMNS": "160", "NO_COLOR": "1"})


def test_every_spatial_kind_verifies():
    result = verify()
    assert result.exit_code == 0, result.output
    assert "✓ all 26 layers agree (forward + backward, float32, seed 0)" in result.output


def test_every_spatial_kind_verifies_with_gradcheck_in_float64():
    result = verify("--format", "json", "--dtype", "float64", "--batch", "2", "--gradcheck", "4")
    assert result.exit_code == 0, result.output[-2000:]
    data = json.loads(result.output)
    assert data["ok"] is True
    assert {layer["kind"] for layer in data["layers"]} >= {kind.name for kind in channels.KINDS + spatial.KINDS}
