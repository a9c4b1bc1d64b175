"""Independent oracle: values and input gradients of the pointwise and normalisation kinds, from PyTorch itself.

A standalone script, not part of the netcalc package; it needs `torch` and `torchvision` (netcalc never depends on
them):

    /work/venvs/torch/bin/python tools/pointwise_values_oracle.py     # writes tests/data/pointwise_values.json

Each case evaluates one of torch's own implementations (F.hardswish, F.hardsigmoid, F.silu, F.gelu in both modes,
F.elu, F.prelu, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm on channels-last input as ConvNeXt's LayerNorm2d
does and on a flat vector, torchvision.ops.stochastic_depth at inference, a broadcast product and a per-channel
scale) in float64 on a small seeded NCHW input x, then backpropagates a seeded upstream gradient dy through it.
The file holds, per case: the netcalc kind and attributes it stands for, x (and the other inputs), the learned
arrays under netcalc's names, dy, torch's output y and the gradients of every input and learned array.
tests/kinds/test_pointwise_oracle.py runs netcalc's NumPy forward/backward on the same numbers and compares.

Inputs are rounded to 3 decimals, so the JSON holds them exactly; values that land on a kink (0, ±3) are moved
off it. Outputs are written with 15 significant digits.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.ops import stochastic_depth

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "pointwise_values.json"
KINKS = (0.0, 3.0, -3.0)


def seeded(gen: torch.Generator, *shape: int, spread: float = 2.5) -> torch.Tensor:
    """Normal values × spread, rounded to 3 decimals and kept off the kinks of relu-like functions."""
    t = torch.round(torch.randn(*shape, generator=gen, dtype=torch.float64) * spread * 1000) / 1000
    for kink in KINKS:
        t[t == kink] += 0.125
    return t


def _nested(t: torch.Tensor) -> Any:
    if t.dim() == 0:
        return float(f"{t.item():.15g}")
    return [_nested(s) for s in t]


def case(
    kind: str,
    attrs: dict[str, Any],
    fn: Any,
    inputs: list[torch.Tensor],
    params: dict[str, torch.Tensor],
    gen: torch.Generator,
    note: str,
) -> dict[str, Any]:
    """y = fn(*inputs, **params) with autograd; dy seeded; every gradient recorded."""
    inputs = [x.clone().requires_grad_(True) for x in inputs]
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    y = fn(*inputs, **params)
    dy = seeded(gen, *y.shape, spread=1.0)
    y.backward(dy)
    return {
        "kind": kind,
        "attrs": attrs,
        "torch": note,
        "inputs": [_nested(x) for x in inputs],
        "params": {k: _nested(v) for k, v in params.items()},
        "dy": _nested(dy),
        "y": _nested(y),
        "dinputs": [_nested(x.grad) for x in inputs],
        "dparams": {k: _nested(v.grad) for k, v in params.items()},
    }


def layer_norm_2d(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float) -> torch.Tensor:
    """ConvNeXt's LayerNorm2d: permute to channels-last, nn.LayerNorm over C, permute back."""
    norm = nn.LayerNorm(x.shape[1], eps=eps, dtype=torch.float64)
    # the module with its weight and bias replaced by the given leaves, so their .grad is torch's gradient
    out = torch.func.functional_call(norm, {"weight": gamma, "bias": beta}, (x.permute(0, 2, 3, 1),))
    return out.permute(0, 3, 1, 2)


