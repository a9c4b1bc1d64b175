"""Export a Network as an ONNX model: one function per netcalc kind (`registry.exporter`), inference mode.

Every layer becomes one node named after the layer (a fused activation a second node, `<layer>/fused`), its
output value named after the layer, so Netron shows the spec's names and `netcalc import` gives the spec back.
Where ONNX has no node of the kind's own name the node's doc_string says which kind it is
(`netcalc: adaptive_avgpool`), so the importer restores the kind. Weights are the reference pass's seeded
arrays (`netcalc.reference.engine.init_layer_params`, float32) or zeros. The batch is 1 unless asked otherwise
(`--batch N`, or a name for a symbolic batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netcalc.bridges import require
from netcalc.bridges.onnx.registry import EXPORTERS, exporter
from netcalc.errors import NetcalcError
from netcalc.kinds import REGISTRY
from netcalc.lazy_numpy import np
from netcalc.network import INPUT, Layer, Network
from netcalc.shapes import Shape

HINT = "netcalc: "  # a node's doc_string naming the netcalc kind (or role) it stands for
FUSED = "/fused"  # suffix of the node name of a fused activation


class ExportError(NetcalcError):
    """A layer ONNX cannot express (exit code 2)."""


@dataclass
class Graph:
    """The nodes and initializers being built; helpers give each its name."""

    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)

    def init(self, name: str, array: Any) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def ints(self, name: str, values: list[int]) -> str:
        return self.init(name, np.array(values, dtype=np.int64))

    def floats(self, name: str, values: Any) -> str:
        return self.init(name, np.array(values, dtype=np.float32))

    def node(self, op: str, inputs: list[str], name: str, output: str | None = None, doc: str = "", **attrs: Any):
        from onnx import helper

        output = output or name
        node = helper.make_node(op, inputs, [output], name=name, doc_string=doc, **attrs)
        self.nodes.append(node)
        return output


@dataclass(frozen=True)
class Site:
    """What an exporter function is given for one layer."""

    layer: Layer
    inputs: list[str]  # ONNX value names of its inputs
    in_shapes: tuple[Shape, ...]  # analysis convention, H×W×C or F
    out_shape: Shape
    arrays: dict[str, Any]  # its weights and buffers by the kind's names, float32

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def attrs(self) -> Any:
        return self.layer.attrs

    def param(self, g: Graph, key: str) -> str:
        return g.init(f"{self.name}.{key}", self.arrays[key].astype(np.float32))


def export_network(
    network: Network, *, weights: str = "seeded", seed: int = 0, opset: int = 17, batch: int | str = 1
) -> Any:
    """The ONNX ModelProto of `network` (onnx.checker passes), with seeded or zero weights, for inputs of
    `batch` samples (a number, or a name for a symbolic batch dimension)."""
    onnx = require("onnx", "exporting to ONNX")
    from onnx import TensorProto, helper

    from netcalc.analysis.analyze import analyze_network
    from netcalc.reference.engine import init_layer_params

    report = analyze_network(network)
    shapes: dict[str, Shape] = {INPUT: network.input_shape}
    shapes.update((row.name, row.output_shape) for row in report.layers)
    g = Graph()
    values: dict[str, str] = {INPUT: INPUT}
    for index, layer in enumerate(network.layers):
        fn = EXPORTERS.get(layer.kind)
        if fn is None:
            raise ExportError(f"layer '{layer.name}': ONNX export of kind {layer.kind} is not supported yet")
        in_shapes = tuple(shapes[name] for name in layer.inputs)
        if weights == "zeros":
            kind = REGISTRY[layer.kind]
            named = kind.weights(layer.attrs, in_shapes) | kind.buffers(layer.attrs, in_shapes)
            arrays = {k: np.zeros(shape, dtype=np.float32) for k, shape in named.items()}
        else:
            arrays = init_layer_params(layer, index, in_shapes, seed, "float32")
        site = Site(layer, [values[name] for name in layer.inputs], in_shapes, shapes[layer.name], arrays)
        values[layer.name] = fn(g, site)
    h, w, c = network.input_shape
    output_shape = onnx_shape(shapes[network.output], batch)
    graph = helper.make_graph(
        g.nodes,
        network.name,
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [batch, c, h, w])],
        [helper.make_tensor_value_info(values[network.output], TensorProto.FLOAT, output_shape)],
        g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="netcalc", doc_string=network.name
    )
    model.ir_version = min(model.ir_version, 9)  # readable by the onnxruntime releases of the last two years
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # onnx.checker.ValidationError, shape inference errors
        raise ExportError(f"the exported model fails onnx.checker: {error}") from None
    return model


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
    """One activation node; relu6 is a Clip to [0, 6], silu a Sigmoid and a Mul, gelu a Gelu (opset 20) or
    the erf form."""
    if op == "relu6":
        low, high = g.floats(f"{name}.min", 0.0), g.floats(f"{name}.max", 6.0)
        return g.node("Clip", [x, low, high], name, output, doc)
    if op == "silu":
        gate = g.node("Sigmoid", [x], f"{name}/sigmoid")
        return g.node("Mul", [x, gate], name, output, doc)
    onnx_op, defaults = ACTIVATIONS[op]
    return g.node(onnx_op, [x], name, output, doc, **(defaults | attrs))


def _fused(g: Graph, site: Site, pre: str) -> str:
    """The layer's fused activation, if any, as a node `<layer>/fused` writing the layer's output."""
    activation = site.attrs.get("activation", "none")
    if activation == "none":
        return pre
    return _activation(g, activation, pre, site.name + FUSED, output=site.name, doc=HINT + "fused activation")


def _pre(site: Site) -> str:
    return site.name + "/pre" if site.attrs.get("activation", "none") != "none" else site.name


@exporter("conv")
def _conv(g: Graph, site: Site) -> str:
    a = site.attrs
    inputs = [site.inputs[0], site.param(g, "weight")] + ([site.param(g, "bias")] if a["bias"] else [])
    out = g.node(
        "Conv",
        inputs,
        site.name,
        _pre(site),
        kernel_shape=_pair(a["kernel"]),
        strides=_pair(a["stride"]),
        pads=_onnx_pads(_pair(a["padding"])),
        dilations=_pair(a["dilation"]),
        group=a["groups"],
    )
    return _fused(g, site, out)


@exporter("conv_transpose")
def _conv_transpose(g: Graph, site: Site) -> str:
    a = site.attrs
    inputs = [site.inputs[0], site.param(g, "weight")] + ([site.param(g, "bias")] if a["bias"] else [])
    out = g.node(
        "ConvTranspose",
        inputs,
        site.name,
        _pre(site),
        kernel_shape=_pair(a["kernel"]),
        strides=_pair(a["stride"]),
        pads=_onnx_pads(_pair(a["padding"])),
        output_padding=_pair(a["output_padding"]),
        dilations=_pair(a["dilation"]),
        group=a["groups"],
    )
    return _fused(g, site, out)


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
    return g.node("MaxPool", site.inputs, site.name, **_window(site))


@exporter("avgpool")
def _avgpool(g: Graph, site: Site) -> str:
    return g.node(
        "AveragePool", site.inputs, site.name, count_include_pad=int(site.attrs["count_include_pad"]), **_window(site)
    )


@exporter("adaptive_avgpool")
def _adaptive_avgpool(g: Graph, site: Site) -> str:
    (h, w, _), (oh, ow) = site.in_shapes[0], _pair(site.attrs["output"])
    doc = HINT + "adaptive_avgpool"
    if (oh, ow) == (1, 1):
        return g.node("GlobalAveragePool", site.inputs, site.name, doc=doc)
    if h % oh or w % ow:
        raise ExportError(
            f"layer '{site.name}': adaptive average pooling of {h}×{w} to {oh}×{ow} has uneven bins, which no ONNX "
            "operator expresses"
        )
    kernel = [h // oh, w // ow]
    return g.node("AveragePool", site.inputs, site.name, doc=doc, kernel_shape=kernel, strides=kernel)


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
    a = site.attrs
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
