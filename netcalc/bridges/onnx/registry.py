"""Registries of the ONNX bridge, both directions.

Import: a converter per ONNX operator version, keyed by (domain, op type, since_version) as onnx2torch does;
the version a model uses is found with `onnx.defs.get_schema(op, max_inclusive_version=opset).since_version`,
so a converter registered for Conv 11 serves every opset from 11 until Conv changes again. Adding an operator
is one decorated function.

Export: a function per netcalc kind, keyed by kind name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Converter = Callable[..., Any]
CONVERTERS: dict[tuple[str, str, int], Converter] = {}
EXPORTERS: dict[str, Callable[..., Any]] = {}


def converter(op_type: str, *versions: int, domain: str = "") -> Callable[[Converter], Converter]:
    """Register `fn` as the converter of `op_type` for each since_version in `versions`."""

    def register(fn: Converter) -> Converter:
        for version in versions:
            key = (domain, op_type, version)
            if key in CONVERTERS:
                raise ValueError(f"two converters for {key}")
            CONVERTERS[key] = fn
        return fn

    return register


def exporter(*kinds: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn` as the ONNX exporter of each netcalc kind in `kinds`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for kind in kinds:
            EXPORTERS[kind] = fn
        return fn

    return register


def since_version(op_type: str, opset: int, domain: str = "") -> int | None:
    """The since_version of the schema of `op_type` in force at `opset`, or None for an op ONNX doesn't know."""
    import onnx.defs

    try:
        return onnx.defs.get_schema(op_type, opset, domain).since_version
    except Exception:  # onnx.defs.SchemaError: no such operator at this opset
        return None


def find_converter(op_type: str, opset: int, domain: str = "") -> Converter | None:
    version = since_version(op_type, opset, domain)
    return None if version is None else CONVERTERS.get((domain, op_type, version))


def supported_operators() -> dict[str, list[int]]:
    """op type (with its domain when not the default) -> the since_versions that have converters."""
    table: dict[str, list[int]] = {}
    for domain, op, version in sorted(CONVERTERS):
        table.setdefault(op if not domain else f"{domain}.{op}", []).append(version)
    return table
