"""Read a spec (YAML) into an expanded `Network`: blocks instantiated, repeats unrolled, defaults filled,
names scoped and references resolved, layers put in dependency order.

Every problem is a SpecError that names the file, the line and the layer or YAML path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netcalc.errors import AttrError, Location, SpecError, did_you_mean, excerpt
from netcalc.kinds import REGISTRY, get_kind
from netcalc.kinds.base import MANY, Attr, LayerKind
from netcalc.language.compact import expand_compact
from netcalc.language.expr import ExprError, substitute
from netcalc.language.shape_names import Deferred, needs_shape, resolve_deferred
from netcalc.language.yamlload import load_yaml_file, load_yaml_text, paused_gc
from netcalc.network import INPUT, Group, Layer, Network
from netcalc.shapes import Shape, parse_shape

TOP_KEYS = ("name", "input", "include", "defaults", "blocks", "layers", "budget")
INCLUDED_KEYS = ("include", "blocks")
BLOCK_KEYS = ("params", "layers", "output", "doc")
LAYER_KEYS = ("kind", "name", "from", "repeat")
BLOCK_USE_KEYS = ("block", "name", "from", "repeat")
MAX_REPEAT = 100_000
MAX_LAYERS = 100_000  # every command stays under 10 s and 1 GiB up to here (docs/limits.md)
MAX_INCLUDE_DEPTH = 16  # files including files (docs/limits.md)
INCLUDE_SUFFIXES = (".yaml", ".yml")
REQUIRED_PARAM = "required"


def load_network(path: str | Path, *, input_shape: Shape | None = None) -> Network:
    """The network a spec file describes; `input_shape` (H, W, C) overrides the spec's `input`."""
    return parse_network(load_yaml_file(path), str(path), input_shape=input_shape)


def parse_network_text(text: str, file: str | None = None, *, input_shape: Shape | None = None) -> Network:
    return parse_network(load_yaml_text(text, file), file, input_shape=input_shape)


def parse_network(data: Any, file: str | None = None, *, input_shape: Shape | None = None) -> Network:
    """Expand already-loaded YAML data (ideally with line numbers) into a Network."""
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
            raise SpecError(f"input: {error}", _at(top, "input", file, "input")) from None
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
        layers = resolve_deferred(_dependency_order(expander.layers), input_shape)
    return Network(
        name=str(name),
        input_shape=input_shape,
        layers=layers,
        source=file,
        group_outputs=expander.group_outputs,
        budget=top.get("budget"),
    )


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
            attr = _find_attr(kind, attr_name, _at(attrs, attr_name, file, f"{where}.{attr_name}"))
            try:
                checked[kind_name][attr_name] = attr.parse(substitute(value, {}))
            except (AttrError, ExprError) as error:
                raise SpecError(f"{attr_name}: {error.message}", _at(attrs, attr_name, file, where)) from None
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


def _find_attr(kind: LayerKind, name: Any, location: Location) -> Attr:
    for attr in kind.attrs:
        if attr.name == name:
            return attr
    known = kind.attr_names + LAYER_KEYS
    listing = ", ".join(known)
    raise SpecError(f"unknown key {name!r} for {kind.name}{did_you_mean(str(name), known)}; known: {listing}", location)


# --- expansion ---


@dataclass(frozen=True)
class _Scope:
    prefix: str  # "" at top level, "layer1.0." inside a block instance
    input: str  # full name of what `input` means here
    params: Mapping[str, Any]
    stack: tuple[str, ...]  # blocks being expanded, to catch recursion
    file: str | None = None  # the file these items are written in (a block may come from an included file)


@dataclass
class _Draft:
    name: str
    kind: str
    attrs: dict[str, Any]
    inputs: list[str]
    location: Location
    groups: tuple[Group, ...]


