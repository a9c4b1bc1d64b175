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

    def __post_init__(self) -> None:
        if not self.outputs:
            object.__setattr__(self, "outputs", (self.layers[-1].name if self.layers else INPUT,))

    @property
    def output(self) -> str:
        """The first (usually the only) output."""
        return self.outputs[0]
