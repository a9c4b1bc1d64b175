"""Totals that are lower bounds (a layer of kind `unknown` counts 0) are marked `≥` / `partial` in
`summary --device`, `compare` and `diff`, as plain `summary` marks them."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from netcalc.cli import cli
from tests.conftest import UNKNOWN_SPEC

UNKNOWN = UNKNOWN_SPEC
ZERO = "name: zero\ninput: 4x4x1\nlayers:\n  - relu\n"
# c: 1×1 conv 3→4 on 8×8: params 3·4 + 4, FLOPs 2·(8·8·4·3) + bias 8·8·4
C_PARAMS = 3 * 4 + 4
C_FLOPS = 2 * (8 * 8 * 4 * 3) + 8 * 8 * 4


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def specs(write_spec) -> tuple[str, str]:
    return write_spec(UNKNOWN, "unkb.yaml"), write_spec(ZERO, "zero.yaml")


# --- summary --device ---


def test_device_table_marks_the_totals_as_lower_bounds(specs):
    out = invoke("summary", specs[0], "--device", "t4")
    assert out.splitlines()[0].startswith("unkb on t4 (float32): ≥")
    total = next(line for line in out.splitlines() if "Total" in line)
    assert "≥1.79K" in total  # FLOPs, 1,792
    assert "partial every total is a lower bound: 1 layer(s) of unknown cost" in out
    mystery = next(line for line in out.splitlines() if "mystery" in line)
    assert "?" in mystery


def test_device_markdown_and_csv_mark_partial(specs):
    md = invoke("summary", specs[0], "--device", "t4", "--format", "markdown")
    assert f"| **Total** | | **≥{C_FLOPS:,}** |" in md
    assert "≥ partial: every total is a lower bound" in md
    rows = list(csv.DictReader(io.StringIO(invoke("summary", specs[0], "--device", "t4", "--format", "csv"))))
    assert [(r["name"], r["partial"]) for r in rows] == [("c", "0"), ("mystery", "1"), ("TOTAL", "1")]


def test_device_json_flags_partial_rows_and_total(specs):
    data = json.loads(invoke("summary", specs[0], "--device", "t4", "--format", "json"))["roofline"]
    assert [(layer["name"], layer["partial"]) for layer in data["layers"]] == [("c", False), ("mystery", True)]
    assert data["partial"] is True


def test_device_output_of_an_exact_network_is_unmarked(specs):
    out = invoke("summary", specs[1], "--device", "t4")
    assert "≥" not in out and "partial" not in out


# --- compare ---


def test_compare_table_and_markdown_mark_partial_totals(specs):
    for fmt in ("table", "markdown"):
        out = invoke("compare", *specs, "--format", fmt)
        unkb = next(line for line in out.splitlines() if "unkb" in line and "8×8×3" in line)
        assert f"≥{C_PARAMS}" in unkb and "≥1.79K" in unkb
        assert "2.00 KiB" in unkb and "≥2.00 KiB" not in unkb  # activations come from shapes: exact
        zero = next(line for line in out.splitlines() if "zero" in line and "4×4×1" in line)
        assert "≥" not in zero
        assert "≥ partial: unkb holds layers of unknown cost counted as 0" in out


def test_compare_json_and_csv_flag_partial_rows(specs):
    rows = json.loads(invoke("compare", *specs, "--format", "json"))["rows"]
    assert [(r["label"], r["partial"]) for r in rows] == [("unkb", True), ("zero", False)]
    assert "params" in rows[0]["partial_columns"] and "activation_memory" not in rows[0]["partial_columns"]
    table = list(csv.DictReader(io.StringIO(invoke("compare", *specs, "--format", "csv"))))
    assert [(r["label"], r["partial"]) for r in table] == [("unkb", "1"), ("zero", "0")]


def test_compare_ratios_to_an_exact_baseline_are_lower_bounds(specs):
    out = invoke("compare", specs[1], specs[0], "--baseline", "zero")
    unkb = next(line for line in out.splitlines() if "unkb" in line and "8×8×3" in line)
    # FLOPs: ≥1,792 over zero's 16 (a relu on 4·4·1)
    assert f"(≥{C_FLOPS / (4 * 4 * 1):.2f}×)" in unkb


# --- diff ---


def test_diff_totals_mark_lower_bounds_and_unknown_changes(specs):
    for fmt in ("table", "markdown"):
        out = invoke("diff", specs[1], specs[0], "--format", fmt)
        params = next(line for line in out.splitlines() if "Params" in line and "≥" in line)
        assert f"≥{C_PARAMS}" in params and f"≥+{C_PARAMS}" in params
        assert "≥ partial: the new network holds layers of unknown cost" in out
    both = invoke("diff", specs[0], specs[0], "--format", "markdown")
    assert f"| Params | ≥{C_PARAMS} | ≥{C_PARAMS} | ? | ? |" in both
