"""The expanded network: what a spec becomes once blocks, repeats, defaults and names are resolved.

Both the analysis and the reference pass read only this, never the YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netcalc.errors import Location
from netcalc.shapes import Shape

INPUT = "input"  # the reserved name of the network's input (inside a block: the block's input)


@dataclass(frozen=True)
class Group:
    """A block instance or a repeat that a layer sits in; `label` says which block, or `×n`."""

    name: str
    label: str
    location: Location | None = field(default=None, compare=False)  # where the block or repeat is used


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str
    attrs: Mapping[str, Any]
    inputs: tuple[str, ...]
    location: Location = field(default_factory=Location, compare=False)
    groups: tuple[Group, ...] = ()

    def where(self) -> Location:
        """This layer's location with its name, for error messages."""
        return Location(self.location.file, self.location.line, f"layer '{self.name}'")


@dataclass(frozen=True)
class Network:
    name: str
    input_shape: Shape
    layers: tuple[Layer, ...]  # in dependency order
    source: str | None = None
    group_outputs: Mapping[str, str] = field(default_factory=dict)  # group name -> its output layer
    budget: Any = None  # the spec's raw `budget:` mapping, read by `netcalc check`
    outputs: tuple[str, ...] = ()  # the layers whose results the network gives; () means its last layer
    # Set once the network is known to be valid (the parser built it, or the analysis checked it by hand);
    # not an init field, so `dataclasses.replace` makes a copy that is checked again.
    _checked: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.outputs:  # tolerant of a hand-built network's wrong types: the analysis reports them
            last = self.layers[-1] if isinstance(self.layers, (tuple, list)) and self.layers else None
            name = last.name if isinstance(last, Layer) else INPUT
            object.__setattr__(self, "outputs", (name,))

    @property
    def output(self) -> str:
        """The first (usually the only) output."""
        return self.outputs[0]


def mark_checked(network: Network) -> Network:
    """`network`, marked as valid: only the parser and the analysis's check call this."""
    object.__setattr__(network, "_checked", True)
    return network


def is_checked(network: Network) -> bool:
    return network._checked
