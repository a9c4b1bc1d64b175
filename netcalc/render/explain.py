"""`netcalc explain` output: aligned text, a function of the Explanation alone."""

from __future__ import annotations

from netcalc.analysis.explain import Explanation
from netcalc.render.console import printable


def to_text(explanation: Explanation) -> str:
    head = f"{explanation.layer} ({explanation.kind})" + (f" — {explanation.where}" if explanation.where else "")
    lines = [printable(head)]
    width = max((len(label) for _, section in explanation.sections for label, _ in section), default=0)
    for title, section in explanation.sections:
        if not section:
            continue
        lines += ["", f"{title}:"]
        lines += [f"  {label.ljust(width)}  {printable(text)}" for label, text in section]
    return "\n".join(lines) + "\n"
