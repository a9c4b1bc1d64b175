"""Bridges to other model formats, and the one loader every command uses to read a model.

`load_model(path)` reads a netcalc spec (YAML) or an ONNX file (imported in memory into a spec) into a
`Network`. The ONNX bridge, and with it `onnx` and NumPy, is imported only when an ONNX file is given, so
`netcalc summary` of a YAML spec stays light.
"""

from __future__ import annotations

from pathlib import Path

from netcalc.errors import NetcalcError
from netcalc.network import Network
from netcalc.shapes import Shape

ONNX_SUFFIXES = (".onnx",)
INSTALL_HINT = 'pip install "netcalc[onnx]"'


class MissingDependency(NetcalcError):
    """An optional dependency a command needs is not installed. Exit code 2, with how to install it."""


def require(module: str, purpose: str):
    """Import an optional dependency, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"{purpose} needs the `{module}` package: {INSTALL_HINT}") from None


def is_onnx_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in ONNX_SUFFIXES


def load_model(
    path: str | Path,
    *,
    input_shape: Shape | None = None,
    batch: int | None = None,
    allow_unknown: bool = False,
) -> Network:
    """The network in `path`: a YAML spec, or an ONNX model imported in memory.

    `batch` is only needed to resolve a symbolic batch dimension of an ONNX model; `allow_unknown` turns an
    ONNX operator netcalc cannot model into a layer of kind `unknown` instead of an error.
    """
    if is_onnx_path(path):
        from netcalc.bridges.onnx.importer import load_onnx_network

        return load_onnx_network(path, input_shape=input_shape, batch=batch, allow_unknown=allow_unknown)
    from netcalc.language.spec import load_network

    return load_network(path, input_shape=input_shape)
