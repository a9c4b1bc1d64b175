"""How close `netcalc verify` runs to the machine's floor: VGG-16 and ResNet-50, 224×224, batch 1, float32,
forward + backward, each as a whole process (`python -m netcalc verify SPEC --format json`).

The floor is computed in the same run, with the same NumPy and BLAS, by `gemm_floor`: the wall time of every
GEMM the pass cannot avoid — each conv's im2col GEMM and each fc GEMM, forward and backward (dx and dW), with the
engine's operand shapes and strides — plus starting Python and importing NumPy. The ratio verify / floor is the
figure (issue 12: target ≤ 1.3×, peak RSS ≤ 0.95 GiB for VGG-16). The floor and the pass are timed in rounds,
back to back, and the median of the rounds' ratios is reported: on a shared machine whose load drifts, a best
pass and a best floor taken minutes apart can be far from each other's conditions.

Also printed: the BLAS library and kernel in use (threadpoolctl), the machine's load, and, with `--torch PYTHON`
(an interpreter with torch + torchvision, a throw-away venv, never a netcalc dependency), torchvision's own VGG-16
forward + backward on the same CPU, as a whole process and steady state.

Run: python benchmarks/bench_verify.py [--torch /work/venvs/torch/bin/python] [--runs 5] [--spec vgg16 …]

The machine's OPENBLAS_CORETYPE (if set) is left as it is; its BLAS kernel is printed so figures can be read
for what they are.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30
# children run as an installed netcalc does: pip compiles its bytecode at install, so none is compiled per run
# (PYTHONDONTWRITEBYTECODE, set on some machines, would make every run compile netcalc's ~60 modules, ~0.08 s)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_timed(argv: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stdout) of one child process; its own peak RSS, from wait4."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True, env=CHILD_ENV)
    out_chunks = child.stdout.read()  # type: ignore[union-attr]
    err = child.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}): {err[-2000:]}")
    return wall, usage.ru_maxrss * 1024, out_chunks


def python_numpy_start(runs: int) -> float:
    """Best wall time of starting Python and importing NumPy (the part of the floor no program can avoid)."""
    return min(run_timed([sys.executable, "-c", "import numpy"])[0] for _ in range(runs))


def gemm_shapes(spec: str, batch: int = 1) -> list[tuple[str, tuple[int, ...], tuple[int, ...], bool]]:
    """(what, a shape, b shape, b transposed) of every GEMM the reference pass must do for `spec`, forward and
    backward: for a conv (G groups, K = C/G·KH·KW, P = HO·WO) forward (G, COUT/G, K) @ (N, G, K, P), dW
    (N, G, COUT/G, P) @ (N, G, K, P)ᵀ, dcols (G, K, COUT/G) @ (N, G, COUT/G, P); for an fc forward x @ Wᵀ,
    dx dy @ W, dW dyᵀ @ x."""
    sys.path.insert(0, str(ROOT))
    from netcalc.analysis.analyze import analyze_network
    from netcalc.language.spec import load_network
    from netcalc.network import INPUT

    network = load_network(spec)
    report = analyze_network(network, batch=batch)
    shapes = {INPUT: network.input_shape} | {row.name: row.output_shape for row in report.layers}
    out = []
    for layer, row in zip(network.layers, report.layers):
        (inp,) = (shapes[n] for n in layer.inputs[:1])
        if layer.kind == "conv":
            g, (kh, kw) = layer.attrs["groups"], layer.attrs["kernel"]
            ho, wo, cout = row.output_shape
            k, p = inp[2] // g * kh * kw, ho * wo
            out += [
                (f"{layer.name} forward", (g, cout // g, k), (batch, g, k, p), False),
                (f"{layer.name} dW", (batch, g, cout // g, p), (batch, g, p, k), True),
                (f"{layer.name} dx", (g, k, cout // g), (batch, g, cout // g, p), False),
            ]
        elif layer.kind == "fc":
            (features,), (units,) = inp, row.output_shape
            out += [
                (f"{layer.name} forward", (batch, features), (features, units), True),
                (f"{layer.name} dx", (batch, units), (units, features), False),
                (f"{layer.name} dW", (units, batch), (batch, features), False),
            ]
    return out


def gemm_floor(spec: str, batch: int = 1, runs: int = 3) -> tuple[float, int]:
    """(seconds, MACs): the best of `runs` timings of the pass's GEMMs alone, on operands of the engine's
    shapes and memory order (dW's second operand and an fc's weight enter as transposed views, as in the
    engine). Operands are allocated and filled outside the clock; the products land in memory reused from the
    run before, as the pass's do (`netcalc.reference.heap`), so the floor carries no avoidable page faults."""
    import numpy as np

    plan = gemm_shapes(spec, batch)
    from netcalc.reference.heap import reusing_freed_memory

    rng = np.random.default_rng(0)
    best, macs = float("inf"), 0
    with reusing_freed_memory():
        for _ in range(runs):
            total, macs = 0.0, 0
            for _what, a_shape, b_shape, transposed in plan:
                a = rng.random(a_shape, dtype=np.float32)
                b = rng.random(b_shape[:-2] + b_shape[-2:][::-1] if transposed else b_shape, dtype=np.float32)
                b = b.swapaxes(-1, -2) if transposed else b
                outer = a.shape[-1] == 1 and a.ndim == b.ndim == 2  # as netcalc.reference.gemm: K = 1 is an outer
                start = time.perf_counter()
                np.multiply(a, b) if outer else np.matmul(a, b)
                total += time.perf_counter() - start
                batch_dims = int(np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])))
                macs += batch_dims * a.shape[-2] * a.shape[-1] * b.shape[-1]
                del a, b
            best = min(best, total)
    return best, macs


