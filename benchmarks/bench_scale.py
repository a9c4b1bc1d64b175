"""Every command and format on a generated spec of the maximum size, as whole processes (issue 9, class 7).

Target: each under 10 s and 1 GiB on a 2-core machine, growing linearly, up to MAX_LAYERS (the default size; run
with a smaller size too, e.g. `python benchmarks/bench_scale.py 25000 50000`, to see the growth). Prints wall
time, CPU time (user + system, which a loaded machine inflates less than wall time) and peak resident memory of
each process, and the load average, so figures from a busy machine can be read for what they are.
`--no-verify` leaves out `verify` (which has its own benchmark, benchmarks/bench_verify.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_summary import generated_spec  # noqa: E402

from netcalc.language.spec import MAX_LAYERS  # noqa: E402
from netcalc.reference.engine import MAX_LAYERS as VERIFY_MAX_LAYERS  # noqa: E402

BUDGET = "total: {params: 1G, macs: 100G}\nper_layer: {params: 10M}\nlayers:\n  'c1*': {macs: 1G}\n"


def measure(args: list[str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS in MiB and exit code of `python -m netcalc ARGS`."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "netcalc", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    with_verify = "--no-verify" not in sys.argv[1:]
    sizes = [int(arg) for arg in sys.argv[1:] if arg != "--no-verify"] or [MAX_LAYERS]
    print(f"load average {_load()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for layers in sizes:
            text = generated_spec(layers)
            spec, changed, cheap, budget = (Path(tmp) / f"{n}.yaml" for n in ("spec", "changed", "cheap", "budget"))
            spec.write_text(text)
            changed.write_text(
                text.replace(
                    "name: c5, out: 16, kernel: 3, padding: 1, bias: false",
                    "name: c5, out: 16, kernel: 3, padding: 1, bias: true",
                )
            )
            cheap.write_text(text.replace("input: 32x32x16", "input: 2x2x4").replace("out: 16", "out: 4"))
            budget.write_text(BUDGET)
            runs = {
                f"summary --format {fmt}": ["summary", str(spec), "--format", fmt]
                for fmt in ("table", "json", "csv", "markdown")
            }
            runs |= {
                "show": ["show", str(spec)],
                "diff": ["diff", str(spec), str(changed)],
                "diff --format json": ["diff", str(spec), str(changed), "--format", "json"],
                "check": ["check", str(spec), "--budget", str(budget)],
                "compare": ["compare", str(spec)],
            }
            if with_verify and layers <= VERIFY_MAX_LAYERS:  # verify refuses longer networks up front
                runs["verify (2×2×4 input, forward + backward)"] = ["verify", str(cheap)]
            print(f"{layers:,} layers ({spec.stat().st_size / 2**20:.1f} MiB of YAML), load average {_load()}")
            for label, args in runs.items():
                wall, cpu, rss, code = measure(args)
                print(f"  {label:<42} wall {wall:6.2f} s  cpu {cpu:6.2f} s  peak {rss:7.1f} MiB  exit {code}")


if __name__ == "__main__":
    main()
