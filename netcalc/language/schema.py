"""The JSON Schema of the spec language, generated from the kind registry so it never lags behind the kinds.

`netcalc schema > netcalc.schema.json`, then `# yaml-language-server: $schema=netcalc.schema.json` at the top of
a spec gives completion and validation in editors that use yaml-language-server (VS Code's YAML extension, …).

The schema checks what can be checked without expanding the spec: the top-level keys, the kinds, each kind's
attribute names, the value types. Any attribute may also be a string, since an expression or a block parameter
can stand for a number (`out: width * 4`); `netcalc summary` remains the judge of everything else.
"""

from __future__ import annotations

from typing import Any

from netcalc.kinds import REGISTRY
from netcalc.kinds.base import Attr, LayerKind
from netcalc.language.spec import BLOCK_KEYS, BLOCK_USE_KEYS, LAYER_KEYS, SPLIT, SPLIT_KEYS, TOP_KEYS

DRAFT = "http://json-schema.org/draft-07/schema#"
_PROBES: tuple[tuple[str, Any], ...] = (("integer", 1), ("number", 0.5), ("boolean", True))
_LIST_PROBES: tuple[Any, ...] = ([1, 1], [1, 1, 1, 1], [0.5, 0.5])
_WORD_PROBES = ("same", "valid", "none", "true", "false")
_NAME = {"type": ["string", "integer"]}
_NAMES = {"anyOf": [_NAME, {"type": "array", "items": _NAME, "minItems": 1}]}
_EXPRESSION = {"type": "string", "description": "an expression or a block parameter"}


def _accepts(attr: Attr, value: Any) -> bool:
    try:
        attr.parse(value)
    except Exception:  # a parser says no by raising; any exception is a no
        return False
    return True


def _words(attr: Attr) -> list[str]:
    """The words an attribute accepts (a `choice`'s options, `same`), found by asking its parser."""
    candidates = list(_WORD_PROBES)
    for cell in getattr(attr.parse, "__closure__", None) or ():
        content = cell.cell_contents
        if isinstance(content, tuple) and all(isinstance(c, str) for c in content):
            candidates += content
    return [w for w in dict.fromkeys(candidates) if _accepts(attr, w)]


def attr_schema(attr: Attr) -> dict[str, Any]:
    """What an attribute accepts, by probing its parser: number types, lists, words; always an expression too."""
    options: list[dict[str, Any]] = []
    types = [name for name, sample in _PROBES if _accepts(attr, sample)]
    if types:
        options.append({"type": types if len(types) > 1 else types[0]})
    lengths = sorted({len(sample) for sample in _LIST_PROBES if _accepts(attr, sample)})
    if lengths:
        fractions = _accepts(attr, [0.5, 0.5])
        item = {"type": ["number" if fractions else "integer", "string"]}
        options.append({"type": "array", "items": item, "minItems": lengths[0], "maxItems": lengths[-1]})
    words = _words(attr)
    if words:
        options.append({"enum": words})
    options.append(_EXPRESSION)
    schema: dict[str, Any] = {"anyOf": options}
    default = "required" if attr.required else attr.default
    doc = attr.doc + (" " if attr.doc else "") + f"(default: {default})"
    schema["description"] = doc
    if not attr.required and isinstance(attr.default, (int, float, str, bool)):
        schema["default"] = attr.default
    return schema


def _attrs(kind: LayerKind) -> dict[str, Any]:
    return {attr.name: attr_schema(attr) for attr in kind.attrs}


def _layer_keys(kind_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind_schema,
        "name": {"type": ["string", "integer"], "description": "the layer's name; may be a template: features.{index}"},
        "from": _NAMES,
        "repeat": {"type": ["integer", "string"], "description": "copies chained one after another"},
    }


