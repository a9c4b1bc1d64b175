"""Import an ONNX model as a netcalc spec: one layer per node netcalc models, named after the node.

The product is spec data in netcalc's language (the mapping `netcalc.language.spec.parse_network` reads), so
every command works on an imported model unchanged. The walk:

1. the file read and checked, weights kept as dims, the input's symbolic dimensions bound (`--input`,
   `--batch`) and every shape inferred (`netcalc.bridges.onnx.modelfile`);
2. every node in graph order: constants and shape plumbing (Constant, Shape, Gather, Unsqueeze, Concat of
   constants, …) are evaluated with NumPy and vanish; every other node goes to the converter registered for its
   (domain, op type, since_version) (`registry.converter`), which emits layers or continues a pattern
   (x·sigmoid(x) → silu, reshape–transpose–reshape → channel_shuffle, transpose–LayerNorm–transpose →
   layernorm, the erf form of GELU → gelu, MatMul + Add → fc with bias);
3. names: a TorchScript export names nodes by module scope (`/layer1/layer1.0/conv1/Conv`); a layer gets its
   module's path (`layer1.0.conv1`), or path + op (`layer1.0.add`) when its module holds more than one layer
   or has submodules. Other names are kept, made unique.

An operator with no converter is an `UnsupportedOperator` naming the node, its op type and its position, or
with `allow_unknown` a layer of kind `unknown` whose figures are marked partial.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from netcalc.bridges import require
from netcalc.bridges.onnx.modelfile import (
    LARGE,
    MAX_MODEL_BYTES,
    OnnxImportError,
    UnsupportedOperator,
    bind_input,
    check_single_assignment,
    check_size,
    default_opset,
    graph_tensors,
    infer_shapes,
    op_name,
    strict_reason,
    weights_to_shapes,
)
from netcalc.bridges.onnx.registry import converter, find_converter, since_version
from netcalc.errors import AttrError, NetcalcError, SpecError, excerpt
from netcalc.files import regular_file
from netcalc.kinds import REGISTRY
from netcalc.lazy_numpy import np
from netcalc.network import INPUT, Group, Network
from netcalc.shapes import Shape, format_shape

# --- values flowing through the graph ---


@dataclass(frozen=True)
class Tensor:
    """A tensor computed from the network input: a netcalc layer's output (or the input itself)."""

    layer: str  # layer id, or INPUT
    shape: tuple[int, ...]  # ONNX (N, C, H, W) or (N, F), batch 1; (N, H, W, C) when channels last
    layout: str = "nchw"  # "nhwc" between the permutes of a channels-last region (ConvNeXt's blocks)

    @property
    def channels(self) -> int:
        return self.shape[-1] if self.layout == "nhwc" else self.shape[1]


@dataclass(frozen=True)
class Const:
    """A constant: an initializer, a Constant node or folded plumbing. `value` is None when its data was
    stripped (the importer needs only the shape of a weight)."""

    shape: tuple[int, ...]
    value: Any = None


@dataclass(frozen=True)
class Pending:
    """A multi-node pattern under way (e.g. the reshape of a channel shuffle, waiting for its transpose)."""

    pattern: str
    source: Tensor
    shape: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)


Value = Tensor | Const | Pending


@dataclass
class _Layer:
    id: str
    kind: str
    inputs: list[str]
    attrs: dict[str, Any]
    scope: str  # module path, "" at top level
    op: str  # last component of the node name, e.g. "Conv", "Relu_1"


# --- node names → layer names ---


def _scope_and_op(node_name: str, index: int, op_type: str) -> tuple[str, str]:
    """`/layer1/layer1.0/conv1/Conv` → ("layer1.0.conv1", "Conv"); other names are kept as the scope."""
    if not node_name:
        return "", f"{op_type}_{index}"
    if not node_name.startswith("/"):
        return _clean(node_name), ""
    parts = [p for p in node_name.split("/") if p]
    if not parts:
        return "", f"{op_type}_{index}"
    op, modules = parts[-1], parts[:-1]
    path: list[str] = []
    previous = ""
    for part in modules:
        # TorchScript repeats the parent's path in a Sequential child: features / features.1 / conv / conv.0
        local = part[len(previous) + 1 :] if previous and part.startswith(previous + ".") else part
        path.append(local)
        previous = part
    return _clean(".".join(path)), _clean(op)


# Braces start a name template in netcalc's language ("features.{index + 2}"); a node's `relu{1}` becomes
# `relu(1)` (made unique like any name, so a node called `relu(1)` too gets `relu(1)_2`). Control characters,
# which names may not hold, become `_` as spaces do (docs/onnx.md).
_BRACES = str.maketrans("{}", "()")


def _clean(name: str) -> str:
    name = "".join(c if c.isprintable() else " " for c in name).translate(_BRACES)
    name = re.sub(r"\s+", "_", name.strip()).strip(".")
    return "node" if name == INPUT else name


def _final_names(layers: list[_Layer]) -> dict[str, str]:
    """Layer id → its name: the module path when the module holds just this layer, else path + op."""
    per_scope = Counter(layer.scope for layer in layers)
    scopes = set(per_scope)
    parents = {s.rsplit(".", i)[0] for s in scopes for i in range(1, s.count(".") + 1)}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for layer in layers:
        if layer.scope and per_scope[layer.scope] == 1 and layer.scope not in parents:
            name = layer.scope
        else:
            op = layer.op.lower() or layer.kind
            name = f"{layer.scope}.{op}" if layer.scope else op
        base, n = name, 1
        while name in taken or name == INPUT:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[layer.id] = name
    return names


# --- the importer ---


@dataclass
class OnnxModel:
    """A loaded model with its input bound and shapes inferred."""

    onnx_model: Any
    path: str
    opset: int
    input_name: str
    input_shape: tuple[int, ...]  # (N, C, H, W) with N = 1
    shapes: dict[str, tuple[int, ...]]


PLUMBING_PASSES = 64


def read_model(path: str | Path, *, input_shape: Shape | None = None, batch: int | None = None) -> OnnxModel:
    """Load `path`, bind the input's symbolic dimensions and infer every value's shape."""
    onnx = require("onnx", "reading an ONNX model")
    from google.protobuf.message import DecodeError

    path = str(path)
    regular_file(path, MAX_MODEL_BYTES, "an ONNX model")  # /dev/zero would be read without end
    try:
        model = onnx.load(path, load_external_data=False)  # external weights: checked, never read whole
    except FileNotFoundError:
        raise OnnxImportError(f"{path}: no such file") from None
    except (DecodeError, RuntimeError, ValueError, UnicodeDecodeError, onnx.checker.ValidationError) as error:
        raise OnnxImportError(f"{path}: not a readable ONNX model ({type(error).__name__}: {error})") from None
    except OSError as error:
        raise OnnxImportError(f"{path}: cannot read: {error.strerror or error}") from None
    graph = model.graph
    if not graph.node or not graph.output:
        raise OnnxImportError(f"{path}: not an ONNX model (no graph nodes or no graph outputs)")
    check_size(path, len(graph.node))
    opset = default_opset(onnx, path, model)
    for tensor in graph_tensors(graph):
        weights_to_shapes(path, tensor)
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise OnnxImportError(f"{path}: netcalc models networks of one input; this graph has: {names}")
    check_single_assignment(path, graph, {i.name for i in graph.input} | initializers)
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise OnnxImportError(
            f"{path}: input '{inputs[0].name}' has {len(dims)} dimensions; netcalc needs an image batch N×C×H×W"
        )
    bound = bind_input(path, inputs[0].name, dims, input_shape, batch)
    for dim, value in zip(dims, bound):
        dim.Clear()
        dim.dim_value = value
    shapes = infer_shapes(onnx, model, path)
    # sizes computed from shapes (torch's chunk, a shuffle's reshape) become constants; each pass settles at least
    # the next link of a chain of them (ShuffleNetV2 with dynamic H, W has 16), within a bound
    for _ in range(PLUMBING_PASSES):
        try:
            changed = _materialize_constants(model, shapes, inputs[0].name, tuple(bound))
        except NetcalcError:
            raise
        except Exception as error:  # a bug of ours or a model no one foresaw: one line, not a traceback
            raise OnnxImportError(
                f"{path}: folding the shape plumbing failed: {type(error).__name__}: {error}"
            ) from None
        if not changed:
            break
        shapes = infer_shapes(onnx, model, path)
    return OnnxModel(model, path, opset, inputs[0].name, tuple(bound), shapes)


def _materialize_constants(model: Any, shapes: dict[str, tuple[int, ...]], input_name: str, bound: Any) -> bool:
    """Where shape inference lost track (a size computed through Shape, Gather and Div), fold the plumbing
    with NumPy and feed its results to the nodes that read them as initializers; True if any was."""
    from onnx import numpy_helper

    graph = model.graph
    if all(o in shapes for node in graph.node for o in node.output if o):
        return False
    imp = _Importer(OnnxModel(model, "", 0, input_name, bound, shapes), allow_unknown=False)
    folded: dict[str, Any] = {}
    evaluated: set[int] = set()
    for imp.index, imp.node in enumerate(graph.node):
        node = imp.node
        try:
            if node.domain in ("", "ai.onnx") and _fold_constant(imp, node):
                evaluated.add(imp.index)
                for name in node.output:
                    value = imp.values.get(name)
                    if isinstance(value, Const) and value.value is not None:
                        folded[name] = value.value
                continue
        except UnsupportedOperator:
            pass
        for name in node.output:  # what the importer will compute: a tensor of the inferred shape, if known
            if name in shapes:
                imp.values[name] = Tensor(name, shapes[name])
        source = imp.values.get(node.input[0]) if node.input else None
        if node.output[0] not in shapes and isinstance(source, Tensor):  # shapes inference lost, recomputed
            if node.op_type == "Reshape" and node.input[1] in folded:
                dims = [int(d) for d in folded[node.input[1]]]
                dims = [source.shape[i] if d == 0 else d for i, d in enumerate(dims)]
                if -1 in dims:
                    known = math.prod(d for d in dims if d != -1)
                    dims[dims.index(-1)] = math.prod(source.shape) // max(1, known)
                imp.values[node.output[0]] = Tensor(node.output[0], tuple(dims))
            elif node.op_type == "Transpose":
                perm = _attr(node, "perm")
                imp.values[node.output[0]] = Tensor(node.output[0], tuple(source.shape[p] for p in perm))
    changed = False
    for index, node in enumerate(graph.node):
        if index in evaluated:
            continue
        for i, name in enumerate(node.input):
            if name in folded and not name.endswith("/folded"):
                node.input[i] = name + "/folded"
                if not any(t.name == node.input[i] for t in graph.initializer):
                    graph.initializer.append(numpy_helper.from_array(np.asarray(folded[name]), node.input[i]))
                changed = True
    return changed


