"""Activations, dropout and softmax keep the shape and own no parameters."""

from __future__ import annotations

import pytest

from tests.conftest import one_layer


@pytest.mark.parametrize(("kind", "flops_per_element"), [
    ("relu", 1), ("relu6", 1), ("leaky_relu", 1), ("sigmoid", 1), ("tanh", 1), ("dropout", 0), ("softmax", 3),
])
def test_shape_kept_and_flops(kind, flops_per_element):
    r = one_layer(kind, (7, 7, 10))
    assert (r.output_shape, r.params, r.macs) == ((7, 7, 10), 0, 0)
    assert r.flops == flops_per_element * 7 * 7 * 10
    assert r.activation_bytes == 7 * 7 * 10 * 4