def cases() -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(20261126)
    out: list[dict[str, Any]] = []
    x = seeded(gen, 1, 3, 2, 2)
    for kind, attrs, fn, note in [
        ("hardsigmoid", {}, F.hardsigmoid, "F.hardsigmoid"),
        ("hardswish", {}, F.hardswish, "F.hardswish"),
        ("silu", {}, F.silu, "F.silu"),
        ("gelu", {}, F.gelu, "F.gelu(approximate='none')"),
        ("gelu", {"approximate": "tanh"}, lambda t: F.gelu(t, approximate="tanh"), "F.gelu(approximate='tanh')"),
        ("elu", {"alpha": 0.7}, lambda t: F.elu(t, alpha=0.7), "F.elu(alpha=0.7)"),
    ]:
        out.append(case(kind, attrs, fn, [x], {}, gen, note))
    slopes = torch.tensor([0.25, -0.1, 0.6], dtype=torch.float64)
    out.append(case("prelu", {}, lambda t, slope: F.prelu(t, slope), [x], {"slope": slopes}, gen, "F.prelu, 3 slopes"))
    one = torch.tensor([0.3], dtype=torch.float64)
    out.append(case("prelu", {"shared": True}, lambda t, slope: F.prelu(t, slope), [x], {"slope": one}, gen,
                    "F.prelu, 1 slope"))
    flat = seeded(gen, 2, 5)
    out.append(case("prelu", {}, lambda t, slope: F.prelu(t, slope), [flat], {"slope": seeded(gen, 5, spread=0.3)},
                    gen, "F.prelu on (N, F), one slope per feature"))

    x4 = seeded(gen, 2, 4, 1, 2)
    affine = {"gamma": 1 + seeded(gen, 4, spread=0.2), "beta": seeded(gen, 4, spread=0.2)}
    out.append(case("groupnorm", {"groups": 2}, lambda t, gamma, beta: F.group_norm(t, 2, gamma, beta, 1e-5),
                    [x4], affine, gen, "nn.GroupNorm(2, 4) as F.group_norm"))
    out.append(case("groupnorm", {"groups": 2, "eps": 0.5, "affine": False}, lambda t: F.group_norm(t, 2, eps=0.5),
                    [x4], {}, gen, "nn.GroupNorm(2, 4, eps=0.5, affine=False)"))
    out.append(case("groupnorm", {"groups": 1}, lambda t, gamma, beta: F.group_norm(t, 1, gamma, beta, 1e-5),
                    [seeded(gen, 2, 4)], affine, gen, "nn.GroupNorm(1, 4) on (N, C)"))
    x2 = seeded(gen, 2, 2, 2, 2)
    out.append(case("instancenorm", {}, nn.InstanceNorm2d(2, dtype=torch.float64), [x2], {}, gen,
                    "nn.InstanceNorm2d(2) (defaults: affine False, no running stats)"))
    two = {"gamma": 1 + seeded(gen, 2, spread=0.2), "beta": seeded(gen, 2, spread=0.2)}
    out.append(case("instancenorm", {"affine": True, "eps": 0.1},
                    lambda t, gamma, beta: F.instance_norm(t, weight=gamma, bias=beta, eps=0.1),
                    [x2], two, gen, "nn.InstanceNorm2d(2, eps=0.1, affine=True) as F.instance_norm"))
    three = {"gamma": 1 + seeded(gen, 3, spread=0.2), "beta": seeded(gen, 3, spread=0.2)}
    out.append(case("layernorm", {"eps": 1e-6}, lambda t, gamma, beta: layer_norm_2d(t, gamma, beta, 1e-6),
                    [x], three, gen, "nn.LayerNorm(3, eps=1e-6) on x.permute(0, 2, 3, 1) (ConvNeXt LayerNorm2d)"))
    out.append(case("layernorm", {"affine": False, "eps": 0.25}, lambda t: F.layer_norm(t, (5,), eps=0.25),
                    [flat], {}, gen, "nn.LayerNorm(5, eps=0.25, elementwise_affine=False) on (N, F)"))

    for mode in ("row", "batch"):
        out.append(case("stochastic_depth", {"p": 0.5, "mode": mode},
                        lambda t, m=mode: stochastic_depth(t, 0.5, m, training=False), [x], {}, gen,
                        f"torchvision.ops.stochastic_depth(p=0.5, mode={mode!r}, training=False)"))
    gate = seeded(gen, 1, 3, 1, 1, spread=1.0)
    out.append(case("multiply", {}, lambda t, g: t * g, [x, gate], {}, gen, "x * gate, gate (N, C, 1, 1)"))
    out.append(case("multiply", {}, lambda t, g: t * g[:, :, None, None], [x, gate.reshape(1, 3)], {}, gen,
                    "x * gate[:, :, None, None], gate (N, C)"))
    out.append(case("multiply", {}, lambda a, b, c: a * b * c, [x, seeded(gen, 1, 3, 2, 2), gate], {}, gen,
                    "a * b * gate"))
    out.append(case("scale", {}, lambda t, gamma: t * gamma[None, :, None, None], [x],
                    {"gamma": seeded(gen, 3, spread=0.5)}, gen, "x * layer_scale (ConvNeXt CNBlock)"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    data = {
        "generated_by": "tools/pointwise_values_oracle.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "layout": "inputs NCHW (or N, F); params under netcalc's names; float64",
        "cases": cases(),
    }
    args.out.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {len(data['cases'])} cases to {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
