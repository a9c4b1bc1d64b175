"""`netcalc summary`, `netcalc show` and `netcalc kinds`."""

from __future__ import annotations

import click

from netcalc.analysis.analyze import analyze_network
from netcalc.commands.options import (
    analysis_options,
    format_option,
    input_shape_callback,
    terminal_renderers,
)
from netcalc.language.spec import load_network
from netcalc.shapes import Shape


def columns_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    """`field` or `cost,field,train`: column groups of the table and Markdown."""
    from netcalc.render.summary import GROUPS

    if value is None:
        return ("cost",)
    groups = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [g for g in groups if g not in GROUPS]
    if unknown or not groups:
        raise click.BadParameter(f"expected groups from {', '.join(GROUPS)}, comma-separated; got {value!r}")
    return groups


@click.command()
@click.argument("spec")
@analysis_options()
@format_option(("table", "json", "csv", "markdown"), "table")
@click.option("--depth", type=click.IntRange(min=1), help="fold blocks nested deeper than this into one row")
@click.option("--strict", is_flag=True, help="treat a warning (unread pixels, a layer reaching no output) as an error")
@click.option(
    "--columns",
    callback=columns_callback,
    metavar="GROUP[,GROUP…]",
    help="column groups of the table and Markdown: cost (default), field (receptive field, jump, start), "
    "memory (live bytes), train (backward MACs, saved, training memory); JSON and CSV carry them all",
)
@click.option("--train", is_flag=True, help="add the training columns and what training memory is made of")
def summary(
    spec: str,
    input_shape: Shape | None,
    batch: int,
    dtype: str,
    optimizer: str,
    fmt: str,
    depth: int | None,
    strict: bool,
    columns: tuple[str, ...],
    train: bool,
) -> None:
    """Per-layer shapes, parameters, MACs and memory of SPEC, with totals, the peak memory and (--train)
    training memory; receptive fields with --columns field."""
    from netcalc.render.summary import RENDERERS, warnings

    network = load_network(spec, input_shape=input_shape)
    report = analyze_network(network, batch=batch, dtype=dtype, strict=strict, optimizer=optimizer)
    if train and "train" not in columns:
        columns = (*columns, "train")
    click.echo(terminal_renderers(RENDERERS)[fmt](report, depth, columns), nl=False)
    if fmt in ("json", "csv"):  # the table and Markdown show notes themselves; a program reading data gets them here
        for warning in warnings(report):
            click.echo(f"netcalc: warning: {warning}", err=True)


@click.command()
@click.argument("spec")
@click.argument("layer")
@analysis_options()
def explain(spec: str, layer: str, input_shape: Shape | None, batch: int, dtype: str, optimizer: str) -> None:
    """LAYER of SPEC with its arithmetic written out: output size, parameters, MACs, FLOPs, memory, receptive
    field and backward cost, every formula with its numbers."""
    from netcalc.analysis.explain import explain as explain_layer
    from netcalc.render.explain import to_text

    network = load_network(spec, input_shape=input_shape)
    report = analyze_network(network, batch=batch, dtype=dtype, optimizer=optimizer)
    click.echo(to_text(explain_layer(network, report, layer)), nl=False)


@click.command()
@click.argument("spec")
@click.option("--input", "input_shape", callback=input_shape_callback, metavar="HxWxC", help="override the input size")
def show(spec: str, input_shape: Shape | None) -> None:
    """Print SPEC fully expanded: every block and repeat unrolled, every default filled in.

    The output is itself a spec: analysing it gives the same figures.
    """
    from netcalc.render.expanded import to_yaml

    click.echo(to_yaml(load_network(spec, input_shape=input_shape)), nl=False)


@click.command()
@click.argument("kind", required=False)
def kinds(kind: str | None) -> None:
    """List the layer kinds, or one KIND's attributes with their defaults."""
    from netcalc.render.kinds import describe_kind, list_kinds

    click.echo(list_kinds() if kind is None else describe_kind(kind), nl=False)
