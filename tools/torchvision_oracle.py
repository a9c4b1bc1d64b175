"""Independent oracle: exact figures of torchvision's reference CNNs, measured with PyTorch itself.

This is a standalone script, not part of the netcalc package. It runs only where `torch` and `torchvision`
are installed (a throw-away venv is enough; netcalc never depends on them):

    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tvenv/bin/python tools/torchvision_oracle.py            # writes tests/data/torchvision_figures.json
    /tmp/tvenv/bin/python tools/torchvision_oracle.py --detail resnet50   # per-layer rows, to debug a spec

Each model is built with `weights=None`, put in eval mode and run on one 1×3×224×224 input (a model's entry in
MODELS may change that: EfficientNet-B1 runs at 240×240; GoogLeNet with its auxiliary heads runs in training mode,
the only mode where they run). Forward hooks on every Conv2d, ConvTranspose2d and Linear module record the shapes
each call really saw, and MACs follow the convention written in CONVENTION below (the same one netcalc uses: bias
excluded, nothing else counts). Parameters are `sum(p.numel())` over `model.parameters()`; buffers are the
BatchNorm running statistics (`num_batches_tracked` is excluded: it is a bookkeeping counter, not a tensor of the
network).

For the models written with torchvision's module names (DETAILED), a forward hook on every leaf module also
records its output shape, as netcalc writes shapes ("HxWxC", or "F" for a flat vector), under the module's name;
a module called more than once (ResNet's Bottleneck.relu) records one shape per call, as a list, and a spec names
the later calls `<name>_1`, `<name>_2`, … (torch.fx's names for repeated calls). Layout-only modules (the
Permute around ConvNeXt's channels-last MLP) are not recorded: a spec has no layer for them, and the modules
between them, which see channels last, are recorded in H×W×C all the same.

Two networks torchvision does not have are built here in PyTorch from their papers, with the module names their
specs use (BUILDS): U-Net (Ronneberger et al. 2015) and ResNet-20 for CIFAR with the option-A shortcut (He et al.
2015, section 4.2).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torchvision import models
from torchvision.ops.misc import Permute

CONVENTION = (
    "MACs per forward pass of one sample, bias excluded: "
    "Conv2d = N*Hout*Wout*Cout*(Cin/groups)*kh*kw; "
    "ConvTranspose2d = N*Hin*Win*Cin*(Cout/groups)*kh*kw; "
    "Linear = N*in*out; no other module counts MACs. "
    "params = sum of numel over model.parameters(); "
    "buffers = sum of numel over model.buffers() except num_batches_tracked."
)

# name -> constructor keyword arguments (besides weights=None)
MODELS: dict[str, dict[str, object]] = {
    "alexnet": {},
    "vgg11": {},
    "vgg13": {},
    "vgg16": {},
    "vgg19": {},
    "vgg16_bn": {},
    "googlenet": {"aux_logits": False, "init_weights": False},
    "resnet18": {},
    "resnet34": {},
    "resnet50": {},
    "resnet101": {},
    "resnet152": {},
    "densenet121": {},
    "mobilenet_v2": {},
    "squeezenet1_0": {},
    "mobilenet_v3_large": {},
    "efficientnet_b1": {"input": 240},
    "shufflenet_v2_x0_5": {},
    "mnasnet1_0": {},
    "regnet_y_400mf": {},
    "convnext_tiny": {},
    "googlenet_aux": {"model": "googlenet", "aux_logits": True, "init_weights": False, "train": True},
    "fcn_resnet50": {"aux_loss": False, "weights_backbone": None},
    "deeplabv3_resnet50": {"aux_loss": False, "weights_backbone": None},
}
# Models whose every leaf module's output shape is recorded (their specs keep torchvision's module names).
DETAILED = (
    "mobilenet_v3_large",
    "efficientnet_b1",
    "shufflenet_v2_x0_5",
    "mnasnet1_0",
    "regnet_y_400mf",
    "convnext_tiny",
    "googlenet_aux",
    "fcn_resnet50",
    "deeplabv3_resnet50",
)
# Keys of a MODELS entry that are this tool's, not the constructor's.
TOOL_KEYS = ("model", "input", "train")

# Published parameter counts (torchvision's model documentation, "num_params"), checked on every run;
# every model is also checked against its weights' metadata ("num_params" and "_ops" in GMACs).
PUBLISHED_PARAMS = {
    "vgg16": 138_357_544,
    "resnet50": 25_557_032,
    "alexnet": 61_100_840,
    "googlenet": 6_624_904,
    "densenet121": 7_978_856,
    "mobilenet_v2": 3_504_872,
    "squeezenet1_0": 1_248_424,
}

INPUT_HW = 224
# torchvision's metadata describes another configuration than the one measured here: the segmentation weights
# carry the auxiliary FCN head and publish GMACs at 520×520; googlenet_aux adds the auxiliary heads.
NOT_IN_METADATA = ("googlenet_aux", "fcn_resnet50", "deeplabv3_resnet50")
OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "torchvision_figures.json"


def conv2d_macs(module: nn.Conv2d, x: torch.Tensor, y: torch.Tensor) -> int:
    n, c_out, h_out, w_out = y.shape
    kh, kw = module.kernel_size
    return n * h_out * w_out * c_out * (module.in_channels // module.groups) * kh * kw


def conv_transpose2d_macs(module: nn.ConvTranspose2d, x: torch.Tensor, y: torch.Tensor) -> int:
    n, c_in, h_in, w_in = x.shape
    kh, kw = module.kernel_size
    return n * h_in * w_in * c_in * (module.out_channels // module.groups) * kh * kw


def linear_macs(module: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> int:
    rows = x.numel() // module.in_features  # N (and any leading dims)
    return rows * module.in_features * module.out_features


MAC_RULES = {nn.Conv2d: conv2d_macs, nn.ConvTranspose2d: conv_transpose2d_macs, nn.Linear: linear_macs}


def netcalc_shape(shape: torch.Size, channels_last: bool) -> str:
    """A tensor's shape as netcalc writes it, batch dropped: "HxWxC" (from NCHW, or NHWC), or "F"."""
    dims = list(shape[1:])
    if len(dims) == 3 and not channels_last:
        dims = dims[1:] + dims[:1]
    return "x".join(map(str, dims))


