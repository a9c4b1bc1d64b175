"""Pooling shape rules (floor and PyTorch's ceil mode), FLOPs, and the adaptive/global variants."""

from __future__ import annotations

import pytest

from netcalc.errors import NetcalcError
from tests.conftest import one_layer

POOL_TABLE = [
    # (kind, attrs, input) -> output
    pytest.param("maxpool", dict(kernel=2), (224, 224, 64), (112, 112, 64), id="vgg-2x2"),
    pytest.param("maxpool", dict(kernel=3, stride=2), (55, 55, 96), ((55 - 3) // 2 + 1,) * 2 + (96,), id="alexnet"),
    pytest.param("maxpool", dict(kernel=3, stride=2, padding=1), (112, 112, 64), (56, 56, 64), id="resnet"),
    # GoogLeNet: ceil((112 − 3)/2) + 1 = 56 where floor would give 55
    pytest.param("maxpool", dict(kernel=3, stride=2, ceil_mode=True), (112, 112, 64), (56, 56, 64), id="ceil"),
    pytest.param("maxpool", dict(kernel=3, stride=2), (112, 112, 64), (55, 55, 64), id="floor"),
    # ceil mode may not start a window in the padding: ceil((5 + 2 − 2)/2) + 1 = 4, but (4 − 1)·2 = 6 ≥ 5 + 1 → 3
    pytest.param("maxpool", dict(kernel=2, stride=2, padding=1, ceil_mode=True), (5, 5, 1), (3, 3, 1), id="ceil-pad"),
    pytest.param("avgpool", dict(kernel=2), (56, 56, 256), (28, 28, 256), id="densenet-transition"),
    pytest.param("adaptive_avgpool", dict(output=7), (10, 10, 512), (7, 7, 512), id="adaptive"),
    pytest.param("global_avgpool", {}, (7, 7, 2048), (1, 1, 2048), id="gap"),
    pytest.param("global_maxpool", {}, (7, 7, 2048), (1, 1, 2048), id="gmp"),
]


@pytest.mark.parametrize(("kind", "attrs", "shape", "out"), POOL_TABLE)
def test_pool_shapes_and_no_parameters(kind, attrs, shape, out):
    r = one_layer(kind, shape, **attrs)
    assert r.output_shape == out
    assert (r.params, r.macs) == (0, 0)


def test_pool_flops():
    assert one_layer("maxpool", (4, 4, 2), kernel=2).flops == 2 * 2 * 2 * (2 * 2 - 1)
    assert one_layer("avgpool", (4, 4, 2), kernel=2).flops == 2 * 2 * 2 * (2 * 2)
    assert one_layer("global_avgpool", (7, 7, 8)).flops == 7 * 7 * 8
    assert one_layer("global_maxpool", (7, 7, 8)).flops == (7 * 7 - 1) * 8


def test_adaptive_flops_sum_the_overlapping_bins():
    # 5 → 3 bins: [0,2), [1,4), [3,5) → sizes 2 + 3 + 2 = 7 per axis
    assert one_layer("adaptive_avgpool", (5, 5, 2), output=3).flops == 2 * 7 * 7


def test_pool_padding_over_half_the_kernel_is_refused():
    with pytest.raises(NetcalcError, match="padding 2 must be at most half the kernel 3"):
        one_layer("maxpool", (8, 8, 1), kernel=3, padding=2)


def test_floor_mode_notes_the_dropped_row():
    # 3×3 stride 2 on 112: windows start at 0..108, the last covers 108..110, row 111 is unread
    assert one_layer("maxpool", (112, 112, 1), kernel=3, stride=2).notes == (
        f"stride 2 leaves the last 1 row and 1 column of the 112×112 input unread: "
        f"no window reads {1 - 111 * 111 / (112 * 112):.1%} of its pixels",
    )
    # 2×2 windows at stride [1, 2] over 7×8: rows 0..6 all read, columns start at 0, 2, 4, 6 and reach 7
    assert one_layer("maxpool", (7, 8, 1), kernel=2, stride=[1, 2]).notes == ()
    # … over 7×9: column 8 is never read
    assert one_layer("maxpool", (7, 9, 1), kernel=2, stride=[1, 2]).notes == (
        f"stride 1×2 leaves the last 1 column of the 7×9 input unread: no window reads {1 - 8 / 9:.1%} of its pixels",
    )
    assert one_layer("maxpool", (112, 112, 1), kernel=3, stride=2, ceil_mode=True).notes == ()


def test_the_widest_adaptive_bin_by_pytorchs_bin_bounds() -> None:
    # PyTorch's adaptive pooling: bin i covers [⌊i·H/O⌋, ⌈(i + 1)·H/O⌉)
    from netcalc.kinds.pool import widest_bin

    for size in range(1, 61):
        for out in range(1, 2 * size + 3):
            widths = [-(-(i + 1) * size // out) - (i * size // out) for i in range(out)]
            assert widest_bin(size, out) == max(widths), (size, out)


def test_an_adaptive_pools_field_by_hand() -> None:
    from fractions import Fraction

    from netcalc.kinds.pool import adaptive_window

    # 7 → 3: bins [0, 3), [2, 5), [4, 7): span 3 − 1, stride 7/3, bin 0 centred on (3 − 1)/2 = 1
    window = adaptive_window(7, 3)
    assert (window.span, window.stride, window.offset) == (2, Fraction(7, 3), 1)


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_same_padding_given_as_words_is_worked_out_from_the_input(kind: str) -> None:
    # a layer built without the parser (which turns 'same' into numbers) keeps the word: the pool works out
    # TensorFlow's SAME for the input it gets, ⌈5/2⌉ = 3 outputs a side, the extra padding row at the bottom
    import numpy as np

    from netcalc.kinds import REGISTRY
    from tests.kinds.test_mutants import layer_of

    attrs = {**layer_of(f"[{{kind: {kind}, kernel: 3, stride: 2}}]", "5x5x1").attrs, "padding": "same"}
    y, _ = REGISTRY[kind].forward((np.arange(25.0).reshape(1, 1, 5, 5),), {}, attrs, False)
    assert y.shape == (1, 1, 3, 3)
    # the last window: rows and columns 3, 4 and the padding (SAME pads 1 above and 1 below); avgpool divides by
    # the whole 3×3 window (count_include_pad)
    assert y[0, 0, 2, 2] == pytest.approx(24.0 if kind == "maxpool" else (18 + 19 + 23 + 24) / 9, rel=1e-15)


def test_adaptive_pooling_flops_and_field_on_a_rectangle_by_pytorchs_bins() -> None:
    from fractions import Fraction

    import netcalc

    def bins(size: int, out: int) -> list[int]:  # PyTorch: bin i covers [⌊i·H/O⌋, ⌈(i + 1)·H/O⌉)
        return [-(-(i + 1) * size // out) - (i * size // out) for i in range(out)]

    row = netcalc.analyze("input: 7x10x3\nlayers: [{kind: adaptive_avgpool, output: [3, 4]}]").layers[0]
    # each output adds its bin's values (and divides once): bin heights × bin widths, summed, per channel
    assert row.flops == 3 * sum(bins(7, 3)) * sum(bins(10, 4))
    assert row.field.jump == (Fraction(7, 3), Fraction(10, 4))
    assert row.field.size == (max(bins(7, 3)), max(bins(10, 4)))


@pytest.mark.parametrize(("kernel", "axis"), [("[9, 1]", "height"), ("[1, 9]", "width")])
def test_a_pool_window_too_large_names_its_axis(kernel: str, axis: str) -> None:
    import netcalc

    with pytest.raises(NetcalcError) as caught:
        netcalc.analyze(f"input: 4x4x1\nlayers: [{{kind: maxpool, kernel: {kernel}}}]")
    assert f"kernel 9 is larger than the padded {axis} 4 + 2·0 = 4; output {axis} " in str(caught.value)
