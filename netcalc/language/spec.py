"""Read a spec (YAML) into an expanded `Network`: blocks instantiated, repeats unrolled, defaults filled,
names scoped and references resolved, layers put in dependency order.

Every problem is a SpecError that names the file, the line and the layer or YAML path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

from netcalc.errors import AttrError, Location, SpecError, did_you_mean, excerpt
from netcalc.kinds import REGISTRY, get_kind
from netcalc.kinds.base import Attr, LayerKind
from netcalc.language.compact import expand_compact
from netcalc.language.expr import ExprError, evaluate, looks_like_expression, names_in, quote, substitute
from netcalc.language.hints import key_hint, kind_hint, value_hint
from netcalc.language.shape_names import (
    ROUNDING_HINT,
    Deferred,
    needs_shape,
    parse_attr,
    plain_numbers,
    resolve_deferred,
)
from netcalc.language.yamlload import load_yaml_file, load_yaml_text, paused_gc
from netcalc.network import INPUT, Group, Layer, Network, is_checked, mark_checked
from netcalc.shapes import Shape, parse_shape

TOP_KEYS = ("name", "input", "include", "defaults", "blocks", "layers", "outputs", "budget")
INCLUDED_KEYS = ("include", "blocks")
BLOCK_KEYS = ("params", "layers", "output", "doc")
LAYER_KEYS = ("kind", "name", "from", "repeat")
BLOCK_USE_KEYS = ("block", "name", "from", "repeat")
# Every command (summary in each format, show, check, compare, diff) stays under 10 s and 1 GiB up to here on a
# 2-core machine, with margin; diff, which loads and analyses two specs, is the slowest: about 8.5 s at 50,000
# layers, so 40,000 (docs/limits.md, bench_scale.py).
MAX_LAYERS = 40_000
MAX_REPEAT = MAX_LAYERS  # each copy is at least one layer
MAX_BLOCK_DEPTH = 50  # blocks using blocks; real networks use 2 or 3 levels
SPLIT, SLICE = "channel_split", "channel_slice"  # the sugar and the kind it expands to
SPLIT_KEYS = ("kind", "name", "from", "sizes", "parts")
MAX_INCLUDE_DEPTH = 16  # files including files (docs/limits.md)
INCLUDE_SUFFIXES = (".yaml", ".yml")
REQUIRED_PARAM = "required"


def load_network(path: str | Path, *, input_shape: Shape | str | None = None, batch: int | None = None) -> Network:
    """The network a spec file (or an ONNX model, as every command reads one) describes; `input_shape`
    (H, W, C, or text such as `224x224x3`) overrides the spec's `input`; `batch` binds an ONNX model's symbolic
    batch dimension (the figures are per sample all the same: the analysis multiplies by its own batch)."""
    if not isinstance(path, (str, os.PathLike)):
        raise SpecError(f"expected a file path (str or pathlib.Path), got {_describe(path)}")
    input_shape = _given_shape(input_shape)
    from netcalc.bridges import is_onnx_path  # light; the ONNX bridge itself is imported only for an ONNX file

    if is_onnx_path(path):
        from netcalc.bridges.onnx.importer import load_onnx_network

        return load_onnx_network(path, input_shape=input_shape, batch=batch)
    return parse_network(load_yaml_file(path), str(path), input_shape=input_shape)


def parse_network_text(text: str, file: str | None = None, *, input_shape: Shape | str | None = None) -> Network:
    """The network a spec's YAML text describes; `file` is the name its messages give."""
    if not isinstance(text, str):
        raise SpecError(f"expected a spec's YAML text (str), got {_describe(text)}")
    return parse_network(load_yaml_text(text, file), file, input_shape=input_shape)


def parse_network(data: Any, file: str | None = None, *, input_shape: Shape | str | None = None) -> Network:
    """Expand already-loaded YAML data (ideally with line numbers) into a Network."""
    input_shape = _given_shape(input_shape)
    top = _mapping(data, Location(file, 1, "the spec"), "a mapping with `input` and `layers`")
    _check_keys(top, TOP_KEYS, "top level", file)
    name = top.get("name", Path(file).stem if file else "network")
    if not isinstance(name, (str, int)) or not str(name).isprintable():
        raise SpecError(
            f"`name` must be a string without control characters, got {excerpt(name)}", _at(top, "name", file, "name")
        )
    if input_shape is None:
        if "input" not in top:
            raise SpecError("missing required key `input` (H×W×C, e.g. 224x224x3)", Location(file, _top_line(top)))
        try:
            input_shape = parse_shape(top["input"])
        except ValueError as error:
            raise SpecError(str(error), _at(top, "input", file, "input")) from None  # the location names `input`
    if "layers" not in top:
        raise SpecError("missing required key `layers`", Location(file, _top_line(top)))
    blocks = _read_all_blocks(top, file)
    expander = _Expander(_read_defaults(top.get("defaults"), file), blocks)
    layers_data = _sequence(top["layers"], _at(top, "layers", file, "layers"), "a list of layers")
    if not layers_data:
        raise SpecError("`layers` is empty", _at(top, "layers", file, "layers"))
    with paused_gc():
        top_scope = _Scope(prefix="", input=INPUT, params={}, stack=(), file=file)
        expander.expand(layers_data, "layers", top_scope, groups=())
        if not expander.layers:
            raise SpecError(
                "it expands to no layer at all (every item is repeated 0 times); a network needs at least one",
                _at(top, "layers", file, "layers"),
            )
        layers = resolve_deferred(_dependency_order(expander.layers), input_shape)
    outputs = _outputs(top, expander, top_scope, layers, file)
    network = Network(
        name=str(name),
        input_shape=input_shape,
        layers=layers,
        source=file,
        group_outputs=expander.group_outputs,
        budget=top.get("budget"),
        outputs=outputs,
    )
    return mark_checked(network)  # so the analysis does not check a 40,000-layer network twice


