"""batchnorm (parameters vs buffers) and LRN."""

from __future__ import annotations

import netcalc
from tests.conftest import one_layer


def test_batchnorm_counts_scale_and_shift_as_parameters_and_running_stats_as_buffers():
    r = one_layer("batchnorm", (56, 56, 64))
    assert (r.params, r.buffers, r.macs) == (2 * 64, 2 * 64, 0)
    assert r.flops == 2 * 56 * 56 * 64


def test_batchnorm_on_flat_features():
    report = netcalc.analyze("input: 2x2x3\nlayers: [flatten, batchnorm]")
    assert (report.layers[-1].params, report.layers[-1].output_shape) == (2 * 12, (12,))


def test_lrn_has_no_parameters_and_its_flops_follow_the_size():
    r = one_layer("lrn", (55, 55, 96), size=5, k=2)
    assert (r.output_shape, r.params) == ((55, 55, 96), 0)
    assert r.flops == (2 * 5 + 3) * 55 * 55 * 96
