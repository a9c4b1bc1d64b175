"""`netcalc summary` in every format, against figures derived by hand and golden files.

Regenerate the golden files after a deliberate change with:
    NETCALC_UPDATE_GOLDEN=1 python -m pytest tests/test_cli_summary.py
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from netcalc.cli import cli

HERE = Path(__file__).parent
TINY = str(HERE / "data" / "tiny_net.yaml")
GOLDEN = HERE / "golden"
UPDATE = os.environ.get("NETCALC_UPDATE_GOLDEN") == "1"

# tiny_net by hand: stem 3×3 conv 3→16 on 32×32; two residual blocks (3×3 conv 16→16 no bias + BN + add + relu);
# 2×2 max pool → 16×16×16; global average → 1×1×16; flatten → 16; fc 16→10.
STEM_PARAMS = 3 * 3 * 3 * 16 + 16
RES_PARAMS = 3 * 3 * 16 * 16 + 2 * 16
HEAD_PARAMS = 16 * 10 + 10
PARAMS = STEM_PARAMS + 2 * RES_PARAMS + HEAD_PARAMS
MACS = 32 * 32 * 16 * (3 * 3 * 3) + 2 * 32 * 32 * 16 * (3 * 3 * 16) + 16 * 10
ACTIVATION_ELEMENTS = 32 * 32 * 16 * (1 + 2 * 4) + 16 * 16 * 16 + 16 + 16 + 10


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring to update"


def test_json_contract_and_exact_figures():
    result = invoke("summary", TINY, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1
    assert (data["name"], data["input"], data["batch"], data["dtype"]) == ("tiny_net", [32, 32, 3], 1, "float32")
    assert data["totals"]["params"] == PARAMS
    assert data["totals"]["macs"] == MACS
    assert data["totals"]["activation_bytes"] == 4 * ACTIVATION_ELEMENTS
    assert data["totals"]["param_bytes"] == 4 * PARAMS
    names = [layer["name"] for layer in data["layers"]]
    assert names[:5] == ["stem", "res.0.conv", "res.0.bn", "res.0.add", "res.0.relu"]
    add = data["layers"][3]
    assert add["inputs"] == ["res.0.bn", "stem"]
    assert add["output_shape"] == [32, 32, 16]
    assert data["layers"][-1]["output_shape"] == [10]
    for key in ("params", "macs", "flops", "activation_bytes"):
        assert data["totals"][key] == sum(layer[key] for layer in data["layers"])
    check_golden("tiny_net.json", result.stdout.replace(TINY, "tests/data/tiny_net.yaml"))


def test_batch_and_dtype_scale_the_right_figures():
    data = json.loads(invoke("summary", TINY, "--format", "json", "--batch", "4", "--dtype", "float16").stdout)
    assert data["totals"]["params"] == PARAMS
    assert data["totals"]["macs"] == 4 * MACS
    assert data["totals"]["activation_bytes"] == 4 * 2 * ACTIVATION_ELEMENTS
    assert data["totals"]["param_bytes"] == 2 * PARAMS


def test_input_override_changes_shapes():
    data = json.loads(invoke("summary", TINY, "--format", "json", "--input", "64x64x3").stdout)
    assert data["input"] == [64, 64, 3]
    assert data["layers"][0]["output_shape"] == [64, 64, 16]
    assert data["totals"]["params"] == PARAMS


def test_csv_rows_and_totals():
    result = invoke("summary", TINY, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["name"] == "stem" and rows[0]["output_shape"] == "32x32x16"
    assert rows[-1]["name"] == "TOTAL"
    assert int(rows[-1]["params"]) == PARAMS and int(rows[-1]["macs"]) == MACS
    check_golden("tiny_net.csv", result.stdout)


def test_markdown_exact_integers():
    result = invoke("summary", TINY, "--format", "markdown")
    assert f"**{PARAMS:,}**" in result.stdout and f"**{MACS:,}**" in result.stdout
    check_golden("tiny_net.md", result.stdout)


def test_table_is_pinned_to_the_width_and_matches_golden():
    result = invoke("summary", TINY)
    assert result.exit_code == 0
    assert all(len(line) <= 120 for line in result.stdout.splitlines())
    assert f"params {PARAMS:,}" in result.stdout
    check_golden("tiny_net.table.txt", result.stdout)


def test_depth_folds_blocks_into_one_row():
    data = json.loads(invoke("summary", TINY, "--format", "json", "--depth", "1").stdout)
    assert [layer["name"] for layer in data["layers"]] == ["stem", "res", "pool", "global_avgpool1", "flatten1", "head"]
    res = data["layers"][1]
    assert (res["kind"], res["params"], res["output_shape"]) == ("residual ×2", 2 * RES_PARAMS, [32, 32, 16])
    assert data["totals"]["params"] == PARAMS
    table = invoke("summary", TINY, "--depth", "2").stdout
    assert "res.0 " in table and "res.0.conv" not in table


def test_show_prints_the_expanded_network():
    result = invoke("show", TINY)
    assert result.exit_code == 0
    assert "# res.1: residual" in result.stdout
    assert "{name: res.1.add, kind: add, from: [res.1.bn, res.0.relu]}" in result.stdout


def test_kinds_lists_every_kind_and_describes_one():
    listing = invoke("kinds").stdout
    assert "conv_transpose" in listing and "global_avgpool" in listing
    assert "padding            zero padding per side, P, [Ph, Pw] or 'same' (default [0, 0])" not in listing
    conv = invoke("kinds", "conv").stdout
    assert "out                output channels (required)" in conv


def test_summary_does_not_import_numpy_or_rich_for_json():
    code = (
        "import sys; from netcalc.cli import cli\n"
        "try:\n    cli(['summary', sys.argv[1], '--format', 'json'], prog_name='netcalc')\n"
        "except SystemExit:\n    pass\n"
        "print('numpy' in sys.modules, 'rich' in sys.modules, file=sys.stderr)\n"
        "print(*sorted(m for m in sys.modules if m.startswith('netcalc.commands.')), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, TINY], capture_output=True, text=True, check=True)
    imported, commands = result.stderr.splitlines()
    assert imported == "False False"
    # only the module of the command that runs (and the options every command shares) is imported
    assert commands.split() == ["netcalc.commands.options", "netcalc.commands.summary"]


def test_every_command_is_registered_under_its_own_name():
    from netcalc.cli import COMMANDS, cli

    assert cli.list_commands(None) == sorted(COMMANDS)  # type: ignore[arg-type]
    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert isinstance(command, click.Command) and command.name == name
    assert cli.get_command(None, "nope") is None  # type: ignore[arg-type]
    listing = invoke("--help").stdout
    assert [line.split()[0] for line in listing.split("Commands:\n")[1].splitlines()] == sorted(COMMANDS)


def test_a_mistyped_command_gets_one_line_naming_the_closest():
    result = invoke("summry", "spec.yaml")
    assert result.exit_code == 2
    assert result.output == "netcalc: error: No such command 'summry'. Did you mean 'summary'?\n"
    result = invoke("frobnicate")
    assert result.exit_code == 2 and result.output == "netcalc: error: No such command 'frobnicate'.\n"


def test_console_script_and_module_entry_point_work():
    result = subprocess.run(
        [sys.executable, "-m", "netcalc", "summary", TINY, "--format", "csv"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("name,kind")


def test_the_console_command_delivers_all_its_output_then_skips_pythons_teardown():
    # ResNet-152's JSON summary is ~400 KB, several times a pipe's buffer: all of it arrives, flushed before
    # the process ends; the atexit hook set before `run` never runs, as Python's teardown is skipped
    code = (
        "import atexit, sys; atexit.register(lambda: print('teardown', file=sys.stderr))\n"
        "from netcalc.cli import run\nsys.argv[0] = 'netcalc'\nrun()\n"
    )
    spec = str(HERE.parent / "specs" / "resnet152.yaml")
    result = subprocess.run([sys.executable, "-c", code, "summary", spec, "--format", "json"], capture_output=True)
    assert result.returncode == 0 and result.stderr == b""
    assert len(result.stdout) > 200_000 and json.loads(result.stdout)["name"] == "resnet152"
    bad = subprocess.run([sys.executable, "-c", code, "summary", spec + ".missing"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("netcalc: error: ") and "teardown" not in bad.stderr


def test_a_stray_exit_message_still_ends_as_one_line_and_exit_1():
    # should anything raise SystemExit("…") through the command, run() reports it as sys.exit would: status 1;
    # and what it had written to stdout (a pipe: buffered, not yet flushed) still arrives
    code = (
        "import sys\nimport netcalc.cli as cli\n"
        "def stray(**_):\n    sys.stdout.write('partial')\n    raise SystemExit('stray message')\n"
        "cli.cli = stray\ncli.run()\n"
    )
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=buffered)
    assert (result.returncode, result.stdout, result.stderr) == (1, "partial", "netcalc: error: stray message\n")


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_every_format_succeeds_on_a_zoo_spec(fmt):
    result = invoke("summary", str(HERE.parent / "specs" / "vgg16.yaml"), "--format", fmt)
    assert result.exit_code == 0
    assert "138" in result.stdout


def test_show_keeps_the_budget_so_the_expanded_spec_still_checks(write_spec, tmp_path):
    path = write_spec("input: 8x8x3\nlayers: [conv3-4]\nbudget:\n  total: {params: 100}\n")
    expanded = tmp_path / "expanded.yaml"
    expanded.write_text(invoke("show", path).stdout)
    result = invoke("check", str(expanded))
    assert result.exit_code == 1  # 3·3·3·4 + 4 = 112 parameters > 100
    assert "112" in result.stdout


def test_a_narrow_terminal_keeps_the_figures_and_drops_the_bar():
    result = CliRunner().invoke(cli, ["summary", TINY], env={"COLUMNS": "72", "NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "MACs share" not in result.stdout
    stem = next(line for line in result.stdout.splitlines() if "stem" in line)
    assert "448" in stem and "442.37K" in stem and "64.00 KiB" in stem  # 3·3·3·16 + 16; 32·32·16·27
