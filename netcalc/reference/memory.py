"""How much memory the reference pass itself will need, worked out before it allocates anything.

`verify` refuses a pass whose estimate exceeds its limit (`--max-memory`) instead of allocating gigabytes and
dying in NumPy. The estimate replays the engine's schedule (`netcalc.reference.engine.run`) over the analysed
layers, in bytes of the pass's dtype, and takes the largest total at any step:

- forward, layer j: the weights (and buffers) drawn so far — for a streamed weight (`netcalc.reference.streamed`)
  its drawn block, and while its layer runs its block again followed by one block of its rows (a
  convolution's: the whole weight) — every earlier output and cache still held
  (backward keeps them all until their layer's backward; forward-only keeps an output until its last reader),
  then layer j's weights, output, cache and working buffers;
- backward, layer j: the weights, outputs and caches of layers ≤ j, the gradients still waiting for their
  producer, layer j's weight gradients (an fc weight's is written over the weight, except under `--gradcheck`;
  a streamed weight's is a block of rows at a time, beside a block of the weight; a convolution's is whole,
  beside the weight made whole),
  its input gradients and working buffers;
- working buffers: a convolution's im2col matrix (N·C·KH·KW·HO·WO elements; transposed convolution: its
  col2im matrix), in backward that matrix again plus the per-sample weight gradients when N > 1; any other kind
  one input- and one output-sized temporary; `--gradcheck` float64 copies of the layer's arrays.

A cache is counted as one output-sized array (two in float32: max-pool's int64 indices) for a kind without
MACs, nothing extra for conv/conv_transpose/fc (they keep their input, which is counted as the previous
output), plus batch norm's three per-channel statistics. A gradient handed on as views of a dy (add, concat,
flatten …) keeps that whole dy alive until the last view is consumed, and both are counted. Each layer adds
`LAYER_SLACK` for the pass's Python objects (2,000 tiny batch norms measured 1.4 KiB a layer). So the estimate
errs high: with the backward pass it is within 1.0-1.4× of the peak tracemalloc measures for the pass's arrays,
forward-only up to 2× (in-place overwrites are not modelled; docs/verify.md, `tests/test_memory.py`). NumPy's
import and the process's other objects are not in it (about 40 MB).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from netcalc.analysis.report import DTYPE_BYTES, LayerRow, Report
from netcalc.errors import NetcalcError
from netcalc.kinds import REGISTRY
from netcalc.kinds.norm import STATISTICS_SAVED
from netcalc.network import INPUT, Network
from netcalc.reference.im2col import columns_are_input, padded_block_bytes, row_bands
from netcalc.reference.pool import argmax_offset_type
from netcalc.reference.streamed import PERIOD, block_values, repeats
from netcalc.shapes import Shape

__all__ = [
    "MemoryEstimate",
    "MemoryLimitError",
    "check_memory",
    "default_memory_limit",
    "estimate_memory",
    "estimate_value_check_memory",
]

GEMM_KINDS = ("conv", "conv_transpose", "fc")


@dataclass(frozen=True)
class CacheRule:
    """What a kind's training-mode cache keeps alive until its backward (read off the reference pairs)."""

    keeps_input: bool  # its input (conv, fc, LRN): the producer's output cannot be freed after forward
    keeps_output: bool  # its output (activations, softmax, a fused activation's z)
    arrays: int = 0  # further output-sized arrays in the dtype (batch norm's x̂, LRN's s)
    bytes_per_element: int = 0  # further byte-per-element masks or indices (dropout, max-pool)
    channel_arrays: int = 0  # per-channel vectors in the dtype (batch norm's mean, variance and 1/σ)
    pixel_arrays: int = 0  # per-output-pixel maps in the dtype, one for the batch and channels (avg pool's divisors)
    per_sample: int = 0  # further values per sample in the dtype (a standardising norm's 1/std per group or pixel)


