"""The reference engine on whole tiny networks: counted MACs, fan-out gradient accumulation proven by central
differences of the whole network's loss (float64), memory release, seeds, and loud failures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import netcalc
from netcalc.kinds import REGISTRY
from netcalc.reference.engine import (
    ReferenceFailure,
    analysis_shape,
    engine_shape,
    random_input,
    random_output_grad,
    run,
)
from netcalc.reference.gradcheck import numerical_gradient_sampled, relative_error

STEP = 1e-6

RESIDUAL = """
name: residual
input: 6x6x4
defaults:
  conv: {padding: 1, bias: false}
layers:
  - {kind: conv, name: stem, out: 8, kernel: 3, bias: true}
  - {kind: conv, name: conv1, out: 8, kernel: 3}
  - {kind: batchnorm, name: bn1}
  - {kind: relu, name: relu1}
  - {kind: conv, name: conv2, out: 8, kernel: 3}
  - {kind: batchnorm, name: bn2}
  - {kind: add, name: add, from: [bn2, stem]}
  - {kind: relu, name: out}
  - global_avgpool
  - flatten
  - {kind: fc, name: head, out: 5}
"""

INCEPTION = """
name: inception
input: 5x5x6
defaults:
  conv: {padding: same, activation: relu}
layers:
  - {kind: conv, name: stem, out: 6, kernel: 1}
  - {kind: conv, name: b1, from: stem, out: 3, kernel: 1}
  - {kind: conv, name: b2a, from: stem, out: 4, kernel: 1}
  - {kind: conv, name: b2, from: b2a, out: 5, kernel: 3}
  - {kind: conv, name: b3, from: stem, out: 2, kernel: 5}
  - {kind: maxpool, name: b4a, from: stem, kernel: 3, stride: 1, padding: 1}
  - {kind: conv, name: b4, from: b4a, out: 3, kernel: 1}
  - {kind: concat, name: cat, from: [b1, b2, b3, b4]}
  - {kind: avgpool, kernel: 3, stride: 2, ceil_mode: true}
  - flatten
  - {kind: fc, name: head, out: 4, activation: tanh}
"""

DENSENET = """
name: dense
input: 6x6x4
defaults:
  conv: {bias: false}
blocks:
  layer:
    params: {growth: 3}
    layers:
      - {kind: batchnorm, name: norm}
      - {kind: relu, name: relu}
      - {kind: conv, name: conv, out: growth, kernel: 3, padding: 1}
      - {kind: concat, name: out, from: [input, conv]}
layers:
  - {block: layer, name: dense, repeat: 3}
  - {kind: batchnorm, name: norm}
  - {kind: conv, name: transition, out: 4, kernel: 1}
  - {kind: avgpool, kernel: 2}
  - flatten
  - {kind: fc, name: head, out: 3}
