"""`netcalc import` (ONNX → spec) and `netcalc export` (spec → ONNX)."""

from __future__ import annotations

from pathlib import Path

import click

from netcalc.commands.options import BATCH, allow_unknown_option, input_shape_callback, load_spec
from netcalc.shapes import Shape


@click.command("import")
@click.argument("model", metavar="MODEL.onnx")
@click.option("-o", "--output", "output", metavar="SPEC.yaml", help="write the spec here (default: stdout)")
@click.option("--input", "input_shape", callback=input_shape_callback, metavar="HxWxC", help="bind the input size")
@click.option("--batch", type=BATCH, help="bind a symbolic batch dimension (figures are per sample)")
@allow_unknown_option
@click.pass_context
def import_command(
    ctx: click.Context, model: str, output: str | None, input_shape: Shape | None, batch: int | None
) -> None:
    """Write the ONNX model MODEL as a netcalc spec that analyses to the same figures: one layer per node that
    netcalc models, named after the node (`/layer1/layer1.0/conv1/Conv` → `layer1.0.conv1`), constants and
    shape plumbing folded away. See docs/onnx.md for the operators and what each becomes."""
    from netcalc.bridges.onnx.importer import import_onnx, spec_to_yaml

    spec = import_onnx(model, input_shape=input_shape, batch=batch, allow_unknown=bool(ctx.meta.get("allow_unknown")))
    text = spec_to_yaml(spec, Path(model).name)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise click.FileError(output, error.strerror) from None
    click.echo(f"wrote {output}: {len(spec['layers'])} layers", err=True)


@click.command("export")
@click.argument("spec")
@click.option("-o", "--output", "output", required=True, metavar="MODEL.onnx", help="the ONNX file to write")
@click.option("--input", "input_shape", callback=input_shape_callback, metavar="HxWxC", help="override the input size")
@click.option(
    "--weights",
    type=click.Choice(["seeded", "zeros"]),
    default="seeded",
    show_default=True,
    help="the reference pass's seeded weights (as `netcalc verify --seed`), or zeros",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="seed of the weights")
@click.option("--opset", type=click.IntRange(min=17), default=17, show_default=True, help="ONNX opset to target")
def export_command(spec: str, output: str, input_shape: Shape | None, weights: str, seed: int, opset: int) -> None:
    """Write SPEC as an ONNX model (inference mode; onnx.checker passes): every layer one node (or a few),
    named after the layer, with the reference pass's seeded weights. Open it in Netron for a picture."""
    from netcalc.bridges.onnx.exporter import export_network, save

    network = load_spec(spec, input_shape=input_shape)
    model = export_network(network, weights=weights, seed=seed, opset=opset)
    save(model, output)
    click.echo(f"wrote {output}: {len(network.layers)} layers, opset {opset}", err=True)
