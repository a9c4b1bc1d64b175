"""Human units for tables: counts in K/M/G/T (powers of 1000), bytes in KiB/MiB/GiB (powers of 1024)."""

from __future__ import annotations


def _scaled(value: int, scale: int) -> str:
    """`value / scale` to two decimals. Past float's exact range the division is done in integers, so a
    figure of any size renders (a float would overflow past 10³⁰⁸)."""
    if abs(value) < 2**53:
        return f"{value / scale:.2f}"
    hundredths = (abs(value) * 100 + scale // 2) // scale
    whole, cents = divmod(hundredths, 100)
    return f"{'-' if value < 0 else ''}{whole}.{cents:02d}"


def human_count(value: int) -> str:
    """`138.36M` for 138,357,544; exact below 1000."""
    if abs(value) < 1000:
        return str(value)
    for unit, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(value) >= scale:
            return f"{_scaled(value, scale)}{unit}"
    raise AssertionError("unreachable")


def human_bytes(value: int) -> str:
    """`527.79 MiB` for 553,430,176 bytes; exact below 1 KiB."""
    if abs(value) < 1024:
        return f"{value} B"
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= scale:
            return f"{_scaled(value, scale)} {unit}"
    raise AssertionError("unreachable")


def share_bar(share: float, width: int = 10) -> str:
    """A bar of eighth-blocks for a share in [0, 1], e.g. `█████▌    `."""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + ("" if part == 0 else "▏▎▍▌▋▊▉"[part - 1])
    return bar.ljust(width)
