"""Device profiles for roofline estimates: a few built in from published specifications, or a user's file.

A profile is a small YAML file (see docs/devices.md):

    name: t4
    peak_flops: {float32: 8.1T, float16: 65T}   # FLOP/s per dtype: K, M, G, T are powers of 1000
    memory_bandwidth: 320GB                    # bytes per second: GB = 10⁹ B, GiB = 2³⁰ B
    efficiency: {compute: 0.7, memory: 0.8}    # optional: the share of each peak real kernels reach
    source: "where the figures come from"

`netcalc calibrate` writes one for the machine it runs on.
"""

from __future__ import annotations

import math
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from netcalc.analysis.report import DTYPE_BYTES
from netcalc.analysis.roofline import Device
from netcalc.errors import Location, NetcalcError, did_you_mean, excerpt
from netcalc.language.yamlload import load_yaml_file, load_yaml_text
from netcalc.units import UnitError, parse_bytes, parse_count

KEYS = ("name", "description", "peak_flops", "memory_bandwidth", "efficiency", "source")
_PROFILES = files("netcalc.analysis").joinpath("device_profiles")
# A real number written in exponent form (`5e-1`): YAML 1.1 reads it as text (it wants `5.0e-1`), so it is read
# here as the spec language reads `1e-5` (netcalc/language/expr.py).
_REAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


class DeviceError(NetcalcError):
    """A device name that is not built in, or a profile file that is malformed."""


def builtin_devices() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in _PROFILES.iterdir() if p.name.endswith(".yaml"))


def load_device(name_or_path: str) -> Device:
    """A built-in profile by name, or a profile file by path."""
    if name_or_path in builtin_devices():
        resource = _PROFILES.joinpath(f"{name_or_path}.yaml")
        where = f"<built-in {name_or_path}>"
        return parse_device(load_yaml_text(resource.read_text(encoding="utf-8"), where), where)
    if Path(name_or_path).suffix in (".yaml", ".yml") or Path(name_or_path).exists():
        return parse_device(load_yaml_file(name_or_path), name_or_path)
    known = builtin_devices()
    raise DeviceError(
        f"unknown device {name_or_path!r}{did_you_mean(name_or_path, known)}; built in: {', '.join(known)} "
        "(or give a profile file, e.g. one written by `netcalc calibrate`)"
    )


def parse_device(data: Any, file: str) -> Device:
    def at(container: Any, key: str) -> Location:
        line_of = getattr(container, "line_of", None)
        return Location(file, line_of(key) if line_of else None, key)

    if not isinstance(data, dict):
        raise DeviceError(
            "a device profile is a mapping with `name`, `peak_flops` and `memory_bandwidth`", Location(file)
        )
    for key in data:
        if key not in KEYS:
            raise DeviceError(
                f"unknown key {key!r}{did_you_mean(str(key), KEYS)}; known keys: {', '.join(KEYS)}", at(data, key)
            )
    for key in ("name", "peak_flops", "memory_bandwidth"):
        if key not in data:
            raise DeviceError(f"missing required key `{key}`", Location(file, getattr(data, "line", None)))
    peaks = data["peak_flops"]
    if not isinstance(peaks, dict) or not peaks:
        raise DeviceError("`peak_flops` maps a dtype to FLOP/s, e.g. {float32: 8.1T}", at(data, "peak_flops"))
    parsed: dict[str, float] = {}
    for dtype, value in peaks.items():
        if dtype not in DTYPE_BYTES:
            raise DeviceError(
                f"unknown dtype {dtype!r}{did_you_mean(str(dtype), DTYPE_BYTES)}; known: {', '.join(DTYPE_BYTES)}",
                at(peaks, dtype),
            )
        parsed[dtype] = float(_positive(parse_count, value, at(peaks, dtype), "FLOP/s"))
    bandwidth = float(_positive(parse_bytes, data["memory_bandwidth"], at(data, "memory_bandwidth"), "bytes/s"))
    efficiency = data.get("efficiency", {})
    if not isinstance(efficiency, dict) or set(efficiency) - {"compute", "memory"}:
        got = "nothing" if efficiency is None else excerpt(efficiency)
        raise DeviceError(
            f"`efficiency` is a mapping {{compute: share, memory: share}}, each in (0, 1], got {got}",
            at(data, "efficiency"),
        )
    shares = {}
    for key in ("compute", "memory"):
        shares[key] = _share(efficiency.get(key, 1.0), key, at(efficiency, key))
    for key in ("name", "description", "source"):
        if key in data and not isinstance(data[key], str):
            got = "nothing" if data[key] is None else excerpt(data[key])
            raise DeviceError(f"expected a string, got {got}", at(data, key))
    if not data["name"].strip():
        raise DeviceError("expected a non-empty string", at(data, "name"))
    return Device(
        name=data["name"],
        peak_flops=parsed,
        memory_bandwidth=bandwidth,
        compute_efficiency=shares["compute"],
        memory_efficiency=shares["memory"],
        description=data.get("description", ""),
        source=data.get("source", ""),
        file=file,
    )


def _share(value: Any, key: str, where: Location) -> float:
    """An efficiency in (0, 1]: a YAML number, or a number in exponent form that YAML read as text (`5e-1`)."""
    share: Any = value
    if isinstance(value, str) and _REAL.fullmatch(value.strip()):
        share = float(value)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) or not 0 < share <= 1:
        text = " (read as text)" if isinstance(value, str) and share is value else ""
        raise DeviceError(f"efficiency {key} must be a number in (0, 1], got {excerpt(value)}{text}", where)
    return float(share)


def _positive(parse: Any, value: Any, where: Location, unit: str) -> int:
    try:
        number = parse(value)
    except UnitError as error:
        raise DeviceError(f"{error.message} ({unit})", where) from None
    if number <= 0:
        raise DeviceError(f"expected a positive figure in {unit}, got {value!r}", where)
    return number


def device_yaml(device: Device) -> str:
    """A profile file for `device` that `load_device` reads back to the same figures."""
    lines = [f"name: {device.name}"]
    if device.description:
        lines.append(f"description: {_quoted(device.description)}")
    lines.append("peak_flops:")
    lines += [f"  {dtype}: {_si(value)}" for dtype, value in device.peak_flops.items()]
    lines.append(f"memory_bandwidth: {_si(device.memory_bandwidth, bytes_=True)}")
    if device.source:
        lines.append(f"source: {_quoted(device.source)}")
    return "\n".join(lines) + "\n"


def _si(value: float, bytes_: bool = False) -> str:
    """A whole number of units (`1234M`, `35GB`): exact to the unit, as the unit parsers require."""
    for unit, scale in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if value >= 100 * scale:
            return f"{round(value / scale)}{unit}{'B' if bytes_ else ''}"
    return str(round(value))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