def _per_kind(kind_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """One `if kind is K then only K's keys` rule per kind, and the channel_split sugar."""
    rules = []
    for kind in REGISTRY.values():
        properties = {**_layer_keys(kind_schema), **_attrs(kind)}
        rules.append(
            {
                "if": {"properties": {"kind": {"const": kind.name}}, "required": ["kind"]},
                "then": {"properties": properties, "additionalProperties": False},
            }
        )
    split = {
        **{k: v for k, v in _layer_keys(kind_schema).items() if k in SPLIT_KEYS},
        "sizes": {"anyOf": [{"type": "array", "items": {"type": ["integer", "string"]}, "minItems": 1}, _EXPRESSION]},
        "parts": {"type": ["integer", "string"]},
    }
    rules.append(
        {
            "if": {"properties": {"kind": {"const": SPLIT}}, "required": ["kind"]},
            "then": {"properties": split, "additionalProperties": False},
        }
    )
    return rules


def _compact_pattern() -> str:
    plain = sorted(name for name, kind in REGISTRY.items() if not any(a.required for a in kind.attrs))
    # [0-9], not \d: Python's `re` (which jsonschema uses) reads any Unicode digit as \d
    return r"^(conv[0-9]+-[0-9]+(/[0-9]+)?|(maxpool|avgpool)([0-9]+)?(/[0-9]+)?|fc-[0-9]+|" + "|".join(plain) + ")$"


def _items(strict_kinds: bool) -> dict[str, Any]:
    kinds = sorted([*REGISTRY, SPLIT])
    kind_schema: dict[str, Any] = {"enum": kinds} if strict_kinds else {"anyOf": [{"enum": kinds}, _EXPRESSION]}
    layer = {
        "type": "object",
        "required": ["kind"],
        "properties": _layer_keys(kind_schema),
        "allOf": _per_kind(kind_schema),
    }
    block_use = {
        "type": "object",
        "required": ["block"],
        "not": {"required": ["kind"]},
        "properties": {
            "block": {"type": "string", "description": "the block to use; its parameters go beside this key"},
            **{k: v for k, v in _layer_keys(kind_schema).items() if k in BLOCK_USE_KEYS},
        },
    }
    compact = {"type": "string", "pattern": _compact_pattern(), "description": "compact: conv3-64, maxpool, fc-10"}
    return {"type": "array", "items": {"anyOf": [compact, layer, block_use]}}


def spec_schema() -> dict[str, Any]:
    """The whole schema, as a JSON-ready dict."""
    assert set(LAYER_KEYS) <= {"kind", "name", "from", "repeat"}  # kept in step with _layer_keys
    block = {
        "type": "object",
        "required": ["layers"],
        "additionalProperties": False,
        "properties": {
            "params": {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "object", "description": "parameter -> default (`required`, a value or an expression)"},
                ]
            },
            "layers": {**_items(strict_kinds=False), "minItems": 1},
            "output": _NAME,
            "doc": {"type": "string"},
        },
    }
    assert set(block["properties"]) == set(BLOCK_KEYS)
    properties: dict[str, Any] = {
        "name": _NAME,
        "input": {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[0-9]+\s*[x×]\s*[0-9]+\s*[x×]\s*[0-9]+\s*$"},
                {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 3, "maxItems": 3},
            ],
            "description": "H×W×C, e.g. 224x224x3",
        },
        "include": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "defaults": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                name: {"type": "object", "properties": _attrs(kind), "additionalProperties": False}
                for name, kind in REGISTRY.items()
            },
        },
        "blocks": {"type": "object", "additionalProperties": block},
        "layers": {**_items(strict_kinds=True), "minItems": 1},
        "outputs": _NAMES,
        "budget": {"type": "object", "description": "see `netcalc check` and docs/budgets.md"},
    }
    assert set(properties) == set(TOP_KEYS)
    return {
        "$schema": DRAFT,
        "title": "netcalc spec",
        "description": "A netcalc network spec (docs/language.md); generated by `netcalc schema`.",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "anyOf": [{"required": ["input", "layers"]}, {"not": {"required": ["layers"]}, "required": ["blocks"]}],
    }
