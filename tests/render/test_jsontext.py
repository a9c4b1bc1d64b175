"""The one-line-per-row JSON layout: the same data as `json.dumps`, one row a line, keys in order."""

from __future__ import annotations

import json

from netcalc.render.jsontext import json_document


def test_rows_one_per_line_and_same_data() -> None:
    rows = [{"name": "c1", "shape": [3, 3], "note": "ünïcode ≥"}, {"name": "c2", "shape": [], "note": None}]
    data = {"schema_version": 1, "conventions": {"a": "b", "c": [1, 2]}, "layers": rows, "totals": {"macs": 10**30}}
    text = json_document({**data, "layers": iter(rows)}, rows=("layers",))
    assert json.loads(text) == data
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and text.endswith("}\n")
    assert '    {"name": "c1", "shape": [3, 3], "note": "ünïcode ≥"},' in lines
    assert '    {"name": "c2", "shape": [], "note": null}' in lines
    assert list(json.loads(text)) == ["schema_version", "conventions", "layers", "totals"]


def test_small_values_indented_as_json_dumps_does() -> None:
    data = {"conventions": {"a": "b", "c": [1, 2]}, "name": "n"}
    text = json_document(data, rows=())
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def test_empty_row_list_and_default_for_other_types() -> None:
    text = json_document({"layers": [], "changed": ("kind",), "set": frozenset({5})}, rows=("layers",), default=list)
    assert json.loads(text) == {"layers": [], "changed": ["kind"], "set": [5]}
    assert '  "layers": [],' in text.splitlines()


def test_a_dotted_name_reaches_a_nested_row_list() -> None:
    rows = [{"name": "c1", "seconds": 0.5}, {"name": "c2", "seconds": 0.25}]
    data = {"layers": [{"name": "c1"}], "roofline": {"device": "T4", "layers": rows, "total": 0.75}}
    text = json_document(data, rows=("layers", "roofline.layers"))
    assert json.loads(text) == data
    assert '      {"name": "c1", "seconds": 0.5},' in text.splitlines()  # three levels in: document, roofline, list
    assert '    "device": "T4",' in text.splitlines()
