"""The text console every table renderer draws on: tables with box-drawing borders, captured to a string.

netcalc draws its tables itself instead of through rich: the layout is a few string joins per row (rich spent
~0.4 ms a row measuring and wrapping cells, issue 12), no user string is ever parsed as markup (a layer named
`x[/]` or `[bold]conv1x` prints as written, issue 9), and figures are never cut however narrow the terminal:
only the columns declared `no_wrap=False` (names, kinds, free text) give way, with an ellipsis, and when even
that is not enough the line is left longer than the terminal rather than losing a digit.

The look is rich's default (`box.HEAVY_HEAD`, one space of padding, a bold header, an italic title), so the
golden files did not change. Colour is plain ANSI SGR, only when the caller asks for it (a terminal without
NO_COLOR). The API is the small subset of rich's the renderers used: `Table.add_column/add_row`,
`Text(text, style=…)`, `console.print(…)`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from netcalc.errors import printable

# Piped to a file there is no terminal width: lay tables out at their natural width.
NATURAL_WIDTH = 1000
ELLIPSIS = "…"
MIN_SHRUNK = 4  # a column that gives way keeps at least this many characters (with its ellipsis)

_SGR = {"bold": "1", "italic": "3", "red": "31", "green": "32", "yellow": "33"}


@dataclass(frozen=True)
class Text:
    """A string printed exactly as written, in an optional style (`"bold red"`)."""

    text: str
    style: str = ""


Cell = str | Text


def _styled(text: str, style: str, color: bool) -> str:
    if not color or not style or not text:
        return text
    codes = ";".join(_SGR[word] for word in style.split() if word in _SGR)
    return f"\x1b[{codes}m{text}\x1b[0m" if codes else text


def cell_width(text: str) -> int:
    """Terminal cells `text` takes: wide (CJK) characters count 2, combining marks 0."""
    if text.isascii():
        return len(text)
    return _unicode_width(text)


@lru_cache(maxsize=65536)
def _unicode_width(text: str) -> int:
    """Remembered: a long table repeats the same few non-ASCII cells (`56×56×64`, `—`) on every row."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cut(text: str, width: int) -> str:
    """`text` shortened to `width` cells, ending in an ellipsis when anything was cut."""
    if cell_width(text) <= width:
        return text
    kept, used = [], 0
    for c in text:
        w = cell_width(c)
        if used + w > width - 1:
            break
        kept.append(c)
        used += w
    return "".join(kept) + ELLIPSIS


@dataclass
class _Column:
    header: str
    footer: str
    justify: str
    shrinks: bool
    min_width: int
    style: str = ""


