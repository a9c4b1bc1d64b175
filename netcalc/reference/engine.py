"""Run an expanded network forward and backward in NumPy, layer by layer, through the kinds' reference pairs.

The engine is NCHW: a feature map is (N, C, H, W), a flat vector (N, F). It knows nothing of any kind's
arithmetic; it only

- creates each layer's weights and buffers from a seed, with the shapes the kind's `weights`/`buffers` give for
  the inputs that really arrive (so a wrong shape rule upstream cannot corrupt the arrays downstream); the
  large weights a kind can take as their drawn block (`LayerKind.streamed_weights`) are handed over as
  `RepeatingMatrix`es, made a block of rows at a time or whole only while used, unless the caller keeps the
  weights;
- runs `forward` over `Network.layers` in order, dropping each activation after its last reader, and keeping
  only the caches backward needs;
- runs `backward` in reverse, adding gradients with `+=` where one tensor feeds several layers, and dropping
  each cache (and, unless asked to keep them, the weights and their gradients) as soon as its layer is done;
- counts every multiply-accumulate through the one counting point (`netcalc.reference.gemm`), per layer and
  per pass, and times each layer.

Nothing here prints; `progress` is an optional callback for a progress bar.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netcalc.errors import NetcalcError
from netcalc.kinds import REGISTRY
from netcalc.network import INPUT, Layer, Network
from netcalc.reference.gemm import count_macs
from netcalc.reference.heap import reusing_freed_memory
from netcalc.reference.memory import check_memory, estimate_memory
from netcalc.reference.streamed import PERIOD, GradientSummary, RepeatingMatrix, repeats
from netcalc.reference.threads import run_parts
from netcalc.shapes import Shape

Progress = Callable[[str, str], None]  # (phase "forward"/"backward"/"gradcheck", layer name), after each step
Arrays = dict[str, np.ndarray]

DTYPES = ("float32", "float64")
GRADCHECK_STEP = 1e-5
ROUNDING = 8 * 2.0**-52  # per-element rounding allowed in a float64 layer output, relative to its size


# The most layers the reference pass takes: at 20,000 `verify` stays under 10 s and 1 GiB on a 2-core machine
# (its per-layer NumPy calls cost ~0.2 ms a layer, forward and backward); summary and the other commands take up
# to the spec language's own maximum (docs/limits.md).
MAX_LAYERS = 20_000


def check_layer_count(network: Network) -> None:
    """Refuse (exit 2), before anything is drawn or allocated, a network longer than `MAX_LAYERS`, at the first
    layer past it."""
    from netcalc.language.spec import MAX_LAYERS as SPEC_MAX_LAYERS

    count = len(network.layers)
    if count > MAX_LAYERS:
        raise NetcalcError(
            f"the reference pass runs at most {MAX_LAYERS:,} layers and this network has {count:,}: verify a part "
            f"of it (summary, show and check take up to {SPEC_MAX_LAYERS:,})",
            network.layers[MAX_LAYERS].where(),
        )


class ReferenceFailure(NetcalcError):
    """The reference pass could not prove the analysis: a kind without forward/backward, or a layer whose
    reference code failed on the arrays it was given. Exit code 1, as for a disagreeing figure."""

    exit_code = 1


@dataclass(frozen=True)
class Gradcheck:
    """One layer's gradient check: `entries` sampled coordinates over `arrays` (its inputs and weights),
    analytic against central differences in float64.

    - `raw_error`: the worst max|a − n| / max(1e-8, max(|a| + |n|)) over the arrays, before any allowance
      (cs231n's relative error; NaN or infinity when a value was not finite);
    - `error`: the same with the rounding allowance of `layer_gradcheck`, the figure compared with the tolerance.
    """

    arrays: tuple[str, ...]
    entries: int
    raw_error: float
    error: float


@dataclass(frozen=True)
class LayerRun:
    """What the reference pass really did for one layer (shapes NCHW, counts for the whole batch)."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    output_nbytes: int
    params_used: int  # elements of the weight arrays forward read
    buffers_used: int  # elements of the buffer arrays forward read
    forward_macs: int
    forward_seconds: float
    backward_macs: int | None = None
    backward_seconds: float | None = None
    gradient_problems: tuple[str, ...] = ()  # gradient arrays whose shape differs from what they differentiate
    gradcheck_error: float | None = None  # worst relative error of sampled coordinates, float64 (see Gradcheck)
    gradcheck: Gradcheck | None = None  # what the gradient check compared, and its figures
    nonfinite: tuple[str, ...] = ()  # arrays this layer made NaN or infinite from finite inputs ("output", "dx")
    zero_gradients: tuple[str, ...] = ()  # weights whose gradient is identically zero (no information)
    zero_output: bool = False  # a network output, identically zero: nothing downstream of its zeros is checked
    # the first layer reading the network input, when the input's gradient (summed over its readers) is
    # identically zero: no backward of the pass carried information
    zero_input_gradient: bool = False
    gemm_seconds: float = 0.0  # of forward_seconds + backward_seconds, the time inside np.matmul
    init_seconds: float = 0.0  # drawing the layer's seeded weights and buffers (not in forward_seconds)
    live_bytes: int | None = None  # inference: bytes of the distinct arrays alive just after this layer's forward


@dataclass(frozen=True)
class Run:
    """The whole pass: one LayerRun per layer in network order, plus what the caller asked to keep."""

    layers: tuple[LayerRun, ...]
    output: np.ndarray
    input_grad: np.ndarray | None = None
    params: dict[str, Arrays] = field(default_factory=dict, repr=False)
    grads: dict[str, Arrays] = field(default_factory=dict, repr=False)

    @property
    def forward_macs(self) -> int:
        return sum(layer.forward_macs for layer in self.layers)

    @property
    def backward_macs(self) -> int:
        return sum(layer.backward_macs or 0 for layer in self.layers)


# --- shapes between the engine (NCHW) and the analysis (H×W×C, no batch) ---


def analysis_shape(shape: tuple[int, ...]) -> Shape:
    """(N, C, H, W) → (H, W, C); (N, F) → (F,)."""
    if len(shape) == 4:
        return (shape[2], shape[3], shape[1])
    return tuple(shape[1:])


def engine_shape(shape: Shape, batch: int) -> tuple[int, ...]:
    """(H, W, C) → (N, C, H, W); (F,) → (N, F)."""
    if len(shape) == 3:
        return (batch, shape[2], shape[0], shape[1])
    return (batch, *shape)


# --- seeded arrays ---


def _rng(seed: int, *path: int) -> np.random.Generator:
    """An independent stream per (seed, purpose, layer); SFC64 draws VGG's 138M weights ~1.3× faster than PCG64."""
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence([seed, *path])))


