"""Propagate shapes through an expanded network and tally each layer's figures.

Pure arithmetic over the kinds' rules: no NumPy, no printing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from netcalc.analysis.field import INPUT_FIELD, Field, merge
from netcalc.analysis.layout import storages
from netcalc.analysis.memory import OPTIMIZER_STATE, Backward, Step, backward_memory, live_bytes, training_state
from netcalc.analysis.report import DTYPE_BYTES, LayerRow, Report
from netcalc.errors import NetcalcError, ShapeError, SpecError, excerpt
from netcalc.kinds import REGISTRY
from netcalc.kinds.base import Extra, LayerKind, Saved, Window
from netcalc.language.spec import check_network
from netcalc.network import INPUT, Layer, Network
from netcalc.shapes import Shape, numel


def dtype_bytes(dtype: str) -> int:
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:  # a list is unhashable: no lookup for it
        raise NetcalcError(f"unknown dtype {excerpt(dtype)}; known: {', '.join(DTYPE_BYTES)}")
    return DTYPE_BYTES[dtype]


def extra_bytes(extras: tuple[Extra, ...], batch: int, size: int) -> int:
    return sum(e.elements * max(e.itemsize or size, e.min_itemsize) * (batch if e.batched else 1) for e in extras)


def analyze_network(
    network: Network, *, batch: int = 1, dtype: str = "float32", strict: bool = False, optimizer: str = "sgd"
) -> Report:
    """Every layer's output shape, parameters, MACs, FLOPs, memory, receptive field and training cost for
    `batch` samples of `dtype`, training with `optimizer` (see netcalc.analysis.memory).

    With `strict`, a note about input pixels that no window reads becomes an error. A Network built by hand
    is checked first as the parser checks a spec (SpecError naming the layer); a parsed one is not checked twice.
    """
    network = check_network(network)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise NetcalcError(f"batch must be a whole number ≥ 1, got {excerpt(batch)}")
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZER_STATE:
        raise NetcalcError(f"unknown optimizer {excerpt(optimizer)}; known: {', '.join(OPTIMIZER_STATE)}")
    if not isinstance(strict, bool):
        raise NetcalcError(f"strict must be True or False, got {excerpt(strict)}")
    size = dtype_bytes(dtype)
    shapes: dict[str, Shape] = {INPUT: network.input_shape}
    fields: dict[str, Field] = {INPUT: INPUT_FIELD}
    feeding = feeding_outputs(network)
    forwards: list[_Forward] = []
    memory: list[tuple] = []  # each layer's (name, inputs, output bytes, saved, extra bytes, parameters)
    steps: list[Step] = []
    inference_steps: list[Step] = []
    known: dict[Any, _Figures] = {}
    for layer in network.layers:
        kind = REGISTRY[layer.kind]
        ins = tuple(shapes[name] for name in layer.inputs)
        try:
            f = _remembered_figures(known, kind, layer.attrs, ins)
        except ShapeError as error:
            raise error.at(layer.where()) from None
        notes = f.notes if layer.name in feeding else (*f.notes, DEAD_NOTE)
        if strict and notes:
            raise SpecError(f"{notes[0]} (--strict)", layer.where())
        shapes[layer.name] = f.out
        arriving = [(name, fields[name].through(w)) for name, w in zip(layer.inputs, f.windows) if w is not None]
        field, field_note = merge(arriving)
        fields[layer.name] = field
        out_bytes = batch * numel(f.out) * size
        saved_extra = extra_bytes(f.saved.extras, batch, size)
        memory.append((layer.name, layer.inputs, out_bytes, f.saved, saved_extra, f.params))
        forwards.append(_Forward(f, notes, field, field_note, out_bytes))
    # how each output is stored, in training and at inference; a flatten of a view with gaps (a crop, a subsample)
    # is a copy (netcalc.analysis.layout), so the storages wait for every shape
    for plan, train in ((steps, True), (inference_steps, False)):
        stored = storages(network.layers, shapes, train)
        plan += [Step(name, ins, storage, *rest) for (name, ins, *rest), storage in zip(memory, stored)]
    outputs = network.outputs
    input_bytes = batch * numel(network.input_shape) * size
    live = live_bytes(inference_steps, outputs, input_bytes)
    params, buffers = sum(f.figures.params for f in forwards), sum(f.figures.buffers for f in forwards)
    state = training_state(params, buffers, size, dtype, optimizer)
    back = backward_memory(steps, outputs, input_bytes, size, state)
    rows = tuple(
        _row(layer, forward, batch, size, layer.name in feeding, live[i], back, i)
        for i, (layer, forward) in enumerate(zip(network.layers, forwards))
    )
    return Report(
        name=network.name,
        input_shape=network.input_shape,
        batch=batch,
        dtype=dtype,
        layers=rows,
        source=network.source,
        group_outputs=dict(network.group_outputs),
        input_bytes=input_bytes,
        training=state,
        outputs=network.outputs,
    )


class _Figures(NamedTuple):
    """A layer's per-sample figures: a function of its kind, attributes and input shapes alone."""

    out: Shape
    params: int
    buffers: int
    macs: int
    elementwise: int
    notes: tuple[str, ...]
    windows: tuple[tuple[Window, Window] | None, ...]
    saved: Saved
    grad_in: int
    grad_w: int