# The settings that leave every figure unchanged but change what a layer computes, per module class, as
# "name=value" pairs under netcalc's attribute names (a spec must state them: eps 0.001 is not eps 1e-5).
NUMERIC_ATTRS = {
    "BatchNorm2d": (("eps", "eps"), ("momentum", "momentum")),
    "LayerNorm": (("eps", "eps"),),
    "LayerNorm2d": (("eps", "eps"),),
    "Dropout": (("p", "p"),),
    "StochasticDepth": (("p", "p"), ("mode", "mode")),
}


def numeric_attrs(module: nn.Module) -> str:
    pairs = NUMERIC_ATTRS.get(type(module).__name__, ())
    return " ".join(f"{ours}={getattr(module, theirs)!r}".replace("'", "") for ours, theirs in pairs)


def build(name: str, options: dict[str, object]) -> nn.Module:
    if name in BUILDS:
        return BUILDS[name]()
    kwargs = {k: v for k, v in options.items() if k not in TOOL_KEYS}
    return models.get_model(str(options.get("model", name)), weights=None, **kwargs)


def measure(name: str, options: dict[str, object]) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Build one model, run it once, and return its figures and the per-call rows of the counted layers."""
    torch.manual_seed(0)
    model = build(name, options)
    model.train(bool(options.get("train", False)))
    rows: list[dict[str, object]] = []
    shapes: dict[str, list[str]] = {}
    layout = {"channels_last": False}
    handles = []
    detailed = name in DETAILED or name in BUILDS
    for mod_name, module in model.named_modules():
        rule = MAC_RULES.get(type(module))
        if rule is not None:

            def hook(module, inputs, output, mod_name=mod_name, rule=rule):
                x = inputs[0]
                rows.append(
                    {
                        "name": mod_name,
                        "type": type(module).__name__,
                        "in": list(x.shape),
                        "out": list(output.shape),
                        "params": sum(p.numel() for p in module.parameters()),
                        "macs": rule(module, x, output),
                    }
                )

            handles.append(module.register_forward_hook(hook))
        if isinstance(module, Permute):  # layout only: NCHW <-> NHWC

            def permute_hook(module, inputs, output):
                layout["channels_last"] = list(module.dims) == [0, 2, 3, 1]

            handles.append(module.register_forward_hook(permute_hook))
        elif detailed and not list(module.children()):

            def shape_hook(module, inputs, output, mod_name=mod_name):
                shapes.setdefault(mod_name, []).append(netcalc_shape(output.shape, layout["channels_last"]))

            handles.append(module.register_forward_hook(shape_hook))
    hw = int(options.get("input", BUILD_INPUTS.get(name, (INPUT_HW, INPUT_HW, 3))[0]))
    input_shape = BUILD_INPUTS.get(name, (hw, hw, 3))
    with torch.set_grad_enabled(False):
        out = model(torch.zeros(1, input_shape[2], input_shape[0], input_shape[1]))
    for handle in handles:
        handle.remove()
    if isinstance(out, dict):  # torchvision's segmentation models: {"out": …} (no "aux" here)
        outs = list(out.values())
    elif isinstance(out, tuple):  # GoogLeNetOutputs(logits, aux_logits2, aux_logits1) in training mode
        outs = list(out)
    else:
        outs = [out]
    figures: dict[str, object] = {
        "input": list(input_shape),
        "output": [int(d) for d in netcalc_shape(outs[0].shape, False).split("x")],
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")),
        "macs": sum(r["macs"] for r in rows),
        "conv_layers": sum(isinstance(m, nn.Conv2d) for m in model.modules()),
        "linear_layers": sum(isinstance(m, nn.Linear) for m in model.modules()),
    }
    if len(outs) > 1:
        figures["outputs"] = [netcalc_shape(o.shape, False) for o in outs]
    if detailed:
        figures["conv_transpose_layers"] = sum(isinstance(m, nn.ConvTranspose2d) for m in model.modules())
        figures["layers"] = {n: s[0] if len(s) == 1 else s for n, s in shapes.items()}
        modules = dict(model.named_modules())
        figures["module_types"] = {n: type(modules[n]).__name__ for n in shapes}
        figures["module_attrs"] = {n: a for n in shapes if (a := numeric_attrs(modules[n]))}
    return figures, rows


# --- networks from papers, built here with the module names their specs use ---


class DoubleConv(nn.Sequential):
    """U-Net's two unpadded 3×3 convolutions, each followed by a ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3)
        self.relu2 = nn.ReLU()