def weights_touch(spec: str, runs: int = 3) -> tuple[float, int]:
    """(seconds, bytes): the best of `runs` timings of allocating and filling one float32 array as large as all
    of `spec`'s weights, in 4 KiB pages as the pass does (netcalc.reference.heap). Not part of the floor: what
    any program that holds the weights pays on top of it, the first touch of their pages (the pass holds fewer:
    it streams fc weights larger than the drawn block, netcalc.reference.streamed)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from netcalc.analysis.analyze import analyze_network
    from netcalc.language.spec import load_network
    from netcalc.reference.heap import reusing_freed_memory

    count = analyze_network(load_network(spec)).totals.params
    best = float("inf")
    for _ in range(runs):
        with reusing_freed_memory():
            start = time.perf_counter()
            np.empty(count, dtype=np.float32).fill(1.0)
            best = min(best, time.perf_counter() - start)
    return best, 4 * count


def phases(spec: str) -> str:
    """Where an in-process pass spends its time: GEMMs, drawing the weights, everything else by kind (outside
    the GEMMs) and the engine's own checks and schedule, from one `engine.run` after a warm-up run (in a child:
    `--phases SPEC`);
    and what its page faults cost: its minor faults, and the same pass run again on a heap kept from the pass
    before (`heap.reusing_freed_memory` held open around both, so no page is faulted in anew)."""
    import resource

    sys.path.insert(0, str(ROOT))
    from netcalc.language.spec import load_network
    from netcalc.reference.engine import run
    from netcalc.reference.heap import reusing_freed_memory

    network = load_network(spec)
    run(network)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    layers = run(network).layers
    total = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    with reusing_freed_memory():
        run(network)
        start = time.perf_counter()
        run(network)
        warm = time.perf_counter() - start
    gemm = sum(layer.gemm_seconds for layer in layers)
    init = sum(layer.init_seconds for layer in layers)
    # the rest by kind: each layer's forward and backward outside its GEMMs (a convolution's im2col, col2im and
    # weight made whole; a batch norm's passes …), and the engine's own work between layers (the finiteness
    # and zero checks of every output and gradient, gradient sums at fan-out, the schedule)
    by_kind: dict[str, float] = {}
    for layer in layers:
        outside = layer.forward_seconds + (layer.backward_seconds or 0.0) - layer.gemm_seconds
        by_kind[layer.kind] = by_kind.get(layer.kind, 0.0) + outside
    engine = total - gemm - init - sum(by_kind.values())
    rest = sorted([*by_kind.items(), ("engine", engine)], key=lambda item: -item[1])
    return (
        f"in-process pass {total:.2f} s = GEMMs {gemm:.2f} + weights {init:.2f} + the rest {total - gemm - init:.2f}"
        f" ({', '.join(f'{name} {seconds:.3f}' for name, seconds in rest if seconds >= 0.0015)});"
        f" {faults:,} page faults ({faults * resource.getpagesize() / 1e6:.0f} MB): on a heap already faulted in"
        f" the pass takes {warm:.2f} s"
    )


def unfolding(spec: str, runs: int = 3) -> float:
    """Seconds the pass's convolutions spend unfolding and folding at best: for every convolution whose columns
    are not its input, im2col of its input twice (forward, and again in the backward) and col2im of its
    columns once, each timed alone (best of `runs`) on whole, warm, reused buffers, unbanded. These copies are
    the im2col design itself, not in the floor: a lower bound on what the pass adds to it."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from netcalc.analysis.analyze import analyze_network
    from netcalc.kinds.window import window_sides
    from netcalc.language.spec import load_network
    from netcalc.network import INPUT
    from netcalc.reference.heap import reusing_freed_memory
    from netcalc.reference.im2col import col2im, im2col

    network = load_network(spec)
    shapes = {INPUT: network.input_shape} | {row.name: row.output_shape for row in analyze_network(network).layers}
    total = 0.0
    with reusing_freed_memory():
        for layer in network.layers:
            if layer.kind != "conv":
                continue
            h, w, c = shapes[layer.inputs[0]]
            attrs = layer.attrs
            x = np.ones((1, c, h, w), dtype=np.float32)
            geometry = (attrs["kernel"], attrs["stride"], window_sides(attrs, (h, w)), attrs["dilation"])
            cols = im2col(x, *geometry)
            if np.may_share_memory(cols, x):  # a 1×1 stride-1 convolution: its columns are its input
                continue
            unfold, fold = float("inf"), float("inf")
            for _ in range(runs):
                start = time.perf_counter()
                cols = im2col(x, *geometry)
                unfold = min(unfold, time.perf_counter() - start)
                start = time.perf_counter()
                col2im(cols, x.shape, *geometry)
                fold = min(fold, time.perf_counter() - start)
            total += 2 * unfold + fold
    return total


