"""Receptive field, jump and first-unit centre: the classic figures, derived by hand in each test."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import netcalc
from netcalc.cli import cli

SPECS = Path(__file__).parent.parent / "specs"


def rows(spec: str) -> dict:
    return {row.name: row for row in netcalc.analyze_file(SPECS / spec).layers}


def sizes(row) -> tuple[int, int]:
    return tuple(int(v) for v in row.field.size)


def test_three_stacked_3x3_convs_see_7x7():
    layers = rows("examples/stack_3x3_vs_7x7/three_3x3.yaml")
    # each 3×3 stride-1 conv adds (3 − 1)·1 = 2 pixels: 1 + 2 + 2 + 2
    assert [sizes(r) for r in layers.values()] == [(3, 3), (5, 5), (7, 7)]
    one = rows("examples/stack_3x3_vs_7x7/one_7x7.yaml")
    assert [sizes(r) for r in one.values()] == [(7, 7)]
    last = list(layers.values())[-1]
    assert last.field.jump == (1, 1) and last.field.start == (0, 0)  # padding 1 keeps unit 0 centred on pixel 0


def test_alexnets_last_pool_sees_195x195():
    layers = rows("alexnet.yaml")  # torchvision's: conv1 11×11/4 padding 2, 3×3/2 max pools
    r, j = 11, 4  # conv1
    r, j = r + (3 - 1) * j, j * 2  # maxpool1: 19, jump 8
    r = r + (5 - 1) * j  # conv2 5×5: 51
    r, j = r + (3 - 1) * j, j * 2  # maxpool2: 67, jump 16
    r = r + 3 * (3 - 1) * j  # conv3, conv4, conv5 (3×3): 163
    r, j = r + (3 - 1) * j, j * 2  # maxpool3: 195, jump 32
    assert (r, j) == (195, 32)
    assert sizes(layers["maxpool3"]) == (195, 195)
    assert layers["maxpool3"].field.jump == (32, 32)
    # unit 0's centre: conv1 (11−1)/2 − 2 = 3; each pool adds (3−1)/2·j: 3 + 4 + 0 (conv2: (5−1)/2 − 2 = 0) + 8 + 16
    assert layers["maxpool3"].field.start == (31, 31)


def test_vgg16_last_conv_block():
    layers = rows("vgg16.yaml")
    r, j = 1, 1
    for convs in (2, 2, 3, 3, 3):
        r += convs * (3 - 1) * j  # 3×3 convs, padding 1
        last_conv = r
        r, j = r + (2 - 1) * j, j * 2  # 2×2/2 max pool
    assert (last_conv, r, j) == (196, 212, 32)
    assert sizes(layers["stage5.conv.2"]) == (196, 196)
    assert sizes(layers["stage5.maxpool1"]) == (212, 212)
    # 2×2 windows are centred between pixels: ½ + 1 + 2 + 4 + 8 = 31/2
    assert layers["stage5.maxpool1"].field.start == (Fraction(31, 2),) * 2


def test_transposed_conv_jumps_are_exact_fractions():
    report = netcalc.analyze(
        "name: up\ninput: 8x8x4\nlayers:\n"
        "  - {kind: conv_transpose, name: up, out: 4, kernel: 4, stride: 2, padding: 1}\n"
        "  - {kind: conv, name: c, out: 4, kernel: 3, padding: 1}\n"
    )
    up, c = report.layers
    # output o reads inputs i with 2i = o + 1 − k, k = 0…3: two inputs (i and i+1) for every o
    assert up.field.size == (2, 2)
    assert up.field.jump == (Fraction(1, 2),) * 2
    # the window of o is centred at (o + P − (K−1)/2)/S = (o − 1/2)/2: unit 0 at −1/4
    assert up.field.start == (Fraction(-1, 4),) * 2
    assert c.field.size == (2 + 2 * Fraction(1, 2),) * 2 and c.field.jump == (Fraction(1, 2),) * 2


def test_branches_keep_the_largest_field_and_say_they_differ():
    report = netcalc.analyze(
        "name: res\ninput: 16x16x8\nlayers:\n"
        "  - {kind: conv, name: a, out: 8, kernel: 3, padding: 1}\n"
        "  - {kind: conv, name: b, out: 8, kernel: 3, padding: 1}\n"
        "  - {kind: add, name: sum, from: [b, input]}\n"
    )
    total = report.layers[-1]
    assert sizes(total) == (5, 5)
    assert "different fields" in total.field_note and "input 1×1" in total.field_note


def test_global_pool_and_fc_see_the_whole_map():
    report = netcalc.analyze_file(SPECS / "resnet18.yaml")
    layers = {row.name: row for row in report.layers}
    feeding = layers[layers["avgpool"].inputs[0]]
    assert feeding.field.jump == (32, 32)  # five stride-2 stages: 2⁵
    # the 7×7 average to 1×1 is one window spanning the map: 6 more jumps of 32
    assert sizes(layers["avgpool"]) == (int(feeding.field.size[0]) + (7 - 1) * 32,) * 2
    assert sizes(layers["fc"]) == sizes(layers["avgpool"])


@pytest.fixture
def budget_file(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "budget.yaml"
        path.write_text(text)
        return str(path)

    return write


def test_min_receptive_field_budget(budget_file):
    spec = str(SPECS / "examples/stack_3x3_vs_7x7/three_3x3.yaml")
    runner = CliRunner()
    ok = runner.invoke(cli, ["check", spec, "--budget", budget_file("total: {min_receptive_field: 7}\n")])
    assert ok.exit_code == 0, ok.output
    short = runner.invoke(cli, ["check", spec, "--budget", budget_file("total: {min_receptive_field: 9}\n")])
    assert short.exit_code == 1
    assert "receptive field 7 is under total.min_receptive_field ≥ 9 by 2" in short.output
    # per layer: the first conv (3×3) is the one under the limit
    glob = runner.invoke(cli, ["check", spec, "--budget", budget_file('layers: {"conv*": {min_receptive_field: 5}}\n')])
    assert glob.exit_code == 1 and "conv3x3.0" in glob.output and "conv3x3.2" not in glob.output


def test_summary_field_columns_and_json():
    spec = str(SPECS / "alexnet.yaml")
    table = CliRunner().invoke(cli, ["summary", spec, "--columns", "field"], env={"COLUMNS": "160"})
    assert table.exit_code == 0 and "195×195" in table.output and "Jump" in table.output
    import json

    data = json.loads(CliRunner().invoke(cli, ["summary", spec, "--format", "json"]).stdout)
    pool = next(layer for layer in data["layers"] if layer["name"] == "maxpool3")
    assert pool["receptive_field"] == {"size": [195, 195], "jump": [32, 32], "start": [31, 31], "note": None}
    bad = CliRunner().invoke(cli, ["summary", spec, "--columns", "feild"])
    assert bad.exit_code == 2 and "cost, field, memory, train" in bad.output


def measured(spec: Path, layers=None, input_shape=None):
    from netcalc.reference.field import measure_fields

    network = netcalc.load_network(spec, input_shape=input_shape)
    report = netcalc.analyze_network(network)
    return report, measure_fields(network, report, layers=layers)


def test_the_reference_pass_measures_three_3x3_as_7x7():
    report, fields = measured(SPECS / "examples/stack_3x3_vs_7x7/three_3x3.yaml")
    centre = (56 - 1) // 2  # 27: its 7×7 field spans 27 − 3 … 27 + 3
    assert fields == {
        "conv3x3.0": (centre - 1, centre + 1) * 2,
        "conv3x3.1": (centre - 2, centre + 2) * 2,
        "conv3x3.2": (centre - 3, centre + 3) * 2,
    }
    from netcalc.analysis.field import centre_sides

    for row in report.layers:
        assert centre_sides(row.field, row.output_shape, report.input_shape) == fields[row.name]


def test_the_reference_pass_measures_alexnets_195():
    # at 224×224 the centre unit's field runs past the image border; at 256×256 all of it lies inside
    _, fields = measured(SPECS / "alexnet.yaml", layers=["maxpool3"], input_shape=(256, 256, 3))
    first, last, left, right = fields["maxpool3"]
    assert last - first + 1 == right - left + 1 == 195  # the max pools measured by their windows
    # 7×7 output: unit (7 − 1)//2 = 3 is centred at 31 + 3·32 = 127, and sees 127 ± (195 − 1)/2
    assert (first, last) == (127 - 97, 127 + 97)


def test_verify_checks_every_field_through_branches_and_pools():
    from netcalc.reference.engine import run
    from netcalc.reference.verify import compare

    for spec in (HERE_DATA / "tiny_net.yaml", SPECS / "examples/inception_naive.yaml"):
        network = netcalc.load_network(spec)
        report = netcalc.analyze_network(network)
        fields = measure_fields_of(network, report)
        verification = compare(report, run(network, backward=False), backward=False, fields=fields)
        checked = [c for c in verification.layers if c.field is not None]
        assert checked and all(c.field.ok for c in checked), spec


def test_a_wrong_field_is_caught():
    from dataclasses import replace

    from netcalc.analysis.field import Field
    from netcalc.reference.engine import run
    from netcalc.reference.verify import compare

    network = netcalc.load_network(SPECS / "examples/stack_3x3_vs_7x7/three_3x3.yaml")
    report = netcalc.analyze_network(network)
    last = report.layers[-1]
    wrong = Field((Fraction(5), Fraction(5)), last.field.jump, last.field.start)  # as if one conv were missing
    bad = replace(report, layers=(*report.layers[:-1], replace(last, field=wrong)))
    verification = compare(bad, run(network, backward=False), backward=False, fields=measure_fields_of(network, report))
    assert verification.failed[0].disagreements == ("receptive_field",)


def measure_fields_of(network, report):
    from netcalc.reference.field import measure_fields

    return measure_fields(network, report)


HERE_DATA = Path(__file__).parent / "data"


SPATIAL = """
name: spatial_probe
input: 24x24x4
layers:
  - {kind: pad, name: p, padding: [2, 4, 1, 5]}
  - {kind: conv, name: c1, out: 8, kernel: 3}
  - {kind: subsample, name: s, stride: 2}
  - {kind: channel_slice, name: sl, end: 4}
  - {kind: conv, name: c2, out: 8, kernel: 3, padding: 1}
  - {kind: pixel_unshuffle, name: u, factor: 2}
  - {kind: hardswish, name: hs}
  - {kind: crop, name: cr, size: [4, 4]}
  - {kind: conv, name: c3, out: 4, kernel: 3, padding: 1, activation: relu6}
  - {kind: groupnorm, name: gn, groups: 2}