def _given_shape(input_shape: Any) -> Shape | None:
    """An `input_shape` argument read as `--input` is (`224x224x3` or three whole numbers), or None."""
    if input_shape is None:
        return None
    try:
        return parse_shape(input_shape)
    except ValueError as error:
        raise SpecError(str(error), Location(where="input_shape")) from None


def _outputs(
    top: Mapping[str, Any], expander: _Expander, scope: _Scope, layers: tuple[Layer, ...], file: str | None
) -> tuple[str, ...]:
    """`outputs: [name, …]` as full layer names (a block instance stands for its output); default: the last layer."""
    if "outputs" not in top:
        return (layers[-1].name,)
    where = _at(top, "outputs", file, "outputs")
    refs = top["outputs"]
    refs = [refs] if _is_word(refs) else refs
    if isinstance(refs, list) and not refs:
        raise SpecError("`outputs` is an empty list; name at least one layer, or leave it out for the last", where)
    if not isinstance(refs, list) or not all(_is_word(r) for r in refs):
        raise SpecError(f"`outputs` must be a layer name or a list of them, got {_describe(top['outputs'])}", where)
    outputs: list[str] = []
    listed: set[str] = set()  # beside the list: a membership test per output, not a scan of those before it
    for ref in map(str, refs):
        if ref == INPUT:
            raise SpecError("the network's input cannot be one of its outputs", where)
        line = _line(top["outputs"], len(outputs)) if isinstance(top["outputs"], list) else None
        name = expander._resolve(ref, scope, Location(where.file, line or where.line, "outputs"))
        if name in listed:
            raise SpecError(f"'{ref}' is listed twice in `outputs`", where)
        outputs.append(name)
        listed.add(name)
    return tuple(outputs)


def _top_line(top: Any) -> int | None:
    return getattr(top, "line", None)


# --- small readers that turn a wrong type into a located error ---


def _at(container: Any, key: Any, file: str | None, where: str) -> Location:
    line_of = getattr(container, "line_of", None)
    return Location(file, line_of(key) if line_of else None, where)


def _mapping(value: Any, location: Location, expected: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"expected {expected}, got {_describe(value)}", location)
    return value


