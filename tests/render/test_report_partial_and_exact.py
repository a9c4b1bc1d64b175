"""The report page's data: integers past 2⁵³ embedded exactly (JSON.parse would round them), and the page's
code keeps a folded group's id apart from any layer's name. The browser side is in test_report_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from netcalc.cli import cli
from netcalc.render.html import exact_for_javascript

HUGE = """\
name: hugefig
input: 65539x65537x3
layers:
  - {kind: conv, name: c, out: 1001, kernel: 3}
"""
# batch 97, 3×3 conv 3→1001 without padding on 65539×65537: 65537·65535 outputs per channel
HUGE_MACS = 97 * 65537 * 65535 * 1001 * (3 * 3 * 3)


def embedded(page: str) -> str:
    return re.search(r'id="netcalc-data">(.*?)</script>', page, flags=re.S).group(1)


def test_integers_past_2_to_the_53_are_embedded_as_exact_strings(write_spec, tmp_path):
    assert HUGE_MACS == 11_259_767_864_950_605 and HUGE_MACS > 2**53
    out = tmp_path / "huge.html"
    result = CliRunner().invoke(cli, ["report", write_spec(HUGE), "--batch", "97", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(embedded(out.read_text(encoding="utf-8")))
    net = data["networks"][0]
    assert net["totals"]["macs"] == "11259767864950605"
    assert net["layers"][0]["macs"] == "11259767864950605"
    assert net["layers"][0]["params"] == 3 * 3 * 3 * 1001 + 1001  # small figures stay numbers
    # nothing that large is left as a JSON number
    assert not re.search(r"[:\[,]-?[0-9]{17,}[,\]}]", embedded(out.read_text(encoding="utf-8")))


def test_exact_for_javascript_keeps_safe_integers_and_booleans():
    assert exact_for_javascript({"a": [2**53 - 1, 2**53, -(2**53)], "b": True, "c": 1.5}) == {
        "a": [9007199254740991, "9007199254740992", "-9007199254740992"],
        "b": True,
        "c": 1.5,
    }


def test_the_page_formats_figure_strings_exactly_and_ids_groups_apart():
    js = (Path(__file__).parents[2] / "netcalc/render/assets/report.js").read_text(encoding="utf-8")
    assert '"group:" +' not in js  # a layer may be named `group:s1`
    assert 'const GROUP_ID = "\\u0000group:";' in js