_MASK = (1 << 64) - 1


def _mix64(z: int) -> int:
    """splitmix64's finaliser: a 64-bit integer whose every bit depends on every bit of z."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


_LAYER_STREAM = np.random.SFC64(0)  # reseeded for every layer (the reference runs on one thread)


def _layer_stream(seed: int, index: int) -> np.random.SFC64:
    """The SFC64 stream of layer `index`'s weights: its state a, b, c is splitmix64 of (seed, index), its counter
    1, and its first 12 outputs are discarded, as SFC64's own seeding does. Setting the state of one generator
    costs ~3 µs against ~45 µs for a SeedSequence and a new generator, which a 100,000-layer network feels."""
    key = index
    while True:  # every 64 bits of the seed count: --seed takes any size
        key = _mix64(key ^ (seed & _MASK))
        seed >>= 64
        if not seed:
            break
    a = _mix64(key)
    b = _mix64(a)
    state = np.array([a, b, _mix64(b), 1], dtype=np.uint64)
    _LAYER_STREAM.state = {"bit_generator": "SFC64", "state": {"state": state}, "has_uint32": 0, "uinteger": 0}
    _LAYER_STREAM.random_raw(12)
    return _LAYER_STREAM


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Standard normal drawn directly in `dtype` (no float64 temporary of a large input)."""
    return rng.standard_normal(shape, dtype=np.dtype(dtype).type)


_CHUNK = 1 << 16  # values converted per step