def _sequence(value: Any, location: Location, expected: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(f"expected {expected}, got {_describe(value)}", location)
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {excerpt(value)}"


def _check_keys(mapping: Mapping[str, Any], known: tuple[str, ...], where: str, file: str | None) -> None:
    for key in mapping:
        if key not in known:
            raise SpecError(
                f"unknown key {excerpt(key)} in {where}{did_you_mean(str(key), known)}; known keys: {', '.join(known)}",
                _at(mapping, key, file, where),
            )


def _read_defaults(data: Any, file: str | None) -> dict[str, dict[str, Any]]:
    """`defaults: {conv: {padding: same}}`, checked against each kind's attributes now, not at first use."""
    if data is None:
        return {}
    defaults = _mapping(data, Location(file, _top_line(data), "defaults"), "a mapping from kind to attributes")
    checked: dict[str, dict[str, Any]] = {}
    for kind_name, attrs in defaults.items():
        where = f"defaults.{kind_name}"
        try:
            kind = get_kind(kind_name)
        except SpecError as error:
            raise error.at(_at(defaults, kind_name, file, where)) from None
        attrs = _mapping(attrs, _at(defaults, kind_name, file, where), "a mapping of attributes")
        checked[kind_name] = {}
        for attr_name, value in attrs.items():
            if attr_name in LAYER_KEYS:  # a layer's own, not an attribute a default can give every layer
                raise SpecError(
                    f"`{attr_name}` cannot have a default: each layer gives its own (defaults set attributes such"
                    f" as {', '.join(a.name for a in kind.attrs[:3])})",
                    _at(attrs, attr_name, file, f"{where}.{attr_name}"),
                )
            attr = _find_attr(kind, attr_name, _at(attrs, attr_name, file, f"{where}.{attr_name}"), ())
            try:
                checked[kind_name][attr_name] = _attr_value(attr, value, {})
            except (AttrError, ExprError) as error:
                message = f"{attr_name}: {error.message}{value_hint(attr_name, value)}"
                raise SpecError(message, _at(attrs, attr_name, file, f"{where}.{attr_name}")) from None
    return checked


@dataclass(frozen=True)
class _Block:
    name: str
    params: dict[str, Any]  # name -> default, or REQUIRED_PARAM
    layers: list[Any]
    output: str | None
    location: Location


def _read_blocks(data: Any, file: str | None) -> dict[str, _Block]:
    if data is None:
        return {}
    blocks = _mapping(data, Location(file, _top_line(data), "blocks"), "a mapping from block name to definition")
    result = {}
    for name, body in blocks.items():
        where = f"blocks.{name}"
        location = _at(blocks, name, file, where)
        if name in REGISTRY:
            raise SpecError(f"block name {name!r} is already a layer kind; choose another", location)
        body = _mapping(body, location, "a block definition with `layers`")
        _check_keys(body, BLOCK_KEYS, where, file)
        params = body.get("params") or {}
        if isinstance(params, list):  # `params: [width, stride]` lists required parameters
            params = dict.fromkeys(params, REQUIRED_PARAM)
        params = _mapping(params, _at(body, "params", file, f"{where}.params"), "a mapping of parameter defaults")
        for param in params:
            if not isinstance(param, str) or not param.isidentifier() or param in BLOCK_USE_KEYS:
                raise SpecError(
                    f"parameter name {param!r} must be an identifier other than {', '.join(BLOCK_USE_KEYS)}",
                    _at(params, param, file, f"{where}.params"),
                )
        if "layers" not in body:
            raise SpecError("missing required key `layers`", location)
        layers = _sequence(body["layers"], _at(body, "layers", file, f"{where}.layers"), "a list of layers")
        if not layers:
            raise SpecError("a block needs at least one layer", _at(body, "layers", file, f"{where}.layers"))
        output = body.get("output")
        if output is not None and not isinstance(output, (str, int)):
            raise SpecError(f"`output` must be a layer name, got {output!r}", _at(body, "output", file, where))
        result[name] = _Block(name, dict(params), layers, None if output is None else str(output), location)
    return result


def _read_all_blocks(
    top: Mapping[str, Any],
    file: str | None,
    including: frozenset[Path] = frozenset(),
    loaded: dict[Path, dict[str, _Block]] | None = None,
) -> dict[str, _Block]:
    """The blocks of `top` and of every file it includes (paths relative to `file`), each name defined once.

    The include policy (docs/limits.md): a relative path to a `.yaml`/`.yml` file, resolved against the
    including file's directory (`..` allowed; absolute paths refused); a file included twice, directly or
    through a diamond, is read once and its blocks count once; a file that includes itself, directly or not,
    and includes nested more than MAX_INCLUDE_DEPTH deep are errors. No file's contents are quoted in errors.
    """
    loaded = {} if loaded is None else loaded
    if file is not None and not including:
        including = frozenset({Path(file).resolve()})
    blocks: dict[str, _Block] = {}

    def add(more: dict[str, _Block]) -> None:
        for name, block in more.items():
            if blocks.get(name) is block:  # the same file reached twice (a diamond): one definition
                continue
            if name in blocks:
                first = blocks[name].location
                raise SpecError(f"block '{name}' is defined twice (first at {first.file}:{first.line})", block.location)
            blocks[name] = block

    paths = top.get("include", [])
    paths = [paths] if isinstance(paths, str) else paths
    where = _at(top, "include", file, "include")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise SpecError(f"`include` must be a file name or a list of them, got {excerpt(paths)}", where)
    for relative in paths:
        shown = excerpt(relative)
        if Path(relative).is_absolute():
            raise SpecError(f"include {shown}: write a path relative to the including file, not an absolute one", where)
        if Path(relative).suffix not in INCLUDE_SUFFIXES:
            raise SpecError(f"include {shown}: an included file is a .yaml or .yml file of blocks", where)
        path = (Path(file).parent if file else Path.cwd()) / relative
        resolved = path.resolve()
        if resolved in including:
            raise SpecError(f"{shown} includes itself, directly or not", where)
        if len(including) > MAX_INCLUDE_DEPTH:
            raise SpecError(f"include {shown}: includes nest more than {MAX_INCLUDE_DEPTH} files deep", where)
        if resolved not in loaded:
            try:
                data = load_yaml_file(path)
            except SpecError as error:
                if error.location is not None and error.location.line is not None:
                    raise  # the included file exists and has an error of its own, located in it
                raise SpecError(f"cannot include {shown}: {error.message}", where) from None
            if not isinstance(data, dict):
                raise SpecError("an included file must be a mapping with `blocks`", Location(str(path), 1))
            _check_keys(data, INCLUDED_KEYS, "an included file", str(path))
            loaded[resolved] = _read_all_blocks(data, str(path), including | {resolved}, loaded)
        add(loaded[resolved])
    add(_read_blocks(top.get("blocks"), file))
    return blocks


# --- values: block parameters and expressions ---


def _find_attr(kind: LayerKind, name: Any, location: Location, layer_keys: tuple[str, ...] = LAYER_KEYS) -> Attr:
    """The attribute `name` of `kind`; else a located error listing the known ones and, in a layer, the layer's own
    keys (`layer_keys`: none in `defaults`)."""
    for attr in kind.attrs:
        if attr.name == name:
            return attr
    known = kind.attr_names + layer_keys
    listing = ", ".join(known)
    hint = key_hint(str(name), kind.attr_names) or did_you_mean(str(name), known)
    raise SpecError(f"unknown key {name!r} for {kind.name}{hint}; known: {listing}", location)


def _attr_value(attr: Attr, value: Any, params: Mapping[str, Any]) -> Any:
    """An attribute's parsed value: expressions evaluated with `params`, then the attribute's own parser."""
    return parse_attr(attr, substitute(plain_numbers(value), params))


# --- expansion ---


@dataclass(frozen=True)
class _Scope:
    prefix: str  # "" at top level, "layer1.0." inside a block instance
    input: str  # full name of what `input` means here
    params: Mapping[str, Any]
    stack: tuple[str, ...]  # blocks being expanded, to catch recursion
    file: str | None = None  # the file these items are written in (a block may come from an included file)
    refs: Mapping[str, str | _Unresolved] = field(default_factory=dict)  # parameter -> layer in the caller's scope


@dataclass(frozen=True)
class _Unresolved:
    """A block parameter given a word that names no layer before the block use; an error if used in `from:`."""

    value: str
    prefix: str  # the caller's scope, for a did-you-mean hint worked out only if the error happens
    location: Location  # where the block is used with it


@dataclass
class _Draft:
    name: str
    kind: str
    attrs: dict[str, Any]
    inputs: list[str]
    location: Location
    groups: tuple[Group, ...]


@dataclass
class _List:
    """One list of items being expanded: where it stands, and what its items share."""

    scope: _Scope
    groups: tuple[Group, ...]  # the blocks and repeats around it
    counters: dict[str, int] = field(default_factory=dict)  # kind or block -> unnamed items so far (conv1, conv2)
    pending: list[tuple[_Draft, list[str], Location]] = field(default_factory=list)  # `from:` to resolve at the end


@dataclass(frozen=True)
class _Names:
    """What an item is called: its instances' full names, and the group a repeat makes (None without repeat)."""

    instances: list[str]
    group: str | None
    whole: str | None  # the name that stands for the whole item in `from:` (None for a name template)


@dataclass
class _Expander:
    defaults: dict[str, dict[str, Any]]
    blocks: dict[str, _Block]
    layers: list[_Draft] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # full name -> the layer that is its output
    defined_at: dict[str, Location] = field(default_factory=dict)
    group_outputs: dict[str, str] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=dict)  # channel_split name -> its parts
    parsed: dict[Any, dict[str, Any]] = field(default_factory=dict)  # see _remembered_attrs

    def expand(self, items: list[Any], path: str, scope: _Scope, groups: tuple[Group, ...]) -> str:
        """Expand a list of items in `scope`; returns the full name of the last item's output."""
        previous = scope.input
        listing = _List(scope, groups)
        for index, raw in enumerate(items):
            location = Location(scope.file, _line(items, index), f"{path}[{index}]")
            item = self._item(raw, location)
            previous = self._expand_item(item, location, listing, previous)
        # References are resolved once the whole scope is known, so a layer may name one listed after it.
        for draft, refs, location in listing.pending:
            draft.inputs = [self._resolve(ref, scope, location) for ref in refs]
        return previous

    def _item(self, raw: Any, location: Location) -> Mapping[str, Any]:
        if isinstance(raw, str):
            try:
                return expand_compact(raw)
            except SpecError as error:
                raise error.at(location) from None
        item = _mapping(raw, location, "a layer mapping or a compact layer such as conv3-64")
        if "kind" not in item and "block" not in item:
            hint = ""
            if len(item) == 1 and next(iter(item)) in REGISTRY:
                hint = f"; write it as {{kind: {next(iter(item))}, …}}"
            raise SpecError(f"a layer needs `kind:` (or `block:` to use a block){hint}", location)
        if "kind" in item and "block" in item:
            raise SpecError("a layer has either `kind:` or `block:`, not both", location)
        return item

    def _label(self, item: Mapping[str, Any], scope: _Scope, location: Location) -> str:
        """The kind or block name; `kind: act` takes the value of a block parameter `act`."""
        label = item.get("kind") if "kind" in item else item.get("block")
        if "kind" in item and isinstance(label, str) and isinstance(scope.params.get(label), str):
            label = scope.params[label]
        if not isinstance(label, str):
            raise SpecError(f"`kind`/`block` must be a name, got {_describe(label)}", location)
        return label

    def _expand_item(self, item: Mapping[str, Any], location: Location, listing: _List, previous: str) -> str:
        scope, groups = listing.scope, listing.groups
        label = self._label(item, scope, location)
        if "kind" in item and label == SPLIT:
            return self._split(item, location, listing, previous)
        if "kind" in item:
            kind = _get_kind_at(label, location)
            _check_layer_keys(item, kind, location)
        else:
            block = self.blocks.get(label)
            if block is None:
                known = list(self.blocks)
                listing = ", ".join(known) or "none defined"
                raise SpecError(f"unknown block {label!r}{did_you_mean(label, known)}; blocks: {listing}", location)
        repeat = self._repeat(item, scope, location)
        refs = self._refs(item, location)
        if refs is not None and len(refs) > 1 and repeat is not None:
            raise SpecError("`repeat` cannot be combined with several inputs in `from`", location)
        names = self._names(item, label, listing, repeat, location)
        if names.group is not None:
            groups = groups + (Group(names.group, f"{label} ×{repeat}", location),)
        output = previous
        for i, instance in enumerate(names.instances):
            params = _copy_params(scope.params, i, repeat)
            first = i == 0
            if "kind" in item:
                draft = self._layer(item, kind, instance, params, location, groups)
                if first and refs is not None:
                    listing.pending.append((draft, refs, location))
                else:
                    draft.inputs = [self._implicit(output, location)]
                output = instance
            else:
                if first and refs is not None:
                    if len(refs) != 1:
                        raise SpecError(f"a block takes one input, `from` names {len(refs)}", location)
                    block_input = self._resolve(refs[0], scope, location)
                else:  # only an item without `from:` reads the previous one (which must not be a whole split)
                    block_input = self._implicit(output, location)
                output = self._block(item, block, instance, block_input, scope, params, location, groups)
            self.names[instance] = output
        if names.whole is not None:
            self.names[names.whole] = output
        if names.group is not None:
            self.group_outputs[names.group] = output
        return output

    def _names(
        self,
        item: Mapping[str, Any],
        label: str,
        listing: _List,
        repeat: int | None,
        location: Location,
    ) -> _Names:
        """`name`, `<kind><n>` when unnamed, `name.0`, `name.1`, … under `repeat`, or a template's names."""
        scope, counters = listing.scope, listing.counters
        counters[label] = counters.get(label, 0) + 1
        name = item.get("name", f"{label}{counters[label]}")
        if isinstance(name, bool) or not isinstance(name, (str, int)) or not str(name).strip():
            raise SpecError(f"`name` must be a word without spaces, got {_describe(name)}", location)
        name = str(name)
        if "{" in name or "}" in name:
            copies = [None] if repeat is None else list(range(repeat))
            values = [_template_values(name, _copy_params(scope.params, i, repeat), location) for i in copies]
            instances = [scope.prefix + _fill(name, v) for v in values]
            for instance in instances:
                self._claim(_checked_name(instance, location), location)
            if repeat is None:
                return _Names(instances, None, None)
            shown = [v[0] if v[0] == v[-1] else f"{{{v[0]}..{v[-1]}}}" for v in zip(*values)] if values else None
            group = scope.prefix + (_fill(name, shown) if shown else name)
            return _Names(instances, group, None)
        full = scope.prefix + _checked_name(name, location)
        self._claim(full, location)
        if repeat is None:
            return _Names([full], None, full)
        instances = [f"{full}.{i}" for i in range(repeat)]
        for instance in instances:
            self._claim(instance, location)
        return _Names(instances, full, full)

    def _claim(self, full: str, location: Location) -> None:
        if full in self.defined_at:
            first = self.defined_at[full]
            raise SpecError(f"duplicate layer name '{full}' (first defined at line {first.line})", location)
        self.defined_at[full] = location

    def _repeat(self, item: Mapping[str, Any], scope: _Scope, location: Location) -> int | None:
        if "repeat" not in item:
            return None
        raw = item["repeat"]
        if needs_shape(raw, scope.params):
            raise SpecError(
                f"repeat: {quote(str(raw))} depends on the input shape; a repeat count must be known before any "
                "shape is (give it as a number or an expression of block parameters)",
                location,
            )
        try:
            value = plain_numbers(substitute(raw, scope.params))
        except ExprError as error:
            raise SpecError(f"repeat: {error}", location) from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            hint = ROUNDING_HINT if isinstance(value, float) else ""
            raise SpecError(f"repeat must be a whole number ≥ 0, got {_describe(value)}{hint}", location)
        if value > MAX_REPEAT:
            raise SpecError(f"repeat {value:,} is absurd; at most {MAX_REPEAT:,} copies are allowed", location)
        return value

    def _refs(self, item: Mapping[str, Any], location: Location) -> list[str] | None:
        if "from" not in item:
            return None
        refs = item["from"]
        if isinstance(refs, (str, int)) and not isinstance(refs, bool):
            return [str(refs)]
        if isinstance(refs, list) and refs and all(isinstance(r, (str, int)) and not isinstance(r, bool) for r in refs):
            return [str(r) for r in refs]
        raise SpecError(f"`from` must be a layer name or a list of names, got {_describe(refs)}", location)

    def _resolve(self, ref: str, scope: _Scope, location: Location) -> str:
        if ref == INPUT:
            return scope.input
        target = self.names.get(scope.prefix + ref)
        if target is not None:
            return target
        passed = scope.refs.get(ref)
        if isinstance(passed, str):
            return passed
        if isinstance(passed, _Unresolved):
            local = [n[len(passed.prefix) :] for n in self.names if n.startswith(passed.prefix)]
            raise SpecError(
                f"`from` names the parameter '{ref}', whose value {quote(passed.value)} is no layer listed before "
                f"the block is used{did_you_mean(passed.value, local + [INPUT])}",
                passed.location,
            )
        if scope.prefix + ref in self.splits:
            parts = ", ".join(p[len(scope.prefix) :] for p in self.splits[scope.prefix + ref])
            raise SpecError(f"'{ref}' is a channel_split: name one of its parts ({parts})", location)
        local = [n[len(scope.prefix) :] for n in self.names if n.startswith(scope.prefix)]
        raise SpecError(f"`from` names an undefined layer '{ref}'{did_you_mean(ref, local + [INPUT])}", location)

    def _implicit(self, previous: str, location: Location) -> str:
        """The layer an item without `from:` reads: the previous item's output (never a whole channel_split)."""
        if previous in self.splits:
            parts = ", ".join(self.splits[previous])
            raise SpecError(
                f"the item before this one is the channel_split '{previous}': say which part it reads with "
                f"`from:` ({parts})",
                location,
            )
        return previous

    def _layer(
        self,
        item: Mapping[str, Any],
        kind: LayerKind,
        full: str,
        params: Mapping[str, Any],
        location: Location,
        groups: tuple[Group, ...],
    ) -> _Draft:
        named = Location(location.file, location.line, f"layer '{full}' ({location.where})")
        attrs = self._remembered_attrs(item, kind, params, named)
        draft = _Draft(full, kind.name, attrs, [], named, groups)
        self.layers.append(draft)
        if len(self.layers) > MAX_LAYERS:  # counted as they are made, so a huge expansion stops here
            raise SpecError(f"the network expands to more than {MAX_LAYERS:,} layers; check the repeats", location)
        return draft

    def _remembered_attrs(
        self, item: Mapping[str, Any], kind: LayerKind, params: Mapping[str, Any], named: Location
    ) -> dict[str, Any]:
        """`_attrs`, worked out once per distinct (kind, written attributes, parameters): parsing is pure, and a
        long spec writes the same few layers over and over. Each layer gets its own copy."""
        try:  # the types too: `bias: 1` must not pass as a remembered `bias: true` (1 == True in Python)
            written = tuple((key, type(value), value) for key, value in item.items() if key not in LAYER_KEYS)
            key = (kind.name, written, tuple((name, type(value), value) for name, value in params.items()))
            known = self.parsed.get(key)
        except TypeError:  # a list or another unhashable value: parsed each time
            return self._attrs(item, kind, params, named)[0]
        if known is None:
            attrs, deferred = self._attrs(item, kind, params, named)
            if deferred:  # holds expressions waiting for shapes: not shared
                return attrs
            known = self.parsed[key] = attrs
        return dict(known)

    def _attrs(
        self, item: Mapping[str, Any], kind: LayerKind, params: Mapping[str, Any], named: Location
    ) -> tuple[dict[str, Any], bool]:
        return _layer_attrs(item, kind, params, self.defaults.get(kind.name, {}), named)

    def _split(self, item: Mapping[str, Any], location: Location, listing: _List, previous: str) -> str:
        """`{kind: channel_split, name: s, sizes: [58, 58]}` (or `parts: 2`): channel_slice layers s.0, s.1, …"""
        scope = listing.scope
        _check_keys(item, SPLIT_KEYS, SPLIT, scope.file)
        if ("sizes" in item) == ("parts" in item):
            raise SpecError("channel_split needs one of `sizes: [c0, c1, …]` or `parts: n`", location)
        slice_kind = _get_kind_at(SLICE, location)
        refs = self._refs(item, location)
        if refs is not None and len(refs) != 1:
            raise SpecError(f"channel_split takes one input, but `from` names {len(refs)}", location)
        names = self._names(item, SPLIT, listing, None, location)
        full = names.instances[0]
        try:
            if "sizes" in item:
                if needs_shape(item["sizes"], scope.params):
                    raise ExprError("sizes: the sizes cannot depend on the input shape; `parts: n` splits evenly")
                sizes = plain_numbers(substitute(plain_numbers(item["sizes"]), scope.params))
                if not isinstance(sizes, list) or not sizes or not all(_is_whole(s, 1) for s in sizes):
                    raise ExprError(f"sizes: expected a list of whole numbers ≥ 1, got {_describe(sizes)}")
                ends = list(accumulate(sizes))
                bounds: list[tuple[Any, Any]] = list(zip([0] + ends[:-1], ends))
            else:
                parts = plain_numbers(substitute(plain_numbers(item["parts"]), scope.params))
                if not _is_whole(parts, 1):
                    raise ExprError(f"parts: expected a whole number ≥ 1, got {_describe(parts)}")
                if parts > MAX_REPEAT:  # each part is a layer: bounded before any is made (docs/limits.md)
                    raise ExprError(f"parts: {parts:,} is absurd; at most {MAX_REPEAT:,} parts are allowed")
                size = f"((in_channels + {parts - 1}) // {parts})"  # torch.chunk: equal parts, the last may be smaller
                ends = [f"min(in_channels, {i} * {size})" for i in range(parts + 1)]
                bounds = list(pairwise(ends))
        except ExprError as error:
            raise SpecError(error.message, location) from None
        self.splits[full] = [f"{full}.{i}" for i in range(len(bounds))]
        source = self._implicit(previous, location) if refs is None else None
        for part, (start, end) in zip(self.splits[full], bounds):
            self._claim(part, location)
            layer = {"kind": SLICE, "start": start, "end": end}
            draft = self._layer(layer, slice_kind, part, scope.params, location, listing.groups)
            if source is None:
                listing.pending.append((draft, refs or [], location))
            else:
                draft.inputs = [source]
            self.names[part] = part
        return full

    def _block(
        self,
        item: Mapping[str, Any],
        block: _Block,
        full: str,
        block_input: str,
        scope: _Scope,
        outer: Mapping[str, Any],
        location: Location,
        groups: tuple[Group, ...],
    ) -> str:
        if block.name in scope.stack:
            chain = " → ".join(scope.stack + (block.name,))
            raise SpecError(f"block '{block.name}' uses itself: {chain}", location)
        if len(scope.stack) >= MAX_BLOCK_DEPTH:
            chain = " → ".join(scope.stack[:3] + ("…", block.name))
            raise SpecError(f"blocks nest more than {MAX_BLOCK_DEPTH} levels deep ({chain})", location)
        params: dict[str, Any] = {}
        refs: dict[str, str | _Unresolved] = {}
        for key, value in item.items():
            if key in BLOCK_USE_KEYS:
                continue
            if key not in block.params:
                known = list(block.params) + list(BLOCK_USE_KEYS)
                raise SpecError(
                    f"unknown parameter {key!r} for block '{block.name}'{did_you_mean(str(key), known)}; "
                    f"parameters: {', '.join(block.params) or 'none'}",
                    location,
                )
            try:
                value = plain_numbers(value)
                if needs_shape(value, outer):  # shape names here describe the block's input
                    params[key] = Deferred(value, outer, anchor=block_input)
                    continue
                params[key] = plain_numbers(substitute(value, outer))
            except ExprError as error:
                raise SpecError(f"{key}: {error}", location) from None
            # a word, or a whole number (layers may be named `0`, `1`, …), may name a layer for the block's `from:`
            if (isinstance(value, str) and not looks_like_expression(value)) or (
                isinstance(value, int) and not isinstance(value, bool)
            ):
                refs[key] = self._reference(str(value), scope, outer, location)
        self._defaults(block, params, block_input, location)
        inner = _Scope(full + ".", block_input, params, scope.stack + (block.name,), block.location.file, refs)
        group = Group(full, block.name, location)
        last = self.expand(block.layers, f"blocks.{block.name}.layers", inner, groups + (group,))
        if block.output is None:
            output = self._implicit(last, block.location)
        else:
            output = self._resolve(block.output, inner, block.location)
        self.group_outputs[full] = output
        return output

    def _reference(self, word: str, scope: _Scope, outer: Mapping[str, Any], location: Location) -> str | _Unresolved:
        """What a word given as a block parameter names in the caller's scope, should the block use it in `from:`."""
        if isinstance(scope.refs.get(word), str) and word in outer:  # a parameter passed on: keep what it names
            return scope.refs[word]
        if word == INPUT:
            return scope.input
        target = self.names.get(scope.prefix + word)
        if target is not None:
            return target
        return _Unresolved(word, scope.prefix, location)

    def _defaults(self, block: _Block, params: dict[str, Any], block_input: str, location: Location) -> None:
        """Fill the parameters not given, in an order that lets a default use others (`width: planes * 2`)."""
        missing = [key for key in block.params if key not in params]
        required = [key for key in missing if block.params[key] == REQUIRED_PARAM]
        if required:
            raise SpecError(f"block '{block.name}' needs parameter {', '.join(map(repr, required))}", location)
        while missing:
            ready = [key for key in missing if not _names_of(block.params[key]) & set(missing)]
            if not ready:
                cycle = ", ".join(missing)
                raise SpecError(f"the defaults of block '{block.name}' refer to each other: {cycle}", block.location)
            for key in ready:
                default = block.params[key]
                try:
                    default = plain_numbers(default)
                    if needs_shape(default, params):
                        params[key] = Deferred(default, dict(params), anchor=block_input)
                    else:
                        params[key] = plain_numbers(substitute(default, params))
                except ExprError as error:
                    raise SpecError(f"default of {key!r}: {error}", block.location) from None
                missing.remove(key)


