"""Behaviour of the reference pass no other test pinned down, found by mutation testing (docs/mutation.md): the
gradient check's figures on a gradient known to be wrong by a known factor, failures that say where and what,
the memory limit's edge and its fallback, the calibration loop's counts. Expected values are arithmetic written
out here, or read from the operating system by another route."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

import netcalc
from netcalc.kinds import REGISTRY
from netcalc.reference import calibrate
from netcalc.reference.engine import ReferenceFailure, layer_gradcheck, run
from netcalc.reference.memory import MemoryEstimate, MemoryLimitError, check_memory, default_memory_limit

SPEC = "input: 3x3x2\nlayers:\n  - {kind: conv, name: c, out: 2, kernel: 1}\n  - {kind: relu, name: r}\n"


def relu_layer():
    return netcalc.parse_network_text(SPEC).layers[1]


def gradcheck_with(backward, xs, samples=6):
    layer = relu_layer()
    kind = REGISTRY["relu"]
    patched = dataclasses.replace(kind, backward=backward)
    dy = np.full(xs[0].shape, 0.5)
    original = REGISTRY["relu"]
    REGISTRY["relu"] = patched
    try:
        return layer_gradcheck(layer, xs, {}, dy, layer.attrs, True, samples, 0, 1)
    finally:
        REGISTRY["relu"] = original


def test_a_gradient_twice_too_large_reads_one_third_raw_and_one_quarter_allowed():
    # analytic a = 2n against numerical n at every sampled coordinate: raw |a − n| / (|a| + |n|) = n / 3n = 1/3;
    # the allowed figure adds m = Σ|Δf·dy| / 2h ≈ |n| (one term per coordinate for a ReLU) to the scale:
    # n / (2n + n + n) = 1/4
    x = np.linspace(0.5, 2.0, 18).reshape(1, 2, 3, 3)  # all positive: dL/dx = dy, away from the kink
    relu = REGISTRY["relu"]

    def doubled(dy, cache):
        (dx,), grads = relu.backward(dy, cache)
        return (2 * dx,), grads

    check = gradcheck_with(doubled, (x,))
    assert check.entries == 6 and check.arrays == ("dc",)
    assert check.raw_error == pytest.approx(1 / 3, rel=1e-6)
    assert check.error == pytest.approx(1 / 4, rel=1e-4)


def test_a_gradient_with_values_below_one_is_compared_by_ratio():
    # the floor max(1e-8, ·) only guards a zero scale: with |a|, |n| ≈ 0.05, the ratio is still 1/3
    x = np.linspace(0.5, 2.0, 18).reshape(1, 2, 3, 3)
    relu = REGISTRY["relu"]

    def doubled_small(dy, cache):
        (dx,), grads = relu.backward(dy * 0.1, cache)
        return (2 * dx,), grads

    layer = relu_layer()
    original = REGISTRY["relu"]
    REGISTRY["relu"] = dataclasses.replace(relu, backward=doubled_small)
    try:
        check = layer_gradcheck(layer, (x,), {}, np.full(x.shape, 0.05), layer.attrs, True, 6, 0, 1)
    finally:
        REGISTRY["relu"] = original
    # analytic 2·0.1·0.05 = 0.01 against numerical 0.05: |0.01 − 0.05| / (0.01 + 0.05) = 2/3
    assert check.raw_error == pytest.approx(2 / 3, rel=1e-6)


def test_a_non_finite_gradient_reads_nan_with_what_was_compared():
    x = np.linspace(0.5, 2.0, 18).reshape(1, 2, 3, 3)
    relu = REGISTRY["relu"]

    def poisoned(dy, cache):
        (dx,), grads = relu.backward(dy, cache)
        return (dx * np.nan,), grads

    check = gradcheck_with(poisoned, (x,))
    assert math.isnan(check.raw_error) and math.isnan(check.error)
    assert check.entries > 0 and check.arrays == ("dc",)


def test_the_step_grows_with_large_inputs():
    # h = 1e-5 · max(1, rms): float64's spacing near 1.5e6 is about 2.3e-10, so a step of 1e-5 would carry a
    # relative rounding of ~1e-5 (and one divided by the rms, ~7e-12, would vanish); 1e-5 · 1.5e6 = 15 is exact
    x = np.linspace(1e6, 2e6, 18).reshape(1, 2, 3, 3)
    check = gradcheck_with(REGISTRY["relu"].backward, (x,))
    assert check.raw_error < 1e-6


def test_a_reference_failure_names_the_layer_the_phase_and_the_error_type():
    network = netcalc.parse_network_text(SPEC)
    relu = REGISTRY["relu"]

    def broken(xs, params, attrs, train):
        raise ValueError("boom")

    REGISTRY["relu"] = dataclasses.replace(relu, forward=broken)
    try:
        with pytest.raises(ReferenceFailure) as caught:
            run(network)
    finally:
        REGISTRY["relu"] = relu
    assert str(caught.value) == "line 4: layer 'r': the reference forward of this relu failed: ValueError: boom"
    assert caught.value.location is not None and caught.value.location.line == 4


def estimate(peak: int) -> MemoryEstimate:
    return MemoryEstimate(peak, "forward", "c", 100, 50, "c")


def test_the_memory_limit_allows_exactly_the_limit():
    check_memory(estimate(1000), 1000)  # equal: allowed
    check_memory(estimate(10**12), None)  # no limit known
    with pytest.raises(MemoryLimitError, match="more than the limit of"):
        check_memory(estimate(1001), 1000)


def test_without_memavailable_the_limit_is_four_fifths_of_the_free_memory(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\n")  # no MemAvailable line: the fallback is the free pages
    free = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemFree:")
    )
    limit = default_memory_limit(str(meminfo))
    assert limit is not None and 0.6 * free <= limit <= 1.0 * free  # 0.8 of it, free memory moving meanwhile
    (tmp_path / "real").write_text("MemTotal: 1000 kB\nMemAvailable:    2048 kB\n")
    assert default_memory_limit(str(tmp_path / "real")) == int(2048 * 1024 * 0.8)


def test_calibration_takes_the_best_of_at_least_the_repeats_and_stops_at_fifty_times():
    calls = []
    times = iter([0.3, 0.1, 0.2])
    assert calibrate._best(0.0, 3, lambda: calls.append(next(times, 0.0))) >= 0
    assert len(calls) == 3  # `repeats` calls even with no time budget
    calls.clear()
    calibrate._best(60.0, 2, lambda: calls.append(1))  # instant calls never fill a minute: capped at 50 × 2
    assert len(calls) == 100


def test_calibrated_gemm_and_copy_speeds_are_plausible_for_a_cpu():
    # 2·n³ FLOPs per n×n GEMM: a CPU does between 10⁸ and 10¹⁴ FLOP/s; a copy moves 2 × the array's bytes
    flops = calibrate.gemm_flops("float64", seconds=0.05)
    assert 1e8 < flops < 1e14
    bandwidth = calibrate.stream_bandwidth(seconds=0.05)
    assert 1e8 < bandwidth < 1e13


def test_finite_values_whose_sum_overflows_are_still_finite_and_other_dtypes_are_judged_by_value() -> None:
    from netcalc.reference.engine import _finite

    assert _finite(np.full(4, 3e38, dtype=np.float32))  # the float32 sum is infinite; every value is finite
    assert not _finite(np.array([1.0, np.inf, -np.inf]))  # inf − inf: the sum is NaN
    assert not _finite(np.array([0.0, np.nan], dtype=np.float32))
    assert _finite(np.arange(5))  # integers are always finite
    assert not _finite(np.array([1 + 1j, complex(np.inf, 0)]))
    assert _finite(np.array([1 + 1j, 2 - 3j]))


def test_a_weight_gradient_that_sums_to_zero_is_not_called_zero() -> None:
    from netcalc.reference.engine import _gradient_values

    layer = netcalc.parse_network_text(SPEC).layers[0]
    cancelling = {"weight": np.array([[1.0, -1.0], [0.5, -0.5]]), "bias": np.zeros(2)}
    bad, zero = _gradient_values(layer, (np.ones((1, 2, 3, 3)),), cancelling, ["weight", "bias"])
    assert (bad, zero) == ((), ("bias",))  # the weight's gradient sums to 0 but carries information
    bad, zero = _gradient_values(layer, (np.ones(2),), {"weight": np.array([np.inf, -np.inf])}, ["weight"])
    assert bad == ("dweight",) and zero == ()
    huge = {"weight": np.full(2, 3e38, dtype=np.float32)}  # finite values whose float32 sum overflows
    assert _gradient_values(layer, (np.ones(2),), huge, ["weight"]) == ((), ())


def test_the_seed_changes_the_output_gradient_too() -> None:
    from netcalc.reference.engine import random_output_grad

    a, b = random_output_grad((2, 8), 0, "float64"), random_output_grad((2, 8), 1, "float64")
    assert not np.array_equal(a, b) and np.array_equal(a, random_output_grad((2, 8), 0, "float64"))


def test_calibrated_figures_are_the_work_over_the_best_time(monkeypatch) -> None:
    # with the best time fixed at 0.25 s: a GEMM of n×n does 2·n³ FLOPs, a copy reads and writes its bytes once
    ran = []

    def best(seconds, repeats, run):
        run()  # what is timed must be the work itself
        ran.append(repeats)
        return 0.25

    monkeypatch.setattr(calibrate, "_best", best)
    n = calibrate.GEMM_SIZES["float64"]
    assert calibrate.gemm_flops("float64", seconds=0.0) == 2 * n**3 / 0.25
    assert calibrate.stream_bandwidth(seconds=0.0) == 2 * (calibrate.STREAM_BYTES // 8 * 8) / 0.25
    assert ran == [3, 3]


def test_calibrate_spends_the_time_asked_on_every_figure_and_says_where_it_measured(monkeypatch) -> None:
    import platform

    asked = []
    monkeypatch.setattr(calibrate, "gemm_flops", lambda dtype, seconds=0.5: asked.append((dtype, seconds)) or 1e9)
    monkeypatch.setattr(calibrate, "stream_bandwidth", lambda seconds=0.5: asked.append(("copy", seconds)) or 1e9)
    device = calibrate.calibrate(seconds=0.01, dtypes=("float32", "float64"))
    assert asked == [("float32", 0.01), ("float64", 0.01), ("copy", 0.01)]
    assert device.peak_flops == {"float32": 1e9, "float64": 1e9} and device.memory_bandwidth == 1e9
    assert device.description.startswith("measured on ") and f"({platform.machine()}, NumPy " in device.description
    assert device.source.startswith("netcalc calibrate, 20")  # the date: %Y-%m-%d


# --- what `compare` makes of the pass (reference/verify.py) ---


@pytest.mark.parametrize(
    ("produced", "batch", "expected"),
    [
        ((1, 8, 4, 5), 1, (4, 5, 8)),  # N, C, H, W → H, W, C
        ((3, 10), 3, (10,)),
        ((2, 8, 4, 5), 1, (2, 8, 4, 5)),  # a pass that made two samples of one: shown raw, so it disagrees
        ((1, 8, 4), 1, (1, 8, 4)),  # neither (N, F) nor (N, C, H, W)
    ],
)
def test_a_measured_shape_is_converted_only_when_its_batch_is_the_batch(produced, batch, expected):
    from netcalc.reference.verify import measured_shape

    assert measured_shape(produced, batch) == expected


def test_the_verification_keeps_the_runs_name_settings_and_gradcheck_count():
    from netcalc.analysis.analyze import analyze_network
    from netcalc.reference.verify import compare

    network = netcalc.parse_network_text("name: tiny\n" + SPEC)
    report = analyze_network(network, batch=2, dtype="float64")
    result = run(network, batch=2, dtype="float64", seed=5, gradcheck=3)
    verification = compare(report, result, seed=5, backward=True, gradcheck=3)
    assert (verification.name, verification.batch, verification.dtype) == ("tiny", 2, "float64")
    assert (verification.seed, verification.backward, verification.gradcheck) == (5, True, 3)
    assert verification.input_shape == (3, 3, 2) and verification.ok
    assert all(check.backward_seconds and check.backward_seconds > 0 for check in verification.layers)


def test_a_field_past_upsampling_is_not_compared():
    """Past a bilinear upsample the analysed field is the continuous model's (not whole pixels): the measured
    support is not held against it, so the layer neither passes nor fails on its field."""
    from netcalc.analysis.analyze import analyze_network
    from netcalc.reference.field import measure_fields
    from netcalc.reference.verify import compare

    network = netcalc.parse_network_text(
        "input: 8x8x2\nlayers:\n  - {kind: conv, name: c, out: 2, kernel: 3, padding: 1}\n"
        "  - {kind: upsample, name: up, scale: 2, mode: bilinear}\n"
        "  - {kind: conv, name: after, out: 2, kernel: 3, padding: 1}\n"
    )
    report = analyze_network(network)
    fields = measure_fields(network, report)
    assert {"c", "up", "after"} <= set(fields)  # measured for every layer
    verification = compare(report, run(network), fields=fields)
    by_name = {check.name: check for check in verification.layers}
    assert by_name["c"].field is not None and by_name["c"].field.ok
    assert by_name["up"].field is None and by_name["after"].field is None
    assert verification.ok


def test_the_rounding_allowance_is_taken_off_the_difference():
    # x near 1000 (relu: the identity there, dL/dx = dy = 0.5), an analytic gradient off by δ = 1e-8: the raw
    # figure is δ / (|a| + |n|) = δ / (1 + δ); the allowed one first takes off the rounding the central
    # difference may carry, 8ε · Σ(|f(x+h)| + |f(x−h)|)·|dy| / 2h = 8ε · Σx / 2h with h = 1e-5 · rms(x)
    # (≈ 1.6e-9 here), and divides by |a| + |n| + m = 1.5. The seeded ±10% jitter moves Σx and h by < 1e-4.
    x = np.linspace(1000.0, 1001.0, 18).reshape(1, 2, 3, 3)
    delta = 1e-8
    relu = REGISTRY["relu"]

    def off_by_delta(dy, cache):
        (dx,), grads = relu.backward(dy, cache)
        return (dx + delta,), grads

    check = gradcheck_with(off_by_delta, (x,))
    h = 1e-5 * math.sqrt(float(np.mean(x * x)))
    allowance = 8 * 2.0**-52 * float(x.sum()) / (2 * h)
    assert 1e-9 < allowance < 2e-9
    assert check.raw_error == pytest.approx(delta / (1 + delta), rel=1e-3)
    assert check.error == pytest.approx((delta - allowance) / 1.5, rel=1e-3)


def test_relative_error_by_hand():
    from netcalc.reference.gradcheck import relative_error

    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 3.0])) == 1 / 5  # max |a − b| / max(|a| + |b|)
    assert relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    assert relative_error(np.array([1e-12]), np.array([0.0])) == 1e-12 / 1e-8  # the floor under a tiny scale
    # in float64 even for float32 arrays: 1 + (1 + 2⁻²³) is 2 in float32, 2 + 2⁻²³ in float64
    a, b = np.float32([1.0]), np.float32([1.0 + 2**-23])
    assert relative_error(a, b) == 2**-23 / (2 + 2**-23)
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.zeros(2), np.zeros(3))


def test_the_field_probes_run_on_positive_weights_zero_shifts_and_unit_scales(monkeypatch):
    """The module's rule, observed on what the probe pass is handed: a signed weight or a running mean of 1 in
    front of a ReLU could cut a path and shrink the support measured."""
    import netcalc.reference.field as field
    from netcalc.analysis.analyze import analyze_network

    network = netcalc.parse_network_text(
        "input: 6x6x3\nlayers:\n  - {kind: conv, name: c, out: 4, kernel: 3, padding: 1}\n"
        "  - {kind: batchnorm, name: bn}\n  - relu\n  - flatten\n  - {kind: fc, name: fc, out: 5}\n"
    )
    seen = []
    real_run = field.run

    def spy(probe, **options):
        seen.append((options["params"], options["dtype"], options["batch"], options["x"].shape))
        return real_run(probe, **options)

    monkeypatch.setattr(field, "run", spy)
    field.measure_fields(network, analyze_network(network))
    ((params, dtype, batch, x_shape),) = seen
    # float64, one sample per layer probed: the three with a feature map (c, bn, relu1), not flatten or fc
    assert (dtype, batch, x_shape) == ("float64", 3, (3, 3, 6, 6))
    assert params["c"]["weight"].min() >= 0.5 / 27 and params["c"]["weight"].max() < 1.5 / 27  # [0.5, 1.5)/fan-in
    assert params["fc"]["weight"].min() >= 0.5 / 144 and params["fc"]["weight"].max() < 1.5 / 144
    assert not params["c"]["bias"].any() and not params["fc"]["bias"].any()
    assert not params["bn"]["beta"].any() and not params["bn"]["running_mean"].any()
    assert (params["bn"]["gamma"] == 1).all() and (params["bn"]["running_var"] == 1).all()


def test_calibration_timing_loop_on_a_fake_clock(monkeypatch):
    """Durations exact in binary, so the budget is met exactly: the loop runs `repeats` calls, goes on while
    strictly under `seconds`, and returns the shortest call, also when the 50× cap ends it."""

    def clock_for(durations):
        ticks, now = [], 0.0
        for took in durations:
            ticks += [now, now + took]
            now += took
        return iter(ticks)

    def timed(durations, seconds, repeats):
        ticks, calls = clock_for(durations), []
        monkeypatch.setattr(calibrate.time, "perf_counter", lambda: next(ticks))
        best = calibrate._best(seconds, repeats, lambda: calls.append(1))
        return best, len(calls)

    assert timed([0.25, 0.5, 0.25, 0.125], 1.0, 3) == (0.25, 3)  # 1.0 spent after 3: not under the budget
    assert timed([0.25, 0.5, 0.125, 0.0625, 0.25], 1.0, 3) == (0.0625, 5)  # 0.875 after 3, 0.9375 after 4
    assert timed([0.5] * 3 + [0.25] * 97 + [1.0], 1e9, 2) == (0.25, 100)  # capped at 50 × 2, best still kept


def test_calibration_times_gemms_in_the_dtype_asked_into_a_reused_output(monkeypatch):
    seen = []
    real_matmul = np.matmul

    def spy(a, b, out=None):
        seen.append((a.dtype, b.dtype, None if out is None else out.dtype))
        return real_matmul(a, b, out=out)

    monkeypatch.setattr(calibrate.np, "matmul", spy)
    calibrate.gemm_flops("float32", seconds=0.0)
    assert len(seen) >= 4 and set(seen) == {(np.dtype("float32"),) * 3}  # warm-up and ≥ 3 timed calls


# --- the memory estimate's cache rules against what each reference pair's training forward really keeps ---

CACHED_LAYERS = [
    # (layer, input H×W×C); the rule must name what the cache holds, byte for byte
    ("{kind: conv, out: 6, kernel: 3, padding: 1}", "8x8x4"),
    ("{kind: conv, out: 6, kernel: 3, padding: 1, activation: relu}", "8x8x4"),
    ("{kind: conv_transpose, out: 6, kernel: 3, stride: 2}", "8x8x4"),
    ("fc-5", "1x1x12"),  # after a flatten: its input is (N, 12)
    ("relu", "8x8x4"),
    ("sigmoid", "8x8x4"),
    ("{kind: leaky_relu, negative_slope: 0.1}", "8x8x4"),
    ("softmax", "1x1x12"),
    ("batchnorm", "8x8x4"),
    ("lrn", "8x8x6"),
    ("{kind: maxpool, kernel: 3, stride: 2}", "9x9x4"),
    ("{kind: maxpool, kernel: 12, stride: 1}", "14x14x2"),  # 144 taps: offsets past int8
    ("global_maxpool", "6x6x4"),
    ("{kind: dropout, p: 0.5}", "8x8x4"),
    # x̂ (the output itself without affine) and 1/std per group, channel or pixel of each sample
    ("{kind: groupnorm, groups: 2}", "6x6x4"),
    ("{kind: groupnorm, groups: 2, affine: false}", "6x6x4"),
    ("instancenorm", "6x6x4"),
    ("{kind: instancenorm, affine: true}", "6x6x4"),
    ("layernorm", "6x6x4"),
    ("avgpool", "8x8x4"),  # its divisors, one per output pixel
    ("{kind: avgpool, kernel: 3, stride: 2, padding: 1, count_include_pad: false}", "9x9x4"),
    ("{kind: adaptive_avgpool, output: 3}", "8x8x4"),  # its bins' bounds, Python lists
    ("global_avgpool", "8x8x4"),
    ("flatten", "4x4x3"),
]


def _arrays_in(cache):
    if isinstance(cache, np.ndarray):
        yield cache
    elif isinstance(cache, dict):
        for value in cache.values():
            yield from _arrays_in(value)
    elif isinstance(cache, (tuple, list)):
        for value in cache:
            yield from _arrays_in(value)


def _cached(layer: str, input_shape: str):
    """(keeps its input, keeps its output, further bytes, y, the estimate's rule, the analysis row) of one
    layer's training forward, batch 2, from the arrays its cache really holds."""
    from netcalc.analysis.analyze import analyze_network
    from netcalc.language.spec import parse_network_text
    from netcalc.reference.engine import _run_attrs, init_layer_params, live_nbytes
    from netcalc.reference.memory import _rule

    flat = layer.startswith("fc")
    network = parse_network_text(f"input: {input_shape}\nlayers: [{'flatten, ' * flat}{layer}]\n", "m.yaml")
    spec = network.layers[-1]
    row = analyze_network(network, batch=2).layers[-1]
    h, w, c = map(int, input_shape.split("x"))
    shape, in_shape = ((2, h * w * c), (h * w * c,)) if flat else ((2, c, h, w), (h, w, c))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    params = init_layer_params(spec, 0, (in_shape,), 0, "float32")
    y, cache = REGISTRY[spec.kind].forward((x,), params, _run_attrs(spec, 0, 0), True)
    keeps_input = keeps_output = False
    others = []
    for array in _arrays_in(cache):
        if np.shares_memory(array, x):
            keeps_input = True
        elif np.shares_memory(array, y):
            keeps_output = True
        elif not any(np.shares_memory(array, p) for p in params.values()):
            others.append(array)
    # the engine's own count of distinct blocks: x̂ and its reshaped view are one array
    return keeps_input, keeps_output, live_nbytes(others), y, _rule(row, spec.attrs), row


@pytest.mark.parametrize("layer, input_shape", CACHED_LAYERS)
def test_the_memory_rule_of_a_kind_is_what_its_training_forward_caches(layer, input_shape):
    """The rule `estimate_memory` counts (kept input, kept output, extra output-sized arrays, bytes per output
    element, per-channel vectors, per-pixel maps) against the arrays the reference pair's forward actually hands
    its backward."""
    from netcalc.reference.memory import _cache_bytes

    keeps_input, keeps_output, extra, _, rule, row = _cached(layer, input_shape)
    counted = _cache_bytes(rule, row, batch=2, item=4)
    assert (keeps_input, keeps_output, extra) == (rule.keeps_input, rule.keeps_output, counted), rule


@pytest.mark.parametrize(("kernel", "offset_bytes"), [("3", 1), ("[1, 128]", 1), ("[1, 129]", 4), ("12", 4)])
def test_a_max_pools_arg_max_offsets_take_one_byte_while_they_fit_an_int8(kernel, offset_bytes):
    # offsets run 0 … taps − 1: a window of up to 128 taps fits int8 (127 at most); 129 or 144 need a wider type
    _, _, extra, y, _, _ = _cached(f"{{kind: maxpool, kernel: {kernel}, stride: 1}}", "14x130x2")
    assert extra == y.size * offset_bytes


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 1, 1)])
def test_softmax_shifts_each_sample_and_pixel_by_its_own_maximum(shape):
    # e^(x − max) per row: [0, 1, 2] and [1000, 1001, 1002] give the same 1 : e : e² split; shifted by one max for
    # the whole array, e^(−1000) underflows and the first row is 0/0
    from netcalc.reference.norm import softmax_forward

    x = np.array([[0.0, 1.0, 2.0], [1000.0, 1001.0, 1002.0]], dtype=np.float32).reshape(shape)
    y, _ = softmax_forward(x)
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(y.reshape(2, 3), np.stack([e / e.sum()] * 2), rtol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        "hardsigmoid", "hardswish", "silu", "gelu", "elu", "prelu", "identity",
        "{kind: stochastic_depth, p: 0.2}", "scale", "{kind: channel_slice, end: 2}",
        "{kind: channel_shuffle, groups: 2}",
        "{kind: channel_pad, before: 1}", "{kind: pad, padding: 1, mode: reflect}", "{kind: crop, size: [4, 4]}",
        "{kind: subsample, stride: 2}", "{kind: upsample, mode: bilinear, scale: 2}",
        "{kind: pixel_shuffle, factor: 2}", "{kind: pixel_unshuffle, factor: 2}",
    ],
)  # fmt: skip
def test_a_kind_without_its_own_memory_rule_caches_no_more_than_the_cautious_one(layer):
    # the kinds CACHE_RULES does not list take UNKNOWN_RULE: input and output kept, and one more output-sized array
    from netcalc.reference.memory import UNKNOWN_RULE, _cache_bytes

    keeps_input, keeps_output, extra, _, rule, row = _cached(layer, "6x6x4")
    assert rule == UNKNOWN_RULE
    assert keeps_input <= rule.keeps_input and keeps_output <= rule.keeps_output
    assert extra <= _cache_bytes(rule, row, batch=2, item=4), (layer, extra)
