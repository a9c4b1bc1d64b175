"""Roofline estimates against arithmetic written out by hand, and device profiles through the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import netcalc
from netcalc.analysis.devices import builtin_devices, device_yaml, load_device, parse_device
from netcalc.analysis.roofline import Device, estimate
from netcalc.cli import cli
from netcalc.errors import NetcalcError
from netcalc.language.yamlload import load_yaml_text

ONE_CONV = (
    "input: 8x8x3\nlayers:\n  - {kind: conv, name: c, out: 16, kernel: 3, padding: 1}\n  - {kind: relu, name: r}\n"
)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_one_conv_by_hand():
    report = netcalc.analyze(ONE_CONV)
    device = Device("toy", {"float32": 1000.0}, memory_bandwidth=100.0)
    conv = estimate(report, device).layers[0]
    macs = 8 * 8 * 16 * (3 * 3 * 3)
    flops = 2 * macs + 8 * 8 * 16  # + one bias add per output
    moved = 8 * 8 * 3 * 4 + (16 * 3 * 3 * 3 + 16) * 4 + 8 * 8 * 16 * 4  # input + weights and bias + output
    assert (conv.flops, conv.bytes_moved) == (flops, moved)
    assert conv.seconds == pytest.approx(max(flops / 1000, moved / 100))
    assert conv.bound == "memory"  # 56,320 FLOPs / 6,656 B = 8.5 FLOP/B, below the ridge of 10
    assert conv.intensity == pytest.approx(flops / moved)
    relu = estimate(report, device).layers[1]
    assert relu.bytes_moved == 2 * 8 * 8 * 16 * 4 and relu.bound == "memory"


def test_batch_norm_reads_its_running_statistics_too():
    report = netcalc.analyze("input: 8x8x16\nlayers:\n  - {kind: batchnorm, name: bn}\n")
    bn = estimate(report, Device("toy", {"float32": 1.0}, 1.0)).layers[0]
    # input + γ, β (params) + running mean and variance (buffers) + output, 4 B each
    assert bn.bytes_moved == (8 * 8 * 16 + 2 * 16 + 2 * 16 + 8 * 8 * 16) * 4


def test_the_documented_alexnet_conv1_on_a_t4():
    # docs/devices.md works this example out; the T4 datasheet gives 8.1 TFLOP/s float32 and 320 GB/s
    conv1 = estimate(netcalc.analyze_file("specs/alexnet.yaml"), load_device("t4")).layers[0]
    flops = 2 * (55 * 55 * 64 * 11 * 11 * 3) + 55 * 55 * 64 + 55 * 55 * 64  # MACs twice, bias, fused ReLU
    moved = (224 * 224 * 3 + 64 * 3 * 11 * 11 + 64 + 55 * 55 * 64) * 4
    assert (conv1.flops, conv1.bytes_moved) == (flops, moved) == (140_940_800, 1_469_696)
    assert conv1.bound == "compute" and conv1.seconds == pytest.approx(flops / 8.1e12)


def test_efficiency_scales_the_peaks_and_a_fast_memory_makes_it_compute_bound():
    report = netcalc.analyze(ONE_CONV)
    device = Device("toy", {"float32": 1000.0}, memory_bandwidth=1e6, compute_efficiency=0.5)
    conv = estimate(report, device).layers[0]
    assert conv.bound == "compute"
    assert conv.seconds == pytest.approx((2 * 8 * 8 * 16 * 27 + 8 * 8 * 16) / 500)


def test_batch_multiplies_activations_but_reads_weights_once():
    one, four = netcalc.analyze(ONE_CONV), netcalc.analyze(ONE_CONV, batch=4)
    device = Device("toy", {"float32": 1.0}, 1.0)
    weights = (16 * 27 + 16) * 4
    m1, m4 = estimate(one, device).layers[0].bytes_moved, estimate(four, device).layers[0].bytes_moved
    assert m4 - weights == 4 * (m1 - weights)


def test_builtin_profiles_load_with_their_published_figures():
    assert {"a100_sxm4_80gb", "t4", "h100_sxm5_80gb", "rtx_4090", "apple_m1_gpu"} <= set(builtin_devices())
    t4 = load_device("t4")
    assert t4.peak_flops == {"float32": 8.1e12, "float16": 65e12, "int8": 130e12}
    assert t4.memory_bandwidth == 320e9
    assert "datasheet" in t4.source
    a100 = load_device("a100_sxm4_80gb")
    assert (a100.peak_flops["float32"], a100.memory_bandwidth) == (19.5e12, 2039e9)
    for name in builtin_devices():
        assert load_device(name).source, f"{name} must say where its figures come from"


def test_a_profile_round_trips_through_yaml():
    device = Device("mine", {"float32": 3.2e10, "float64": 1.5e10}, 1.2e10, source="measured")
    again = parse_device(load_yaml_text(device_yaml(device), "x.yaml"), "x.yaml")
    assert (again.name, dict(again.peak_flops), again.memory_bandwidth) == ("mine", dict(device.peak_flops), 1.2e10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\npeak_flops: {float32: 1T}\n", "missing required key `memory_bandwidth`"),
        ("name: x\npeak_flops: {float23: 1T}\nmemory_bandwidth: 1GB\n", "did you mean 'float32'"),
        ("name: x\npeak_flops: {float32: 1TB}\nmemory_bandwidth: 1GB\n", "size in bytes"),
        ("name: x\npeak_flops: {float32: 0}\nmemory_bandwidth: 1GB\n", "positive"),
        ("name: x\npeak_flops: {float32: 1T}\nmemory_bandwidth: 1GB\nefficiency: {compute: 1.5}\n", "(0, 1]"),
        ("name: x\npeak_flop: {float32: 1T}\nmemory_bandwidth: 1GB\n", "did you mean 'peak_flops'"),
    ],
)
def test_bad_profiles_are_one_located_line_and_exit_2(tmp_path, text, message):
    path = tmp_path / "dev.yaml"
    path.write_text(text)
    result = run("summary", "specs/lenet5.yaml", "--device", str(path))
    assert result.exit_code == 2, result.output
    assert message in result.output and str(path) in result.output
    assert result.output.strip().count("\n") == 0


def test_unknown_device_names_the_built_in_ones():
    result = run("summary", "specs/lenet5.yaml", "--device", "rtx_4080")
    assert result.exit_code == 2
    assert "did you mean 'rtx_4090'" in result.output and "a100_sxm4_80gb" in result.output


def test_a_dtype_the_device_lacks_is_an_error():
    with pytest.raises(NetcalcError, match="no peak for float64"):
        estimate(netcalc.analyze(ONE_CONV, dtype="float64"), load_device("t4"))


def test_summary_device_in_every_format():
    table = run("summary", "specs/resnet50.yaml", "--device", "t4")
    assert table.exit_code == 0, table.output
    assert "resnet50 on t4 (float32)" in table.output and "compute" in table.output
    data = json.loads(run("summary", "specs/resnet50.yaml", "--device", "t4", "--format", "json").output)
    roof = data["roofline"]
    assert len(roof["layers"]) == len(data["layers"])
    assert roof["total_seconds"] == pytest.approx(sum(layer["seconds"] for layer in roof["layers"]))
    assert roof["device"]["ridge_flops_per_byte"] == pytest.approx(8.1e12 / 320e9)
    csv_out = run("summary", "specs/resnet50.yaml", "--device", "t4", "--format", "csv").output
    assert csv_out.splitlines()[0] == "name,kind,flops,bytes_moved,intensity,bound,seconds,partial"
    assert "| **Total** |" in run("summary", "specs/resnet50.yaml", "--device", "t4", "--format", "markdown").output


def test_devices_lists_sources():
    result = run("devices")
    assert result.exit_code == 0
    assert "t4: NVIDIA T4" in result.output and "8.1 TFLOP/s" in result.output and "source:" in result.output


def test_verify_holds_the_estimate_against_measured_layer_times():
    result = run("verify", "specs/lenet5.yaml", "--device", "t4", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    roof = data["roofline"]
    assert [layer["name"] for layer in roof["layers"]] == [layer["name"] for layer in data["layers"]]
    for layer in roof["layers"]:
        assert layer["measured_seconds"] > 0 and layer["estimated_seconds"] > 0
        assert layer["ratio"] == pytest.approx(layer["measured_seconds"] / layer["estimated_seconds"])
    assert roof["total_measured_seconds"] == pytest.approx(sum(lay["measured_seconds"] for lay in roof["layers"]))
    table = run("verify", "specs/lenet5.yaml", "--device", "t4", "--no-backward")
    assert table.exit_code == 0 and "forward pass on t4 (float32)" in table.output and "Measured" in table.output


def test_verify_with_an_unknown_device_fails_before_running():
    result = run("verify", "specs/vgg16.yaml", "--device", "rtx_4080")
    assert result.exit_code == 2 and "did you mean 'rtx_4090'" in result.output


def test_calibrate_writes_a_profile_that_summary_reads(tmp_path):
    path = tmp_path / "here.yaml"
    result = run("calibrate", "--seconds", "0.05", "-o", str(path))
    assert result.exit_code == 0, result.output
    device = load_device(str(path))
    assert set(device.peak_flops) == {"float32", "float64", "float16"}
    assert all(v > 1e6 for v in device.peak_flops.values())  # any machine does a million FLOP/s
    assert device.memory_bandwidth > 1e8 and "netcalc calibrate" in device.source
    summary = run("summary", "specs/lenet5.yaml", "--device", str(path), "--format", "json")
    assert json.loads(summary.output)["roofline"]["device"]["name"] == "calibrated"


def test_depth_folds_the_estimates_like_the_summary_rows():
    report = netcalc.analyze_file("specs/resnet18.yaml")
    roofline = estimate(report, load_device("t4"))
    args = ("summary", "specs/resnet18.yaml", "--device", "t4", "--depth", "1", "--format", "json")
    data = json.loads(run(*args).output)
    rows = {layer["name"]: layer for layer in data["roofline"]["layers"]}
    assert list(rows) == [row.name for row in report.collapsed(1)]
    pairs = zip(roofline.layers, report.layers, strict=True)
    inside = [e for e, r in pairs if r.groups and r.groups[0].name == "layer1"]
    assert rows["layer1"]["seconds"] == pytest.approx(sum(e.seconds for e in inside))
    assert rows["layer1"]["flops"] == sum(e.flops for e in inside)
    assert sum(layer["seconds"] for layer in rows.values()) == pytest.approx(roofline.seconds)


def test_kinds_explains_the_channel_split_sugar():
    result = run("kinds", "channel_split")
    assert result.exit_code == 0 and "channel_slice layers s.0, s.1" in result.output