@dataclass
class Table:
    """A table drawn like rich's default one. Cells are `str` or `Text`; nothing in them is markup."""

    title: str | None = None
    title_justify: str = "center"
    show_footer: bool = False
    header_style: str = "bold"
    footer_style: str = ""
    columns: list[_Column] = field(default_factory=list)
    rows: list[list[Text]] = field(default_factory=list)

    def add_column(
        self,
        header: str = "",
        *,
        footer: str = "",
        justify: str = "left",
        no_wrap: bool = False,
        min_width: int = 0,
        overflow: str = "ellipsis",
        style: str = "",
    ) -> None:
        """`no_wrap=True` marks a column that must never lose a character (figures); the others may be cut."""
        del overflow  # always an ellipsis; kept for rich's signature
        self.columns.append(_Column(printable(header), printable(footer), justify, not no_wrap, min_width, style))

    def add_row(self, *cells: Cell) -> None:
        self.rows.append(
            [Text(printable(c)) if isinstance(c, str) else Text(printable(c.text), c.style) for c in cells]
        )

    def _widths(self, width: int) -> tuple[list[int], list[bool]]:
        """Each column's width, and whether it is narrower than its widest cell (so cells must be cut)."""
        natural = [max(cell_width(c.header), cell_width(c.footer), c.min_width) for c in self.columns]
        for row in self.rows:
            for i, cell in enumerate(row):
                w = cell_width(cell.text)
                if w > natural[i]:
                    natural[i] = w
        wanted = list(natural)
        # Each column has one space of padding either side and one border to its left, plus the right edge.
        excess = sum(natural) + 3 * len(natural) + 1 - width
        shrinking = [i for i, c in enumerate(self.columns) if c.shrinks and natural[i] > MIN_SHRUNK]
        while excess > 0 and shrinking:
            # Take from the widest shrinkable column first, so short names stay whole as long as possible.
            widest = max(shrinking, key=lambda i: natural[i])
            others = [natural[i] for i in shrinking if i != widest]
            target = max(MIN_SHRUNK, max(others, default=MIN_SHRUNK), natural[widest] - excess)
            if target >= natural[widest]:
                target = natural[widest] - 1
            excess -= natural[widest] - target
            natural[widest] = target
            shrinking = [i for i in shrinking if natural[i] > MIN_SHRUNK]
        return natural, [w < full for w, full in zip(natural, wanted, strict=True)]

    def lines(self, width: int, color: bool) -> list[str]:
        widths, shrunk = self._widths(width)

        def row_line(cells: list[Text], left: str, mid: str, right: str, style: str = "") -> str:
            parts = []
            for i, cell in enumerate(cells):
                text = _cut(cell.text, widths[i]) if shrunk[i] else cell.text
                pad = widths[i] - cell_width(text)
                text = _styled(text, cell.style or style or self.columns[i].style, color)
                parts.append(" " * pad + text if self.columns[i].justify == "right" else text + " " * pad)
            return left + " " + f" {mid} ".join(parts) + " " + right

        def rule(left: str, line: str, cross: str, right: str) -> str:
            return left + cross.join(line * (w + 2) for w in widths) + right

        total = sum(widths) + 3 * len(widths) + 1
        out = []
        if self.title is not None:
            title = printable(self.title)
            pad = max(0, total - cell_width(title))
            if self.title_justify == "left":
                title = _styled(title, "italic", color) + " " * pad
            else:
                title = " " * (pad // 2) + _styled(title, "italic", color) + " " * (pad - pad // 2)
            out.append(title)
        out.append(rule("┏", "━", "┳", "┓"))
        out.append(row_line([Text(c.header) for c in self.columns], "┃", "┃", "┃", self.header_style))
        out.append(rule("┡", "━", "╇", "┩"))
        out.extend(row_line(row, "│", "│", "│") for row in self.rows)
        if self.show_footer:
            out.append(rule("├", "─", "┼", "┤"))
            out.append(row_line([Text(c.footer) for c in self.columns], "│", "│", "│", self.footer_style))
        out.append(rule("└", "─", "┴", "┘"))
        return out


class TextConsole:
    """Collects printed tables and lines into a string; `width` is the terminal's (None when piped)."""

    def __init__(self, width: int | None, color: bool) -> None:
        self.width = width or NATURAL_WIDTH
        self.color = color
        self.parts: list[str] = []

    def print(self, *objects: str | Text | Table, style: str = "") -> None:
        """Print tables, or one line of plain strings and `Text`s joined by spaces (never parsed as markup)."""
        if len(objects) == 1 and isinstance(objects[0], Table):
            self.parts.append("\n".join(objects[0].lines(self.width, self.color)) + "\n")
            return
        pieces = []
        for obj in objects:
            text, own = (obj.text, obj.style) if isinstance(obj, Text) else (str(obj), "")
            pieces.append(_styled(printable(text), own or style, self.color))
        self.parts.append(" ".join(pieces) + "\n")


def text_console(width: int | None, color: bool) -> TextConsole:
    """A console writing into a string; read what was printed with `printed(console)`."""
    return TextConsole(width, color)


def printed(console: TextConsole) -> str:
    return "".join(console.parts)
