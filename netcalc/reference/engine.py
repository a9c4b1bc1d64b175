"""Run an expanded network forward and backward in NumPy, layer by layer, through the kinds' reference pairs.

The engine is NCHW: a feature map is (N, C, H, W), a flat vector (N, F). It knows nothing of any kind's
arithmetic; it only

- creates each layer's weights and buffers from a seed, with the shapes the kind's `weights`/`buffers` give for
  the inputs that really arrive (so a wrong shape rule upstream cannot corrupt the arrays downstream);
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netcalc.errors import NetcalcError
from netcalc.kinds import REGISTRY
from netcalc.network import INPUT, Layer, Network
from netcalc.reference.gemm import count_macs
from netcalc.shapes import Shape

Progress = Callable[[str, str], None]  # (phase "forward"/"backward"/"gradcheck", layer name), after each step
Arrays = dict[str, np.ndarray]

DTYPES = ("float32", "float64")
GRADCHECK_STEP = 1e-5


class ReferenceError(NetcalcError):
    """The reference pass could not prove the analysis: a kind without forward/backward, or a layer whose
    reference code failed on the arrays it was given. Exit code 1, as for a disagreeing figure."""

    exit_code = 1


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
    gradcheck_error: float | None = None  # worst relative error of sampled coordinates, float64
    gemm_seconds: float = 0.0  # of forward_seconds + backward_seconds, the time inside np.matmul


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
    return np.random.default_rng([seed, *path])


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, std: float = 1.0) -> np.ndarray:
    """Standard normal drawn directly in `dtype` (no float64 temporary of fc6's 400 MB)."""
    out = rng.standard_normal(shape, dtype=np.dtype(dtype).type)
    if std != 1.0:
        out *= std
    return out


def init_layer_params(layer: Layer, index: int, in_shapes: tuple[Shape, ...], seed: int, dtype: str) -> Arrays:
    """Weights and buffers of one layer, named and shaped by its kind for these (analysis-convention) inputs.

    Weights with a fan-in (ndim ≥ 2) are He-normal, std √(2 / fan-in), so activations neither vanish nor blow up
    through VGG's sixteen layers; vectors (biases, β) are N(0, 0.1²), except `gamma` N(1, 0.1²); running means
    N(0, 0.1²) and running variances in [0.5, 1.5). Layer `index` keys the random stream, so a layer's arrays do
    not depend on the layers before it.
    """
    kind = REGISTRY[layer.kind]
    rng = _rng(seed, 1, index)
    arrays: Arrays = {}
    for name, shape in kind.weights(layer.attrs, in_shapes).items():
        if len(shape) >= 2:
            arrays[name] = _normal(rng, shape, dtype, math.sqrt(2.0 / max(1, math.prod(shape[1:]))))
        else:
            arrays[name] = _normal(rng, shape, dtype, 0.1)
            if name == "gamma":
                arrays[name] += 1
    for name, shape in kind.buffers(layer.attrs, in_shapes).items():
        if "var" in name:
            arrays[name] = (rng.random(shape) + 0.5).astype(dtype)
        else:
            arrays[name] = _normal(rng, shape, dtype, 0.1)
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
        raise ReferenceError(f"no NumPy reference {what} for kind {listing}: these layers cannot be verified")


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
) -> Run:
    """Run `network` forward (and backward) on `batch` samples of `dtype`.

    - `train` (default: `backward`) selects training behaviour: batch statistics, dropout masks.
    - `gradcheck` N > 0 checks, for every layer, N sampled coordinates of each input gradient and each weight
      gradient against central differences of that layer alone, in float64 (needs `backward`).
    - `x`, `params`, `output_grad` replace the seeded input, weights and dL/dy (tests perturb them).
    - `keep` returns every layer's weights and weight gradients in `Run.params` / `Run.grads`; otherwise each is
      dropped once its layer's backward is done, so peak memory stays near weights + live activations.
    """
    if dtype not in DTYPES:
        raise NetcalcError(f"the reference pass runs in {' or '.join(DTYPES)}, not {dtype}")
    if gradcheck and not backward:
        raise NetcalcError("--gradcheck needs the backward pass")
    train = backward if train is None else train
    check_reference(network, backward)
    layers = network.layers
    x = random_input(network, batch, seed, dtype) if x is None else x

    last_reader: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for name in layer.inputs:
            last_reader[name] = i

    acts: dict[str, np.ndarray] = {INPUT: x}
    weights: dict[str, Arrays] = {}
    caches: dict[str, Any] = {}
    kept_inputs: dict[str, tuple[np.ndarray, ...]] = {}  # for gradcheck only
    shapes: dict[str, tuple[int, ...]] = {INPUT: x.shape}
    facts: list[dict[str, Any]] = []
    kept_params: dict[str, Arrays] = {}

    for i, layer in enumerate(layers):
        kind = REGISTRY[layer.kind]
        xs = tuple(acts[name] for name in layer.inputs)
        if params is not None and layer.name in params:
            arrays = params[layer.name]
        else:
            arrays = init_layer_params(layer, i, tuple(analysis_shape(a.shape) for a in xs), seed, dtype)
        reads = _Reads(arrays)
        attrs = _run_attrs(layer, seed, i)
        start = time.perf_counter()
        try:
            with count_macs() as counter:
                y, cache = kind.forward(xs, reads, attrs, train)  # type: ignore[misc]
        except Exception as error:
            raise _failed(layer, "forward", error) from error
        seconds = time.perf_counter() - start
        weight_names = set(kind.weights(layer.attrs, tuple(analysis_shape(a.shape) for a in xs)))
        facts.append(
            {
                "name": layer.name,
                "kind": layer.kind,
                "output_shape": tuple(y.shape),
                "output_nbytes": int(y.nbytes),
                "params_used": sum(arrays[k].size for k in reads.read if k in weight_names),
                "buffers_used": sum(arrays[k].size for k in reads.read if k not in weight_names),
                "forward_macs": counter.macs,
                "forward_seconds": seconds,
                "gemm_seconds": counter.seconds,
            }
        )
        shapes[layer.name] = tuple(y.shape)
        if layer.name in last_reader or layer.name == network.output:
            acts[layer.name] = y
        if keep:
            kept_params[layer.name] = arrays
        if backward:
            caches[layer.name] = cache
            weights[layer.name] = arrays
            if gradcheck:
                kept_inputs[layer.name] = xs
        del cache, xs, reads, y
        for name in layer.inputs:
            if last_reader[name] == i and name != network.output:
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

    dy_out = random_output_grad(output.shape, seed, dtype) if output_grad is None else output_grad
    accumulate(network.output, dy_out)
    del acts, output_grad
    kept_grads: dict[str, Arrays] = {}

    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        kind = REGISTRY[layer.kind]
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
        problems = _gradient_problems(layer, dxs, dparams, [shapes[n] for n in layer.inputs], arrays)
        error_ = None
        if gradcheck:
            xs = kept_inputs.pop(layer.name)
            error_ = layer_gradcheck(layer, xs, arrays, dy, _run_attrs(layer, seed, i), train, gradcheck, seed, i)
            del xs
        facts[i].update(
            backward_macs=counter.macs,
            backward_seconds=seconds,
            gradient_problems=problems,
            gradcheck_error=error_,
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

    return Run(
        tuple(LayerRun(**f) for f in facts),
        output,
        input_grad=grads.get(INPUT),
        params=kept_params,
        grads=kept_grads,
    )


def _failed(layer: Layer, phase: str, error: Exception) -> ReferenceError:
    return ReferenceError(
        f"layer '{layer.name}' ({layer.kind}): the reference {phase} failed: {type(error).__name__}: {error}",
        layer.where(),
    )


def _gradient_problems(
    layer: Layer, dxs: tuple[np.ndarray, ...], dparams: Mapping[str, np.ndarray], in_shapes: list, arrays: Arrays
) -> tuple[str, ...]:
    """Each gradient must have exactly the shape of what it differentiates, and every weight needs one."""
    problems = []
    if len(dxs) != len(in_shapes):
        problems.append(f"{len(dxs)} input gradients for {len(in_shapes)} inputs")
    for name, g, shape in zip(layer.inputs, dxs, in_shapes):
        if tuple(g.shape) != tuple(shape):
            problems.append(f"d{name} {tuple(g.shape)} ≠ {tuple(shape)}")
    weight_names = set(REGISTRY[layer.kind].weights(layer.attrs, tuple(analysis_shape(s) for s in in_shapes)))
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
) -> float:
    """Worst relative error, over `samples` random coordinates of every input and every weight, between the
    layer's analytic gradient and central differences of L = Σ f(x, w) · dy, all in float64.

    Runs outside the MAC counters of the pass (its own counting is thrown away).
    """
    from netcalc.reference.gradcheck import rel_error

    kind = REGISTRY[layer.kind]
    xs64 = [np.array(a, dtype=np.float64) for a in xs]
    arrays64 = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
    dy64 = np.array(dy, dtype=np.float64)
    weight_names = list(kind.weights(layer.attrs, tuple(analysis_shape(a.shape) for a in xs)))

    def forward() -> np.ndarray:
        # fresh copies of buffers: a training-mode forward may update running statistics in place
        params = {k: (v if k in weight_names else v.copy()) for k, v in arrays64.items()}
        with count_macs():
            y, _ = kind.forward(tuple(xs64), params, attrs, train)  # type: ignore[misc]
        return y

    with count_macs():
        _, cache = kind.forward(tuple(xs64), {k: v.copy() for k, v in arrays64.items()}, attrs, train)  # type: ignore[misc]
        dxs, dparams = kind.backward(dy64, cache)  # type: ignore[misc]
    del cache
    rng = _rng(seed, 4, index)
    targets = [(a, g) for a, g in zip(xs64, dxs)] + [(arrays64[n], dparams[n]) for n in weight_names]
    worst = 0.0
    for array, grad in targets:
        flat, gflat = array.reshape(-1), np.asarray(grad).reshape(-1)
        picks = rng.choice(flat.size, size=min(samples, flat.size), replace=False)
        for j in picks:
            old = flat[j]
            flat[j] = old + GRADCHECK_STEP
            plus = forward()
            flat[j] = old - GRADCHECK_STEP
            minus = forward()
            flat[j] = old
            numeric = np.sum((plus - minus) * dy64) / (2 * GRADCHECK_STEP)
            worst = max(worst, float(rel_error(np.array([gflat[j]]), np.array([numeric]))))
    return worst
