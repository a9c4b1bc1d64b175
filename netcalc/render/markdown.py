"""Escaping for the Markdown renderers, so a name is shown verbatim and never splits a table row.

GitHub-flavoured Markdown splits a table row at every `|` not preceded by a backslash, even inside a code span,
and removes that backslash before reading the cell's inline content (so `\\|` inside a code span shows `|`).
A code span's fence is a run of backticks, and the span ends at the next run of the same length: a name with a
backtick needs a longer fence (CommonMark, "Code spans").
"""

from __future__ import annotations

import re

_BACKTICK_RUNS = re.compile(r"`+")
# backslash-escaped in plain text: what can start inline markup (an escape, a code span, emphasis, a link,
# HTML or an entity, strikethrough); `_` only where it can open or close emphasis, not inside a word (`res_2a`)
_MARKUP = re.compile(r"[\\`*\[\]<>&~]|(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])")


def cell(text: str) -> str:
    """`text` (already Markdown) made safe for one table cell: every `|` written `\\|`."""
    return text.replace("|", "\\|")


def code(text: str) -> str:
    """`text` as a CommonMark code span: a fence one backtick longer than the longest run inside it, padded with a
    space on each side when the text starts or ends with a backtick (or with a space, which the parser strips)."""
    if not text:
        return ""
    longest = max(map(len, _BACKTICK_RUNS.findall(text))) if "`" in text else 0
    fence = "`" * (longest + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    if pad and text.strip(" ") == "":
        pad = ""  # a span of spaces only is kept as it is
    return f"{fence}{pad}{text}{pad}{fence}"


def text(value: str) -> str:
    """`value` as plain Markdown text shown verbatim: markup characters backslash-escaped."""
    return _MARKUP.sub(lambda m: "".join("\\" + c for c in m.group()), value)


def code_cell(value: str) -> str:
    """A name in a table cell: a code span with its `|` escaped."""
    return cell(code(value))


def text_cell(value: str) -> str:
    """Plain text in a table cell: markup and `|` escaped."""
    return cell(text(value))