"""


def test_spatial_and_channel_kinds_fields_are_measured_exactly():
    from netcalc.analysis.field import centre_sides
    from netcalc.reference.field import measure_fields

    network = netcalc.parse_network_text(SPATIAL)
    report = netcalc.analyze_network(network)
    fields = measure_fields(network, report)
    rows = {row.name: row for row in report.layers}
    # pad 2 on top, 1 on the left: unit 0 of the padded map sits at input (−2, −1); subsample and
    # pixel_unshuffle multiply the jump by 2 each; the crop moves unit 0 by (7 − 4)//2 = 1 unit of 4 pixels
    assert rows["p"].field.start == (-2, -1) and rows["u"].field.jump == (4, 4)
    assert sizes(rows["c2"]) == (3 + 2 * 2,) * 2 and sizes(rows["u"]) == (7 + 1 * 2,) * 2
    assert rows["cr"].field.start == (0 + 4, 1 + 4)
    for name, row in rows.items():
        assert centre_sides(row.field, row.output_shape, report.input_shape) == fields[name], name


UPSAMPLING = """
name: upsampling_probe
input: 12x12x4
layers:
  - {kind: conv, name: c1, out: 8, kernel: 3, stride: 2, padding: 1}
  - {kind: pixel_shuffle, name: ps, factor: 2}
  - {kind: conv, name: c2, out: 4, kernel: 3, padding: 1}
  - {kind: channel_shuffle, name: sh, groups: 2}
  - {kind: upsample, name: up, scale: 2}
  - {kind: conv, name: c3, out: 4, kernel: 3, padding: 1}
