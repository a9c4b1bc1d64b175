"""The ONNX messages netcalc writes by hand (netcalc.bridges.onnx.proto), parsed by the `onnx` package and held
to what onnx.helper and onnx.numpy_helper build from the same values: the installed package is the oracle for
every field number, wire type and enum value."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto, helper, numpy_helper  # noqa: E402

from netcalc.bridges.onnx import proto  # noqa: E402


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
        np.array([0, -1, 2**40], dtype=np.int64),  # negative and wide values
        np.array(0.25, dtype=np.float32),  # a scalar stays 0-D (Dropout's ratio must be one)
        np.zeros((0, 3), dtype=np.float32),
        np.array([1.5, -2.0], dtype=np.float64),
        np.array([[1, 2]], dtype=np.int32),
        np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),  # written in C order, as its values read
    ],
    ids=["float32", "int64", "scalar", "empty", "float64", "int32", "fortran"],
)
def test_a_tensor_is_what_numpy_helper_makes(array) -> None:
    ours = TensorProto.FromString(proto.tensor("w", array))
    assert ours == numpy_helper.from_array(np.ascontiguousarray(array) if array.ndim else array, "w")
    np.testing.assert_array_equal(numpy_helper.to_array(ours), array)


@pytest.mark.parametrize(
    "value",
    [3, -1, 0, True, 2.5, -1e-5, "tanh", b"raw", [0, 2, -1, 3], (3, 3), [1.0, 0.5], [1, 2.5], ["a", "b"]],
    ids=repr,
)
def test_an_attribute_is_what_onnx_helper_makes(value) -> None:
    assert AttributeProto.FromString(proto.attribute("a", value)) == helper.make_attribute("a", value)


def test_a_tensor_attribute_is_its_tensor() -> None:
    zero = np.zeros(1, dtype=np.float32)
    ours = AttributeProto.FromString(proto.attribute("value", proto.TensorValue("zero", zero)))
    assert ours == helper.make_attribute("value", numpy_helper.from_array(zero, "zero"))
    assert ours.type == AttributeProto.TENSOR


@pytest.mark.parametrize("value", [[], None, {"a": 1}, object()], ids=repr)
def test_an_attribute_of_no_onnx_type_is_refused(value) -> None:
    with pytest.raises(ValueError, match="cannot tell the ONNX type"):
        proto.attribute("a", value)


def test_a_tensor_of_no_onnx_type_is_refused() -> None:
    with pytest.raises(ValueError, match="no ONNX data type for complex64"):
        proto.tensor("c", np.zeros(2, dtype=np.complex64))


@pytest.mark.parametrize("doc", ["", "netcalc: zero weights"])
def test_a_node_is_what_onnx_helper_makes(doc) -> None:
    attrs = {"strides": [2, 2], "pads": [1, 1, 1, 1], "group": 1, "auto_pad": None, "alpha": 0.5}
    ours = NodeProto.FromString(proto.node("Conv", ["x", "w", ""], ["y"], "conv1", doc, attrs))
    assert ours == helper.make_node("Conv", ["x", "w", ""], ["y"], name="conv1", doc_string=doc, **attrs)
    assert [a.name for a in ours.attribute] == ["alpha", "group", "pads", "strides"]  # sorted, None left out


def test_a_value_info_is_what_onnx_helper_makes() -> None:
    ours = ValueInfoProto.FromString(proto.value_info("input", ["N", 3, 0, 224]))
    assert ours == helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 0, 224])


def test_a_model_is_what_onnx_helper_makes_and_onnx_checks() -> None:
    w = np.ones((2, 3, 1, 1), dtype=np.float32)
    ours = ModelProto.FromString(
        proto.model(
            name="m",
            nodes=[proto.node("Conv", ["x", "w"], ["y"], "c", "", {"kernel_shape": [1, 1]})],
            inputs=[proto.value_info("x", [1, 3, 4, 4])],
            outputs=[proto.value_info("y", [1, 2, 4, 4])],
            initializers=[proto.tensor("w", w)],
            opset=17,
            producer="netcalc",
            doc="m",
        )
    )
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="c", kernel_shape=[1, 1])],
        "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    theirs = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="netcalc", doc_string="m"
    )
    theirs.ir_version = proto.IR_VERSION
    assert ours == theirs
    onnx.checker.check_model(ours, full_check=True)


def test_the_constants_are_onnx_s() -> None:
    assert proto.IR_VERSION <= onnx.IR_VERSION
    for dtype, code in proto.DATA_TYPES.items():
        assert helper.np_dtype_to_tensor_dtype(np.dtype(dtype)) == code
    kinds = ("FLOAT", "INT", "STRING", "TENSOR", "FLOATS", "INTS", "STRINGS")
    assert [getattr(proto, k) for k in kinds] == [getattr(AttributeProto, k) for k in kinds]


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),  # the largest one-byte varint
        (128, b"\x80\x01"),  # the smallest two-byte one: 7 low bits 0 with the continuation bit, then 1
        (300, b"\xac\x02"),  # protobuf's own example: 300 = 0b10_0101100 → 1_0101100 0_0000010
        (-1, b"\xff" * 9 + b"\x01"),  # a negative int64 is its 64-bit two's complement: ten bytes
    ],
)
def test_varints_are_protobufs_base_128_encoding(value, encoded) -> None:
    assert proto._varint(value) == encoded
