"""`netcalc report` (one self-contained HTML page) and `netcalc graph` (DOT, Mermaid or SVG)."""

from __future__ import annotations

from pathlib import Path

import click

from netcalc.analysis.analyze import analyze_network
from netcalc.commands.options import analysis_options, format_option, load_spec
from netcalc.errors import NetcalcError
from netcalc.shapes import Shape


def write_output(text: str, output: str | None) -> None:
    """`text` to the file `output` (a line on stderr says so), or to stdout when there is none or it is `-`."""
    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise NetcalcError(f"cannot write {output}: {error.strerror or error}") from None
    click.echo(f"wrote {output} ({len(text.encode()):,} bytes)", err=True)


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
