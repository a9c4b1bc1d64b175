"""Channel slices, shuffles and zero channels: copies that do no arithmetic, on feature maps (H×W×C) or on the
features of a flat vector alike. No parameters, no MACs, no FLOPs.

channel_slice:   H×W×C → H×W×(end − start), channels [start, end)  (ShuffleNetV2's split, one part per slice)
channel_shuffle: H×W×C → H×W×C, channel g·(C/G) + k moves to k·G + g  (ShuffleNet, torchvision's channel_shuffle)
channel_pad:     H×W×C → H×W×(before + C + after), the new channels zero  (ResNet for CIFAR, option A shortcut)
"""

from __future__ import annotations

from typing import Any

from netcalc.errors import ShapeError
from netcalc.kinds.base import VIEW, Attr, Attrs, LayerKind, channels, whole
from netcalc.lazy_numpy import np
from netcalc.shapes import Shape, format_shape


def _with_channels(shape: Shape, count: int) -> Shape:
    return shape[:-1] + (count,)


def slice_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    c, start, end = channels(ins[0]), attrs["start"], attrs["end"]
    if start == end == c:  # the last part of a `channel_split` into more parts than its chunks fill
        raise ShapeError(
            f"channel_slice [{c}, {c}) is empty: no channel of {format_shape(ins[0])} is left for it (a channel_split"
            " into `parts: n` takes ⌈C/n⌉ channels a part, as torch.chunk, and torch.chunk would return fewer parts"
            " here; give `parts` that leave every part a channel, or `sizes: [...]`)"
        )
    if not start < end <= c:
        raise ShapeError(
            f"channel_slice [{start}, {end}) must lie within the {c} channels of {format_shape(ins[0])}, "
            "with start < end"
        )
    return _with_channels(ins[0], end - start)


def shuffle_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    c, groups = channels(ins[0]), attrs["groups"]
    if c % groups:
        raise ShapeError(f"channel_shuffle groups {groups} must divide the {c} channels of {format_shape(ins[0])}")
    return ins[0]


def pad_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    return _with_channels(ins[0], attrs["before"] + channels(ins[0]) + attrs["after"])


# --- NumPy reference, along axis 1: the channels of (N, C, H, W), the features of (N, F).


def slice_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, …) → y (N, end − start, …), a view of x."""
    x = xs[0]
    return x[:, attrs["start"] : attrs["end"]], (x.shape, attrs["start"], attrs["end"])


def slice_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """dx is dy on channels [start, end) and zero elsewhere."""
    shape, start, end = cache
    dx = np.zeros(shape, dtype=dy.dtype)
    dx[:, start:end] = dy
    return (dx,), {}


def _shuffle(x: Any, groups: int) -> Any:
    """(N, G·K, …) viewed as (N, G, K, …), the two axes swapped, flattened back: channel g·K + k → k·G + g.

    Always a new array, as torch's channel_shuffle (and the analysis, which counts the output as a new tensor):
    when G or K is 1 the permutation is the identity and NumPy's reshape → swapaxes → reshape would give a view
    of x, which the live-memory check would count once and an in-place layer after it would write through.
    The swapped axes are copied once, C-contiguous, and the final reshape views that copy."""
    n, c = x.shape[:2]
    return x.reshape(n, groups, c // groups, *x.shape[2:]).swapaxes(1, 2).copy().reshape(x.shape)


def shuffle_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, …) → y (N, C, …), channels reordered as torchvision's channel_shuffle."""
    c = xs[0].shape[1]
    return _shuffle(xs[0], attrs["groups"]), c // attrs["groups"]


def shuffle_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The inverse permutation: a shuffle with C/G groups."""
    return (_shuffle(dy, cache),), {}


def pad_forward(xs: tuple[Any, ...], params: Any, attrs: Attrs, train: bool) -> tuple[Any, Any]:
    """x (N, C, …) → y (N, before + C + after, …), zeros around x."""
    x, before = xs[0], attrs["before"]
    y = np.zeros((x.shape[0], before + x.shape[1] + attrs["after"], *x.shape[2:]), dtype=x.dtype)
    y[:, before : before + x.shape[1]] = x
    return y, (before, x.shape[1])


def pad_backward(dy: Any, cache: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    before, c = cache
    return (dy[:, before : before + c],), {}


KINDS = (
    LayerKind(
        name="channel_slice",
        summary="channels [start, end) of a feature map (or features of a flat vector)",
        attrs=(
            Attr("start", whole(0), 0, "first channel kept"),
            Attr("end", whole(1), doc="one past the last channel kept"),
        ),
        output_shape=slice_output_shape,
        flops_rule="none (a copy)",
        forward=slice_forward,
        backward=slice_backward,
        storage=VIEW,  # x[:, start:end] is a view in PyTorch and here
    ),
    LayerKind(
        name="channel_shuffle",
        summary="interleave channel groups: (G, C/G) → (C/G, G) (ShuffleNet)",
        attrs=(Attr("groups", whole(1), doc="number of groups G; must divide the channels"),),
        output_shape=shuffle_output_shape,
        flops_rule="none (a copy)",
        forward=shuffle_forward,
        backward=shuffle_backward,
    ),
    LayerKind(
        name="channel_pad",
        summary="add zero channels before and after (ResNet option-A shortcut)",
        attrs=(
            Attr("before", whole(0), 0, "zero channels in front"),
            Attr("after", whole(0), 0, "zero channels behind"),
        ),
        output_shape=pad_output_shape,
        flops_rule="none (a copy)",
        forward=pad_forward,
        backward=pad_backward,
    ),
)
