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
from netcalc.files import regular_file

# A 10,000-layer network is ~100,000 nodes; an alias bomb is billions.
MAX_NODES = 2_000_000
# Largest spec, budget or include file read (a 100,000-layer spec written out flat is about 8 MB).
MAX_FILE_BYTES = 16 * 2**20
# Longest whole number a YAML file may write; every number netcalc takes is far shorter (docs/limits.md).
MAX_DIGITS = 30

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocatedDict(dict):
    """A mapping that knows its own line and the line of each key (1-based). Slots, not an instance dict:
    a 100,000-layer spec has 100,000 of them."""

    __slots__ = ("key_lines", "line")
    line: int | None
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = None
        self.key_lines = {}

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class LocatedList(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    __slots__ = ("item_lines", "line")
    line: int | None
    item_lines: list[int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line = None
        self.item_lines = []

    def line_of(self, index: int) -> int | None:
        lines = self.item_lines
        return lines[index] if index < len(lines) else self.line


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, with its resolver made cheap: a spec repeats the same few plain scalars (`conv`, `3`,
    `false`) hundreds of thousands of times, so each one's tag is resolved once per document. The safe loader
    registers no path resolvers, so their per-node bookkeeping is skipped."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._plain_tags: dict[str, str] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:  # a plain scalar: its tag depends on its text alone
            tag = self._plain_tags.get(value)
            if tag is None:
                tag = self._plain_tags[value] = super().resolve(kind, value, implicit)
            return tag
        if kind is yaml.MappingNode:  # no path resolvers: a mapping's or sequence's tag is the default one
            return self.DEFAULT_MAPPING_TAG
        if kind is yaml.SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        return super().resolve(kind, value, implicit)


def _merge_order(node: yaml.MappingNode) -> tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]]:
    """A mapping's (key, value) node pairs as YAML's merge key (`<<: *base`, `<<: [*a, *b]`) defines them: (the
    merged pairs, in an order where assigning them one after another lets the EARLIER mapping of a list win, as
    the spec says; the mapping's own pairs, which override every merged one). Done here rather than by PyYAML's
    flatten_mapping, whose order changed between releases (6.0.4 lets the later mapping win)."""
    own: list[tuple[Any, Any]] = []
    sources: list[Any] = []
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE:
            own.append((key_node, value_node))
        elif isinstance(value_node, yaml.MappingNode):
            sources.append(value_node)
        elif isinstance(value_node, yaml.SequenceNode) and all(
            isinstance(item, yaml.MappingNode) for item in value_node.value
        ):
            sources.extend(value_node.value)
        else:
            raise SpecError(
                "`<<` merges a mapping or a list of mappings (`<<: *base` or `<<: [*a, *b]`)",
                Location(line=key_node.start_mark.line + 1),
            )
    merged: list[tuple[Any, Any]] = []
    for source in reversed(sources):  # the last first, so that an earlier one, assigned after it, wins
        inherited, its_own = _merge_order(source)
        merged += inherited + its_own
    return merged, own


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    merged, own = _merge_order(node)
    result = LocatedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    yield result
    inherited: set[Any] = set()  # keys merged in: the mapping's own key overrides them, it is no duplicate
    for index, (key_node, value_node) in enumerate(merged + own):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise SpecError("a mapping key must be a plain value", Location(line=key_node.start_mark.line + 1))
        if index < len(merged):
            inherited.add(key)
        elif key in inherited:
            inherited.discard(key)
        elif key in result:
            raise SpecError(
                f"duplicate key '{key}' (first at line {result.key_lines[key]})",
                Location(line=key_node.start_mark.line + 1),
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1  # a merged key's is its anchor's line


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList()
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield result
    result.extend(loader.construct_object(child, deep=True) for child in node.value)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    """YAML's int, refused past MAX_DIGITS digits (Python would refuse past 4,300 with a ValueError)."""
    digits = sum(c.isalnum() for c in node.value)
    if digits > MAX_DIGITS:
        raise SpecError(
            f"a number of {digits:,} digits is too large; integers written in YAML have at most {MAX_DIGITS} digits",
            Location(line=node.start_mark.line + 1),
        )
    return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)

_STR, _INT, _MAP, _SEQ, _MERGE = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "map", "seq", "merge"))


