"""netcalc: what a convolutional network costs — shapes, parameters, MACs and memory per layer.

    >>> import netcalc
    >>> report = netcalc.analyze_file("specs/vgg16.yaml")
    >>> report.totals.params
    138357544

The library never prints and never imports NumPy; only the reference pass (`netcalc.reference`) does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netcalc.analysis.analyze import analyze_network
from netcalc.analysis.report import LayerRow, Report, Totals
from netcalc.errors import NetcalcError, SpecError
from netcalc.language.spec import load_network, parse_network, parse_network_text
from netcalc.network import Layer, Network
from netcalc.shapes import Shape

__version__ = "0.1.0"

__all__ = [
    "Layer",
    "LayerRow",
    "NetcalcError",
    "Network",
    "Report",
    "SpecError",
    "Totals",
    "analyze",
    "analyze_file",
    "analyze_network",
    "load_network",
    "parse_network",
    "parse_network_text",
]


def analyze_file(
    path: str | Path,
    *,
    input_shape: Shape | str | None = None,
    batch: int = 1,
    dtype: str = "float32",
    strict: bool = False,
    optimizer: str = "sgd",
) -> Report:
    """Load a spec file, or an ONNX model, and analyse it (training memory counts `optimizer`'s state).

    `input_shape` overrides the spec's input, as `--input` does: (H, W, C) or text such as `320x320x3`.
    """
    network = load_network(path, input_shape=input_shape, batch=batch if isinstance(batch, int) else None)
    return analyze_network(network, batch=batch, dtype=dtype, strict=strict, optimizer=optimizer)


def analyze(
    spec: str | Mapping[str, Any] | Network,
    *,
    input_shape: Shape | str | None = None,
    batch: int = 1,
    dtype: str = "float32",
    strict: bool = False,
    optimizer: str = "sgd",
) -> Report:
    """Analyse a Network, or a spec given as YAML text or as the mapping YAML would load (training memory
    counts `optimizer`'s state)."""
    network = _network_of(spec, input_shape)
    return analyze_network(network, batch=batch, dtype=dtype, strict=strict, optimizer=optimizer)


def _network_of(spec: Any, input_shape: Shape | str | None) -> Network:
    """The Network `analyze` was given, or the one its spec describes."""
    if isinstance(spec, Network):
        if input_shape is not None:  # its shape-dependent attributes were worked out for its own input
            raise SpecError("input_shape applies to a spec; a Network has its own (set it where it is built)")
        return spec
    if isinstance(spec, str):
        return parse_network_text(spec, input_shape=input_shape)
    if isinstance(spec, Mapping):
        return parse_network(spec, input_shape=input_shape)
    raise SpecError(f"expected a spec (YAML text or a mapping) or a netcalc.Network, got {type(spec).__name__}")
