"""Attribute expressions over a layer's input shape: `out: in_channels // 2`, `out: in_channels * expand`.

On a layer, `in_channels`, `in_height` and `in_width` describe the layer's first input; in a block parameter
(`{block: expand, hidden: in_channels * 6}`) they describe the block's input. A spec cannot know shapes while
blocks are being expanded (a reference may point forward), so such a value is kept as `Deferred`, anchored to
the tensor it describes, and evaluated once the network is in dependency order by propagating shapes from the
input. The Network that comes out has plain values only: the analysis, the reference pass and `netcalc show`
never see a Deferred.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netcalc.errors import AttrError, NetcalcError, SpecError
from netcalc.kinds import REGISTRY
from netcalc.kinds.base import Attr, ShapeDependent
from netcalc.language.expr import ExprError, names_in, substitute
from netcalc.network import INPUT, Layer
from netcalc.shapes import Shape, is_spatial

SHAPE_NAMES = ("in_channels", "in_height", "in_width")


@dataclass(frozen=True)
class Deferred:
    """A value waiting for a shape: the expression, the block parameters in force, and the tensor whose shape
    the shape names describe (None: the first input of the layer that holds the value)."""

    value: Any
    params: Mapping[str, Any]
    anchor: str | None = None


MAX_LIST_DEPTH = 4  # `padding: [[1, 2], …]` is the deepest any attribute goes
ROUNDING_HINT = "; round it explicitly with int(), round(), floor() or ceil()"


def plain_numbers(value: Any, depth: int = 0) -> Any:
    """`value` with every integral float made an int (so `out: width * 0.5` may give 32) and a non-finite one
    refused; lists are followed at most MAX_LIST_DEPTH deep. ExprError says what is wrong."""
    if isinstance(value, list):
        if depth >= MAX_LIST_DEPTH:
            raise ExprError(f"lists nest more than {MAX_LIST_DEPTH} levels deep")
        return [plain_numbers(v, depth + 1) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExprError(f"{value} is not a finite number")
        if value.is_integer() and abs(value) < 1e30:
            return int(value)
    return value


def parse_attr(attr: Attr, value: Any) -> Any:
    """`attr.parse` of an attribute value after substitution; a fraction where a whole number is meant says how
    to round it."""
    value = plain_numbers(value)
    try:
        return attr.parse(value)
    except AttrError as error:
        fractions = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, float)]
        if fractions and "whole number" in error.message:
            raise AttrError(f"{error.message}, which is not whole{ROUNDING_HINT}") from None
        raise


def needs_shape(value: Any, params: Mapping[str, Any]) -> bool:
    """Whether `value` uses a shape name no parameter shadows, or a parameter that is itself Deferred."""
    if isinstance(value, list):
        return any(needs_shape(v, params) for v in value)
    if not isinstance(value, str):
        return False
    names = names_in(value)
    return bool((names & set(SHAPE_NAMES)) - set(params)) or any(isinstance(params.get(n), Deferred) for n in names)


def value_of(deferred: Deferred, shapes: Mapping[str, Shape], first_input: str) -> Any:
    """The deferred value, with its parameters (Deferred ones first) and its anchor's shape names bound."""
    params = {
        key: value_of(value, shapes, first_input) if isinstance(value, Deferred) else value
        for key, value in deferred.params.items()
    }
    names = shape_names(shapes[deferred.anchor or first_input])
    return substitute(deferred.value, {**names, **params})


def shape_names(shape: Shape) -> dict[str, int]:
    """in_channels (the features of a flat input), and in_height/in_width of a feature map."""
    names = {"in_channels": shape[-1]}
    if is_spatial(shape):
        names.update(in_height=shape[0], in_width=shape[1])
    return names


def resolve_deferred(layers: tuple[Layer, ...], input_shape: Shape) -> tuple[Layer, ...]:
    """The layers with every Deferred attribute evaluated against the layer's first input shape, and every
    ShapeDependent value (`padding: same` at a stride > 1) settled by its kind."""
    if not any(isinstance(v, (Deferred, ShapeDependent)) for layer in layers for v in layer.attrs.values()):
        return layers
    shapes: dict[str, Shape] = {INPUT: input_shape}
    resolved = []
    for layer in layers:
        kind = REGISTRY[layer.kind]
        ins = tuple(shapes[name] for name in layer.inputs)
        try:
            if any(isinstance(v, Deferred) for v in layer.attrs.values()):
                layer = dataclasses.replace(layer, attrs=_evaluate(layer, shapes))
            if any(isinstance(v, ShapeDependent) for v in layer.attrs.values()):
                layer = dataclasses.replace(layer, attrs=kind.settle(dict(layer.attrs), ins))
            shapes[layer.name] = kind.output_shape(layer.attrs, ins)
        except NetcalcError as error:
            raise error.at(layer.where()) from None
        resolved.append(layer)
    return tuple(resolved)


def _evaluate(layer: Layer, shapes: Mapping[str, Shape]) -> dict[str, Any]:
    kind = REGISTRY[layer.kind]
    attrs = dict(layer.attrs)
    for attr in kind.attrs:
        value = attrs[attr.name]
        if isinstance(value, Deferred):
            try:
                attrs[attr.name] = parse_attr(attr, value_of(value, shapes, layer.inputs[0]))
            except (AttrError, ExprError) as error:
                raise SpecError(f"{attr.name}: {error.message}") from None
    return kind.resolve(attrs)
