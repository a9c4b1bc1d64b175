"""`netcalc report`: one self-contained HTML file — the network drawn, a sortable table, bars and totals.

The page is a function of finished Reports. Its data is embedded as JSON and its code (netcalc's own, in
`render/assets/`, a few KB, no framework) is inlined, so it opens offline; a Content-Security-Policy that
allows no connection of any kind makes sure that no request ever leaves the page.
The graph's layout is computed here (`render.layout`), once, in linear time; the page only draws it, which is
what keeps a 10,000-layer report quick to open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from html import escape
from importlib.resources import files
from typing import Any

from netcalc.analysis.report import Report
from netcalc.render.layout import layered_layout
from netcalc.render.summary import report_dict

CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


def _asset(name: str) -> str:
    return files("netcalc.render").joinpath("assets", name).read_text(encoding="utf-8")


def network_data(report: Report, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One network's part of the page: the JSON report (schema as `summary --format json`), each layer's
    chain of groups, the groups themselves, and the layout."""
    data = report_dict(report)
    for item, row in zip(data["layers"], report.layers, strict=True):
        item["groups"] = [g.name for g in row.groups]
    groups: dict[str, dict[str, Any]] = {}
    for row in report.layers:
        for depth, group in enumerate(row.groups):
            if group.name not in groups:
                where = group.location
                groups[group.name] = {
                    "name": group.name,
                    "label": group.label,
                    "depth": depth,
                    "output": report.group_outputs.get(group.name),
                    "file": where.file if where else None,
                    "line": where.line if where else None,
                }
    layout = layered_layout([(row.name, row.inputs) for row in report.layers])
    data["groups"] = list(groups.values())
    data["layout"] = {
        "nodes": [[n.name, n.row, round(n.column, 3)] for n in layout.nodes],
        "rows": layout.rows,
        "columns": round(layout.columns, 3),
    }
    data.update(extra or {})
    return data


MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's: JSON.parse rounds a larger integer to the nearest double


def exact_for_javascript(value: Any) -> Any:
    """`value` with every integer past 2⁵³ − 1 in magnitude written as a decimal string, which the page's code
    formats exactly (a JSON number that large would be rounded by JSON.parse: 11,259,767,864,950,605 → …604)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) > MAX_SAFE_INTEGER else value
    if isinstance(value, dict):
        return {key: exact_for_javascript(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact_for_javascript(item) for item in value]
    return value


def to_html(reports: Sequence[Report], *, title: str | None = None, extras: Sequence[dict[str, Any]] = ()) -> str:
    """The report page for one network, or a comparison of several (a tab each and a totals table)."""
    from netcalc import __version__

    payload = {
        "generator": f"netcalc {__version__}",
        "networks": [network_data(r, extras[i] if i < len(extras) else None) for i, r in enumerate(reports)],
    }
    # No `<` at all inside the <script> element (`</script>`, `<!--` would end or derail it); JSON's \u003c.
    data = json.dumps(exact_for_javascript(payload), ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    page_title = title or " vs ".join(r.name for r in reports)
    parts = {
        "CSP": CSP,
        "TITLE": escape(page_title),
        "CSS": _asset("report.css"),
        "DATA": data,
        "JS": _asset("report.js"),
    }
    # One pass, so nothing inserted (a layer named `{{JS}}`) is itself substituted.
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: parts[m.group(1)], _asset("report.html"))
