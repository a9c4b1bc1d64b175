"""How fast `netcalc summary` is: whole-process start-up on ResNet-152, and analysis time as networks grow.

Targets (issue 2): the whole process under 0.3 s on a 2-core machine; a 10,000-layer network analysed in under
1 s, growing linearly. Run: python benchmarks/bench_summary.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netcalc import analyze_network, parse_network_text  # noqa: E402


def process_time(args: list[str], runs: int = 15) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def generated_spec(layers: int) -> str:
    """A chain of `layers` layers: repeated conv/bn/relu/add residual units written out flat."""
    lines = ["name: generated", "input: 32x32x16", "layers:"]
    for i in range(layers // 4):
        lines += [
            f"  - {{kind: conv, name: c{i}, out: 16, kernel: 3, padding: 1, bias: false}}",
            f"  - {{kind: batchnorm, name: b{i}}}",
            f"  - {{kind: add, name: a{i}, from: [b{i}, {'input' if i == 0 else f'r{i - 1}'}]}}",
            f"  - {{kind: relu, name: r{i}}}",
        ]
    return "\n".join(lines) + "\n"


def generated_block_spec(layers: int) -> str:
    """The same chain written with the language's features: one repeated block whose parameters have expression
    defaults, `index` in an attribute, a name template, a `kind:` parameter and a layer-reference parameter."""
    return f"""name: generated_blocks
input: 32x32x16
blocks:
  unit:
    params: {{planes: required, width: planes * 2, act: relu, skip: required}}
    layers:
      - {{kind: conv, name: c, out: "max(8, width) if planes >= 0 else 8", kernel: 3, padding: 1, bias: false}}
      - {{kind: batchnorm, name: b, eps: 1e-5}}
      - {{kind: add, name: a, from: [b, skip]}}
      - {{kind: act, name: r}}
  wrap:
    params: [index]
    layers: [{{block: unit, name: u, planes: 8 + 0 * index, skip: input}}]
layers:
  - {{kind: conv, name: stem, out: 16, kernel: 1}}
  - {{block: wrap, repeat: {layers // 4}, name: "layer.{{index}}", index: index}}
"""


def analysis_time(layers: int, runs: int = 3, spec=generated_spec) -> tuple[float, float]:
    text = spec(layers)
    parse, analyse = [], []
    for _ in range(runs):
        start = time.perf_counter()
        network = parse_network_text(text)
        middle = time.perf_counter()
        analyze_network(network)
        parse.append(middle - start)
        analyse.append(time.perf_counter() - middle)
    return min(parse), min(analyse)


def main() -> None:
    python = [sys.executable, "-m", "netcalc"]
    median, best = process_time([*python, "summary", "specs/resnet152.yaml", "--format", "json"])
    print(f"netcalc summary specs/resnet152.yaml --format json: median {median * 1e3:.0f} ms, best {best * 1e3:.0f} ms")
    median, best = process_time([sys.executable, "-c", "pass"])
    print(f"  (bare python start-up on this machine: median {median * 1000:.0f} ms)")
    for layers in (10_000, 20_000, 40_000):
        parse, analyse = analysis_time(layers)
        per = (parse + analyse) / layers * 1e6
        print(f"{layers:>6} layers: parse+expand {parse:.3f} s, analyse {analyse:.3f} s ({per:.1f} µs/layer)")
    print("the same chains written with blocks, expressions, index, name templates and references:")
    for layers in (10_000, 20_000, 40_000):
        parse, analyse = analysis_time(layers, spec=generated_block_spec)
        per = (parse + analyse) / layers * 1e6
        print(f"{layers:>6} layers: parse+expand {parse:.3f} s, analyse {analyse:.3f} s ({per:.1f} µs/layer)")


if __name__ == "__main__":
    main()
