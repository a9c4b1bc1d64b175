"""Hints for the words users bring from PyTorch and Keras: `Conv2d`, `Linear`, `Dense`, `kernel_size`,
`padding: valid`, … Each maps to the netcalc word; a hint is only given when that word exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netcalc.kinds import REGISTRY

# foreign kind name (compared case-insensitively, without `_`) -> netcalc kind
KIND_WORDS: dict[str, str] = {
    "linear": "fc",
    "dense": "fc",
    "fullyconnected": "fc",
    "innerproduct": "fc",
    "conv2d": "conv",
    "convolution": "conv",
    "separableconv2d": "conv",
    "depthwiseconv2d": "conv",
    "convtranspose2d": "conv_transpose",
    "conv2dtranspose": "conv_transpose",
    "deconvolution": "conv_transpose",
    "batchnorm2d": "batchnorm",
    "batchnorm1d": "batchnorm",
    "batchnormalization": "batchnorm",
    "bn": "batchnorm",
    "maxpool2d": "maxpool",
    "maxpooling2d": "maxpool",
    "avgpool2d": "avgpool",
    "averagepooling2d": "avgpool",
    "adaptiveavgpool2d": "adaptive_avgpool",
    "globalaveragepooling2d": "global_avgpool",
    "globalavgpool": "global_avgpool",
    "globalmaxpooling2d": "global_maxpool",
    "upsample": "upsample",
    "upsampling2d": "upsample",
    "interpolate": "upsample",
    "upsamplingbilinear2d": "upsample",
    "upsamplingnearest2d": "upsample",
    "cat": "concat",
    "concatenate": "concat",
    "mul": "multiply",
    "prod": "multiply",
    "swish": "silu",
    "hswish": "hardswish",
    "hardswish": "hardswish",
    "hsigmoid": "hardsigmoid",
    "leakyrelu": "leaky_relu",
    "zeropadding2d": "pad",
    "zeropad2d": "pad",
    "reflectionpad2d": "pad",
    "replicationpad2d": "pad",
    "cropping2d": "crop",
    "depthtospace": "pixel_shuffle",
    "spacetodepth": "pixel_unshuffle",
    "localresponsenorm": "lrn",
    "droppath": "stochastic_depth",
    "stochasticdepth": "stochastic_depth",
    "channelshuffle": "channel_shuffle",
}

# foreign attribute name -> netcalc attribute
KEY_WORDS: dict[str, str] = {
    "out_channels": "out",
    "out_features": "out",
    "filters": "out",
    "units": "out",
    "num_output": "out",
    "kernel_size": "kernel",
    "pool_size": "kernel",
    "strides": "stride",
    "dilation_rate": "dilation",
    "use_bias": "bias",
    "epsilon": "eps",
    "rate": "p",
    "scale_factor": "scale",
    "upscale_factor": "factor",
    "downscale_factor": "factor",
    "num_groups": "groups",
    "alpha": "negative_slope",
    "interpolation": "mode",
    "padding_mode": "mode",
}
IGNORED_KEYS = ("in_channels", "in_features", "num_features", "inplace")  # netcalc reads these from the shapes


def _plain(word: str) -> str:
    return word.lower().replace("_", "")


def kind_hint(word: Any) -> str:
    """' (PyTorch/Keras `Conv2d` is `conv` here)' when `word` is a foreign kind name netcalc has, else ''."""
    if not isinstance(word, str):
        return ""
    kind = KIND_WORDS.get(_plain(word))
    if kind is None and _plain(word) in {_plain(k) for k in REGISTRY}:
        kind = next(k for k in REGISTRY if _plain(k) == _plain(word))
    if kind is None or kind not in REGISTRY or kind == word:
        return ""
    return f" (netcalc calls it '{kind}')"


def key_hint(word: str, attrs: Iterable[str]) -> str:
    """' (netcalc calls it 'kernel')' for `kernel_size` on a kind that has `kernel`, or a note that netcalc
    derives `in_channels` from the shapes; '' otherwise."""
    attrs = tuple(attrs)
    if word in IGNORED_KEYS:
        return " (netcalc reads it from the input shape: leave it out)"
    name = KEY_WORDS.get(word)
    if name is not None and name in attrs:
        return f" (netcalc calls it '{name}')"
    return ""


def value_hint(key: str, value: Any) -> str:
    """A hint for a foreign attribute value: `padding: valid` is 0, `activation: swish` is silu."""
    if not isinstance(value, str):
        return ""
    if key == "padding" and value.lower() == "valid":
        return " (Keras's 'valid' is padding: 0)"
    if key == "padding" and value.lower() == "same" and value != "same":
        return " (write it in lower case: same)"
    if key == "activation":
        kind = KIND_WORDS.get(_plain(value)) or next((k for k in REGISTRY if _plain(k) == _plain(value)), None)
        if kind is not None and kind != value and kind in REGISTRY:
            return f" (did you mean '{kind}'?)"
    return ""