def _build(loader: _Loader, root: yaml.Node, limit: int, file: str | None) -> Any:
    """The data of a composed node tree, built directly: strings, plain ints, mappings and sequences (nearly
    every node of a spec) without PyYAML's generic constructor machinery, which was a third of the time of a
    100,000-layer `summary`. Every other tag (floats, booleans, null, merge keys) goes through the loader's
    own constructors, so the result is what `yaml.load(text, _Loader)` gives. Aliases give the same object.

    It also counts the nodes a consumer would walk, aliases expanded (each container's expanded size is
    computed once), and refuses a document of more than `limit` (a "billion laughs" bomb) as soon as it is
    known, before anything walks it.
    """
    memo: dict[int, Any] = {}
    sizes: dict[int, int] = {}  # expanded node count of each container built so far
    total = 0  # nodes a consumer walks so far, aliases expanded
    aliased = False
    construct = loader.construct_object
    scalar, mapping, sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode

    def check_total() -> None:
        if total > limit:
            raise SpecError(_too_many(limit, aliased=aliased), Location(file))

    def build(node: yaml.Node) -> Any:
        nonlocal aliased, total
        total += 1
        cls, tag = node.__class__, node.tag
        if cls is scalar:
            if tag == _STR:
                return node.value
            if tag == _INT and node.value.isascii() and node.value.isdigit() and len(node.value) <= MAX_DIGITS:
                return int(node.value)
            return construct(node, deep=True)
        known = memo.get(id(node))
        if known is not None:
            aliased = True
            total += sizes.get(id(node), 1) - 1
            check_total()
            return known
        start = total - 1
        if cls is mapping and tag == _MAP:
            result = memo[id(node)] = LocatedDict()
            result.line = node.start_mark.line + 1
            key_lines = result.key_lines = {}
            for key_node, value_node in node.value:
                if key_node.tag == _STR and key_node.__class__ is scalar:
                    key = key_node.value
                    total += 1
                elif key_node.tag == _MERGE:  # `<<: *base`: rare; PyYAML's constructor merges
                    return counted(node, construct(node, deep=True), start)
                else:
                    key = build(key_node)
                    if not isinstance(key, (str, int, float, bool)) and key is not None:
                        raise SpecError(
                            "a mapping key must be a plain value", Location(line=key_node.start_mark.line + 1)
                        )
                if key in result:
                    line = key_node.start_mark.line + 1
                    raise SpecError(f"duplicate key '{key}' (first at line {key_lines[key]})", Location(line=line))
                text = value_node.value
                if value_node.__class__ is not scalar:
                    result[key] = build(value_node)
                elif value_node.tag == _STR:  # the common values inline, without a call to build
                    total += 1
                    result[key] = text
                elif value_node.tag == _INT and text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS:
                    total += 1
                    result[key] = int(text)
                else:
                    result[key] = build(value_node)
                key_lines[key] = key_node.start_mark.line + 1
            return counted(node, result, start)
        if cls is sequence and tag == _SEQ:
            items = memo[id(node)] = LocatedList()
            items.line = node.start_mark.line + 1
            items.item_lines = [child.start_mark.line + 1 for child in node.value]
            items.extend([build(child) for child in node.value])
            return counted(node, items, start)
        return counted(node, construct(node, deep=True), start)  # sets, ordered maps: rare

    def counted(node: yaml.Node, value: Any, start: int) -> Any:
        nonlocal total
        if not isinstance(value, (LocatedDict, LocatedList)):  # built by PyYAML: walk it to count
            total = start + _count_nodes(value, limit, file)
        memo[id(node)] = value
        sizes[id(node)] = total - start
        check_total()
        return value

    return build(root)


def _load(text: str, file: str | None) -> Any:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        return None if root is None else _build(loader, root, MAX_NODES, file)
    finally:
        loader.dispose()


def _count_nodes(data: Any, limit: int, file: str | None) -> int:
    """The nodes of a constructed value walked as a consumer would (aliases expanded), stopping past `limit`."""
    stack, seen = [data], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > limit:
            raise SpecError(_too_many(limit, aliased=True), Location(file))
        if isinstance(item, (dict, list)):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return seen


def _too_many(limit: int, *, aliased: bool) -> str:
    if aliased:
        return f"the document expands to more than {limit:,} YAML nodes through its aliases (an alias bomb?)"
    return f"the document has more than {limit:,} YAML nodes; split it or use blocks and repeats"


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
            data = _load(text, file)
    except SpecError as error:
        raise SpecError(error.message, Location(file, error.location.line if error.location else None)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = error.problem or error.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {problem}", Location(file, line)) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise SpecError(_unreadable_character(error.character), Location(file, line)) from None
    except yaml.YAMLError as error:
        raise SpecError(f"YAML error: {error}", Location(file)) from None
    except RecursionError:
        raise SpecError("YAML nesting is too deep", Location(file)) from None
    return data


def _unreadable_character(character: str | int) -> str:
    """What to say about a character YAML refuses (NUL, BEL, …), with the likely cause."""
    code = character if isinstance(character, int) else ord(character)
    hint = " (a UTF-16 file? specs are UTF-8 text)" if code == 0 else ""
    return f"control character U+{code:04X} is not allowed in a spec{hint}"


def read_text_file(path: str | Path) -> str:
    """The UTF-8 text of a regular file of at most MAX_FILE_BYTES; anything else is a SpecError naming it.

    Devices (/dev/zero), FIFOs and sockets are refused before they are opened (`netcalc/files.py`).
    """
    where = Location(str(path))
    regular_file(path, MAX_FILE_BYTES, "a YAML file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise SpecError(f"cannot read: {error.strerror or error}", where) from None
    if len(data) > MAX_FILE_BYTES:  # grew since stat
        raise SpecError(f"is over {MAX_FILE_BYTES // 2**20} MiB; larger files are refused", where)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError("is UTF-16 text; specs are UTF-8", where)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SpecError(
            f"byte 0x{data[error.start]:02x} is not UTF-8; specs are UTF-8 text", Location(str(path), line)
        ) from None


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file; a missing, unreadable or unsuitable file is a SpecError naming it."""
    return load_yaml_text(read_text_file(path), str(path))
