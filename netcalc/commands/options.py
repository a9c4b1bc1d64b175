"""Options shared by every command that analyses a spec, and terminal facts for the table renderers."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from netcalc.analysis.memory import OPTIMIZER_STATE
from netcalc.analysis.report import DTYPE_BYTES
from netcalc.errors import NetcalcError
from netcalc.network import Network
from netcalc.shapes import Shape, parse_shape

if TYPE_CHECKING:
    from netcalc.analysis.roofline import Device

F = TypeVar("F", bound=Callable[..., Any])
MAX_BATCH = 2**20  # docs/limits.md
BATCH = click.IntRange(min=1, max=MAX_BATCH)


def input_shape_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Shape | None:
    if value is None:
        return None
    try:
        return parse_shape(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def optimizer_option(command: F) -> F:
    return click.option(
        "--optimizer",
        type=click.Choice(tuple(OPTIMIZER_STATE)),
        default="sgd",
        show_default=True,
        help="optimizer whose state training memory counts (docs/conventions.md)",
    )(command)


def _allow_unknown(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    ctx.meta["allow_unknown"] = value


def allow_unknown_option(command: F) -> F:
    return click.option(
        "--allow-unknown",
        is_flag=True,
        expose_value=False,
        callback=_allow_unknown,
        help="ONNX: an operator netcalc cannot model becomes a layer of kind `unknown` (figures marked partial) "
        "instead of an error",
    )(command)


def load_spec(path: str, input_shape: Shape | None = None) -> Network:
    """The network of a spec or an ONNX file (one loader for every command); an ONNX model's symbolic batch
    is bound only by a --batch given on the command line, and `--allow-unknown` is honoured."""
    from netcalc.bridges import load_model

    ctx = click.get_current_context(silent=True)
    batch = None
    if ctx is not None and "batch" not in ctx.params:
        batch = 1  # a command without --batch (show): the batch does not matter
    elif ctx is not None and ctx.get_parameter_source("batch") not in (None, ParameterSource.DEFAULT):
        batch = ctx.params["batch"]
    allow_unknown = bool(ctx and ctx.meta.get("allow_unknown"))
    return load_model(path, input_shape=input_shape, batch=batch, allow_unknown=allow_unknown)


def analysis_options(dtypes: tuple[str, ...] = tuple(DTYPE_BYTES), optimizer: bool = False) -> Callable[[F], F]:
    """--input, --batch, --dtype and --allow-unknown (and --optimizer), shared by every command that analyses a
    spec."""

    def decorate(command: F) -> F:
        command = allow_unknown_option(command)
        if optimizer:
            command = optimizer_option(command)
        command = click.option(
            "--dtype", type=click.Choice(dtypes), default="float32", show_default=True, help="element type"
        )(command)
        command = click.option(
            "--batch", type=BATCH, default=1, show_default=True, help="batch size N"
        )(command)
        return click.option(
            "--input",
            "input_shape",
            callback=input_shape_callback,
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


Renderers = Mapping[str, Callable[..., str]]


def terminal_renderers(renderers: Renderers, table: str = "table") -> dict[str, Callable[..., str]]:
    """A command's renderers, with the rich one (`table`) told this terminal's width and whether to colour."""
    return {**renderers, table: partial(renderers[table], width=terminal_width(), color=wants_color())}


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


def load_device_or_calibrate(device: str) -> Device:
    """A built-in profile or a profile file; `calibrated`: this machine, measured now with NumPy (a second)."""
    if device == "calibrated":
        from netcalc.reference.calibrate import calibrate

        return calibrate(seconds=0.3)
    from netcalc.analysis.devices import load_device

    return load_device(device)
