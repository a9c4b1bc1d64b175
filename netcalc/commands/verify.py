"""`netcalc verify`: run the NumPy reference pass and check every analysed figure against it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from netcalc.commands.options import analysis_options, format_option, terminal_renderers
from netcalc.language.spec import load_network
from netcalc.shapes import Shape


@click.command()
@click.argument("spec")
@analysis_options(dtypes=("float32", "float64"))
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="seed of the random input and weights"
)
@click.option("--no-backward", "no_backward", is_flag=True, help="run the forward pass only (inference mode)")
@click.option(
    "--gradcheck",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="check N sampled coordinates of every input and weight gradient against central differences (float64)",
)
@click.option(
    "--receptive-field",
    "receptive_field",
    is_flag=True,
    help="also measure every layer's receptive field (the support of d(centre unit)/d(input)); one more "
    "float64 backward pass per 8 layers",
)
@click.option(
    "--max-memory",
    "max_memory",
    default="auto",
    show_default=True,
    metavar="SIZE",
    help="refuse (exit 2, before allocating) a pass whose estimated peak memory exceeds SIZE (e.g. 4GiB); "
    "auto: 80% of the memory available now; none: no limit",
)
@format_option(("table", "json"), "table")
@click.pass_context
def verify(
    ctx: click.Context,
    spec: str,
    input_shape: Shape | None,
    batch: int,
    dtype: str,
    seed: int,
    no_backward: bool,
    gradcheck: int,
    receptive_field: bool,
    max_memory: str,
    fmt: str,
) -> None:
    """Run SPEC forward and backward in NumPy and check, layer by layer, that the analysed output shape,
    parameters, MACs and activation memory agree with what the reference pass really did.

    Training mode (batch statistics, seeded dropout masks) with the backward pass, inference mode without; in
    inference mode each layer's live bytes (the peak memory) are checked too, with the backward pass each
    layer's backward MACs. Exit 0 when every figure agrees, 1 when any disagrees, 2 for bad input or a pass too
    big for --max-memory.
    """
    from netcalc.analysis.analyze import analyze_network
    from netcalc.reference.engine import run
    from netcalc.reference.memory import check_memory, estimate_memory
    from netcalc.reference.verify import compare
    from netcalc.render.verify import RENDERERS

    if gradcheck and no_backward:
        raise click.UsageError("--gradcheck needs the backward pass; drop --no-backward")
    network = load_network(spec, input_shape=input_shape)
    report = analyze_network(network, batch=batch, dtype=dtype)
    backward = not no_backward
    limit, what = _memory_limit(max_memory)
    check_memory(estimate_memory(network, report, backward=backward, gradcheck=gradcheck), limit, what)
    with _progress_bar(len(network.layers) * (1 if no_backward else 2)) as progress:
        result = run(
            network, batch=batch, seed=seed, dtype=dtype, backward=backward, gradcheck=gradcheck, progress=progress
        )
    fields = None
    if receptive_field:
        from netcalc.reference.field import measure_fields

        fields = measure_fields(network, report, seed=seed)
    verification = compare(report, result, seed=seed, backward=backward, gradcheck=gradcheck, fields=fields)
    click.echo(terminal_renderers(RENDERERS)[fmt](verification), nl=False)
    if not verification.ok:
        ctx.exit(1)


def _memory_limit(value: str) -> tuple[int | None, str]:
    """--max-memory: bytes (with a unit), `auto` (a share of the available memory) or `none`."""
    from netcalc.reference.memory import AVAILABLE_FRACTION, default_memory_limit
    from netcalc.units import parse_bytes

    if value.strip().lower() == "none":
        return None, "no limit"
    if value.strip().lower() == "auto":
        return default_memory_limit(), f"--max-memory auto ({AVAILABLE_FRACTION:.0%} of the available memory)"
    return parse_bytes(value), "--max-memory"


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[str, str], None] | None]:
    """A rich progress bar on stderr while the pass runs, only when stderr is a terminal; else no callback."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<40}", markup=False),  # layer names are shown as written, never as markup
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("verify", total=total)

        def advance(phase: str, name: str) -> None:
            bar.update(task, advance=1, description=f"{phase} {name}")

        yield advance
