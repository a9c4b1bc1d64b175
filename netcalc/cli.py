"""The `netcalc` command: a thin layer over the library.

Data goes to stdout, diagnostics to stderr. One place (`NetcalcGroup.invoke`) turns a NetcalcError into a
one-line message and its exit code; commands return nothing or call `ctx.exit(code)`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from netcalc import __version__
from netcalc.analysis import analyze_network
from netcalc.errors import NetcalcError
from netcalc.report import DTYPE_BYTES
from netcalc.shapes import Shape, parse_shape
from netcalc.spec import load_network

F = TypeVar("F", bound=Callable[..., Any])


class NetcalcGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NetcalcError as error:
            click.echo(f"netcalc: error: {error}", err=True)
            ctx.exit(error.exit_code)
        except BrokenPipeError:  # `netcalc summary … | head`
            sys.stderr.close()
            ctx.exit(0)


def _input_shape(ctx: click.Context, param: click.Parameter, value: str | None) -> Shape | None:
    if value is None:
        return None
    try:
        return parse_shape(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def analysis_options(dtypes: tuple[str, ...] = tuple(DTYPE_BYTES)) -> Callable[[F], F]:
    """--input, --batch and --dtype, shared by every command that analyses a spec."""

    def decorate(command: F) -> F:
        command = click.option(
            "--dtype", type=click.Choice(dtypes), default="float32", show_default=True, help="element type"
        )(command)
        command = click.option(
            "--batch", type=click.IntRange(min=1), default=1, show_default=True, help="batch size N"
        )(command)
        return click.option(
            "--input",
            "input_shape",
            callback=_input_shape,
            metavar="HxWxC",
            help="override the spec's input size, e.g. 320x320x3",
        )(command)

    return decorate


def format_option(choices: tuple[str, ...] | list[str], default: str) -> Callable[[F], F]:
    return click.option(
        "--format", "fmt", type=click.Choice(list(choices)), default=default, show_default=True, help="output format"
    )


def terminal_width() -> int | None:
    """The width to lay tables out for: $COLUMNS, the terminal's, or rich's default when piped."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else None


def wants_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@click.group(cls=NetcalcGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="netcalc")
def cli() -> None:
    """What a convolutional network costs: shapes, parameters, MACs and memory, layer by layer."""


@cli.command()
@click.argument("spec")
@analysis_options()
@format_option(("table", "json", "csv", "markdown"), "table")
@click.option("--depth", type=click.IntRange(min=1), help="fold blocks nested deeper than this into one row")
@click.option("--strict", is_flag=True, help="treat input pixels left unread by a stride as an error")
def summary(
    spec: str, input_shape: Shape | None, batch: int, dtype: str, fmt: str, depth: int | None, strict: bool
) -> None:
    """Per-layer shapes, parameters, MACs and memory of SPEC, with totals."""
    from netcalc.render.summary import RENDERERS, to_table

    network = load_network(spec, input_shape=input_shape)
    report = analyze_network(network, batch=batch, dtype=dtype, strict=strict)
    if fmt == "table":
        click.echo(to_table(report, depth, width=terminal_width(), color=wants_color()), nl=False)
    else:
        click.echo(RENDERERS[fmt](report, depth), nl=False)


@cli.command()
@click.argument("spec")
@click.option("--input", "input_shape", callback=_input_shape, metavar="HxWxC", help="override the input size")
def show(spec: str, input_shape: Shape | None) -> None:
    """Print SPEC fully expanded: every block and repeat unrolled, every default filled in.

    The output is itself a spec: analysing it gives the same figures.
    """
    from netcalc.render.expanded import to_yaml

    click.echo(to_yaml(load_network(spec, input_shape=input_shape)), nl=False)


@cli.command()
@click.argument("kind", required=False)
def kinds(kind: str | None) -> None:
    """List the layer kinds, or one KIND's attributes with their defaults."""
    from netcalc.render.kinds import describe_kind, list_kinds

    click.echo(list_kinds() if kind is None else describe_kind(kind), nl=False)


def run() -> None:
    """Console-script entry point."""
    cli(prog_name="netcalc")
