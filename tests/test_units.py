"""Figures with units, as budgets write them: exact scaling, and clean errors for bad values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netcalc.errors import NetcalcError
from netcalc.units import UnitError, parse_bytes, parse_count


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25M", 25 * 10**6),
        ("25.6M", 256 * 10**5),
        ("4.1G", 41 * 10**8),  # exactly: a float would give 4099999999.9999995
        ("1.5K", 1500),
        ("3k", 3000),
        ("2T", 2 * 10**12),
        ("0.001G", 10**6),
        ("1000", 1000),
        ("1_000_000", 10**6),
        ("25 M", 25 * 10**6),
        ("0", 0),
        (1000, 1000),
        (2.0, 2),
    ],
)
def test_counts(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("96MiB", 96 * 2**20),
        ("2GiB", 2 * 2**30),
        ("1.5KiB", 1536),
        ("0.5KiB", 512),
        ("1TiB", 2**40),
        ("500KB", 500 * 1000),
        ("500kB", 500 * 1000),
        ("12MB", 12 * 10**6),
        ("1.2GB", 12 * 10**8),
        ("4096B", 4096),
        ("4096", 4096),
        (4096, 4096),
    ],
)
def test_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (parse_count, "1.5", "'1.5' is 1.5, not a whole number"),
        (parse_count, "1.0000001K", "not a whole number"),
        (parse_bytes, "0.3B", "not a whole number"),
        (parse_count, "25m", "unknown unit 'm' in '25m' (did you mean 'M'?)"),
        (parse_count, "12X", "unknown unit 'X'"),
        (parse_count, "96MiB", "is a size in bytes, but this figure is a count"),
        (parse_bytes, "96M", "ambiguous for a size in bytes: write MiB (powers of 1024) or MB (powers of 1000)"),
        (parse_bytes, "96mib", "(did you mean 'MiB'?)"),
        (parse_bytes, "1Mb", "(did you mean 'MB'?)"),
        (parse_count, "1e9", "malformed value '1e9'"),
        (parse_count, "4.1.2G", "malformed value"),
        (parse_count, "M", "malformed value"),
        (parse_count, "", "malformed value"),
        (parse_count, "-5M", "malformed value"),
        (parse_count, -5, "is negative"),
        (parse_count, True, "expected a count"),
        (parse_count, None, "expected a count"),
        (parse_count, [1], "expected a count"),
        (parse_count, float("nan"), "expected a count"),
        (parse_count, "9" * 100, "malformed value"),
    ],
)
def test_bad_values_fail_cleanly(parse, value, message):
    with pytest.raises(UnitError) as caught:
        parse(value)
    assert message in str(caught.value)
    assert isinstance(caught.value, NetcalcError)  # the CLI maps it to exit 2


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(["K", "M", "G", "T"]))
def test_whole_counts_scale_exactly(n, unit):
    scale = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}[unit]
    assert parse_count(f"{n}{unit}") == n * scale


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=9))
def test_decimal_counts_are_exact(whole, tenths):
    assert parse_count(f"{whole}.{tenths}G") == whole * 10**9 + tenths * 10**8
