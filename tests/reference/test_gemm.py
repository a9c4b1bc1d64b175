import numpy as np
import pytest

from netcalc.reference.conv import (
    conv_backward,
    conv_forward,
    conv_transpose_backward,
    conv_transpose_forward,
    linear_backward,
    linear_forward,
)
from netcalc.reference.gemm import count_macs, gemm, gemm_macs


def test_gemm_counts_m_k_n():
    a, b = np.ones((3, 4)), np.ones((4, 5))
    with count_macs() as counter:
        y = gemm(a, b)
    assert y.shape == (3, 5)
    assert counter.macs == 3 * 4 * 5
    assert counter.calls == 1
    assert isinstance(counter.macs, int)


def test_gemm_counts_broadcast_batches():
    with count_macs() as counter:
        gemm(np.ones((2, 3, 4)), np.ones((5, 1, 4, 6)))
    assert counter.macs == (5 * 2) * 3 * 4 * 6


def test_gemm_outside_counter_counts_nothing_and_works():
    assert gemm(np.eye(2), np.ones((2, 2))).sum() == 4


def test_nested_counters_both_see_inner_macs():
    with count_macs() as total:
        gemm(np.ones((2, 3)), np.ones((3, 4)))
        with count_macs() as inner:
            gemm(np.ones((5, 6)), np.ones((6, 7)))
    assert inner.macs == 5 * 6 * 7
    assert total.macs == 2 * 3 * 4 + 5 * 6 * 7
    with count_macs() as after:
        gemm(np.ones((1, 1)), np.ones((1, 1)))
    assert after.macs == 1 and total.macs == 2 * 3 * 4 + 5 * 6 * 7  # closed counters stay closed


def test_counter_closed_by_exception_is_removed():
    with pytest.raises(RuntimeError), count_macs():
        raise RuntimeError
    with count_macs() as counter:
        gemm(np.ones((2, 2)), np.ones((2, 2)))
    assert counter.macs == 2 * 2 * 2


def test_gemm_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="inner"):
        gemm_macs((2, 3), (4, 5))
    with pytest.raises(ValueError, match="2-D"):
        gemm_macs((3,), (3, 2))


def test_conv_forward_and_backward_macs():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    with count_macs() as forward:
        y, cache = conv_forward(x, w, np.zeros(4), padding=1)
    assert forward.macs == 5 * 5 * 4 * (3 * 3 * 3)
    with count_macs() as backward:
        conv_backward(np.ones_like(y), cache)
    assert backward.macs == 2 * (5 * 5 * 4 * (3 * 3 * 3))  # dw and dx, each as big as forward


def test_grouped_strided_conv_macs():
    x, w = np.ones((2, 8, 9, 9)), np.ones((6, 8 // 2, 3, 3))
    with count_macs() as counter:
        y, _ = conv_forward(x, w, None, stride=2, padding=1, groups=2)
    assert y.shape == (2, 6, 5, 5)
    assert counter.macs == 2 * 5 * 5 * 6 * (8 // 2 * 3 * 3)


def test_depthwise_conv_macs():
    with count_macs() as counter:
        conv_forward(np.ones((1, 32, 112, 112)), np.ones((32, 1, 3, 3)), None, padding=1, groups=32)
    assert counter.macs == 112 * 112 * 32 * (1 * 3 * 3)


def test_conv_transpose_macs():
    x, w = np.ones((1, 8, 4, 4)), np.ones((8, 3, 4, 4))
    with count_macs() as forward:
        y, cache = conv_transpose_forward(x, w, None, stride=2, padding=1)
    assert y.shape == (1, 3, 8, 8)
    assert forward.macs == 4 * 4 * 8 * (3 * 4 * 4)  # every input pixel times every tap of every output channel
    with count_macs() as backward:
        conv_transpose_backward(np.ones_like(y), cache)
    assert backward.macs == 2 * (4 * 4 * 8 * (3 * 4 * 4))


def test_linear_macs():
    with count_macs() as forward:
        y, cache = linear_forward(np.ones((2, 25088)), np.ones((10, 25088)), np.zeros(10))
    assert forward.macs == 2 * 25088 * 10
    with count_macs() as backward:
        linear_backward(np.ones_like(y), cache)
    assert backward.macs == 2 * (2 * 25088 * 10)


def test_outer_product_shortcut_counts_and_computes_like_matmul():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 1)), rng.standard_normal((1, 5))
    with count_macs() as counter:
        y = gemm(a, b)
    assert counter.macs == 7 * 1 * 5
    np.testing.assert_allclose(y, np.matmul(a, b))


def test_gemm_adds_its_calls_and_time_in_every_open_counter(monkeypatch):
    import netcalc.reference.gemm as module

    clock = iter([1.0, 3.0, 10.0, 14.0])  # two products: 2 s and 4 s
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    with count_macs() as outer:
        gemm(np.ones((2, 3)), np.ones((3, 2)))
        with count_macs() as inner:
            gemm(np.ones((2, 3)), np.ones((3, 2)))
    assert (outer.calls, outer.seconds, outer.macs) == (2, 6.0, 2 * 12)
    assert (inner.calls, inner.seconds, inner.macs) == (1, 4.0, 12)


@pytest.mark.parametrize(("a", "b"), [((4, 1), (1, 5)), ((3, 4, 1), (3, 1, 5)), ((4, 2), (2, 5))])
def test_an_outer_product_equals_the_matrix_product(a, b):
    # K = 1 takes a broadcast multiply (2-D only); the values are the matrix product's
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(a), rng.standard_normal(b)
    np.testing.assert_array_equal(gemm(x, y), np.matmul(x, y))
