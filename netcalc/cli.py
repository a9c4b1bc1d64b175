"""The `netcalc` command: a thin layer over the library.

Data goes to stdout, diagnostics to stderr. One place (`NetcalcGroup.main`) turns every failure — a
NetcalcError, a click usage error, an unwritable stream — into a one-line message and its exit code.
Commands live in `netcalc/commands/` and end with `ctx.exit(code)` when their result is not plain success
(verify and check exit 1 when a figure disagrees or a budget is exceeded).
"""

from __future__ import annotations

import difflib
import errno
import gc
import importlib
import io
import os
import sys
from typing import Any

import click

from netcalc import __version__
from netcalc.errors import NetcalcError, one_line

# Each command's name and where it is defined. A process imports only the module of the command it runs (all of
# them for `--help`): `summary` need not build the dataclasses and click options of `check`, `compare`, `report`
# and the ONNX bridge's commands, about 10 ms of a 0.1-0.2 s process.
COMMANDS = {
    "calibrate": "netcalc.commands.summary:calibrate",
    "check": "netcalc.commands.check:check",
    "compare": "netcalc.commands.compare:compare",
    "devices": "netcalc.commands.summary:devices",
    "diff": "netcalc.commands.compare:diff_command",
    "explain": "netcalc.commands.summary:explain",
    "export": "netcalc.commands.onnx:export_command",
    "graph": "netcalc.commands.report:graph",
    "import": "netcalc.commands.onnx:import_command",
    "kinds": "netcalc.commands.summary:kinds",
    "report": "netcalc.commands.report:report",
    "schema": "netcalc.commands.summary:schema",
    "show": "netcalc.commands.summary:show",
    "summary": "netcalc.commands.summary:summary",
    "verify": "netcalc.commands.verify:verify",
}


class NetcalcGroup(click.Group):
    """The one place that turns every failure into a one-line message and an exit code (docs/limits.md):

    - 0 success; 1 a result (`verify` found a disagreement, `check` a budget exceeded);
    - 2 the command could not do its job: bad input (a spec, a budget, an option — click's usage errors
      included, as one line instead of click's three), or an output stream that cannot be written (stdout
      closed, a full disk, a broken pipe), so a broken stream never reads as a result.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name = COMMANDS[cmd_name].split(":")
        return getattr(importlib.import_module(module), name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in COMMANDS and not args[0].startswith("-"):
            close = difflib.get_close_matches(args[0], COMMANDS, n=1)
            if close:
                ctx.fail(f"No such command {args[0]!r}. Did you mean {close[0]!r}?")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OSError as error:
            raise _OutputError(error) from None

    def main(self, args: Any = None, prog_name: str | None = None, *rest: Any, **extra: Any) -> Any:
        if extra.pop("standalone_mode", True) is False or rest:  # library use: click's own behaviour
            return super().main(args, prog_name, *rest, standalone_mode=False, **extra)
        if sys.stdout is None or getattr(sys.stdout, "closed", False):
            sys.exit(_fail("standard output is closed; there is nowhere to write the result"))
        # A command is a short-lived process building many small objects that are all kept until it exits
        # (layers, rows, cells): the cyclic collector only re-scans them, which made 100,000-layer specs
        # ~2x slower (issue 9, class 7). Nothing netcalc builds forms reference cycles worth collecting.
        gc.disable()
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()
            code = EXIT_BAD_INPUT
        except click.ClickException as error:
            code = _fail(error.format_message(), EXIT_BAD_INPUT)
        except click.Abort:
            code = _fail("interrupted", EXIT_BAD_INPUT)
        except NetcalcError as error:
            code = _fail(str(error), error.exit_code)
        except _OutputError as error:
            code = _output_failed(error.error)
        sys.exit(_flushed(code if isinstance(code, int) else 0))


EXIT_BAD_INPUT = 2


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    """Write `netcalc: error: …` to stderr if it can be written at all, and give back the exit code."""
    try:
        click.echo(f"netcalc: error: {one_line(message)}", err=True)
        sys.stderr.flush()
    except (OSError, AttributeError, ValueError):  # stderr closed or full: the exit code still says it
        pass
    return code


def _output_failed(error: OSError) -> int:
    if error.errno == errno.EPIPE:  # `netcalc … | head`: the reader left; stay quiet, but do not claim success
        _silence_stdout()
        return EXIT_BAD_INPUT
    _silence_stdout()
    return _fail(f"cannot write the output: {error.strerror or error}")


def _flushed(code: int) -> int:
    """Flush stdout now, so a full disk is reported here instead of by Python at exit (status 120)."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as error:
        return _output_failed(error)
    except ValueError:  # closed underneath us
        return _fail("standard output was closed while writing")
    return code


def _silence_stdout() -> None:
    """Point stdout's descriptor at /dev/null so nothing more (not even Python's flush at exit) hits the
    broken stream. CliRunner's captured stdout has no descriptor and needs nothing."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return
    os.dup2(devnull, fd)
    os.close(devnull)


class _OutputError(Exception):
    """An OSError while writing, carried past click (which would turn a broken pipe into exit 1)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


@click.group(cls=NetcalcGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="netcalc")
def cli() -> None:
    """What a convolutional network costs: shapes, parameters, MACs and memory, layer by layer."""


def run() -> None:
    """Console-script entry point. Once the command has finished and its output is flushed, the process ends
    without Python's teardown: freeing every module's objects one by one (NumPy's, the network's, ONNX
    Runtime's) took 25-45 ms of a 0.7 s `verify`, and the kernel reclaims them at once. netcalc registers
    nothing that needs a finaliser: files are closed where they are written, and its copy threads are idle."""
    try:
        cli(prog_name="netcalc")
        code: Any = 0
    except SystemExit as stop:  # `NetcalcGroup.main` always ends so, its output already flushed
        code = stop.code
    if not isinstance(code, int):  # sys.exit("message") semantics, should anything raise one
        if code is not None:
            _fail(str(code), 1)
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a broken or closed stream: the exit code already says so
            pass
    os._exit(code)
