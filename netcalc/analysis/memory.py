"""Memory by tensor lifetime: which tensors share storage, when each storage lives, and what training keeps.

Layers run in the spec's order (a dependency order). A layer's output is a new tensor, a view of its input
(`flatten`, inference `dropout`) or written over its input (`relu`, `add`: PyTorch's `inplace=True` and
`out += x`) when nothing later reads that input's storage, it is not the network input or an output, and (in
training) no layer saved it for backward. A storage lives from the layer that allocates it to the last layer
that reads it; the network input lives until its last reader, the outputs to the end.

Training (PyTorch autograd's convention, per kind in `LayerKind.saved`): a layer records its backward only when
its output needs a gradient (it has weights, or an input that needs one); what it saves lives until its backward
is done. During the backward of layer i memory holds the weights, buffers, master copy and optimizer state, the
saved tensors of layers ≤ i, the gradients of the activations between their producer and their last reader
(views share their input's gradient), the weight gradients of layers ≥ i, and the outputs. Pure arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from netcalc.kinds.base import INPLACE, VIEW, Saved
from netcalc.network import INPUT

OPTIMIZER_STATE = {  # float values kept per parameter (PyTorch's torch.optim defaults)
    "sgd": 0,  # plain SGD keeps nothing
    "momentum": 1,  # momentum_buffer
    "nesterov": 1,  # momentum_buffer
    "adagrad": 1,  # state_sum
    "rmsprop": 1,  # square_avg (centered=False, momentum=0)
    "adam": 2,  # exp_avg, exp_avg_sq
    "adamw": 2,  # exp_avg, exp_avg_sq
}
MIXED = frozenset({"float16", "bfloat16"})  # trained with float32 master weights
MASTER_BYTES = 4


@dataclass(frozen=True)
class Step:
    """One layer as memory sees it: its inputs, how its output is stored, its size and what it saves."""

    name: str
    inputs: tuple[str, ...]
    storage: str
    out_bytes: int
    saved: Saved = field(default_factory=Saved)
    extra_bytes: int = 0  # the bytes of saved.extras, for the batch
    param_elements: int = 0


@dataclass(frozen=True)
class Plan:
    """Which storage each tensor lives in (named after the tensor that allocated it), and the layers that write
    over an input (layer index → input index)."""

    owner: dict[str, str]
    overwrites: dict[int, int]


def storage_plan(steps: Sequence[Step], outputs: Sequence[str], *, train: bool = False) -> Plan:
    last_reader: dict[str, int] = {}
    for i, step in enumerate(steps):
        for name in step.inputs:
            last_reader[name] = i
    ends = set(outputs)
    owner = {INPUT: INPUT}
    # per storage, over the tensors in it: the last layer that reads any of them, and whether one is an output
    # (kept as members join, so a chain of in-place layers costs one look per layer, not one per member)
    read_until: dict[str, int] = {INPUT: last_reader.get(INPUT, -1)}
    holds_output: dict[str, bool] = {INPUT: INPUT in ends}
    saved: set[str] = set()
    overwrites: dict[int, int] = {}
    for i, step in enumerate(steps):
        target = step.name
        if step.storage == VIEW and step.inputs:
            target = owner[step.inputs[0]]
        elif step.storage == INPLACE:
            for k, name in enumerate(step.inputs):
                s = owner[name]
                if s == INPUT or s in saved:
                    continue
                if read_until[s] > i or holds_output[s]:  # a tensor in it is read later, or is an output
                    continue
                target, overwrites[i] = s, k
                break
        owner[step.name] = target
        read_until[target] = max(read_until.get(target, -1), last_reader.get(step.name, -1))
        holds_output[target] = holds_output.get(target, False) or step.name in ends
        if train:
            if step.saved.inputs:
                saved.update(owner[step.inputs[k]] for k in step.saved.inputs)
            if step.saved.output:
                saved.add(target)
    return Plan(owner, overwrites)


def live_bytes(steps: Sequence[Step], outputs: Sequence[str], input_bytes: int) -> tuple[int, ...]:
    """Bytes of every storage alive while each layer runs (inference): the inputs it reads, the tensors still
    waiting for a later reader, the outputs made so far, and its own output."""
    plan = storage_plan(steps, outputs)
    size = {INPUT: input_bytes, **{s.name: s.out_bytes for s in steps}}
    first = {INPUT: -1}
    last: dict[str, int] = {INPUT: -1}
    end, ends, owner = len(steps) - 1, set(outputs), plan.owner
    for i, step in enumerate(steps):
        s = owner[step.name]
        first.setdefault(s, i)
        last[s] = end if step.name in ends else max(last.get(s, i), i)
        for name in step.inputs:
            if last[owner[name]] < i:  # an output's storage already lives to the end
                last[owner[name]] = i
    return _interval_sums(((first[s], last[s], size[s]) for s in first), len(steps))


def _interval_sums(intervals: Iterable[tuple[int, int, int]], n: int) -> tuple[int, ...]:
    """For each i in range(n), the sum of `size` over the (start, end, size) intervals with start ≤ i ≤ end:
    one pass over a difference array, so 100,000 layers cost 100,000 steps, not their square."""
    delta = [0] * (n + 1)
    for start, end, size in intervals:
        start, end = max(start, 0), min(end, n - 1)
        if start <= end:
            delta[start] += size
            delta[end + 1] -= size
    return tuple(accumulate(delta[:n]))


@dataclass(frozen=True)
class TrainingState:
    """What training keeps besides activations, for the whole network (bytes)."""

    optimizer: str
    weights: int  # parameters in the training dtype
    buffers: int  # batch-norm running statistics
    master: int  # float32 master weights (mixed precision only)
    optimizer_state: int
    gradients: int  # weight gradients, in the training dtype

    @property
    def constant(self) -> int:
        return self.weights + self.buffers + self.master + self.optimizer_state


def training_state(params: int, buffers: int, dtype_bytes: int, dtype: str, optimizer: str) -> TrainingState:
    mixed = dtype in MIXED
    state_bytes = MASTER_BYTES if mixed else dtype_bytes
    return TrainingState(
        optimizer=optimizer,
        weights=params * dtype_bytes,
        buffers=buffers * dtype_bytes,
        master=params * MASTER_BYTES if mixed else 0,
        optimizer_state=OPTIMIZER_STATE[optimizer] * params * state_bytes,
        gradients=params * dtype_bytes,
    )


@dataclass(frozen=True)
class Backward:
    """Per layer: whether autograd records it, whether it must compute its input gradient, the bytes it is the
    first to save, and the training memory while its backward runs (TrainingState.constant included)."""

    records: tuple[bool, ...]
    needs_input_grad: tuple[bool, ...]
    saved_bytes: tuple[int, ...]
    live_bytes: tuple[int, ...]


def backward_memory(
    steps: Sequence[Step], outputs: Sequence[str], input_bytes: int, grad_bytes: int, state: TrainingState
) -> Backward:
    n = len(steps)
    plan = storage_plan(steps, outputs, train=True)
    size = {INPUT: input_bytes, **{s.name: s.out_bytes for s in steps}}
    requires = {INPUT: False}
    records, needs = [], []
    for step in steps:
        need = any([requires[name] for name in step.inputs])  # a list: most layers have one input
        record = step.param_elements > 0 or need
        needs.append(need)
        records.append(record)
        requires[step.name] = record

    # saved storages: alive during the backward of layers ≥ their first saver; attributed to that saver
    first_saver: dict[str, int] = {}
    owner = plan.owner
    for i, step in enumerate(steps):
        if records[i]:
            for k in step.saved.inputs:
                first_saver.setdefault(owner[step.inputs[k]], i)
            if step.saved.output:
                first_saver.setdefault(owner[step.name], i)
    saved_bytes = [step.extra_bytes if records[i] else 0 for i, step in enumerate(steps)]
    for s, i in first_saver.items():
        saved_bytes[i] += size[s]
    kept_outputs = sum(size[plan.owner[o]] for o in dict.fromkeys(outputs) if plan.owner[o] not in first_saver)

    # activation gradients: one per storage group linked by views, alive from its last reader's backward to its
    # producer's
    group = {INPUT: INPUT}
    grad_span: dict[str, list[int]] = {}
    ends = set(outputs)
    for i, step in enumerate(steps):
        name = step.name
        own = group[name] = group[step.inputs[0]] if step.storage == VIEW and step.inputs else name
        if requires[name]:
            span = grad_span.get(own)
            if span is None:
                span = grad_span[own] = [i, i]
            if name in ends:
                span[1] = n - 1
            elif span[1] < i:
                span[1] = i
        for read in step.inputs:
            if requires[read]:
                span = grad_span.get(group[read])
                if span is not None and span[1] < i:
                    span[1] = i

    # Per layer i, each term in one linear pass: storages saved by layers ≤ i, extras recorded by layers ≤ i,
    # activation gradients whose span holds i, and weight gradients of layers ≥ i (not yet freed).
    saved = _interval_sums(((first, n - 1, size[s]) for s, first in first_saver.items()), n)
    extras = list(accumulate(steps[j].extra_bytes if records[j] else 0 for j in range(n)))
    grads = _interval_sums(((a, b, size[g]) for g, (a, b) in grad_span.items()), n)
    weight_grads = list(accumulate(s.param_elements for s in reversed(steps)))[::-1]
    live = [
        state.constant + saved[i] + extras[i] + kept_outputs + grads[i] + weight_grads[i] * grad_bytes
        for i in range(n)
    ]
    return Backward(tuple(records), tuple(needs), tuple(saved_bytes), tuple(live))
