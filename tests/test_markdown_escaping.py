"""Names with `|` and backticks in every Markdown output: each shown verbatim in its own cell, no row split.

GitHub-flavoured Markdown splits a table row at every `|` not preceded by a backslash, even inside a code span,
and a code span ends at the next backtick run as long as its fence (CommonMark, "Code spans"). The expected
cells below are written out by hand; markdown-it-py (a dependency of rich) is an independent GFM table parser.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from netcalc.cli import cli
from netcalc.render import markdown

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")

# four names: a pipe, a pipe and a trailing backtick, a backtick, a leading backtick with a pipe and a double one
SPEC = """\
name: "n|e`t"
input: 8x8x3
layers:
  - {kind: conv, name: "k|`", out: 2, kernel: 1}
  - {kind: relu, name: "a|b"}
  - {kind: relu, name: "c`d"}
  - {kind: relu, name: "`e|f``"}
"""
# the cell of each name: `|` written `\|`; a fence one backtick longer than the longest run inside; a space on
# both sides when the name starts or ends with a backtick
CELLS = {
    "k|`": "`` k\\|` ``",
    "a|b": "`a\\|b`",
    "c`d": "``c`d``",
    "`e|f``": "``` `e\\|f`` ```",
}
CONV_PARAMS = 3 * 2 + 2  # 1×1 conv, 3 → 2 channels, with bias
CONV_MACS = 8 * 8 * 2 * 3
CONV_FLOPS = 2 * CONV_MACS + 8 * 8 * 2  # a multiply and an add per MAC, and the bias added
RELU_FLOPS = 8 * 8 * 2
RELU_BYTES = 8 * 8 * 2 * 4  # float32


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def markdown_of(*args: str) -> str:
    result = invoke(*args, "--format", "markdown")
    assert result.exit_code == 0, result.output
    return result.stdout


def table_rows(text: str) -> list[list[str]]:
    """Each table of `text` as its lines; every line of a table must have as many unescaped `|` as its header."""
    tables: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    for table in tables:
        separators = len(UNESCAPED_PIPE.findall(table[0]))
        for line in table:
            assert len(UNESCAPED_PIPE.findall(line)) == separators, line
    return tables


def rendered_cells(text: str) -> list[list[str]]:
    """The text of each body row's cells, as a GFM parser reads them (code spans unwrapped)."""
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    rows: list[list[str]] = []
    in_body = False
    for token in tokens:
        if token.type in ("tbody_open", "tbody_close"):
            in_body = token.type == "tbody_open"
        elif in_body and token.type == "tr_open":
            rows.append([])
        elif in_body and token.type == "inline":
            rows[-1].append("".join(child.content for child in token.children or []))
    return rows


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plain", "`plain`"),
        ("a|b", "`a|b`"),
        ("c`d", "``c`d``"),
        ("x``y", "```x``y```"),
        ("`lead", "`` `lead ``"),
        ("trail`", "`` trail` ``"),
        ("``", "``` `` ```"),
        (" spaced ", "`  spaced  `"),  # CommonMark strips one space from each side
        ("   ", "`   `"),  # only spaces: kept as they are
    ],
)
def test_a_code_span_fence_is_longer_than_any_backtick_run(name, expected):
    assert markdown.code(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a|b", "a\\|b"),
        ("c`d", "c\\`d"),
        ("a\\b", "a\\\\b"),
        ("a*b*", "a\\*b\\*"),
        ("res_2a", "res_2a"),  # `_` inside a word is never emphasis
        ("_x_", "\\_x\\_"),
        ("<b>", "\\<b\\>"),
    ],
)
def test_plain_text_in_a_cell_escapes_markup_and_pipes(name, expected):
    assert markdown.text_cell(name) == expected


def test_summary_markdown_keeps_every_name_in_one_cell(write_spec):
    text = markdown_of("summary", write_spec(SPEC))
    (table,) = table_rows(text)
    assert table[2] == f"| {CELLS['k|`']} | conv | 8×8×2 | {CONV_PARAMS} | {CONV_MACS} | {CONV_FLOPS} | {RELU_BYTES} |"
    for line, name in zip(table[3:6], ["a|b", "c`d", "`e|f``"]):
        assert line == f"| {CELLS[name]} | relu | 8×8×2 | 0 | 0 | {RELU_FLOPS} | {RELU_BYTES} |"
    assert text.startswith("**n|e\\`t** — input 8×8×3")
    assert [row[0] for row in rendered_cells(text)] == ["k|`", "a|b", "c`d", "`e|f``", "Total"]


def test_roofline_markdown_keeps_every_name_in_one_cell(write_spec):
    text = markdown_of("summary", write_spec(SPEC), "--device", "t4")
    (table,) = table_rows(text)
    assert [line.split(" | relu |")[0] for line in table[3:6]] == [f"| {CELLS[n]}" for n in ("a|b", "c`d", "`e|f``")]
    assert table[2].startswith(f"| {CELLS['k|`']} | conv | {CONV_FLOPS} |")
    assert [row[0] for row in rendered_cells(text)] == ["k|`", "a|b", "c`d", "`e|f``", "Total"]


OLD = """\
name: old
input: 8x8x3
layers:
  - {kind: conv, name: "k|`", out: 2, kernel: 1}
  - {kind: relu, name: "a|b"}
  - {kind: relu, name: "c`d"}
"""
NEW = """\
name: new
input: 8x8x3
layers:
  - {kind: conv, name: "k|`", out: 4, kernel: 1}
  - {kind: relu, name: "a|b"}
  - {kind: relu, name: "`e|f``", from: "a|b"}
"""


def test_diff_markdown_keeps_every_name_in_one_cell(write_spec):
    text = markdown_of("diff", write_spec(OLD, "old.yaml"), write_spec(NEW, "new.yaml"))
    changes, _totals = table_rows(text)
    params_delta = (3 * 4 + 4) - (3 * 2 + 2)
    assert changes[2:] == [
        f"| ~ | {CELLS['k|`']} | conv | 8×8×2 → 8×8×4 | +{params_delta} | +{8 * 8 * 2 * 3} | +{8 * 8 * 2 * 4} B | "
        "out: 2 → 4 |",
        f"| ~ | {CELLS['a|b']} | relu | 8×8×2 → 8×8×4 | 0 | 0 | +{8 * 8 * 2 * 4} B | input changed upstream |",
        f"| - | {CELLS['c`d']} | relu | 8×8×2 | 0 | 0 | -{8 * 8 * 2 * 4} B | removed |",
        f"| + | {CELLS['`e|f``']} | relu | 8×8×4 | 0 | 0 | +1.00 KiB | added |",
    ]
    assert [row[1] for row in rendered_cells(text)[:4]] == ["k|`", "a|b", "c`d", "`e|f``"]


def test_compare_markdown_keeps_labels_and_largest_layers_in_one_cell(write_spec):
    path = write_spec(SPEC)
    text = markdown_of("compare", f"a|b={path}", f"c`d={path}", "--baseline", "a|b")
    (table,) = table_rows(text)
    largest = "``k\\|` (100.0%)``"  # the conv holds every parameter and MAC
    assert table[2].startswith("| **a\\|b (baseline)** | 8×8×3 |")
    assert table[3].startswith("| **c\\`d** | 8×8×3 |")
    assert all(line.endswith(f" | {largest} | {largest} |") for line in table[2:])
    assert "ratios to **a|b**" in text
    rows = rendered_cells(text)
    assert [row[0] for row in rows] == ["a|b (baseline)", "c`d"]
    assert [row[-2:] for row in rows] == [["k|` (100.0%)"] * 2] * 2
