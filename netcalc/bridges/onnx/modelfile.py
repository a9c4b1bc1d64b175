"""Reading an ONNX model file safely, before any node is converted: its size, its operator set, one producer per
value, weights kept as their dims only (external data checked, never read whole), the input's symbolic
dimensions bound, and every value's shape inferred in a bounded number of runs. `netcalc.bridges.onnx.importer`
then walks the nodes."""

from __future__ import annotations

import math
from typing import Any

from netcalc.errors import NetcalcError, excerpt
from netcalc.shapes import Shape

MAX_MODEL_BYTES = 2**31  # protobuf cannot parse a larger message; larger models keep their weights outside


LARGE = 4096  # elements of a constant past which only its shape is kept


class OnnxImportError(NetcalcError):
    """The file is not an ONNX model netcalc can read, or a node cannot be modelled. Exit code 2."""


class UnsupportedOperator(OnnxImportError):
    """A node whose operator (or whose use of it) netcalc cannot model."""


def op_name(node: Any) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"


def default_opset(onnx: Any, path: str, model: Any) -> int:
    """The version of the default operator set, one this onnx knows (opset 1000 has no schemas to trust)."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise OnnxImportError(f"{path}: the model imports no version of the default ONNX operator set")
    highest = onnx.defs.onnx_opset_version()
    if not 1 <= opset <= highest:
        raise OnnxImportError(
            f"{path}: the model imports opset {opset} of the default ONNX operator set; onnx "
            f"{onnx.__version__} knows opsets 1 to {highest}"
        )
    return opset


def _node_error(path: str, graph: Any, index: int, reason: str) -> OnnxImportError:
    node = graph.node[index]
    return OnnxImportError(
        f"{path}: node '{node.name or '(unnamed)'}' ({op_name(node)}, node {index + 1} of {len(graph.node)}): {reason}"
    )


def check_single_assignment(path: str, graph: Any, given: set[str]) -> None:
    """Each value is written once (ONNX's static single assignment): a second writer, or a node writing over
    the graph's input or a weight, would make the later readers' source a guess."""
    writer: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        for name in node.output:
            if not name:
                continue  # an optional output left out
            if name in given:
                raise _node_error(path, graph, index, f"its output '{name}' overwrites a graph input or initializer")
            if name in writer:
                first = graph.node[writer[name]]
                raise _node_error(
                    path,
                    graph,
                    index,
                    f"its output '{name}' is already written by node '{first.name or '(unnamed)'}' "
                    f"(node {writer[name] + 1}); a value has one writer",
                )
            writer[name] = index


def graph_tensors(graph: Any) -> list[Any]:
    """The graph's initializers and the tensors in its nodes' attributes (a Constant's value)."""
    from onnx import AttributeProto

    tensors = list(graph.initializer)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == AttributeProto.TENSOR:
                tensors.append(attribute.t)
            elif attribute.type == AttributeProto.TENSORS:
                tensors.extend(attribute.tensors)
    return tensors


def weights_to_shapes(path: str, tensor: Any) -> None:
    """Keep a tensor's data only when small (LARGE elements): analysis needs the shapes of weights, and the
    values of small constants only (a Reshape's shape, a Resize's scales). An external file is checked and, for
    a small tensor, read; a large tensor keeps its dims alone, so neither NumPy nor shape inference ever holds
    the weights (a 184-byte model may point to 3 GiB)."""
    from onnx import TensorProto

    small = math.prod(tensor.dims) <= LARGE
    if tensor.data_location == TensorProto.EXTERNAL:
        data = _external_bytes(path, tensor, read=small)
        tensor.ClearField("external_data")
        tensor.data_location = TensorProto.DEFAULT
        if data is not None:
            tensor.raw_data = data
    elif not small:
        for name in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
            tensor.ClearField(name)


def _external_bytes(path: str, tensor: Any, read: bool) -> bytes | None:
    """The bytes of an external tensor (None unless `read`), after checking its reference: a relative path to a
    regular file, not a symlink, inside the model's directory, holding offset + the bytes its dims need."""
    import os
    import stat

    from onnx import helper

    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    where = f"{path}: initializer '{tensor.name}' keeps its data in external file {excerpt(location)}"
    base = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    target = os.path.join(base, location)
    if not location or os.path.isabs(location):
        raise OnnxImportError(f"{where}; it must be a path relative to the model's directory")
    if os.path.commonpath([base, os.path.realpath(target)]) != base:
        raise OnnxImportError(f"{where}, which is outside the model's directory")
    if os.path.islink(target):
        raise OnnxImportError(f"{where}, which is a symbolic link (refused, as onnx refuses it)")
    try:
        status = os.stat(target)
        itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        offset, needed = int(info.get("offset", "0")), math.prod(tensor.dims) * itemsize
        length = int(info.get("length", str(needed)))
    except FileNotFoundError:
        raise OnnxImportError(f"{where}, which does not exist") from None
    except OSError as error:
        raise OnnxImportError(f"{where}, which cannot be read: {error.strerror or error}") from None
    except (KeyError, ValueError, TypeError) as error:
        raise OnnxImportError(f"{where}, with a type or offset/length netcalc cannot read ({error})") from None
    if not stat.S_ISREG(status.st_mode):
        raise OnnxImportError(f"{where}, which is not a regular file (a device, FIFO or directory)")
    if offset < 0 or length != needed or offset + needed > status.st_size:
        raise OnnxImportError(
            f"{where}: dims {list(tensor.dims)} need {needed:,} bytes at offset {offset:,} (length {length:,}); "
            f"the file has {status.st_size:,}"
        )
    if not read:
        return None
    with open(target, "rb") as file:
        file.seek(offset)
        return file.read(needed)


# An exported layer is one node or a few (a Constant, shape plumbing); more nodes than this per allowed layer and
# the graph is refused before shape inference, whose cost grows faster than the graph (docs/limits.md).
NODES_PER_LAYER = 2


def check_size(path: str, nodes: int) -> None:
    """Refuse a graph too large to become a network of at most MAX_LAYERS layers, before any work on it."""
    from netcalc.language import spec

    if nodes > NODES_PER_LAYER * spec.MAX_LAYERS:
        raise OnnxImportError(
            f"{path}: the graph has {nodes:,} nodes; netcalc imports at most {NODES_PER_LAYER * spec.MAX_LAYERS:,} "
            f"({NODES_PER_LAYER} per layer, for networks of at most {spec.MAX_LAYERS:,} layers)"
        )


# Operators whose output has their first input's shape, whatever ONNX's shape inference manages (onnx 1.23 gives
# GroupNormalization-21 no output shape, and everything after it none either).
SHAPE_PRESERVING = frozenset(
    {
        *("GroupNormalization", "InstanceNormalization", "LayerNormalization", "BatchNormalization", "LRN"),
        *("Relu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Elu", "LeakyRelu", "PRelu", "Clip", "Gelu"),
        *("Erf", "Dropout", "Identity", "Softmax"),
    }
)


def infer_shapes(onnx: Any, model: Any, path: str) -> dict[str, tuple[int, ...]]:
    """Every value's static shape, by ONNX shape inference, in at most two runs (so linear in the graph): where it
    gives up on a shape-preserving operator (and so on everything after it), a second run sees that operator as
    an Identity, whose output is its input's shape, and every node after it gets shapes too."""
    shapes = _infer_once(onnx, model, path)
    stand_in = _with_identities(onnx, model, shapes)
    if stand_in is None:
        return shapes
    return shapes | _infer_once(onnx, stand_in, path)


def _with_identities(onnx: Any, model: Any, shapes: dict[str, tuple[int, ...]]) -> Any:
    """A copy of `model` for shape inference with each shape-preserving node whose output has no shape replaced
    by an Identity of its first input, or None when there is none. The model's large weights were emptied when
    it was read, so the copy is small."""
    missing = [
        index
        for index, node in enumerate(model.graph.node)
        if node.op_type in SHAPE_PRESERVING
        and node.domain in ("", "ai.onnx")
        and node.input
        and node.output
        and node.output[0]
        and node.output[0] not in shapes
    ]
    if not missing:
        return None
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for index in missing:
        node = copy.graph.node[index]
        x, out = node.input[0], node.output[0]
        node.ClearField("attribute")
        node.ClearField("input")
        node.ClearField("output")
        node.op_type, node.domain = "Identity", ""
        node.input.append(x)
        node.output.append(out)
    return copy


def _infer_once(onnx: Any, model: Any, path: str) -> dict[str, tuple[int, ...]]:
    """Every value's static shape, by ONNX shape inference."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as error:  # onnx.shape_inference.InferenceError and friends
        reason = str(error).strip() or f"{type(error).__name__}, with no reason given"
        raise OnnxImportError(f"{path}: ONNX shape inference failed: {reason}") from None
    shapes: dict[str, tuple[int, ...]] = {}
    for info in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        tensor_type = info.type.tensor_type
        if tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in tensor_type.shape.dim):
            shapes[info.name] = tuple(d.dim_value for d in tensor_type.shape.dim)
    return shapes


def strict_reason(model: Any, shapes: dict[str, tuple[int, ...]]) -> str:
    """Why shape inference left a value without a shape: the first error of a strict run, which the lenient run
    that gives the shapes keeps to itself (only asked when a shape is missing, so its cost is on the error path)."""
    import onnx

    stand_in = _with_identities(onnx, model, shapes) or model
    try:
        onnx.shape_inference.infer_shapes(stand_in, strict_mode=True, data_prop=True)
    except Exception as error:
        return " ".join(str(error).split()) or type(error).__name__
    return ""


def bind_input(path: str, name: str, dims: Any, input_shape: Shape | None, batch: int | None) -> list[int]:
    """(N, C, H, W) with N = 1 (figures are per sample; the analysis multiplies by --batch), H, W, C from
    `input_shape` when given; a symbolic dimension with nothing to bind it is an error naming it."""
    labels = ("N (batch)", "C", "H", "W")
    values: list[int] = []
    for i, dim in enumerate(dims):
        given = None
        if i == 0:
            given = 1 if batch is not None else None
        elif input_shape is not None:
            given = {1: input_shape[2], 2: input_shape[0], 3: input_shape[1]}[i]
        if dim.HasField("dim_value") and dim.dim_value <= 0 and given is None:
            option = "--batch N" if i == 0 else "--input HxWxC"
            raise OnnxImportError(
                f"{path}: dimension {labels[i]} of input '{name}' is {dim.dim_value}; a size must be at least 1 "
                f"(or give {option})"
            )
        if dim.HasField("dim_value") and dim.dim_value > 0:
            fixed = dim.dim_value
            if i == 0:
                values.append(1)
                continue
            if i == 1 and given is not None and given != fixed:
                raise OnnxImportError(f"{path}: --input gives {given} channels; input '{name}' has {fixed}")
            values.append(fixed if given is None else given)
            continue
        if given is None:
            symbol = dim.dim_param or "?"
            option = "--batch N" if i == 0 else "--input HxWxC"
            raise OnnxImportError(
                f"{path}: dimension {labels[i]} of input '{name}' is symbolic ('{symbol}'); give {option}"
            )
        values.append(given)
    return values
