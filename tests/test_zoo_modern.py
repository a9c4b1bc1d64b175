"""Today's networks in specs/ against PyTorch, layer by layer.

The oracle is `tests/data/torchvision_figures.json`, measured by `tools/torchvision_oracle.py` with forward hooks
on torchvision's own models (and on the tool's PyTorch builds of U-Net and ResNet-20 for CIFAR, which torchvision
does not have). Besides the totals it records every leaf module's output shape under the module's name; these
specs keep torchvision's names, so every one of those modules must be a spec layer of the same name and shape.
A module torchvision calls several times (the `relu` of ResNet's Bottleneck) is one spec layer per call, named
`<name>`, `<name>_1`, `<name>_2`, … as torch.fx names repeated calls.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netcalc
from netcalc.analysis.report import Report

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ORACLE = json.loads((ROOT / "tests" / "data" / "torchvision_figures.json").read_text(encoding="utf-8"))

# torchvision's model documentation ("Params" and "GFLOPS" = GMACs under our convention, torchvision 0.29),
# for the models measured here in the configuration the documentation describes.
PUBLISHED = {
    "mobilenet_v3_large": (5_483_032, 0.217),
    "efficientnet_b1": (7_794_184, 0.687),  # at 240×240, its weights' crop size
    "shufflenet_v2_x0_5": (1_366_792, 0.04),
    "mnasnet1_0": (4_383_312, 0.314),
    "regnet_y_400mf": (4_344_144, 0.402),
    "convnext_tiny": (28_589_128, 4.456),
}
# FCNHead(1024, 21), the auxiliary head the published segmentation weights carry and our specs leave out.
AUX_FCN_HEAD = 1024 * 256 * 3 * 3 + 2 * 256 + 256 * 21 + 21


def figures(name: str) -> dict:
    return ORACLE["models"].get(name) or ORACLE["builds"][name]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_oracle_agrees_with_torchvision_docs(name):
    params, gmacs = PUBLISHED[name]
    assert figures(name)["params"] == params
    assert round(figures(name)["macs"] / 1e9, 3) == gmacs


def test_oracle_segmentation_models_are_the_published_ones_without_the_aux_head():
    assert figures("fcn_resnet50")["params"] + AUX_FCN_HEAD == 35_322_218
    assert figures("deeplabv3_resnet50")["params"] + AUX_FCN_HEAD == 42_004_074
    assert figures("fcn_resnet50")["output"] == figures("deeplabv3_resnet50")["output"] == [224, 224, 21]


def test_oracle_googlenet_aux_heads():
    """Each InceptionAux: 4×4 average pool, 1×1 conv 128 (no bias) + BN, fc 2048→1024, fc 1024→1000."""

    def aux(c_in: int) -> tuple[int, int]:
        params = c_in * 128 + 2 * 128 + (2048 * 1024 + 1024) + (1024 * 1000 + 1000)
        macs = 4 * 4 * 128 * c_in + 2048 * 1024 + 1024 * 1000
        return params, macs

    plain, with_aux = figures("googlenet"), figures("googlenet_aux")
    (p1, m1), (p2, m2) = aux(512), aux(528)  # after inception4a and inception4d
    assert with_aux["params"] == plain["params"] + p1 + p2
    assert with_aux["macs"] == plain["macs"] + m1 + m2
    assert with_aux["outputs"] == ["1000", "1000", "1000"]


def test_oracle_paper_builds():
    resnet20 = figures("resnet20_cifar")
    convs = 3 * 16 * 9 + 6 * 16 * 16 * 9 + (16 * 32 + 5 * 32 * 32) * 9 + (32 * 64 + 5 * 64 * 64) * 9
    bns = 2 * (16 + 6 * 16 + 6 * 32 + 6 * 64)
    assert resnet20["params"] == convs + bns + 64 * 10 + 10 == 269_722  # the paper's "0.27M"
    unet = figures("unet")
    assert unet["output"] == [388, 388, 2]  # Fig. 1
    assert unet["layers"]["down5.conv2"] == "28x28x1024"
    assert unet["layers"]["up1.upconv"] == "56x56x512"


# --- the specs against the oracle ---

# The specs written with their reference's module names (test_verify.py runs each through `netcalc verify`).
MATCHED = (
    "convnext_tiny",
    "deeplabv3_resnet50",
    "efficientnet_b1",
    "fcn_resnet50",
    "googlenet_aux",
    "mnasnet1_0",
    "mobilenet_v3_large",
    "regnet_y_400mf",
    "resnet20_cifar",
    "shufflenet_v2_x0_5",
    "unet",
)


def spec_report(name: str) -> Report:
    return netcalc.analyze_file(SPECS / f"{name}.yaml")


def reference_layers(name: str) -> dict[str, tuple[str, str]]:
    """Spec name -> (PyTorch module class, output shape) of every leaf module call; a module called k times gives
    name, name_1, … name_(k-1)."""
    oracle = figures(name)
    layers = {}
    for module, shapes in oracle["layers"].items():
        for call, shape in enumerate([shapes] if isinstance(shapes, str) else shapes):
            layers[module if call == 0 else f"{module}_{call}"] = (oracle["module_types"][module], shape)
    return layers


@pytest.mark.parametrize("name", MATCHED)
def test_spec_totals_match_the_oracle(name):
    oracle, report = figures(name), spec_report(name)
    assert list(report.input_shape) == oracle["input"]
    assert report.totals.params == oracle["params"]
    assert report.totals.macs == oracle["macs"]
    assert report.totals.buffers == oracle["buffers"]
    shapes = ["x".join(map(str, shape)) for shape in report.output_shapes]
    assert shapes == oracle.get("outputs", ["x".join(map(str, oracle["output"]))])


@pytest.mark.parametrize("name", MATCHED)
def test_every_layer_of_the_reference_is_a_spec_layer_of_the_same_shape(name):
    expected = {layer: shape for layer, (_, shape) in reference_layers(name).items()}
    rows = {row.name: "x".join(map(str, row.output_shape)) for row in spec_report(name).layers}
    assert {module: rows.get(module, "missing") for module in expected} == expected


# The netcalc kind that computes what each PyTorch module class computes. nn.Linear on an H×W×C map (ConvNeXt's
# channels-last MLP) is a pointwise conv; on a flat vector it is fc.
KIND_OF = {
    "AdaptiveAvgPool2d": {"adaptive_avgpool", "global_avgpool"},
    "BatchNorm2d": {"batchnorm"},
    "ChannelPad": {"channel_pad"},
    "Conv2d": {"conv"},
    "ConvTranspose2d": {"conv_transpose"},
    "Dropout": {"dropout"},
    "Flatten": {"flatten"},
    "GELU": {"gelu"},
    "Hardsigmoid": {"hardsigmoid"},
    "Hardswish": {"hardswish"},
    "LayerNorm": {"layernorm"},
    "LayerNorm2d": {"layernorm"},
    "MaxPool2d": {"maxpool"},
    "ReLU": {"relu"},
    "SiLU": {"silu"},
    "Sigmoid": {"sigmoid"},
    "StochasticDepth": {"stochastic_depth"},
    "Subsample": {"subsample"},
}


@pytest.mark.parametrize("name", MATCHED)
def test_every_layer_of_the_reference_computes_what_its_module_computes(name):
    """hardswish where torchvision has nn.Hardswish, not a relu of the same shape and count."""
    kinds = {row.name: row.kind for row in spec_report(name).layers}
    wrong = {}
    for layer, (module_type, shape) in reference_layers(name).items():
        allowed = ({"conv"} if "x" in shape else {"fc"}) if module_type == "Linear" else KIND_OF[module_type]
        if kinds.get(layer) not in allowed:
            wrong[layer] = (module_type, kinds.get(layer))
    assert wrong == {}


@pytest.mark.parametrize("name", MATCHED)
def test_eps_momentum_and_drop_rates_are_the_references(name):
    """Settings no figure shows: MobileNetV3's batch norm eps 0.001, MnasNet's momentum, the dropout rates,
    EfficientNet's and ConvNeXt's stochastic depth rate growing with the block index."""
    attrs = {layer.name: layer.attrs for layer in netcalc.load_network(SPECS / f"{name}.yaml").layers}
    wanted, found = {}, {}
    for module, text in figures(name)["module_attrs"].items():
        for pair in text.split():
            key, value = pair.split("=")
            wanted[f"{module} {key}"] = value if key == "mode" else pytest.approx(float(value), rel=1e-12)
            found[f"{module} {key}"] = attrs.get(module, {}).get(key)
    assert found == wanted


@pytest.mark.parametrize("name", MATCHED)
def test_every_spec_layer_feeds_an_output(name):
    assert all(row.counted for row in spec_report(name).layers)
