"""Device profile files: every key is checked, with one located line and exit 2 (docs/devices.md)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from netcalc.analysis.devices import parse_device
from netcalc.cli import cli
from netcalc.language.yamlload import load_yaml_text

BASE = "name: x\npeak_flops:\n  float32: 1T\nmemory_bandwidth: 100GB\n"


def run(write_spec, profile: str):
    spec = write_spec("name: zero\ninput: 4x4x1\nlayers:\n  - relu\n", "zero.yaml")
    path = write_spec(profile, "device.yaml")
    return path, CliRunner().invoke(cli, ["summary", spec, "--device", path])


@pytest.mark.parametrize("value", ["0", "false", "[]", "''", "null", "0.5"])
def test_an_efficiency_that_is_not_a_mapping_is_refused(write_spec, value):
    path, result = run(write_spec, BASE + f"efficiency: {value}\n")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"netcalc: error: {path}:5: efficiency: `efficiency` is a mapping {{compute:")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("line", "got"),
    [("name: [1]", "[1]"), ("name: null", "nothing"), ("name: 12", "12"), ("name: {a: 1}", "{'a': 1}")],
)
def test_a_name_that_is_not_a_string_is_refused(write_spec, line, got):
    path, result = run(write_spec, BASE.replace("name: x", line))
    assert result.exit_code == 2
    assert result.stderr == f"netcalc: error: {path}:1: name: expected a string, got {got}\n"


def test_a_description_that_is_not_a_string_is_refused(write_spec):
    path, result = run(write_spec, BASE + "description: [1, 2]\n")
    assert result.exit_code == 2
    assert result.stderr == f"netcalc: error: {path}:5: description: expected a string, got [1, 2]\n"


@pytest.mark.parametrize(("written", "share"), [("5e-1", 0.5), ("5.0e-1", 0.5), ("1e0", 1.0), ("25E-2", 0.25)])
def test_an_efficiency_in_exponent_form_is_a_number(written, share):
    device = parse_device(load_yaml_text(BASE + f"efficiency: {{compute: {written}}}\n", "d.yaml"), "d.yaml")
    assert device.compute_efficiency == share


def test_text_that_is_no_number_says_it_was_read_as_text(write_spec):
    path, result = run(write_spec, BASE + "efficiency: {compute: half}\n")
    assert result.exit_code == 2
    assert result.stderr == (
        f"netcalc: error: {path}:5: compute: efficiency compute must be a number in (0, 1], got 'half' (read as text)\n"
    )


def test_an_exponent_outside_the_range_is_refused(write_spec):
    _, result = run(write_spec, BASE + "efficiency: {memory: 5e1}\n")
    assert result.exit_code == 2
    assert "efficiency memory must be a number in (0, 1], got '5e1'" in result.stderr
