"""The `netcalc` command: a thin layer over the library.

Data goes to stdout, diagnostics to stderr. One place (`NetcalcGroup.invoke`) turns a NetcalcError into a
one-line message and its exit code; commands live in `netcalc/commands/` and end with `ctx.exit(code)` when
their result is not plain success (verify and check exit 1 when a figure disagrees or a budget is exceeded).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from netcalc import __version__
from netcalc.commands.check import check
from netcalc.commands.compare import compare, diff_command
from netcalc.commands.onnx import export_command, import_command
from netcalc.commands.summary import kinds, show, summary
from netcalc.commands.verify import verify
from netcalc.errors import NetcalcError


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


@click.group(cls=NetcalcGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="netcalc")
def cli() -> None:
    """What a convolutional network costs: shapes, parameters, MACs and memory, layer by layer."""


COMMANDS = (summary, show, kinds, verify, compare, diff_command, check, import_command, export_command)
for _command in COMMANDS:
    cli.add_command(_command)


def run() -> None:
    """Console-script entry point."""
    cli(prog_name="netcalc")
