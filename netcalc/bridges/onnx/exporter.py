"""Export a Network as an ONNX model: one function per netcalc kind (`registry.exporter`), inference mode.

Every layer becomes one node named after the layer (a few where ONNX needs them: a fused activation is a second
node `<layer>/fused`), and its output value is named after the layer, so Netron shows the spec's names and
`netcalc import` gives the spec back. Where ONNX has no operator of the kind's own, the node's doc_string names
the kind and the attributes ONNX has no place for (`netcalc: {"kind":"stochastic_depth","p":0.1,...}`), so the
importer restores it. Weights are the reference pass's seeded arrays (`netcalc.reference.engine.
init_layer_params`, float32) or zeros; zeros are ConstantOfShape nodes, not stored tensors, so such a file stays
small whatever the network (it still runs, and opens in Netron). The batch is 1 unless asked otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netcalc.bridges import require
from netcalc.bridges.onnx import proto
from netcalc.bridges.onnx.registry import EXPORTERS, exporter
from netcalc.errors import NetcalcError
from netcalc.kinds import REGISTRY
from netcalc.lazy_numpy import np
from netcalc.network import INPUT, Layer, Network
from netcalc.shapes import Shape

if TYPE_CHECKING:
    from netcalc.analysis.report import Report

HINT = "netcalc: "  # a node's doc_string naming the netcalc kind (or role) it stands for
FUSED = "/fused"  # suffix of the node name of a fused activation


class ExportError(NetcalcError):
    """A layer ONNX cannot express (exit code 2)."""


@dataclass
class Graph:
    """The nodes and initializers being built; helpers give each its name."""

    nodes: list[bytes] = field(default_factory=list)  # serialised NodeProtos (`netcalc.bridges.onnx.proto`)
    initializers: list[bytes] = field(default_factory=list)
    opset: int = 17
    batch: int | str = 1
    feeds: dict[str, Any] | None = None  # weights given at run time, by name, instead of stored
    inputs: list[bytes] = field(default_factory=list)  # value infos of those weights

    def need_opset(self, version: int) -> None:
        """An operator this layer needs exists from opset `version` on: the model targets at least that."""
        self.opset = max(self.opset, version)

    def init(self, name: str, array: Any) -> str:
        self.initializers.append(proto.tensor(name, array))
        return name

    def ints(self, name: str, values: list[int]) -> str:
        return self.init(name, np.array(values, dtype=np.int64))

    def floats(self, name: str, values: Any) -> str:
        return self.init(name, np.array(values, dtype=np.float32))

    def node(self, op: str, inputs: list[str], name: str, output: str | None = None, doc: str = "", **attrs: Any):
        output = output or name
        self.nodes.append(proto.node(op, inputs, [output], name, doc, attrs))
        return output


@dataclass(frozen=True)
class Site:
    """What an exporter function is given for one layer."""

    layer: Layer
    inputs: list[str]  # ONNX value names of its inputs
    in_shapes: tuple[Shape, ...]  # analysis convention, H×W×C or F
    out_shape: Shape
    arrays: dict[str, Any]  # its weights and buffers by the kind's names: float32 arrays, or shapes for zeros

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def attrs(self) -> Any:
        return self.layer.attrs

    def param(self, g: Graph, key: str, shape: tuple[int, ...] | None = None) -> str:
        """The layer's array `key` as a graph value (reshaped to `shape` if given)."""
        value, name = self.arrays[key], f"{self.name}.{key}"
        if isinstance(value, tuple):  # zeros: a ConstantOfShape node instead of a stored tensor
            dims = g.ints(name + ".shape", list(shape or value))
            zero = proto.TensorValue("zero", np.zeros(1, dtype=np.float32))
            return g.node("ConstantOfShape", [dims], name, doc=HINT + "zero weights", value=zero)
        array = value.astype(np.float32, copy=False)  # the pass's weights are float32 already: no 553 MB copy
        array = array if shape is None else array.reshape(shape)
        if g.feeds is None:
            return g.init(name, array)
        g.feeds[name] = array
        g.inputs.append(proto.value_info(name, list(array.shape)))
        return name


