"""Propagate shapes through an expanded network and tally each layer's figures.

Pure arithmetic over the kinds' rules: no NumPy, no printing.
"""

from __future__ import annotations

from netcalc.analysis.report import DTYPE_BYTES, LayerRow, Report
from netcalc.errors import NetcalcError, ShapeError, SpecError
from netcalc.kinds import REGISTRY
from netcalc.network import INPUT, Network
from netcalc.shapes import Shape, numel


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise NetcalcError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}") from None


def analyze_network(network: Network, *, batch: int = 1, dtype: str = "float32", strict: bool = False) -> Report:
    """Every layer's output shape, parameters, MACs, FLOPs and memory for `batch` samples of `dtype`.

    With `strict`, a note about input pixels that no window reads becomes an error.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise NetcalcError(f"batch must be a whole number ≥ 1, got {batch!r}")
    size = dtype_bytes(dtype)
    shapes: dict[str, Shape] = {INPUT: network.input_shape}
    live = feeding_outputs(network)
    rows = []
    for layer in network.layers:
        kind = REGISTRY[layer.kind]
        ins = tuple(shapes[name] for name in layer.inputs)
        try:
            out = kind.output_shape(layer.attrs, ins)
            params = sum(numel(s) for s in kind.weights(layer.attrs, ins).values())
            buffers = sum(numel(s) for s in kind.buffers(layer.attrs, ins).values())
            macs = kind.macs(layer.attrs, ins, out)
            flops = 2 * macs + kind.flops(layer.attrs, ins, out)
            notes = kind.notes(layer.attrs, ins, out)
            if layer.name not in live:
                notes = (*notes, DEAD_NOTE)
        except ShapeError as error:
            raise error.at(layer.where()) from None
        if strict and notes:
            raise SpecError(f"{notes[0]} (--strict)", layer.where())
        shapes[layer.name] = out
        rows.append(
            LayerRow(
                name=layer.name,
                kind=layer.kind,
                inputs=layer.inputs,
                output_shape=out,
                params=params,
                buffers=buffers,
                macs=batch * macs,
                flops=batch * flops,
                activation_bytes=batch * numel(out) * size,
                param_bytes=params * size,
                notes=notes,
                counted=layer.name in live,
                groups=layer.groups,
                line=layer.location.line,
                file=layer.location.file,
                partial=kind.partial,
            )
        )
    return Report(
        name=network.name,
        input_shape=network.input_shape,
        batch=batch,
        dtype=dtype,
        layers=tuple(rows),
        source=network.source,
        group_outputs=dict(network.group_outputs),
        outputs=network.outputs,
    )


DEAD_NOTE = "reaches no output of the network, so it is not counted in the totals (list it in `outputs:`?)"


def feeding_outputs(network: Network) -> set[str]:
    """The layers whose result reaches one of the network's outputs (the outputs included)."""
    inputs = {layer.name: layer.inputs for layer in network.layers}
    live: set[str] = set()
    stack = [name for name in network.outputs if name in inputs]
    while stack:
        name = stack.pop()
        if name in live:
            continue
        live.add(name)
        stack.extend(i for i in inputs[name] if i in inputs and i not in live)
    return live