"""


def test_upsampling_kinds_fields_follow_the_continuous_model():
    from netcalc.analysis.field import Field, centre_sides
    from netcalc.reference.field import measure_fields

    network = netcalc.parse_network_text(UPSAMPLING)
    report = netcalc.analyze_network(network)
    rows = {row.name: row for row in report.layers}
    half = Fraction(1, 2)
    # c1 3×3/2 padding 1: size 3, jump 2, unit 0 centred on pixel 0 — exact, and measured so
    assert rows["c1"].field == Field((3, 3), (2, 2), (0, 0))
    fields = measure_fields(network, report)
    assert centre_sides(rows["c1"].field, rows["c1"].output_shape, report.input_shape) == fields["c1"]
    # pixel shuffle ×2: output o reads input ⌊o/2⌋, modelled as centred at o/2 + (1/2 − 1)/2 input units:
    # jump 2·1/2 = 1, unit 0 at 0 + (−1/4)·2 = −1/2, size unchanged; the model is no longer exact (unit 5
    # reads c1's unit 2, input rows 3..5, where the line says 4.5 ± 1)
    assert rows["ps"].field == Field((3, 3), (1, 1), (-half, -half), exact=False)
    assert fields["ps"] == (3, 5, 3, 5)
    # c2 3×3 adds 2·1; channel_shuffle changes nothing; upsample ×2 (nearest): jump 1/2, centre (1/2 − 1)/2 = −1/4
    assert rows["c2"].field == rows["sh"].field == Field((5, 5), (1, 1), (-half, -half), exact=False)
    quarter = Fraction(1, 4)
    assert rows["up"].field == Field((5, 5), (half, half), (-half - quarter, -half - quarter), exact=False)
    assert rows["c3"].field.size == (5 + 2 * half, 5 + 2 * half)
    for name in ("ps", "c2", "sh", "up", "c3"):  # past upsampling no exact pixel count is claimed
        assert centre_sides(rows[name].field, rows[name].output_shape, report.input_shape) is None, name


def test_transposed_conv_spans_by_hand():
    report = netcalc.analyze(
        "input: 8x8x2\nlayers:\n"
        "  - {kind: conv_transpose, name: a, out: 2, kernel: [5, 3], stride: [2, 3], padding: [2, 2, 0, 0]}\n"
        "  - {kind: conv_transpose, name: b, from: input, out: 2, kernel: 3, stride: 2, dilation: 2}\n"
    )
    a, b = report.layers
    # output o reads inputs i with i·S = o + P − D·k. Height K 5, S 2, P 2: an even o meets i = o/2 + 1, o/2,
    # o/2 − 1 (span 2), an odd o two inputs; centre (2P − D·(K−1))/2S = (4 − 4)/4 = 0.
    # Width K 3, S 3, P 0: exactly one of o, o − 1, o − 2 is a multiple of 3 (span 0); centre (0 − 2)/6 = −1/3
    assert a.output_shape == ((8 - 1) * 2 - 4 + 4 + 1, (8 - 1) * 3 + 2 + 1, 2)
    assert a.field.size == (1 + 2 * 1, 1 + 0)
    assert a.field.jump == (Fraction(1, 2), Fraction(1, 3))
    assert a.field.start == (0, Fraction(-1, 3))
    # K 3, S 2, D 2, P 0: o, o − 2, o − 4 are all even for an even o (three inputs, span 2), none for an odd one;
    # centre (0 − 2·2)/4 = −1
    assert b.field.size == (3, 3) and b.field.start == (-1, -1)


def test_a_transposed_conv_may_shrink_to_one_pixel_but_not_to_none():
    # (1 − 1)·1 − 1 − 1 + 1·(3 − 1) + 0 + 1 = 1
    assert netcalc.analyze("input: 1x1x2\nlayers: [{kind: conv_transpose, out: 2, kernel: 3, padding: 1}]").layers[
        0
    ].output_shape == (1, 1, 2)
    with pytest.raises(netcalc.errors.NetcalcError, match=r"output height \(1 − 1\)·1 − 2·2 .* = -1 is not positive"):
        netcalc.analyze("input: 1x1x2\nlayers: [{kind: conv_transpose, out: 2, kernel: 3, padding: 2}]")


def test_a_merge_with_an_upsampled_branch_claims_no_exact_pixels():
    from netcalc.analysis.field import centre_sides

    report = netcalc.analyze(
        "input: 8x8x4\nlayers:\n"
        "  - {kind: conv, name: down, out: 16, kernel: 3, stride: 2, padding: 1}\n"
        "  - {kind: pixel_shuffle, name: up, factor: 2}\n"
        "  - {kind: conv, name: same, from: input, out: 4, kernel: 5, padding: 2}\n"
        "  - {kind: add, name: sum, from: [same, up]}\n"
    )
    rows = {row.name: row for row in report.layers}
    assert rows["same"].field.exact and not rows["up"].field.exact
    # the exact 5×5 branch is the larger field shown, but the shuffled branch's part of it is only the continuous
    # model's, so the sum claims no exact pixel count
    assert rows["sum"].field.size == (5, 5) and not rows["sum"].field.exact
    assert centre_sides(rows["sum"].field, rows["sum"].output_shape, report.input_shape) is None


def test_resized_fields_by_hand_for_each_mode():
    # PyTorch's interpolate: output o samples input (o + ½)·H/O − ½ (nearest takes the pixel there, bilinear its
    # two neighbours), or o·(H − 1)/(O − 1) with align_corners. From a 1-pixel field at jump 1, start 0:
    report = netcalc.analyze(
        "input: 6x6x2\nlayers:\n"
        "  - {kind: upsample, name: bilinear, mode: bilinear, scale: 2}\n"
        "  - {kind: upsample, name: corners, from: input, mode: bilinear, size: [11, 16], align_corners: true}\n"
        "  - {kind: upsample, name: nearest, from: input, size: [9, 8]}\n"
    )
    rows = {row.name: row.field for row in report.layers}
    # bilinear ×2: two neighbours (size 1 + 1·1), jump 6/12, centre (6/12 − 1)/2
    assert rows["bilinear"].size == (2, 2)
    assert rows["bilinear"].jump == (Fraction(1, 2),) * 2
    assert rows["bilinear"].start == (Fraction(-1, 4),) * 2
    # align_corners: jump (6 − 1)/(11 − 1) and (6 − 1)/(16 − 1), output 0 on input 0
    assert rows["corners"].size == (2, 2)
    assert rows["corners"].jump == (Fraction(5, 10), Fraction(5, 15))
    assert rows["corners"].start == (0, 0)
    # nearest to 9×8: one pixel, jump 6/9 and 6/8, centre (jump − 1)/2
    assert rows["nearest"].size == (1, 1)
    assert rows["nearest"].jump == (Fraction(6, 9), Fraction(6, 8))
    assert rows["nearest"].start == (Fraction(-1, 6), Fraction(-1, 8))


def test_the_probe_network_follows_the_stated_rules():
    # docs (netcalc/reference/field.py): fused activations dropped, weightless pointwise activations become
    # ReLUs, a max pool is measured as the average pool over the same windows; everything else as it is
    from netcalc.reference.field import probe_network

    network = netcalc.parse_network_text(
        "input: 8x8x2\nlayers:\n"
        "  - {kind: conv, name: c, out: 4, kernel: 3, padding: 1, activation: relu6}\n"
        "  - {kind: leaky_relu, name: h, negative_slope: 0.3}\n"
        "  - {kind: prelu, name: p}\n"
        "  - {kind: maxpool, name: m, kernel: 3, stride: 2, padding: 1}\n"
        "  - {kind: channel_shuffle, name: s, groups: 2}\n"
    )
    c, h, p, m, s = probe_network(network).layers
    assert c.kind == "conv" and c.attrs == {**network.layers[0].attrs, "activation": "none"}
    assert (h.kind, h.attrs) == ("relu", {})
    assert (p.kind, p.attrs) == ("prelu", network.layers[2].attrs)  # it has weights: kept, made positive
    assert m.kind == "avgpool" and (m.attrs["kernel"], m.attrs["stride"], m.attrs["padding"]) == (
        (3, 3),
        (2, 2),
        (1, 1, 1, 1),
    )
    assert (s.kind, s.attrs) == ("channel_shuffle", network.layers[4].attrs)


def test_dilated_convs_widen_the_field_by_d_times_k_minus_1_as_the_gradient_probes_measure(tmp_path):
    # a 3×3 conv at dilation 2 reads 5×5 (1 + 2·2), then one at dilation 4 adds 4·2 = 8 more: 13×13, jump 1;
    # unpadded, unit 0 of each is centred at D·(K − 1)/2: 2, then 2 + 4 = 6
    spec = tmp_path / "dilated.yaml"
    spec.write_text(
        "input: 21x21x1\nlayers:\n  - {kind: conv, name: d2, out: 2, kernel: 3, dilation: 2}\n"
        "  - {kind: conv, name: d4, out: 2, kernel: 3, dilation: 4}\n"
    )
    report, fields = measured(spec)
    by_name = {row.name: row.field for row in report.layers}
    assert (by_name["d2"].size, by_name["d2"].start) == ((5, 5), (2, 2))
    assert (by_name["d4"].size, by_name["d4"].start, by_name["d4"].jump) == ((13, 13), (6, 6), (1, 1))
    # the centre unit of d4's 9×9 output (unit 4) is centred at 6 + 4 = 10 and sees 10 ± 6
    assert fields["d4"] == (4, 16, 4, 16)


SEVERAL_OUTPUTS = """
name: two_heads
input: 16x16x1
layers:
  - {kind: conv, name: c, out: 1, kernel: 3, padding: 1}
  - {kind: conv, name: d, out: 1, kernel: 7, padding: 3}
  - {kind: conv, name: h, from: c, out: 1, kernel: 1}
