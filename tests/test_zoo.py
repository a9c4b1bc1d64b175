"""The model zoo in specs/ against figures netcalc did not compute.

Three independent sources:
- `tests/data/torchvision_figures.json`, measured by `tools/torchvision_oracle.py` with PyTorch forward hooks on
  torchvision's own models (exact integers; regenerate it with that script where torch is installed);
- the figures torchvision publishes in its model documentation ("num_params", and "GFLOPS", which are GMACs
  under our convention), written here literally;
- textbook and lecture figures, written as the arithmetic that gives them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netcalc
from netcalc.analysis.report import LayerRow, Report

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLES = SPECS / "examples"
ORACLE = json.loads((ROOT / "tests" / "data" / "torchvision_figures.json").read_text(encoding="utf-8"))

# Published by torchvision's model documentation (https://pytorch.org/vision/stable/models.html, the
# "Params" and "GFLOPS" columns, from each weights' meta "num_params" and "_ops"; torchvision 0.29).
PUBLISHED = {
    # model: (parameters, GMACs rounded to 3 decimals)
    "alexnet": (61_100_840, 0.714),
    "vgg11": (132_863_336, 7.609),
    "vgg13": (133_047_848, 11.308),
    "vgg16": (138_357_544, 15.47),
    "vgg19": (143_667_240, 19.632),
    "vgg16_bn": (138_365_992, 15.47),
    "googlenet": (6_624_904, 1.498),
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
    "densenet121": (7_978_856, 2.834),
    "mobilenet_v2": (3_504_872, 0.301),
    "squeezenet1_0": (1_248_424, 0.819),
}
# The classic models, whose specs predate repeat names and so are matched on totals; the modern ones, matched
# layer by layer under torchvision's module names, are in test_zoo_modern.py.
TORCHVISION_MODELS = sorted(PUBLISHED)


def analyse(path: Path) -> Report:
    return netcalc.analyze_file(path)


def spec_report(name: str) -> Report:
    return analyse(SPECS / f"{name}.yaml")


def row(report: Report, name: str) -> LayerRow:
    for r in report.layers:
        if r.name == name:
            return r
    raise KeyError(f"no layer {name!r}; layers: {[r.name for r in report.layers]}")


def count(report: Report, kind: str) -> int:
    return sum(r.kind == kind for r in report.layers)


# --- torchvision: the oracle measured with PyTorch ---


def test_oracle_covers_the_published_models():
    assert set(PUBLISHED) <= set(ORACLE["models"])
    assert ORACLE["generated_by"] == "tools/torchvision_oracle.py"


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_oracle_agrees_with_torchvision_docs(name):
    """The oracle file itself: its measured counts are the published ones (guards a bad regeneration)."""
    params, gmacs = PUBLISHED[name]
    figures = ORACLE["models"][name]
    assert figures["params"] == params
    assert round(figures["macs"] / 1e9, 3) == gmacs


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_spec_matches_torchvision_exactly(name):
    figures = ORACLE["models"][name]
    report = spec_report(name)
    assert list(report.input_shape) == figures["input"]
    assert report.totals.params == figures["params"]
    assert report.totals.macs == figures["macs"]
    assert report.totals.buffers == figures["buffers"]
    assert list(report.output_shape) == figures["output"]
    assert count(report, "conv") == figures["conv_layers"]
    assert count(report, "fc") == figures["linear_layers"]


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_spec_matches_published_figures(name):
    params, gmacs = PUBLISHED[name]
    totals = spec_report(name).totals
    assert totals.params == params
    assert round(totals.macs / 1e9, 3) == gmacs


def test_published_parameter_counts_literally():
    """The parameter counts torchvision's documentation prints, as the brief's sanity list."""
    assert spec_report("vgg16").totals.params == 138_357_544
    assert spec_report("resnet50").totals.params == 25_557_032
    assert spec_report("alexnet").totals.params == 61_100_840
    assert spec_report("googlenet").totals.params == 6_624_904
    assert spec_report("densenet121").totals.params == 7_978_856
    assert spec_report("mobilenet_v2").totals.params == 3_504_872
    assert spec_report("squeezenet1_0").totals.params == 1_248_424


def test_vgg16_bn_adds_only_batchnorm_scale_and_shift():
    bn_channels = 2 * 64 + 2 * 128 + 3 * 256 + 3 * 512 + 3 * 512
    assert spec_report("vgg16_bn").totals.params == 138_357_544 + 2 * bn_channels
    assert spec_report("vgg16_bn").totals.macs == spec_report("vgg16").totals.macs


def test_googlenet_5x5_branch_is_3x3_as_in_torchvision():
    report = spec_report("googlenet")
    # inception3a: ch5x5red 16 → ch5x5 32 with a 3×3 kernel, no bias (BasicConv2d)
    assert row(report, "inception3a.branch3.1.conv").params == 3 * 3 * 16 * 32
    assert row(report, "inception3a.concat").output_shape == (28, 28, 64 + 128 + 32 + 32)
    assert row(report, "maxpool1").output_shape == (56, 56, 64)  # ceil mode: ⌈(112 − 3)/2⌉ + 1


def test_densenet121_channel_bookkeeping():
    report = spec_report("densenet121")
    assert row(report, "transition1.pool").output_shape == (28, 28, (64 + 6 * 32) // 2)
    assert row(report, "transition2.pool").output_shape == (14, 14, (128 + 12 * 32) // 2)
    assert row(report, "transition3.pool").output_shape == (7, 7, (256 + 24 * 32) // 2)
    assert row(report, "norm5").output_shape == (7, 7, 512 + 16 * 32)


def test_squeezenet_ceil_mode_pools():
    report = spec_report("squeezenet1_0")
    assert row(report, "conv1").output_shape == (109, 109, 96)  # ⌊(224 − 7)/2⌋ + 1
    assert row(report, "fire9.concat").output_shape == (13, 13, 256 + 256)
    assert row(report, "final_conv").output_shape == (13, 13, 1000)


# --- networks torchvision does not have: the papers' own figures ---


def test_alexnet_original_conv1_and_grouped_convs():
    report = spec_report("alexnet_original")
    conv1 = row(report, "conv1")
    assert conv1.output_shape == (55, 55, 96)  # (227 − 11)/4 + 1
    assert conv1.params == 11 * 11 * 3 * 96 + 96
    assert conv1.macs == 55 * 55 * 96 * (11 * 11 * 3)
    # groups 2: each of the 256 filters sees 96 / 2 = 48 input maps
    assert row(report, "conv2").params == 256 * (96 // 2) * 5 * 5 + 256
    assert row(report, "conv3").params == 384 * 256 * 3 * 3 + 384  # conv3 sees both GPUs
    assert row(report, "conv4").params == 384 * (384 // 2) * 3 * 3 + 384
    assert row(report, "conv5").params == 256 * (384 // 2) * 3 * 3 + 256
    assert row(report, "pool5").output_shape == (6, 6, 256)


def test_alexnet_original_total_is_caffes():
    convs = (
        (11 * 11 * 3 * 96 + 96)
        + (5 * 5 * 48 * 256 + 256)
        + (3 * 3 * 256 * 384 + 384)
        + (3 * 3 * 192 * 384 + 384)
        + (3 * 3 * 192 * 256 + 256)
    )
    fcs = (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert spec_report("alexnet_original").totals.params == convs + fcs == 60_965_224  # Caffe's bvlc_alexnet


def test_zfnet_feature_map_sizes_of_the_paper():
    """Zeiler & Fergus 2013, Fig. 3: 110, 55, 26, 13, 13, 13, 6."""
    report = spec_report("zfnet")
    expected = {
        "conv1": (110, 110, 96),
        "pool1": (55, 55, 96),
        "conv2": (26, 26, 256),
        "pool2": (13, 13, 256),
        "conv3": (13, 13, 384),
        "conv4": (13, 13, 384),
        "conv5": (13, 13, 256),
        "pool5": (6, 6, 256),
    }
    assert {name: row(report, name).output_shape for name in expected} == expected
    assert row(report, "conv1").params == 7 * 7 * 3 * 96 + 96


def test_lenet5():
    report = spec_report("lenet5")
    assert row(report, "c1").output_shape == (28, 28, 6)
    assert row(report, "s4").output_shape == (5, 5, 16)
    assert report.output_shape == (10,)
    assert report.totals.params == (
        (5 * 5 * 1 * 6 + 6) + (5 * 5 * 6 * 16 + 16) + (5 * 5 * 16 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    )
    assert report.totals.macs == (
        28 * 28 * 6 * (5 * 5 * 1) + 10 * 10 * 16 * (5 * 5 * 6) + 5 * 5 * 16 * 120 + 120 * 84 + 84 * 10
    )


# --- the lecture examples ---


def test_inception_naive():
    report = analyse(EXAMPLES / "inception_naive.yaml")
    assert report.output_shape == (28, 28, 128 + 192 + 96 + 256)
    assert report.totals.macs == (
        28 * 28 * 128 * (1 * 1 * 256) + 28 * 28 * 192 * (3 * 3 * 256) + 28 * 28 * 96 * (5 * 5 * 256)
    )
    assert round(report.totals.macs / 1e6) == 854  # the lecture's "854M ops"


def test_inception_bottleneck():
    report = analyse(EXAMPLES / "inception_bottleneck.yaml")
    assert report.output_shape == (28, 28, 128 + 192 + 96 + 64)
    assert report.totals.macs == (
        28 * 28 * 64 * (1 * 1 * 256)  # 1×1 reduce before the 3×3
        + 28 * 28 * 64 * (1 * 1 * 256)  # 1×1 reduce before the 5×5
        + 28 * 28 * 128 * (1 * 1 * 256)  # 1×1 branch
        + 28 * 28 * 192 * (3 * 3 * 64)
        + 28 * 28 * 96 * (5 * 5 * 64)
        + 28 * 28 * 64 * (1 * 1 * 256)  # 1×1 after the pool
    )
    # The lecture prints "358M" for this module; its drawn module sums to 271M (see the spec's header).
    assert round(report.totals.macs / 1e6) == 271


def test_three_3x3_convs_cost_less_than_one_7x7():
    c = 64
    three = analyse(EXAMPLES / "stack_3x3_vs_7x7" / "three_3x3.yaml")
    one = analyse(EXAMPLES / "stack_3x3_vs_7x7" / "one_7x7.yaml")
    assert three.output_shape == one.output_shape == (56, 56, c)
    assert three.totals.params == 27 * c * c
    assert one.totals.params == 49 * c * c
    assert three.totals.macs == 56 * 56 * 27 * c * c
    assert one.totals.macs == 56 * 56 * 49 * c * c


def test_resnet_bottleneck_block():
    report = analyse(EXAMPLES / "resnet_bottleneck.yaml")
    assert report.output_shape == (56, 56, 256)
    convs = 1 * 1 * 256 * 64 + 3 * 3 * 64 * 64 + 1 * 1 * 64 * 256
    assert report.totals.params == convs + 2 * (64 + 64 + 256)
    assert report.totals.macs == 56 * 56 * convs


def test_densenet_transition():
    report = analyse(EXAMPLES / "densenet_transition.yaml")
    assert report.output_shape == (28, 28, 128)
    assert report.totals.params == 2 * 256 + 1 * 1 * 256 * 128
    assert report.totals.macs == 56 * 56 * 128 * 256


# specs/blocks holds shared blocks and specs/budgets budget files: neither is a network.
NETWORKS = sorted(p for p in SPECS.rglob("*.yaml") if p.relative_to(SPECS).parts[0] not in ("blocks", "budgets"))


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: str(p.relative_to(SPECS)))
def test_every_zoo_spec_analyses(path):
    report = analyse(path)
    assert report.layers
    assert report.name == path.stem
