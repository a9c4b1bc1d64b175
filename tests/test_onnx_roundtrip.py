"""Export → onnx.checker → shape inference → import, for every spec in specs/: the loop, not the pieces.

Each spec runs at its own input, exported with zero weights (ConstantOfShape nodes: the file stays small and the
importer needs shapes only).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner

from netcalc.analysis.analyze import analyze_network
from netcalc.bridges.onnx.exporter import export_network, onnx_shape
from netcalc.bridges.onnx.importer import load_onnx_network
from netcalc.cli import cli
from netcalc.language.spec import load_network

ROOT = Path(__file__).parent.parent
SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml"))


def rows(report):
    figures = ("name", "kind", "inputs", "output_shape", "params", "buffers", "macs", "flops", "activation_bytes")
    return [tuple(getattr(row, f) for f in figures) for row in report.layers]


@pytest.mark.parametrize("spec", SPECS)
def test_export_check_infer_import_gives_the_spec_back(spec, tmp_path):
    network = load_network(ROOT / spec)
    model = export_network(network, weights="zeros")  # runs onnx.checker (full check) itself
    onnx.checker.check_model(model)
    report = analyze_network(network)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in inferred.graph.value_info}
    shapes.update({v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in inferred.graph.output})
    for row in report.layers:  # every layer's output is the ONNX value named after it
        assert shapes[row.name] == onnx_shape(row.output_shape, 1), row.name
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    back = load_onnx_network(path)
    assert [(layer.name, layer.kind) for layer in back.layers] == [(layer.name, layer.kind) for layer in network.layers]
    assert rows(analyze_network(back)) == rows(report)
    assert analyze_network(back).totals == report.totals


def test_export_command_writes_a_model_that_imports(tmp_path):
    out = tmp_path / "resnet18.onnx"
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "specs/resnet18.yaml", "-o", str(out), "--input", "32x32x3"])
    assert result.exit_code == 0, result.stderr
    model = onnx.load(str(out))
    assert model.graph.node[0].name == "conv1" and model.graph.node[0].op_type == "Conv"
    assert len(model.graph.initializer) > 0 and model.graph.initializer[0].raw_data  # seeded weights, not zeros
    summary = runner.invoke(cli, ["summary", str(out), "--format", "csv"])
    assert summary.exit_code == 0 and "layer2.first.conv1" in summary.stdout


def test_export_of_a_kind_onnx_cannot_express_is_one_line(tmp_path):
    spec = tmp_path / "odd.yaml"
    spec.write_text("input: 8x8x4\nlayers:\n  - {kind: multiply, name: cube, from: [input, input, input]}\n")
    result = CliRunner().invoke(cli, ["export", str(spec), "-o", str(tmp_path / "odd.onnx")])
    assert result.exit_code == 2
    assert "layer 'cube': ONNX export of multiply takes two inputs of equal rank" in result.stderr