def export_network(
    network: Network,
    *,
    weights: str = "seeded",
    seed: int = 0,
    opset: int = 17,
    batch: int | str = 1,
) -> Any:
    """The ONNX ModelProto of `network`: `model_bytes` parsed by `onnx`, and checked by onnx.checker (full check).
    The value check (`runtime.py`) hands `model_bytes` to ONNX Runtime itself, without `onnx`."""
    onnx = require("onnx", "exporting to ONNX")
    model = onnx.ModelProto.FromString(model_bytes(network, weights=weights, seed=seed, opset=opset, batch=batch))
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # onnx.checker.ValidationError, shape inference errors
        raise ExportError(f"the exported model fails onnx.checker: {error}") from None
    return model


def model_bytes(
    network: Network,
    *,
    weights: str = "seeded",
    seed: int = 0,
    opset: int = 17,
    batch: int | str = 1,
    feeds: dict[str, Any] | None = None,
    report: Report | None = None,
    exposed: bool = False,
) -> bytes:
    """The serialised ONNX model of `network`, with seeded or zero weights, for inputs of `batch` samples (a
    number, or a name for a symbolic batch dimension). Every layer's output is the value named after the layer;
    the network's outputs are the graph's, and with `exposed` every other layer's output too. Needs no `onnx`.

    With a `feeds` dict, the seeded weights become graph inputs whose arrays are put in `feeds` instead of
    being stored in the model (ONNX Runtime then needs no serialized copy of VGG's 500 MB), and each layer's
    arrays, by the kind's names, in `feeds["@<layer>"]`. `report`: the network's analysis, when the caller has
    it (only its output shapes are read, which do not depend on the batch)."""
    from netcalc.analysis.analyze import analyze_network
    from netcalc.reference.engine import init_layer_params

    report = analyze_network(network) if report is None else report
    shapes: dict[str, Shape] = {INPUT: network.input_shape}
    shapes.update((row.name, row.output_shape) for row in report.layers)
    g = Graph(opset=opset, batch=batch, feeds=feeds)
    values: dict[str, str] = {INPUT: INPUT}
    for index, layer in enumerate(network.layers):
        fn = EXPORTERS.get(layer.kind)
        if fn is None:
            raise ExportError(f"layer '{layer.name}': ONNX export of kind {layer.kind} is not supported yet")
        in_shapes = tuple(shapes[name] for name in layer.inputs)
        if weights == "zeros":
            kind = REGISTRY[layer.kind]
            named = kind.weights(layer.attrs, in_shapes) | kind.buffers(layer.attrs, in_shapes)
            arrays = {k: tuple(shape) for k, shape in named.items()}
        else:
            arrays = init_layer_params(layer, index, in_shapes, seed, "float32")
            if feeds is not None:
                feeds["@" + layer.name] = arrays
        site = Site(layer, [values[name] for name in layer.inputs], in_shapes, shapes[layer.name], arrays)
        values[layer.name] = fn(g, site)
    h, w, c = network.input_shape
    names = list(network.outputs)
    if exposed:
        names += [layer.name for layer in network.layers if layer.name not in network.outputs]
    return proto.model(
        name=network.name,
        nodes=g.nodes,
        inputs=[proto.value_info(INPUT, [batch, c, h, w]), *g.inputs],
        outputs=[proto.value_info(values[name], onnx_shape(shapes[name], batch)) for name in names],
        initializers=g.initializers,
        opset=g.opset,
        producer="netcalc",
        doc=network.name,
    )


def onnx_shape(shape: Shape, batch: Any = "N") -> list[Any]:
    """H×W×C → [N, C, H, W]; F → [N, F]."""
    return [batch, shape[2], shape[0], shape[1]] if len(shape) == 3 else [batch, *shape]


def save(model: Any, path: str | Path) -> None:
    onnx = require("onnx", "exporting to ONNX")
    try:
        onnx.save(model, str(path))
    except OSError as error:
        raise ExportError(f"{path}: cannot write: {error.strerror or error}") from None
    except ValueError as error:  # a model over protobuf's 2 GB limit
        raise ExportError(f"{path}: {error}") from None


# --- one function per kind ---


