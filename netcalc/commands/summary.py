"""`netcalc summary`, `netcalc show` and `netcalc kinds`."""

from __future__ import annotations

import click

from netcalc.analysis.analyze import analyze_network
from netcalc.commands.options import (
    allow_unknown_option,
    analysis_options,
    format_option,
    input_shape_callback,
    load_spec,
    terminal_renderers,
)
from netcalc.shapes import Shape


@click.command()
@click.argument("spec")
@analysis_options()
@format_option(("table", "json", "csv", "markdown"), "table")
@click.option("--depth", type=click.IntRange(min=1), help="fold blocks nested deeper than this into one row")
@click.option("--strict", is_flag=True, help="treat input pixels left unread by a stride as an error")
def summary(
    spec: str, input_shape: Shape | None, batch: int, dtype: str, fmt: str, depth: int | None, strict: bool
) -> None:
    """Per-layer shapes, parameters, MACs and memory of SPEC, with totals."""
    from netcalc.render.summary import RENDERERS

    network = load_spec(spec, input_shape=input_shape)
    report = analyze_network(network, batch=batch, dtype=dtype, strict=strict)
    click.echo(terminal_renderers(RENDERERS)[fmt](report, depth), nl=False)


@click.command()
@click.argument("spec")
@click.option("--input", "input_shape", callback=input_shape_callback, metavar="HxWxC", help="override the input size")
@allow_unknown_option
def show(spec: str, input_shape: Shape | None) -> None:
    """Print SPEC fully expanded: every block and repeat unrolled, every default filled in.

    The output is itself a spec: analysing it gives the same figures.
    """
    from netcalc.render.expanded import to_yaml

    click.echo(to_yaml(load_spec(spec, input_shape=input_shape)), nl=False)


@click.command()
@click.argument("kind", required=False)
def kinds(kind: str | None) -> None:
    """List the layer kinds, or one KIND's attributes with their defaults."""
    from netcalc.render.kinds import describe_kind, list_kinds

    click.echo(list_kinds() if kind is None else describe_kind(kind), nl=False)
