"""`netcalc graph`: DOT, Mermaid and SVG name every layer and every edge, and survive hostile names."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from click.testing import CliRunner

import netcalc
from netcalc.cli import cli
from netcalc.render.graph import to_dot, to_mermaid, to_svg

SPEC = "specs/examples/resnet_bottleneck.yaml"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_dot_has_a_node_per_layer_and_an_edge_per_input():
    report = netcalc.analyze_file(SPEC)
    dot = to_dot(report)
    assert dot.startswith('digraph "resnet_bottleneck" {')
    for r in report.layers:
        assert f'"{r.name}" [label=' in dot
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)";$', dot, flags=re.M)
    assert sorted(edges) == sorted((i, r.name) for r in report.layers for i in r.inputs)
    # the residual add reads the block input and bn3
    assert ("input", "add") in edges and ("bn3", "add") in edges


def test_mermaid_uses_safe_ids_and_keeps_names_in_labels():
    report = netcalc.analyze_file(SPEC)
    text = to_mermaid(report)
    assert text.splitlines()[0] == "flowchart TD"
    assert 'n1["conv1<br/>conv · 56×56×64<br/>51.38M MACs"]' in text  # 56·56·64·(1·1·256) = 51,380,224
    assert len(re.findall(r"^  n\d+ --> n\d+$", text, flags=re.M)) == sum(len(r.inputs) for r in report.layers)


def test_svg_is_well_formed_and_draws_every_layer(write_spec):
    path = write_spec('input: 8x8x3\nlayers:\n  - {kind: conv, name: "a<b>&\\"c", out: 4, kernel: 3}\n  - relu\n')
    report = netcalc.analyze_file(path)
    root = ET.fromstring(to_svg(report))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert 'a<b>&"c' in texts and "relu1" in texts and "input" in texts
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) == 2  # input → a…, a… → relu1


def test_hostile_names_cannot_break_out_of_dot_or_mermaid(write_spec):
    path = write_spec('input: 8x8x3\nlayers:\n  - {kind: relu, name: "x\\"];evil"}\n')
    report = netcalc.analyze_file(path)
    assert '"x\\"];evil" [label=' in to_dot(report)
    assert '"x#quot;];evil' in to_mermaid(report)


def test_graph_command_writes_each_format_and_a_file(tmp_path):
    for fmt, start in (("dot", "digraph"), ("mermaid", "flowchart TD"), ("svg", "<svg")):
        result = run("graph", SPEC, "--format", fmt)
        assert result.exit_code == 0, result.output
        assert result.output.startswith(start)
    out = tmp_path / "g.svg"
    result = run("graph", SPEC, "--format", "svg", "-o", str(out))
    assert result.exit_code == 0 and out.read_text().startswith("<svg")


def test_graph_of_a_missing_spec_is_one_line_and_exit_2():
    result = run("graph", "no/such.yaml")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no such file" in result.output
