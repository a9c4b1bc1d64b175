"""Read YAML into plain dicts and lists that remember their line numbers.

Every mapping and sequence comes back as `LocatedDict` / `LocatedList`, so an error about any key or item can
name its line. Duplicate keys are errors (PyYAML silently keeps the last one), and a document that expands to
an absurd number of nodes through aliases (a "billion laughs" bomb) is refused before anything walks it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from netcalc.errors import Location, SpecError

# A 10,000-layer network is ~100,000 nodes; an alias bomb is billions.
MAX_NODES = 2_000_000

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocatedDict(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int | None = None
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line) if hasattr(self, "key_lines") else self.line


class LocatedList(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    line: int | None = None
    item_lines: list[int]

    def line_of(self, index: int) -> int | None:
        lines = getattr(self, "item_lines", [])
        return lines[index] if index < len(lines) else self.line


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    result = LocatedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    yield result
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise SpecError("a mapping key must be a plain value", Location(line=key_node.start_mark.line + 1))
        if key in result:
            raise SpecError(
                f"duplicate key '{key}' (first at line {result.key_lines[key]})",
                Location(line=key_node.start_mark.line + 1),
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList()
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield result
    result.extend(loader.construct_object(child, deep=True) for child in node.value)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _count_nodes(data: Any, limit: int, file: str | None) -> None:
    """Walk the loaded tree as a consumer would (aliases expanded) and stop at `limit` nodes."""
    stack = [data]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > limit:
            raise SpecError(
                f"the document expands to more than {limit:,} YAML nodes (an alias bomb?); "
                "write the spec without deeply nested aliases",
                Location(file),
            )
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects that are all kept.

    Loading a 40,000-layer spec triggers repeated full collections that make the load quadratic-ish; with
    the collector paused it is linear and about 3× faster. Nothing built here is garbage.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_yaml_text(text: str, file: str | None = None) -> Any:
    """Parse YAML text; every failure is a located SpecError."""
    try:
        with paused_gc():
            data = yaml.load(text, Loader=_Loader)
    except SpecError as error:
        raise SpecError(error.message, Location(file, error.location.line if error.location else None)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = error.problem or error.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {problem}", Location(file, line)) from None
    except yaml.YAMLError as error:
        raise SpecError(f"YAML error: {error}", Location(file)) from None
    except RecursionError:
        raise SpecError("YAML nesting is too deep", Location(file)) from None
    _count_nodes(data, MAX_NODES, file)
    return data


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a SpecError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", Location(str(path))) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", Location(str(path))) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"cannot read: {error}", Location(str(path))) from None
    return load_yaml_text(text, str(path))
