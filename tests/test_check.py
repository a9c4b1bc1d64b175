"""`netcalc check` through the CLI: every budget kind fires above its limit and passes at it, units, exit codes
0/1/2, and the line numbers of GitHub annotations and JUnit test cases."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from netcalc.cli import cli

ROOT = Path(__file__).parent.parent

SPEC = """\
name: tiny
input: 8x8x3
layers:
  - {kind: conv, name: c1, out: 4, kernel: 3, padding: 1}
  - {kind: relu, name: r1}
  - {kind: conv, name: c2, out: 8, kernel: 3, padding: 1}
  - flatten
  - {kind: fc, name: fc, out: 10}
"""
LINES = {"c1": 4, "r1": 5, "c2": 6, "flatten1": 7, "fc": 8}

# By hand (float32, batch 1). c1: 3×3 conv 3→4 on 8×8; c2: 3×3 conv 4→8; fc: 512→10.
PARAMS = {"c1": 3 * 3 * 3 * 4 + 4, "c2": 3 * 3 * 4 * 8 + 8, "fc": 8 * 8 * 8 * 10 + 10}
MACS = {"c1": 8 * 8 * 4 * (3 * 3 * 3), "c2": 8 * 8 * 8 * (3 * 3 * 4), "fc": 8 * 8 * 8 * 10}
ACTIVATIONS = {"c1": 8 * 8 * 4 * 4, "r1": 8 * 8 * 4 * 4, "c2": 8 * 8 * 8 * 4, "flatten1": 8 * 8 * 8 * 4, "fc": 10 * 4}
TOTAL_PARAMS = sum(PARAMS.values())


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def summary_json(spec: str) -> dict:
    result = invoke("summary", spec, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def spec(write_spec) -> str:
    return write_spec(SPEC)


@pytest.fixture
def budget(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "budget.yaml"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def flops(spec: str) -> tuple[int, str, int]:
    """FLOPs as `summary` reports them: the total, and the layer with the most and its figure."""
    data = summary_json(spec)
    top = max(data["layers"], key=lambda layer: layer["flops"])
    return data["totals"]["flops"], top["name"], top["flops"]


# (budget section, figure, the figure's value, the layer that holds it; None for totals)
KINDS = [
    ("total", "params", TOTAL_PARAMS, None),
    ("total", "macs", sum(MACS.values()), None),
    ("total", "activation_memory", sum(ACTIVATIONS.values()), None),
    ("total", "param_memory", 4 * TOTAL_PARAMS, None),
    ("per_layer", "params", PARAMS["fc"], "fc"),
    ("per_layer", "macs", MACS["c2"], "c2"),
    ("per_layer", "param_memory", 4 * PARAMS["fc"], "fc"),
    ("per_layer", "activation_memory", ACTIVATIONS["flatten1"], "c2"),  # c2 and flatten1 tie; both violate
    ('layers: {"c*"', "params", PARAMS["c2"], "c2"),
    ('layers: {"c*"', "macs", MACS["c2"], "c2"),
    ('layers: {"r?"', "activation_memory", ACTIVATIONS["r1"], "r1"),
]


def budget_text(section: str, figure: str, value: int) -> str:
    if section.startswith("layers"):
        return f"{section}: {{{figure}: {value}}}}}\n"
    return f"{section}: {{{figure}: {value}}}\n"


@pytest.mark.parametrize(("section", "figure", "value", "layer"), KINDS)
def test_a_limit_equal_to_the_figure_passes(spec, budget, section, figure, value, layer):
    result = invoke("check", spec, "--budget", budget(budget_text(section, figure, value)))
    assert result.exit_code == 0, result.output
    assert "within budget" in result.stdout
    assert "100.0%" in result.stdout


@pytest.mark.parametrize(("section", "figure", "value", "layer"), KINDS)
def test_one_over_the_limit_fails_naming_layer_figure_limit_and_excess(spec, budget, section, figure, value, layer):
    result = invoke("check", spec, "--budget", budget(budget_text(section, figure, value - 1)), "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is False
    violation = next(f for f in data["findings"] if not f["passed"])
    assert violation["figure"] == figure
    assert violation["layer"] == layer
    assert (violation["actual"], violation["limit"], violation["excess"]) == (value, value - 1, 1)


def test_flops_limits_use_summarys_figures(spec, budget):
    total, layer, layer_flops = flops(spec)
    assert invoke("check", spec, "--budget", budget(f"total: {{flops: {total}}}\n")).exit_code == 0
    assert invoke("check", spec, "--budget", budget(f"per_layer: {{flops: {layer_flops}}}\n")).exit_code == 0
    result = invoke("check", spec, "--budget", budget(f"per_layer: {{flops: {layer_flops - 1}}}\n"))
    assert result.exit_code == 1
    assert f"layer '{layer}'" in result.stdout


def test_every_layer_over_a_per_layer_limit_is_listed(spec, budget):
    result = invoke(
        "check", spec, "--budget", budget(f"per_layer: {{params: {PARAMS['c1'] - 1}}}\n"), "--format", "json"
    )
    assert result.exit_code == 1
    over = [f["layer"] for f in json.loads(result.stdout)["findings"] if not f["passed"]]
    assert over == ["c1", "c2", "fc"]


def test_text_output_states_the_violation(spec, budget):
    result = invoke("check", spec, "--budget", budget("per_layer: {params: 5K}\n"))
    assert result.exit_code == 1
    excess = PARAMS["fc"] - 5000
    assert f"layer 'fc': parameters {PARAMS['fc']:,} (5.13K) is over per_layer.params ≤ 5K = 5,000 by {excess:,}" in (
        result.stdout
    )
    assert "tiny: over budget — 1 of 1 limits exceeded (1 violation)" in result.stdout


def test_passing_output_shows_the_headroom(spec, budget):
    result = invoke("check", spec, "--budget", budget("total: {params: 11076}\n"), "--format", "json")
    assert result.exit_code == 0
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["usage"] == TOTAL_PARAMS / 11076 == 0.5
    assert finding["excess"] == TOTAL_PARAMS - 11076


@pytest.mark.parametrize(
    ("limit", "code"),
    [
        ("5.538K", 0),  # = 5538 exactly
        ("5.537K", 1),
        ('"5538"', 0),
        ("5_538", 0),
    ],
)
def test_limits_with_units(spec, budget, limit, code):
    assert TOTAL_PARAMS == 5538
    assert invoke("check", spec, "--budget", budget(f"total: {{params: {limit}}}\n")).exit_code == code


@pytest.mark.parametrize(
    ("limit", "code"),
    [("6184B", 0), ("6183", 1), ("6KiB", 1), ("6.184KB", 0), ("6.183kB", 1), ("1MiB", 0), ("6.04KiB", 2)],
)
def test_byte_limits_with_units(spec, budget, limit, code):
    assert sum(ACTIVATIONS.values()) == 6184
    # 6KiB = 6 * 1024 = 6144 bytes; 6.04KiB = 6184.96 bytes is not whole: bad input
    assert invoke("check", spec, "--budget", budget(f"total: {{activation_memory: {limit}}}\n")).exit_code == code


BAD_BUDGETS = [
    # (id, budget text, line, fragment of the message)
    (
        "unknown-section",
        "totals: {params: 1M}\n",
        1,
        "unknown key 'totals' in budget (did you mean 'total'?); known: total, per_layer, layers",
    ),
    (
        "unknown-figure",
        "total:\n  macs: 1G\n  parms: 1M\n",
        3,
        "unknown figure 'parms' in budget.total (did you mean 'params'?); known: params, macs, flops",
    ),
    ("unknown-glob-figure", 'layers:\n  "c*": {mac: 1M}\n', 2, "unknown figure 'mac'"),
    ("malformed-unit", "total:\n  params: 25m\n", 2, "params: unknown unit 'm' in '25m' (did you mean 'M'?)"),
    ("not-whole", "per_layer: {params: 1.5}\n", 1, "not a whole number"),
    ("bytes-for-count", "total: {params: 1MiB}\n", 1, "is a size in bytes, but this figure is a count"),
    (
        "ambiguous-bytes",
        "per_layer:\n  activation_memory: 96M\n",
        2,
        "write MiB (powers of 1024) or MB (powers of 1000)",
    ),
    ("negative", "total: {macs: -1}\n", 1, "is negative"),
    ("section-not-mapping", "total: 25M\n", 1, "budget.total: expected a mapping, got '25M'"),
    ("no-limits", "total: {}\n", 1, "the budget sets no limits"),
    ("not-a-mapping", "- params\n", 1, "expected a mapping"),
    ("yaml-syntax", "total: {params: 1M\n", 2, "YAML syntax error"),
]


@pytest.mark.parametrize(("text", "line", "message"), [c[1:] for c in BAD_BUDGETS], ids=[c[0] for c in BAD_BUDGETS])
def test_bad_budgets_exit_2_with_a_located_message(spec, budget, text, line, message):
    path = budget(text)
    result = invoke("check", spec, "--budget", path)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"netcalc: error: {path}:{line}: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


TEN_40 = "1" + "0" * 40  # 10^40, the largest limit (docs/limits.md)
NINES_40 = "9" * 40  # 10^40 − 1: more digits than Decimal's default 28
WHOLE_BAD_BUDGETS = [
    # (id, budget text, the whole message after "netcalc: error: FILE:LINE: ")
    ("list", "total: {params: []}\n", "budget.total.params: expected a count such as 25.6M, got a list"),
    (
        "mapping",
        "total: {activation_memory: {a: 1}}\n",
        "budget.total.activation_memory: expected a size in bytes such as 96MiB, got a mapping",
    ),
    (
        "ten-to-the-40-plus-1",
        f'total: {{params: "{TEN_40[:-1]}1"}}\n',
        f"budget.total.params: '{TEN_40[:-1]}1' is too large; a limit is at most 10^40",
    ),
    (
        "not-whole-past-28-digits",
        f'total: {{params: "{NINES_40}.5"}}\n',
        f"budget.total.params: '{NINES_40}.5' is {NINES_40}.5, not a whole number; a count must be whole",
    ),
    (
        "many-quoted-digits",
        'total: {params: "' + "9" * 70 + '"}\n',
        "budget.total.params: '" + "9" * 27 + "..." + "9" * 28 + "' is too large; a limit is at most 10^40",
    ),
    (
        "plain-integer-of-31-digits",
        "total: {params: " + "1" * 31 + "}\n",
        "a number of 31 digits is too large; integers written in YAML have at most 30 digits",
    ),
    (
        "fullwidth-digits",
        'total: {params: "１２３"}\n',
        "budget.total.params: malformed value '１２３': expected a count, a number and a unit such as 25.6M; "
        "digits are 0-9 only",
    ),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in WHOLE_BAD_BUDGETS], ids=[c[0] for c in WHOLE_BAD_BUDGETS])
def test_bad_budget_values_get_exactly_one_line(spec, budget, text, message):
    path = budget(text)
    result = invoke("check", spec, "--budget", path)
    assert result.exit_code == 2, result.output
    assert (result.stdout, result.stderr) == ("", f"netcalc: error: {path}:1: {message}\n")


def test_a_limit_of_exactly_10_to_the_40_is_accepted(spec, budget):
    result = invoke("check", spec, "--budget", budget(f'total: {{params: "{TEN_40}", macs: {10**30 - 1}}}\n'))
    assert result.exit_code == 0, result.output


def test_missing_budget_file_exits_2(spec, tmp_path):
    result = invoke("check", spec, "--budget", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml: no such file" in result.stderr


def test_no_budget_at_all_exits_2(spec):
    result = invoke("check", spec)
    assert result.exit_code == 2
    assert "no budget: give --budget BUDGET.yaml or put a `budget:` mapping in the spec" in result.stderr


def test_a_bad_spec_exits_2(write_spec, budget):
    result = invoke(
        "check", write_spec("input: 8x8x3\nlayers: [{kind: convv}]\n"), "--budget", budget("total: {params: 1}\n")
    )
    assert result.exit_code == 2
    assert "unknown kind 'convv'" in result.stderr


def test_a_glob_matching_nothing_is_a_warning(spec, budget):
    path = budget('layers:\n  "classifier.*": {params: 1M}\n  "c*": {params: 1M}\n')
    result = invoke("check", spec, "--budget", path)
    assert result.exit_code == 0, result.output
    assert f'netcalc: warning: {path}:2: layers["classifier.*"]: the glob matches no layer of tiny' in result.stderr
    assert "classifier" not in result.stdout


def test_a_budget_inside_the_spec(write_spec):
    path = write_spec(SPEC + f"budget:\n  total: {{params: {TOTAL_PARAMS - 1}}}\n")
    result = invoke("check", path, "--format", "github")
    assert result.exit_code == 1
    # a total's annotation points at its budget key, here inside the spec
    assert result.stdout.splitlines()[0].startswith(
        f"::error file={path},line=10,title=netcalc budget%3A total.params::"
    )


def test_a_budget_file_wins_over_the_specs(write_spec, budget):
    path = write_spec(SPEC + "budget:\n  total: {params: 1}\n")
    assert invoke("check", path).exit_code == 1
    assert invoke("check", path, "--budget", budget("total: {params: 1M}\n")).exit_code == 0


def test_a_bad_budget_inside_the_spec_names_the_spec_line(write_spec):
    path = write_spec(SPEC + "budget:\n  per_layer:\n    params: 2 M B\n")
    result = invoke("check", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"netcalc: error: {path}:11: budget.per_layer.params: malformed value")


def test_batch_and_dtype_change_the_figures_checked(spec, budget):
    path = budget(f"total: {{macs: {sum(MACS.values())}, param_memory: {4 * TOTAL_PARAMS}}}\n")
    assert invoke("check", spec, "--budget", path).exit_code == 0
    result = invoke("check", spec, "--budget", path, "--batch", "2", "--dtype", "float16", "--format", "json")
    assert result.exit_code == 1
    findings = {f["figure"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["macs"]["actual"] == 2 * sum(MACS.values())
    assert findings["param_memory"]["actual"] == 2 * TOTAL_PARAMS
    assert findings["param_memory"]["passed"]


# --- GitHub annotations and JUnit ---


def test_github_annotations_point_at_the_offending_layers(spec, budget):
    path = budget(f"total:\n  params: 1K\nper_layer:\n  macs: {MACS['fc'] - 1}\n")
    result = invoke("check", spec, "--budget", path, "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"::error file={path},line=2,title=netcalc budget%3A total.params::total: parameters")
    for line, layer in zip(lines[1:4], ("c1", "c2", "fc")):
        prefix = f"::error file={spec},line={LINES[layer]},title=netcalc budget%3A per_layer.macs::layer '{layer}'"
        assert line.startswith(prefix)
    assert lines[4] == "::error::tiny: over budget — 2 of 2 limits exceeded (4 violations)"


def test_github_format_within_budget_is_a_notice(spec, budget):
    result = invoke("check", spec, "--budget", budget("total: {params: 1M}\n"), "--format", "github")
    assert result.exit_code == 0
    assert result.stdout.startswith("::notice::tiny: within budget — 1 limits; closest: total.params at 0.6%")


def test_github_annotations_escape_their_properties(write_spec, budget):
    path = write_spec(SPEC, "a,b:c.yaml")
    result = invoke("check", path, "--budget", budget("per_layer: {params: 1}\n"), "--format", "github")
    assert "file=" + path.replace(":", "%3A").replace(",", "%2C") + ",line=4," in result.stdout


def test_layers_inside_blocks_point_at_the_line_that_uses_the_block(write_spec, budget):
    # A block's own lines are shared by all its instances; the use line says which instance is over.
    path = write_spec(
        "input: 8x8x3\n"
        "blocks:\n"
        "  pair:\n"
        "    layers:\n"
        "      - conv3-4\n"  # line 5
        "      - {kind: conv, name: big, out: 64, kernel: 3}\n"  # line 6
        "layers:\n"
        "  - {block: pair, name: p}\n"  # line 8
    )
    result = invoke("check", path, "--budget", budget('layers: {"p.big": {params: 10}}\n'), "--format", "github")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"::error file={path},line=8,")


def test_junit_report(spec, budget):
    path = budget(f"total: {{params: 1M, macs: 1K}}\nper_layer: {{params: {PARAMS['c2']}}}\n")
    result = invoke("check", spec, "--budget", path, "--format", "junit")
    assert result.exit_code == 1
    root = ElementTree.fromstring(result.stdout)
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "3", "2")
    cases = root.findall("testsuite/testcase")
    assert [case.get("name") for case in cases] == [
        "total.params <= 1M",
        "total.macs <= 1K",
        f"per_layer.params <= {PARAMS['c2']}",
    ]
    assert cases[0].find("failure") is None
    assert cases[1].find("failure").get("type") == "BudgetExceeded"
    assert (cases[2].get("file"), cases[2].get("line")) == (spec, str(LINES["fc"]))
    assert f"layer 'fc': parameters {PARAMS['fc']:,}" in cases[2].find("failure").text


def test_junit_within_budget_has_no_failures(spec, budget):
    result = invoke("check", spec, "--budget", budget("total: {params: 1M}\n"), "--format", "junit")
    assert result.exit_code == 0
    root = ElementTree.fromstring(result.stdout)
    assert root.get("failures") == "0"
    assert root.find("testsuite/testcase/system-out") is not None


# --- the shipped examples ---


def test_resnet50_meets_its_example_budget():
    result = invoke("check", str(ROOT / "specs/resnet50.yaml"), "--budget", str(ROOT / "specs/budgets/resnet50.yaml"))
    assert result.exit_code == 0, result.output
    assert "resnet50: within budget" in result.stdout
    assert result.stderr == ""


def test_vgg16_breaks_the_small_classifier_budget():
    spec = str(ROOT / "specs/vgg16.yaml")
    result = invoke("check", spec, "--budget", str(ROOT / "specs/budgets/small_classifier.yaml"), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    over = {(f["budget"], f["layer"]) for f in data["findings"] if not f["passed"]}
    assert ("per_layer.params", "fc1") in over  # Linear(25088, 4096)
    fc1 = next(f for f in data["findings"] if f["layer"] == "fc1")
    assert fc1["actual"] == 25088 * 4096 + 4096


def test_resnet50_also_meets_the_small_classifier_budget():
    result = invoke(
        "check", str(ROOT / "specs/resnet50.yaml"), "--budget", str(ROOT / "specs/budgets/small_classifier.yaml")
    )
    assert result.exit_code == 0, result.output


def test_layers_from_an_included_block_point_at_the_spec_line_that_uses_it(write_spec, budget):
    blocks = write_spec(
        "blocks:\n  pair:\n    layers:\n      - conv3-4\n      - {kind: conv, name: big, out: 64, kernel: 3}\n",
        "blocks.yaml",
    )
    path = write_spec("input: 8x8x3\ninclude: blocks.yaml\nlayers:\n  - {block: pair, name: p}\n", "net.yaml")
    result = invoke("check", path, "--budget", budget("per_layer: {params: 10}\n"), "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert blocks.endswith("blocks.yaml")
    assert lines[0].startswith(f"::error file={path},line=4,")  # p.conv1, in the block `p` used on line 4
    assert lines[1].startswith(f"::error file={path},line=4,")  # p.big