def _layer_attrs(
    item: Mapping[str, Any],
    kind: LayerKind,
    params: Mapping[str, Any],
    defaults: Mapping[str, Any],
    named: Location,
    own_keys: tuple[str, ...] = LAYER_KEYS,
) -> tuple[dict[str, Any], bool]:
    """A layer's attributes: the kind's defaults, the spec's `defaults`, then its own keys (those of `item` not
    in `own_keys`), parsed; and whether some wait for the input shape."""
    attrs = _kind_defaults(kind)
    attrs.update(defaults)
    deferred = False
    for key, value in item.items():
        if key in own_keys:
            continue
        attr = _find_attr(kind, key, named, own_keys)
        try:
            if needs_shape(plain_numbers(value), params):  # evaluated after expansion, once shapes are known
                attrs[key], deferred = Deferred(value, params), True
                continue
            attrs[key] = _attr_value(attr, value, params)
        except (AttrError, ExprError) as error:
            raise SpecError(f"{key}: {error.message}{value_hint(key, value)}", named) from None
    missing = [a.name for a in kind.attrs if a.required and attrs[a.name] is a.default]
    if missing:
        raise SpecError(f"{kind.name} is missing required key {', '.join(map(repr, missing))}", named)
    if not deferred:
        try:
            attrs = kind.resolve(attrs)
        except AttrError as error:
            raise error.at(named) from None
    return attrs, deferred


