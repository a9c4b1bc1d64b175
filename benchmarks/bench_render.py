"""How fast the summary renderers are: table, JSON, CSV and Markdown on ResNet-152 and on generated networks.

Targets (issue 12): the table within 1.5x of the JSON path on ResNet-152 and linear in rows. Each figure is the
fastest CPU time of several runs of the renderer alone (the analysis is done once, outside the timing), plus the whole
in-process `summary` path (load + analyse + render) so the ratio covers what a user waits for.
Run: python benchmarks/bench_render.py [layers ...]   (default: 10000)
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_summary import generated_spec  # noqa: E402

from netcalc import analyze_network, parse_network_text  # noqa: E402
from netcalc.render.summary import RENDERERS  # noqa: E402

FORMATS = ("table", "json", "csv", "markdown")


def median_seconds(action, runs: int) -> float:
    """The fastest of `runs` CPU times of `action` (CPU time and the minimum: the figures of a machine that
    other processes load are otherwise mostly waiting)."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return min(times)


def bench(label: str, text: str, runs: int, file: str | None = None) -> None:
    def analysed():
        return analyze_network(parse_network_text(text, file))

    report = analysed()
    rows = len(report.layers)
    whole = {}
    print(f"{label}: {rows:,} rows")
    for fmt in FORMATS:
        render = RENDERERS[fmt]
        kwargs = {"width": 120, "color": False} if fmt == "table" else {}
        alone = median_seconds(lambda r=render, k=kwargs: r(report, None, **k), runs)
        whole[fmt] = median_seconds(lambda r=render, k=kwargs: r(analysed(), None, **k), runs)
        print(
            f"  {fmt:<9} render {alone * 1000:9.1f} ms ({alone / rows * 1e6:6.2f} µs/row)"
            f"   load+analyse+render {whole[fmt] * 1000:9.1f} ms"
        )
    print(f"  table / json (whole path): {whole['table'] / whole['json']:.2f}x (target ≤ 1.5x)")


def main() -> None:
    gc.disable()  # as the CLI runs (netcalc/cli.py)
    sizes = [int(arg) for arg in sys.argv[1:]] or [10_000]
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    resnet = ROOT / "specs" / "resnet152.yaml"
    bench("resnet152", resnet.read_text(), runs=7, file=str(resnet))
    for layers in sizes:
        bench(f"generated-{layers}", generated_spec(layers), runs=3)


if __name__ == "__main__":
    main()
