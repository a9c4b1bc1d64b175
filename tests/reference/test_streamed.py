"""Weights streamed from their drawn block (netcalc.reference.streamed): the rows are those of the whole seeded
array, an fc layer over them gives what NumPy gives over the whole matrix, its weight gradient's summary says
what the whole gradient would, and the engine never makes such a weight whole; a convolution makes its weight
whole only while a GEMM uses it, so the pass never holds a network's convolution weights."""

from __future__ import annotations

import numpy as np
import pytest

from netcalc.language.spec import parse_network_text
from netcalc.reference.conv import conv_backward, conv_forward, linear_backward, linear_forward
from netcalc.reference.engine import _draw_into, _layer_stream, _uniform, run
from netcalc.reference.gemm import count_macs
from netcalc.reference.streamed import BLOCK_BYTES, PERIOD, GradientSummary, RepeatingMatrix, block_rows, repeats
from tests.conftest import traced_peak


def seeded(shape: tuple[int, ...], dtype: str = "float32", bound: float = 0.5) -> RepeatingMatrix:
    """The matrix the engine streams for layer 7 of seed 0."""
    return RepeatingMatrix(_draw_into(_layer_stream(0, 7), np.empty(PERIOD, dtype=dtype), bound), shape)


# 7 rows of PERIOD/3 + 11 values: rows start at every offset of the period and the fourth row wraps round it
SHAPE = (7, PERIOD // 3 + 11)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_streamed_matrix_is_the_array_the_engine_draws(dtype) -> None:
    whole = _uniform(_layer_stream(0, 7), SHAPE, dtype, 0.5)
    matrix = seeded(SHAPE, dtype)
    np.testing.assert_array_equal(np.asarray(matrix), whole)
    assert (matrix.shape, matrix.dtype, matrix.size, matrix.nbytes) == (SHAPE, whole.dtype, whole.size, whole.nbytes)
    for start, stop in [(0, 1), (2, 5), (3, 4), (6, 7), (0, 7), (4, 4)]:
        np.testing.assert_array_equal(matrix.rows(start, stop), whole[start:stop])


def test_rows_follow_the_period_value_by_value() -> None:
    # element (r, c) of the matrix is element (r·cols + c) mod PERIOD of the drawn block, written out here
    matrix = seeded(SHAPE)
    rows, cols = np.meshgrid(np.arange(2, 6), np.arange(SHAPE[1]), indexing="ij")
    np.testing.assert_array_equal(matrix.rows(2, 6), matrix.block[(rows * SHAPE[1] + cols) % PERIOD])


@pytest.mark.parametrize(
    "shape",
    [
        (7, PERIOD // 3 + 11),  # 21,851-value rows, 11 to a block of rows (≤ 1 MiB): each block wraps the period
        (5, 100_000),  # rows wider than the period: 2 to a block, each of them wrapping it
        (1000, 40),  # 6,553 rows to a block: the matrix's 1,000 rows in one block
    ],
)
def test_row_views_are_the_rows_read_in_place_from_one_small_array(shape) -> None:
    matrix = seeded(shape)
    whole = _uniform(_layer_stream(0, 7), shape, "float32", 0.5)
    views = list(matrix.row_views())
    assert [(start, stop) for start, stop, _ in views] == list(matrix.row_blocks())
    for start, stop, rows in views:
        np.testing.assert_array_equal(rows, whole[start:stop])
        assert not rows.flags.writeable
    # all of them views of one array of the drawn block and one block of rows again: nothing copied per block
    base = views[0][2].base
    assert all(rows.base is base for _, _, rows in views)
    rows_per_block = min(shape[0], 1048576 // (4 * shape[1]))
    assert base.size == PERIOD + rows_per_block * shape[1] == PERIOD + matrix.block_values()
    assert matrix.row_buffer().shape == (rows_per_block, shape[1])


@pytest.mark.parametrize(("start", "stop"), [(-1, 2), (3, 8), (5, 4)])
def test_rows_outside_the_matrix_are_refused(start, stop) -> None:
    with pytest.raises(IndexError, match=f"rows {start}:{stop} of a matrix of 7"):
        seeded(SHAPE).rows(start, stop)


def test_row_blocks_cover_every_row_once_in_blocks_of_about_a_mebibyte() -> None:
    # VGG-16's fc6: 25,088 float32 columns are 100,352 bytes a row, so a 1 MiB block is 10 rows; 4,096 rows are
    # 409 blocks of 10 and a last one of 6
    fc6 = seeded((4096, 25088))
    blocks = list(fc6.row_blocks())
    assert BLOCK_BYTES == 1 << 20 and block_rows(25088, 4) == 1048576 // (25088 * 4) == 10
    assert len(blocks) == 409 + 1 and blocks[-1] == (4090, 4096)
    assert all(stop - start == 10 for start, stop in blocks[:-1])
    assert [start for start, _ in blocks[1:]] == [stop for _, stop in blocks[:-1]]
    assert block_rows(2_000_000, 4) == 1  # a row larger than the block still comes one at a time


def test_only_arrays_of_two_axes_or_more_larger_than_the_period_repeat() -> None:
    assert PERIOD == 65_521  # the largest prime below 2¹⁶ (docs/verify.md), wider than VGG's 25,088-value rows
    assert all(PERIOD % d for d in range(2, 256))  # prime: 256² > PERIOD, so no factor goes unchecked
    assert repeats((2, PERIOD // 2 + 1)) and repeats((PERIOD + 1, 1)) and repeats((2, 2, PERIOD // 4 + 1))
    assert repeats((512, 512, 3, 3))  # ResNet's largest convolution weight, 2,359,296 values
    assert not repeats((1, PERIOD)) and not repeats((PERIOD + 1,)) and not repeats((64, 64, 3, 5))  # 61,440


def test_a_weight_of_four_axes_is_its_rows_by_the_product_of_the_rest() -> None:
    # a conv weight (COUT, C/G, KH, KW) = (5, 3000, 3, 3): 135,000 values, rows of 27,000, the block wrapped twice
    weight = seeded((5, 3000, 3, 3))
    whole = _uniform(_layer_stream(0, 7), (5, 3000, 3, 3), "float32", 0.5)
    assert (weight.ndim, weight.cols, weight.size) == (4, 27_000, 135_000)
    np.testing.assert_array_equal(np.asarray(weight), whole)
    np.testing.assert_array_equal(weight.rows(3, 5), whole[3:5].reshape(2, 27_000))
    flat = np.arange(3 * 27_000, 5 * 27_000) % PERIOD  # element (r, c) is element r·27,000 + c of the block
    np.testing.assert_array_equal(weight.rows(3, 5).reshape(-1), weight.block[flat])


@pytest.mark.parametrize(
    ("shape", "stride", "padding", "groups"),
    [
        ((240, 24, 5, 5), 1, 2, 1),  # 144,000 values
        ((240, 12, 5, 5), 2, 0, 2),  # 72,000, grouped
        ((2800, 24, 1, 1), 1, 0, 1),  # 67,200: a 1×1 stride-1 convolution, whose columns are x itself
    ],
)
def test_a_convolution_over_a_streamed_weight_gives_what_the_whole_weight_gives(shape, stride, padding, groups) -> None:
    weight = seeded(shape)
    assert repeats(shape)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 24, 9, 9)).astype(np.float32)
    y, cache = conv_forward(x, weight, None, stride, padding, 1, groups)
    expected_y, expected_cache = conv_forward(x, np.asarray(weight), None, stride, padding, 1, groups)
    assert cache[1] is weight  # the cache keeps the drawn block, not the weight made whole
    np.testing.assert_array_equal(y, expected_y)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for got, expected in zip(conv_backward(dy, cache), conv_backward(dy, expected_cache)):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_streamed_fc_gives_what_numpy_gives_over_the_whole_matrix(dtype) -> None:
    out, features, batch = 300, 4000, 3  # 1,200,000 weights: more than one period
    matrix = seeded((out, features), dtype)
    whole = np.asarray(matrix)
    rng = np.random.default_rng(1)
    x, dy, b = (rng.standard_normal(shape).astype(dtype) for shape in ((batch, features), (batch, out), (out,)))
    with count_macs() as forward:
        y, cache = linear_forward(x, matrix, b)
    with count_macs() as backward:
        dx, dw, db = linear_backward(dy, cache)
    tolerance = {"float32": 2e-4, "float64": 1e-12}[dtype]
    np.testing.assert_allclose(y, x @ whole.T + b, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(dx, dy @ whole, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(db, dy.sum(axis=0))
    assert y.dtype == dx.dtype == np.dtype(dtype)
    assert isinstance(dw, GradientSummary) and (dw.shape, dw.finite, dw.zero) == ((out, features), True, False)
    # every product counted as the whole matrix's: N·OUT·F forward, dx and dW as many again each
    assert (forward.macs, backward.macs) == (3 * 300 * 4000, 2 * 3 * 300 * 4000)


@pytest.mark.parametrize(
    ("x_value", "dy_value", "finite", "zero"),
    [
        (0.0, 1.0, True, True),  # dW = dyᵀ x is zero everywhere
        (1.0, 0.0, True, True),
        (1e30, 1e30, False, False),  # 1e60 overflows float32
        (np.nan, 1.0, False, False),
        # 3e38 · 1 is finite but 1.2 million of them sum to infinity: only the elementwise test tells
        (3e38, 1.0, True, False),
    ],
)
def test_the_gradient_summary_says_what_the_whole_gradient_would(x_value, dy_value, finite, zero) -> None:
    matrix = seeded((300, 4000))
    x, dy = np.full((1, 4000), x_value, dtype=np.float32), np.full((1, 300), dy_value, dtype=np.float32)
    with np.errstate(all="ignore"):
        _, dw, _ = linear_backward(dy, linear_forward(x, matrix, None)[1])
        whole = dy.T @ x
    assert (bool(np.isfinite(whole).all()), bool((whole == 0).all())) == (finite, zero)
    assert (dw.finite, dw.zero) == (finite, zero)


def test_a_summary_with_one_nonzero_block_is_not_zero() -> None:
    summary = GradientSummary((3, 2), np.dtype("float32"))
    summary.add(np.zeros((1, 2), dtype=np.float32))
    assert summary.zero
    summary.add(np.array([[1.0, -1.0]], dtype=np.float32))  # sums to zero, but is not zero
    summary.add(np.zeros((1, 2), dtype=np.float32))
    assert summary.finite and not summary.zero


# 4,000 features into 1,000 units: 4 million weights, 16 MB in float32 against a 256 KiB drawn block
BIG_FC = (
    "input: 1x1x4000\nlayers:\n  - flatten\n  - {kind: fc, name: big, out: 1000}\n  - {kind: fc, name: head, out: 3}\n"
)


@pytest.mark.parametrize("backward", [True, False])
def test_the_engine_never_makes_a_streamed_weight_whole(backward) -> None:
    network = parse_network_text(BIG_FC)
    peak = traced_peak(lambda: run(network, backward=backward))
    kept = traced_peak(lambda: run(network, backward=backward, keep=True))  # kept weights are whole arrays
    assert peak < 8 << 20 < 4000 * 1000 * 4 < kept


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_streamed_pass_gives_what_the_whole_weights_give(dtype) -> None:
    network = parse_network_text(BIG_FC)
    streamed, whole = run(network, dtype=dtype), run(network, dtype=dtype, keep=True)
    assert isinstance(whole.params["big"]["weight"], np.ndarray)  # keep: the weights are handed back whole
    # the same products, only dx's sums over rows in another order: float32 rounding relative to the largest value
    for a, b in ((streamed.output, whole.output), (streamed.input_grad, whole.input_grad)):
        scale = (1e-5 if dtype == "float32" else 1e-13) * np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=0, atol=scale)
    for a, b in zip(streamed.layers, whole.layers):
        assert (a.params_used, a.forward_macs, a.backward_macs) == (b.params_used, b.forward_macs, b.backward_macs)
        assert (a.gradient_problems, a.nonfinite, a.zero_gradients) == ((), (), ())
    assert streamed.layers[1].params_used == 4000 * 1000 + 1000


def test_a_streamed_weight_gradient_that_is_zero_or_overflows_is_reported() -> None:
    network = parse_network_text(BIG_FC)
    zero = run(network, x=np.zeros((1, 4000, 1, 1), dtype=np.float32))
    assert [layer.zero_gradients for layer in zero.layers] == [(), ("weight",), ()]
    # the streamed fc as the output: dy of 1e30 meets inputs of 1e10, so dW = 1e40 overflows float32 while y
    # (1e10 times weights of ±0.04) and dx (1e30 times them) stay finite
    network = parse_network_text(BIG_FC.replace("  - {kind: fc, name: head, out: 3}\n", ""))
    x = np.full((1, 4000, 1, 1), 1e10, dtype=np.float32)
    big = run(network, x=x, output_grad=np.full((1, 1000), 1e30, dtype=np.float32))
    assert [layer.nonfinite for layer in big.layers] == [(), ("dweight",)]


# three 3×3 convolutions of 256 channels at 4×4: 589,824 weights each, 2.4 MB in float32 against 256 KiB blocks;
# the activations (4·4·256 values, 16 KiB each) are small beside them
CONVS = "input: 4x4x256\nlayers:\n" + "".join(
    f"  - {{kind: conv, name: c{i}, out: 256, kernel: 3, padding: 1}}\n" for i in range(3)
)


def test_the_engine_holds_a_convolution_weight_only_while_it_is_used() -> None:
    network = parse_network_text(CONVS)
    weight = 256 * 256 * 9 * 4
    peak = traced_peak(lambda: run(network))
    kept = traced_peak(lambda: run(network, keep=True))
    # held whole from forward to backward, all three are alive at once; made for each GEMM, at most one weight
    # and its gradient are (plus the three drawn blocks and the small activations)
    assert kept > 3 * weight and peak < 2 * weight + 3 * PERIOD * 4 + (1 << 20)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_pass_over_streamed_convolutions_gives_what_the_whole_weights_give(dtype) -> None:
    network = parse_network_text(CONVS)
    streamed, whole = run(network, dtype=dtype), run(network, dtype=dtype, keep=True)
    assert isinstance(whole.params["c1"]["weight"], np.ndarray)
    # the same weights and the same GEMMs in the same order: equal to the last bit
    np.testing.assert_array_equal(streamed.output, whole.output)
    np.testing.assert_array_equal(streamed.input_grad, whole.input_grad)
    for a, b in zip(streamed.layers, whole.layers):
        assert (a.params_used, a.forward_macs, a.backward_macs) == (b.params_used, b.forward_macs, b.backward_macs)
        assert (a.gradient_problems, a.nonfinite, a.zero_gradients) == ((), (), ())
    assert streamed.layers[0].params_used == 256 * 256 * 9 + 256
