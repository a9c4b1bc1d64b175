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


def _indented(value: Any, default: Callable[[Any], Any] | None, depth: int) -> str:
    """A small value (the conventions, the totals) indented as `indent=2` would, `depth` levels in."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=default).replace("\n", "\n" + INDENT * depth)


def _rows(items: Iterable[Any], default: Callable[[Any], Any] | None, depth: int) -> str:
    encode, indent = _row_encoder(default), INDENT * (depth + 1)
    lines = [indent + encode(item) for item in items]
    return "[\n" + ",\n".join(lines) + "\n" + INDENT * depth + "]" if lines else "[]"


def _object(data: dict[str, Any], rows: tuple[str, ...], default: Callable[[Any], Any] | None, depth: int) -> str:
    members = []
    for key, value in data.items():
        inner = tuple(r.split(".", 1)[1] for r in rows if r.startswith(f"{key}."))
        if key in rows:
            text = _rows(value, default, depth + 1)
        elif inner and isinstance(value, dict):
            text = _object(value, inner, default, depth + 1)
        else:
            text = _indented(value, default, depth + 1)
        members.append(f"{INDENT * (depth + 1)}{json.dumps(key, ensure_ascii=False)}: {text}")
    return "{\n" + ",\n".join(members) + "\n" + INDENT * depth + "}" if members else "{}"


def json_document(data: dict[str, Any], rows: tuple[str, ...], default: Callable[[Any], Any] | None = None) -> str:
    """`data` as a JSON object, newline-terminated: each key on its own line, the lists named in `rows` (which
    may be any iterable, so rows can be encoded as they are made) one compact item a line. A dotted name reaches
    into a nested object: `roofline.layers`."""
    return _object(data, rows, default, 0) + "\n"