class UpStage(nn.Module):
    """2×2 up-convolution halving the channels, copy-and-crop of the skip, concatenation, two 3×3 convs."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.upconv = nn.ConvTranspose2d(c_in, c_out, 2, stride=2)
        self.conv1 = nn.Conv2d(2 * c_out, c_out, 3)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.upconv(x)
        top = (skip.shape[2] - x.shape[2]) // 2
        left = (skip.shape[3] - x.shape[3]) // 2
        cropped = skip[:, :, top : top + x.shape[2], left : left + x.shape[3]]
        x = torch.cat([cropped, x], dim=1)
        return self.relu2(self.conv2(self.relu1(self.conv1(x))))


class UNet(nn.Module):
    """Ronneberger, Fischer & Brox 2015, Fig. 1: 572×572×1 in, 388×388×2 out; 64…1024 channels."""

    def __init__(self, channels: int = 1, classes: int = 2, widths: tuple[int, ...] = (64, 128, 256, 512, 1024)):
        super().__init__()
        c = channels
        for i, width in enumerate(widths, start=1):
            self.add_module(f"down{i}", DoubleConv(c, width))
            if i < len(widths):
                self.add_module(f"pool{i}", nn.MaxPool2d(2))
            c = width
        for i, width in enumerate(reversed(widths[:-1]), start=1):
            self.add_module(f"up{i}", UpStage(c, width))
            c = width
        self.head = nn.Conv2d(c, classes, 1)
        self.depth = len(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i in range(1, self.depth):
            x = getattr(self, f"down{i}")(x)
            skips.append(x)
            x = getattr(self, f"pool{i}")(x)
        x = getattr(self, f"down{self.depth}")(x)
        for i in range(1, self.depth):
            x = getattr(self, f"up{i}")(x, skips.pop())
        return self.head(x)


class Subsample(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::2, ::2]


class ChannelPad(nn.Module):
    def __init__(self, before: int, after: int) -> None:
        super().__init__()
        self.before, self.after = before, after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))


class CifarBasicBlock(nn.Module):
    """He et al. 2015, section 4.2: two 3×3 convs; option A: the shortcut subsamples and zero-pads channels."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU()
        self.shortcut: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            extra = c_out - c_in
            self.shortcut = nn.Sequential()
            self.shortcut.add_module("subsample", Subsample())
            self.shortcut.add_module("pad", ChannelPad(extra // 2, extra - extra // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + (x if self.shortcut is None else self.shortcut(x)))


class ResNetCifar(nn.Module):
    """ResNet-6n+2 for CIFAR-10 (n = 3: ResNet-20): 16, 32, 64 filters on 32, 16, 8 maps; 0.27M parameters."""

    def __init__(self, n: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        c = 16
        for stage, width in enumerate((16, 32, 64), start=1):
            blocks = [CifarBasicBlock(c if i == 0 else width, width, 2 if i == 0 and stage > 1 else 1) for i in range(n)]
            self.add_module(f"layer{stage}", nn.Sequential(*blocks))
            c = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))


BUILDS = {"unet": UNet, "resnet20_cifar": ResNetCifar}
BUILD_INPUTS = {"unet": (572, 572, 1), "resnet20_cifar": (32, 32, 3)}
# The papers' own figures for the builds: U-Net's output map (Fig. 1) and ResNet-20's "0.27M" (Table 6).
PAPER_OUTPUTS = {"unet": [388, 388, 2], "resnet20_cifar": [10]}


def dump(document: dict[str, object]) -> str:
    """JSON with one line per layer: indented like json.dumps(indent=2), but shape lists kept on one line."""
    text = json.dumps(document, indent=2)
    # A list of short strings or of ints (a shape, or a reused module's shapes) on one line.
    return re.sub(
        r"\[\n\s+((?:\"[0-9x]+\"|\d+)(?:,\n\s+(?:\"[0-9x]+\"|\d+))*)\n\s+\]",
        lambda m: "[" + re.sub(r",\n\s+", ", ", m.group(1)) + "]",
        text,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", metavar="MODEL", help="print one model's per-layer rows and write nothing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    if args.detail:
        figures, rows = measure(args.detail, MODELS.get(args.detail, {}))
        for layer, shape in figures.pop("layers", {}).items():
            print(f"{layer:50s} {shape}")
        for r in rows:
            print(
                f"{r['name']:40s} {r['type']:16s} {r['in']!s:22s} -> {r['out']!s:22s} "
                f"params={r['params']:>10d} macs={r['macs']:>12d}"
            )
        print(json.dumps(figures))
        return 0

    results = {}
    for name, options in MODELS.items():
        figures, _ = measure(name, options)
        results[name] = figures
        print(f"{name:20s} params={figures['params']:>12,d} macs={figures['macs']:>15,d}", file=sys.stderr)
    builds = {}
    for name in BUILDS:
        figures, _ = measure(name, {})
        builds[name] = figures
        print(f"{name:20s} params={figures['params']:>12,d} macs={figures['macs']:>15,d}", file=sys.stderr)
        if figures["output"] != PAPER_OUTPUTS[name]:
            print(f"{name}: output {figures['output']}, the paper's is {PAPER_OUTPUTS[name]}", file=sys.stderr)
            return 1

    wrong = {n: (results[n]["params"], p) for n, p in PUBLISHED_PARAMS.items() if results[n]["params"] != p}
    if wrong:
        print(f"parameter counts differ from the published ones (measured, published): {wrong}", file=sys.stderr)
        return 1
    # torchvision's weight metadata also publishes "_ops" (GMACs, 3 decimals) under the same convention.
    for name, figures in results.items():
        if name in NOT_IN_METADATA:
            continue
        meta = models.get_model_weights(name).DEFAULT.meta
        if meta["num_params"] != figures["params"] or round(figures["macs"] / 1e9, 3) != meta["_ops"]:
            print(
                f"{name}: measured {figures['params']} params, {figures['macs']} MACs; torchvision's metadata "
                f"says {meta['num_params']} params, {meta['_ops']} GMACs",
                file=sys.stderr,
            )
            return 1

    document = {
        "generated_by": "tools/torchvision_oracle.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "convention": CONVENTION,
        "models": results,
        "builds": builds,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(dump(document) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