"""


def whole_network_gradcheck(spec: str, batch: int = 2, samples: int = 6, seed: int = 1) -> dict[str, float]:
    """Relative error of the engine's input and weight gradients against central differences of
    L = Σ output · g over the whole network, in float64; the worst per array, keyed by 'input' or 'layer.name'.

    The step is 1e-6, not 1e-5: a ReLU input within h of zero anywhere downstream makes the difference
    straddle the kink, and the whole network has many such inputs."""
    network = netcalc.parse_network_text(spec)
    x = random_input(network, batch, seed, "float64")
    first = run(network, batch=batch, seed=seed, dtype="float64", x=x, keep=True)
    g = random_output_grad(first.output.shape, seed, "float64")
    result = run(network, batch=batch, seed=seed, dtype="float64", x=x, params=first.params, output_grad=g, keep=True)

    def loss_output(_: np.ndarray) -> np.ndarray:
        # fresh running statistics each time: training-mode batch norm updates them in place
        params = {
            name: {k: v.copy() if "running" in k else v for k, v in a.items()} for name, a in result.params.items()
        }
        return run(network, batch=batch, dtype="float64", x=x, params=params, backward=False, train=True).output

    errors = {}
    picks, numeric = numerical_gradient_sampled(loss_output, x, g, samples, STEP, rng=0)
    errors["input"] = relative_error(result.input_grad.reshape(-1)[picks], numeric)
    for layer, arrays in result.params.items():
        for name, array in arrays.items():
            if "running" in name:
                continue
            picks, numeric = numerical_gradient_sampled(loss_output, array, g, samples, STEP, rng=0)
            errors[f"{layer}.{name}"] = relative_error(result.grads[layer][name].reshape(-1)[picks], numeric)
    return errors


@pytest.mark.parametrize("spec", [RESIDUAL, INCEPTION, DENSENET], ids=["residual", "inception", "densenet"])
def test_whole_network_gradients_match_central_differences(spec: str) -> None:
    errors = whole_network_gradcheck(spec)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


def test_fan_out_gradients_are_summed_over_every_reader() -> None:
    """`stem` feeds conv1 and the residual add: its gradient is the sum of both paths, proven by the stem
    weights' central differences (they see the whole loss) and by the identity path alone."""
    errors = whole_network_gradcheck(RESIDUAL)
    assert errors["stem.weight"] < 1e-6 and errors["stem.bias"] < 1e-6
    errors = whole_network_gradcheck(INCEPTION)  # stem feeds four branches
    assert errors["stem.weight"] < 1e-6
    errors = whole_network_gradcheck(DENSENET)  # every dense layer's input is read by its norm and its concat
    assert errors["input"] < 1e-6 and errors["dense.0.conv.weight"] < 1e-6


def test_the_same_input_twice_gets_twice_the_gradient() -> None:
    spec = "input: 3x3x2\nlayers:\n  - {kind: add, name: twice, from: [input, input]}\n"
    network = netcalc.parse_network_text(spec)
    g = np.arange(18, dtype=np.float64).reshape(1, 2, 3, 3)
    result = run(network, dtype="float64", output_grad=g)
    np.testing.assert_array_equal(result.input_grad, 2 * g)
    assert g[0, 0, 0, 1] == 1.0  # the caller's gradient was not written into


def test_counted_macs_of_a_tiny_conv() -> None:
    network = netcalc.parse_network_text("input: 8x8x3\nlayers:\n  - {kind: conv, out: 16, kernel: 3, padding: 1}\n")
    layer = run(network, batch=2).layers[0]
    assert layer.forward_macs == 2 * 8 * 8 * 16 * (3 * 3 * 3)
    assert layer.backward_macs == 2 * (2 * 8 * 8 * 16 * (3 * 3 * 3))  # dW and dx, one GEMM each
    assert layer.params_used == 16 * 3 * 3 * 3 + 16
    assert layer.output_shape == (2, 16, 8, 8)
    assert layer.output_nbytes == 2 * 16 * 8 * 8 * 4


