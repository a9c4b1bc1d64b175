"""`netcalc show`: the expanded network written back as a spec with no blocks, repeats or defaults left."""

from __future__ import annotations

from typing import Any

import yaml

from netcalc.network import Network
from netcalc.shapes import format_shape


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def layer_mapping(name: str, kind: str, inputs: tuple[str, ...], attrs: dict[str, Any]) -> dict[str, Any]:
    mapping: dict[str, Any] = {"name": name, "kind": kind, "from": inputs[0] if len(inputs) == 1 else list(inputs)}
    mapping.update((key, _plain(value)) for key, value in attrs.items())
    return mapping


def to_yaml(network: Network) -> str:
    """One flow mapping per layer, with a comment line wherever a block or repeat begins."""
    lines = [
        f"# {network.name}, expanded by netcalc show" + (f" from {network.source}" if network.source else ""),
        f"name: {yaml.safe_dump(network.name, default_style=None).splitlines()[0]}",
        f"input: {'x'.join(map(str, network.input_shape))}  # {format_shape(network.input_shape)}",
        "layers:",
    ]
    open_groups: tuple[str, ...] = ()
    for layer in network.layers:
        names = tuple(g.name for g in layer.groups)
        for depth, group in enumerate(layer.groups):
            if depth >= len(open_groups) or open_groups[depth] != group.name:
                lines.append(f"  {'  ' * depth}# {group.name}: {group.label}")
        open_groups = names
        mapping = layer_mapping(layer.name, layer.kind, layer.inputs, dict(layer.attrs))
        flow = yaml.safe_dump(mapping, default_flow_style=True, sort_keys=False, width=10**9).strip()
        lines.append(f"  - {flow}")
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