class _Importer:
    def __init__(self, model: OnnxModel, allow_unknown: bool) -> None:
        self.model = model
        self.allow_unknown = allow_unknown
        self.values: dict[str, Value] = {model.input_name: Tensor(INPUT, model.input_shape)}
        self.layers: list[_Layer] = []
        self.by_id: dict[str, _Layer] = {}
        self.readers: Counter[str] = Counter()  # value name -> number of nodes reading it
        self.node: Any = None
        self.index = 0
        numpy_helper = require("onnx", "reading an ONNX model").numpy_helper
        for tensor in model.onnx_model.graph.initializer:
            self.values[tensor.name] = Const(tuple(tensor.dims), _tensor_data(tensor, numpy_helper))
        # value name -> the operator that makes it (a bias broadcast by Expand holds no weights)
        self.made_by: dict[str, str] = {out: n.op_type for n in model.onnx_model.graph.node for out in n.output}
        for node in model.onnx_model.graph.node:
            # CastLike reads its second input for the element type only, not its values
            inputs = node.input[:1] if node.op_type == "CastLike" else node.input
            for name in inputs:
                self.readers[name] += 1
        for output in model.onnx_model.graph.output:
            self.readers[output.name] += 1

    # -- the walk --

    def run(self) -> None:
        nodes = list(self.model.onnx_model.graph.node)
        for self.index, self.node in enumerate(nodes):
            try:
                self._step(self.node)
            except NetcalcError:
                raise
            except Exception as error:  # a bug of ours or a model no one foresaw: one line naming the node
                raise self.fail(f"importing it failed: {type(error).__name__}: {error}") from None

    def _step(self, node: Any) -> None:
        if node.domain in ("", "ai.onnx") and _fold_constant(self, node):
            return
        convert = find_converter(node.op_type, self._opset(node.domain), node.domain)
        if convert is None:
            self._unknown(f"netcalc has no converter for {op_name(node)} (opset {self._opset(node.domain)})")
            return
        try:
            convert(self, node)
        except UnsupportedOperator as error:
            if not self.allow_unknown:
                raise
            self._unknown(error.reason)  # type: ignore[attr-defined]

    def _opset(self, domain: str) -> int:
        if domain in ("", "ai.onnx"):
            return self.model.opset
        return next((o.version for o in self.model.onnx_model.opset_import if o.domain == domain), 1)

    # -- reading a node's inputs and attributes --

    def fail(self, reason: str) -> UnsupportedOperator:
        node = self.node
        total = len(self.model.onnx_model.graph.node)
        error = UnsupportedOperator(
            f"{self.model.path}: node '{node.name or '(unnamed)'}' ({op_name(node)}, node {self.index + 1} of "
            f"{total}): {reason}"
        )
        error.reason = reason  # type: ignore[attr-defined]
        return error

    def value(self, node: Any, i: int) -> Value | None:
        if i >= len(node.input) or not node.input[i]:
            return None
        try:
            return self.values[node.input[i]]
        except KeyError:
            raise self.fail(f"input '{node.input[i]}' is produced by no node before it") from None

    def tensor(self, node: Any, i: int = 0) -> Tensor:
        value = self.value(node, i)
        if not isinstance(value, Tensor):
            what = "missing" if value is None else "a constant" if isinstance(value, Const) else "a partial pattern"
            raise self.fail(f"input {i} is {what}, not a tensor computed from the network input")
        return value

    def const(self, node: Any, i: int, *, data: bool = False) -> Const | None:
        value = self.value(node, i)
        if value is None:
            return None
        if not isinstance(value, Const):
            raise self.fail(f"input {i} must be a constant (a weight or a fixed setting)")
        if data and value.value is None:
            raise self.fail(f"input {i} ('{node.input[i]}') has no data, and its values are needed")
        return value

    def ints(self, node: Any, name: str, input_index: int | None = None, default: Any = None) -> list[int] | None:
        """An int list given as attribute `name` (older opsets) or as constant input `input_index`."""
        attr = _attr(node, name)
        if attr is not None:
            return [int(v) for v in (attr if isinstance(attr, list) else [attr])]
        if input_index is not None:
            const = self.const(node, input_index, data=True)
            if const is not None:
                return [int(v) for v in np.asarray(const.value).reshape(-1)]
        return default

    def out_shape(self, node: Any, i: int = 0) -> tuple[int, ...]:
        shape = self.model.shapes.get(node.output[i])
        if shape is None:
            reason = strict_reason(self.model.onnx_model, self.model.shapes)
            raise self.fail(
                f"shape inference gave no static shape for its output '{node.output[i]}'"
                + (f": {reason}" if reason else "")
            )
        return shape

    # -- emitting layers --

    def fuse(self, node: Any, activation: str) -> bool:
        """An activation node netcalc's exporter wrote for a fused `activation:` (named `<layer>/fused`), put
        back into its conv, conv_transpose or fc layer; False for any other node."""
        from netcalc.bridges.onnx.exporter import FUSED

        x = self.values.get(node.input[0])
        if not node.name.endswith(FUSED) or not isinstance(x, Tensor) or not self.read_once(node, 0):
            return False
        layer = self.by_id.get(x.layer)
        if layer is None or layer.kind not in ("conv", "conv_transpose", "fc") or layer.attrs.get("activation"):
            return False
        layer.attrs["activation"] = activation
        self.alias(node, x)
        return True

    def hint(self, node: Any) -> dict[str, Any]:
        """The netcalc kind (and attributes) netcalc's exporter wrote in the node's doc_string, else {}."""
        import json

        from netcalc.bridges.onnx.exporter import HINT

        if not node.doc_string.startswith(HINT + "{"):
            return {}
        try:
            data = json.loads(node.doc_string[len(HINT) :])
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def emit(
        self, node: Any, kind: str, inputs: list[Tensor], port: int = 0, shape: Any = None, **attrs: Any
    ) -> Tensor:
        """A layer of `kind` for `node`, whose output number `port` it becomes (in its first input's layout;
        `shape` when shape inference could not know it)."""
        if kind not in REGISTRY:
            raise self.fail(f"it would become a layer of kind '{kind}', which this netcalc does not have")
        shape = tuple(shape) if shape is not None else self.out_shape(node, port)
        layer = self.add_layer(node, kind, [t.layer for t in inputs], attrs)
        result = Tensor(layer.id, shape, inputs[0].layout if inputs else "nchw")
        self.values[node.output[port]] = result
        return result

    def add_layer(self, node: Any, kind: str, inputs: list[str], attrs: dict[str, Any], suffix: str = "") -> _Layer:
        scope, op = _scope_and_op(node.name, self.index, node.op_type)
        layer = _Layer(f"#{len(self.layers)}", kind, inputs, attrs, scope, op + suffix)
        self.layers.append(layer)
        self.by_id[layer.id] = layer
        return layer

    def alias(self, node: Any, value: Value, out: int = 0) -> None:
        self.values[node.output[out]] = value

    def producer(self, value: Value | None, kind: str) -> _Layer | None:
        """The layer of `kind` whose output `value` is, if it is one."""
        if isinstance(value, Tensor) and value.layer in self.by_id and self.by_id[value.layer].kind == kind:
            return self.by_id[value.layer]
        return None

    def read_once(self, node: Any, i: int) -> bool:
        return self.readers[node.input[i]] == 1

    def _unknown(self, reason: str) -> None:
        node = self.node
        if not self.allow_unknown:
            raise self.fail(reason)
        tensors = [v for v in (self.values.get(n) for n in node.input) if isinstance(v, Tensor)]
        if not tensors:
            raise self.fail(f"{reason}; and it reads no tensor computed from the network input")
        if len(node.output) != 1 or (self.readers[node.output[0]] == 0 and len(node.output) > 1):
            raise self.fail(f"{reason}; an unknown layer must have one output")
        shape = self.out_shape(node)
        if len(shape) not in (2, 4):
            raise self.fail(f"{reason}; its output {list(shape)} is neither N×C×H×W nor N×F")
        layer = self.add_layer(node, "unknown", [tensors[0].layer], {"op": op_name(node), "shape": _hwc(shape)})
        self.values[node.output[0]] = Tensor(layer.id, shape)

    # -- the product --

    def spec(self, name: str) -> dict[str, Any]:
        names = _final_names(self.layers)
        names[INPUT] = INPUT
        layers = []
        previous = INPUT
        for layer in self.layers:
            entry: dict[str, Any] = {"kind": layer.kind, "name": names[layer.id]}
            refs = [names[i] for i in layer.inputs]
            if refs != [previous]:
                entry["from"] = refs[0] if len(refs) == 1 else refs
            entry.update(_tidy(layer.kind, layer.attrs))
            layers.append(entry)
            previous = names[layer.id]
        outputs = []
        for output in self.model.onnx_model.graph.output:
            value = self.values.get(output.name)
            if not isinstance(value, Tensor) or value.layer == INPUT:
                raise OnnxImportError(f"{self.model.path}: graph output '{output.name}' is not computed by a layer")
            outputs.append(names[value.layer])
        if not layers:
            raise OnnxImportError(f"{self.model.path}: no node of the graph becomes a layer")
        # one output: the network's output is its last layer, so its producer moves to the end
        for out in outputs if len(outputs) == 1 else ():
            position = next(i for i, entry in enumerate(layers) if entry["name"] == out)
            if position != len(layers) - 1:
                entry = layers.pop(position)
                entry["from"] = _refs_of(entry, layers, position)
                if position < len(layers) and "from" not in layers[position]:
                    layers[position]["from"] = out
                layers.append(entry)
        _, _, h, w = self.model.input_shape
        c = self.model.input_shape[1]
        spec: dict[str, Any] = {"name": name, "input": f"{h}x{w}x{c}", "layers": layers}
        if len(outputs) > 1:
            spec["outputs"] = outputs
        return spec


