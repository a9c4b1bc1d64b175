"""netcalc: what a convolutional network costs — shapes, parameters, MACs and memory per layer.

    >>> import netcalc
    >>> report = netcalc.analyze_file("specs/vgg16.yaml")
    >>> report.totals.params
    138357544

The library never prints and never imports NumPy; only the reference pass (`netcalc.reference`) does.
"""

from __future__ import annotations

from pathlib import Path

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
    input_shape: Shape | None = None,
    batch: int = 1,
    dtype: str = "float32",
    strict: bool = False,
    optimizer: str = "sgd",
) -> Report:
    """Load a spec file and analyse it (training memory counts `optimizer`'s state)."""
    network = load_network(path, input_shape=input_shape)
    return analyze_network(network, batch=batch, dtype=dtype, strict=strict, optimizer=optimizer)


def analyze(
    spec: str | Network,
    *,
    input_shape: Shape | None = None,
    batch: int = 1,
    dtype: str = "float32",
    strict: bool = False,
    optimizer: str = "sgd",
) -> Report:
    """Analyse a Network, or a spec given as YAML text (training memory counts `optimizer`'s state)."""
    network = spec if isinstance(spec, Network) else parse_network_text(spec, input_shape=input_shape)
    return analyze_network(network, batch=batch, dtype=dtype, strict=strict, optimizer=optimizer)
