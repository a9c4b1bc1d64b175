"""What `netcalc verify SPEC --against onnxruntime` costs beyond the ONNX Runtime pass itself (issue 12: no more
than that pass). VGG-16 and ResNet-50, 224×224, batch 1, float32.

In one process, after a warm-up call: the whole `verify_against_onnxruntime`, and on the same exported model,
ONNX Runtime's own part, session creation from the serialised model plus one run with every layer's output
exposed (graph optimisations off, as the check runs it). The rest is netcalc's: exporting the seeded weights,
the NumPy reference forward of every layer on ONNX Runtime's inputs, and the comparisons. Also the whole
processes `verify --against onnxruntime` and `verify --no-backward`, best of `--runs`, and what making the
weights ONNX Runtime takes whole costs a fresh process (the NumPy pass streams the large ones instead).

Run: python benchmarks/bench_against.py [--runs 3] [--spec vgg16 …]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as bench_verify.py


def whole(argv: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs + 1):  # the first one writes bytecode
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=CHILD_ENV, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def onnxruntime_part(network, seed: int = 0) -> tuple[float, float]:
    """(session creation, one run) of the model the check builds, every layer's output exposed."""
    import onnxruntime as ort

    from netcalc.analysis.analyze import analyze_network
    from netcalc.bridges.onnx.runtime import checked_model, open_session
    from netcalc.network import INPUT
    from netcalc.reference.engine import random_input

    model, feeds = checked_model(network, analyze_network(network), batch=1, seed=seed)
    start = time.perf_counter()
    session = open_session(ort, model)
    created = time.perf_counter() - start
    names = [o.name for o in session.get_outputs()]
    x = random_input(network, 1, seed, "float32")
    inputs = {name: array for name, array in feeds.items() if not name.startswith("@")}
    start = time.perf_counter()
    session.run(names, {INPUT: x, **inputs})
    return created, time.perf_counter() - start


WEIGHTS = """
import sys, time
sys.path.insert(0, %(root)r)
from netcalc.analysis.analyze import analyze_network
from netcalc.bridges.onnx.runtime import checked_model
from netcalc.language.spec import load_network
import netcalc.bridges.onnx.exporter, netcalc.reference.engine  # imported outside the clock, as in both processes
network = load_network(%(spec)r)
report = analyze_network(network)
start = time.perf_counter()
model, feeds = checked_model(network, report, batch=1, seed=0)
print(time.perf_counter() - start, sum(a.nbytes for n, a in feeds.items() if not n.startswith("@")))
"""


def runtime_weights(spec: str, runs: int) -> tuple[float, int]:
    """(seconds, bytes): the best of `runs` fresh processes' time to make the model ONNX Runtime runs, with all
    its weights whole as feeds, in pages touched for the first time. ONNX Runtime needs them so; the NumPy pass
    holds only drawn blocks of the large ones (`netcalc.reference.streamed`), in memory it reuses."""
    best, size = float("inf"), 0
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", WEIGHTS % {"root": str(ROOT), "spec": spec}],
            env=CHILD_ENV, check=True, capture_output=True, text=True,
        ).stdout.split()
        best, size = min(best, float(out[0])), int(out[1])
    return best, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", action="append", help="zoo specs (default: vgg16 and resnet50)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from netcalc.bridges.onnx.runtime import verify_against_onnxruntime
    from netcalc.language.spec import load_network

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on {os.cpu_count()} cores")
    importing = whole([sys.executable, "-c", "import numpy, onnxruntime"], args.runs)
    importing -= whole([sys.executable, "-c", "import numpy"], args.runs)
    print(f"importing onnxruntime: {importing:.3f} s (a fresh process, after NumPy)")
    for name in args.spec or ["vgg16", "resnet50"]:
        spec = str(ROOT / "specs" / f"{name}.yaml")
        network = load_network(spec)
        verify_against_onnxruntime(network)  # warm-up
        check = min(_timed(verify_against_onnxruntime, network) for _ in range(args.runs))
        parts = [onnxruntime_part(network) for _ in range(args.runs)]
        created, ran = min(p[0] for p in parts), min(p[1] for p in parts)
        ours = check - created - ran
        print(
            f"{name}: check {check:.2f} s = ONNX Runtime {created + ran:.2f} s (session {created:.2f} + run {ran:.2f})"
            f" + netcalc {ours:.2f} s (the seeded weights, the export, each layer's NumPy forward, the comparisons)"
        )
        cli = [sys.executable, "-m", "netcalc", "verify", spec, "--format", "json"]
        against = whole([*cli, "--against", "onnxruntime"], args.runs)
        forward = whole([*cli, "--no-backward"], args.runs)
        runtime = importing + created + ran
        print(
            f"  whole process: verify --against onnxruntime {against:.2f} s, verify --no-backward {forward:.2f} s;"
            f" the difference {against - forward:.2f} s against ONNX Runtime's import + session + run"
            f" {runtime:.2f} s: ratio {(against - forward) / runtime:.2f} (target ≤ 1)"
        )
        weights, size = runtime_weights(spec, args.runs)
        print(
            f"  of that difference, making the {size / 1e6:.0f} MB of weights ONNX Runtime takes whole, in fresh"
            f" pages: {weights:.2f} s; counted as ONNX Runtime's, ratio"
            f" {(against - forward) / (runtime + weights):.2f}"
        )


def _timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