def _copy_params(params: Mapping[str, Any], index: int | None, repeats: int | None) -> Mapping[str, Any]:
    """The names in force in one copy of a repeated item: the scope's, plus `index` and `repeats`."""
    if repeats is None or index is None:
        return params
    return {**params, "index": index, "repeats": repeats}


def _is_word(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _names_of(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_names_of(v) for v in value)) if value else set()
    return names_in(value) if isinstance(value, str) else set()


def _is_whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


_FIELD = re.compile(r"\{([^{}]*)\}")


def _template_values(template: str, params: Mapping[str, Any], location: Location) -> list[str]:
    """The value of each `{expr}` in a name template, as text."""
    if _FIELD.sub("", template).count("{") or _FIELD.sub("", template).count("}"):
        raise SpecError(f"name template {quote(template)} has an unmatched brace", location)
    values = []
    for expr in _FIELD.findall(template):
        try:
            if needs_shape(expr, params):
                raise ExprError("a name cannot depend on the input shape")
            word = expr.strip()
            value = params[word] if word in params else plain_numbers(evaluate(word, params))
        except ExprError as error:
            raise SpecError(f"name {quote(template)}: {error.message}", location) from None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise SpecError(
                f"name {quote(template)}: {{{expr}}} gives {_describe(value)}; a name needs a whole number or a word",
                location,
            )
        values.append(str(value))
    return values


