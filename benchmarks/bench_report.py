"""How fast `netcalc report` writes its page, and how fast Chromium opens it.

Targets (issue 11): ResNet-152's report written in under 1 s (whole process); a 10,000-layer network's report
still opens and scrolls. Prints the whole-process time to write each page (median of 5), its size, and — where
Chromium and Playwright are installed — the time until the page has drawn itself (`body[data-ready]`).
Run: python benchmarks/bench_report.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEEP = """input: 16x16x8
blocks:
  unit:
    layers:
      - {kind: conv, out: 8, kernel: 3, padding: 1}
      - relu
layers:
  - {block: unit, name: stack, repeat: 5000}
"""


def write_time(spec: str, out: Path, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "netcalc", "report", spec, "-o", str(out)],
            check=True,
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def open_time(page_path: Path) -> float | None:
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        start = time.perf_counter()
        page.goto(page_path.resolve().as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        seconds = time.perf_counter() - start
        browser.close()
    return seconds


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        deep = Path(tmp) / "deep10000.yaml"
        deep.write_text(DEEP)
        for label, spec in (("resnet152 (515 layers)", "specs/resnet152.yaml"), ("10,000 layers", str(deep))):
            out = Path(tmp) / "report.html"
            seconds = write_time(spec, out)
            opened = open_time(out)
            shown = f", drawn in Chromium in {opened:.2f} s" if opened is not None else " (no Chromium to open it)"
            print(f"{label}: written in {seconds:.3f} s (whole process), {out.stat().st_size / 1e6:.2f} MB{shown}")


if __name__ == "__main__":
    main()
