"""How fast and how lean `netcalc verify specs/vgg16.yaml` is: 224×224, batch 1, float32, forward + backward.

Targets (the reference-pass issue): everything that is not GEMM adds at most 30% over the GEMM floor; peak
memory under 2 GiB on a 2-core, 24 GiB machine. Each measurement runs in a fresh child process, so ru_maxrss is
the peak of that run alone:

- `cli`: `netcalc verify specs/vgg16.yaml --format json` in-process (click's `main`; NumPy already imported),
  inside one MAC counter of `netcalc.reference.gemm`, whose `seconds` is the wall time spent in `np.matmul`
  alone: the GEMM floor;
- `phases`: the same pass through the library, split into load + analysis, weight init, forward and backward,
  each with its GEMM share;
- `traced`: the same pass under tracemalloc (NumPy reports its buffers to it) for the peak of live arrays.

With `--torch PYTHON` (an interpreter that has torch and torchvision, never a netcalc dependency, e.g. a
throw-away venv) it also times torchvision's VGG16 forward + backward on the CPU for comparison.

Run: python benchmarks/bench_verify.py [--torch /tmp/tvenv/bin/python]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "vgg16.yaml")
GIB = 1 << 30


def child_cli() -> dict:
    sys.path.insert(0, str(ROOT))
    import netcalc.reference.engine  # noqa: F401 - NumPy and the engine imported before the clock starts
    from netcalc.cli import cli
    from netcalc.reference.gemm import count_macs

    out = io.StringIO()
    start = time.perf_counter()
    with count_macs() as gemm, contextlib.redirect_stdout(out):
        code = cli.main(["verify", SPEC, "--format", "json"], prog_name="netcalc", standalone_mode=False)
    wall = time.perf_counter() - start
    data = json.loads(out.getvalue())
    return {
        "exit_code": code or 0,
        "ok": data["ok"],
        "wall": wall,
        "gemm": gemm.seconds,
        "gemm_calls": gemm.calls,
        "macs": gemm.macs,
        "forward": data["totals"]["forward_seconds"],
        "backward": data["totals"]["backward_seconds"],
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def child_phases() -> dict:
    sys.path.insert(0, str(ROOT))
    from netcalc.analysis.analyze import analyze_network
    from netcalc.language.spec import load_network
    from netcalc.reference.engine import run
    from netcalc.reference.verify import compare

    start = time.perf_counter()
    network = load_network(SPEC)
    report = analyze_network(network)
    load = time.perf_counter() - start
    start = time.perf_counter()
    result = run(network)
    engine = time.perf_counter() - start
    start = time.perf_counter()
    ok = compare(report, result).ok
    comparing = time.perf_counter() - start
    layers = result.layers
    forward_gemm = sum(layer.gemm_seconds for layer in layers)  # forward and backward GEMM together
    return {
        "ok": ok,
        "load": load,
        "engine": engine,
        "compare": comparing,
        "init": sum(layer.init_seconds for layer in layers),
        "forward": sum(layer.forward_seconds for layer in layers),
        "backward": sum(layer.backward_seconds or 0.0 for layer in layers),
        "gemm": forward_gemm,
        "slowest": sorted(
            (
                (layer.forward_seconds + (layer.backward_seconds or 0) - layer.gemm_seconds, layer.name)
                for layer in layers
            ),
            reverse=True,
        )[:5],
    }


def child_traced() -> dict:
    import tracemalloc

    sys.path.insert(0, str(ROOT))
    from netcalc.language.spec import load_network
    from netcalc.reference.engine import run

    network = load_network(SPEC)
    tracemalloc.start()
    run(network)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"traced_peak": peak}


TORCH = """
import json, time, torch, torchvision
torch.set_num_threads(2)
model = torchvision.models.vgg16()
model.train()
x = torch.randn(1, 3, 224, 224)
g = torch.randn(1, 1000)
times = []
for _ in range(4):
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    (model(x) * g).sum().backward()
    times.append(time.perf_counter() - start)
import resource
print(json.dumps({"torch": torch.__version__, "first": times[0], "best": min(times[1:]),
                  "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def in_child(mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("cli", "phases", "traced"))
    parser.add_argument("--torch", metavar="PYTHON", help="an interpreter with torch + torchvision to compare with")
    parser.add_argument("--runs", type=int, default=3, help="CLI runs (the best is reported)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"cli": child_cli, "phases": child_phases, "traced": child_traced}[args.child]()))
        return

    runs = [in_child("cli") for _ in range(args.runs)]
    best = min(runs, key=lambda r: r["wall"])
    assert all(r["ok"] and r["exit_code"] == 0 for r in runs), runs
    rest = best["wall"] - best["gemm"]
    print(f"netcalc verify specs/vgg16.yaml (224×224, batch 1, float32, forward + backward), best of {args.runs}:")
    walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
    print(f"  wall {best['wall']:.2f} s (runs: {walls})")
    print(f"  GEMM alone {best['gemm']:.2f} s in {best['gemm_calls']} calls, {best['macs']:,} MACs")
    print(f"  everything else {rest:.2f} s = {rest / best['gemm']:.0%} over the GEMM floor (target ≤ 30%)")
    print(f"  forward {best['forward']:.2f} s, backward {best['backward']:.2f} s (per-layer sums)")
    passing = best["forward"] + best["backward"]
    print(
        f"  the pass alone (forward + backward, GEMM included): {passing:.2f} s, "
        f"{(passing - best['gemm']) / best['gemm']:.0%} over the GEMM floor (target ≤ 30%)"
    )
    print(
        "  seeded weight init (138M numbers, first touch of their pages), analysis, report: "
        f"{best['wall'] - passing:.2f} s"
    )
    print(f"  peak RSS {best['maxrss'] / GIB:.2f} GiB (target < 2 GiB)")

    phases = in_child("phases")
    print("phases (library, one run):")
    print(
        f"  load + analysis {phases['load']:.3f} s · weight init {phases['init']:.2f} s · "
        f"forward {phases['forward']:.2f} s"
    )
    print(
        f"  backward {phases['backward']:.2f} s · GEMM {phases['gemm']:.2f} s · "
        f"compare {phases['compare'] * 1e3:.1f} ms"
    )
    print(
        f"  engine total {phases['engine']:.2f} s; outside GEMM, init and the layers: "
        f"{phases['engine'] - phases['init'] - phases['forward'] - phases['backward']:.2f} s"
    )
    print("  slowest layers outside GEMM: " + ", ".join(f"{name} {s * 1e3:.0f} ms" for s, name in phases["slowest"]))

    traced = in_child("traced")
    print(f"tracemalloc peak of live arrays: {traced['traced_peak'] / GIB:.2f} GiB")

    if args.torch:
        done = subprocess.run([args.torch, "-c", TORCH], check=True, capture_output=True, text=True)
        torch = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"PyTorch {torch['torch']} CPU (2 threads), torchvision vgg16 forward + backward: "
            f"first {torch['first']:.2f} s, "
            f"best {torch['best']:.2f} s, peak RSS {torch['maxrss'] / GIB:.2f} GiB"
        )


if __name__ == "__main__":
    main()
