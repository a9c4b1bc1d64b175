"""`netcalc report`: one self-contained page whose embedded data holds every layer, and nothing that could
fetch anything or let a layer's name escape into the page's code."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

import netcalc
from netcalc.cli import cli
from netcalc.render.html import CSP, to_html


def embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="netcalc-data">(.*?)</script>', page, flags=re.S)
    assert match, "the page must embed its data"
    return json.loads(match.group(1))


def test_the_page_embeds_every_layer_with_its_figures_and_layout():
    report = netcalc.analyze_file("specs/googlenet.yaml")
    data = embedded(to_html([report]))
    (net,) = data["networks"]
    assert [layer["name"] for layer in net["layers"]] == [r.name for r in report.layers]
    assert net["totals"]["params"] == 6_624_904  # torchvision's GoogLeNet without aux heads
    placed = {name for name, _, _ in net["layout"]["nodes"]}
    assert placed == {"input"} | {r.name for r in report.layers}
    inception = next(g for g in net["groups"] if g["name"] == "inception3a")
    assert (inception["label"], inception["depth"], inception["output"]) == ("inception", 0, "inception3a.concat")
    branch = next(layer for layer in net["layers"] if layer["name"] == "inception3a.branch2.1.conv")
    assert branch["groups"] == ["inception3a", "inception3a.branch2.1"]


def test_nothing_on_the_page_can_leave_it():
    page = to_html([netcalc.analyze_file("specs/alexnet.yaml")])
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"\bsrc\s*=", page)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # the SVG namespace is a name, not a request


def test_a_hostile_layer_name_stays_data(write_spec):
    name = "</script><script>alert(1)</script><!--"
    path = write_spec(f"input: 8x8x3\nlayers:\n  - {{kind: relu, name: {json.dumps(name)}}}\n")
    page = to_html([netcalc.analyze_file(path)], title="{{JS}} <b>")
    assert "<title>{{JS}} &lt;b&gt; — netcalc report</title>" in page  # substituted once, never re-read
    data = re.search(r'id="netcalc-data">(.*?)</script>', page, flags=re.S).group(1)
    assert "<" not in data
    assert json.loads(data)["networks"][0]["layers"][0]["name"] == name
    assert page.count("<script") == 2  # the data block and the page's own code, nothing injected


def test_several_specs_make_one_page_with_a_network_each(tmp_path):
    out = tmp_path / "cmp.html"
    result = CliRunner().invoke(cli, ["report", "specs/vgg16.yaml", "specs/resnet50.yaml", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    data = embedded(out.read_text())
    assert [n["name"] for n in data["networks"]] == ["vgg16", "resnet50"]
    assert [n["totals"]["macs"] for n in data["networks"]] == [15_470_264_320, 4_089_184_256]


def test_report_options_apply_to_every_spec(tmp_path):
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["report", "specs/lenet5.yaml", "--batch", "8", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert embedded(out.read_text())["networks"][0]["batch"] == 8


def test_an_unwritable_output_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["report", "specs/lenet5.yaml", "-o", str(tmp_path / "no" / "dir" / "r.html")])
    assert result.exit_code == 2
    assert "cannot write" in result.output and result.output.strip().count("\n") == 0