def test_counted_macs_of_fc_and_grouped_and_transposed_convs() -> None:
    spec = """
input: 6x6x8
layers:
  - {kind: conv, name: dw, out: 8, kernel: 3, padding: 1, groups: 8}
  - {kind: conv_transpose, name: up, out: 4, kernel: 2, stride: 2, groups: 2}
  - flatten
  - {kind: fc, name: fc, out: 10}
"""
    layers = {r.name: r for r in run(netcalc.parse_network_text(spec)).layers}
    assert layers["dw"].forward_macs == 6 * 6 * 8 * (1 * 3 * 3)
    assert layers["up"].forward_macs == 6 * 6 * 8 * (4 // 2 * 2 * 2)
    assert layers["fc"].forward_macs == (12 * 12 * 4) * 10
    assert layers["flatten1"].forward_macs == 0


def test_shapes_convert_between_engine_and_analysis() -> None:
    assert analysis_shape((2, 16, 7, 9)) == (7, 9, 16)
    assert analysis_shape((2, 4096)) == (4096,)
    assert engine_shape((7, 9, 16), 2) == (2, 16, 7, 9)
    assert engine_shape((4096,), 3) == (3, 4096)


def test_seeds_make_runs_repeatable_and_distinct() -> None:
    network = netcalc.parse_network_text(RESIDUAL)
    a, b, c = run(network, seed=3), run(network, seed=3), run(network, seed=4)
    np.testing.assert_array_equal(a.output, b.output)
    np.testing.assert_array_equal(a.input_grad, b.input_grad)
    assert not np.array_equal(a.output, c.output)


def test_weights_and_gradients_are_released_unless_kept() -> None:
    network = netcalc.parse_network_text(RESIDUAL)
    assert run(network).params == {} and run(network).grads == {}
    kept = run(network, keep=True)
    assert set(kept.grads["conv1"]) == {"weight"}
    assert kept.grads["stem"]["weight"].shape == kept.params["stem"]["weight"].shape == (8, 4, 3, 3)


def test_a_branch_nothing_reads_gets_a_zero_gradient() -> None:
    spec = """
input: 4x4x2
layers:
  - {kind: conv, name: dead, out: 3, kernel: 1}
  - {kind: conv, name: live, from: input, out: 2, kernel: 1}
"""
    result = run(netcalc.parse_network_text(spec), dtype="float64", keep=True)
    assert not result.grads["dead"]["weight"].any()
    assert result.layers[0].backward_macs == 2 * (4 * 4 * 3 * 2)


def test_dropout_masks_are_seeded_in_training_and_absent_at_inference() -> None:
    network = netcalc.parse_network_text("input: [1, 1, 4000]\nlayers:\n  - flatten\n  - {kind: dropout, p: 0.25}\n")
    x = random_input(network, 1, 0, "float64")
    one = run(network, x=x, seed=5, dtype="float64").output
    two = run(network, x=x, seed=5, dtype="float64").output
    np.testing.assert_array_equal(one, two)
    kept = one != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(one[kept], x.reshape(1, -1)[kept] / (1 - 0.25))
    inference = run(network, x=x, backward=False).output
    np.testing.assert_array_equal(inference, x.reshape(1, -1))


def test_batchnorm_training_updates_running_statistics_and_inference_uses_them() -> None:
    network = netcalc.parse_network_text("input: 3x3x2\nlayers:\n  - {kind: batchnorm, name: bn, momentum: 0.5}\n")
    x = random_input(network, 4, 0, "float64")
    params = {"bn": {"gamma": np.ones(2), "beta": np.zeros(2), "running_mean": np.zeros(2), "running_var": np.ones(2)}}
    trained = run(network, batch=4, x=x, params=params, dtype="float64", train=True, backward=False)
    mean = x.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(params["bn"]["running_mean"], 0.5 * mean)
    np.testing.assert_allclose(params["bn"]["running_var"], 0.5 + 0.5 * x.var(axis=(0, 2, 3), ddof=1))
    np.testing.assert_allclose(trained.output.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    inference = run(network, batch=4, x=x, params=params, dtype="float64", backward=False)
    expected = (x - 0.5 * mean.reshape(1, 2, 1, 1)) / np.sqrt(params["bn"]["running_var"].reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(inference.output, expected)


def test_a_kind_without_reference_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "lrn", dataclasses.replace(REGISTRY["lrn"], backward=None))
    network = netcalc.parse_network_text("input: 4x4x8\nlayers:\n  - {kind: lrn, name: norm}\n  - relu\n")
    with pytest.raises(ReferenceFailure, match=r"no NumPy reference forward/backward for kind lrn \(norm\)") as error:
        run(network)
    assert error.value.exit_code == 1
    run(network, backward=False)  # forward alone is still there
    # without its forward, a forward-only pass names what is missing: the forward alone
    monkeypatch.setitem(REGISTRY, "lrn", dataclasses.replace(REGISTRY["lrn"], forward=None))
    with pytest.raises(ReferenceFailure, match=r"no NumPy reference forward for kind lrn \(norm\): these layers"):
        run(network, backward=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dtype": "float16"}, "the reference pass runs in float32 or float64, not float16"),
        ({"gradcheck": 2, "backward": False}, "--gradcheck needs the backward pass"),
    ],
)
def test_the_library_refuses_what_the_pass_cannot_run(options: dict, message: str) -> None:
    network = netcalc.parse_network_text("input: 4x4x2\nlayers: [relu]\n")
    with pytest.raises(netcalc.NetcalcError) as error:
        run(network, **options)
    assert str(error.value) == message and error.value.exit_code == 2


def test_a_reference_that_breaks_names_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    conv = REGISTRY["conv"]

    def wrong_weights(attrs, ins):  # ignores the groups: the weight no longer fits a grouped conv
        return {"weight": (attrs["out"], ins[0][-1], *attrs["kernel"])}

    monkeypatch.setitem(REGISTRY, "conv", dataclasses.replace(conv, weights=wrong_weights))
    network = netcalc.parse_network_text(
        "input: 4x4x4\nlayers:\n  - {kind: conv, name: dw, out: 4, kernel: 1, groups: 2}\n"
    )
    with pytest.raises(ReferenceFailure) as error:
        run(network)
    assert str(error.value).startswith("line 3: layer 'dw': the reference forward of this conv failed: KeyError")


@pytest.mark.parametrize(
    ("kind", "part", "spec", "expected"),
    [
        (
            "relu",
            "backward",
            "input: 4x4x2\nlayers:\n  - {kind: conv, out: 2, kernel: 1}\n  - relu\n",
            "line 4: layer 'relu1': the reference backward of this relu failed: FloatingPointError: planted",
        ),
        (
            "conv",
            "weights",  # the kind cannot give weights for the input that arrives
            "input: 4x4x4\nlayers:\n  - {kind: conv, name: c, out: 4, kernel: 1}\n",
            "line 3: layer 'c': the reference weight init of this conv failed: FloatingPointError: planted",
        ),
    ],
)
def test_a_step_that_breaks_is_reported_at_its_layer(monkeypatch, kind, part, spec, expected) -> None:
    def broken(*args):
        raise FloatingPointError("planted")

    monkeypatch.setitem(REGISTRY, kind, dataclasses.replace(REGISTRY[kind], **{part: broken}))
    with pytest.raises(ReferenceFailure) as error:
        run(netcalc.parse_network_text(spec))
    assert str(error.value) == expected


def test_a_non_finite_input_is_not_blamed_on_the_layers_that_carry_it() -> None:
    network = netcalc.parse_network_text("input: 4x4x2\nlayers:\n  - {kind: conv, out: 2, kernel: 1}\n  - relu\n")
    x = np.ones((1, 2, 4, 4), dtype=np.float32)
    x[0, 0, 0, 0] = np.nan
    assert [layer.nonfinite for layer in run(network, x=x).layers] == [(), ()]


def test_weight_gradients_are_freed_layer_by_layer() -> None:
    """Six 1000×1000 fc layers, their 6 × 4 MB float32 weights given (made before the trace). Backward holds one
    layer's weight gradient at a time, so the traced peak stays under two of them, against all six kept."""
    import tracemalloc

    spec = "input: [1, 1, 1000]\nlayers:\n  - flatten\n" + "  - {kind: fc, out: 1000, bias: false}\n" * 6
    network = netcalc.parse_network_text(spec)
    gradient = 1000 * 1000 * 4
    params = run(network, backward=False, keep=True).params
    tracemalloc.start()
    run(network, params=params)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert gradient < peak < 2 * gradient
    tracemalloc.start()
    run(network, params=params, keep=True)
    _, kept = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert kept > 6 * gradient


def test_the_fc_weight_gradient_is_written_over_the_spent_weight() -> None:
    """With nothing reading a weight after its layer's backward, its gradient takes the weight's memory: the six
    4 MB layers never hold a weight and a separate gradient at once."""
    import tracemalloc

    spec = "input: [1, 1, 1000]\nlayers:\n  - flatten\n" + "  - {kind: fc, out: 1000, bias: false}\n" * 6
    network = netcalc.parse_network_text(spec)
    tracemalloc.start()
    run(network)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 6 * 1000 * 1000 * 4 + 1000 * 1000 * 4 // 2


@pytest.mark.parametrize("options", [{"keep": True}, {"gradcheck": 2, "dtype": "float64"}, {"params": "given"}])
def test_weights_someone_still_reads_are_never_written_over(options: dict) -> None:
    """Kept weights, gradchecked weights and weights the caller passed in keep their values through backward."""
    network = netcalc.parse_network_text(RESIDUAL)
    drawn = run(network, dtype=options.get("dtype", "float32"), keep=True, backward=False).params
    before = {layer: {k: v.copy() for k, v in arrays.items()} for layer, arrays in drawn.items()}
    if options.get("params") == "given":
        options = {"params": drawn}
    result = run(network, **options)
    arrays = drawn if "params" in options else result.params
    for layer in ("stem", "head"):
        np.testing.assert_array_equal(arrays.get(layer, before[layer])["weight"], before[layer]["weight"])
    if "gradcheck" in options:  # checked at the drawn weights, as a run that keeps them checks them
        kept = run(network, keep=True, **options)
        assert [layer.gradcheck for layer in result.layers] == [layer.gradcheck for layer in kept.layers]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_drawn_weights_are_reproducible_bounded_and_break_symmetry(dtype: str) -> None:
    """An array over twice the drawn block (PERIOD values): repeated from the seed, within ±bound, uniform
    in spread, and still no two equal rows or columns (each row starts at another offset of the block)."""
    from netcalc.reference.engine import PERIOD, _layer_stream, _uniform

    rows, cols = 300, 7000
    assert rows * cols > 2 * PERIOD
    a = _uniform(_layer_stream(0, 5), (rows, cols), dtype, 0.5)
    np.testing.assert_array_equal(a, _uniform(_layer_stream(0, 5), (rows, cols), dtype, 0.5))
    assert not np.array_equal(a, _uniform(_layer_stream(0, 6), (rows, cols), dtype, 0.5))
    assert a.dtype == np.dtype(dtype) and np.abs(a).max() <= 0.5
    assert abs(a.std() - 0.5 / np.sqrt(3)) < 0.01 * 0.5 / np.sqrt(3) and abs(a.mean()) < 0.01
    assert np.unique(a, axis=0).shape[0] == rows and np.unique(a, axis=1).shape[1] == cols


def test_seeds_past_64_bits_draw_their_own_weights() -> None:
    from netcalc.reference.engine import _layer_stream

    draws = {seed: _layer_stream(seed, 3).random_raw(4).tolist() for seed in (5, 5 + 2**64, 2**64, 0, 2**200)}
    assert len({tuple(d) for d in draws.values()}) == 5
    assert _layer_stream(5 + 2**64, 3).random_raw(4).tolist() == draws[5 + 2**64]


class SplitMix64:
    """Vigna's splitmix64 (prng.di.unimi.it/splitmix64.c), written out here to rebuild the documented streams."""

    def __init__(self, state: int) -> None:
        self.state = state

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) % 2**64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        return z ^ (z >> 31)


