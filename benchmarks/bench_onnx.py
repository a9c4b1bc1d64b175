"""How long it takes to learn what ResNet-50 costs from its ONNX file, whole process, against torchinfo.

- netcalc: `netcalc summary tests/data/onnx/resnet50.onnx` (import: onnx.load, shape inference, converters; then
  the analysis and the table), a fresh process each time.
- torchinfo: `torchinfo.summary(torchvision.models.resnet50(), (1, 3, 224, 224))` in the torch venv (model
  built, one forward pass with hooks), a fresh process each time. torch never becomes a netcalc dependency;
  give its interpreter with --torch-python (default /work/venvs/torch/bin/python; `pip install torchinfo` there).

Run: python benchmarks/bench_onnx.py [--runs 5] [--torch-python PATH]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "tests" / "data" / "onnx" / "resnet50.onnx"
TORCHINFO = (
    "import torchvision, torchinfo; "
    "torchinfo.summary(torchvision.models.resnet50(weights=None).eval(), (1, 3, 224, 224), verbose=1)"
)


def process_time(args: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--torch-python", default="/work/venvs/torch/bin/python")
    args = parser.parse_args()
    netcalc = [sys.executable, "-m", "netcalc", "summary", str(MODEL)]
    median, best = process_time(netcalc, args.runs)
    print(f"netcalc summary resnet50.onnx (import + summary, whole process): median {median:.3f} s, best {best:.3f} s")
    median, best = process_time(netcalc + ["--format", "json"], args.runs)
    print(f"netcalc summary resnet50.onnx --format json:                    median {median:.3f} s, best {best:.3f} s")
    if Path(args.torch_python).exists():
        median, best = process_time([args.torch_python, "-c", TORCHINFO], args.runs)
        label = "torchinfo.summary(resnet50) (whole process):"
        print(f"{label:65}median {median:.3f} s, best {best:.3f} s")
    else:
        print(f"torchinfo: no interpreter at {args.torch_python} (give --torch-python)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