_ACTIVATION = CacheRule(keeps_input=False, keeps_output=True)
_NOTHING = CacheRule(keeps_input=False, keeps_output=False)
CACHE_RULES = {
    "conv": CacheRule(keeps_input=True, keeps_output=False),  # and z when an activation is fused
    "conv_transpose": CacheRule(keeps_input=True, keeps_output=False),
    "fc": CacheRule(keeps_input=True, keeps_output=False),
    **dict.fromkeys(("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax"), _ACTIVATION),
    **dict.fromkeys(("add", "concat", "flatten", "adaptive_avgpool", "global_avgpool"), _NOTHING),
    "avgpool": CacheRule(keeps_input=False, keeps_output=False, pixel_arrays=1),
    "batchnorm": CacheRule(keeps_input=False, keeps_output=False, arrays=1, channel_arrays=3),
    "lrn": CacheRule(keeps_input=True, keeps_output=False, arrays=1),
    "maxpool": CacheRule(keeps_input=False, keeps_output=False, bytes_per_element=1),
    "global_maxpool": CacheRule(keeps_input=False, keeps_output=False, bytes_per_element=8),
    "dropout": CacheRule(keeps_input=False, keeps_output=False, bytes_per_element=1),
}
# kinds whose backward hands their inputs views of their own dy (add: dy itself, concat: slices of it): that dy
# stays allocated until the last of those views is consumed, at the backward of the earliest input's producer
VIEW_GRADIENTS = ("add", "concat", "flatten", "identity", "channel_pad", "dropout", "stochastic_depth")
# kinds whose reference makes a streamed weight whole for each GEMM (and its gradient whole), not a block of rows
MADE_WHOLE = ("conv",)
# a kind not listed is assumed to keep its input, its output and one more output-sized array
UNKNOWN_RULE = CacheRule(keeps_input=True, keeps_output=True, arrays=1)
SLACK = 1 << 20  # the pass's own Python objects (records, dicts)
LAYER_SLACK = 2 << 10  # and per layer: its facts, its record, its place in the in-place and lifetime plans
AVAILABLE_FRACTION = 0.8  # of MemAvailable: the default limit leaves room for the rest of the machine
SESSION_BYTES = 16 << 20  # ONNX Runtime's session for `verify --against`: its kernels' code, its threads (~12 MiB)
GRADCHECK_COPIES = 8  # float64 arrays a layer's gradcheck holds, in units of max(input, output, weights)


class MemoryLimitError(NetcalcError):
    """The pass would need more memory than allowed: refused before anything is allocated (exit 2)."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak bytes of the pass's arrays, and what the peak is made of."""

    peak: int
    phase: str  # "forward" or "backward": where the peak falls
    layer: str  # the layer being run at the peak
    weights: int  # all weights and buffers of the network, in the dtype
    largest_buffer: int  # the largest single working buffer (an im2col/col2im matrix, a layer's output)
    largest_buffer_layer: str
    # (phase, layer, bytes) of every step replayed, in the pass's order, without the fixed allowances
    steps: tuple[tuple[str, str, int], ...] = ()


def _numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _columns(row: LayerRow, in_shape: tuple[int, ...], attrs: dict) -> int:
    """Elements of a convolution's im2col (conv) or col2im (conv_transpose) matrix; 0 for other kinds."""
    groups = int(attrs.get("groups", 1) or 1)
    if row.kind == "conv" and len(row.output_shape) == 3 and row.output_shape[2]:
        return row.macs * groups // row.output_shape[2]  # N·HO·WO·COUT·(C/G·KH·KW) · G / COUT
    if row.kind == "conv_transpose" and len(in_shape) == 3 and in_shape[2]:
        return row.macs * groups // in_shape[2]  # N·H·W·C·(COUT/G·KH·KW) · G / C
    return 0


def _blocks(row: LayerRow, in_shape: tuple[int, ...], attrs: dict, batch: int, item: int) -> int:
    """Bytes of the padded channel blocks a convolution's im2col (a transposed one's col2im) holds besides its
    columns; the backward's col2im (im2col) holds as many."""
    if row.kind == "conv":
        (h, w, c) = in_shape
    elif row.kind == "conv_transpose":
        (h, w), c = row.output_shape[:2], row.output_shape[2]
    else:
        return 0
    return padded_block_bytes((batch, c, h, w), attrs["padding"], item)


