"""Read figures written with units, as budgets write them: `25.6M` parameters, `4.1G` MACs, `96MiB` of memory.

Counts (parameters, MACs, FLOPs) take K, M, G, T — powers of 1000 (`k` is accepted for K). Sizes in bytes take
KiB, MiB, GiB, TiB — powers of 1024 — or kB/KB, MB, GB, TB — powers of 1000 — or B; a bare number is bytes.
A count written with a byte unit, or a size written with a count unit, is an error: `96M` of memory could mean
either 96·10⁶ or 96·2²⁰ bytes, and netcalc does not guess.

The arithmetic is exact (Decimal, never float): `4.1G` is 4,100,000,000. A value that is not a whole number
once scaled (`1.5` parameters, `0.3B`) is an error, and so is a negative one.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded, Underflow, localcontext

from netcalc.errors import NetcalcError, did_you_mean, excerpt

COUNT_UNITS: dict[str, int] = {"": 1, "K": 10**3, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
BYTE_UNITS: dict[str, int] = {
    "": 1,
    "B": 1,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
    "kB": 10**3,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}
MAX_TEXT = 64  # longer than any sensible figure; keeps Decimal's work bounded
MAX_LIMIT = 10**40  # no figure netcalc computes comes near it; a larger limit is a typo (docs/limits.md)

# ASCII digits only: `\d` would read "１２３" (fullwidth) or "٣" (Arabic-Indic) as a number. Matched against the
# value with ASCII whitespace stripped; possessive, so it never backtracks (linear on any length).
_VALUE = re.compile(r"(?P<number>[0-9][0-9_]*+(?:\.[0-9]++)?|\.[0-9]++)[ \t]*+(?P<unit>[A-Za-z]*+)", re.ASCII)
_SPACE = " \t\r\n\f\v"
# every Decimal operation runs in this context: wide enough for any value of MAX_TEXT characters times the largest
# unit, and a rounding would raise rather than change the figure
_EXACT = Context(prec=MAX_TEXT + 20, traps=[Inexact, Rounded, InvalidOperation, Overflow, Underflow])


class UnitError(NetcalcError):
    """A figure with a malformed or unfitting unit (placed in its file by the caller)."""


def parse_count(value: object) -> int:
    """A whole count: `25M` → 25,000,000, `4.1G` → 4,100,000,000, `1.5K` → 1,500, `1000` → 1000."""
    return _parse(value, COUNT_UNITS, "a count", "K, M, G or T (powers of 1000)", BYTE_UNITS)


def parse_bytes(value: object) -> int:
    """A size in bytes: `96MiB` → 96·2²⁰, `500KB` → 500,000, `2GiB` → 2·2³⁰, `4096` → 4096."""
    return _parse(
        value,
        BYTE_UNITS,
        "a size in bytes",
        "KiB, MiB, GiB, TiB (powers of 1024), kB, MB, GB, TB (powers of 1000) or B",
        COUNT_UNITS,
    )


def _parse(value: object, units: dict[str, int], what: str, listing: str, other: dict[str, int]) -> int:
    if isinstance(value, bool) or value is None:
        raise UnitError(f"expected {what} such as {_example(units)}, got {_describe(value)}")
    if isinstance(value, int):
        if abs(value) > MAX_LIMIT:
            raise UnitError(_too_large(value))
        text, unit = str(value), ""
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise UnitError(f"expected {what}, got {value!r}")
        if abs(value) > MAX_LIMIT:
            raise UnitError(_too_large(value))
        text, unit = repr(value), ""
    elif isinstance(value, str):
        match = _VALUE.fullmatch(value.strip(_SPACE))
        if match is None:
            raise UnitError(
                f"malformed value {excerpt(value)}: expected {what}, a number and a unit such as {_example(units)}"
                + ("" if value.isascii() or not any(c.isdigit() for c in value) else "; digits are 0-9 only")
            )
        text, unit = match["number"].replace("_", ""), match["unit"]
        if unit in units and len(value) > MAX_TEXT:
            whole = text.partition(".")[0].lstrip("0")
            if len(whole) > len(str(MAX_LIMIT)) or int(whole or "0") * units[unit] > MAX_LIMIT:
                raise UnitError(_too_large(value))
            raise UnitError(f"{excerpt(value)} is {len(value):,} characters; a limit has at most {MAX_TEXT}")
    else:
        raise UnitError(f"expected {what} such as {_example(units)}, got {_describe(value)}")
    if unit not in units:
        raise UnitError(f"{_unit_hint(value, unit, units, other, what)}; units: {listing}")
    with localcontext(_EXACT):
        number = Decimal(text)
        if number < 0:
            raise UnitError(f"{excerpt(value)} is negative; a limit is {what} ≥ 0")
        scaled = number * units[unit]
        if scaled > MAX_LIMIT:
            raise UnitError(_too_large(value))
        if scaled != scaled.to_integral_value():
            raise UnitError(f"{excerpt(value)} is {scaled.normalize():f}, not a whole number; {what} must be whole")
        return int(scaled)


def _too_large(value: object) -> str:
    return f"{excerpt(value)} is too large; a limit is at most 10^40"


def _describe(value: object) -> str:
    """A value's type in words, as the spec's messages say it (never an internal class name)."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return excerpt(value)


def _unit_hint(value: object, unit: str, units: dict[str, int], other: dict[str, int], what: str) -> str:
    if unit in other:
        if units is COUNT_UNITS:
            return f"{excerpt(value)} is a size in bytes, but this figure is {what}"
        prefix = unit.upper()
        return (
            f"{excerpt(value)} is ambiguous for {what}: write {prefix}iB (powers of 1024) or {prefix}B (powers of 1000)"
        )
    same_letters = [u for u in units if u and u.lower() == unit.lower()]
    hint = f" (did you mean '{same_letters[0]}'?)" if same_letters else did_you_mean(unit, [u for u in units if u])
    return f"unknown unit {excerpt(unit)} in {excerpt(value)}{hint}"


def _example(units: dict[str, int]) -> str:
    return "25.6M" if units is COUNT_UNITS else "96MiB"
