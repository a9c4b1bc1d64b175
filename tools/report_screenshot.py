"""Write the README's screenshot of the report: docs/images/report-googlenet.png.

Needs Chromium and Playwright (the `test` extra). Run from the project root: python tools/report_screenshot.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent

with tempfile.TemporaryDirectory() as tmp:
    page_path = Path(tmp) / "googlenet.html"
    subprocess.run([sys.executable, "-m", "netcalc", "report", "specs/googlenet.yaml", "-o", str(page_path)],
                   check=True, cwd=ROOT)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-ready=true]")
        page.click('tr[data-name="inception3a.branch2.conv"]')  # the details of one layer, the graph at an Inception
        page.eval_on_selector(".graph", "el => el.scrollBy(0, 140)")
        page.screenshot(path=str(ROOT / "docs" / "images" / "report-googlenet.png"))
        browser.close()
