"""`netcalc summary`, `netcalc show`, `netcalc kinds` and `netcalc schema`."""

from __future__ import annotations

import click

from netcalc.analysis.analyze import analyze_network
from netcalc.analysis.report import Report
from netcalc.commands.options import (
    allow_unknown_option,
    analysis_options,
    format_option,
    input_shape_callback,
    load_device_or_calibrate,
    load_spec,
    terminal_renderers,
    write_output,
)
from netcalc.errors import one_line
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
@analysis_options(optimizer=True)
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
@click.option("--device", metavar="NAME|FILE", help="roofline estimate per layer on a device (see `netcalc devices`)")
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
    device: str | None,
) -> None:
    """Per-layer shapes, parameters, MACs and memory of SPEC, with totals, the peak memory and (--train)
    training memory; receptive fields with --columns field."""
    network = load_spec(spec, input_shape=input_shape)
    report = analyze_network(network, batch=batch, dtype=dtype, strict=strict, optimizer=optimizer)
    if device is not None:
        click.echo(roofline_output(report, device, fmt, depth), nl=False)
        return
    from netcalc.render.summary import RENDERERS, warnings

    if train and "train" not in columns:
        columns = (*columns, "train")
    click.echo(terminal_renderers(RENDERERS)[fmt](report, depth, columns), nl=False)
    if fmt == "csv":  # the table, Markdown and JSON carry the notes themselves; CSV has no place for them
        for warning in warnings(report):
            click.echo(one_line(f"netcalc: warning: {warning}"), err=True)


def roofline_output(report: Report, device: str, fmt: str, depth: int | None = None) -> str:
    from netcalc.analysis.roofline import estimate
    from netcalc.render.roofline import RENDERERS

    return terminal_renderers(RENDERERS)[fmt](report, estimate(report, load_device_or_calibrate(device)), depth)


@click.command()
@click.argument("spec")
@click.argument("layer")
@analysis_options(optimizer=True)
def explain(spec: str, layer: str, input_shape: Shape | None, batch: int, dtype: str, optimizer: str) -> None:
    """LAYER of SPEC with its arithmetic written out: output size, parameters, MACs, FLOPs, memory, receptive
    field and backward cost, every formula with its numbers."""
    from netcalc.analysis.explain import explain as explain_layer
    from netcalc.render.explain import to_text

    network = load_spec(spec, input_shape=input_shape)
    report = analyze_network(network, batch=batch, dtype=dtype, optimizer=optimizer)
    click.echo(to_text(explain_layer(network, report, layer)), nl=False)


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


@click.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for editors: see docs/language.md)."""
    import json

    from netcalc.language.schema import spec_schema

    click.echo(json.dumps(spec_schema(), indent=2, ensure_ascii=False))


@click.command()
def devices() -> None:
    """List the built-in device profiles for `summary --device`, with their peaks and sources."""
    from netcalc.analysis.devices import builtin_devices, load_device
    from netcalc.render.roofline import human_rate

    for name in builtin_devices():
        device = load_device(name)
        peaks = ", ".join(f"{dtype} {human_rate(value, 'FLOP')}" for dtype, value in device.peak_flops.items())
        click.echo(f"{name}: {device.description}")
        click.echo(f"    {peaks}; memory {human_rate(device.memory_bandwidth, 'B')}")
        click.echo(f"    source: {device.source}")


@click.command()
@click.option("-o", "--output", help="write the profile to this YAML file (default: stdout)")
@click.option("--seconds", type=click.FloatRange(0.05, 60), default=0.5, show_default=True, help="time per figure")
def calibrate(output: str | None, seconds: float) -> None:
    """Measure this machine's roofline with NumPy (GEMM FLOP/s per dtype, STREAM copy bandwidth) and write a
    device profile that `summary --device FILE` reads."""
    from netcalc.analysis.devices import device_yaml
    from netcalc.reference.calibrate import calibrate as measure

    write_output(device_yaml(measure(seconds)), output)
