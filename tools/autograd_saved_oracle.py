"""Independent oracle: the bytes PyTorch's autograd saves for backward in one training forward of zoo models.

A standalone script, not part of the netcalc package (torch is never a dependency of netcalc):

    /work/venvs/torch/bin/python tools/autograd_saved_oracle.py     # writes tests/data/autograd_saved.json

Each torchvision model is built with `weights=None`, put in training mode and run once on a 1×3×224×224 input
inside `torch.autograd.graph.saved_tensors_hooks`. The pack hook sees every tensor autograd keeps for backward.
Counted: the distinct storages among them (a ReLU's output that the next conv also keeps is one storage), by
their `nbytes`. Excluded: the model's parameters and buffers (they exist whether or not autograd records
anything) — a saved tensor is excluded when its storage is a parameter's or buffer's.

Also recorded, to explain convention gaps rather than hide them: the elements that pass through training-mode
dropout. PyTorch's CPU dropout multiplies by a float noise tensor, which autograd keeps (4 bytes an element);
the fused CUDA kernel keeps a bool mask (1 byte), which is what netcalc counts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision import models

MODELS: dict[str, dict[str, object]] = {
    "alexnet": {},
    "vgg16": {},
    "resnet18": {},
    "resnet50": {},
    "mobilenet_v2": {},
    "densenet121": {},
    "googlenet": {"aux_logits": False, "init_weights": False},
    "squeezenet1_0": {},
}
INPUT_HW = 224
OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "autograd_saved.json"
CONVENTION = (
    "bytes of the distinct storages autograd saves in one training forward of a 1×3×224×224 float32 input "
    "(torch.autograd.graph.saved_tensors_hooks), parameters' and buffers' storages excluded; "
    "dropout_elements = elements passing through training-mode dropout with p > 0"
)


def saved_bytes(name: str) -> dict[str, int]:
    torch.manual_seed(0)
    model = getattr(models, name)(weights=None, **MODELS[name])
    model.train()
    state = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    storages: dict[int, int] = {}
    excluded = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal excluded
        storage = tensor.untyped_storage()
        if storage.data_ptr() in state:
            excluded += 1
        else:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    dropout = 0

    def count_dropout(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal dropout
        if module.training and module.p > 0:
            dropout += output.numel()

    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.register_forward_hook(count_dropout)

    x = torch.randn(1, 3, INPUT_HW, INPUT_HW)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = model(x)
    del y
    return {"saved_bytes": sum(storages.values()), "storages": len(storages), "dropout_elements": dropout}


def main() -> None:
    torch.set_num_threads(2)
    figures = {name: saved_bytes(name) for name in MODELS}
    data = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "input": [INPUT_HW, INPUT_HW, 3],
        "batch": 1,
        "dtype": "float32",
        "convention": CONVENTION,
        "models": figures,
    }
    OUTPUT.write_text(json.dumps(data, indent=2) + "\n")
    for name, f in figures.items():
        print(f"{name:14} {f['saved_bytes']:>12,} B in {f['storages']} storages, dropout {f['dropout_elements']:,}")
    print(f"wrote {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
