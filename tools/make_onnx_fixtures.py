"""Make the ONNX test fixtures: torchvision's models exported by PyTorch, with their weight data stripped.

A standalone script, not part of the netcalc package; it runs where torch, torchvision and onnx are installed
(a throw-away venv, as for tools/torchvision_oracle.py; netcalc never depends on torch):

    /work/venvs/torch/bin/python tools/make_onnx_fixtures.py              # every model of the oracle
    /work/venvs/torch/bin/python tools/make_onnx_fixtures.py resnet18     # just these

For every model of `tools/torchvision_oracle.py` (built as the oracle builds it, in eval mode, on a 1×3×224×224
input or the oracle's input for it) except those the oracle measures in training mode (googlenet_aux: its
auxiliary heads run only in training, and an export is of the eval-mode graph) it writes `tests/data/onnx/<name>.onnx`, exported by the TorchScript exporter with
`do_constant_folding=False` and opset 17, so every batch norm stays a BatchNormalization node. For a couple of
models it also writes `<name>_folded.onnx`, the exporter's default (constant folding on), which folds each batch
norm into the conv before it.

The importer needs shapes only, so the data of every large initializer is dropped; its dims stay, so shape
inference and the importer still see every weight's shape (a stripped model is not runnable, and onnx.checker
rejects it; that is expected). Small initializers (shape constants, at most 64 elements) keep their values.
Each fixture ends up well under 1 MB.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torchvision_oracle import BUILD_INPUTS, INPUT_HW, MODELS, build  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "onnx"
FOLDED = ("resnet18", "mobilenet_v2")
KEEP_ELEMENTS = 64


def strip(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop the data of every initializer larger than KEEP_ELEMENTS elements, keeping its name, type and dims."""
    for tensor in model.graph.initializer:
        size = 1
        for d in tensor.dims:
            size *= d
        if size > KEEP_ELEMENTS:
            dims, dtype, name = list(tensor.dims), tensor.data_type, tensor.name
            tensor.Clear()
            tensor.name, tensor.data_type = name, dtype
            tensor.dims.extend(dims)
    return model


def export(name: str, options: dict[str, object], folded: bool) -> Path:
    model = build(name, options).eval()
    h, w, c = BUILD_INPUTS.get(name, (int(options.get("input", INPUT_HW)),) * 2 + (3,))
    x = torch.zeros(1, c, h, w)
    path = OUT / f"{name}{'_folded' if folded else ''}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x,),
            str(path),
            dynamo=False,
            opset_version=17,
            do_constant_folding=folded,
            training=torch.onnx.TrainingMode.EVAL,
            input_names=["input"],
            output_names=["output"],
        )
    stripped = strip(onnx.load(str(path)))
    stripped.doc_string = f"torchvision {name}, weights stripped by tools/make_onnx_fixtures.py"
    onnx.save(stripped, str(path))
    return path


# Exports other than the default one, each a way real models arrive: (model, file suffix, torch.onnx.export options)
VARIANTS = (
    # dynamic N, H and W: ShuffleNetV2's chunk sizes are computed from shapes, one more block settled per pass
    (
        "shufflenet_v2_x1_0",
        "dynamic",
        {"dynamo": False, "opset_version": 17, "do_constant_folding": False,
         "dynamic_axes": {"input": {0: "N", 2: "H", 3: "W"}, "output": {0: "N"}}},
    ),
    # the dynamo exporter, unoptimised: Constant value_ints, CastLike, and zero conv biases made by Expand
    ("resnet18", "dynamo", {"dynamo": True, "optimize": False, "opset_version": 18}),
)


def export_variant(name: str, suffix: str, options: dict[str, object]) -> Path:
    model = build(name, MODELS.get(name, {})).eval()
    path = OUT / f"{name}_{suffix}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), str(path), input_names=["input"],
                          output_names=["output"], **options)
    stripped = strip(onnx.load(str(path)))  # the dynamo exporter may write the weights beside it: read back in
    stripped.doc_string = f"torchvision {name} ({suffix} export), weights stripped by tools/make_onnx_fixtures.py"
    onnx.save(stripped, str(path))
    Path(f"{path}.data").unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="models to export (default: all of the oracle's)")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name in args.names or [n for n, options in MODELS.items() if not options.get("train")]:
        for folded in (False, True) if name in FOLDED else (False,):
            path = export(name, MODELS.get(name, {}), folded)
            print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB", flush=True)
    for name, suffix, options in VARIANTS:
        if not args.names or name in args.names:
            path = export_variant(name, suffix, options)
            print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