def _refs_of(entry: dict[str, Any], layers: list[dict[str, Any]], position: int) -> Any:
    """An entry's explicit `from`, spelled out when it relied on the layer listed before it."""
    if "from" in entry:
        return entry["from"]
    return layers[position - 1]["name"] if position > 0 else INPUT


def _tensor_data(tensor: Any, numpy_helper: Any) -> Any:
    """The initializer's values, or None when its data was stripped (dims kept)."""
    fields = ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")
    if math.prod(tensor.dims) > LARGE or tensor.external_data:  # a weight: its shape is what analysis needs
        return None
    if math.prod(tensor.dims) == 0 or any(len(getattr(tensor, f)) for f in fields):
        try:
            return numpy_helper.to_array(tensor)
        except Exception:
            return None
    return None


def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            value = helper.get_attribute_value(attribute)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _hwc(shape: tuple[int, ...]) -> list[int]:
    return [shape[2], shape[3], shape[1]] if len(shape) == 4 else [shape[1]]


def _float(value: float) -> float:
    """A float32 attribute as the decimal a person wrote (9.999999747378752e-06 → 1e-05)."""
    return float(f"{value:.7g}")


def _tidy(kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes as a person writes them: defaults left out, equal pairs as one number."""
    defaults = {a.name: a.default for a in REGISTRY[kind].attrs}
    tidy: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
            value = value[0]
        elif isinstance(value, tuple):
            value = list(value)
        default = defaults.get(key)
        if key in defaults and (value == default or (isinstance(default, int) and [default] * 2 == value)):
            continue
        tidy[key] = value
    return tidy


# --- constants and shape plumbing, evaluated with NumPy ---

Evaluator = Callable[[Any, list[Any]], list[Any]]
EVALUATORS: dict[str, Evaluator] = {}


def _evaluates(*ops: str) -> Callable[[Evaluator], Evaluator]:
    def register(fn: Evaluator) -> Evaluator:
        for op in ops:
            EVALUATORS[op] = fn
        return fn

    return register


def _fold_constant(imp: _Importer, node: Any) -> bool:
    """Evaluate a Constant, a Shape of a known tensor, or plumbing whose inputs are all known constants."""
    if node.op_type == "Constant":
        from onnx import numpy_helper

        tensor = _attr(node, "value")
        if tensor is None:  # the other forms a constant may take (PyTorch's dynamo exporter writes `value_ints`)
            for name in ("value_ints", "value_int", "value_floats", "value_float"):
                given = _attr(node, name)
                if given is not None:
                    dtype = np.int64 if name.startswith("value_int") else np.float32
                    array = np.asarray(given, dtype=dtype)
                    imp.values[node.output[0]] = Const(tuple(array.shape), array)
                    return True
            raise imp.fail("only Constant nodes with a tensor, integer(s) or float(s) value are supported")
        if math.prod(tensor.dims) > LARGE:  # a weight: its data was dropped on reading, its shape is enough
            imp.values[node.output[0]] = Const(tuple(tensor.dims), None)
            return True
        array = numpy_helper.to_array(tensor)
        imp.values[node.output[0]] = Const(tuple(array.shape), array)
        return True
    if node.op_type == "Shape":
        value = imp.value(node, 0)
        if value is None:
            return False
        shape = np.array(value.shape, dtype=np.int64)
        start, end = _attr(node, "start", 0), _attr(node, "end", None)
        result = shape[start:end]
        imp.values[node.output[0]] = Const(tuple(result.shape), result)
        return True
    if node.op_type not in EVALUATORS:
        return False
    if any(name and name not in imp.values for name in node.input):
        return False  # an input not known yet (a tensor whose shape inference lost track) is no constant
    values = [imp.values.get(name) if name else None for name in node.input]
    if node.op_type == "Transpose" and isinstance(values[0], Const) and values[0].value is None:
        perm = _attr(node, "perm") or list(range(len(values[0].shape)))[::-1]  # a stripped weight, transposed
        imp.values[node.output[0]] = Const(tuple(values[0].shape[p] for p in perm), None)
        return True
    if not all(v is None or isinstance(v, Const) for v in values):
        return False
    try:
        shape = _folded_shape(node, values)
        if shape is not None and (math.prod(shape) > LARGE or any(v is not None and v.value is None for v in values)):
            results: list[Any] = [_Shaped(shape)]  # a weight's worth of constant: its shape, never its values
        elif any(v is not None and v.value is None for v in values):
            return False  # values needed from a constant whose data was not kept
        else:
            results = EVALUATORS[node.op_type](node, [None if v is None else v.value for v in values])
    except NetcalcError:
        raise
    except Exception as error:
        raise imp.fail(f"folding this constant expression failed: {type(error).__name__}: {error}") from None
    for name, result in zip(node.output, results):
        if isinstance(result, _Shaped):
            imp.values[name] = Const(result.shape, None)
            continue
        array = np.asarray(result)
        imp.values[name] = Const(tuple(array.shape), array)
    return True


BROADCASTING = frozenset({"Add", "Sub", "Mul", "Div", "Equal", "Pow", "Max", "Min", "Where"})
SAME_SHAPE = frozenset({"Identity", "Cast", "Sqrt", "Floor", "Ceil", "Neg", "Not"})


def _folded_shape(node: Any, values: list[Any]) -> tuple[int, ...] | None:
    """The shape a constant expression gives, worked out from its inputs' shapes (and the few small values that
    decide it) before anything is computed, for the operators whose result can outgrow their inputs (Expand to
    2¹⁴×2¹⁴, Range to 2³¹, a broadcast [2¹⁵, 1]×[1, 2¹⁵]) or which carry a weight along; None for the others,
    whose result is no larger than an input."""
    op = node.op_type
    shapes = [v.shape for v in values if v is not None]
    if op in BROADCASTING:
        return tuple(np.broadcast_shapes(*shapes))
    if op in SAME_SHAPE:
        return shapes[0]
    if op == "Expand" and values[1].value is not None:
        return tuple(np.broadcast_shapes(shapes[0], tuple(_sizes(values[1].value))))
    if op == "ConstantOfShape" and values[0].value is not None:
        return tuple(_sizes(values[0].value))
    if op == "Range" and all(v.value is not None for v in values):
        start, limit, delta = (float(np.asarray(v.value).reshape(-1)[0]) for v in values)
        if delta == 0 or not all(math.isfinite(x) for x in (start, limit, delta)):
            raise ValueError(f"Range({start}, {limit}, {delta}) has no finite length")
        return (max(math.ceil((limit - start) / delta), 0),)
    if op == "Gather":
        axis = _attr(node, "axis", 0) % max(1, len(shapes[0]))
        return shapes[0][:axis] + shapes[1] + shapes[0][axis + 1 :]
    return None


def _sizes(value: Any) -> list[int]:
    """A shape given as a constant's values, each a size ≥ 0."""
    sizes = [int(d) for d in np.asarray(value).reshape(-1)]
    if any(d < 0 for d in sizes):
        raise ValueError(f"a shape {sizes[:8]} with a negative size")
    return sizes


@dataclass(frozen=True)
class _Shaped:
    """The result of a constant expression too large to be worth computing: its shape alone."""

    shape: tuple[int, ...]


@_evaluates("Transpose")
def _ev_transpose(node: Any, xs: list[Any]) -> list[Any]:
    return [np.transpose(xs[0], _attr(node, "perm"))]


@_evaluates("Identity")
def _ev_identity(node: Any, xs: list[Any]) -> list[Any]:
    return [xs[0]]


@_evaluates("Cast")
def _ev_cast(node: Any, xs: list[Any]) -> list[Any]:
    from onnx import helper

    return [xs[0].astype(helper.tensor_dtype_to_np_dtype(_attr(node, "to")))]


@_evaluates("Gather")
def _ev_gather(node: Any, xs: list[Any]) -> list[Any]:
    return [np.take(xs[0], xs[1], axis=_attr(node, "axis", 0))]


@_evaluates("Unsqueeze")
def _ev_unsqueeze(node: Any, xs: list[Any]) -> list[Any]:
    axes = _attr(node, "axes") or [int(a) for a in np.asarray(xs[1]).reshape(-1)]
    out = xs[0]
    for axis in sorted(a % (out.ndim + len(axes)) for a in axes):
        out = np.expand_dims(out, axis)
    return [out]


@_evaluates("Squeeze")
def _ev_squeeze(node: Any, xs: list[Any]) -> list[Any]:
    axes = _attr(node, "axes") or (None if len(xs) < 2 or xs[1] is None else [int(a) for a in xs[1]])
    return [np.squeeze(xs[0], axis=None if axes is None else tuple(axes))]