def test_splitmix64_gives_its_published_outputs() -> None:
    from netcalc.reference.engine import _mix64

    # the first outputs of splitmix64 from state 0, as its reference implementation prints them
    published = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    mix = SplitMix64(0)
    assert [mix.next() for _ in range(3)] == published
    assert [_mix64(k * 0x9E3779B97F4A7C15 % 2**64) for k in range(3)] == published


def _documented_stream(seed: int, index: int) -> np.random.SFC64:
    """A layer's stream as docs/verify.md and `_layer_stream` describe it: the key is splitmix64 of the index
    xor each 64-bit limb of the seed in turn; SFC64's a, b, c are three splitmix64 steps from the key (each
    output seeding the next), its counter 1, and its first 12 outputs are discarded."""
    key = index
    while True:
        key = SplitMix64(key ^ (seed % 2**64)).next()
        seed >>= 64
        if not seed:
            break
    a = SplitMix64(key).next()
    b = SplitMix64(a).next()
    c = SplitMix64(b).next()
    stream = np.random.SFC64()
    stream.state = {"bit_generator": "SFC64", "state": {"state": np.array([a, b, c, 1], dtype=np.uint64)},
                    "has_uint32": 0, "uinteger": 0}  # fmt: skip
    stream.random_raw(12)
    return stream