def layer_figures(kind: LayerKind, attrs: Mapping[str, Any], ins: tuple[Shape, ...]) -> _Figures:
    """Every per-sample figure of one layer, from its kind's rules."""
    out = kind.output_shape(attrs, ins)
    grad_in, grad_w = kind.backward_macs(attrs, ins, out)
    return _Figures(
        out,
        sum(numel(s) for s in kind.weights(attrs, ins).values()),
        sum(numel(s) for s in kind.buffers(attrs, ins).values()),
        kind.macs(attrs, ins, out),
        kind.flops(attrs, ins, out),
        kind.notes(attrs, ins, out),
        kind.geometry(attrs, ins, out),
        kind.saved(attrs, ins, out),
        grad_in,
        grad_w,
    )


def _remembered_figures(
    known: dict[Any, _Figures], kind: LayerKind, attrs: Mapping[str, Any], ins: tuple[Shape, ...]
) -> _Figures:
    """`layer_figures`, worked out once per distinct (kind, attributes, input shapes): the kinds' rules are pure,
    and a deep network repeats a few layers many times (a 100,000-layer chain has a handful of distinct ones)."""
    try:
        key = (kind.name, tuple(attrs.items()), ins)
        figures = known.get(key)
    except TypeError:  # an unhashable attribute value: no sharing
        return layer_figures(kind, attrs, ins)
    if figures is None:
        figures = known[key] = layer_figures(kind, attrs, ins)
    return figures


class _Forward(NamedTuple):
    """One layer's forward results, kept until memory is known (a tuple: one is made per layer)."""

    figures: _Figures
    notes: tuple[str, ...]  # the figures' notes, and DEAD_NOTE for a layer that reaches no output
    field: Field
    field_note: str
    out_bytes: int


def _row(
    layer: Layer, f: _Forward, batch: int, size: int, counted: bool, live: int, back: Backward, i: int
) -> LayerRow:
    """A layer's row, built once with its lifetime and backward figures: a layer autograd does not record costs
    nothing in backward; one that needs no input gradient skips dL/dx."""
    records, g = back.records[i], f.figures
    grad_in = batch * g.grad_in if back.needs_input_grad[i] else 0
    grad_w = batch * g.grad_w if records else 0
    elementwise = batch * g.elementwise if records else 0
    return LayerRow(
        name=layer.name,
        kind=layer.kind,
        inputs=layer.inputs,
        output_shape=g.out,
        params=g.params,
        buffers=g.buffers,
        macs=batch * g.macs,
        flops=batch * (2 * g.macs + g.elementwise),
        activation_bytes=f.out_bytes,
        param_bytes=g.params * size,
        notes=f.notes,
        counted=counted,
        groups=layer.groups,
        line=layer.location.line,
        file=layer.location.file,
        field=f.field,
        field_note=f.field_note,
        live_bytes=live,
        backward_input_macs=grad_in,
        backward_weight_macs=grad_w,
        skipped_input_macs=batch * g.grad_in - grad_in,
        backward_flops=2 * (grad_in + grad_w) + elementwise,
        saved_bytes=back.saved_bytes[i],
        training_bytes=back.live_bytes[i],
        partial=REGISTRY[layer.kind].partial,
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
