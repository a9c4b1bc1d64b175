"""`netcalc verify`: run the NumPy reference pass and check every analysed figure against it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from netcalc.commands.options import (
    analysis_options,
    format_option,
    load_device_or_calibrate,
    load_spec,
    terminal_renderers,
)
from netcalc.shapes import Shape

if TYPE_CHECKING:
    from netcalc.analysis.report import Report
    from netcalc.analysis.roofline import Device
    from netcalc.reference.verify import Verification


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
@click.option(
    "--strict",
    is_flag=True,
    help="fail a layer whose weight gradient, output or input gradient is identically zero (else a warning)",
)
@click.option(
    "--device",
    metavar="NAME|FILE",
    help="also show each layer's roofline estimate on a device beside its measured forward time "
    "(`calibrated`: this machine, measured now)",
)
@click.option(
    "--against",
    type=click.Choice(["onnxruntime"]),
    help="instead: export SPEC with the reference pass's seeded weights, run it in ONNX Runtime on the same input "
    "and compare every layer's output values with the reference pass (docs/verify.md)",
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
    strict: bool,
    device: str | None,
    against: str | None,
    fmt: str,
) -> None:
    """Run SPEC forward and backward in NumPy and check, layer by layer, that the analysed output shape,
    parameters, MACs and activation memory agree with what the reference pass really did.

    Training mode (batch statistics, seeded dropout masks) with the backward pass, inference mode without; in
    inference mode each layer's live bytes (the peak memory) are checked too, with the backward pass each
    layer's backward MACs. With --against onnxruntime, the values instead: every layer's output in ONNX Runtime
    against the reference pass's, in inference mode (docs/verify.md states the tolerances).

    Exit 0 when every figure agrees, 1 when any disagrees, 2 for bad input or a pass too big for --max-memory.
    """
    from netcalc.analysis.analyze import analyze_network
    from netcalc.reference.engine import check_layer_count, run
    from netcalc.reference.memory import check_memory, estimate_memory
    from netcalc.reference.verify import compare
    from netcalc.render.verify import RENDERERS, zero_value_warnings

    if gradcheck and no_backward:
        raise click.UsageError("--gradcheck needs the backward pass; drop --no-backward")
    network = load_spec(spec, input_shape=input_shape)
    check_layer_count(network)
    limit, what = _memory_limit(max_memory)
    if against is not None:
        _refuse_ignored_options(
            gradcheck=gradcheck,
            dtype=dtype,
            no_backward=no_backward,
            receptive_field=receptive_field,
            strict=strict,
            device=device,
        )
        from netcalc.bridges.onnx.runtime import verify_against_onnxruntime
        from netcalc.render.runtime import RENDERERS as VALUE_RENDERERS

        values = verify_against_onnxruntime(network, batch=batch, seed=seed, max_memory=limit, limit_name=what)
        click.echo(terminal_renderers(VALUE_RENDERERS)[fmt](values), nl=False)
        if not values.ok:
            ctx.exit(1)
        return
    report = analyze_network(network, batch=batch, dtype=dtype)
    profile = None if device is None else load_device_or_calibrate(device)
    backward = not no_backward
    check_memory(estimate_memory(network, report, backward=backward, gradcheck=gradcheck), limit, what)
    if receptive_field:  # its probes run in float64, several at once: refused up front too, not after the pass
        from netcalc.reference.field import estimate_field_memory

        check_memory(estimate_field_memory(network, report), limit, what, "the receptive-field probes")
    with _progress_bar(len(network.layers) * (1 if no_backward else 2)) as progress:
        result = run(
            network, batch=batch, seed=seed, dtype=dtype, backward=backward, gradcheck=gradcheck, progress=progress
        )
    fields = None
    if receptive_field:
        from netcalc.reference.field import measure_fields

        fields = measure_fields(network, report, seed=seed)
    verification = compare(
        report, result, seed=seed, backward=backward, gradcheck=gradcheck, strict=strict, fields=fields
    )
    if profile is None:
        click.echo(terminal_renderers(RENDERERS)[fmt](verification), nl=False)
    else:
        click.echo(_with_roofline(verification, report, profile, fmt), nl=False)
    for line in [*zero_gradient_warnings(verification), *zero_value_warnings(verification)]:
        click.echo(line, err=True)
    if not verification.ok:
        ctx.exit(1)


def _refuse_ignored_options(
    *, gradcheck: int, dtype: str, no_backward: bool, receptive_field: bool, strict: bool, device: str | None
) -> None:
    """--against onnxruntime compares float32 forward values in inference mode: an option that would change
    nothing there is refused (exit 2), naming every one given, rather than silently ignored."""
    given = [
        ("--gradcheck", bool(gradcheck)),
        ("--dtype", dtype != "float32"),
        ("--no-backward", no_backward),  # the value check is forward-only, in inference mode, already
        ("--receptive-field", receptive_field),
        ("--strict", strict),  # there are no gradients to find zero
        ("--device", device is not None),  # no roofline beside the values
    ]
    names = [name for name, used in given if used]
    if names:
        raise click.UsageError(
            "--against onnxruntime compares float32 forward values in inference mode (already forward-only), "
            f"so {', '.join(names)} would have no effect there; drop {'/'.join(names)}"
        )


def zero_gradient_warnings(verification, shown: int = 5) -> list[str]:
    """One stderr line per layer (the first `shown`) whose weight gradient is identically zero."""
    from netcalc.render.console import printable

    layers = verification.zero_gradient_layers
    word = "error" if verification.layers and verification.layers[0].strict else "warning"
    lines = [
        f"netcalc: {word}: layer '{printable(check.name)}' ({check.kind}): the gradient of "
        f"{', '.join(check.zero_gradients)} is identically zero, so it checks nothing "
        "(e.g. a training-mode batch norm seeing one value per channel: raise --batch or --input)"
        for check in layers[:shown]
    ]
    if len(layers) > shown:
        lines.append(f"netcalc: {word}: … and {len(layers) - shown} more layers with a zero weight gradient")
    return lines


def _with_roofline(verification: Verification, report: Report, device: Device, fmt: str) -> str:
    """The verification, and each layer's roofline estimate on `device` beside its measured forward time."""
    from netcalc.analysis.roofline import estimate, held_against
    from netcalc.render.jsontext import json_document
    from netcalc.render.roofline import timed_dict, timed_table
    from netcalc.render.verify import RENDERERS, verification_dict

    roofline = estimate(report, device)
    timed = held_against(roofline, {layer.name: layer.forward_seconds for layer in verification.layers})
    if fmt == "json":
        data = {**verification_dict(verification), "roofline": timed_dict(roofline, timed)}
        return json_document(data, rows=("layers", "roofline.layers"))
    table, timed_text = terminal_renderers(RENDERERS)["table"], terminal_renderers({"table": timed_table})["table"]
    return table(verification) + "\n" + timed_text(roofline, timed)


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
