"""The JSON Schema of the spec language: every spec in specs/ validates, typical mistakes do not."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from netcalc.cli import cli

ROOT = Path(__file__).parent.parent
SPECS = sorted(p for p in (ROOT / "specs").rglob("*.yaml") if "budgets" not in p.parts)  # budgets are not specs


@pytest.fixture(scope="module")
def validator():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_zoo_has_specs_to_validate():
    assert len(SPECS) >= 20 and any(p.parent.name == "blocks" for p in SPECS)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_validates(validator, path):
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_the_new_language_validates(validator):
    from tests.test_language import AUX, REPEATS, SHUFFLE, UNET

    for text in (AUX, REPEATS, SHUFFLE, UNET):
        assert [e.message for e in validator.iter_errors(yaml.safe_load(text))] == []


GOOD = {"input": "32x32x3", "layers": [{"kind": "conv", "out": 8, "kernel": 3}]}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"layers": [{"kind": "conv", "out": 8, "kernel": 3, "strid": 2}]}, "'strid' was unexpected"),
        ({"layers": [{"kind": "Conv2d", "out": 8, "kernel": 3}]}, "is not valid"),
        ({"layers": [{"kind": "conv", "out": 8, "kernel": 3, "bias": [1]}]}, "is not valid"),
        ({"layers": [{"kind": "conv", "out": 8, "kernel": [3, 3, 3]}]}, "is not valid"),
        ({"layers": ["conv3x64"]}, "is not valid"),
        ({"layers": []}, "should be non-empty"),
        ({"layer": []}, "'layer' was unexpected"),
        ({"input": "32 by 32"}, "is not valid"),
        ({"input": "３２x32x3"}, "is not valid"),  # fullwidth digits: Python's \d would match them
        ({"layers": ["conv٣-64"]}, "is not valid"),  # an Arabic-Indic 3
        ({"layers": ["fc-１０"]}, "is not valid"),
        ({"layers": ["maxpool3/２"]}, "is not valid"),
        ({"defaults": {"conv": {"kernal": 3}}}, "'kernal' was unexpected"),
        ({"outputs": {"a": 1}}, "is not valid"),
    ],
)
def test_typical_mistakes_are_rejected(validator, change, fragment):
    errors = [m for e in validator.iter_errors({**GOOD, **change}) for m in _messages(e)]
    assert any(fragment in e for e in errors), errors
    assert [e.message for e in validator.iter_errors(GOOD)] == []


def _messages(error: jsonschema.ValidationError) -> list[str]:
    """The error's message and those of the alternatives an `anyOf` tried."""
    return [error.message] + [m for sub in error.context or () for m in _messages(sub)]


def test_compact_layers_and_input_of_ascii_digits_validate(validator):
    spec = {"input": "32x32x3", "layers": ["conv3-64", "conv3-64/2", "maxpool", "maxpool3/2", "flatten", "fc-10"]}
    assert [e.message for e in validator.iter_errors(spec)] == []