def imports_beyond_numpy(runs: int) -> float:
    """Best wall time of a fresh process importing what `verify` imports (the CLI, the spec language, the
    analysis, the reference pass and its renderer), less that of one importing NumPy alone."""
    modules = (
        "netcalc.cli, netcalc.commands.verify, netcalc.analysis.analyze, netcalc.reference.engine,"
        " netcalc.reference.memory, netcalc.reference.verify, netcalc.render.verify"
    )
    ours = min(run_timed([sys.executable, "-c", f"import numpy, {modules}"])[0] for _ in range(runs))
    return ours - python_numpy_start(runs)


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    import numpy  # noqa: F401 - loads the BLAS threadpoolctl reports

    parts = [
        f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')}, {i.get('num_threads')} threads"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    return "; ".join(parts) + (f" (OPENBLAS_CORETYPE={coretype})" if coretype else "")


TORCH = """
import json, resource, sys, time
import torch, torchvision
torch.set_num_threads(%(threads)d)
model = torchvision.models.vgg16()
model.train()
x = torch.randn(1, 3, 224, 224)
g = torch.randn(1, 1000)
times = []
for _ in range(%(steps)d):
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    (model(x) * g).sum().backward()
    times.append(time.perf_counter() - start)
print(json.dumps({"torch": torch.__version__, "first": times[0], "best": min(times[1:]),
                  "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", action="append", help="zoo specs to time (default: vgg16 and resnet50)")
    parser.add_argument("--runs", type=int, default=5, help="rounds of floor and verify, back to back")
    parser.add_argument("--torch", metavar="PYTHON", help="an interpreter with torch + torchvision to compare with")
    # children that time the GEMM floor and the phases: Linux carries a parent's resident memory into a forked
    # child's peak RSS, so arrays allocated in this process would inflate the peaks measured after them
    parser.add_argument("--floor", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--phases", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--unfolding", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phases:
        print(phases(args.phases))
        return
    if args.unfolding:
        print(unfolding(args.unfolding))
        return
    if args.floor:
        print(json.dumps([*gemm_floor(args.floor, runs=args.runs), *weights_touch(args.floor, runs=args.runs)]))
        return
    specs = args.spec or ["vgg16", "resnet50"]

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on {os.cpu_count()} cores")
    print(f"BLAS: {blas_info()}")
    for name in specs:
        spec = str(ROOT / "specs" / f"{name}.yaml")
        verify = [sys.executable, "-m", "netcalc", "verify", spec, "--format", "json"]
        run_timed(verify)  # warm-up: writes bytecode
        # rounds of floor and pass back to back, so a change in the machine's load between them moves both: the
        # median of the rounds' ratios is the figure; the best pass against the best floor is printed beside it
        rounds = []
        for _ in range(args.runs):
            start = python_numpy_start(1)
            gemms, macs, touch, weight_bytes = json.loads(
                run_timed([sys.executable, __file__, "--floor", spec, "--runs", "2"])[2]
            )
            wall, rss, out = run_timed(verify)
            assert json.loads(out)["ok"], f"{name} did not verify"
            rounds.append((wall, start, gemms, touch, rss))
        ratios = sorted(wall / (start + gemms) for wall, start, gemms, _, _ in rounds)
        wall = min(r[0] for r in rounds)
        start, gemms, touch = (min(r[k] for r in rounds) for k in (1, 2, 3))
        floor = start + gemms
        print(
            f"{name}: verify {wall:.2f} s (runs {', '.join(f'{r[0]:.2f}' for r in rounds)}), peak RSS"
            f" {max(r[4] for r in rounds) / GIB:.2f} GiB · floor {floor:.2f} s = start {start:.2f} + GEMMs"
            f" {gemms:.2f} ({macs / 1e9:.1f} GMACs) · ratio {ratios[len(ratios) // 2]:.2f}× (median of"
            f" {len(ratios)} rounds, {ratios[0]:.2f}–{ratios[-1]:.2f}; best against best {wall / floor:.2f}×;"
            " target ≤ 1.3×)"
        )
        print(
            f"  first touch of all the weights' {weight_bytes / 1e6:.0f} MB, which a program holding them pays, not in"
            f" the floor: {touch:.2f} s (floor + it: {floor + touch:.2f} s, ratio {wall / (floor + touch):.2f}×; the"
            " pass holds only the drawn blocks of fc and conv weights over 65,521 values)"
        )
        print(f"  {run_timed([sys.executable, __file__, '--phases', spec])[2].strip()}")
        # what the target leaves beyond the floor, against two costs no `verify` of this design avoids
        imports = imports_beyond_numpy(args.runs)
        copies = float(run_timed([sys.executable, __file__, "--unfolding", spec])[2])
        print(
            f"  1.3× leaves {0.3 * floor:.2f} s beyond the best floor; importing the CLI and the reference pass"
            f" beyond NumPy takes {imports:.2f} s and the convolutions' im2col (twice) and col2im, each alone on warm"
            f" buffers, {copies:.2f} s: {imports + copies:.2f} s before any batch norm, pool, activation or check"
        )
    if args.torch:
        for threads in (os.cpu_count() or 1,):
            wall, rss, out = run_timed([args.torch, "-c", TORCH % {"threads": threads, "steps": 4}])
            torch = json.loads(out.strip().splitlines()[-1])
            print(
                f"PyTorch {torch['torch']} CPU ({threads} threads), torchvision vgg16 forward + backward, batch 1: "
                f"steady {torch['best']:.2f} s, first {torch['first']:.2f} s; whole process (4 steps) {wall:.2f} s, "
                f"peak RSS {rss / GIB:.2f} GiB"
            )


if __name__ == "__main__":
    main()
