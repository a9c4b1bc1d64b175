"""Propagate shapes through an expanded network and tally each layer's figures.

Pure arithmetic over the kinds' rules: no NumPy, no printing.
"""

from __future__ import annotations

from dataclasses import replace

from netcalc.analysis.field import INPUT_FIELD, Field, merge
from netcalc.analysis.memory import OPTIMIZER_STATE, Step, backward_memory, live_bytes, training_state
from netcalc.analysis.report import DTYPE_BYTES, LayerRow, Report
from netcalc.errors import NetcalcError, ShapeError, SpecError
from netcalc.kinds import REGISTRY
from netcalc.kinds.base import Extra
from netcalc.network import INPUT, Network
from netcalc.shapes import Shape, numel


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise NetcalcError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}") from None


def extra_bytes(extras: tuple[Extra, ...], batch: int, size: int) -> int:
    return sum(e.elements * (e.itemsize or size) * (batch if e.batched else 1) for e in extras)


def analyze_network(
    network: Network, *, batch: int = 1, dtype: str = "float32", strict: bool = False, optimizer: str = "sgd"
) -> Report:
    """Every layer's output shape, parameters, MACs, FLOPs, memory, receptive field and training cost for
    `batch` samples of `dtype`, training with `optimizer` (see netcalc.analysis.memory).

    With `strict`, a note about input pixels that no window reads becomes an error.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise NetcalcError(f"batch must be a whole number ≥ 1, got {batch!r}")
    if optimizer not in OPTIMIZER_STATE:
        raise NetcalcError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZER_STATE)}")
    size = dtype_bytes(dtype)
    shapes: dict[str, Shape] = {INPUT: network.input_shape}
    fields: dict[str, Field] = {INPUT: INPUT_FIELD}
    feeding = feeding_outputs(network)
    rows = []
    steps = []
    for layer in network.layers:
        kind = REGISTRY[layer.kind]
        ins = tuple(shapes[name] for name in layer.inputs)
        try:
            out = kind.output_shape(layer.attrs, ins)
            params = sum(numel(s) for s in kind.weights(layer.attrs, ins).values())
            buffers = sum(numel(s) for s in kind.buffers(layer.attrs, ins).values())
            macs = kind.macs(layer.attrs, ins, out)
            elementwise = kind.flops(layer.attrs, ins, out)
            notes = kind.notes(layer.attrs, ins, out)
            windows = kind.geometry(layer.attrs, ins, out)
            saved = kind.saved(layer.attrs, ins, out)
            grad_in, grad_w = kind.backward_macs(layer.attrs, ins, out)
            if layer.name not in feeding:
                notes = (*notes, DEAD_NOTE)
        except ShapeError as error:
            raise error.at(layer.where()) from None
        if strict and notes:
            raise SpecError(f"{notes[0]} (--strict)", layer.where())
        shapes[layer.name] = out
        arriving = [(name, fields[name].through(w)) for name, w in zip(layer.inputs, windows) if w is not None]
        fields[layer.name], field_note = merge(arriving)
        steps.append(
            Step(
                layer.name,
                layer.inputs,
                kind.storage_in(True),
                batch * numel(out) * size,
                saved,
                extra_bytes(saved.extras, batch, size),
                params,
            )
        )
        rows.append(
            LayerRow(
                name=layer.name,
                kind=layer.kind,
                inputs=layer.inputs,
                output_shape=out,
                params=params,
                buffers=buffers,
                macs=batch * macs,
                flops=batch * (2 * macs + elementwise),
                activation_bytes=batch * numel(out) * size,
                param_bytes=params * size,
                notes=notes,
                counted=layer.name in feeding,
                groups=layer.groups,
                line=layer.location.line,
                file=layer.location.file,
                field=fields[layer.name],
                field_note=field_note,
                backward_input_macs=batch * grad_in,
                backward_weight_macs=batch * grad_w,
                backward_flops=batch * elementwise,  # completed below, once we know what autograd records
                partial=kind.partial,
            )
        )
    outputs = network.outputs
    input_bytes = batch * numel(network.input_shape) * size
    inference_steps = [
        replace(step, storage=REGISTRY[layer.kind].storage_in(False)) for step, layer in zip(steps, network.layers)
    ]
    live = live_bytes(inference_steps, outputs, input_bytes)
    state = training_state(sum(r.params for r in rows), sum(r.buffers for r in rows), size, dtype, optimizer)
    back = backward_memory(steps, outputs, input_bytes, size, state)
    rows = [
        _with_backward(row, live[i], back.records[i], back.needs_input_grad[i], back.saved_bytes[i], back.live_bytes[i])
        for i, row in enumerate(rows)
    ]
    return Report(
        name=network.name,
        input_shape=network.input_shape,
        batch=batch,
        dtype=dtype,
        layers=tuple(rows),
        source=network.source,
        group_outputs=dict(network.group_outputs),
        input_bytes=input_bytes,
        training=state,
        outputs=network.outputs,
    )


def _with_backward(row: LayerRow, live: int, records: bool, needs_input: bool, saved: int, training: int) -> LayerRow:
    """A row completed with its lifetime and backward figures: a layer autograd does not record costs nothing
    in backward; one that needs no input gradient skips dL/dx."""
    grad_in = row.backward_input_macs if needs_input else 0
    grad_w = row.backward_weight_macs if records else 0
    elementwise = row.backward_flops if records else 0
    return replace(
        row,
        live_bytes=live,
        backward_input_macs=grad_in,
        backward_weight_macs=grad_w,
        skipped_input_macs=row.backward_input_macs - grad_in,
        backward_flops=2 * (grad_in + grad_w) + elementwise,
        saved_bytes=saved,
        training_bytes=training,
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