def _pair(value: Any) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def _onnx_pads(padding: Any) -> list[int]:
    """netcalc (Ph, Pw) or (top, bottom, left, right) → ONNX [top, left, bottom, right]."""
    if len(padding) == 4:
        top, bottom, left, right = padding
        return [top, left, bottom, right]
    return [padding[0], padding[1], padding[0], padding[1]]


ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "relu": ("Relu", {}),
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.01}),
    "hardswish": ("HardSwish", {}),
    "hardsigmoid": ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}),
    "elu": ("Elu", {"alpha": 1.0}),
}


def _activation(g: Graph, op: str, x: str, name: str, output: str | None = None, doc: str = "", **attrs: Any):
    """One activation node (a few for silu and gelu); relu6 is a Clip to [0, 6], silu a Sigmoid and a Mul, gelu
    (attribute `approximate`) the erf form or a Gelu (opset 20). prelu is not here: it needs its slopes
    (`_prelu_node`)."""
    if op == "gelu":
        return _gelu_nodes(g, x, name, attrs.get("approximate", "none"), output, doc)
    if op == "relu6":
        low, high = g.floats(f"{name}.min", 0.0), g.floats(f"{name}.max", 6.0)
        return g.node("Clip", [x, low, high], name, output, doc)
    if op == "silu":
        gate = g.node("Sigmoid", [x], f"{name}/sigmoid")
        return g.node("Mul", [x, gate], name, output, doc)
    onnx_op, defaults = ACTIVATIONS[op]
    return g.node(onnx_op, [x], name, output, doc, **(defaults | attrs))


def _fused(g: Graph, site: Site, pre: str) -> str:
    """The layer's fused activation, if any, as a node `<layer>/fused` writing the layer's output (gelu's erf
    form: nodes `<layer>/fused/…` before it). A fused prelu's slopes, one per output channel or feature, are the
    layer's array `slope`, the very ones the reference pass reads; a fused gelu is the exact (erf) one."""
    activation = site.attrs.get("activation", "none")
    if activation == "none":
        return pre
    name, doc = site.name + FUSED, HINT + "fused activation"
    if activation == "prelu":
        return _prelu_node(g, site, pre, name, output=site.name, doc=doc)
    return _activation(g, activation, pre, name, output=site.name, doc=doc)


def _pre(site: Site) -> str:
    return site.name + "/pre" if site.attrs.get("activation", "none") != "none" else site.name


def _convolution(g: Graph, site: Site, op: str, **extra: Any) -> str:
    """Conv or ConvTranspose with its weight, optional bias and fused activation; `extra` ONNX attributes."""
    a = site.attrs
    inputs = [site.inputs[0], site.param(g, "weight")] + ([site.param(g, "bias")] if a["bias"] else [])
    out = g.node(
        op,
        inputs,
        site.name,
        _pre(site),
        kernel_shape=_pair(a["kernel"]),
        strides=_pair(a["stride"]),
        pads=_onnx_pads(_pair(a["padding"])),
        dilations=_pair(a["dilation"]),
        group=a["groups"],
        **extra,
    )
    return _fused(g, site, out)


@exporter("conv")
def _conv(g: Graph, site: Site) -> str:
    return _convolution(g, site, "Conv")


@exporter("conv_transpose")
def _conv_transpose(g: Graph, site: Site) -> str:
    return _convolution(g, site, "ConvTranspose", output_padding=_pair(site.attrs["output_padding"]))


@exporter("fc")
def _fc(g: Graph, site: Site) -> str:
    inputs = [site.inputs[0], site.param(g, "weight")] + ([site.param(g, "bias")] if site.attrs["bias"] else [])
    return _fused(g, site, g.node("Gemm", inputs, site.name, _pre(site), transB=1))


def _window(site: Site) -> dict[str, Any]:
    a = site.attrs
    return {
        "kernel_shape": _pair(a["kernel"]),
        "strides": _pair(a["stride"]),
        "pads": _onnx_pads(a["padding"]),
        "ceil_mode": int(a["ceil_mode"]),
    }


@exporter("maxpool")
def _maxpool(g: Graph, site: Site) -> str:
    return g.node("MaxPool", site.inputs, site.name, **_ceil_as_padding(site, _window(site)))


