"""`netcalc diff` through the CLI: exactly the changed layers, with their deltas, and the change in totals."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from netcalc.cli import cli

OLD = """\
name: net
input: 8x8x3
layers:
  - {kind: conv, name: c1, out: 4, kernel: 3, padding: 1}
  - {kind: relu, name: r1}
  - {kind: conv, name: c2, out: 8, kernel: 3, padding: 1}
  - {kind: maxpool, name: pool, kernel: 2}
  - {kind: dropout, name: drop}
  - {kind: flatten, name: flat}
  - {kind: fc, name: fc, out: 10}
"""
# c2 widens 8 → 16 (so pool, flat and fc change too, through their input), the dropout goes, a relu arrives.
NEW = (
    OLD.replace("name: c2, out: 8", "name: c2, out: 16")
    .replace("  - {kind: dropout, name: drop}\n", "")
    .replace(
        "{kind: maxpool, name: pool, kernel: 2}", "{kind: maxpool, name: pool, kernel: 2}\n  - {kind: relu, name: r2}"
    )
)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def as_json(old: str, new: str, *args: str) -> dict:
    result = invoke("diff", old, new, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def pair(write_spec) -> tuple[str, str]:
    return write_spec(OLD, "old.yaml"), write_spec(NEW, "new.yaml")


def test_exactly_the_changed_layers(pair):
    data = as_json(*pair)
    status = {layer["name"]: layer["status"] for layer in data["layers"]}
    assert status == {
        "c2": "changed",
        "pool": "changed",
        "r2": "added",
        "drop": "removed",
        "flat": "changed",
        "fc": "changed",
    }
    # in the new network's order; a removed layer where it stood, after the last layer before it that survives
    assert [layer["name"] for layer in data["layers"]] == ["c2", "pool", "drop", "r2", "flat", "fc"]
    assert data["summary"] == {"added": 1, "removed": 1, "changed": 4, "unchanged": 2}  # c1 and r1


def test_deltas(pair):
    layers = {layer["name"]: layer for layer in as_json(*pair)["layers"]}
    c2 = layers["c2"]
    assert c2["attrs"] == [{"name": "out", "old": 8, "new": 16}]
    assert c2["output_shape"] == {"old": [8, 8, 8], "new": [8, 8, 16]}
    assert c2["delta"]["params"] == (3 * 3 * 4 * 16 + 16) - (3 * 3 * 4 * 8 + 8)
    assert c2["delta"]["macs"] == 8 * 8 * 16 * (3 * 3 * 4) - 8 * 8 * 8 * (3 * 3 * 4)
    assert c2["delta"]["activation_bytes"] == 4 * (8 * 8 * 16 - 8 * 8 * 8)
    fc = layers["fc"]
    assert fc["attrs"] == []  # its own attributes are the same; its input grew
    assert fc["delta"]["params"] == (4 * 4 * 16 * 10 + 10) - (4 * 4 * 8 * 10 + 10)
    assert layers["drop"]["delta"]["activation_bytes"] == -4 * (4 * 4 * 8)
    assert layers["r2"]["delta"]["activation_bytes"] == 4 * (4 * 4 * 16)
    assert layers["r2"]["old"] is None and layers["drop"]["new"] is None


def test_totals_change_equals_the_difference_of_summarys(pair):
    data = as_json(*pair)
    old, new = (json.loads(invoke("summary", spec, "--format", "json").stdout)["totals"] for spec in pair)
    shown = data["totals"]["delta"]
    assert data["totals"]["old"] == {figure: old[figure] for figure in (*shown, "partial")}
    assert data["totals"]["new"] == {figure: new[figure] for figure in (*shown, "partial")}
    assert shown == {figure: new[figure] - old[figure] for figure in shown}
    assert {"params", "macs", "activation_bytes", "live_bytes", "training_bytes"} <= set(shown)
    assert data["totals"]["delta"]["params"] == (
        (3 * 3 * 4 * 16 + 16) - (3 * 3 * 4 * 8 + 8) + (4 * 4 * 16 * 10) - (4 * 4 * 8 * 10)
    )


def test_identical_specs_have_no_changes(pair):
    data = as_json(pair[0], pair[0])
    assert data["layers"] == []
    assert data["summary"] == {"added": 0, "removed": 0, "changed": 0, "unchanged": 7}
    assert set(data["totals"]["delta"].values()) == {0}


def test_rewiring_alone_is_a_change(write_spec):
    old = write_spec("input: 8x8x3\nlayers:\n  - {kind: relu, name: a}\n  - {kind: relu, name: b}\n", "a.yaml")
    new = write_spec(
        "input: 8x8x3\nlayers:\n  - {kind: relu, name: a}\n  - {kind: relu, name: b, from: input}\n", "b.yaml"
    )
    (layer,) = as_json(old, new)["layers"]
    assert (layer["name"], layer["status"], layer["changed"]) == ("b", "changed", ["inputs"])


def test_a_kind_change(write_spec):
    old = write_spec("input: 8x8x3\nlayers:\n  - {kind: relu, name: act}\n", "a.yaml")
    new = write_spec("input: 8x8x3\nlayers:\n  - {kind: sigmoid, name: act}\n", "b.yaml")
    (layer,) = as_json(old, new)["layers"]
    assert layer["kind"] == {"old": "relu", "new": "sigmoid"}
    assert "kind" in layer["changed"]


def test_options_apply_to_both(pair):
    data = as_json(*pair, "--batch", "2")
    assert data["totals"]["delta"]["macs"] == 2 * (
        8 * 8 * 16 * (3 * 3 * 4) - 8 * 8 * 8 * (3 * 3 * 4) + 4 * 4 * 16 * 10 - 4 * 4 * 8 * 10
    )


def test_table(pair):
    result = invoke("diff", *pair)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"{pair[0]} → {pair[1]}: 1 added, 1 removed, 4 changed, 2 unchanged"
    c2 = next(line for line in lines if " c2 " in line)
    assert "8×8×8 → 8×8×16" in c2 and "out: 8 → 16" in c2 and f"+{3 * 3 * 4 * 8 + 8}" in c2
    assert any(" drop " in line and "removed" in line for line in lines)
    assert any(" fc " in line and "input changed upstream" in line for line in lines)


def test_markdown(pair):
    result = invoke("diff", *pair, "--format", "markdown")
    assert result.exit_code == 0
    assert "| ~ | `c2` | conv | 8×8×8 → 8×8×16 |" in result.stdout
    assert "| + | `r2` | relu |" in result.stdout
    assert "| - | `drop` | dropout |" in result.stdout
    params_delta = (3 * 3 * 4 * 16 + 16) - (3 * 3 * 4 * 8 + 8) + (4 * 4 * 16 * 10) - (4 * 4 * 8 * 10)
    assert "| Params | " in result.stdout and f"| {params_delta:+,} |" in result.stdout


def test_bad_input_exits_2(pair, tmp_path):
    result = invoke("diff", pair[0], str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml: no such file" in result.stderr
    assert invoke("diff", *pair, "--format", "csv").exit_code == 2
