"""The report as a person sees it, in a real headless Chromium: it loads without a console error, requests
nothing, draws every layer as a node, and answers clicks. A screenshot of each page is kept as an artefact
(in $NETCALC_ARTIFACTS, default `artifacts/` at the project root, which git ignores).

Needs Debian's Chromium (`.ci/run` installs it) and Playwright (the `test` extra). Where they are missing this
module is skipped with the reason — except under CI, where a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import netcalc
from netcalc.cli import cli

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("NETCALC_ARTIFACTS", ROOT / "artifacts"))
CHROMIUM = os.environ.get("NETCALC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SPECS = ["alexnet", "googlenet_aux", "resnet50", "densenet121", "unet", "shufflenet_v2_x0_5", "squeezenet1_0"]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        _unavailable("no Chromium (apt-get install chromium, or set NETCALC_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Page:
    """A loaded report page that records every console message, page error and request."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console", lambda m: m.type in ("error", "warning") and self.problems.append(f"{m.type}: {m.text}")
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=true]", timeout=60_000)

    def names(self, selector: str) -> list[str]:
        return self.page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.name)")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def write_report(tmp_path: Path, *specs: str) -> Path:
    out = tmp_path / ("_".join(Path(s).stem for s in specs) + ".html")
    result = CliRunner().invoke(cli, ["report", *specs, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("spec", SPECS)
def test_every_layer_is_a_node_and_the_page_is_clean(browser, tmp_path, spec):
    report = netcalc.analyze_file(f"specs/{spec}.yaml")
    page = Page(browser, write_report(tmp_path, f"specs/{spec}.yaml"))
    if page.page.query_selector("select.fold"):
        page.page.select_option("select.fold", "all")  # unfold every block and repeat
    layers = [r.name for r in report.layers]
    assert sorted(page.names(".graph .node")) == sorted(["input", *layers])
    assert page.names(".table-wrap tbody tr") == layers
    # a click on a node shows its figures
    target = max(report.layers, key=lambda r: r.macs)
    page.page.click(f'.graph .node[data-name="{target.name}"]')
    details = page.page.inner_text(".details")
    assert target.name in details and f"{target.macs:,}" in details
    page.screenshot(f"report-{spec}")
    assert page.problems == []
    assert page.requests == [page.url], "the page must request nothing but itself"


def test_every_output_of_a_network_with_several_is_marked(browser, tmp_path):
    page = Page(browser, write_report(tmp_path, "specs/googlenet_aux.yaml"))
    page.page.select_option("select.fold", "all")
    assert sorted(page.names(".graph .node.output")) == ["aux1.fc2", "aux2.fc2", "fc"]
    assert "3 outputs" in page.page.inner_text(".summary")
    assert page.problems == []


def test_folding_a_group_draws_it_as_one_node_and_unfolding_restores_it(browser, tmp_path):
    page = Page(browser, write_report(tmp_path, "specs/googlenet.yaml"))
    before = len(page.names(".graph .node"))
    page.page.click('.group-label[data-group="inception3a"]')
    folded = page.names(".graph .node")
    members = [r for r in netcalc.analyze_file("specs/googlenet.yaml").layers if r.name.startswith("inception3a.")]
    assert len(folded) == before - len(members) + 1
    assert "inception3a" in folded and not any(n.startswith("inception3a.") for n in folded)
    page.page.click('.graph .node[data-group="inception3a"]')
    assert len(page.names(".graph .node")) == before
    assert page.problems == []


def test_sorting_the_table_by_macs(browser, tmp_path):
    page = Page(browser, write_report(tmp_path, "specs/vgg16.yaml"))
    page.page.click('th[data-key="macs"]')
    page.page.click('th[data-key="macs"]')  # descending
    assert page.page.query_selector(".chart polyline"), "the receptive field's growth is drawn"
    headers = page.page.eval_on_selector_all("th", "els => els.map(e => e.textContent)")
    assert {"Live", "RF"} <= set(headers)
    assert "404×404" in page.page.inner_text(".summary")  # VGG-16's field at the output
    macs = {r.name: r.macs for r in netcalc.analyze_file("specs/vgg16.yaml").layers}
    order = [macs[name] for name in page.names(".table-wrap tbody tr")]
    assert order == sorted(macs.values(), reverse=True)
    assert page.problems == []


def test_a_comparison_page(browser, tmp_path):
    page = Page(browser, write_report(tmp_path, "specs/vgg16.yaml", "specs/resnet50.yaml"))
    text = page.page.inner_text(".compare")
    assert "vgg16" in text and "resnet50" in text and "15.47G" in text and "4.09G" in text
    page.screenshot("report-compare")
    page.page.click('nav button[data-tab="1"]')
    assert "resnet50" in page.page.inner_text(".summary") or page.names(".graph .node")
    assert page.problems == []


def test_a_10000_layer_report_opens_and_scrolls(browser, tmp_path, write_spec):
    spec = write_spec(
        "input: 16x16x8\nblocks:\n  unit:\n    layers:\n      - {kind: conv, out: 8, kernel: 3, padding: 1}\n"
        "      - relu\nlayers:\n  - {block: unit, name: stack, repeat: 5000}\n",
        "deep.yaml",
    )
    page = Page(browser, write_report(tmp_path, spec))
    assert len(page.names(".table-wrap tbody tr")) == 10_000
    for pane in (".graph", ".table-wrap"):
        page.page.eval_on_selector(pane, "el => el.scrollTo(0, el.scrollHeight)")
        assert page.page.eval_on_selector(pane, "el => el.scrollTop") > 0
    page.screenshot("report-10000-layers")
    assert page.problems == []


def test_a_figure_past_2_to_the_53_is_shown_exactly(browser, tmp_path, write_spec):
    spec = write_spec("name: hugefig\ninput: 65539x65537x3\nlayers:\n  - {kind: conv, name: c, out: 1001, kernel: 3}\n")
    out = tmp_path / "huge.html"
    result = CliRunner().invoke(cli, ["report", spec, "--batch", "97", "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = Page(browser, out)
    # 97 · 65537 · 65535 · 1001 · (3·3·3) MACs, past 2⁵³: JSON.parse of a number would give …604
    title = page.page.eval_on_selector_all(".summary .figure", "els => els.map(e => e.title).join('|')")
    assert "11,259,767,864,950,605" in title
    page.page.click('.graph .node[data-name="c"]')
    assert "11,259,767,864,950,605" in page.page.inner_text(".details")
    assert page.problems == []


def test_a_layer_named_like_a_folded_group_stays_drawn(browser, tmp_path, write_spec):
    spec = write_spec(
        "name: grp2\ninput: 8x8x3\nblocks:\n  b:\n    layers:\n      - {kind: conv, name: c, out: 4, kernel: 1}\n"
        "      - {kind: relu, name: r}\nlayers:\n  - {block: b, name: s1}\n"
        '  - {kind: conv, name: "group:s1", out: 4, kernel: 3, padding: 1}\n  - {kind: relu, name: tail}\n'
    )
    page = Page(browser, write_report(tmp_path, spec))
    page.page.click('.group-label[data-group="s1"]')
    assert sorted(page.names(".graph .node")) == ["group:s1", "input", "s1", "tail"]
    assert page.page.eval_on_selector_all(".graph path.edge", "els => els.length") == 3  # input→s1→group:s1→tail
    assert page.problems == []


def test_the_comparison_marks_partial_totals(browser, tmp_path, write_spec):
    unknown = write_spec(
        "name: unkb\ninput: 8x8x3\nlayers:\n  - {kind: conv, name: c, out: 4, kernel: 1}\n"
        "  - {kind: unknown, name: mystery, op: HugeOp, shape: [8, 8, 4]}\n",
        "unkb.yaml",
    )
    page = Page(browser, write_report(tmp_path, "specs/lenet5.yaml", unknown))
    row = page.page.inner_text(".compare tbody tr:nth-child(2)")
    assert "(partial)" in row and "≥ 16" in row  # params of c: 3·4 + 4
    assert "≥ partial: unkb holds layers of unknown cost" in page.page.inner_text(".compare")
    assert page.problems == []
