"""`netcalc compare` through the CLI: its numbers are `summary`'s, ratios are right, rows are named and sorted."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from netcalc.cli import cli

SMALL = """\
name: small
input: 8x8x3
layers:
  - {kind: conv, name: c1, out: 4, kernel: 3, padding: 1}
  - {kind: batchnorm, name: bn}
  - relu
  - flatten
  - {kind: fc, name: fc, out: 10}
"""
# c1: 3·3·3·4 + 4 params, 8·8·4·27 MACs; bn: 2·4 params (no MACs); fc: 256·10 + 10 params, 256·10 MACs.
SMALL_PARAMS = (3 * 3 * 3 * 4 + 4) + 2 * 4 + (8 * 8 * 4 * 10 + 10)
SMALL_MACS = 8 * 8 * 4 * (3 * 3 * 3) + 8 * 8 * 4 * 10

WIDE = SMALL.replace("name: small", "name: wide").replace("out: 4,", "out: 8,")
WIDE_PARAMS = (3 * 3 * 3 * 8 + 8) + 2 * 8 + (8 * 8 * 8 * 10 + 10)
WIDE_MACS = 8 * 8 * 8 * (3 * 3 * 3) + 8 * 8 * 8 * 10


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def as_json(*args: str) -> dict:
    result = invoke("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def specs(write_spec) -> tuple[str, str]:
    return write_spec(SMALL, "small.yaml"), write_spec(WIDE, "wide.yaml")


def test_figures_by_hand(specs):
    rows = as_json(*specs)["rows"]
    assert [row["label"] for row in rows] == ["small", "wide"]
    assert (rows[0]["params"], rows[0]["macs"]) == (SMALL_PARAMS, SMALL_MACS)
    assert (rows[1]["params"], rows[1]["macs"]) == (WIDE_PARAMS, WIDE_MACS)
    assert rows[0]["param_memory"] == 4 * SMALL_PARAMS
    assert rows[0]["depth"] == 2  # c1 and fc; batch norm has parameters but no MACs
    assert rows[0]["largest_by_params"] == {
        "layer": "fc",
        "value": 8 * 8 * 4 * 10 + 10,
        "share": (8 * 8 * 4 * 10 + 10) / SMALL_PARAMS,
    }
    assert rows[0]["largest_by_macs"]["layer"] == "c1"
    assert rows[0]["largest_by_macs"]["share"] == 8 * 8 * 4 * 27 / SMALL_MACS


@pytest.mark.parametrize("args", [(), ("--batch", "3", "--dtype", "float16"), ("--input", "16x16x3")])
def test_numbers_equal_summarys(specs, args):
    rows = as_json(*specs, *args)["rows"]
    for spec, row in zip(specs, rows):
        result = invoke("summary", spec, "--format", "json", *args)
        totals = json.loads(result.stdout)["totals"]
        assert row["params"] == totals["params"]
        assert row["macs"] == totals["macs"]
        assert row["flops"] == totals["flops"]
        assert row["activation_memory"] == totals["activation_bytes"]
        assert row["param_memory"] == totals["param_bytes"]


def test_csv_numbers_equal_json(specs):
    result = invoke("compare", *specs, "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    for row, expected in zip(rows, as_json(*specs)["rows"]):
        for column in ("params", "macs", "flops", "activation_memory", "param_memory", "depth"):
            assert int(row[column]) == expected[column]
        assert row["input"] == "8x8x3"


def test_ratios_to_the_baseline(specs):
    data = as_json(*specs, "--baseline", "small")
    assert data["baseline"] == "small"
    small, wide = data["rows"]
    assert small["ratios"]["params"] == 1.0
    assert wide["ratios"]["params"] == WIDE_PARAMS / SMALL_PARAMS
    assert wide["ratios"]["macs"] == WIDE_MACS / SMALL_MACS
    assert wide["ratios"]["activation_memory"] == wide["activation_memory"] / small["activation_memory"]
    assert wide["ratios"]["depth"] == 1.0


def test_ratios_in_markdown_and_csv(specs):
    result = invoke("compare", *specs, "--baseline", "wide", "--format", "markdown")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| Network | Input | Params | MACs |")
    assert lines[2].startswith("| **small** | 8×8×3 |")
    assert f"({SMALL_MACS / WIDE_MACS:.2f}×)" in lines[2]
    assert lines[3].startswith("| **wide (baseline)** |")
    assert "(1.00×)" in lines[3]
    assert "ratios to **wide**" in result.stdout
    rows = list(csv.DictReader(io.StringIO(invoke("compare", *specs, "--baseline", "wide", "--format", "csv").stdout)))
    assert float(rows[0]["params_ratio"]) == pytest.approx(SMALL_PARAMS / WIDE_PARAMS, abs=1e-6)


def test_labels(specs):
    rows = as_json(f"mine={specs[0]}", specs[1])["rows"]
    assert [row["label"] for row in rows] == ["mine", "wide"]


def test_same_name_falls_back_to_the_path(write_spec):
    a = write_spec(SMALL, "a.yaml")
    b = write_spec(SMALL, "b.yaml")
    assert [row["label"] for row in as_json(a, b)["rows"]] == [a, b]


def test_duplicate_explicit_labels_are_an_error(specs):
    result = invoke("compare", f"x={specs[0]}", f"x={specs[1]}")
    assert result.exit_code == 2
    assert "two rows are labelled 'x'; name them with LABEL=SPEC" in result.stderr


def test_several_inputs_give_one_row_each(specs):
    data = as_json(specs[0], "--input", "8x8x3,16x16x3", "--baseline", "small@8x8x3")
    assert [row["label"] for row in data["rows"]] == ["small@8x8x3", "small@16x16x3"]
    big = data["rows"][1]
    assert big["input"] == [16, 16, 3]
    # the conv does four times the work on four times the pixels; the fc sees four times the inputs
    assert big["macs"] == 16 * 16 * 4 * (3 * 3 * 3) + 16 * 16 * 4 * 10
    assert big["ratios"]["macs"] == 4.0
    assert big["params"] == (3 * 3 * 3 * 4 + 4) + 2 * 4 + (16 * 16 * 4 * 10 + 10)


def test_sort(specs):
    rows = as_json(specs[1], specs[0], "--sort", "macs")["rows"]
    assert [row["label"] for row in rows] == ["small", "wide"]
    rows = as_json(specs[0], specs[1], "--sort", "label")["rows"]
    assert [row["label"] for row in rows] == ["small", "wide"]


def test_table(specs):
    result = invoke("compare", *specs, "--baseline", "small")
    assert result.exit_code == 0
    assert "small (baseline)" in result.stdout
    assert "(1.00×)" in result.stdout
    assert SMALL_PARAMS == 2690
    # human units, as summary's table shows its totals
    summary = invoke("summary", specs[0]).stdout
    assert "2.69K (1.00×)" in result.stdout and "2.69K" in summary
    assert f"{SMALL_MACS / 1000:.2f}K (1.00×)" in result.stdout and f"{SMALL_MACS / 1000:.2f}K" in summary


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--baseline", "smal"), "--baseline 'smal' names no row (did you mean 'small'?); rows: small, wide"),
        (("--sort", "size"), "Invalid value for '--sort'"),
        (("--input", "8x8"), "Invalid value for '--input'"),
        (("--format", "xml"), "Invalid value for '--format'"),
    ],
)
def test_bad_options_exit_2(specs, args, message):
    result = invoke("compare", *specs, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_ambiguous_baseline(specs):
    result = invoke("compare", specs[0], "--input", "8x8x3,16x16x3", "--baseline", "small")
    assert result.exit_code == 2
    assert "--baseline 'small' names 2 rows" in result.stderr


def test_a_bad_spec_exits_2(specs, write_spec):
    result = invoke("compare", specs[0], write_spec("input: 8x8x3\nlayers: [conv3-x]\n", "bad.yaml"))
    assert result.exit_code == 2
    assert "bad.yaml:2" in result.stderr


def test_missing_spec_exits_2(specs):
    result = invoke("compare", specs[0], "nope.yaml")
    assert result.exit_code == 2
    assert "nope.yaml: no such file" in result.stderr