def _ceil_as_padding(site: Site, window: dict[str, Any]) -> dict[str, Any]:
    """A max pool's ceil_mode written as the padding it amounts to at the end of each axis (padding never wins a
    max): ONNX's shape inference and ONNX Runtime's kernel disagree on some ceil_mode sizes (9 rows, kernel 4,
    padding 2: 4 against 3), while floor mode over the padded extent is one rule for all. Kept as ceil_mode
    when the padding would reach a kernel's size, which ONNX refuses."""
    if not window["ceil_mode"]:
        return window
    pads = list(window["pads"])
    for axis, (size, out) in enumerate(zip(site.in_shapes[0][:2], site.out_shape[:2])):
        kernel, stride = window["kernel_shape"][axis], window["strides"][axis]
        extra = max(0, (out - 1) * stride + kernel - (size + pads[axis] + pads[axis + 2]))
        padded = size + pads[axis] + pads[axis + 2] + extra
        if pads[axis + 2] + extra >= kernel or (padded - kernel) // stride + 1 != out:
            return window
        pads[axis + 2] += extra
    return {**window, "pads": pads, "ceil_mode": 0}


@exporter("avgpool")
def _avgpool(g: Graph, site: Site) -> str:
    return g.node(
        "AveragePool", site.inputs, site.name, count_include_pad=int(site.attrs["count_include_pad"]), **_window(site)
    )