def _draw_into(stream: np.random.BitGenerator, out: np.ndarray, bound: float) -> np.ndarray:
    """Fill the 1-D float array `out` with values on [−bound, bound), made directly in its dtype: the
    generator's raw 64-bit words read as signed 32-bit (float32) or 64-bit (float64) integers, times bound / 2³¹
    (2⁶³)."""
    itemsize = out.itemsize
    ints, per_word = f"int{8 * itemsize}", 8 // itemsize
    scale = bound / 2.0 ** (8 * itemsize - 1)
    for start in range(0, out.size, _CHUNK):  # in chunks: no temporary of more than 512 KiB
        size = min(_CHUNK, out.size - start)
        words = stream.random_raw(-(-size // per_word)).view(ints)[:size]
        np.multiply(words, scale, out=out[start : start + size], casting="same_kind")
    return out


def _uniform(stream: np.random.BitGenerator, shape: tuple[int, ...], dtype: str, bound: float) -> np.ndarray:
    """Values on [−bound, bound), made directly in `dtype`: the first min(size, PERIOD) are `_draw_into`'s; a
    larger array repeats that block (element i is element i mod PERIOD). PERIOD is a prime wider than any row of the
    zoo, so rows start at different offsets of the block: no two columns are equal, nor any two rows of a matrix of
    fewer than PERIOD rows, which with the seed's reproducibility is all the check needs. Copying the block runs
    at memory speed, many times faster than drawing value by value; a pass that does not keep its weights copies
    it only while a layer uses it (`netcalc.reference.streamed`)."""
    out = np.empty(shape, dtype=np.dtype(dtype))
    flat = out.reshape(-1)
    drawn = min(flat.size, PERIOD)
    _draw_into(stream, flat[:drawn], bound)

    def tile(starts: Sequence[int]) -> None:
        for start in starts:
            end = min(flat.size, start + drawn)
            flat[start:end] = flat[: end - start]

    run_parts(tile, range(drawn, flat.size, drawn), out.nbytes)  # fresh pages are faulted in on every core
    return out


def init_layer_params(
    layer: Layer,
    index: int,
    in_shapes: tuple[Shape, ...],
    seed: int,
    dtype: str,
    weight_shapes: Mapping[str, Shape] | None = None,
    streamed: Collection[str] = (),
) -> Arrays:
    """Weights and buffers of one layer, named and shaped by its kind for these (analysis-convention) inputs.

    Weights with a fan-in (ndim ≥ 2) are He-uniform, ±√(6 / fan-in) (variance 2 / fan-in, PyTorch's
    kaiming_uniform_ for ReLU), so activations neither vanish nor blow up through VGG's sixteen layers; vectors
    (biases, β) are uniform ±0.2, `gamma` 1 ± 0.2; running means ±0.2 and running variances in [0.5, 1.5).
    Layer `index` keys the random stream, so a layer's arrays do not depend on the layers before it.
    `weight_shapes`: the kind's `weights` for these inputs, when the caller has them already.
    `streamed`: weights to hand over as a `RepeatingMatrix` (the same values, held as their drawn block) when
    they have two axes or more and over PERIOD values (`netcalc.reference.streamed.repeats`); the kind's
    reference must take one.
    """
    kind = REGISTRY[layer.kind]
    weights = kind.weights(layer.attrs, in_shapes) if weight_shapes is None else weight_shapes
    buffers = kind.buffers(layer.attrs, in_shapes)
    if not weights and not buffers:
        return {}
    stream = _layer_stream(seed, index)
    arrays: Arrays = {}
    for name, shape in weights.items():
        bound = math.sqrt(6.0 / max(1, math.prod(shape[1:]))) if len(shape) >= 2 else 0.2
        if name in streamed and repeats(shape):
            arrays[name] = RepeatingMatrix(_draw_into(stream, np.empty(PERIOD, dtype=dtype), bound), shape)
        else:
            arrays[name] = _uniform(stream, shape, dtype, bound)
        if name == "gamma":
            arrays[name] += 1
    for name, shape in buffers.items():
        arrays[name] = _uniform(stream, shape, dtype, 0.5) + 1 if "var" in name else _uniform(stream, shape, dtype, 0.2)
    return arrays


def random_input(network: Network, batch: int, seed: int, dtype: str) -> np.ndarray:
    """The network input, (N, C, H, W), standard normal."""
    return _normal(_rng(seed, 0), engine_shape(network.input_shape, batch), dtype)


def random_output_grad(shape: tuple[int, ...], seed: int, dtype: str) -> np.ndarray:
    """dL/dy for the network output: the loss is L = Σ y · g for this fixed random g."""
    return _normal(_rng(seed, 2), shape, dtype)


class _Reads(Mapping[str, np.ndarray]):
    """A layer's arrays as its forward sees them, remembering which ones it read."""

    def __init__(self, arrays: Arrays) -> None:
        self._arrays = arrays
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> np.ndarray:
        value = self._arrays[key]
        self.read.add(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)


def check_reference(network: Network, backward: bool) -> None:
    """Fail loudly, before any work, when a kind in the network has no reference forward (or backward)."""
    missing: dict[str, list[str]] = {}
    for layer in network.layers:
        kind = REGISTRY[layer.kind]
        if kind.forward is None or (backward and kind.backward is None):
            missing.setdefault(layer.kind, []).append(layer.name)
    if missing:
        listing = "; ".join(
            f"{kind} ({', '.join(names[:3])}{', …' if len(names) > 3 else ''})" for kind, names in missing.items()
        )
        what = "forward/backward" if backward else "forward"
        raise ReferenceFailure(f"no NumPy reference {what} for kind {listing}: these layers cannot be verified")


def live_nbytes(arrays: Iterator[np.ndarray] | list[np.ndarray]) -> int:
    """Bytes of the distinct memory blocks behind `arrays`: a view counts as the array it was taken from."""
    roots: dict[int, int] = {}
    for a in arrays:
        while isinstance(a.base, np.ndarray):
            a = a.base
        roots[id(a)] = a.nbytes
    return sum(roots.values())


def inference_overwrites(network: Network) -> dict[int, int]:
    """Layer index → the input it writes over at inference, as the analysis plans it (PyTorch's in-place ReLU
    and `out += x`): running them so is what lets the measured peak equal the analysed one."""
    from netcalc.analysis.layout import storages
    from netcalc.analysis.memory import Step, storage_plan

    shapes: dict[str, Shape] = {INPUT: network.input_shape}
    for layer in network.layers:  # each kind's own shape rule, as the analysis applies it
        kind = REGISTRY[layer.kind]
        shapes[layer.name] = kind.output_shape(layer.attrs, tuple(shapes[name] for name in layer.inputs))
    kinds = storages(network.layers, shapes, train=False)  # a flatten of a view with gaps copies, as here
    steps = [Step(layer.name, layer.inputs, storage, 0) for layer, storage in zip(network.layers, kinds)]
    return storage_plan(steps, network.outputs).overwrites


def _run_attrs(layer: Layer, seed: int, index: int) -> dict[str, Any]:
    """The layer's attributes plus `seed`, the per-layer seed a training-mode dropout draws its mask from."""
    return {**layer.attrs, "seed": [seed, 3, index]}


def run(
    network: Network,
    *,
    batch: int = 1,
    seed: int = 0,
    dtype: str = "float32",
    train: bool | None = None,
    backward: bool = True,
    gradcheck: int = 0,
    x: np.ndarray | None = None,
    params: Mapping[str, Arrays] | None = None,
    output_grad: np.ndarray | None = None,
    keep: bool = False,
    progress: Progress | None = None,
    inject: Mapping[str, np.ndarray] | None = None,
    max_memory: int | None = None,
) -> Run:
    """Run `network` forward (and backward) on `batch` samples of `dtype`.

    - `train` (default: `backward`) selects training behaviour: batch statistics, dropout masks.
    - `gradcheck` N > 0 checks, for every layer, N sampled coordinates of each input gradient and each weight
      gradient against central differences of that layer alone, in float64 (needs `backward`).
    - `x`, `params`, `output_grad` replace the seeded input, weights and dL/dy (tests perturb them).
    - `keep` returns every layer's weights and weight gradients in `Run.params` / `Run.grads`; otherwise each is
      dropped once its layer's backward is done, so peak memory stays near weights + live activations.
    - Without backward, layers the analysis runs in place (`inference_overwrites`) write over their input, and
      each layer's `live_bytes` is measured: the distinct arrays alive right after its forward.
    - `inject` adds a gradient to named layers' outputs during backward (the receptive-field probes).
    - `max_memory` (bytes): refuse with `MemoryLimitError` (exit 2), before allocating anything, when the
      estimated peak of the pass's arrays (`netcalc.reference.memory`) exceeds it. A network of more than
      `MAX_LAYERS` layers is always refused so.
    """
    check_layer_count(network)
    # NaN and infinity are found and reported by layer, not warned about; freed blocks are reused, not faulted anew
    with np.errstate(all="ignore"), reusing_freed_memory():
        return _run(**locals())


def _run(
    network: Network,
    batch: int,
    seed: int,
    dtype: str,
    train: bool | None,
    backward: bool,
    gradcheck: int,
    x: np.ndarray | None,
    params: Mapping[str, Arrays] | None,
    output_grad: np.ndarray | None,
    keep: bool,
    progress: Progress | None,
    inject: Mapping[str, np.ndarray] | None,
    max_memory: int | None,
) -> Run:
    if dtype not in DTYPES:
        raise NetcalcError(f"the reference pass runs in {' or '.join(DTYPES)}, not {dtype}")
    if gradcheck and not backward:
        raise NetcalcError("--gradcheck needs the backward pass")
    train = backward if train is None else train
    check_reference(network, backward)
    if max_memory is not None:
        from netcalc.analysis.analyze import analyze_network

        report = analyze_network(network, batch=batch, dtype=dtype)
        check_memory(estimate_memory(network, report, backward=backward, gradcheck=gradcheck), max_memory)
    layers = network.layers
    x = random_input(network, batch, seed, dtype) if x is None else x

    last_reader: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for name in layer.inputs:
            last_reader[name] = i

    overwrites = {} if backward else inference_overwrites(network)
    spend = backward and not keep and not gradcheck  # nothing reads a layer's weights after its backward
    stream = not keep and not gradcheck  # nothing reads a layer's weights but its own forward and backward
    acts: dict[str, np.ndarray] = {INPUT: x}
    weights: dict[str, Arrays] = {}
    caches: dict[str, Any] = {}
    kept_inputs: dict[str, tuple[np.ndarray, ...]] = {}  # for gradcheck only
    shapes: dict[str, tuple[int, ...]] = {INPUT: x.shape}
    nonfinite: set[str] = set() if _finite(x) else {INPUT}  # tensors holding NaN or infinity
    outputs = set(network.outputs)
    facts: list[dict[str, Any]] = []
    kept_params: dict[str, Arrays] = {}
    weight_names: list[tuple[str, ...]] = []  # per layer, the names its kind gives weights (not buffers)

    for i, layer in enumerate(layers):
        kind = REGISTRY[layer.kind]
        xs = tuple(acts[name] for name in layer.inputs)
        in_shapes = tuple(analysis_shape(a.shape) for a in xs)
        start = time.perf_counter()
        given = params is not None and layer.name in params
        try:
            weight_shapes = kind.weights(layer.attrs, in_shapes)
            arrays = (
                params[layer.name]
                if given
                else init_layer_params(
                    layer, i, in_shapes, seed, dtype, weight_shapes, kind.streamed_weights if stream else ()
                )
            )
        except Exception as error:  # the kind's `weights` refuses the arrays that really arrive
            raise _failed(layer, "weight init", error) from error
        weight_names.append(tuple(weight_shapes))
        init_seconds = time.perf_counter() - start
        reads = _Reads(arrays)
        attrs = _run_attrs(layer, seed, i)
        if i in overwrites:
            attrs["inplace"] = overwrites[i]
        if spend and not given:  # the weights are ours and dropped after backward: it may write over them
            attrs["spend_weights"] = True
        start = time.perf_counter()
        try:
            with count_macs() as counter:
                y, cache = kind.forward(xs, reads, attrs, train)  # type: ignore[misc]
        except Exception as error:
            raise _failed(layer, "forward", error) from error
        seconds = time.perf_counter() - start
        live = None if backward else live_nbytes([*acts.values(), y])
        facts.append(
            {
                "name": layer.name,
                "kind": layer.kind,
                "output_shape": tuple(y.shape),
                "output_nbytes": int(y.nbytes),
                "params_used": sum(arrays[k].size for k in reads.read if k in weight_shapes),
                "buffers_used": sum(arrays[k].size for k in reads.read if k not in weight_shapes),
                "forward_macs": counter.macs,
                "forward_seconds": seconds,
                "gemm_seconds": counter.seconds,
                "init_seconds": init_seconds,
                "live_bytes": live,
            }
        )
        shapes[layer.name] = tuple(y.shape)
        finite, zero = _summed(y) if layer.name in outputs else (_finite(y), False)
        if not finite and not any(name in nonfinite for name in layer.inputs):
            facts[-1]["nonfinite"] = ("output",)
        if zero:
            facts[-1]["zero_output"] = True
        if facts[-1].get("nonfinite") or any(name in nonfinite for name in layer.inputs):
            nonfinite.add(layer.name)
        if layer.name in last_reader or layer.name in outputs:
            acts[layer.name] = y
        if keep:
            kept_params[layer.name] = arrays
        if backward:
            caches[layer.name] = cache
            weights[layer.name] = arrays
            if gradcheck:
                kept_inputs[layer.name] = xs
        del cache, xs, reads, y, arrays  # forward-only: this layer's weights go before the next are drawn
        for name in set(layer.inputs):
            if last_reader[name] == i and name not in outputs:
                del acts[name]
        if progress:
            progress("forward", layer.name)

    output = acts[network.output]
    if not backward:
        return Run(tuple(LayerRun(**f) for f in facts), output, params=kept_params)

    grads: dict[str, np.ndarray] = {}
    owned: set[str] = set()  # gradients the engine allocated itself, safe to add into

    def accumulate(name: str, g: np.ndarray) -> None:
        if name not in grads:
            grads[name] = g  # may be a view of another layer's dy: never written into
        elif name in owned:
            grads[name] += g
        else:
            grads[name] = grads[name] + g
            owned.add(name)

    # L = Σ over the outputs of Σ y · g, one fixed random g per output (the first one's is `output_grad`)
    dy_out = random_output_grad(output.shape, seed, dtype) if output_grad is None else output_grad
    accumulate(network.output, dy_out)
    for k, name in enumerate(network.outputs):
        if name != network.output:
            accumulate(name, _normal(_rng(seed, 2, k), acts[name].shape, dtype))
    del acts, output_grad
    kept_grads: dict[str, Arrays] = {}

    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        kind = REGISTRY[layer.kind]
        if inject is not None and layer.name in inject:
            accumulate(layer.name, inject[layer.name])
        dy = grads.pop(layer.name, None)
        owned.discard(layer.name)
        if dy is None:  # an output nothing downstream reads: its gradient is zero
            dy = np.zeros(shapes[layer.name], dtype=dtype)
        cache = caches.pop(layer.name)
        start = time.perf_counter()
        try:
            with count_macs() as counter:
                dxs, dparams = kind.backward(dy, cache)  # type: ignore[misc]
        except Exception as error:
            raise _failed(layer, "backward", error) from error
        seconds = time.perf_counter() - start
        del cache
        arrays = weights.pop(layer.name)
        in_shapes = [shapes[n] for n in layer.inputs]
        problems = _gradient_problems(layer, dxs, dparams, in_shapes, arrays, weight_names[i])
        bad, zero = _gradient_values(layer, dxs, dparams, [n for n in weight_names[i] if n in dparams])
        if bad and (_finite(dy) and not any(n in nonfinite for n in layer.inputs) and layer.name not in nonfinite):
            facts[i]["nonfinite"] = facts[i].get("nonfinite", ()) + bad
        check = None
        if gradcheck and layer.name not in nonfinite and _finite(dy):  # else only the layer that made them fails
            xs = kept_inputs.pop(layer.name)
            check = layer_gradcheck(layer, xs, arrays, dy, _run_attrs(layer, seed, i), train, gradcheck, seed, i)
            del xs
        facts[i].update(
            backward_macs=counter.macs,
            backward_seconds=seconds,
            gradient_problems=problems,
            gradcheck_error=None if check is None else check.error,
            gradcheck=check,
            zero_gradients=zero,
            gemm_seconds=facts[i]["gemm_seconds"] + counter.seconds,
        )
        if keep:
            kept_grads[layer.name] = dict(dparams)
        del dy, dparams, arrays
        for name, g in zip(layer.inputs, dxs):
            accumulate(name, g)
        del dxs
        if progress:
            progress("backward", layer.name)

    input_grad = grads.get(INPUT)
    readers = [i for i, layer in enumerate(layers) if INPUT in layer.inputs]
    if readers and (input_grad is None or _summed(input_grad)[1]):  # one more pass, over the input's size only
        facts[readers[0]]["zero_input_gradient"] = True
    return Run(
        tuple(LayerRun(**f) for f in facts),
        output,
        input_grad=input_grad,
        params=kept_params,
        grads=kept_grads,
    )


def _finite(a: np.ndarray) -> bool:
    """No NaN or infinity in `a`. One summing pass (NaN and ±infinity survive a sum); only a sum that overflows
    from finite values, or an integer array, takes the exact elementwise test."""
    return _summed(a)[0]


def _summed(a: np.ndarray) -> tuple[bool, bool]:
    """(no NaN or infinity in `a`, `a` identically zero), from `_finite`'s one summing pass: only a sum of
    exactly 0 (all zeros, or a cancellation) takes a second pass, `any`, to tell which."""
    if a.dtype.kind != "f":
        return (bool(np.isfinite(a).all()) if a.dtype.kind == "c" else True), not a.any()
    with np.errstate(all="ignore"):
        total = np.add.reduce(a, axis=None)
    if np.isfinite(total):
        return True, bool(total == 0) and not a.any()
    return bool(np.isfinite(a).all()), False


def _gradient_values(
    layer: Layer, dxs: tuple[np.ndarray, ...], dparams: Mapping[str, np.ndarray], weight_names: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(gradients holding NaN or infinity, weights whose gradient is identically zero), by name: `d<input>`,
    `d<weight>`; the weights in the second list by their own names."""
    bad = [f"d{name}" for name, g in zip(layer.inputs, dxs) if not _finite(g)]
    zero = []
    for name in weight_names:
        g = dparams[name]
        if isinstance(g, GradientSummary):  # made and checked block by block (`netcalc.reference.streamed`)
            if not g.finite:
                bad.append(f"d{name}")
            elif g.zero:
                zero.append(name)
            continue
        with np.errstate(all="ignore"):
            total = np.add.reduce(g, axis=None) if g.dtype.kind == "f" else g.sum()
        if not np.isfinite(total) and not np.isfinite(g).all():
            bad.append(f"d{name}")
        elif total == 0 and not g.any():  # a nonzero sum settles it without a second pass
            zero.append(name)
    return tuple(bad), tuple(zero)


def _failed(layer: Layer, phase: str, error: Exception) -> ReferenceFailure:
    """The failure located at the layer (its line and name), so the message itself need not name it again."""
    return ReferenceFailure(
        f"the reference {phase} of this {layer.kind} failed: {type(error).__name__}: {error}", layer.where()
    )


def _gradient_problems(
    layer: Layer,
    dxs: tuple[np.ndarray, ...],
    dparams: Mapping[str, np.ndarray],
    in_shapes: list,
    arrays: Arrays,
    weight_names: tuple[str, ...],
) -> tuple[str, ...]:
    """Each gradient must have exactly the shape of what it differentiates, and every weight (`weight_names`)
    needs one."""
    problems = []
    if len(dxs) != len(in_shapes):
        problems.append(f"{len(dxs)} input gradients for {len(in_shapes)} inputs")
    for name, g, shape in zip(layer.inputs, dxs, in_shapes):
        if tuple(g.shape) != tuple(shape):
            problems.append(f"d{name} {tuple(g.shape)} ≠ {tuple(shape)}")
    for name in sorted(weight_names):
        if name not in dparams:
            problems.append(f"no gradient for {name}")
        elif tuple(dparams[name].shape) != tuple(arrays[name].shape):
            problems.append(f"d{name} {tuple(dparams[name].shape)} ≠ {tuple(arrays[name].shape)}")
    return tuple(problems)


# --- per-layer gradient check ---


def layer_gradcheck(
    layer: Layer,
    xs: tuple[np.ndarray, ...],
    arrays: Arrays,
    dy: np.ndarray,
    attrs: Mapping[str, Any],
    train: bool,
    samples: int,
    seed: int,
    index: int,
) -> Gradcheck:
    """Worst relative error, over the layer's inputs and weights, between the analytic gradient and central
    differences of L = Σ f(x, w) · dy at `samples` random coordinates of each array, all in float64.

    - The step is h = 1e-5 · max(1, rms of the array): large activations (ZFNet's first LRN sees values in the
      tens) would otherwise leave the difference to rounding.
    - The inputs get a small seeded jitter (±10% of their spread) first: a ReLU's exact zeros meeting in a max
      window, or a ReLU fed dropout's zeros, sit exactly on a kink where no derivative exists to check.
    - Per array the error is max|a − n| / max(1e-8, max(|a| + |n| + m)) over the sampled coordinates, with
      a the analytic and n the numerical gradient, and m = Σ|Δf · dy| / 2h the size of the terms whose sum n is.
      m only matters where a gradient is (near) zero by cancellation, e.g. the bias of a conv feeding a
      training-mode batch norm: its true gradient is 0 and both a and n are rounding noise, which the plain
      cs231n ratio would report as a large error. Elsewhere m ≈ |n| and the ratio is cs231n's.
    - |a − n| is first reduced by the rounding n may carry, 8ε · Σ (|f(x+h)| + |f(x−h)|) · |dy| / 2h: where a
      coordinate only reaches the loss through a weak path (an LRN input through its neighbours' α/n term) the
      difference of two O(1) outputs is mostly rounding.

    A NaN or infinity in a or n makes both figures NaN (a failure; `max` would silently drop a NaN).
    Runs in MAC counters of its own, never the pass's.
    """
    kind = REGISTRY[layer.kind]
    rng = _rng(seed, 4, index)
    xs64 = tuple(_jittered(np.array(a, dtype=np.float64), rng) for a in xs)
    arrays64 = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
    dy64 = np.array(dy, dtype=np.float64)
    weight_names = list(kind.weights(layer.attrs, tuple(analysis_shape(a.shape) for a in xs)))

    def forward() -> np.ndarray:
        # fresh buffers each time: a training-mode forward updates running statistics in place
        params = {k: (v if k in weight_names else v.copy()) for k, v in arrays64.items()}
        return kind.forward(xs64, params, attrs, train)[0]  # type: ignore[misc]

    with count_macs():
        _, cache = kind.forward(xs64, {k: v.copy() for k, v in arrays64.items()}, attrs, train)  # type: ignore[misc]
        dxs, dparams = kind.backward(dy64, cache)  # type: ignore[misc]
        del cache
        targets = list(zip(xs64, dxs)) + [(arrays64[n], dparams[n]) for n in weight_names]
        names = tuple(f"d{n}" for n in layer.inputs) + tuple(f"d{n}" for n in weight_names)
        worst, worst_raw, entries = 0.0, 0.0, 0
        for array, grad in targets:
            flat, analytic = array.reshape(-1), np.asarray(grad, dtype=np.float64).reshape(-1)
            picks = rng.choice(flat.size, size=min(samples, flat.size), replace=False)
            step = GRADCHECK_STEP * max(1.0, float(np.sqrt(np.mean(flat * flat))))
            diff, scale, raw_diff, raw_scale = 0.0, 0.0, 0.0, 0.0
            entries += len(picks)
            for j in picks:
                old = flat[j]
                flat[j] = old + step
                plus = np.array(forward())  # a copy: the output may be a view of the input (flatten)
                flat[j] = old - step
                minus = forward()
                terms = (plus - minus) * dy64
                rounding = ROUNDING * float(np.sum((np.abs(plus) + np.abs(minus)) * np.abs(dy64))) / (2 * step)
                flat[j] = old  # only now: `minus` may be a view of the array
                numeric = terms.sum() / (2 * step)
                magnitude = np.abs(terms).sum() / (2 * step)
                if not (math.isfinite(analytic[j]) and math.isfinite(numeric) and math.isfinite(rounding)):
                    return Gradcheck(names, entries, math.nan, math.nan)
                diff = max(diff, abs(analytic[j] - numeric) - rounding)
                scale = max(scale, abs(analytic[j]) + abs(numeric) + magnitude)
                raw_diff = max(raw_diff, abs(analytic[j] - numeric))
                raw_scale = max(raw_scale, abs(analytic[j]) + abs(numeric))
            worst = max(worst, diff / max(1e-8, scale))
            worst_raw = max(worst_raw, raw_diff / max(1e-8, raw_scale))
    return Gradcheck(names, entries, float(worst_raw), float(worst))


def _jittered(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """x plus uniform noise of ±10% of its standard deviation (in place on this private copy)."""
    spread = float(x.std()) or 1.0
    x += (rng.random(x.shape) * 2 - 1) * (0.1 * spread)
    return x
