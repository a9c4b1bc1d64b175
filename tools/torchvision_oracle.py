"""Independent oracle: exact figures of torchvision's reference CNNs, measured with PyTorch itself.

This is a standalone script, not part of the netcalc package. It runs only where `torch` and `torchvision`
are installed (a throw-away venv is enough; netcalc never depends on them):

    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tvenv/bin/python tools/torchvision_oracle.py            # writes tests/data/torchvision_figures.json
    /tmp/tvenv/bin/python tools/torchvision_oracle.py --detail resnet50   # per-layer rows, to debug a spec

Each model is built with `weights=None`, put in eval mode and run on one 1×3×224×224 input. Forward hooks on
every Conv2d, ConvTranspose2d and Linear module record the shapes each call really saw, and MACs follow the
convention written in CONVENTION below (the same one netcalc uses: bias excluded, nothing else counts).
Parameters are `sum(p.numel())` over `model.parameters()`; buffers are the BatchNorm running statistics
(`num_batches_tracked` is excluded: it is a bookkeeping counter, not a tensor of the network).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision import models

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
}

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


def measure(name: str, kwargs: dict[str, object]) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Build one model, run it once, and return its figures and the per-call rows of the counted layers."""
    torch.manual_seed(0)
    model = getattr(models, name)(weights=None, **kwargs).eval()
    rows: list[dict[str, object]] = []
    handles = []
    for mod_name, module in model.named_modules():
        rule = MAC_RULES.get(type(module))
        if rule is None:
            continue

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
    with torch.no_grad():
        out = model(torch.zeros(1, 3, INPUT_HW, INPUT_HW))
    for handle in handles:
        handle.remove()
    if isinstance(out, tuple):  # GoogLeNetOutputs when aux heads are on; not the case here
        out = out[0]
    figures = {
        "input": [INPUT_HW, INPUT_HW, 3],
        "output": list(out.shape[1:]),
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")),
        "macs": sum(r["macs"] for r in rows),
        "conv_layers": sum(isinstance(m, nn.Conv2d) for m in model.modules()),
        "linear_layers": sum(isinstance(m, nn.Linear) for m in model.modules()),
    }
    return figures, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", metavar="MODEL", help="print one model's per-layer rows and write nothing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    if args.detail:
        figures, rows = measure(args.detail, MODELS.get(args.detail, {}))
        for r in rows:
            print(
                f"{r['name']:40s} {r['type']:16s} {r['in']!s:22s} -> {r['out']!s:22s} "
                f"params={r['params']:>10d} macs={r['macs']:>12d}"
            )
        print(json.dumps(figures))
        return 0

    results = {}
    for name, kwargs in MODELS.items():
        figures, _ = measure(name, kwargs)
        results[name] = figures
        print(f"{name:15s} params={figures['params']:>12,d} macs={figures['macs']:>15,d}", file=sys.stderr)

    wrong = {n: (results[n]["params"], p) for n, p in PUBLISHED_PARAMS.items() if results[n]["params"] != p}
    if wrong:
        print(f"parameter counts differ from the published ones (measured, published): {wrong}", file=sys.stderr)
        return 1
    # torchvision's weight metadata also publishes "_ops" (GMACs, 3 decimals) under the same convention.
    for name, figures in results.items():
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
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