def _fill(template: str, values: list[str]) -> str:
    pieces = iter(values)
    return _FIELD.sub(lambda _: next(pieces), template)


def _checked_name(name: str, location: Location) -> str:
    if not name.isprintable():  # a newline or tab would break `show`'s spec and every table
        raise SpecError(f"`name` must not contain control characters (newline, tab…), got {excerpt(name)}", location)
    if name.split() != [name]:  # empty, or has whitespace (str.split splits on exactly what isspace finds)
        raise SpecError(f"`name` must be a word without spaces, got {quote(name)}", location)
    if name == INPUT or name.endswith("." + INPUT):
        raise SpecError(f"'{INPUT}' is reserved for the network's (or a block's) input; choose another", location)
    return name


_PARSED_DEFAULTS: dict[str, dict[str, Any]] = {}


def _kind_defaults(kind: LayerKind) -> dict[str, Any]:
    """A fresh copy of the kind's defaults, normalised by their own parsers (`1` -> `(1, 1)`)."""
    if kind.name not in _PARSED_DEFAULTS:
        _PARSED_DEFAULTS[kind.name] = {
            a.name: a.default if a.required or a.default is None else a.parse(a.default) for a in kind.attrs
        }
    return dict(_PARSED_DEFAULTS[kind.name])


def _get_kind_at(name: str, location: Location) -> LayerKind:
    try:
        return get_kind(name)
    except SpecError as error:
        hint = kind_hint(name)
        if hint:
            raise SpecError(f"unknown kind {name!r}{hint}", location) from None
        raise error.at(location) from None