@exporter("adaptive_avgpool")
def _adaptive_avgpool(g: Graph, site: Site) -> str:
    (h, w, _), (oh, ow) = site.in_shapes[0], _pair(site.attrs["output"])
    doc = hint("adaptive_avgpool")
    if (oh, ow) == (1, 1):
        return g.node("GlobalAveragePool", site.inputs, site.name, doc=doc)
    if oh % h == 0 and ow % w == 0:  # every bin is one input pixel: a nearest-neighbour upsampling
        scales = g.floats(f"{site.name}.scales", [1.0, 1.0, oh // h, ow // w])
        options = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
        return g.node("Resize", [site.inputs[0], "", scales], site.name, doc=doc, **options)
    if h % oh or w % ow:  # uneven bins: y = A_h · x · A_wᵀ per channel, A averaging each bin
        rows = g.node(
            "MatMul", [g.floats(f"{site.name}.rows", _bin_matrix(h, oh)), site.inputs[0]], f"{site.name}/rows"
        )
        return g.node("MatMul", [rows, g.floats(f"{site.name}.cols", _bin_matrix(w, ow).T)], site.name, doc=doc)
    kernel = [h // oh, w // ow]
    return g.node("AveragePool", site.inputs, site.name, doc=doc, kernel_shape=kernel, strides=kernel)


def _bin_matrix(size: int, out: int) -> Any:
    """(out, size): row i averages adaptive bin i of an axis of `size` (PyTorch's bins)."""
    from netcalc.kinds.window import adaptive_bins

    matrix = np.zeros((out, size), dtype=np.float32)
    for i, (start, end) in enumerate(adaptive_bins(size, out)):
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@exporter("global_avgpool")
def _global_avgpool(g: Graph, site: Site) -> str:
    return g.node("GlobalAveragePool", site.inputs, site.name)


@exporter("global_maxpool")
def _global_maxpool(g: Graph, site: Site) -> str:
    return g.node("GlobalMaxPool", site.inputs, site.name)


@exporter("flatten")
def _flatten(g: Graph, site: Site) -> str:
    return g.node("Flatten", site.inputs, site.name, axis=1)


@exporter("concat")
def _concat(g: Graph, site: Site) -> str:
    return g.node("Concat", site.inputs, site.name, axis=1)


@exporter("add")
def _add(g: Graph, site: Site) -> str:
    return g.node("Add" if len(site.inputs) == 2 else "Sum", site.inputs, site.name)


@exporter("batchnorm")
def _batchnorm(g: Graph, site: Site) -> str:
    names = [site.param(g, key) for key in ("gamma", "beta", "running_mean", "running_var")]
    a = site.attrs
    return g.node(
        "BatchNormalization", [site.inputs[0], *names], site.name, epsilon=a["eps"], momentum=1 - a["momentum"]
    )


@exporter("lrn")
def _lrn(g: Graph, site: Site) -> str:
    """ONNX's LRN sums channels c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉, PyTorch's (and netcalc's) c − ⌊size/2⌋ …
    c + ⌊(size−1)/2⌋: the same window for an odd size, mirrored for an even one (and ONNX Runtime refuses an
    even size), so an even size is refused here, at the layer."""
    a = site.attrs
    if a["size"] % 2 == 0:
        raise ExportError(
            f"ONNX's LRN cannot express an even size ({a['size']}): its window of channels is PyTorch's mirrored "
            "(ONNX Runtime refuses even sizes); use an odd size",
            site.layer.where(),
        )
    return g.node("LRN", site.inputs, site.name, size=a["size"], alpha=a["alpha"], beta=a["beta"], bias=a["k"])


@exporter("relu", "relu6", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu")
def _plain_activation(g: Graph, site: Site) -> str:
    return _activation(g, site.layer.kind, site.inputs[0], site.name)


@exporter("leaky_relu")
def _leaky_relu(g: Graph, site: Site) -> str:
    return _activation(g, "leaky_relu", site.inputs[0], site.name, alpha=site.attrs["negative_slope"])


@exporter("elu")
def _elu(g: Graph, site: Site) -> str:
    return _activation(g, "elu", site.inputs[0], site.name, alpha=site.attrs["alpha"])


@exporter("dropout")
def _dropout(g: Graph, site: Site) -> str:
    return g.node("Dropout", [site.inputs[0], g.floats(f"{site.name}.ratio", site.attrs["p"])], site.name)


@exporter("softmax")
def _softmax(g: Graph, site: Site) -> str:
    return g.node("Softmax", site.inputs, site.name, axis=1)


def hint(kind: str, **attrs: Any) -> str:
    """A node's doc_string naming the netcalc kind it stands for, with the attributes ONNX has no place for."""
    import json

    return HINT + json.dumps({"kind": kind, **attrs}, separators=(",", ":"))


@exporter("identity", "stochastic_depth")
def _identity(g: Graph, site: Site) -> str:
    attrs = {k: v for k, v in site.attrs.items() if k in ("p", "mode")}
    return g.node("Identity", site.inputs, site.name, doc=hint(site.layer.kind, **attrs))


@exporter("gelu")
def _gelu(g: Graph, site: Site) -> str:
    return _gelu_nodes(g, site.inputs[0], site.name, site.attrs["approximate"])


def _gelu_nodes(g: Graph, x: str, name: str, approximate: str, output: str | None = None, doc: str = "") -> str:
    """GELU's erf form, 0.5·x·(1 + erf(x/√2)) (opset 17 has no Gelu), its steps named `<name>/…` and the last
    one `name`; the tanh form as Gelu (opset 20)."""
    if approximate == "tanh":
        g.need_opset(20)
        return g.node("Gelu", [x], name, output, doc, approximate="tanh")
    scaled = g.node("Div", [x, g.floats(f"{name}.sqrt2", np.sqrt(np.float32(2)))], f"{name}/div")
    erf = g.node("Erf", [scaled], f"{name}/erf")
    shifted = g.node("Add", [erf, g.floats(f"{name}.one", 1.0)], f"{name}/add")
    product = g.node("Mul", [x, shifted], f"{name}/mul")
    return g.node("Mul", [product, g.floats(f"{name}.half", 0.5)], name, output, doc)


@exporter("prelu")
def _prelu(g: Graph, site: Site) -> str:
    return _prelu_node(g, site, site.inputs[0], site.name)


def _prelu_node(g: Graph, site: Site, x: str, name: str, output: str | None = None, doc: str = "") -> str:
    """A PRelu of `x` (the layer's output shape) with the layer's slopes `slope`: one per channel, shaped
    (C, 1, 1) to broadcast over H×W, or one per feature of a flat vector, or one shared."""
    (n,) = _shape_of(site.arrays["slope"])
    per_channel = len(site.out_shape) == 3 and n > 1
    return g.node("PRelu", [x, site.param(g, "slope", (n, 1, 1) if per_channel else None)], name, output, doc)


@exporter("multiply")
def _multiply(g: Graph, site: Site) -> str:
    if len(site.inputs) != 2 or any(len(s) != len(site.in_shapes[0]) for s in site.in_shapes):
        raise ExportError(f"layer '{site.name}': ONNX export of multiply takes two inputs of equal rank")
    return g.node("Mul", site.inputs, site.name)


@exporter("scale")
def _scale(g: Graph, site: Site) -> str:
    (c,) = _shape_of(site.arrays["gamma"])
    gamma = site.param(g, "gamma", (c, 1, 1) if len(site.in_shapes[0]) == 3 else None)
    return g.node("Mul", [site.inputs[0], gamma], site.name)


def _shape_of(value: Any) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else tuple(value.shape)


def _affine(g: Graph, site: Site) -> list[str]:
    """γ and β of a normalisation; ones and zeros when it has none (`affine: false`)."""
    if "gamma" in site.arrays:
        return [site.param(g, "gamma"), site.param(g, "beta")]
    c = site.in_shapes[0][-1]
    return [g.floats(f"{site.name}.gamma", np.ones(c)), g.floats(f"{site.name}.beta", np.zeros(c))]


@exporter("instancenorm")
def _instancenorm(g: Graph, site: Site) -> str:
    doc = "" if site.attrs["affine"] else hint("instancenorm", affine=False)
    return g.node(
        "InstanceNormalization", [site.inputs[0], *_affine(g, site)], site.name, doc=doc, epsilon=site.attrs["eps"]
    )


@exporter("groupnorm")
def _groupnorm(g: Graph, site: Site) -> str:
    g.need_opset(21)  # scale and bias per channel
    doc = "" if site.attrs["affine"] else hint("groupnorm", affine=False)
    a = site.attrs
    inputs = [site.inputs[0], *_affine(g, site)]
    return g.node("GroupNormalization", inputs, site.name, doc=doc, epsilon=a["eps"], num_groups=a["groups"])


@exporter("layernorm")
def _layernorm(g: Graph, site: Site) -> str:
    """Over the features of a flat vector; over the channels at each pixel as ConvNeXt's LayerNorm2d does:
    permute to N×H×W×C, normalise the last axis, permute back."""
    doc = "" if site.attrs["affine"] else hint("layernorm", affine=False)
    eps, name = site.attrs["eps"], site.name
    if len(site.in_shapes[0]) == 1:
        return g.node("LayerNormalization", [site.inputs[0], *_affine(g, site)], name, doc=doc, axis=-1, epsilon=eps)
    nhwc = g.node("Transpose", [site.inputs[0]], f"{name}/to_nhwc", perm=[0, 2, 3, 1])
    normed = g.node(
        "LayerNormalization", [nhwc, *_affine(g, site)], name, f"{name}/nhwc", doc=doc, axis=-1, epsilon=eps
    )
    return g.node("Transpose", [normed], f"{name}/to_nchw", name, perm=[0, 3, 1, 2])


@exporter("channel_slice")
def _channel_slice(g: Graph, site: Site) -> str:
    a, name = site.attrs, site.name
    starts, ends, axes = (
        g.ints(f"{name}.{k}", [v]) for k, v in (("starts", a["start"]), ("ends", a["end"]), ("axes", 1))
    )
    return g.node("Slice", [site.inputs[0], starts, ends, axes], name)


@exporter("channel_shuffle")
def _channel_shuffle(g: Graph, site: Site) -> str:
    h, w, c = site.in_shapes[0]
    groups, name = site.attrs["groups"], site.name
    split = g.node(
        "Reshape", [site.inputs[0], g.ints(f"{name}.split", [0, groups, c // groups, h, w])], f"{name}/split"
    )
    swapped = g.node("Transpose", [split], f"{name}/transpose", perm=[0, 2, 1, 3, 4])
    return g.node("Reshape", [swapped, g.ints(f"{name}.shape", [0, c, h, w])], name)


@exporter("channel_pad")
def _channel_pad(g: Graph, site: Site) -> str:
    a = site.attrs
    pads = g.ints(f"{site.name}.pads", [0, a["before"], 0, 0, 0, a["after"], 0, 0])
    return g.node("Pad", [site.inputs[0], pads], site.name, mode="constant")


@exporter("pad")
def _pad(g: Graph, site: Site) -> str:
    a, name = site.attrs, site.name
    top, bottom, left, right = _four(a["padding"])
    inputs = [site.inputs[0], g.ints(f"{name}.pads", [0, 0, top, left, 0, 0, bottom, right])]
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}[a["mode"]]
    if mode == "constant" and a["value"]:
        inputs.append(g.floats(f"{name}.value", a["value"]))
    return g.node("Pad", inputs, name, mode=mode)


def _four(padding: Any) -> tuple[int, int, int, int]:
    """P, (Ph, Pw) or (top, bottom, left, right) as (top, bottom, left, right)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    return tuple(padding)  # type: ignore[return-value]


@exporter("subsample")
def _subsample(g: Graph, site: Site) -> str:
    (sh, sw), name = _pair(site.attrs["stride"]), site.name
    inputs = [site.inputs[0], g.ints(f"{name}.starts", [0, 0]), g.ints(f"{name}.ends", [2**62, 2**62])]
    inputs += [g.ints(f"{name}.axes", [2, 3]), g.ints(f"{name}.steps", [sh, sw])]
    return g.node("Slice", inputs, name)


@exporter("upsample")
def _upsample(g: Graph, site: Site) -> str:
    """Resize as PyTorch's F.interpolate: nearest reads ⌊i·in/out⌋, bilinear half-pixel or align_corners."""
    a, name = site.attrs, site.name
    h, w, c = site.out_shape
    if a["mode"] == "nearest":
        options = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    else:
        transform = "align_corners" if a["align_corners"] else "pytorch_half_pixel"
        options = {"mode": "linear", "coordinate_transformation_mode": transform}
    doc = hint("upsample", ref=site.layer.inputs[1]) if len(site.inputs) > 1 else ""
    if a["scale"] is not None:
        sh, sw = _pair(a["scale"])
        inputs = [site.inputs[0], "", g.floats(f"{name}.scales", [1.0, 1.0, sh, sw])]
    else:
        if not isinstance(g.batch, int):
            raise ExportError(f"layer '{name}': an upsample to a fixed size needs a fixed batch")
        inputs = [site.inputs[0], "", "", g.ints(f"{name}.sizes", [g.batch, c, h, w])]
    return g.node("Resize", inputs, name, doc=doc, **options)


@exporter("crop")
def _crop(g: Graph, site: Site) -> str:
    """A Slice of rows and columns; a crop to a second input's size names that input in the doc_string."""
    from netcalc.kinds.spatial import crop_box

    top, left, height, width = crop_box(site.attrs, site.in_shapes)
    name = site.name
    doc = ""  # a crop by `size` (centred or at `offset`) is the Slice alone
    if len(site.layer.inputs) > 1:
        attrs = {k: v for k, v in site.attrs.items() if v is not None}
        doc = hint("crop", ref=site.layer.inputs[1], **attrs)
    inputs = [
        site.inputs[0],
        g.ints(f"{name}.starts", [top, left]),
        g.ints(f"{name}.ends", [top + height, left + width]),
    ]
    return g.node("Slice", [*inputs, g.ints(f"{name}.axes", [2, 3])], name, doc=doc)


@exporter("pixel_shuffle")
def _pixel_shuffle(g: Graph, site: Site) -> str:
    return g.node("DepthToSpace", site.inputs, site.name, blocksize=site.attrs["factor"], mode="CRD")


@exporter("pixel_unshuffle")
def _pixel_unshuffle(g: Graph, site: Site) -> str:
    """PyTorch's channel order, c·r² + i·r + j, as PyTorch exports it: Reshape to N×C×H/r×r×W/r×r, Transpose
    (0, 1, 3, 5, 2, 4), Reshape to N×C·r²×H/r×W/r. (ONNX's SpaceToDepth puts the offset outermost.)"""
    h, w, c = site.in_shapes[0]
    r, name = site.attrs["factor"], site.name
    split = g.node(
        "Reshape", [site.inputs[0], g.ints(f"{name}.split", [0, c, h // r, r, w // r, r])], f"{name}/split"
    )
    swapped = g.node("Transpose", [split], f"{name}/transpose", perm=[0, 1, 3, 5, 2, 4])
    return g.node("Reshape", [swapped, g.ints(f"{name}.shape", [0, c * r * r, h // r, w // r])], name)
