"""Which views have gaps, so that flattening one copies.

A view (`crop`, `subsample`, `channel_slice`, inference `dropout`, `identity`) shares its input's storage. Most
are contiguous per sample, but a crop that cuts rows or columns and a subsample of stride > 1 leave gaps between
their elements; `flatten` of such a view cannot be a view too, and PyTorch's `flatten` (like NumPy's `reshape`)
makes a copy: a new tensor, counted as one in the memory plan. The test is NumPy's and PyTorch's: a sample's
axes merge into one when each axis's stride is the next one's times its size.
"""

from __future__ import annotations

from collections.abc import Sequence

from netcalc.kinds import REGISTRY
from netcalc.kinds.base import NEW, VIEW
from netcalc.network import Layer
from netcalc.shapes import Shape

Strides = tuple[int, ...]


def _sample_axes(shape: Shape) -> tuple[int, ...]:
    """One sample's axes in memory order: (C, H, W) for H×W×C, (F,) for a flat vector."""
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else tuple(shape)


def _packed(axes: Sequence[int]) -> Strides:
    strides, step = [], 1
    for size in reversed(axes):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def merges(axes: Sequence[int], strides: Strides) -> bool:
    """The axes can be read as one run of evenly spaced elements without a copy: each axis's stride is the next
    one's times its size (axes of size 1 do not matter; the run itself may have any spacing)."""
    step = None
    for size, stride in zip(reversed(axes), reversed(strides)):
        if size == 1:
            continue
        if step is not None and stride != step:
            return False
        step = stride * size
    return True


def storages(layers: Sequence[Layer], shapes: dict[str, Shape], train: bool) -> list[str]:
    """Each layer's storage (`LayerKind.storage_in`), with a flatten of a view with gaps made NEW."""
    gaps: dict[str, Strides] = {}  # tensor -> a sample's strides, for the views whose elements are not packed
    result = []
    for layer in layers:
        storage = REGISTRY[layer.kind].storage_in(train)
        if storage == VIEW and layer.inputs:
            source = layer.inputs[0]
            axes_in = _sample_axes(shapes[source])
            strides = gaps.get(source, _packed(axes_in))
            if layer.kind == "flatten":
                storage = VIEW if merges(axes_in, strides) else NEW  # a copy, packed
            else:
                if layer.kind == "subsample":
                    rows, cols = layer.attrs["stride"]
                    strides = (strides[0], strides[1] * rows, strides[2] * cols)
                axes_out = _sample_axes(shapes[layer.name])
                if len(axes_out) == len(strides) and not merges(axes_out, strides):
                    gaps[layer.name] = strides
        result.append(storage)
    return result
