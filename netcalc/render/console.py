"""The rich console every table renderer draws on: captured to a string, sized for a terminal or for a file.

rich is imported inside `text_console`, so JSON, CSV and Markdown output never pay for it.
"""

from __future__ import annotations

import io
from typing import Any

# Piped to a file there is no terminal width: lay tables out at their natural width, not rich's 80 columns,
# which would squeeze the figures out.
NATURAL_WIDTH = 1000


def text_console(width: int | None, color: bool) -> Any:
    """A rich Console writing into a string; read what was printed with `printed(console)`."""
    from rich.console import Console

    return Console(
        file=io.StringIO(), width=width or NATURAL_WIDTH, force_terminal=color, no_color=not color, highlight=False
    )


def printed(console: Any) -> str:
    return console.file.getvalue()