def _check_layer_keys(item: Mapping[str, Any], kind: LayerKind, location: Location) -> None:
    low, high = kind.input_range
    if "repeat" in item and low > 1:
        raise SpecError(f"`repeat` cannot be used on {kind.name}, which merges several inputs", location)
    if low > 1 and not isinstance(item.get("from"), list):
        raise SpecError(f"{kind.name} needs `from:` with a list of {kind.inputs_text} inputs", location)
    count = len(item["from"]) if isinstance(item.get("from"), list) else 1
    if count < low:
        raise SpecError(f"{kind.name} needs {_inputs_text(kind)} in `from`, got {count}", location)
    if high is not None and count > high:
        raise SpecError(f"{kind.name} takes {_inputs_text(kind)}, but `from` names {count}", location)


def _inputs_text(kind: LayerKind) -> str:
    return f"{kind.inputs_text} input{'' if kind.input_range[1] == 1 else 's'}"


def _line(items: Any, index: int) -> int | None:
    line_of = getattr(items, "line_of", None)
    return line_of(index) if line_of else None


def _dependency_order(drafts: list[_Draft]) -> tuple[Layer, ...]:
    """Depth-first post-order, visiting layers as listed: listed order whenever it is already valid."""
    by_name = {d.name: d for d in drafts}
    done: set[str] = set()
    on_path: set[str] = set()
    order: list[_Draft] = []
    for root in drafts:
        if root.name in done:
            continue
        stack = [(root, iter(root.inputs))]
        on_path.add(root.name)
        while stack:
            draft, inputs = stack[-1]
            for name in inputs:
                if name == INPUT or name in done:
                    continue
                if name in on_path:
                    cycle = [d.name for d, _ in stack]
                    cycle = cycle[cycle.index(name) :] + [name]
                    raise SpecError(f"the layers form a cycle: {' → '.join(reversed(cycle))}", draft.location)
                child = by_name[name]
                stack.append((child, iter(child.inputs)))
                on_path.add(name)
                break
            else:
                stack.pop()
                on_path.discard(draft.name)
                done.add(draft.name)
                order.append(draft)
    return tuple(Layer(d.name, d.kind, d.attrs, tuple(d.inputs), d.location, d.groups) for d in order)