@pytest.mark.parametrize(("seed", "index"), [(0, 0), (7, 3), (5 + 9 * 2**64, 11), (2**130 + 1, 2)])
def test_a_layers_weights_are_its_documented_stream_read_as_signed_integers(seed: int, index: int) -> None:
    from netcalc.reference.engine import _layer_stream, _uniform

    words = _documented_stream(seed, index).random_raw(8)
    assert _layer_stream(seed, index).random_raw(8).tolist() == words.tolist()
    # float32: each 64-bit word gives two values, its low 32 bits first (little-endian), as signed · bound / 2³¹
    values = _uniform(_layer_stream(seed, index), (16,), "float32", 0.5)
    expected = [
        (half - 2**32 if half >= 2**31 else half) * 0.5 / 2**31
        for word in words.tolist()
        for half in (word % 2**32, word >> 32)
    ]
    np.testing.assert_array_equal(values, np.array(expected, dtype=np.float32))
    # float64: one value per word, signed · bound / 2⁶³
    values = _uniform(_layer_stream(seed, index), (8,), "float64", 0.25)
    expected = [(word - 2**64 if word >= 2**63 else word) * 0.25 / 2**63 for word in words.tolist()]
    np.testing.assert_array_equal(values, np.array(expected))


def test_each_layers_timings_are_parts_of_the_passs_wall_time() -> None:
    """forward, backward and weight-drawing seconds of every layer are disjoint parts of the pass, and the GEMM
    seconds (benchmarks/bench_verify.py reads them) are part of the forward and backward time that holds them."""
    import time

    spec = "input: 32x32x8\nlayers:\n  - {kind: conv, name: c, out: 16, kernel: 3}\n  - {kind: relu, name: r}\n"
    network = netcalc.parse_network_text(spec)
    run(network)  # BLAS's threads start on the first GEMM: time a warm pass, whose backward GEMMs are 2/3 of it
    start = time.perf_counter()
    layers = {layer.name: layer for layer in run(network).layers}
    wall = time.perf_counter() - start
    spent = [(x.forward_seconds, x.backward_seconds, x.init_seconds, x.gemm_seconds) for x in layers.values()]
    assert all(seconds >= 0 for row in spent for seconds in row)
    assert sum(f + b + i for f, b, i, _ in spent) <= wall
    conv, relu = layers["c"], layers["r"]
    assert 0 < conv.gemm_seconds <= conv.forward_seconds + conv.backward_seconds
    assert conv.init_seconds > 0 and relu.gemm_seconds == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_drawn_weights_and_buffers_span_their_documented_ranges(dtype: str) -> None:
    """docs/verify.md: weights with a fan-in He-uniform ±√(6/fan-in), biases, β, slopes and running means ±0.2,
    γ 1 ± 0.2, running variances [0.5, 1.5), all in the pass's dtype; each range is filled, not only respected."""
    spec = (
        "input: 6x6x8\nlayers:\n  - {kind: conv, name: c, out: 16, kernel: 3}\n  - {kind: batchnorm, name: b}\n"
        "  - {kind: conv, name: d, out: 16, kernel: 1, groups: 16}\n  - {kind: prelu, name: p}\n  - flatten\n"
        "  - {kind: fc, name: f, out: 10}\n"
    )
    params = run(netcalc.parse_network_text(spec), keep=True, backward=False, dtype=dtype).params
    ranges = {
        ("c", "weight"): (-np.sqrt(6 / (8 * 3 * 3)), np.sqrt(6 / (8 * 3 * 3))),
        ("d", "weight"): (-np.sqrt(6), np.sqrt(6)),  # depthwise 1×1: a fan-in of one
        ("f", "weight"): (-np.sqrt(6 / 256), np.sqrt(6 / 256)),  # 4·4·16 features
        ("b", "gamma"): (0.8, 1.2),
        ("b", "running_var"): (0.5, 1.5),
        **{(layer, name): (-0.2, 0.2) for layer, name in [("c", "bias"), ("d", "bias"), ("f", "bias"), ("b", "beta"),
                                                          ("b", "running_mean"), ("p", "slope")]},
    }  # fmt: skip
    assert {(layer, name) for layer, arrays in params.items() for name in arrays} == set(ranges)
    for (layer, name), (low, high) in ranges.items():
        a = params[layer][name]
        assert a.dtype == np.dtype(dtype), (layer, name)
        assert low <= a.min() and a.max() <= high, (layer, name)
        if a.size < 16:
            continue
        # 16 or more uniform draws: both ends of the range are reached within a quarter of its width
        assert a.min() < low + (high - low) / 4 and a.max() > high - (high - low) / 4, (layer, name)


