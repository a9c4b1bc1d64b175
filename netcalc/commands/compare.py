"""`netcalc compare` (several networks side by side) and `netcalc diff` (two versions of one network)."""

from __future__ import annotations

from pathlib import Path

import click

from netcalc.analysis.analyze import analyze_network
from netcalc.analysis.compare import SORT_COLUMNS
from netcalc.analysis.report import DTYPE_BYTES, Report
from netcalc.commands.options import (
    BATCH,
    analysis_options,
    format_option,
    load_spec,
    optimizer_option,
    terminal_renderers,
)
from netcalc.errors import NetcalcError
from netcalc.shapes import Shape, parse_shape


def input_shapes_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[Shape, ...] | None:
    """`224x224x3,320x320x3`: one or more input sizes, comma-separated."""
    if value is None:
        return None
    try:
        return tuple(dict.fromkeys(parse_shape(part) for part in value.split(",")))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def split_label(argument: str) -> tuple[str | None, str]:
    """`label=path` → (label, path); a plain path (or an existing file whose name holds `=`) → (None, path)."""
    if "=" not in argument or Path(argument).exists():
        return None, argument
    label, path = argument.split("=", 1)
    if not label or not path:
        raise NetcalcError(f"{argument!r}: expected LABEL=SPEC or SPEC")
    return label, path


def _shape_text(shape: Shape) -> str:
    return "x".join(map(str, shape))


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option(
    "--input",
    "input_shapes",
    callback=input_shapes_callback,
    metavar="HxWxC[,HxWxC…]",
    help="analyse every spec at these input sizes (one row each) instead of its own",
)
@click.option("--batch", type=BATCH, default=1, show_default=True, help="batch size N")
@click.option(
    "--dtype", type=click.Choice(tuple(DTYPE_BYTES)), default="float32", show_default=True, help="element type"
)
@optimizer_option
@click.option("--baseline", metavar="NAME", help="show every figure also as a ratio to the row labelled NAME")
@click.option("--sort", type=click.Choice(SORT_COLUMNS), help="order rows by this column (ascending)")
@format_option(("table", "json", "csv", "markdown"), "table")
def compare(
    specs: tuple[str, ...],
    input_shapes: tuple[Shape, ...] | None,
    batch: int,
    dtype: str,
    optimizer: str,
    baseline: str | None,
    sort: str | None,
    fmt: str,
) -> None:
    """Several networks side by side: parameters, MACs, FLOPs, memory, depth and largest layers, one row each.

    A SPEC may be written LABEL=SPEC to name its row. With several --input sizes, each spec gives one row per
    size, labelled LABEL@HxWxC.
    """
    from netcalc.analysis.compare import compare as compare_reports
    from netcalc.render.compare import RENDERERS

    shapes: tuple[Shape | None, ...] = input_shapes or (None,)
    analysed: list[tuple[str | None, str, Report]] = []
    for argument in specs:
        label, path = split_label(argument)
        for shape in shapes:
            report = analyze_network(load_spec(path, input_shape=shape), batch=batch, dtype=dtype, optimizer=optimizer)
            analysed.append((label, path, report))
    names = [report.name for label, _, report in analysed if label is None]
    entries = []
    for label, path, report in analysed:
        if label is None:  # a spec's name, or its path when two specs share a name
            label = report.name if names.count(report.name) == len(shapes) else path
        if len(shapes) > 1:
            label = f"{label}@{_shape_text(report.input_shape)}"
        entries.append((label, report))
    comparison = compare_reports(entries, baseline=baseline, sort=sort)
    click.echo(terminal_renderers(RENDERERS)[fmt](comparison), nl=False)


@click.command("diff")
@click.argument("old")
@click.argument("new")
@analysis_options()
@format_option(("table", "json", "markdown"), "table")
def diff_command(old: str, new: str, input_shape: Shape | None, batch: int, dtype: str, fmt: str) -> None:
    """What changed from OLD to NEW (two versions of a spec): layers added, removed and changed, matched by
    name, with their deltas, and the change in totals."""
    from netcalc.analysis.diff import diff
    from netcalc.render.diff import RENDERERS

    networks = [load_spec(path, input_shape=input_shape) for path in (old, new)]
    reports = [analyze_network(network, batch=batch, dtype=dtype) for network in networks]
    result = diff(networks[0], reports[0], networks[1], reports[1])
    click.echo(terminal_renderers(RENDERERS)[fmt](result), nl=False)