# --- a Network built by hand (the library's users may skip the spec language) ---


def check_network(network: Any) -> Network:
    """`network` as the parser would have built it: every layer of a known kind, named once and not 'input',
    reading the right number of layers listed before it, with its attributes parsed and completed by the same
    functions a spec's go through. A Network the parser built is returned as it is; errors name the layer."""
    if not isinstance(network, Network):
        raise SpecError(f"expected a netcalc.Network (or, for analyze, a spec), got {_describe(network)}")
    if is_checked(network):
        return network
    _check_fields(network)
    try:
        input_shape = parse_shape(network.input_shape)
    except ValueError as error:
        raise SpecError(str(error), _hand("input_shape")) from None
    layers = network.layers
    if not isinstance(layers, (tuple, list)):
        raise SpecError(f"expected a tuple of netcalc.Layer, got {_describe(layers)}", _hand("layers"))
    if len(layers) > MAX_LAYERS:
        raise SpecError(f"the network has more than {MAX_LAYERS:,} layers", _hand("layers"))
    defined: set[str] = set()
    checked = []
    for index, layer in enumerate(layers):
        checked.append(_checked_layer(layer, index, defined))
        defined.add(layer.name)
    resolved = resolve_deferred(tuple(checked), input_shape)  # `in_channels * 2`, `padding: same`, as a spec's
    outputs = _hand_outputs(network.outputs, defined)
    return mark_checked(replace(network, input_shape=input_shape, layers=resolved, outputs=outputs))


def _check_fields(network: Network) -> None:
    """The fields reports and renderers read as they are: the name, the groups' outputs, the source file."""
    if not isinstance(network.name, str) or not network.name.isprintable():
        raise SpecError(f"expected a name without control characters, got {_describe(network.name)}", _hand("name"))
    if not isinstance(network.group_outputs, Mapping):
        raise SpecError(
            f"expected a mapping from group to layer, got {_describe(network.group_outputs)}", _hand("group_outputs")
        )
    if network.source is not None and not isinstance(network.source, str):
        raise SpecError(f"expected a file name or None, got {_describe(network.source)}", _hand("source"))


def _hand(where: str) -> Location:
    """Where in a hand-built network: it has no file or line."""
    return Location(where=where)


def _checked_layer(layer: Any, index: int, defined: set[str]) -> Layer:
    """One hand-built layer, checked against the layers before it; its attributes completed as a spec's are."""
    if not isinstance(layer, Layer):
        raise SpecError(f"expected a netcalc.Layer, got {_describe(layer)}", _hand(f"layers[{index}]"))
    if not isinstance(layer.name, str):
        raise SpecError(f"a layer's name must be a str, got {_describe(layer.name)}", _hand(f"layers[{index}]"))
    if not isinstance(layer.location, Location):  # where() reads it
        raise SpecError(f"expected a netcalc.errors.Location, got {_describe(layer.location)}", _hand(layer.name))
    named = layer.where()
    _checked_name(layer.name, named)
    if layer.name in defined:
        raise SpecError(f"duplicate layer name '{layer.name}'", named)
    if not isinstance(layer.kind, str):
        raise SpecError(f"`kind` must be a name, got {_describe(layer.kind)}", named)
    kind = _get_kind_at(layer.kind, named)
    inputs = _hand_inputs(layer.inputs, kind, defined, named)
    if not isinstance(layer.attrs, Mapping):
        raise SpecError(f"expected attributes as a mapping, got {_describe(layer.attrs)}", named)
    if not isinstance(layer.groups, tuple) or not all(isinstance(g, Group) for g in layer.groups):
        raise SpecError(f"expected groups as a tuple of netcalc.network.Group, got {_describe(layer.groups)}", named)
    attrs, _ = _layer_attrs(layer.attrs, kind, {}, {}, named, own_keys=())
    return replace(layer, attrs=attrs, inputs=inputs)


def _hand_inputs(inputs: Any, kind: LayerKind, defined: set[str], named: Location) -> tuple[str, ...]:
    """A layer's inputs: names of layers listed before it (or 'input'), as many as its kind takes."""
    if not isinstance(inputs, (tuple, list)) or not all(isinstance(i, str) for i in inputs):
        raise SpecError(f"`inputs` must be a tuple of layer names, got {_describe(inputs)}", named)
    low, high = kind.input_range
    if len(inputs) < low or (high is not None and len(inputs) > high):
        raise SpecError(f"{kind.name} takes {_inputs_text(kind)}, got {len(inputs)}", named)
    for name in inputs:
        if name != INPUT and name not in defined:
            hint = did_you_mean(name, [*defined, INPUT])
            raise SpecError(
                f"input '{name}' is not a layer listed before this one{hint} (layers go in dependency order)", named
            )
    return tuple(inputs)


def _hand_outputs(outputs: Any, defined: set[str]) -> tuple[str, ...]:
    """The network's outputs: distinct layer names (the input only for a network of no layers)."""
    if not isinstance(outputs, (tuple, list)) or not all(isinstance(o, str) for o in outputs):
        raise SpecError(f"expected a tuple of layer names, got {_describe(outputs)}", _hand("outputs"))
    if not defined and tuple(outputs) == (INPUT,):
        return (INPUT,)
    for name in outputs:
        if name not in defined:
            raise SpecError(f"'{name}' is no layer of the network{did_you_mean(name, defined)}", _hand("outputs"))
    if len(set(outputs)) != len(outputs):
        raise SpecError("a layer is listed twice", _hand("outputs"))
    return tuple(outputs)