def test_the_default_seed_is_zero_and_overflow_is_reported_not_warned() -> None:
    import warnings

    network = netcalc.parse_network_text("input: 4x4x2\nlayers:\n  - {kind: conv, out: 2, kernel: 1}\n  - relu\n")
    np.testing.assert_array_equal(run(network).output, run(network, seed=0).output)
    x = np.full((1, 2, 4, 4), 3e38, dtype=np.float32)  # float32 overflows in the conv's sums
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from NumPy would be a second line on the user's terminal
        result = run(network, x=x)
    assert result.layers[0].nonfinite == ("output",)


def test_every_output_gets_its_own_gradient_and_progress_reports_each_step() -> None:
    """Two heads on one stem, both outputs: each head's weights get a gradient (its own seeded dL/dy), the stem's
    is the sum over both heads, and `progress` hears of every layer, forward in order, then backward reversed."""
    spec = (
        "input: 4x4x2\noutputs: [a, b]\nlayers:\n  - {kind: conv, name: stem, out: 3, kernel: 1}\n"
        "  - {kind: conv, name: a, out: 2, kernel: 1, from: stem}\n"
        "  - {kind: conv, name: b, out: 2, kernel: 1, from: stem}\n"
    )
    events: list[tuple[str, str]] = []
    both = run(netcalc.parse_network_text(spec), keep=True, progress=lambda phase, name: events.append((phase, name)))
    assert events == [("forward", "stem"), ("forward", "a"), ("forward", "b"), *[("backward", n) for n in "ba"],
                      ("backward", "stem")]  # fmt: skip
    assert all(not layer.zero_gradients for layer in both.layers)
    assert np.abs(both.grads["b"]["weight"]).min() > 0 and np.abs(both.grads["a"]["weight"]).min() > 0
    # with b no longer an output (nothing reads it), b's weights get no gradient and the stem only a's
    only_a = run(netcalc.parse_network_text(spec.replace("outputs: [a, b]", "outputs: [a]")), keep=True)
    np.testing.assert_array_equal(only_a.grads["a"]["weight"], both.grads["a"]["weight"])
    assert [layer.zero_gradients for layer in only_a.layers] == [(), (), ("weight", "bias")]  # reported, not hidden
    assert all(g.dtype == np.float32 and not g.any() for g in only_a.grads["b"].values())
    assert not np.allclose(only_a.grads["stem"]["weight"], both.grads["stem"]["weight"])


