"""`unknown`: a stand-in for an operator netcalc cannot model (made only by `netcalc import --allow-unknown`).

It carries the operator's name and the output shape the source format gave, so the layers after it can still
be analysed; its own parameters, MACs and FLOPs are not known. It counts as zero, and the kind is `partial`:
every report marks its row and its totals as partial (a lower bound), so it is never a silent zero.
"""

from __future__ import annotations

from typing import Any

from netcalc.errors import AttrError
from netcalc.kinds.base import Attr, Attrs, LayerKind
from netcalc.shapes import Shape


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise AttrError(f"expected the operator's name, got {value!r}")
    return value


def _shape(value: Any) -> tuple[int, ...]:
    ok = isinstance(value, (list, tuple)) and len(value) in (1, 3)
    if not ok or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value):
        raise AttrError(f"expected an output shape [H, W, C] or [F], got {value!r}")
    return tuple(value)


def unknown_output_shape(attrs: Attrs, ins: tuple[Shape, ...]) -> Shape:
    return tuple(attrs["shape"])


KINDS = (
    LayerKind(
        name="unknown",
        summary="an operator netcalc cannot model: its output shape as given, its figures unknown (partial)",
        output_shape=unknown_output_shape,
        attrs=(
            Attr("op", _text, doc="the operator it stands for, e.g. an ONNX op type"),
            Attr("shape", _shape, doc="its output shape, [H, W, C] or [F]"),
        ),
        flops_rule="unknown: counted as 0, and every total is marked partial",
        partial=True,
    ),
)
