"""Behaviour no other test pinned down, found by mutation testing (docs/mutation.md): each test here kills
mutants that survived the rest of the suite. Expected values are plain NumPy arithmetic written out, or the
definitions PyTorch documents, never the kind's own code."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

import netcalc
from netcalc.kinds import REGISTRY
from tests.conftest import one_layer


def layer_of(spec_layers: str, input_shape: str = "4x3x2"):
    """The last layer of a small spec, attributes normalised by the parser."""
    return netcalc.parse_network_text(f"input: {input_shape}\nlayers: {spec_layers}").layers[-1]


def forward(layer, xs, params=None, train=False):
    return REGISTRY[layer.kind].forward(tuple(xs), params or {}, layer.attrs, train)


RNG = np.random.default_rng(7)


def test_flatten_keeps_pytorch_order_c_h_w() -> None:
    # every element, not only the last (which sits at the same index in C,H,W and H,W,C order)
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)  # (N, C, H, W)
    y, _ = forward(layer_of("[flatten]", "4x5x3"), [x])
    expected = [[x[n, c, h, w] for c in range(3) for h in range(4) for w in range(5)] for n in range(2)]
    assert y.tolist() == expected


def test_add_sums_every_input_not_only_two() -> None:
    layer = layer_of("[{kind: conv, name: a, out: 2, kernel: 1}, {kind: add, from: [input, a, a, input]}]", "3x3x2")
    a, b, c, d = (RNG.standard_normal((1, 2, 3, 3)) for _ in range(4))
    y, _ = forward(layer, [a, b, c, d])
    np.testing.assert_allclose(y, a + b + c + d)


def test_concat_joins_three_inputs_in_order_along_channels() -> None:
    parts = [RNG.standard_normal((2, c, 4, 3)) for c in (1, 2, 3)]
    layer = layer_of("[{kind: conv, name: a, out: 2, kernel: 1}, {kind: concat, from: [input, a, a]}]", "4x3x1")
    y, _ = forward(layer, parts)
    assert y.shape == (2, 6, 4, 3)
    np.testing.assert_array_equal(y[:, 0:1], parts[0])
    np.testing.assert_array_equal(y[:, 1:3], parts[1])
    np.testing.assert_array_equal(y[:, 3:6], parts[2])


def test_concat_shapes_on_a_rectangular_map_and_on_vectors() -> None:
    report = netcalc.analyze(
        "input: 6x4x3\nlayers: [{kind: conv, name: a, out: 5, kernel: 1}, {kind: concat, name: c, from: [input, a]}]"
    )
    assert report.layers[-1].output_shape == (6, 4, 3 + 5)
    flat = netcalc.analyze(
        "input: 2x2x3\nlayers: [flatten, {kind: fc, name: a, out: 7}, {kind: concat, from: [flatten1, a]}]"
    )
    assert flat.layers[-1].output_shape == (2 * 2 * 3 + 7,)


@pytest.mark.parametrize(
    ("kind", "attrs", "shape", "expected"),
    [
        # H and W differ everywhere, so a rule that mixes them up shows: ⌊(H + 2P − K) / S⌋ + 1 per axis
        (
            "conv",
            {"out": 4, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0]},
            (10, 7, 3),
            ((10 + 2 - 3) // 2 + 1, (7 - 2) // 1 + 1, 4),
        ),
        ("maxpool", {"kernel": [3, 2], "stride": [2, 1]}, (11, 6, 3), ((11 - 3) // 2 + 1, (6 - 2) // 1 + 1, 3)),
        ("avgpool", {"kernel": [2, 3], "stride": [2, 3]}, (8, 9, 2), (4, 3, 2)),
        (
            "conv_transpose",
            {"out": 2, "kernel": [3, 2], "stride": [2, 1]},
            (5, 4, 3),
            ((5 - 1) * 2 + 3, (4 - 1) * 1 + 2, 2),
        ),
        ("global_avgpool", {}, (5, 3, 6), (1, 1, 6)),
        ("lrn", {"size": 3}, (5, 3, 6), (5, 3, 6)),
    ],
)
def test_shape_rules_on_rectangular_maps(kind, attrs, shape, expected) -> None:
    assert one_layer(kind, shape, **attrs).output_shape == expected


def test_batch_norm_uses_its_eps() -> None:
    layer = layer_of("[{kind: batchnorm, eps: 0.5}]", "2x2x3")
    x = RNG.standard_normal((2, 3, 2, 2))
    gamma, beta = RNG.standard_normal(3), RNG.standard_normal(3)
    mean, var = RNG.standard_normal(3), RNG.random(3) + 0.5
    params = {"gamma": gamma, "beta": beta, "running_mean": mean.copy(), "running_var": var.copy()}
    y, _ = forward(layer, [x], params, train=False)
    view = (1, 3, 1, 1)
    expected = (x - mean.reshape(view)) / np.sqrt(var.reshape(view) + 0.5) * gamma.reshape(view) + beta.reshape(view)
    np.testing.assert_allclose(y, expected)


def test_batch_norm_updates_running_statistics_as_pytorch() -> None:
    # running = (1 − momentum)·running + momentum·batch statistic, the variance unbiased (÷ (M − 1))
    layer = layer_of("[{kind: batchnorm, momentum: 0.25}]", "2x2x3")
    x = RNG.standard_normal((2, 3, 2, 2))
    mean, var = RNG.standard_normal(3), RNG.random(3) + 0.5
    params = {"gamma": np.ones(3), "beta": np.zeros(3), "running_mean": mean.copy(), "running_var": var.copy()}
    forward(layer, [x], params, train=True)
    m = 2 * 2 * 2
    batch_mean = x.sum(axis=(0, 2, 3)) / m
    batch_var = ((x - batch_mean.reshape(1, 3, 1, 1)) ** 2).sum(axis=(0, 2, 3)) / (m - 1)
    np.testing.assert_allclose(params["running_mean"], 0.75 * mean + 0.25 * batch_mean)
    np.testing.assert_allclose(params["running_var"], 0.75 * var + 0.25 * batch_var)


def test_dropout_scales_kept_values_and_draws_its_mask_from_the_seed() -> None:
    layer = layer_of("[{kind: dropout, p: 0.25}]", "8x8x4")
    x = RNG.random((2, 4, 8, 8)) + 1  # no zeros: a zero in y is a dropped element
    attrs = {**layer.attrs, "seed": [3, 1]}
    y, _ = REGISTRY["dropout"].forward((x,), {}, attrs, True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)
    assert 0.5 < kept.mean() < 0.95
    again, _ = REGISTRY["dropout"].forward((x,), {}, attrs, True)
    other, _ = REGISTRY["dropout"].forward((x,), {}, {**attrs, "seed": [4, 1]}, True)
    np.testing.assert_array_equal(again, y)
    assert (other != y).any()
    inference, _ = REGISTRY["dropout"].forward((x,), {}, attrs, False)
    np.testing.assert_array_equal(inference, x)


def test_dropout_with_p_1_drops_everything() -> None:
    layer = layer_of("[{kind: dropout, p: 1.0}]", "2x2x1")
    y, _ = REGISTRY["dropout"].forward((np.ones((1, 1, 2, 2)),), {}, {**layer.attrs, "seed": [0]}, True)
    assert not y.any()


def test_softmax_normalises_over_channels_of_a_feature_map() -> None:
    layer = layer_of("[softmax]", "2x3x4")
    x = RNG.standard_normal((2, 4, 2, 3))
    y, _ = forward(layer, [x])
    e = np.exp(x)
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True))


# --- the `unknown` kind's attributes (an ONNX operator netcalc cannot model) ---


@pytest.mark.parametrize(
    "shape",
    ["[4, 4]", "[4, 4, 4, 4]", "[0, 4, 4]", "[4, true, 4]", "[4, -1, 4]", "[4, 0.5, 4]", "7", "[]"],
)
def test_an_unknown_layers_shape_is_h_w_c_or_f_of_positive_whole_numbers(shape: str) -> None:
    with pytest.raises(netcalc.errors.SpecError, match=r"shape: expected an output shape \[H, W, C\] or \[F\]"):
        netcalc.parse_network_text(f"input: 4x4x2\nlayers: [{{kind: unknown, op: Foo, shape: {shape}}}]")


@pytest.mark.parametrize(("shape", "expected"), [("[1, 1, 8]", (1, 1, 8)), ("[5]", (5,))])
def test_an_unknown_layer_takes_the_shape_it_is_given(shape: str, expected: tuple) -> None:
    report = netcalc.analyze(f"input: 4x4x2\nlayers: [{{kind: unknown, op: Foo, shape: {shape}}}]")
    assert report.layers[-1].output_shape == expected


def test_an_unknown_layers_op_is_a_name() -> None:
    with pytest.raises(netcalc.errors.SpecError, match="op: expected the operator's name, got 5"):
        netcalc.parse_network_text("input: 4x4x2\nlayers: [{kind: unknown, op: 5, shape: [3]}]")


# --- gradients written out ---


def test_prelu_slope_gradient_is_per_channel_with_two_channels() -> None:
    # dL/da_c = Σ over samples and pixels of dy · x where x ≤ 0 (PyTorch's PReLU), one sum per channel
    layer = layer_of("[prelu]", "2x2x2")
    x = np.array([[[[1.0, -2.0], [-3.0, 4.0]], [[-1.0, -1.5], [2.0, 0.5]]]])  # (1, 2, 2, 2)
    dy = np.array([[[[0.5, 1.0], [2.0, 3.0]], [[-1.0, 4.0], [1.0, 1.0]]]])
    _, cache = forward(layer, [x], {"slope": np.array([0.25, 0.1])}, train=True)
    (dx,), grads = REGISTRY["prelu"].backward(dy, cache)
    assert grads["slope"].tolist() == [1.0 * -2.0 + 2.0 * -3.0, -1.0 * -1.0 + 4.0 * -1.5]
    assert dx[0, 0].tolist() == [[0.5, 0.25 * 1.0], [0.25 * 2.0, 3.0]]


def test_a_gate_gradient_sums_over_the_map() -> None:
    # y = x · g with g (N, C, 1, 1): dL/dg = Σ over H, W of dy · x, kept (N, C, 1, 1)
    layer = layer_of("[{kind: global_avgpool, name: p}, {kind: multiply, from: [input, p]}]", "2x3x2")
    x = RNG.standard_normal((2, 2, 2, 3))
    g = RNG.standard_normal((2, 2, 1, 1))
    dy = RNG.standard_normal((2, 2, 2, 3))
    y, cache = forward(layer, [x, g], train=True)
    np.testing.assert_allclose(y, x * g)
    (dx, dg), _ = REGISTRY["multiply"].backward(dy, cache)
    assert dg.shape == (2, 2, 1, 1)
    np.testing.assert_allclose(dg[:, :, 0, 0], (dy * x).sum(axis=(2, 3)))
    np.testing.assert_allclose(dx, dy * g)


# --- messages name the kind that refused ---


@pytest.mark.parametrize("kind", ["lrn", "pixel_shuffle", "pixel_unshuffle", "subsample"])
def test_a_map_only_kind_on_a_flat_vector_names_itself(kind: str) -> None:
    extra = ", factor: 2" if kind.startswith("pixel") else ", stride: 2" if kind == "subsample" else ""
    with pytest.raises(netcalc.errors.NetcalcError, match=f"{kind} needs an H×W×C input, got the flat vector"):
        netcalc.analyze(f"input: 2x2x4\nlayers: [flatten, {{kind: {kind}{extra}}}]")


# --- what a layer keeps for backward (PyTorch autograd's convention, docs/conventions.md), batch 4, float32 ---

MAP = 3 * 4 * 2 * 4 * 4  # the conv's 3×4×2 output for 4 samples, 4 B each


@pytest.mark.parametrize(
    ("layer", "saved"),
    [
        ("{kind: pad, name: x, padding: 1, mode: reflect}", MAP),  # reflection_pad2d_backward reads the input
        ("{kind: pad, name: x, padding: 1, mode: replicate}", MAP),
        ("{kind: pad, name: x, padding: 1}", 0),  # a constant pad's backward is a slice: nothing kept
        ("{kind: lrn, name: x, size: 3}", 2 * MAP),  # input and output
        ("{kind: stochastic_depth, name: x, p: 0.2}", 4 * 4),  # one noise value per sample
        ("{kind: stochastic_depth, name: x, p: 0.2, mode: batch}", 1 * 4),  # one for the whole batch
        ("{kind: stochastic_depth, name: x, p: 0.0}", 0),  # torchvision returns the input untouched
    ],
)
def test_saved_for_backward_by_kind(layer: str, saved: int) -> None:
    report = netcalc.analyze(f"input: 3x4x2\nlayers: [{{kind: conv, name: c, out: 2, kernel: 1}}, {layer}]", batch=4)
    assert [row.saved_bytes for row in report.layers] == [3 * 4 * 2 * 4 * 4, saved]  # the conv keeps the image


def test_stochastic_depth_without_a_seed_draws_the_same_mask() -> None:
    layer = layer_of("[{kind: stochastic_depth, p: 0.5}]", "1x1x1")
    x = np.ones((64, 1, 1, 1))
    attrs = {k: v for k, v in layer.attrs.items() if k != "seed"}
    first, _ = REGISTRY["stochastic_depth"].forward((x,), {}, attrs, True)
    second, _ = REGISTRY["stochastic_depth"].forward((x,), {}, attrs, True)
    np.testing.assert_array_equal(first, second)
    assert set(first.ravel().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 − 0.5)


# --- crop and upsample bounds and messages ---


def test_a_crop_may_take_the_whole_height_or_width() -> None:
    assert netcalc.analyze("input: 5x5x2\nlayers: [{kind: crop, size: [5, 3]}]").layers[-1].output_shape == (5, 3, 2)
    assert netcalc.analyze("input: 5x5x2\nlayers: [{kind: crop, size: [2, 5]}]").layers[-1].output_shape == (2, 5, 2)


def test_a_crop_past_the_right_edge_is_refused() -> None:
    # columns 3, 4, 5 of a 5-wide map: column 5 does not exist
    with pytest.raises(netcalc.errors.NetcalcError, match=r"reaches row 2 and column 6 of the 5×5 input"):
        netcalc.analyze("input: 5x5x2\nlayers: [{kind: crop, size: [2, 3], offset: [0, 3]}]")


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("{kind: crop}", "crop needs `size: [h, w]` or a second input in `from` whose H×W it takes"),
        ("{kind: upsample}", "upsample needs `scale`, `size` or a second input in `from` whose H×W it takes"),
    ],
)
def test_a_resize_without_a_size_says_what_it_needs(layer: str, message: str) -> None:
    with pytest.raises(netcalc.errors.NetcalcError, match=re.escape(message)):
        netcalc.analyze(f"input: 5x5x2\nlayers: [{layer}]")


@pytest.mark.parametrize("kind", ["crop", "upsample"])
def test_a_resize_of_a_flat_vector_names_itself(kind: str) -> None:
    with pytest.raises(netcalc.errors.NetcalcError, match=f"{kind} needs an H×W×C input"):
        netcalc.analyze(f"input: 2x2x4\nlayers: [flatten, {{kind: {kind}, size: [2, 2]}}]")


# --- resizing's receptive-field model, per axis: output o centred at (o + ½)·H/O − ½ input units (align_corners:
# o·(H − 1)/(O − 1)); bilinear reads two neighbours (span 1), nearest one (span 0) ---


@pytest.mark.parametrize(
    ("attrs", "size", "jump", "start"),
    [
        ("mode: nearest, size: [6, 8]", (1, 1), (Fraction(3, 6), Fraction(4, 8)), (Fraction(-1, 4), Fraction(-1, 4))),
        ("mode: bilinear, size: [7, 6]", (2, 2), (Fraction(3, 7), Fraction(4, 6)), (Fraction(-2, 7), Fraction(-1, 6))),
        ("mode: bilinear, size: [7, 6], align_corners: true", (2, 2), (Fraction(2, 6), Fraction(3, 5)), (0, 0)),
        ("mode: nearest, size: [7, 6], align_corners: false", (1, 1), (Fraction(3, 7), Fraction(4, 6)), None),
        # two outputs per axis with align_corners: the first and the last input, H − 1 apart
        ("mode: bilinear, size: [2, 2], align_corners: true", (2, 2), (2, 3), (0, 0)),
    ],
)
def test_upsample_fields(attrs: str, size: tuple, jump: tuple, start: tuple | None) -> None:
    field = netcalc.analyze(f"input: 3x4x1\nlayers: [{{kind: upsample, {attrs}}}]").layers[-1].field
    assert (field.size, field.jump) == (size, jump)
    # unit 0's centre: (0 + ½)·H/O − ½ = (H/O − 1)/2
    assert field.start == (start or tuple((j - 1) / 2 for j in jump))


def test_an_empty_channel_slice_is_refused() -> None:
    with pytest.raises(netcalc.errors.NetcalcError, match="with start < end"):
        netcalc.analyze("input: 2x2x4\nlayers: [{kind: channel_slice, start: 2, end: 2}]")


def test_bilinear_align_corners_to_two_rows_takes_the_first_and_the_last() -> None:
    # align_corners: output row o samples input row o·(H − 1)/(O − 1); for O = 2 that is rows 0 and H − 1 exactly
    layer = layer_of("[{kind: upsample, mode: bilinear, size: [2, 1], align_corners: true}]", "3x1x1")
    x = np.array([1.0, 2.0, 5.0]).reshape(1, 1, 3, 1)
    y, _ = forward(layer, [x])
    assert y.ravel().tolist() == [1.0, 5.0]


# --- the standardising norms: saved for backward and the single-value warning ---

CONV_OUT = 3 * 4 * 4 * 2 * 4  # the conv's 3×4×4 output, 2 samples, 4 B


@pytest.mark.parametrize(
    ("norm", "saved"),
    [
        ("{kind: groupnorm, name: x, groups: 2}", CONV_OUT + 2 * (2 * 2 * 4)),  # mean and 1/std: 2 groups × 2 samples
        ("{kind: instancenorm, name: x}", CONV_OUT + 2 * (4 * 2 * 4)),  # per channel and sample
        ("{kind: layernorm, name: x}", CONV_OUT + 2 * (3 * 4 * 2 * 4)),  # per pixel and sample (over channels)
    ],
)
def test_a_standardising_norm_keeps_its_input_and_float32_statistics(norm: str, saved: int) -> None:
    report = netcalc.analyze(f"input: 3x4x4\nlayers: [{{kind: conv, name: c, out: 4, kernel: 1}}, {norm}]", batch=2)
    assert report.layers[-1].saved_bytes == saved
    assert report.layers[-1].output_shape == (3, 4, 4) and report.layers[-1].params == (
        8 if "instance" not in norm else 0
    )


@pytest.mark.parametrize(("dtype", "item", "stat"), [("float32", 4, 4), ("float16", 2, 4), ("float64", 8, 8)])
@pytest.mark.parametrize(
    ("norm", "stats"),
    [("{kind: batchnorm, name: x}", 4), ("{kind: groupnorm, name: x, groups: 2}", 2 * 2), ("layernorm", 3 * 4 * 2)],
)
def test_a_norm_keeps_its_input_and_its_statistics_in_the_accumulation_type(norm, stats, dtype, item, stat):
    # the input (batch 2, the conv's 3×4×4 in the dtype), and a mean and a 1/std: batch norm one per channel for
    # the whole batch, group norm one per group of each sample, layer norm one per pixel of each sample; in
    # PyTorch's accumulation type (ATen's native_batch_norm and native_group_norm give float64 ones for float64
    # input; float32 for half precision on a GPU)
    report = netcalc.analyze(
        f"input: 3x4x4\nlayers: [{{kind: conv, name: c, out: 4, kernel: 1}}, {norm}]", batch=2, dtype=dtype
    )
    assert report.layers[-1].saved_bytes == 3 * 4 * 4 * 2 * item + 2 * stats * stat


@pytest.mark.parametrize(
    ("norm", "shape", "note"),
    [
        ("{kind: instancenorm}", "1x1x4", "each channel of 1×1×4 is normalised over a single value: the output is 0"),
        (
            "{kind: instancenorm, affine: true}",
            "1x1x4",
            "each channel of 1×1×4 is normalised over a single value: the output is β",
        ),
        (
            "{kind: groupnorm, groups: 4}",
            "1x1x4",
            "each group of 1×1×4 is normalised over a single value: the output is β",
        ),
        ("{kind: layernorm}", "3x2x1", "normalised over a single value: the output is β"),
        ("{kind: layernorm}", "1x1x4", None),  # four channels per pixel: nothing to say
        ("{kind: groupnorm, groups: 2}", "1x1x4", None),  # two channels per group
    ],
)
def test_a_norm_over_single_values_says_its_output_is_constant(norm: str, shape: str, note: str | None) -> None:
    notes = netcalc.analyze(f"input: {shape}\nlayers: [{norm}]").layers[-1].notes
    if note is None:
        assert not any("single value" in n for n in notes)
    else:
        assert any(note in n for n in notes), notes


# --- activation gradients exactly at their kinks, as PyTorch's kernels give them (torch 2.14.1, float32 and
# float64 alike: x.grad after f(x).sum().backward()) ---


@pytest.mark.parametrize(
    ("name", "xs", "grads"),
    [
        ("hardswish", [-3.0, 0.0, 3.0], [0.0, 0.5, 1.0]),
        ("hardsigmoid", [-3.0, 0.0, 3.0], [0.0, 1 / 6, 0.0]),
        ("relu", [0.0], [0.0]),
        ("relu6", [0.0, 6.0], [0.0, 0.0]),
        ("leaky_relu", [0.0], [0.2]),  # negative_slope 0.2
        ("elu", [0.0], [0.7]),  # alpha 0.7
    ],
)
def test_activation_gradients_at_the_kinks_are_pytorchs(name: str, xs: list, grads: list) -> None:
    attrs = {"leaky_relu": ", negative_slope: 0.2", "elu": ", alpha: 0.7"}.get(name, "")
    layer = layer_of(f"[{{kind: {name}{attrs}}}]", f"1x{len(xs)}x1")
    x = np.array(xs).reshape(1, 1, 1, len(xs))
    _, cache = forward(layer, [x], train=True)
    (dx,), _ = REGISTRY[name].backward(np.ones_like(x), cache)
    np.testing.assert_allclose(dx.ravel(), grads, rtol=1e-15)


def test_prelu_gradient_at_zero_is_the_slopes_as_pytorchs() -> None:
    # torch 2.14.1: prelu(x = [−1, 0, 1], a = 0.25) with dy = 2 gives x.grad [0.5, 0.5, 2] (a·dy at x = 0, the
    # slope's side) and a.grad −2 = Σ dy·x over x ≤ 0
    layer = layer_of("[{kind: prelu, shared: true}]", "1x3x1")
    x = np.array([-1.0, 0.0, 1.0]).reshape(1, 1, 1, 3)
    _, cache = forward(layer, [x], params={"slope": np.array([0.25])}, train=True)
    (dx,), grads = REGISTRY["prelu"].backward(np.full_like(x, 2.0), cache)
    assert dx.ravel().tolist() == [0.5, 0.5, 2.0]
    assert grads["slope"].tolist() == [-2.0]


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("{kind: conv, out: 2, kernel: 3, stride: 2, padding: same}", "conv needs an H×W×C input"),
        ("{kind: maxpool, kernel: 3, stride: 2, padding: same}", "pooling needs an H×W×C input"),
    ],
)
def test_same_padding_on_a_flat_vector_is_the_shape_rules_refusal(layer: str, message: str) -> None:
    # `same` is worked out per input; a flat vector has no H×W to work it out for, so the shape rule says why
    with pytest.raises(netcalc.errors.ShapeError, match=message):
        netcalc.analyze(f"input: 2x2x4\nlayers: [flatten, {layer}]")


def test_figures_are_shared_between_equal_layers_and_still_made_for_an_unhashable_attribute() -> None:
    from netcalc.analysis.analyze import _remembered_figures

    known: dict = {}
    relu = REGISTRY["relu"]
    first = _remembered_figures(known, relu, {}, ((4, 4, 2),))
    assert _remembered_figures(known, relu, {}, ((4, 4, 2),)) is first and len(known) == 1  # worked out once
    # a list is unhashable: no sharing, but the figures are made all the same, from the attributes given
    conv = layer_of("[{kind: conv, out: 5, kernel: 3}]", "4x3x2")
    odd = _remembered_figures(known, REGISTRY["conv"], {**conv.attrs, "note": [1]}, ((4, 3, 2),))
    assert (odd.out, odd.params, odd.buffers) == ((2, 1, 5), 5 * (2 * 3 * 3) + 5, 0) and len(known) == 1


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("{kind: batchnorm, eps: true}", "eps: expected a number ≥ 0.0, got True"),  # a YAML boolean is no number
        ("{kind: batchnorm, eps: abc}", "eps: expected a number ≥ 0.0, got 'abc'"),
        ("{kind: dropout, p: 1.5}", "p: expected a number ≥ 0.0 and ≤ 1.0, got 1.5"),
        ("{kind: conv, out: 2147483648, kernel: 1}", "out: 2147483648 is too large; at most 2,147,483,647"),
        ("{kind: conv, out: 0, kernel: 1}", "out: expected a whole number ≥ 1, got 0"),
        ("{kind: batchnorm, eps: 1.5e9}", "eps: 1500000000 is too large; at most 1e+09"),  # real numbers stop at 10⁹
    ],
)
def test_attribute_values_out_of_range_are_refused_in_one_located_line(layer: str, message: str) -> None:
    with pytest.raises(netcalc.errors.SpecError) as caught:
        layer_of(f"[{layer}]", "2x2x2")
    assert str(caught.value).endswith(message) and "\n" not in str(caught.value)


def test_the_edges_of_the_ranges_are_accepted() -> None:
    assert layer_of("[{kind: conv, out: 2147483647, kernel: 1, groups: 1}]", "2x2x2").attrs["out"] == 2**31 - 1
    assert layer_of("[{kind: conv, out: 1, kernel: 1}]", "2x2x2").attrs["out"] == 1
    assert layer_of("[{kind: dropout, p: 1}]", "2x2x2").attrs["p"] == 1.0
    assert layer_of("[{kind: batchnorm, eps: 1e9}]", "2x2x2").attrs["eps"] == 1e9


def test_a_number_parser_refuses_nan_itself() -> None:
    # the spec language refuses NaN first; the kinds' own parser is the second line for other callers
    from netcalc.kinds.base import AttrError, real

    with pytest.raises(AttrError, match="expected a finite number, got nan"):
        real(0.0)(float("nan"))


def test_a_dilated_kernel_too_large_says_its_dilation() -> None:
    # 3 taps at dilation 2 reach 2·(3 − 1) + 1 = 5 rows, more than the 4 there are
    with pytest.raises(netcalc.errors.NetcalcError) as caught:
        netcalc.analyze("input: 4x4x1\nlayers: [{kind: conv, out: 1, kernel: 3, dilation: 2}]")
    assert "kernel 3 (dilation 2) is larger than the padded height 4 + 2·0 = 4" in str(caught.value)


@pytest.mark.parametrize("kind", ["global_avgpool", "global_maxpool"])
def test_global_pooling_of_a_flat_vector_names_itself(kind: str) -> None:
    with pytest.raises(netcalc.errors.NetcalcError) as caught:
        netcalc.analyze(f"input: 4x4x1\nlayers: [flatten, {{kind: {kind}}}]")
    assert "global pooling needs an H×W×C input, got the flat vector 16" in str(caught.value)


def test_a_fused_activation_is_applied_in_place_on_the_fresh_pre_activation() -> None:
    # a 1×1 conv copies no columns, so its forward holds its output z and nothing as large besides: a fused
    # ReLU written into a new array would hold a second output-sized array (2 MiB here) at the peak
    import tracemalloc

    layer = layer_of("[{kind: conv, out: 8, kernel: 1, activation: relu}]", "256x256x8")
    x = np.random.default_rng(0).standard_normal((1, 8, 256, 256), dtype=np.float32)
    params = {"weight": np.ones((8, 8, 1, 1), np.float32), "bias": np.zeros(8, np.float32)}
    forward(layer, [x], params, train=True)  # once untraced: lazy imports
    tracemalloc.start()
    try:
        y, _ = forward(layer, [x], params, train=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert y.nbytes == 2 << 20 and (y >= 0).all()
    assert peak < 1.5 * y.nbytes


@pytest.mark.parametrize("kind", ["conv", "maxpool"])
def test_shape_and_explain_work_out_same_padding_for_a_layer_not_built_by_the_parser(kind) -> None:
    # a parsed layer's 'same' is numbers already; one built otherwise keeps the word, and a 3×3 window at stride
    # 1 pads one row and column on every side, whatever the map (here 7×5)
    extra = ", out: 4" if kind == "conv" else ", stride: 1"
    parsed = layer_of(f"[{{kind: {kind}, kernel: 3, padding: 1{extra}}}]", "7x5x2")
    built = {**parsed.attrs, "padding": "same"}
    rules = REGISTRY[kind]
    shape = (7, 5, 4 if kind == "conv" else 2)
    assert rules.output_shape(built, ((7, 5, 2),)) == shape
    assert rules.explain(built, ((7, 5, 2),), shape) == rules.explain(parsed.attrs, ((7, 5, 2),), shape)
    assert rules.geometry(built, ((7, 5, 2),), shape) == rules.geometry(parsed.attrs, ((7, 5, 2),), shape)


@pytest.mark.parametrize(
    ("padding", "expected"),
    [
        ("[1, 0, 0, 0]", "output height (1 − 1)·1 − 1 − 0 + 1·(1−1) + 0 + 1 = 0 is not positive"),
        ("[0, 0, 1, 1]", "output width (1 − 1)·1 − 2·1 + 1·(1−1) + 0 + 1 = -1 is not positive"),
    ],
)
def test_a_transposed_convs_empty_output_message_writes_out_its_own_padding(padding, expected) -> None:
    # (H − 1)·S − P_before − P_after + D·(K − 1) + output_padding + 1, with this layer's numbers
    with pytest.raises(netcalc.NetcalcError, match=re.escape(expected)):
        netcalc.analyze(f"input: 1x1x2\nlayers: [{{kind: conv_transpose, out: 2, kernel: 1, padding: {padding}}}]")


def test_a_grouped_transposed_convs_figures_are_whole_numbers() -> None:
    # every input pixel meets COUT/G·KH·KW weights of its group: 5·5·4 · (6/2)·3·3 = 2700 MACs, an int (a float
    # would print as 2700.0 and lose digits past 2⁵³)
    row = netcalc.analyze("input: 5x5x4\nlayers: [{kind: conv_transpose, out: 6, kernel: 3, stride: 2, groups: 2}]")
    macs = row.layers[-1].macs
    assert (macs, type(macs)) == (2700, int)


def test_every_kind_documents_itself_for_netcalc_kinds() -> None:
    # `netcalc kinds KIND` prints these; a kind with figures says how it counts them, every attribute says what it
    # does, and a field proxy is a kind that exists
    from netcalc.kinds.base import no_figure

    for kind in REGISTRY.values():
        texts = {"summary": kind.summary, "saved_rule": kind.saved_rule, "flops_rule": kind.flops_rule}
        texts |= {f"attribute {a.name}": a.doc for a in kind.attrs}
        if kind.flops is no_figure:
            del texts["flops_rule"]
        assert all(isinstance(text, str) and text.strip() for text in texts.values()), (kind.name, texts)
        assert isinstance(kind.flops_rule, str) and kind.field_proxy in ("", *REGISTRY), kind.name


@pytest.mark.parametrize("kind", ["conv", "maxpool"])
def test_the_reference_works_out_same_padding_for_a_layer_not_built_by_the_parser(kind) -> None:
    # as the shape and the explanation above: a 3×3 window at stride 1 pads 1 on every side of the 7×5 map
    extra = ", out: 4" if kind == "conv" else ", stride: 1"
    parsed = layer_of(f"[{{kind: {kind}, kernel: 3, padding: 1{extra}}}]", "7x5x2")
    x = RNG.standard_normal((1, 2, 7, 5)).astype(np.float32)
    params = {"weight": RNG.standard_normal((4, 2, 3, 3)).astype(np.float32), "bias": np.zeros(4, np.float32)}
    params = params if kind == "conv" else {}
    built = {**parsed.attrs, "padding": "same"}
    y_built = REGISTRY[kind].forward((x.copy(),), params, built, False)[0]
    y_parsed = REGISTRY[kind].forward((x.copy(),), params, parsed.attrs, False)[0]
    np.testing.assert_array_equal(y_built, y_parsed)


def test_the_identity_activation_returns_its_input_in_a_new_array_or_in_the_one_given() -> None:
    from netcalc.kinds.elementwise import activate

    x = np.arange(-3.0, 3.0, dtype=np.float32)
    y = activate("none", x)
    assert y is not x and np.array_equal(y, x)
    out = np.full_like(x, np.nan)
    assert activate("none", x, out=out) is out and np.array_equal(out, x)
    assert activate("none", x, out=x) is x and np.array_equal(x, np.arange(-3.0, 3.0))


# How PyTorch runs each activation (docs/conventions.md, measured with saved_tensors_hooks, torch 2.14): torchvision
# builds ReLU, ReLU6, Hardswish and SiLU with inplace=True, and leaky_relu_ exists; sigmoid, tanh, gelu, elu and
# hardsigmoid make a new tensor. In training relu_ and leaky_relu_ stay in place (they keep their output), while
# hardtanh_ (relu6), hardswish_ and silu_ keep a copy of their input, so they cost a new tensor.
STORAGE = {
    "relu": ("inplace", "inplace"),
    "leaky_relu": ("inplace", "inplace"),
    "relu6": ("inplace", "new"),
    "hardswish": ("inplace", "new"),
    "silu": ("inplace", "new"),
    "sigmoid": ("new", "new"),
    "tanh": ("new", "new"),
    "gelu": ("new", "new"),
    "elu": ("new", "new"),
    "hardsigmoid": ("new", "new"),
}


@pytest.mark.parametrize(("kind", "storage"), STORAGE.items())
def test_an_activation_is_in_place_where_pytorch_runs_it_in_place(kind, storage) -> None:
    assert (REGISTRY[kind].storage_in(False), REGISTRY[kind].storage_in(True)) == storage


def test_sigmoid_keeps_its_output_which_the_next_conv_keeps_too_and_it_is_counted_once() -> None:
    # SigmoidBackward keeps its result; the next conv keeps the same tensor as its input: one storage, counted at
    # the sigmoid. (Kept as its input, the conv's output would be a second storage.)
    report = netcalc.analyze(
        "input: 4x4x2\nlayers: [{kind: conv, out: 3, kernel: 1}, sigmoid, {kind: conv, out: 5, kernel: 1}]"
    )
    assert [row.saved_bytes for row in report.layers] == [4 * 4 * 2 * 4, 4 * 4 * 3 * 4, 0]


def test_a_leaky_relu_in_place_in_inference_uses_its_own_slope() -> None:
    # forward only, the leaky ReLU writes over the 1×1 conv's output (the engine's plan); the conv is the identity
    from netcalc.reference.engine import inference_overwrites, run

    network = netcalc.parse_network_text(
        "input: 1x1x4\nlayers: [{kind: conv, name: c, out: 4, kernel: 1}, {kind: leaky_relu, negative_slope: 0.3}]"
    )
    assert inference_overwrites(network)  # the in-place path is the one taken
    identity = {"weight": np.eye(4, dtype=np.float32).reshape(4, 4, 1, 1), "bias": np.zeros(4, np.float32)}
    x = np.array([-2.0, -1.0, 0.5, 3.0], dtype=np.float32).reshape(1, 4, 1, 1)
    result = run(network, backward=False, x=x, params={"c": identity})
    np.testing.assert_allclose(result.output.ravel(), [-0.6, -0.3, 0.5, 3.0], rtol=1e-6)


@pytest.mark.parametrize("kind", ["conv", "maxpool"])
def test_the_unread_rows_note_works_out_same_padding_for_a_layer_not_built_by_the_parser(kind) -> None:
    # a 1×1 window at stride 2 ('same' pads nothing on 7×5) reads every other row and column
    extra = ", out: 4" if kind == "conv" else ""
    parsed = layer_of(f"[{{kind: {kind}, kernel: 1, stride: 2, padding: 0{extra}}}]", "7x5x2")
    built = {**parsed.attrs, "padding": "same"}
    rules, shape = REGISTRY[kind], (4, 3, 4 if kind == "conv" else 2)
    notes = rules.notes(parsed.attrs, ((7, 5, 2),), shape)
    assert notes and rules.notes(built, ((7, 5, 2),), shape) == notes


@pytest.mark.parametrize(
    ("spec", "note"),
    [
        # 3×3 stride 2 on 7 rows with one padding row on top: the windows read padded rows 0 … 6, input rows −1 … 5,
        # so row 6 is left; 7 of 49 pixels
        (
            "input: 7x7x1\nlayers: [{kind: maxpool, kernel: 3, stride: 2, padding: [1, 0, 0, 0]}]",
            "stride 2 leaves the last 1 row of the 7×7 input unread: no window reads 14.3% of its pixels",
        ),
        (
            "input: 7x7x1\nlayers: [{kind: maxpool, kernel: 3, stride: 2, padding: [0, 0, 1, 0]}]",
            "stride 2 leaves the last 1 column of the 7×7 input unread: no window reads 14.3% of its pixels",
        ),
        # 1×1 stride 2 on 4×4 reads rows and columns 0 and 2: 2 of each left, 12 of 16 pixels
        (
            "input: 4x4x1\nlayers: [{kind: conv, out: 1, kernel: 1, stride: 2}]",
            "stride 2 leaves 2 of the 4 rows and 2 of the 4 columns of the 4×4 input unread: no window reads 75.0% "
            "of its pixels",
        ),
        # on 3×3 it reads 0 and 2: the one row left is in the middle, not the last; 5 of 9 pixels
        (
            "input: 3x3x1\nlayers: [{kind: conv, out: 1, kernel: 1, stride: 2}]",
            "stride 2 leaves 1 of the 3 rows and 1 of the 3 columns of the 3×3 input unread: no window reads 55.6% "
            "of its pixels",
        ),
    ],
)
def test_the_unread_rows_note_counts_the_padding_before_the_input(spec, note) -> None:
    assert netcalc.analyze(spec).layers[-1].notes == (note,)


def test_a_window_larger_than_its_padded_input_says_its_arithmetic() -> None:
    # padded height 3 + 1 + 0 = 4; ⌊(4 − 1·(5 − 1) − 1)/2⌋ + 1 = ⌊−1/2⌋ + 1 = 0
    with pytest.raises(netcalc.NetcalcError) as caught:
        netcalc.analyze("input: 3x3x1\nlayers: [{kind: conv, out: 1, kernel: 5, stride: 2, padding: [1, 0, 1, 0]}]")
    assert str(caught.value).endswith(
        "kernel 5 is larger than the padded height 3 + 1 + 0 = 4; output height ⌊(3 + 1 + 0 − 1·(5−1) − 1)/2⌋ + 1 = 0"
    )


def test_same_padding_of_a_dilated_conv_built_without_the_parser_pads_d_times_k_minus_1_over_2() -> None:
    # 3×3 at dilation 2 reads a 5×5 span: 'same' at stride 1 pads (5 − 1)/2 = 2 on every side, in a spec too
    same = layer_of("[{kind: conv, out: 4, kernel: 3, dilation: 2, padding: same}]", "7x5x2")
    assert same.attrs["padding"] == (2, 2, 2, 2)
    parsed = layer_of("[{kind: conv, out: 4, kernel: 3, dilation: 2, padding: 2}]", "7x5x2")
    built = {**parsed.attrs, "padding": "same"}
    conv = REGISTRY["conv"]
    assert conv.output_shape(built, ((7, 5, 2),)) == (7, 5, 4)
    assert conv.geometry(built, ((7, 5, 2),), (7, 5, 4)) == conv.geometry(parsed.attrs, ((7, 5, 2),), (7, 5, 4))
