"""JSON documents with one compact line per row: readable, and written by the C encoder.

`json.dumps(..., indent=2)` runs CPython's pure-Python encoder (the C one only writes compact JSON), which was a
third of a 100,000-layer `summary --format json`. Here the top-level object is indented by hand and each item of
a row list (a layer, a finding, a change) is one compact C-encoded object on its own line. The values and keys
are the same as `json.dumps(data, indent=2)` gives; only the layout differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

INDENT = "  "
ROW_SEPARATORS = (", ", ": ")


def _row_encoder(default: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    """One encoder for every row (json.dumps would build a new one per row)."""
    return json.JSONEncoder(ensure_ascii=False, separators=ROW_SEPARATORS, default=default).encode


def _indented(value: Any, default: Callable[[Any], Any] | None) -> str:
    """A small value (the conventions, the totals) indented as `indent=2` would, one level in."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=default).replace("\n", "\n" + INDENT)


def _rows(items: Iterable[Any], default: Callable[[Any], Any] | None) -> str:
    encode, indent = _row_encoder(default), INDENT * 2
    lines = [indent + encode(item) for item in items]
    return "[\n" + ",\n".join(lines) + "\n" + INDENT + "]" if lines else "[]"


def json_document(data: dict[str, Any], rows: tuple[str, ...], default: Callable[[Any], Any] | None = None) -> str:
    """`data` as a JSON object, newline-terminated: each key on its own line, the lists named in `rows` (which
    may be any iterable, so rows can be encoded as they are made) one compact item a line."""
    members = []
    for key, value in data.items():
        text = _rows(value, default) if key in rows else _indented(value, default)
        members.append(f"{INDENT}{json.dumps(key, ensure_ascii=False)}: {text}")
    return "{\n" + ",\n".join(members) + "\n}\n" if members else "{}\n"