@_evaluates("Concat")
def _ev_concat(node: Any, xs: list[Any]) -> list[Any]:
    return [np.concatenate([np.atleast_1d(x) for x in xs], axis=_attr(node, "axis", 0))]


@_evaluates("Add", "Sub", "Mul", "Div", "Equal", "Pow", "Max", "Min")
def _ev_binary(node: Any, xs: list[Any]) -> list[Any]:
    a, b = xs
    if node.op_type == "Div" and np.issubdtype(np.asarray(a).dtype, np.integer):
        return [np.floor_divide(a, b)]
    ops = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Equal": np.equal}
    ops |= {"Pow": np.power, "Max": np.maximum, "Min": np.minimum}
    return [ops[node.op_type](a, b)]


@_evaluates("Sqrt", "Floor", "Ceil", "Neg", "Not")
def _ev_unary(node: Any, xs: list[Any]) -> list[Any]:
    ops = {"Sqrt": np.sqrt, "Floor": np.floor, "Ceil": np.ceil, "Neg": np.negative, "Not": np.logical_not}
    return [ops[node.op_type](xs[0])]


@_evaluates("Where")
def _ev_where(node: Any, xs: list[Any]) -> list[Any]:
    return [np.where(*xs)]


@_evaluates("Reshape")
def _ev_reshape(node: Any, xs: list[Any]) -> list[Any]:
    shape = [int(d) for d in xs[1]]
    shape = [xs[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [np.reshape(xs[0], shape)]


@_evaluates("Slice")
def _ev_slice(node: Any, xs: list[Any]) -> list[Any]:
    data = xs[0]
    starts, ends = (xs[1], xs[2]) if len(xs) > 2 else (_attr(node, "starts"), _attr(node, "ends"))
    axes = xs[3] if len(xs) > 3 and xs[3] is not None else _attr(node, "axes", list(range(len(starts))))
    steps = xs[4] if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return [data[tuple(index)]]


@_evaluates("ConstantOfShape")
def _ev_constant_of_shape(node: Any, xs: list[Any]) -> list[Any]:
    if math.prod(int(d) for d in xs[0]) > LARGE:
        return [_Shaped(tuple(int(d) for d in xs[0]))]  # a weight (netcalc's zero export): its shape is enough
    from onnx import numpy_helper

    tensor = _attr(node, "value")
    fill = numpy_helper.to_array(tensor).reshape(-1)[0] if tensor is not None else np.float32(0)
    return [np.full([int(d) for d in xs[0]], fill)]


@_evaluates("Range")
def _ev_range(node: Any, xs: list[Any]) -> list[Any]:
    return [np.arange(xs[0], xs[1], xs[2])]


@_evaluates("Expand")
def _ev_expand(node: Any, xs: list[Any]) -> list[Any]:
    return [xs[0] * np.ones([int(d) for d in xs[1]], dtype=xs[0].dtype)]


# --- converters: one per operator (version), each emitting layers or continuing a pattern ---


def _pads(imp: _Importer, node: Any, x: Tensor, kernel: list[int], strides: list[int], dilations: list[int]) -> Any:
    """netcalc padding (P, [Ph, Pw] or [top, bottom, left, right]) from `pads` or `auto_pad`."""
    auto = _attr(node, "auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads: list[int] = [0] * 4
        for axis, size in enumerate(x.shape[2:]):
            span = (kernel[axis] - 1) * dilations[axis] + 1
            total = max((math.ceil(size / strides[axis]) - 1) * strides[axis] + span - size, 0)
            small, big = total // 2, total - total // 2
            pads[axis], pads[axis + 2] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        pads = [0] * 4
    else:
        pads = imp.ints(node, "pads", default=[0, 0, 0, 0]) or [0, 0, 0, 0]
        _check_ints(imp, "pads", pads, 4, 0)
    top, left, bottom, right = pads
    if top == bottom and left == right:
        return [top, left]
    return [top, bottom, left, right]


INT32_MAX = 2**31 - 1  # netcalc's bound on whole-number attributes (docs/limits.md), as ONNX's int32 sizes


def _check_ints(imp: _Importer, name: str, values: list[int], length: int, minimum: int) -> None:
    """An int-list attribute of the length a 2-D operator needs, each value in [minimum, 2³¹ − 1]."""
    if len(values) != length:
        raise imp.fail(f"`{name}` {excerpt(values)} has {len(values)} values; a 2-D {imp.node.op_type} needs {length}")
    if any(not minimum <= v <= INT32_MAX for v in values):
        raise imp.fail(f"`{name}` {excerpt(values)}: each must be between {minimum} and {INT32_MAX:,}")


def _check_padding(imp: _Importer, kind: str, value: Any) -> Any:
    """Asymmetric padding only where this netcalc's kind accepts it."""
    attr = next(a for a in REGISTRY[kind].attrs if a.name == "padding")
    try:
        attr.parse(value)
    except AttrError as error:
        if len(value) == 4:
            raise imp.fail(
                f"padding {value} (top, bottom, left, right) is asymmetric; {kind} here takes only Ph, Pw"
            ) from None
        raise imp.fail(f"padding {value}: {error.message}") from None
    return value


def _spatial(imp: _Importer, x: Tensor) -> None:
    if x.layout != "nchw":
        raise imp.fail("netcalc models it on N×C×H×W tensors; its input is channels last (N×H×W×C)")
    if len(x.shape) != 4:
        raise imp.fail(f"netcalc models it on N×C×H×W tensors; its input is {list(x.shape)}")


def _conv_operands(imp: _Importer, node: Any, what: str) -> tuple[Tensor, Any, list[int], list[int], list[int]]:
    """(x, constant weight, kernel, strides, dilations) of a Conv or ConvTranspose node, or a located refusal."""
    x, w = imp.tensor(node, 0), imp.const(node, 1)
    _spatial(imp, x)
    if w is None or len(w.shape) != 4:
        raise imp.fail(f"only 2-D {what} with a constant weight are supported")
    kernel = imp.ints(node, "kernel_shape", default=list(w.shape[2:]))
    strides, dilations = imp.ints(node, "strides", default=[1, 1]), imp.ints(node, "dilations", default=[1, 1])
    for name, values in (("kernel_shape", kernel), ("strides", strides), ("dilations", dilations)):
        _check_ints(imp, name, values, 2, 1)
    return x, w, kernel, strides, dilations


def _groups(imp: _Importer, node: Any, *channels: int) -> int:
    """The `group` attribute, which must divide each of `channels`."""
    groups = _attr(node, "group", 1)
    if not 1 <= groups <= INT32_MAX or any(c % groups for c in channels):
        raise imp.fail(f"group {groups} does not divide its channels ({', '.join(map(str, channels))})")
    return groups


def _weight(
    imp: _Importer, node: Any, i: int, expected: tuple[int, ...], what: str, why: str = "", optional: bool = False
) -> bool:
    """Whether input `i` is given (a constant of exactly `expected` shape); otherwise a refusal naming the tensor,
    its shape and the one the layer implies, since netcalc's parameter count is of the layer, and it must be of
    the arrays the file holds."""
    value = imp.value(node, i)
    if value is None:
        if optional:
            return False
        raise imp.fail(f"its {what} (input {i}) is missing")
    if optional and _computed_zeros(imp, node.input[i], value):
        return False  # PyTorch's dynamo exporter gives a bias-free conv a bias of zeros made by Expand: no weights
    if not isinstance(value, Const):
        raise imp.fail(f"its {what} (input {i}, '{node.input[i]}') must be a constant")
    if value.shape != tuple(expected):
        because = f" ({why})" if why else ""
        raise imp.fail(f"{what} '{node.input[i]}' has shape {list(value.shape)}; expected {list(expected)}{because}")
    return True


def _computed_zeros(imp: _Importer, name: str, value: Value) -> bool:
    """`value` is zeros broadcast by an Expand in the graph: no array of weights (a zero bias the model holds, as
    torchvision's initialisation makes, is a Constant or an initializer of its full shape, and counts)."""
    return (
        imp.made_by.get(name) == "Expand"
        and isinstance(value, Const)
        and value.value is not None
        and not np.asarray(value.value).any()
    )


@converter("Conv", 1, 11, 22)
def conv(imp: _Importer, node: Any) -> None:
    x, w, kernel, strides, dilations = _conv_operands(imp, node, "convolutions")
    groups = _groups(imp, node, x.shape[1], w.shape[0])
    why = f"{x.shape[1]} input channels, group {groups}, kernel {kernel}"
    _weight(imp, node, 1, (w.shape[0], x.shape[1] // groups, *kernel), "weight", why)
    bias = _weight(imp, node, 2, (w.shape[0],), "bias", optional=True)
    padding = _check_padding(imp, "conv", _pads(imp, node, x, kernel, strides, dilations))
    attrs = {"out": w.shape[0], "kernel": kernel, "stride": strides, "padding": padding, "dilation": dilations}
    attrs |= {"groups": groups, "bias": bias}
    imp.emit(node, "conv", [x], **attrs)


def _transpose_pads(
    imp: _Importer, node: Any, x: Tensor, kernel: list[int], strides: list[int], dilations: list[int]
) -> list[int]:
    """[top, left, bottom, right] of a ConvTranspose: `pads`, or those ONNX implies from `output_shape` (or from
    auto_pad SAME, an output of input × stride), the larger half at the start unless SAME_UPPER."""
    auto = _attr(node, "auto_pad", "NOTSET")
    extra = imp.ints(node, "output_padding", default=[0, 0])
    _check_ints(imp, "output_padding", extra, 2, 0)
    target = imp.ints(node, "output_shape")
    if target is None and auto in ("SAME_UPPER", "SAME_LOWER"):
        target = [size * stride for size, stride in zip(x.shape[2:], strides)]
    if target is None:
        pads = [0] * 4 if auto == "VALID" else imp.ints(node, "pads", default=[0, 0, 0, 0])
        _check_ints(imp, "pads", pads, 4, 0)
        return pads
    target = target[-2:]
    pads = [0] * 4
    for a in range(2):
        full = strides[a] * (x.shape[2 + a] - 1) + extra[a] + (kernel[a] - 1) * dilations[a] + 1
        total = full - target[a]
        if total < 0:
            raise imp.fail(f"output_shape {target} is larger than the full output ({full} along axis {2 + a})")
        half, rest = total // 2, total - total // 2
        pads[a], pads[a + 2] = (half, rest) if auto == "SAME_UPPER" else (rest, half)
    return pads


@converter("ConvTranspose", 1, 11, 22)
def conv_transpose(imp: _Importer, node: Any) -> None:
    x, w, kernel, strides, dilations = _conv_operands(imp, node, "transposed convolutions")
    groups = _groups(imp, node, x.shape[1])
    why = f"{x.shape[1]} input channels, group {groups}, kernel {kernel}"
    _weight(imp, node, 1, (x.shape[1], w.shape[1], *kernel), "weight", why)
    out_channels = w.shape[1] * groups
    bias = _weight(imp, node, 2, (out_channels,), "bias", optional=True)
    top, left, bottom, right = _transpose_pads(imp, node, x, kernel, strides, dilations)
    out = imp.out_shape(node)
    # output_padding: what the inferred output holds beyond (H − 1)·S − Pt − Pb + D·(K − 1) + 1
    base = [
        (x.shape[2 + a] - 1) * strides[a] - before - after + dilations[a] * (kernel[a] - 1) + 1
        for a, (before, after) in enumerate(((top, bottom), (left, right)))
    ]
    extra = [out[2 + a] - base[a] for a in range(2)]
    if any(e < 0 or e >= max(s, d) for e, s, d in zip(extra, strides, dilations)):
        raise imp.fail(
            f"its output {list(out[2:])} needs an output_padding of {extra}, which must be at least 0 and less than "
            f"the stride or the dilation (netcalc's conv_transpose, as PyTorch's)"
        )
    padding = [top, left] if (top, left) == (bottom, right) else [top, bottom, left, right]
    attrs = {"out": out_channels, "kernel": kernel, "stride": strides, "padding": padding}
    attrs |= {"output_padding": extra, "dilation": dilations, "groups": groups, "bias": bias}
    imp.emit(node, "conv_transpose", [x], **attrs)


@converter("Gemm", 7, 9, 11, 13)
def gemm(imp: _Importer, node: Any) -> None:
    x, w = imp.tensor(node, 0), imp.const(node, 1)
    if _attr(node, "transA", 0) or w is None or len(w.shape) != 2 or len(x.shape) != 2:
        raise imp.fail("only x·Wᵀ + b with a flat input and a constant 2-D weight is supported (an fc layer)")
    transposed = bool(_attr(node, "transB", 0))
    out = w.shape[0] if transposed else w.shape[1]
    expected = (out, x.shape[1]) if transposed else (x.shape[1], out)
    _weight(imp, node, 1, expected, "weight", f"{x.shape[1]} input features, transB {int(transposed)}")
    bias = imp.value(node, 2)
    if bias is not None and (not isinstance(bias, Const) or bias.shape not in ((out,), (1, out))):
        shape = list(bias.shape) if isinstance(bias, (Const, Tensor)) else "?"
        raise imp.fail(
            f"bias '{node.input[2]}' has shape {shape}; netcalc's fc has one bias per output feature, [{out}] "
            "(a bias broadcast from fewer values has no netcalc kind)"
        )
    imp.emit(node, "fc", [x], out=out, bias=bias is not None)


@converter("MatMul", 1, 9, 13)
def matmul(imp: _Importer, node: Any) -> None:
    a, b = imp.value(node, 0), imp.value(node, 1)
    if isinstance(a, Const) and isinstance(b, Tensor) and len(b.shape) == 4:  # maybe an uneven adaptive pool
        imp.alias(node, Pending("adaptive", b, imp.out_shape(node)))
        return
    if isinstance(a, Pending) and a.pattern == "adaptive" and imp.hint(node).get("kind") == "adaptive_avgpool":
        out = imp.out_shape(node)
        imp.emit(node, "adaptive_avgpool", [a.source], output=[out[2], out[3]])
        return
    x, w = imp.tensor(node, 0), imp.value(node, 1)
    if isinstance(w, Const) and len(w.shape) == 2 and x.layout == "nhwc":  # a Linear on channels last: 1×1 conv
        _weight(imp, node, 1, (x.channels, w.shape[1]), "weight", f"{x.channels} input channels")
        imp.emit(node, "conv", [x], out=w.shape[1], kernel=1, bias=False)
        return
    if not isinstance(w, Const) or len(w.shape) != 2 or len(x.shape) != 2:
        raise imp.fail("only a flat input times a constant 2-D weight is supported (an fc layer)")
    _weight(imp, node, 1, (x.shape[1], w.shape[1]), "weight", f"{x.shape[1]} input features")
    imp.emit(node, "fc", [x], out=w.shape[1], bias=False)


def _window(imp: _Importer, node: Any, kind: str, **extra: Any) -> None:
    x = imp.tensor(node, 0)
    _spatial(imp, x)
    kernel = imp.ints(node, "kernel_shape")
    strides = imp.ints(node, "strides", default=[1, 1])
    dilations = imp.ints(node, "dilations", default=[1, 1])
    if dilations != [1, 1]:
        raise imp.fail(f"pooling with dilations {dilations} is not supported")
    if len(node.output) > 1 and imp.readers[node.output[1]]:
        raise imp.fail("its second output (the indices of the maxima) is used, and netcalc does not model it")
    padding = _check_padding(imp, kind, _pads(imp, node, x, kernel, strides, dilations))
    attrs = {"kernel": kernel, "stride": strides, "padding": padding, "ceil_mode": bool(_attr(node, "ceil_mode", 0))}
    imp.emit(node, kind, [x], **attrs, **extra)


@converter("MaxPool", 1, 8, 10, 11, 12, 22)
def maxpool(imp: _Importer, node: Any) -> None:
    _window(imp, node, "maxpool")


@converter("AveragePool", 7, 10, 11, 19, 22)
def avgpool(imp: _Importer, node: Any) -> None:
    if imp.hint(node).get("kind") == "adaptive_avgpool":  # netcalc's export of an adaptive pool with even bins
        x = imp.tensor(node)
        out = imp.out_shape(node)
        imp.emit(node, "adaptive_avgpool", [x], output=[out[2], out[3]])
        return
    _window(imp, node, "avgpool", count_include_pad=bool(_attr(node, "count_include_pad", 0)))


@converter("GlobalAveragePool", 1, 22)
def global_avgpool(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    _spatial(imp, x)
    if imp.hint(node).get("kind") == "adaptive_avgpool":
        imp.emit(node, "adaptive_avgpool", [x], output=1)
    else:
        imp.emit(node, "global_avgpool", [x])


@converter("GlobalMaxPool", 1, 22)
def global_maxpool(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    _spatial(imp, x)
    imp.emit(node, "global_maxpool", [x])


@converter("ReduceMean", 1, 11, 13, 18)
def reduce_mean(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    _spatial(imp, x)
    axes = sorted(a % 4 for a in (imp.ints(node, "axes", 1) or []))
    if axes != [2, 3]:
        raise imp.fail(f"only a mean over H and W (axes 2, 3) is supported, not axes {axes}")
    if _attr(node, "keepdims", 1):
        imp.emit(node, "global_avgpool", [x])
        return
    pooled = imp.add_layer(node, "global_avgpool", [x.layer], {})
    flat = imp.add_layer(node, "flatten", [pooled.id], {}, suffix="_flatten")
    imp.alias(node, Tensor(flat.id, imp.out_shape(node)))


@converter("BatchNormalization", 7, 9, 14, 15)
def batchnorm(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    if _attr(node, "training_mode", 0) or any(imp.readers[o] for o in node.output[1:]):
        raise imp.fail("training-mode batch normalization (running statistics as outputs) is not supported")
    for i, what in enumerate(("scale", "bias", "mean", "variance"), start=1):
        _weight(imp, node, i, (x.channels,), what, f"one per channel of its {x.channels}")
    momentum = _float(1 - _float(_attr(node, "momentum", 0.9)))  # ONNX keeps the old statistics' share; torch the new
    imp.emit(node, "batchnorm", [x], eps=_float(_attr(node, "epsilon", 1e-5)), momentum=momentum)


def _affine_weights(imp: _Importer, node: Any, expected: tuple[int, ...], why: str) -> None:
    """Scale and bias of a normalisation, both of shape `expected`: netcalc's `affine` counts γ and β together,
    so a scale without a bias (2·C would be counted for C held) has no kind to become."""
    _weight(imp, node, 1, expected, "scale", why)
    if not _weight(imp, node, 2, expected, "bias", why, optional=True) and imp.hint(node).get("affine", True):
        raise imp.fail(
            f"it has a scale but no bias; netcalc's {node.op_type[:-13].lower()}norm counts γ and β together "
            f"({2 * math.prod(expected)} parameters where the file holds {math.prod(expected)})"
        )


@converter("InstanceNormalization", 6, 22)
def instancenorm(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    _spatial(imp, x)
    _affine_weights(imp, node, (x.shape[1],), f"one per channel of its {x.shape[1]}")
    affine = imp.hint(node).get("affine", True)
    imp.emit(node, "instancenorm", [x], eps=_float(_attr(node, "epsilon", 1e-5)), affine=affine)


@converter("GroupNormalization", 18, 21)
def groupnorm(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    _spatial(imp, x)
    groups, channels = _attr(node, "num_groups"), x.shape[1]
    if groups is None or not 1 <= groups <= channels or channels % groups:
        raise imp.fail(f"num_groups {groups} does not divide its {channels} channels")
    if since_version("GroupNormalization", imp.model.opset) == 18 and groups != channels:
        # opset 18 has γ and β per group (opset 21 made them per channel, as netcalc's groupnorm and PyTorch's)
        raise imp.fail(
            f"GroupNormalization-18 has a scale and bias per group ({2 * groups} parameters); netcalc's groupnorm "
            f"has them per channel ({2 * channels}); export at opset 21"
        )
    _affine_weights(imp, node, (channels,), f"one per channel of its {channels}")
    affine = imp.hint(node).get("affine", True)
    imp.emit(node, "groupnorm", [x], groups=groups, eps=_float(_attr(node, "epsilon", 1e-5)), affine=affine)


@converter("LayerNormalization", 17)
def layernorm(imp: _Importer, node: Any) -> None:
    axis = _attr(node, "axis", -1)
    eps = _float(_attr(node, "epsilon", 1e-5))
    affine = imp.hint(node).get("affine", True)
    x = imp.tensor(node)
    if any(imp.readers[o] for o in node.output[1:] if o):
        raise imp.fail("its mean or inverse standard deviation output is used, and netcalc does not model them")
    if x.layout == "nhwc" and axis in (-1, 3):  # ConvNeXt's LayerNorm2d: the channels at each pixel
        _affine_weights(imp, node, (x.channels,), f"one per channel of its {x.channels}")
        imp.emit(node, "layernorm", [x], eps=eps, affine=affine)
        return
    if len(x.shape) != 2 or axis not in (-1, 1):
        raise imp.fail("only LayerNorm over the features of a flat vector, or over channels, is supported")
    _affine_weights(imp, node, (x.shape[1],), f"one per feature of its {x.shape[1]}")
    imp.emit(node, "layernorm", [x], eps=eps, affine=affine)


@converter("LRN", 1, 13)
def lrn(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    _spatial(imp, x)
    attrs = {"size": _attr(node, "size"), "alpha": _float(_attr(node, "alpha", 1e-4))}
    attrs |= {"beta": _float(_attr(node, "beta", 0.75)), "k": _float(_attr(node, "bias", 1.0))}
    imp.emit(node, "lrn", [x], **attrs)


def _simple(kind: str, *op_versions: tuple[str, tuple[int, ...]]) -> None:
    """Register a converter turning an elementwise operator into a netcalc layer of `kind`, no attributes."""

    def convert(imp: _Importer, node: Any) -> None:
        if not imp.fuse(node, kind):
            imp.emit(node, kind, [imp.tensor(node)])

    for op, versions in op_versions:
        converter(op, *versions)(convert)


_simple("relu", ("Relu", (6, 13, 14)))
_simple("sigmoid", ("Sigmoid", (6, 13)))
_simple("tanh", ("Tanh", (6, 13)))
_simple("hardswish", ("HardSwish", (14, 22)))


@converter("Clip", 6, 11, 12, 13)
def clip(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    low, high = _attr(node, "min"), _attr(node, "max")
    if low is None and imp.value(node, 1) is not None:
        low = float(np.asarray(imp.const(node, 1, data=True).value))
    if high is None and imp.value(node, 2) is not None:
        high = float(np.asarray(imp.const(node, 2, data=True).value))
    if low == 0 and high == 6:
        if not imp.fuse(node, "relu6"):
            imp.emit(node, "relu6", [x])
    elif low == 0 and (high is None or high >= 3.4e38):
        imp.emit(node, "relu", [x])
    else:
        raise imp.fail(f"only Clip to [0, 6] (relu6) or [0, ∞) (relu) is supported, not [{low}, {high}]")


@converter("LeakyRelu", 6, 16)
def leaky_relu(imp: _Importer, node: Any) -> None:
    if abs(_attr(node, "alpha", 0.01) - 0.01) < 1e-9 and imp.fuse(node, "leaky_relu"):
        return
    imp.emit(node, "leaky_relu", [imp.tensor(node)], negative_slope=_float(_attr(node, "alpha", 0.01)))


@converter("PRelu", 7, 9, 16)
def prelu(imp: _Importer, node: Any) -> None:
    x, slope = imp.tensor(node), imp.const(node, 1)
    n = math.prod(slope.shape) if slope is not None else 0
    if n not in (1, x.shape[1]):
        raise imp.fail(f"a PRelu slope of {n} values is neither one shared slope nor one per channel")
    imp.emit(node, "prelu", [x], shared=n == 1)


@converter("HardSigmoid", 6, 22)
def hardsigmoid(imp: _Importer, node: Any) -> None:
    alpha, beta = _attr(node, "alpha", 0.2), _attr(node, "beta", 0.5)
    if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
        raise imp.fail(f"only PyTorch's hardsigmoid (alpha 1/6, beta 0.5) is supported, not {alpha}, {beta}")
    imp.emit(node, "hardsigmoid", [imp.tensor(node)])


@converter("Elu", 6, 22)
def elu(imp: _Importer, node: Any) -> None:
    imp.emit(node, "elu", [imp.tensor(node)], alpha=_float(_attr(node, "alpha", 1.0)))


@converter("Gelu", 20)
def gelu(imp: _Importer, node: Any) -> None:
    imp.emit(node, "gelu", [imp.tensor(node)], approximate=_attr(node, "approximate", "none"))


@converter("Softmax", 1, 11, 13)
def softmax(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    axis = _attr(node, "axis", -1 if node.op_type == "Softmax" and imp.model.opset >= 13 else 1)
    axis %= len(x.shape)
    if axis != 1 or (len(x.shape) == 4 and imp.model.opset < 13):
        raise imp.fail("only a softmax over the features (or the channels, opset ≥ 13) is supported")
    imp.emit(node, "softmax", [x])


@converter("Dropout", 7, 10, 12, 13, 22)
def dropout(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    if len(node.output) > 1 and imp.readers[node.output[1]]:
        raise imp.fail("its mask output is used, and netcalc does not model it")
    ratio = _attr(node, "ratio")
    if ratio is None:
        const = imp.const(node, 1)
        ratio = 0.5 if const is None or const.value is None else float(np.asarray(const.value))
    imp.emit(node, "dropout", [x], p=_float(ratio))


@converter("CastLike", 15, 19, 21)
def cast_like(imp: _Importer, node: Any) -> None:
    """A value cast to another's element type: the same tensor or constant for the analysis (PyTorch's dynamo
    exporter casts batch norm's epsilon so)."""
    value = imp.value(node, 0)
    if value is None:
        raise imp.fail("it has no input")
    imp.alias(node, value)


@converter("Identity", 1, 13, 14, 16, 19, 21)
def identity(imp: _Importer, node: Any) -> None:
    value = imp.value(node, 0)
    if value is None:
        raise imp.fail("it has no input")
    hint = imp.hint(node)
    if hint.get("kind") in ("identity", "stochastic_depth") and isinstance(value, Tensor):
        imp.emit(node, hint.pop("kind"), [value], **hint)  # netcalc's export of a layer that is identity here
        return
    imp.alias(node, value)


@converter("Flatten", 1, 9, 11, 13, 21)
def flatten(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    if _attr(node, "axis", 1) % max(1, len(x.shape)) != 1:
        raise imp.fail("only Flatten at axis 1 (keeping the batch) is supported")
    if len(x.shape) == 2:
        imp.alias(node, x)
    else:
        imp.emit(node, "flatten", [x])


@converter("Reshape", 5, 13, 14, 19, 21)
def reshape(imp: _Importer, node: Any) -> None:
    value = imp.value(node, 0)
    out = imp.out_shape(node)
    if isinstance(value, Pending) and value.pattern == "shuffle" and value.info.get("transposed"):
        if out == value.source.shape:
            imp.emit(node, "channel_shuffle", [value.source], groups=value.info["groups"])
            return
        raise imp.fail("a channel shuffle must reshape back to the shape it started from")
    if isinstance(value, Pending) and value.pattern == "unshuffle" and value.info.get("transposed"):
        (n, c, h, w), r = value.source.shape, value.info["factor"]
        if out == (n, c * r * r, h // r, w // r):
            imp.emit(node, "pixel_unshuffle", [value.source], factor=r)
            return
        raise imp.fail(f"a pixel unshuffle by {r} must reshape to {[n, c * r * r, h // r, w // r]}, not {list(out)}")
    x = imp.tensor(node)
    if out == x.shape:
        imp.alias(node, x)
    elif len(x.shape) == 4 and len(out) == 2 and out[0] == x.shape[0]:
        imp.emit(node, "flatten", [x])
    elif len(x.shape) == 4 and len(out) == 5 and out[0] == x.shape[0] and out[3:] == x.shape[2:]:
        imp.alias(node, Pending("shuffle", x, out, {"groups": out[1]}))  # N×G×C/G×H×W, a shuffle begins
    elif (
        len(x.shape) == 4
        and len(out) == 6
        and out[:2] == x.shape[:2]
        and out[3] == out[5] > 0
        and (out[2] * out[3], out[4] * out[5]) == x.shape[2:]
    ):
        imp.alias(node, Pending("unshuffle", x, out, {"factor": out[3]}))  # N×C×H/r×r×W/r×r: pixel unshuffle
    else:
        raise imp.fail(f"a reshape from {list(x.shape)} to {list(out)} is neither a flatten nor a channel shuffle")


@converter("Transpose", 1, 13, 21)
def transpose(imp: _Importer, node: Any) -> None:
    value = imp.value(node, 0)
    perm = _attr(node, "perm")
    if isinstance(value, Pending) and value.pattern == "shuffle" and perm == [0, 2, 1, 3, 4]:
        imp.alias(node, replace(value, info={**value.info, "transposed": True}))
        return
    if isinstance(value, Pending) and value.pattern == "unshuffle" and perm == [0, 1, 3, 5, 2, 4]:
        imp.alias(node, replace(value, info={**value.info, "transposed": True}))
        return
    x = imp.tensor(node)
    if len(x.shape) == 4 and (x.layout, perm) in (("nchw", [0, 2, 3, 1]), ("nhwc", [0, 3, 1, 2])):
        layout = "nhwc" if x.layout == "nchw" else "nchw"  # a permute in or out of channels last: no layer
        imp.alias(node, Tensor(x.layer, imp.out_shape(node), layout))
        return
    raise imp.fail(f"a transpose {perm} is not part of a pattern netcalc models (channel shuffle, LayerNorm2d)")


@converter("Concat", 4, 11, 13)
def concat(imp: _Importer, node: Any) -> None:
    xs = [imp.tensor(node, i) for i in range(len(node.input))]
    if _attr(node, "axis") % len(xs[0].shape) != 1:
        raise imp.fail("only a concatenation along the channels (axis 1) is supported")
    if len(xs) == 1:
        imp.alias(node, xs[0])
    else:
        imp.emit(node, "concat", xs)


@converter("Split", 2, 11, 13, 18)
def split(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    if _attr(node, "axis", 0) % len(x.shape) != 1:
        raise imp.fail("only a split along the channels (axis 1) is supported")
    sizes = _split_sizes(imp, node, x.channels)
    start = 0
    for i, size in enumerate(sizes):
        if imp.readers[node.output[i]]:
            imp.emit(node, "channel_slice", [x], port=i, start=start, end=start + size)
        start += size


def _split_sizes(imp: _Importer, node: Any, channels: int) -> list[int]:
    """The channels of each output: `split` as given; else, with num_outputs (opset 18), ⌈C/n⌉ each but the
    last, which takes the rest (10 / 3 → 4, 4, 2); else equal parts, which C must allow."""
    parts = len(node.output)
    sizes = imp.ints(node, "split", 1)
    if sizes is None:
        count = _attr(node, "num_outputs")
        if count is not None and count != parts:
            raise imp.fail(f"num_outputs {count} but {parts} outputs")
        size = -(-channels // parts) if count is not None else channels // parts
        if count is None and channels % parts:
            raise imp.fail(f"{channels} channels do not split into {parts} equal parts")
        sizes = [size] * (parts - 1) + [channels - size * (parts - 1)]
    if len(sizes) != parts or sum(sizes) != channels or any(n < 1 for n in sizes):
        raise imp.fail(f"split sizes {excerpt(sizes)} do not divide its {channels} channels into {parts} parts")
    return sizes


def _slice_cut(imp: _Importer, size: int, start: int, end: int, step: int) -> tuple[int, int]:
    """[start, end) of a step-1-or-more slice of an axis of `size`, negative indices counted from the end and
    both clamped to [0, size], as ONNX does; an empty window is refused (no layer has a size of 0)."""
    if step < 1:
        raise imp.fail(f"a slice with step {step} is not supported (only steps ≥ 1)")
    start, end = (v + size if v < 0 else v for v in (start, end))
    start, end = min(max(start, 0), size), min(max(end, 0), size)
    if end <= start:
        raise imp.fail(f"the slice [{start}, {end}) of an axis of {size} is empty")
    return start, end


@converter("Slice", 1, 10, 11, 13)
def slice_(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    starts, ends = imp.ints(node, "starts", 1), imp.ints(node, "ends", 2)
    if starts is None or ends is None or len(starts) != len(ends):
        raise imp.fail("its starts and ends must be constants of the same length")
    axes = imp.ints(node, "axes", 3, default=list(range(len(starts))))
    steps = imp.ints(node, "steps", 4, default=[1] * len(starts))
    if (
        len(axes) != len(starts)
        or len(steps) != len(starts)
        or any(not -len(x.shape) <= a < len(x.shape) for a in axes)
    ):
        raise imp.fail(f"its axes {excerpt(axes)} and steps {excerpt(steps)} do not match its starts or its input")
    cuts = []
    for s, e, a, st in zip(starts, ends, axes, steps):
        axis = a % len(x.shape)
        cuts.append((*_slice_cut(imp, x.shape[axis], s, e, st), axis, st))
    cuts = [c for c in cuts if not (c[0] == 0 and c[1] == x.shape[c[2]] and c[3] == 1)]  # whole-axis slices
    if not cuts:
        imp.alias(node, x)
        return
    hint = imp.hint(node)
    ref = imp.values.get(hint.get("ref", ""))
    if hint.get("kind") == "crop" and isinstance(ref, Tensor):  # netcalc's export of a crop to another's size
        imp.emit(node, "crop", [x, ref], **({"offset": hint["offset"]} if "offset" in hint else {}))
        return
    if len(x.shape) == 4 and x.layout == "nchw" and all(c[2] in (2, 3) and c[3] == 1 for c in cuts):
        box = {c[2]: (c[0], c[1]) for c in cuts}  # a window of rows and columns
        (top, bottom), (left, right) = box.get(2, (0, x.shape[2])), box.get(3, (0, x.shape[3]))
        imp.emit(node, "crop", [x], size=[bottom - top, right - left], offset=[top, left])
        return
    if len(x.shape) == 4 and all(c[2] in (2, 3) and c[0] == 0 and c[1] == x.shape[c[2]] for c in cuts):
        steps_hw = {c[2]: c[3] for c in cuts}
        imp.emit(node, "subsample", [x], stride=[steps_hw.get(2, 1), steps_hw.get(3, 1)])  # x[:, :, ::s, ::s]
        return
    if len(cuts) != 1 or cuts[0][2] != 1 or cuts[0][3] != 1:
        raise imp.fail("only a slice of the channels (axis 1, step 1), or every S-th row and column, is supported")
    start, end, _, _ = cuts[0]
    shape = (x.shape[0], end - start, *x.shape[2:])  # computed sizes (torch's chunk) can defeat shape inference
    imp.emit(node, "channel_slice", [x], shape=shape, start=start, end=end)


@converter("Pad", 2, 11, 13, 18, 19, 21)
def pad(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    _spatial(imp, x)
    pads = imp.ints(node, "pads", 1)
    axes = imp.ints(node, "axes", 3)
    if pads is None or len(pads) != 2 * (len(axes) if axes is not None else 4):
        raise imp.fail(f"its pads {excerpt(pads)} need two values per padded axis of its N×C×H×W input")
    if axes is not None:
        full = [0] * 8
        for i, axis in enumerate(axes):
            full[axis % 4], full[axis % 4 + 4] = pads[i], pads[i + len(axes)]
        pads = full
    if any(abs(v) > INT32_MAX for v in pads):
        raise imp.fail(f"its pads {excerpt(pads)} exceed 2³¹ − 1")
    if pads[0] or pads[4]:
        raise imp.fail("padding of the batch is not supported")
    if min(pads) < 0:
        _negative_pad(imp, node, x, pads)
        return
    if pads[1] or pads[5]:
        if any(pads[i] for i in (2, 3, 6, 7)) or _attr(node, "mode", "constant") != "constant":
            raise imp.fail("only zero padding of the channels alone is supported (a channel_pad)")
        imp.emit(node, "channel_pad", [x], before=pads[1], after=pads[5])
        return
    mode = {"constant": "zeros", "reflect": "reflect", "edge": "replicate"}.get(_attr(node, "mode", "constant"))
    if mode is None:
        raise imp.fail(f"pad mode {_attr(node, 'mode')!r} is not supported")
    attrs: dict[str, Any] = {"padding": [pads[2], pads[6], pads[3], pads[7]], "mode": mode}
    value = _attr(node, "value")
    if value is None and imp.value(node, 2) is not None:
        value = float(np.asarray(imp.const(node, 2, data=True).value))
    if mode == "zeros" and value:
        attrs["value"] = float(value)
    imp.emit(node, "pad", [x], **attrs)


def _negative_pad(imp: _Importer, node: Any, x: Tensor, pads: list[int]) -> None:
    """Negative pads remove rows and columns (ONNX's crop): a `crop` when nothing is also added and only H and W
    shrink, whatever the mode (no value is padded)."""
    (top, left), (bottom, right) = (-pads[2], -pads[3]), (-pads[6], -pads[7])
    if pads[1] or pads[5] or max(pads) > 0:
        raise imp.fail(f"pads {pads} both add and remove (or remove channels); only a crop of H and W is supported")
    h, w = x.shape[2] - top - bottom, x.shape[3] - left - right
    if h < 1 or w < 1:
        raise imp.fail(f"pads {pads} remove all of its {x.shape[2]}×{x.shape[3]} input")
    imp.emit(node, "crop", [x], size=[h, w], offset=[top, left])


def _resize(imp: _Importer, node: Any, scales: list[float] | None, sizes: list[int] | None) -> None:
    x = imp.tensor(node)
    _spatial(imp, x)
    if imp.hint(node).get("kind") == "adaptive_avgpool":  # netcalc's export of an adaptive pool that upsamples
        out = imp.out_shape(node)
        imp.emit(node, "adaptive_avgpool", [x], output=[out[2], out[3]])
        return
    mode = _attr(node, "mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        raise imp.fail(f"resize mode {mode!r} is not supported (nearest, linear)")
    attrs: dict[str, Any] = {"mode": "nearest" if mode == "nearest" else "bilinear"}
    if mode != "nearest":
        transform = _attr(node, "coordinate_transformation_mode", "half_pixel")
        attrs["align_corners"] = transform == "align_corners"
    out = imp.out_shape(node)
    if out[:2] != x.shape[:2]:  # a scale of N or C: netcalc's upsample scales H and W alone
        raise imp.fail(f"it resizes N or C ({list(x.shape)} to {list(out)}); only H and W can be resized")
    ref = imp.values.get(imp.hint(node).get("ref", ""))
    if isinstance(ref, Tensor):  # netcalc's export of an upsample to another layer's size
        imp.emit(node, "upsample", [x, ref], **attrs)
        return
    if scales is not None and len(scales) == 4 and all(float(s).is_integer() for s in scales[2:]):
        attrs["scale"] = [int(scales[2]), int(scales[3])]
    else:
        attrs["size"] = [out[2], out[3]]
    imp.emit(node, "upsample", [x], **attrs)


@converter("Resize", 10, 11, 13, 18, 19)
def resize(imp: _Importer, node: Any) -> None:
    index = 1 if imp.model.opset < 11 else 2
    scales = imp.const(node, index)
    sizes = imp.const(node, 3) if index == 2 else None
    scale_list = [float(s) for s in scales.value] if scales is not None and scales.value is not None else None
    size_list = [int(s) for s in sizes.value] if sizes is not None and sizes.value is not None else None
    _resize(imp, node, scale_list or None, size_list)


@converter("Upsample", 7, 9)
def upsample(imp: _Importer, node: Any) -> None:
    scales = _attr(node, "scales")
    if scales is None:
        const = imp.const(node, 1, data=True)
        scales = [float(s) for s in const.value]
    _resize(imp, node, scales, None)


@converter("Add", 7, 13, 14)
def add(imp: _Importer, node: Any) -> None:
    a, b = imp.value(node, 0), imp.value(node, 1)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        imp.emit(node, "add", [a, b])
        return
    if isinstance(a, Pending) and a.pattern == "gelu" and a.info["step"] == "erf" and _is_scalar(b, 1.0):
        imp.alias(node, replace(a, info={"step": "1+erf"}))
        return
    x, c, i = (a, b, 0) if isinstance(a, Tensor) else (b, a, 1)
    if isinstance(x, Tensor) and isinstance(c, Const) and imp.read_once(node, i):
        # a bias added after a MatMul (or a bias-free conv): the bias of that layer
        for kind in ("fc", "conv"):
            layer = imp.producer(x, kind)
            if layer is not None and not layer.attrs.get("bias") and math.prod(c.shape) == x.channels:
                layer.attrs["bias"] = True
                imp.alias(node, x)
                return
    raise imp.fail("only the sum of two tensors, or a bias after a MatMul or conv, is supported")


@converter("Mul", 7, 13, 14)
def mul(imp: _Importer, node: Any) -> None:
    a, b = imp.value(node, 0), imp.value(node, 1)
    for x, gate, i in ((a, b, 1), (b, a, 0)):
        layer = imp.producer(gate, "sigmoid")
        if isinstance(x, Tensor) and layer is not None and layer.inputs == [x.layer] and imp.read_once(node, i):
            if "silu" not in REGISTRY:
                raise imp.fail("x·sigmoid(x) would become a layer of kind 'silu', which this netcalc does not have")
            layer.kind = "silu"  # named after the Mul: netcalc's export names it `<layer>`, its Sigmoid `<layer>/…`
            layer.scope, layer.op = _scope_and_op(node.name, imp.index, node.op_type)
            imp.alias(node, gate)
            return
    # 0.5·x·(1 + erf(x/√2)) in either order of its two products: x first (PyTorch's legacy exporter) or ½ first
    # (its dynamo exporter)
    for x, g, _ in ((a, b, 1), (b, a, 0)):
        step = g.info["step"] if isinstance(g, Pending) and g.pattern == "gelu" else None
        if step == "1+erf" and g.source == x:
            imp.alias(node, replace(g, info={"step": "x(1+erf)"}))
            return
        if step == "1+erf" and _is_scalar(x, 0.5):
            imp.alias(node, replace(g, info={"step": "(1+erf)/2"}))
            return
        if step == "(1+erf)/2" and g.source == x:
            imp.emit(node, "gelu", [x])
            return
        if isinstance(x, Pending) and x.pattern == "gelu" and x.info["step"] == "x(1+erf)" and _is_scalar(g, 0.5):
            imp.emit(node, "gelu", [x.source])
            return
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        imp.emit(node, "multiply", [a, b])
        return
    x, c = (a, b) if isinstance(a, Tensor) else (b, a)
    if isinstance(x, Tensor) and isinstance(c, Const) and len(x.shape) == 4 and math.prod(c.shape) == x.shape[1] > 1:
        imp.emit(node, "scale", [x])  # a learned per-channel scale (ConvNeXt's layer scale)
        return
    raise imp.fail("only the product of two tensors, x·sigmoid(x), or a per-channel scale is supported")


@converter("Div", 7, 13, 14)
def div(imp: _Importer, node: Any) -> None:
    x, c = imp.value(node, 0), imp.value(node, 1)
    if isinstance(x, Tensor) and _is_scalar(c, math.sqrt(2), tolerance=1e-3):
        imp.alias(node, Pending("gelu", x, x.shape, {"step": "x/√2"}))  # the erf form of GELU begins
        return
    raise imp.fail("a division is supported only as the first step of GELU's erf form, x/√2")


@converter("Erf", 9, 13)
def erf(imp: _Importer, node: Any) -> None:
    value = imp.value(node, 0)
    if isinstance(value, Pending) and value.pattern == "gelu" and value.info["step"] == "x/√2":
        imp.alias(node, replace(value, info={"step": "erf"}))
        return
    raise imp.fail("Erf is supported only inside GELU's erf form, 0.5·x·(1 + erf(x/√2))")


def _is_scalar(value: Value | None, target: float, tolerance: float = 1e-6) -> bool:
    return (
        isinstance(value, Const)
        and value.value is not None
        and np.asarray(value.value).size == 1
        and abs(float(np.asarray(value.value).reshape(-1)[0]) - target) <= tolerance
    )


# --- entry points ---


def import_onnx(
    path: str | Path, *, input_shape: Shape | None = None, batch: int | None = None, allow_unknown: bool = False
) -> dict[str, Any]:
    """The spec (as data: the mapping a YAML spec loads to) of the ONNX model in `path`."""
    model = read_model(path, input_shape=input_shape, batch=batch)
    importer = _Importer(model, allow_unknown)
    importer.run()
    name = model.onnx_model.graph.name or Path(path).stem
    if name in ("main_graph", "torch_jit", "torch-jit-export", "main"):
        name = Path(path).stem
    return importer.spec(name)


def load_onnx_network(
    path: str | Path, *, input_shape: Shape | None = None, batch: int | None = None, allow_unknown: bool = False
) -> Network:
    """The Network of the ONNX model in `path`, its layers grouped by their dotted names for `--depth`."""
    from netcalc.language.spec import parse_network

    spec = import_onnx(path, input_shape=input_shape, batch=batch, allow_unknown=allow_unknown)
    try:
        network = parse_network(spec, str(path))
    except SpecError as error:
        raise OnnxImportError(f"{path}: the imported spec is invalid: {error.message}") from None
    return group_by_names(network)


def group_by_names(network: Network) -> Network:
    """Each layer placed in the groups its dotted name spells (`layer2.0.conv1` in `layer2`, `layer2.0`), as a
    framework's module tree; `--depth` folds them. A prefix that is itself a layer's name is no group."""
    names = {layer.name for layer in network.layers}
    layers = []
    outputs: dict[str, str] = {}
    for layer in network.layers:
        parts = layer.name.split(".")
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts))]
        groups = tuple(Group(p, "module") for p in prefixes if p not in names)
        for group in groups:
            outputs[group.name] = layer.name
        layers.append(replace(layer, groups=groups))
    return replace(network, layers=tuple(layers), group_outputs=outputs)


def spec_to_yaml(spec: dict[str, Any], source: str) -> str:
    """The imported spec as YAML: one flow mapping per layer, a comment wherever a module begins."""
    import yaml

    def dump(value: Any) -> str:
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**9).strip()

    lines = [
        f"# imported by netcalc import from {source}",
        f"name: {yaml.safe_dump(spec['name']).splitlines()[0]}",
        f"input: {spec['input']}  # {format_shape(tuple(int(d) for d in spec['input'].split('x')))}",
    ]
    if "outputs" in spec:
        lines.append(f"outputs: {dump(spec['outputs'])}")
    lines.append("layers:")
    module = None
    for entry in spec["layers"]:
        top = entry["name"].split(".")[0] if "." in entry["name"] else None
        if top is not None and top != module:
            lines.append(f"  # {top}")
        module = top
        lines.append(f"  - {dump(entry)}")
    return "\n".join(lines) + "\n"


@converter("DepthToSpace", 11, 13)
def depth_to_space(imp: _Importer, node: Any) -> None:
    x = imp.tensor(node)
    if _attr(node, "mode", "DCR") != "CRD":
        raise imp.fail("only DepthToSpace in CRD order (PyTorch's pixel_shuffle) is supported")
    imp.emit(node, "pixel_shuffle", [x], factor=_attr(node, "blocksize"))


@converter("Sum", 8, 13)
def sum_(imp: _Importer, node: Any) -> None:
    xs = [imp.tensor(node, i) for i in range(len(node.input))]
    if len(xs) == 1:
        imp.alias(node, xs[0])
    else:
        imp.emit(node, "add", xs)
