"""Every error netcalc reports to a user, with where it happened.

The CLI maps these to exit code 2 and a one-line message; nothing else in the package prints.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in a spec something stands: file, 1-based line, and the YAML path or layer name."""

    file: str | None = None
    line: int | None = None
    where: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.where:
            parts.append(self.where)
        return ": ".join(parts)


class NetcalcError(Exception):
    """Bad input of any kind: a spec, a budget, an option. Exit code 2."""

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None or not str(self.location):
            return self.message
        return f"{self.location}: {self.message}"

    def at(self, location: Location) -> NetcalcError:
        """The same error, placed at `location` unless it already knows where it is."""
        if self.location is None:
            self.location = location
        return self


class SpecError(NetcalcError):
    """The spec file is unreadable, malformed or describes an impossible network."""


class ShapeError(NetcalcError):
    """A layer cannot accept its input shape (raised by kinds, located by the analysis)."""


class AttrError(NetcalcError):
    """A layer attribute has the wrong type or value (raised by kinds, located by the parser)."""


MAX_EXCERPT = 60  # characters of a user's value quoted in a message


def excerpt(value: object, limit: int = MAX_EXCERPT) -> str:
    """`repr(value)` for a message, at most about `limit` characters (a 50 MB value is not echoed back).

    A huge whole number is described by its digit count (Python refuses its repr past 4,300 digits).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"a number of about {int(value.bit_length() * 0.30103):,} digits"
    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxlist, shortener.maxtuple, shortener.maxdict = 3, 6, 6, 4
    shortener.maxstring = shortener.maxother = shortener.maxlong = limit
    try:
        text = shortener.repr(value)
    except ValueError:  # a huge int nested in a list
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_MESSAGE = 360  # characters: a message longer than this keeps its start and end (the value in between is cut)


def printable(text: str) -> str:
    """`text` with control characters shown as escapes (`\\n`, `\\x07`), so no user string can break a line or
    move the cursor."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """`message` on one line (newlines and control characters escaped) of at most about `limit` characters."""
    flat = printable(message)
    if len(flat) <= limit:
        return flat
    tail = limit // 4
    return f"{flat[: limit - tail - 3]} … {flat[-tail:]}"


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the nearest known word, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
