"""Shared helpers: analyse a small spec written inline, pick a layer's row."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

import netcalc
from netcalc.analysis.report import LayerRow, Report


def one_layer(kind: str, input_shape: tuple[int, ...], **attrs: Any) -> LayerRow:
    """The row of a single layer of `kind` applied to `input_shape` (H, W, C)."""
    layer = {"kind": kind, "name": "x", **attrs}
    spec = {"input": list(input_shape), "layers": [layer]}
    return netcalc.analyze(json.dumps(spec)).layers[-1]


def row(report: Report, name: str) -> LayerRow:
    for r in report.layers:
        if r.name == name:
            return r
    raise KeyError(f"no layer {name!r}; layers: {[r.name for r in report.layers]}")


# a network with a layer of kind `unknown` (counted 0, so its figures and the totals are lower bounds): c, a 1×1
# conv 3→4 on 8×8 (params 3·4 + 4, MACs 8·8·4·3), then `mystery`
UNKNOWN_SPEC = """\
name: unkb
input: 8x8x3
layers:
  - {kind: conv, name: c, out: 4, kernel: 1}
  - {kind: unknown, name: mystery, op: HugeOp, shape: [8, 8, 4]}
"""


@pytest.fixture
def write_spec(tmp_path):
    """Write YAML text to a file in tmp_path and return its path as a string."""

    def write(text: str, name: str = "spec.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def without_module(monkeypatch):
    """Make `import NAME` (and its submodules) fail as if the package were not installed."""
    import builtins
    import sys

    real_import = builtins.__import__

    def hide(name: str) -> None:
        def fake_import(module, *args, **kwargs):
            if module == name or module.startswith(name + "."):
                raise ImportError(module)
            return real_import(module, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", fake_import)
        monkeypatch.delitem(sys.modules, name, raising=False)

    return hide


def traced_peak(call: Callable[[], Any]) -> int:
    """The peak tracemalloc sees during `call()`, after an untraced first call: modules it imports lazily are
    code, not the pass's memory."""
    call()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
