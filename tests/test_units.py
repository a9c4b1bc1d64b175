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
        (parse_count, "9" * 100, "is too large; a limit is at most 10^40"),  # many digits: too large, not malformed
        (parse_count, [], "expected a count such as 25.6M, got a list"),
        (parse_bytes, {"a": 1}, "expected a size in bytes such as 96MiB, got a mapping"),
        (parse_count, None, "expected a count such as 25.6M, got nothing"),
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


TEN_40 = "1" + "0" * 40  # 10^40, the largest limit (docs/limits.md), written out


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TEN_40, 10**40),
        (10**40, 10**40),
        ("1" + "0" * 28 + "T", 10**40),  # 10^28 · 10^12
        ("1" + "0" * 27 + ".5T", 10**39 + 5 * 10**11),
        ("0" * 60 + "1234", 1234),  # 64 characters: leading zeros count toward the length
    ],
)
def test_the_largest_limits_are_exact(value, expected):
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "1" + "0" * 39 + "1",  # 10^40 + 1: 41 digits, which 28-digit arithmetic rounded to 10^40
        10**40 + 1,
        "1" + "0" * 28 + ".000000000001T",  # (10^28 + 10^-12) · 10^12 = 10^40 + 1
        "9" * 100,  # more than 64 characters, and more than 41 digits
        "9" * 70 + "K",
        "1" + "0" * 40 + ".5",
    ],
)
def test_a_limit_past_10_to_the_40_is_too_large(value):
    with pytest.raises(UnitError, match=r"is too large; a limit is at most 10\^40$"):
        parse_count(value)


def test_a_value_that_is_not_whole_is_quoted_exactly():
    value = "9" * 40 + ".5"  # 10^40 − 0.5: 41 significant digits, more than Decimal's default 28
    with pytest.raises(UnitError) as caught:
        parse_count(value)
    assert str(caught.value) == f"'{value}' is {'9' * 40}.5, not a whole number; a count must be whole"


def test_a_long_value_within_the_maximum_says_how_long_it_is():
    value = "0" * 70 + "5"
    with pytest.raises(UnitError) as caught:
        parse_count(value)
    assert str(caught.value).endswith("is 71 characters; a limit has at most 64")


@pytest.mark.parametrize("value", ["１２３", "٣", "١٢٣M", "1２3", "２GiB", "1.５K", "12３"])
def test_digits_other_than_ascii_are_refused(value):
    parse = parse_bytes if value.endswith("B") else parse_count
    with pytest.raises(UnitError) as caught:
        parse(value)
    assert str(caught.value).startswith(f"malformed value '{value}': expected a ")
    assert str(caught.value).endswith("; digits are 0-9 only")
