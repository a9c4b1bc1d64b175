"""`netcalc check` on figures that are only lower bounds (a layer of kind `unknown` counts 0), and JUnit's
name of a minimum limit. A partial figure never passes: over a maximum already → exceeded; else unknown."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from netcalc.cli import cli
from tests.conftest import UNKNOWN_SPEC

# c: 1×1 conv 3→4 on 8×8 (params 3·4 + 4 = 16, MACs 8·8·4·3 = 768); `mystery` is of kind unknown (counts 0)
SPEC = UNKNOWN_SPEC
C_PARAMS = 3 * 4 + 4
C_MACS = 8 * 8 * 4 * 3


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture
def spec(write_spec) -> str:
    return write_spec(SPEC)


@pytest.fixture
def budget(write_spec):
    return lambda text: write_spec(text, "budget.yaml")


def test_a_limit_on_an_unknown_layer_is_unknown_in_text(spec, budget):
    result = invoke("check", spec, "--budget", budget('layers: {"mystery": {params: 10}}\n'))
    assert result.exit_code == 1
    assert "UNKNOWN" in result.stdout
    assert "is within" not in result.stdout
    assert (
        f"{spec}:5: layer 'mystery': parameters ≥0 is only a lower bound (the layer is of kind `unknown`, counted "
        'as 0): unknown whether it meets layers["mystery"].params ≤ 10'
    ) in result.stdout
    assert "unkb: budget not met — 1 of 1 limits unknown" in result.stdout


def test_a_partial_total_within_the_limit_is_unknown_in_json(spec, budget):
    result = invoke("check", spec, "--budget", budget("total: {params: 100}\n"), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["passed"], data["status"]) == (False, "unknown")
    (finding,) = data["findings"]
    assert (finding["actual"], finding["partial"], finding["passed"], finding["status"]) == (
        C_PARAMS,
        True,
        False,
        "unknown",
    )


def test_a_partial_total_already_over_the_limit_is_exceeded(spec, budget):
    result = invoke("check", spec, "--budget", budget(f"total: {{macs: {C_MACS - 1}}}\n"), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["status"] == "exceeded"
    (finding,) = data["findings"]
    assert (finding["status"], finding["excess"]) == ("exceeded", 1)
    assert finding["message"].startswith(f"total: MACs ≥{C_MACS:,} is over total.macs ≤ {C_MACS - 1:,} by ≥1")


def test_an_exact_figure_beside_a_partial_one_still_passes(spec, budget):
    # `c` is modelled: a limit on it alone is settled, even though the network holds an unknown layer
    result = invoke("check", spec, "--budget", budget('layers: {"c": {params: 16}}\n'), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["findings"][0]["status"] == "passed"


def test_github_annotates_an_unknown_limit_as_an_error(spec, budget):
    result = invoke("check", spec, "--budget", budget('layers: {"mystery": {macs: 10}}\n'), "--format", "github")
    assert result.exit_code == 1
    first, last = result.stdout.splitlines()
    assert first.startswith(f'::error file={spec},line=5,title=netcalc budget unknown%3A layers["mystery"].macs::')
    assert last.startswith("::error::unkb: budget not met")
    assert "::notice" not in result.stdout


def test_junit_reports_an_unknown_limit_as_an_error(spec, budget):
    path = budget('total: {params: 100}\nlayers: {"mystery": {flops: 10}}\n')
    result = invoke("check", spec, "--budget", path, "--format", "junit")
    assert result.exit_code == 1
    root = ElementTree.fromstring(result.stdout)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "2")
    cases = root.findall("testsuite/testcase")
    assert [case.find("error").get("type") for case in cases] == ["BudgetUnknown", "BudgetUnknown"]
    assert "layer 'mystery': FLOPs ≥0 is only a lower bound" in cases[1].find("error").text


def test_a_min_receptive_field_downstream_of_an_unknown_layer_is_unknown(write_spec, budget):
    path = write_spec(SPEC + "  - {kind: conv, name: after, out: 4, kernel: 3, padding: 1}\n")
    result = invoke(
        "check", path, "--budget", budget('layers: {"after": {min_receptive_field: 1}}\n'), "--format", "json"
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["findings"][0]["status"] == "unknown"


def test_junit_names_a_minimum_with_greater_or_equal(budget):
    # lenet5's output sees 32 pixels: under a minimum of 64
    result = invoke(
        "check", "specs/lenet5.yaml", "--budget", budget("total: {min_receptive_field: 64}\n"), "--format", "junit"
    )
    assert result.exit_code == 1
    (case,) = ElementTree.fromstring(result.stdout).findall("testsuite/testcase")
    assert case.get("name") == "total.min_receptive_field >= 64"
    assert case.find("failure").get("type") == "BudgetExceeded"


def test_memory_from_known_shapes_and_fields_that_avoid_the_unknown_layer_are_checked_as_usual(write_spec, budget):
    # the unknown layer's output shape is given, so activation memory is exact: side 8·8·2 + c 8·8·4 + mystery
    # 8·8·4 float32 values = 4·(128 + 256 + 256) = 2,560 B; `side` (a 3×3 conv on the input) does not pass through
    # `mystery`, so its field, 3, is exact; the total field (the outputs' smaller) and params stay unknown
    path = write_spec(
        SPEC.replace("layers:\n", "layers:\n  - {kind: conv, name: side, from: input, out: 2, kernel: 3, padding: 1}\n")
        + "outputs: [side, mystery]\n",
        "two.yaml",
    )
    limits = (
        "total: {activation_memory: 4KiB, min_receptive_field: 3, params: 1M}\n"
        "layers: {side: {min_receptive_field: 3}}\n"
    )
    result = invoke("check", path, "--budget", budget(limits), "--format", "json")
    findings = {(f["scope"], f["figure"]): f for f in json.loads(result.stdout)["findings"]}
    memory = findings[("total", "activation_memory")]
    assert (memory["status"], memory["actual"]) == ("passed", 4 * (128 + 256 + 256))
    assert findings[("total", "min_receptive_field")]["status"] == "unknown"  # `mystery` is an output: not known
    assert findings[("total", "params")]["status"] == "unknown"
    side = [f for (scope, figure), f in findings.items() if figure == "min_receptive_field" and scope != "total"]
    assert [(f["layer"], f["status"], f["actual"]) for f in side] == [("side", "passed", 3)]
