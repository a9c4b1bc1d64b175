"""`netcalc report` (one self-contained HTML page) and `netcalc graph` (DOT, Mermaid or SVG)."""

from __future__ import annotations

import click

from netcalc.analysis.analyze import analyze_network
from netcalc.commands.options import analysis_options, format_option, load_spec, write_output
from netcalc.shapes import Shape


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@analysis_options()
@click.option(
    "-o", "--output", default="netcalc-report.html", show_default=True, help="the HTML file to write (- for stdout)"
)
@click.option("--title", help="the page title (default: the networks' names)")
def report(
    specs: tuple[str, ...], input_shape: Shape | None, batch: int, dtype: str, output: str, title: str | None
) -> None:
    """Write one HTML page for SPEC (or a comparison of several): the network drawn as a graph, a sortable
    per-layer table with bars, the totals and the notes. It opens offline and loads nothing from anywhere."""
    from netcalc.render.html import to_html

    reports = [analyze_network(load_spec(spec, input_shape=input_shape), batch=batch, dtype=dtype) for spec in specs]
    write_output(to_html(reports, title=title), output)


@click.command()
@click.argument("spec")
@analysis_options()
@format_option(("dot", "mermaid", "svg"), "dot")
@click.option("-o", "--output", help="the file to write (default: stdout)")
def graph(spec: str, input_shape: Shape | None, batch: int, dtype: str, fmt: str, output: str | None) -> None:
    """The network as a graph for docs and papers: Graphviz DOT, a Mermaid flowchart or a standalone SVG."""
    from netcalc.render.graph import RENDERERS

    network = load_spec(spec, input_shape=input_shape)
    write_output(RENDERERS[fmt](analyze_network(network, batch=batch, dtype=dtype)), output)