@dataclass
class _Expander:
    defaults: dict[str, dict[str, Any]]
    blocks: dict[str, _Block]
    layers: list[_Draft] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # full name -> the layer that is its output
    defined_at: dict[str, Location] = field(default_factory=dict)
    group_outputs: dict[str, str] = field(default_factory=dict)

    def expand(self, items: list[Any], path: str, scope: _Scope, groups: tuple[Group, ...]) -> str:
        """Expand a list of items in `scope`; returns the full name of the last item's output."""
        previous = scope.input
        counters: dict[str, int] = {}
        pending: list[tuple[_Draft, list[str], Location]] = []
        for index, raw in enumerate(items):
            location = Location(scope.file, _line(items, index), f"{path}[{index}]")
            item = self._item(raw, location)
            previous = self._expand_item(item, location, scope, groups, previous, counters, pending)
        # References are resolved once the whole scope is known, so a layer may name one listed after it.
        for draft, refs, location in pending:
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

    def _expand_item(
        self,
        item: Mapping[str, Any],
        location: Location,
        scope: _Scope,
        groups: tuple[Group, ...],
        previous: str,
        counters: dict[str, int],
        pending: list[tuple[_Draft, list[str], Location]],
    ) -> str:
        label = item.get("kind") if "kind" in item else item.get("block")
        if not isinstance(label, str):
            raise SpecError(f"`kind`/`block` must be a name, got {label!r}", location)
        if "kind" in item:
            kind = _get_kind_at(label, location)
            _check_layer_keys(item, kind, location)
        else:
            block = self.blocks.get(label)
            if block is None:
                known = list(self.blocks)
                listing = ", ".join(known) or "none defined"
                raise SpecError(f"unknown block {label!r}{did_you_mean(label, known)}; blocks: {listing}", location)
        local = self._name(item, label, counters, location)
        full = scope.prefix + local
        repeat = self._repeat(item, scope, location)
        refs = self._refs(item, location)
        if refs is not None and len(refs) > 1 and repeat is not None:
            raise SpecError("`repeat` cannot be combined with several inputs in `from`", location)
        self._claim(full, location)

        if repeat is None:
            instances = [full]
        else:
            instances = [f"{full}.{i}" for i in range(repeat)]
            groups = groups + (Group(full, f"{label} ×{repeat}", location),)
        output = previous
        for i, instance in enumerate(instances):
            if instance != full:
                self._claim(instance, location)
            first = i == 0
            if "kind" in item:
                draft = self._layer(item, kind, instance, scope, location, groups)
                if first and refs is not None:
                    pending.append((draft, refs, location))
                else:
                    draft.inputs = [output]
                output = instance
            else:
                block_input = output
                if first and refs is not None:
                    if len(refs) != 1:
                        raise SpecError(f"a block takes one input, `from` names {len(refs)}", location)
                    block_input = self._resolve(refs[0], scope, location)
                output = self._block(item, block, instance, block_input, scope, location, groups)
            self.names[instance] = output
        self.names[full] = output
        if repeat is not None:
            self.group_outputs[full] = output
        return output

    def _name(self, item: Mapping[str, Any], label: str, counters: dict[str, int], location: Location) -> str:
        counters[label] = counters.get(label, 0) + 1
        if "name" not in item:
            return f"{label}{counters[label]}"
        name = item["name"]
        text = str(name)
        if isinstance(name, bool) or not isinstance(name, (str, int)) or not text.strip() or " " in text:
            raise SpecError(f"`name` must be a word without spaces, got {excerpt(name)}", location)
        if not text.isprintable():  # a newline or tab would break `show`'s spec and every table
            raise SpecError(
                f"`name` must not contain control characters (newline, tab…), got {excerpt(name)}", location
            )
        if str(name) == INPUT:
            raise SpecError(f"'{INPUT}' is reserved for the network's (or a block's) input; choose another", location)
        return str(name)

    def _claim(self, full: str, location: Location) -> None:
        if full in self.defined_at:
            first = self.defined_at[full]
            raise SpecError(f"duplicate layer name '{full}' (first defined at line {first.line})", location)
        self.defined_at[full] = location
        if len(self.defined_at) > MAX_LAYERS:
            raise SpecError(f"the network expands to more than {MAX_LAYERS:,} layers; check the repeats", location)

    def _repeat(self, item: Mapping[str, Any], scope: _Scope, location: Location) -> int | None:
        if "repeat" not in item:
            return None
        try:
            value = substitute(item["repeat"], scope.params)
        except ExprError as error:
            raise SpecError(f"repeat: {error}", location) from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SpecError(f"repeat must be a whole number ≥ 0, got {value!r}", location)
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
        raise SpecError(f"`from` must be a layer name or a list of names, got {refs!r}", location)

    def _resolve(self, ref: str, scope: _Scope, location: Location) -> str:
        if ref == INPUT:
            return scope.input
        target = self.names.get(scope.prefix + ref)
        if target is None:
            local = [n[len(scope.prefix) :] for n in self.names if n.startswith(scope.prefix)]
            raise SpecError(f"`from` names an undefined layer '{ref}'{did_you_mean(ref, local + [INPUT])}", location)
        return target

    def _layer(
        self,
        item: Mapping[str, Any],
        kind: LayerKind,
        full: str,
        scope: _Scope,
        location: Location,
        groups: tuple[Group, ...],
    ) -> _Draft:
        named = Location(location.file, location.line, f"layer '{full}' ({location.where})")
        attrs = _kind_defaults(kind)
        attrs.update(self.defaults.get(kind.name, {}))
        deferred = False
        for key, value in item.items():
            if key in LAYER_KEYS:
                continue
            attr = _find_attr(kind, key, named)
            if needs_shape(value, scope.params):  # evaluated after expansion, once shapes are known
                attrs[key], deferred = Deferred(value, scope.params), True
                continue
            try:
                attrs[key] = attr.parse(substitute(value, scope.params))
            except (AttrError, ExprError) as error:
                raise SpecError(f"{key}: {error.message}", named) from None
        missing = [a.name for a in kind.attrs if a.required and attrs[a.name] is a.default]
        if missing:
            raise SpecError(f"{kind.name} is missing required key {', '.join(map(repr, missing))}", named)
        if not deferred:
            try:
                attrs = kind.resolve(attrs)
            except AttrError as error:
                raise error.at(named) from None
        draft = _Draft(full, kind.name, attrs, [], named, groups)
        self.layers.append(draft)
        return draft

    def _block(
        self,
        item: Mapping[str, Any],
        block: _Block,
        full: str,
        block_input: str,
        scope: _Scope,
        location: Location,
        groups: tuple[Group, ...],
    ) -> str:
        if block.name in scope.stack:
            chain = " → ".join(scope.stack + (block.name,))
            raise SpecError(f"block '{block.name}' uses itself: {chain}", location)
        params: dict[str, Any] = {}
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
            if needs_shape(value, scope.params):  # shape names here describe the block's input
                params[key] = Deferred(value, scope.params, anchor=block_input)
                continue
            try:
                params[key] = substitute(value, scope.params)
            except ExprError as error:
                raise SpecError(f"{key}: {error}", location) from None
        for key, default in block.params.items():
            if key not in params:
                if default == REQUIRED_PARAM:
                    raise SpecError(f"block '{block.name}' needs parameter {key!r}", location)
                params[key] = default
        inner = _Scope(full + ".", block_input, params, scope.stack + (block.name,), block.location.file)
        try:
            group = Group(full, block.name, location)
            last = self.expand(block.layers, f"blocks.{block.name}.layers", inner, groups + (group,))
        except RecursionError:
            raise SpecError("blocks nest too deeply", location) from None
        output = last if block.output is None else self._resolve(block.output, inner, block.location)
        self.group_outputs[full] = output
        return output


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
        raise error.at(location) from None


def _check_layer_keys(item: Mapping[str, Any], kind: LayerKind, location: Location) -> None:
    if "repeat" in item and kind.inputs == MANY:
        raise SpecError(f"`repeat` cannot be used on {kind.name}, which merges several inputs", location)
    if kind.inputs == MANY and not isinstance(item.get("from"), list):
        raise SpecError(f"{kind.name} needs `from:` with a list of two or more inputs", location)
    if kind.inputs == MANY and len(item["from"]) < 2:
        raise SpecError(f"{kind.name} needs two or more inputs in `from`, got {len(item['from'])}", location)
    if kind.inputs == 1 and isinstance(item.get("from"), list) and len(item["from"]) != 1:
        raise SpecError(f"{kind.name} takes one input, but `from` names {len(item['from'])}", location)


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