def test_the_layer_whose_output_overflows_is_the_one_flagged() -> None:
    network = netcalc.parse_network_text(
        "input: 4x4x2\nlayers:\n  - {kind: relu, name: r1}\n  - {kind: relu, name: r2}\n"
        "  - {kind: add, name: sum, from: [r1, r2]}\n  - {kind: relu, name: r3}\n"
    )
    x = np.full((1, 2, 4, 4), 3e38, dtype=np.float32)  # finite, until the add doubles it past float32's range
    assert [layer.nonfinite for layer in run(network, x=x, backward=False).layers] == [(), (), ("output",), ()]


def test_gradients_of_the_wrong_shape_or_missing_are_each_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backward that hands back a dx of another shape, no gradient for the bias and a weight gradient of another
    shape: each is one problem, named with both shapes (engine shapes: N, C, H, W)."""
    conv = REGISTRY["conv"]

    def wrong(dy, cache):
        (dx,), grads = conv.backward(dy, cache)
        return (dx[:, :, :2],), {"weight": grads["weight"][:1]}

    monkeypatch.setitem(REGISTRY, "conv", dataclasses.replace(conv, backward=wrong))
    network = netcalc.parse_network_text("input: 4x4x2\nlayers:\n  - {kind: conv, name: c, out: 3, kernel: 1}\n")
    (layer,) = run(network).layers
    assert layer.gradient_problems == (
        "dinput (1, 2, 2, 4) ≠ (1, 2, 4, 4)",
        "no gradient for bias",
        "dweight (1, 2, 1, 1) ≠ (3, 2, 1, 1)",
    )

    def too_many(dy, cache):
        (dx,), grads = conv.backward(dy, cache)
        return (dx, dx), grads

    monkeypatch.setitem(REGISTRY, "conv", dataclasses.replace(conv, backward=too_many))
    (layer,) = run(network).layers
    assert layer.gradient_problems == ("2 input gradients for 1 inputs",)


def test_the_seed_draws_the_input_too() -> None:
    network = netcalc.parse_network_text("input: 4x4x2\nlayers: [relu]\n")
    three, four = random_input(network, 1, 3, "float32"), random_input(network, 1, 4, "float32")
    assert three.shape == (1, 2, 4, 4) and not np.array_equal(three, four)
    np.testing.assert_array_equal(three, random_input(network, 1, 3, "float32"))


def test_gemm_seconds_add_the_forward_and_the_backward_gemms(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clock that ticks once per reading, each GEMM lasts one tick: a conv's forward GEMM and its
    backward's two (dW and the columns' gradient) make three; a ReLU has none."""
    import itertools
    import time

    ticks = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))
    network = netcalc.parse_network_text("input: 8x8x2\nlayers:\n  - {kind: conv, out: 4, kernel: 3}\n  - relu\n")
    conv, relu = run(network).layers
    assert (conv.gemm_seconds, relu.gemm_seconds) == (3.0, 0.0)


def test_a_second_outputs_gradient_is_drawn_from_the_seed_in_the_passs_dtype() -> None:
    """Same weights, input and first output's dL/dy: only the second output's seeded dL/dy differs with the seed."""
    spec = (
        "input: 4x4x2\noutputs: [a, b]\nlayers:\n  - {kind: conv, name: a, out: 2, kernel: 1}\n"
        "  - {kind: conv, name: b, out: 2, kernel: 1, from: input}\n"
    )
    network = netcalc.parse_network_text(spec)
    first = run(network, keep=True)
    x, g = random_input(network, 1, 0, "float32"), random_output_grad(first.output.shape, 0, "float32")
    one, two = (run(network, seed=s, x=x, params=first.params, output_grad=g, keep=True) for s in (0, 1))
    np.testing.assert_array_equal(one.grads["a"]["weight"], two.grads["a"]["weight"])
    assert not np.array_equal(one.grads["b"]["weight"], two.grads["b"]["weight"])
    assert all(g.dtype == np.float32 for grads in one.grads.values() for g in grads.values())
