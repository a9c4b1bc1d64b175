"""ONNX's protobuf messages, written as bytes without the `onnx` package: only the fields the exporter sets.

`verify --against onnxruntime` hands ONNX Runtime a serialised model and never needs `onnx` itself, whose import
alone takes ~0.07 s (protobuf's json_format, importlib.metadata, asyncio through onnx.helper); `netcalc export`
parses these same bytes with `onnx` to check and save them. Field numbers and enum values are onnx.proto's
(ONNX IR version 9); `tests/test_onnx_proto.py` holds them to the installed package's descriptors, and each
message to what onnx.helper builds.

Protobuf's wire format: a field is a varint key, field number << 3 | wire type (0 varint, 2 length-delimited,
5 32-bit), then its value. onnx.proto is proto2, so repeated numbers are written one key per value, unpacked,
as onnx's own serialiser does.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netcalc.lazy_numpy import np

__all__ = ["IR_VERSION", "TensorValue", "attribute", "model", "node", "tensor", "value_info"]

IR_VERSION = 9  # readable by the onnxruntime releases of the last two years
# TensorProto.DataType by NumPy dtype
DATA_TYPES = {"float32": 1, "uint8": 2, "int8": 3, "int32": 6, "int64": 7, "bool": 9, "float64": 11}
FLOAT_TYPE = DATA_TYPES["float32"]
# AttributeProto.AttributeType
FLOAT, INT, STRING, TENSOR, FLOATS, INTS, STRINGS = 1, 2, 3, 4, 6, 7, 8


@dataclass(frozen=True)
class TensorValue:
    """A tensor given as a node attribute (ConstantOfShape's `value`): its name and array."""

    name: str
    array: Any


_ONE_BYTE = [bytes([value]) for value in range(0x80)]  # the varints of 0 … 127, most of a model's


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    value &= (1 << 64) - 1  # a negative int64 is its two's complement: ten bytes
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _key(field, 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", value)


def _each(field: int, values: Iterable[bytes]) -> bytes:
    return b"".join(_bytes(field, value) for value in values)


def tensor(name: str, array: Any) -> bytes:
    """A TensorProto: dims, data type and the array's little-endian bytes as raw_data (onnx.numpy_helper's
    layout for numeric arrays)."""
    array = np.asarray(array, order="C")  # not ascontiguousarray, which makes a scalar 1-D
    data_type = DATA_TYPES.get(array.dtype.name)
    if data_type is None:
        raise ValueError(f"tensor {name}: no ONNX data type for {array.dtype}")
    dims = b"".join(_int(1, int(d)) for d in array.shape)
    raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return dims + _int(2, data_type) + _bytes(8, name) + _bytes(9, raw)


def attribute(name: str, value: Any) -> bytes:
    """An AttributeProto, its type read off the value as onnx.helper.make_attribute reads it: an int (or bool)
    INT, a float FLOAT, a str or bytes STRING, a TensorValue TENSOR, a sequence of ints INTS, of numbers FLOATS, of strs
    STRINGS."""
    head = _bytes(1, name)
    if isinstance(value, bool | int | np.integer):
        return head + _int(3, int(value)) + _int(20, INT)
    if isinstance(value, float | np.floating):
        return head + _float(2, float(value)) + _int(20, FLOAT)
    if isinstance(value, str | bytes):
        return head + _bytes(4, value) + _int(20, STRING)
    if isinstance(value, TensorValue):
        return head + _bytes(5, tensor(value.name, value.array)) + _int(20, TENSOR)
    if isinstance(value, Sequence) and value:
        items = list(value)
        if all(isinstance(v, bool | int | np.integer) for v in items):
            return head + b"".join(_int(8, int(v)) for v in items) + _int(20, INTS)
        if all(isinstance(v, bool | int | float | np.integer | np.floating) for v in items):
            return head + b"".join(_float(7, float(v)) for v in items) + _int(20, FLOATS)
        if all(isinstance(v, str) for v in items):
            return head + _each(9, (v.encode() for v in items)) + _int(20, STRINGS)
    raise ValueError(f"attribute {name}: cannot tell the ONNX type of {value!r}")


def node(
    op_type: str, inputs: Sequence[str], outputs: Sequence[str], name: str, doc: str, attrs: Mapping[str, Any]
) -> bytes:
    """A NodeProto in the default domain; attributes sorted by name and None ones left out, as onnx.helper does."""
    return (
        _each(1, (i.encode() for i in inputs))
        + _each(2, (o.encode() for o in outputs))
        + _bytes(3, name)
        + _bytes(4, op_type)
        + _each(5, (attribute(k, v) for k, v in sorted(attrs.items()) if v is not None))
        + (_bytes(6, doc) if doc else b"")
    )


def value_info(name: str, shape: Sequence[int | str]) -> bytes:
    """A ValueInfoProto of a float32 tensor; a str dimension is symbolic (dim_param)."""
    dims = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in shape)
    tensor_type = _int(1, FLOAT_TYPE) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(
    *,
    name: str,
    nodes: Sequence[bytes],
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    initializers: Sequence[bytes],
    opset: int,
    producer: str,
    doc: str,
) -> bytes:
    """A ModelProto of one graph in the default operator domain at `opset`."""
    graph = _each(1, nodes) + _bytes(2, name) + _each(5, initializers) + _each(11, inputs) + _each(12, outputs)
    opset_id = _bytes(1, "") + _int(2, opset)
    return (
        _int(1, IR_VERSION)
        + _bytes(2, producer)
        + (_bytes(6, doc) if doc else b"")
        + _bytes(7, graph)
        + _bytes(8, opset_id)
    )