def _conv_buffers(
    row: LayerRow, in_shape: tuple[int, ...], attrs: dict, batch: int, item: int
) -> tuple[int, int, int, int]:
    """(columns, the columns the forward copies, padded blocks, a band's input gradient) in bytes, 0 for kinds
    without columns: a 1×1 stride-1 convolution's columns are its input, uncopied, though its backward still
    makes dcols. A convolution whose columns are made a band of output rows at a time
    (`netcalc.reference.im2col.row_bands`) holds the largest band's columns, and in backward the dx of that
    band's input rows beside the whole dx; the last figure is 0 for one made whole."""
    cols = _columns(row, in_shape, attrs) * item
    if not cols:
        return 0, 0, 0, 0
    blocks = _blocks(row, in_shape, attrs, batch, item)
    if row.kind == "conv" and columns_are_input(
        attrs["kernel"], attrs["stride"], attrs["padding"], row.output_shape[:2], in_shape[:2]
    ):
        return cols, 0, blocks, 0
    out_rows = row.output_shape[0]
    first, end = row_bands(out_rows, cols // out_rows)[0] if row.kind == "conv" else (0, out_rows)
    if end - first == out_rows:
        return cols, cols, blocks, 0
    (h, w, c), (kh, _), (sh, _), (dh, _) = in_shape, attrs["kernel"], attrs["stride"], attrs["dilation"]
    band_rows = min(h, (end - first - 1) * sh + dh * (kh - 1) + 1)  # the input rows a band's windows reach
    band = cols // out_rows * (end - first)
    blocks = padded_block_bytes((batch, c, band_rows, w), attrs["padding"], item)
    return band, band, blocks, batch * c * band_rows * w * item


def _forward_work(row: LayerRow, forward_cols: int, blocks: int, ins: int, a: int) -> int:
    """Working bytes of a layer's reference forward besides its output: a convolution's copied columns and padded
    blocks; nothing more for the other GEMM kinds; for any other kind an input- and an output-sized temporary."""
    if forward_cols:
        return forward_cols + blocks
    return 0 if row.kind in GEMM_KINDS else ins + a


def _tensor_bytes(network: Network, report: Report, item: int) -> tuple[dict[str, Shape], dict[str, int]]:
    """The (analysis-convention) shape and the bytes for the batch of the input and of every layer's output."""
    shapes = {INPUT: network.input_shape} | {row.name: row.output_shape for row in report.layers}
    out = {INPUT: report.batch * _numel(network.input_shape) * item}
    return shapes, out | {row.name: row.activation_bytes for row in report.layers}


def _rule(row: LayerRow, attrs: dict) -> CacheRule:
    rule = CACHE_RULES.get(row.kind, UNKNOWN_RULE)
    if row.kind == "maxpool":  # its arg-max offsets: int8 while they fit the window, else wider
        offset_bytes = np.dtype(argmax_offset_type(math.prod(attrs["kernel"]))).itemsize
        rule = replace(rule, bytes_per_element=offset_bytes)
    if row.kind in STATISTICS_SAVED:  # group, instance, layer norm: x̂ (the output itself without affine), 1/std
        affine = attrs["affine"]
        stats = _statistics_per_sample(row, attrs)
        return CacheRule(keeps_input=False, keeps_output=not affine, arrays=int(affine), per_sample=stats)
    if attrs.get("activation", "none") not in (None, "none"):
        return replace(rule, keeps_output=True)
    return rule


def _statistics_per_sample(row: LayerRow, attrs: dict) -> int:
    """How many groups, channels or pixels a standardising norm normalises in each sample: the count of each
    statistic its kind says autograd keeps."""
    return STATISTICS_SAVED[row.kind](attrs, (row.output_shape,), row.output_shape).extras[0].elements


def _cache_bytes(rule: CacheRule, row: LayerRow, batch: int, item: int) -> int:
    """The bytes a layer's training cache holds besides the input and output it keeps (which are counted where
    they are made)."""
    a = row.activation_bytes
    cache = rule.arrays * a + rule.bytes_per_element * (a // item) + rule.per_sample * batch * item
    cache += rule.channel_arrays * (row.output_shape[-1] if row.output_shape else 0) * item
    if rule.pixel_arrays:
        cache += rule.pixel_arrays * _numel(row.output_shape[:-1]) * item
    return cache


def _streamed(kind: str, attrs: dict, in_shapes: tuple[Shape, ...], item: int) -> tuple[int, int, int, int]:
    """The weights the pass hands this layer's reference as `RepeatingMatrix`es instead of arrays: (their
    elements, the bytes of their drawn blocks (`PERIOD` values each, held like weights), the bytes of the weight
    made at a time from them, the bytes of their gradient made at a time). A kind in `MADE_WHOLE` makes the
    whole weight and the whole gradient; any other walks blocks of rows through one array, its drawn block and a
    block of rows again (`RepeatingMatrix.row_views`), and makes a block of rows of the gradient at a time."""
    names = REGISTRY[kind].streamed_weights
    shapes = [shape for name, shape in REGISTRY[kind].weights(attrs, in_shapes).items() if name in names]
    streamed = [shape for shape in shapes if repeats(shape)]
    if not streamed:
        return 0, 0, 0, 0
    elements = sum(math.prod(shape) for shape in streamed)
    if kind in MADE_WHOLE:
        made = gradient = max(math.prod(shape) for shape in streamed)
    else:
        gradient = max(block_values(shape, item) for shape in streamed)
        made = PERIOD + gradient
    return elements, len(streamed) * PERIOD * item, made * item, gradient * item


def _running(diffs: list[int]) -> list[int]:
    total, out = 0, []
    for value in diffs:
        total += value
        out.append(total)
    return out


def estimate_memory(
    network: Network, report: Report, *, backward: bool = True, gradcheck: int = 0, params_given: bool = False
) -> MemoryEstimate:
    """The peak bytes `run(network, batch=report.batch, dtype=report.dtype, backward=…)` will hold in arrays.
    `params_given`: the caller passes every layer's weights (`run(params=…)`), so all of them are held from the
    start to the end, none is streamed, and an fc's weight gradient gets its own array instead of being written
    over the weight."""
    item = DTYPE_BYTES[report.dtype]
    batch = report.batch
    rows = report.layers
    count = len(rows)
    rules = [_rule(row, layer.attrs) for row, layer in zip(rows, network.layers)]
    shapes, out = _tensor_bytes(network, report, item)
    produced = {INPUT: -1} | {row.name: i for i, row in enumerate(rows)}
    last_reader = dict.fromkeys(out, -1)
    # outputs held until their producer's backward (some cache keeps them); the input is held to the end either
    # way (the pass keeps its `x`), so it is counted in `held` and never again as alive
    kept = {INPUT}
    for i, (row, rule) in enumerate(zip(rows, rules)):
        if backward and rule.keeps_output:
            kept.add(row.name)
        for name in row.inputs:
            last_reader[name] = max(last_reader[name], i)
            if backward and rule.keeps_input:
                kept.add(name)
    for name in set(getattr(network, "outputs", ()) or (network.output,)):
        last_reader[name] = count  # kept to the end (forward) / its gradient exists from the start (backward)

    # difference arrays over the steps: outputs alive in forward until their last reader (those no cache
    # holds), and gradients waiting in backward at step j (producer < j < last reader)
    alive, pending = [0] * (count + 2), [0] * (count + 2)
    views_until = {row.name: min(produced[n] for n in row.inputs) for row in rows if row.kind in VIEW_GRADIENTS}
    for name, size in out.items():
        first, last = produced[name] + 1, min(last_reader[name], count)
        if name not in kept and last >= first:
            alive[first] += size
            alive[last + 1] -= size
        first = min(first, views_until.get(name, count) + 1)
        last = min(last_reader[name] - 1, count - 1)
        if last >= first:
            pending[first] += size
            pending[last + 1] -= size
    alive, pending = _running(alive), _running(pending)

    largest, largest_at = 0, ""
    steps: list[tuple[str, str, int]] = []
    given = sum((row.params + row.buffers) * item for row in rows) if params_given else 0
    held = out[INPUT] + given  # weights, caches and kept outputs drawn so far (until their layer's backward)
    per_layer = []
    for j, (row, rule) in enumerate(zip(rows, rules)):
        ins = sum(out[n] for n in row.inputs)
        w = 0 if params_given else (row.params + row.buffers) * item  # drawn now, held until its backward
        a = out[row.name]
        cache = _cache_bytes(rule, row, batch, item)
        attrs, in_shape = network.layers[j].attrs, shapes[row.inputs[0]] if row.inputs else ()
        cols, forward_cols, blocks, band_dx = _conv_buffers(row, in_shape, attrs, batch, item)
        work = _forward_work(row, forward_cols, blocks, ins, a)
        streamed, drawn, made, gradient_part = (
            (0, 0, 0, 0)
            if params_given or gradcheck
            else _streamed(row.kind, attrs, tuple(shapes[n] for n in row.inputs), item)
        )
        w += drawn - streamed * item  # a streamed weight's drawn block is held in its stead
        work += made
        if max(cols, a) > largest:
            largest, largest_at = max(cols, a), row.name
        steps.append(("forward", row.name, held + alive[j] + w + (a if row.name in kept else 0) + a + cache + work))
        if backward:
            held += w + cache + (a if row.name in kept else 0)
        per_layer.append((w, a, cache, ins, cols, blocks, streamed, made, gradient_part, band_dx))

    if backward:
        gradcheck_ratio = max(1, 8 // item)  # gradcheck works in float64
        for j in range(count - 1, -1, -1):
            row = rows[j]
            w, a, cache, ins, cols, blocks, streamed, made, gradient_part, band_dx = per_layer[j]
            # a streamed weight's gradient: a block of rows of it at a time, or (`MADE_WHOLE`) all of it
            dweights = (row.params - streamed) * item + gradient_part
            if row.kind == "fc" and not gradcheck and not params_given and not streamed:
                dweights -= row.macs // batch * item  # dW written over the engine's own W
            per_sample = batch * dweights if batch > 1 else 0  # one sample's dw is the sum itself
            if band_dx:  # per band: its columns, its dw (per sample) beside their sum, its dx beside the whole dx
                work = cols + batch * dweights + ins + band_dx + a + blocks
            elif cols:  # im2col again with the per-sample weight gradients; then, the columns freed, col2im into dx
                work = cols + max(per_sample, ins) + a + blocks
            elif row.kind in GEMM_KINDS:
                work = ins + a + (ins if streamed else 0)  # streamed: dx and each block's share of it
            else:
                work = 2 * ins + a
            if gradcheck:
                work += GRADCHECK_COPIES * max(ins, a, w) * gradcheck_ratio
            steps.append(("backward", row.name, held + a + pending[j] + dweights + made + work))
            held -= w + cache + (a if row.name in kept else 0)
    weights = sum((row.params + row.buffers) * item for row in rows)  # the network's, streamed or not
    # the first of equal steps; a network without layers (the library allows one) holds its input alone
    phase, layer, peak = max(steps, key=lambda step: step[2], default=("forward", "", out[INPUT] + given))
    fixed = SLACK + LAYER_SLACK * len(network.layers)
    return MemoryEstimate(peak + fixed, phase, layer, weights, largest, largest_at, tuple(steps))


def estimate_value_check_memory(network: Network, report: Report) -> MemoryEstimate:
    """The peak bytes of `verify --against onnxruntime` (float32, forward only): ONNX Runtime hands back every
    layer's output at once, and each layer's reference forward then runs on them. So the weights, the input and
    all outputs are held together, plus, at the worst layer, its working set: the im2col columns a convolution
    copies, a band of output rows at a time for large ones (ONNX Runtime's own working buffers during its run
    are no larger: measured, its peak stays under this estimate), else an input- and an output-sized temporary,
    its reference output and their difference; and ONNX Runtime's session itself (`SESSION_BYTES`)."""
    item = DTYPE_BYTES["float32"]
    shapes, out = _tensor_bytes(network, report, item)
    weights = sum((row.params + row.buffers) * item for row in report.layers)
    worst, worst_at, largest, largest_at = 0, "", 0, ""
    for row, layer in zip(report.layers, network.layers):
        a, ins = out[row.name], sum(out[n] for n in row.inputs)
        in_shape = shapes[row.inputs[0]] if row.inputs else ()
        cols, forward_cols, blocks, _ = _conv_buffers(row, in_shape, layer.attrs, report.batch, item)
        work = _forward_work(row, forward_cols, blocks, ins, a) + 2 * a  # its output, and the difference
        if work > worst:
            worst, worst_at = work, row.name
        if max(cols, a) > largest:
            largest, largest_at = max(cols, a), row.name
    peak = sum(out.values()) + weights + worst + SESSION_BYTES + SLACK + LAYER_SLACK * len(network.layers)
    return MemoryEstimate(peak, "forward", worst_at, weights, largest, largest_at)


def default_memory_limit(meminfo: str = "/proc/meminfo") -> int | None:
    """`AVAILABLE_FRACTION` of the memory the machine has available now: MemAvailable from /proc/meminfo (Linux),
    else the free physical pages `os.sysconf` reports; None when neither is known (no limit)."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(int(line.split()[1]) * 1024 * AVAILABLE_FRACTION)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * AVAILABLE_FRACTION)
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(
    estimate: MemoryEstimate, limit: int | None, what: str = "the limit", task: str = "the reference pass"
) -> None:
    """Refuse (MemoryLimitError, exit 2) a pass whose estimated peak exceeds `limit` bytes; `task` names it."""
    if limit is None or estimate.peak <= limit:
        return
    from netcalc.render.units import human_bytes

    raise MemoryLimitError(
        f"{task} would need about {human_bytes(estimate.peak)} (peak in {estimate.phase} at layer "
        f"'{estimate.layer}'; weights {human_bytes(estimate.weights)}, largest buffer "
        f"{human_bytes(estimate.largest_buffer)} in '{estimate.largest_buffer_layer}'), more than {what} of "
        f"{human_bytes(limit)}: nothing was allocated; try a smaller --input or --batch, or raise --max-memory"
    )
