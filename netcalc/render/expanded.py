"""`netcalc show`: the expanded network written back as a spec with no blocks, repeats or defaults left."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml

from netcalc.errors import printable
from netcalc.network import Network
from netcalc.shapes import format_shape


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def layer_mapping(name: str, kind: str, inputs: tuple[str, ...], attrs: dict[str, Any]) -> dict[str, Any]:
    mapping: dict[str, Any] = {"name": name, "kind": kind, "from": inputs[0] if len(inputs) == 1 else list(inputs)}
    mapping.update((key, _plain(value)) for key, value in attrs.items())
    return mapping


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_STR_TAG = "tag:yaml.org,2002:str"


def safe_dump_flow(value: Any) -> str:
    """PyYAML's own one-line flow rendering of `value` (the reference the fast path below must equal)."""
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**9).removesuffix("\n...\n").strip()


@lru_cache(maxsize=4096)
def _scalar(kind: type, value: Any) -> str:
    del kind  # part of the cache key only: 1, 1.0 and True are equal keys but different YAML
    plain = isinstance(value, str) and _PLAIN.match(value)
    if plain and yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG:
        return value  # plain, and reads back as this string (not true, null, 1e3 …)
    return safe_dump_flow([value])[1:-1]  # as an item of a flow collection, quoted where it must be


def _flow(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str) and _PLAIN.match(value) and len(value) > 40:  # long names: not worth caching
        return _scalar.__wrapped__(str, value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return _scalar(type(value), value)
    return safe_dump_flow(value)


def flow_mapping(mapping: dict[str, Any]) -> str:
    """`{name: conv1, kind: conv, …}` exactly as `yaml.safe_dump(…, default_flow_style=True)` writes it, but
    ~50× faster: `netcalc show` of a 100,000-layer spec spent 20 s in PyYAML's emitter."""
    if not all(isinstance(key, str) and _PLAIN.match(key) for key in mapping):
        return safe_dump_flow(mapping)
    return "{" + ", ".join(f"{key}: {_flow(value)}" for key, value in mapping.items()) + "}"


def to_yaml(network: Network) -> str:
    """One flow mapping per layer, with a comment line wherever a block or repeat begins."""
    lines = [
        printable(
            f"# {network.name}, expanded by netcalc show" + (f" from {network.source}" if network.source else "")
        ),
        f"name: {yaml.safe_dump(network.name, default_style=None, width=10**9).splitlines()[0]}",
        f"input: {'x'.join(map(str, network.input_shape))}  # {format_shape(network.input_shape)}",
        "layers:",
    ]
    open_groups: tuple[str, ...] = ()
    for layer in network.layers:
        names = tuple(g.name for g in layer.groups)
        for depth, group in enumerate(layer.groups):
            if depth >= len(open_groups) or open_groups[depth] != group.name:
                lines.append(printable(f"  {'  ' * depth}# {group.name}: {group.label}"))
        open_groups = names
        mapping = layer_mapping(layer.name, layer.kind, layer.inputs, dict(layer.attrs))
        lines.append(f"  - {flow_mapping(mapping)}")
    if network.outputs != (network.layers[-1].name,):
        lines.append(f"outputs: {yaml.safe_dump(list(network.outputs), default_flow_style=True, width=10**9).strip()}")
    if network.budget is not None:  # kept, so `netcalc check` on the expanded spec still finds it
        lines.append(yaml.safe_dump({"budget": _plain_tree(network.budget)}, sort_keys=False).rstrip())
    return "\n".join(lines) + "\n"


def _plain_tree(value: Any) -> Any:
    """LocatedDict/LocatedList as plain dicts and lists, which safe_dump accepts."""
    if isinstance(value, dict):
        return {k: _plain_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_tree(v) for v in value]
    return value