outputs: [d, h]
"""


def test_a_network_with_several_outputs_is_probed_only_at_the_injected_units():
    from netcalc.reference.engine import run
    from netcalc.reference.verify import compare

    network = netcalc.parse_network_text(SEVERAL_OUTPUTS)
    report = netcalc.analyze_network(network)
    fields = measure_fields_of(network, report)
    centre = (16 - 1) // 2  # 7
    assert fields == {
        "c": (centre - 1, centre + 1) * 2,  # 3×3: 7 ± (3 − 1)/2
        "d": (centre - 4, centre + 4) * 2,  # 3×3 then 7×7: 1 + 2 + 6 = 9, 7 ± 4
        "h": (centre - 1, centre + 1) * 2,  # a 1×1 after c adds nothing
    }
    verification = compare(report, run(network, backward=False), backward=False, fields=fields)
    assert all(c.field.ok for c in verification.layers)


SE_BLOCK = """
name: se
input: 8x8x2
layers:
  - {kind: conv, name: c, out: 2, kernel: 3, padding: 1}
  - {kind: global_avgpool, name: g}
  - {kind: multiply, name: m, from: [c, g]}
"""


def _perturbation_support(network, x, params, unit):
    """Brute force: the input pixels whose change changes output unit (row, col), one forward per pixel."""
    from netcalc.reference.engine import run

    def out(xx):
        return run(network, backward=False, dtype="float64", x=xx, params=params).output[0, :, unit[0], unit[1]]

    base = out(x)
    hit = np.zeros(x.shape[2:], dtype=bool)
    for i in range(x.shape[2]):
        for j in range(x.shape[3]):
            moved = x.copy()
            moved[0, :, i, j] += 1.0
            hit[i, j] = np.abs(out(moved) - base).max() > 1e-12
    rows_, cols_ = np.nonzero(hit.any(axis=1))[0], np.nonzero(hit.any(axis=0))[0]
    return (int(rows_[0]), int(rows_[-1]), int(cols_[0]), int(cols_[-1]))


def test_a_broadcast_gate_gives_every_unit_the_same_field():
    from netcalc.analysis.field import centre_sides
    from netcalc.reference.engine import run

    network = netcalc.parse_network_text(SE_BLOCK)
    report = netcalc.analyze_network(network)
    _, g, m = report.layers
    # g averages c's 8×8 map: one window of span 8 − 1 over units of jump 1: 3 + 7·1 = 10, centred at 0 + 7/2·1
    assert g.field.size == (3 + 7 * 1,) * 2 and g.field.start == (Fraction(7, 2),) * 2
    # m reads g's one unit wherever it is: stride 0, so jump 1·0 = 0; g's field is the larger: 10×10
    assert m.field.size == (10, 10) and m.field.jump == (0, 0) and m.field.start == (Fraction(7, 2),) * 2
    assert "jump 0" in m.field_note
    # so every unit sees 7/2 ± (10 − 1)/2 = −1 … 8: clipped, the whole 8×8 image, corner units included
    for unit in (0, 3, 7):
        assert m.field.interval(0, unit) == (-1, 8)
    # the brute-force definition: which input pixels move output unit (r, c), for units in the corners and middle
    rng = np.random.default_rng(0)
    x = rng.random((1, 2, 8, 8)) + 0.5
    params = {"c": {"weight": rng.random((2, 2, 3, 3)) + 0.5, "bias": np.zeros(2)}}
    for unit in ((0, 0), (7, 7), (3, 4), (0, 7)):
        assert _perturbation_support(network, x, params, unit) == (0, 7, 0, 7), unit
    # and verify's gradient probe agrees with the analysis at the centre unit
    fields = measure_fields_of(network, report)
    assert fields["m"] == (0, 7, 0, 7) == centre_sides(m.field, m.output_shape, report.input_shape)
    from netcalc.reference.verify import compare

    verification = compare(report, run(network, backward=False), backward=False, fields=fields)
    assert all(check.field.ok for check in verification.layers)


def test_mobilenet_v3_first_se_block_by_hand():
    layers = rows("mobilenet_v3_large.yaml")  # 224×224
    r, j = 3, 2  # stem 3×3/2
    r += 2 * j  # features.1: depthwise 3×3: 7
    r, j = r + 2 * j, j * 2  # features.2: depthwise 3×3/2: 11, jump 4
    r += 2 * j  # features.3: depthwise 3×3: 19
    r, j = r + 4 * j, j * 2  # features.4: depthwise 5×5/2: 35, jump 8, on a 28×28 map
    assert (r, j) == (35, 8)
    dw = layers["features.4.block.1.2"]
    assert sizes(dw) == (35, 35) and dw.field.jump == (8, 8) and dw.field.start == (0, 0)
    # the squeeze: adaptive 28 → 1, one window over the 28 units: 35 + 27·8 = 251, jump 8·28, centre 27/2·8
    pool = layers["features.4.block.2.avgpool"]
    assert sizes(pool) == (35 + 27 * 8,) * 2 and pool.field.jump == (8 * 28,) * 2 and pool.field.start == (108, 108)
    # the excitation scales every unit by the gate: every unit sees the gate's 251 pixels, 108 ± 125 = −17 … 233
    scale = layers["features.4.block.2.scale"]
    assert sizes(scale) == (251, 251) and scale.field.jump == (0, 0) and scale.field.start == (108, 108)
    assert scale.field.interval(0, 0) == scale.field.interval(0, 27) == (-17, 233)
    # the 1×1 projection and the next block's 5×5 depthwise: span·0 adds nothing, the stride keeps jump 0
    for name in ("features.4.block.3.0", "features.5.block.1.0", "features.7.block.1.0"):
        assert sizes(layers[name]) == (251, 251) and layers[name].field.jump == (0, 0), name


@pytest.mark.parametrize("spec", ["mobilenet_v3_large.yaml", "efficientnet_b1.yaml", "regnet_y_400mf.yaml"])
def test_se_nets_verify_their_fields_at_a_small_input(spec):
    from netcalc.reference.engine import run
    from netcalc.reference.verify import compare

    network = netcalc.load_network(SPECS / spec, input_shape=(32, 32, 3))
    report = netcalc.analyze_network(network)
    fields = measure_fields_of(network, report)
    verification = compare(report, run(network, backward=False), backward=False, fields=fields)
    wrong = [c.name for c in verification.layers if c.field is not None and not c.field.ok]
    assert not wrong
