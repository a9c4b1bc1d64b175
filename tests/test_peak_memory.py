"""Peak inference memory by tensor lifetime, and training memory, derived by hand."""

from __future__ import annotations

from pathlib import Path

import netcalc

HERE = Path(__file__).parent
SPECS = HERE.parent / "specs"


def test_tiny_net_peak_by_hand():
    report = netcalc.analyze_file(HERE / "data" / "tiny_net.yaml")
    live = {row.name: row.live_bytes for row in report.layers}
    image, act = 32 * 32 * 3 * 4, 32 * 32 * 16 * 4
    assert live["stem"] == image + act  # the input lives until its only reader, the stem, has run
    # res.0.bn: the block input (read again by the add), the conv's output it reads, and its own output
    assert live["res.0.bn"] == 3 * act
    # the add writes over bn's output (nothing reads it later); relu writes over the add's: no new tensor
    assert live["res.0.add"] == 2 * act and live["res.0.relu"] == act
    assert report.totals.live_bytes == 3 * act and report.peak_layer() == "res.0.bn"
    assert live["pool"] == act + 16 * 16 * 16 * 4
    # the flatten is a view of the global pool's output: 16 floats counted once
    assert live["flatten1"] == 16 * 4 and live["head"] == 16 * 4 + 10 * 4


def test_writing_relu_as_its_own_row_does_not_change_the_peak():
    body = "name: n\ninput: 64x64x3\nlayers:\n"
    fused = body + "".join(
        f"  - {{kind: conv, name: c{i}, out: 32, kernel: 3, padding: 1, activation: relu}}\n" for i in range(4)
    )
    rows = "".join(
        f"  - {{kind: conv, name: c{i}, out: 32, kernel: 3, padding: 1}}\n  - {{kind: relu, name: r{i}}}\n"
        for i in range(4)
    )
    a, b = netcalc.analyze(fused), netcalc.analyze(body + rows)
    assert b.totals.activation_bytes == 2 * a.totals.activation_bytes  # the sum of outputs doubles …
    assert b.totals.live_bytes == a.totals.live_bytes == 2 * 64 * 64 * 32 * 4  # … the peak does not


def test_vgg16_peak_is_the_first_two_convs():
    report = netcalc.analyze_file(SPECS / "vgg16.yaml")
    # conv1_2 runs while conv1_1's 224×224×64 output is alive and writes its own
    assert report.totals.live_bytes == 2 * 224 * 224 * 64 * 4
    assert report.peak_layer() == "stage1.conv.1"
    # the sum of every output (the old headline) is far larger
    assert report.totals.activation_bytes > 2 * report.totals.live_bytes


def test_training_memory_parts_per_optimizer():
    spec = SPECS / "examples/stack_3x3_vs_7x7/three_3x3.yaml"
    params = 3 * 3 * 3 * 64 * 64
    sgd = netcalc.analyze_file(spec)
    adam = netcalc.analyze(netcalc.load_network(spec), optimizer="adam")
    assert adam.training.optimizer_state == 2 * params * 4 and sgd.training.optimizer_state == 0
    assert adam.totals.training_bytes - sgd.totals.training_bytes == 2 * params * 4
    half = netcalc.analyze(netcalc.load_network(spec), dtype="float16", optimizer="adam")
    t = half.training
    # mixed precision: fp16 weights and gradients, fp32 master weights and Adam moments — 16 bytes a parameter
    assert t.weights + t.gradients + t.master + t.optimizer_state == 16 * params
    # saved for backward: each conv keeps its input (56×56×64); the first conv's input is the network input
    assert sgd.totals.saved_bytes == 3 * 56 * 56 * 64 * 4


def test_backward_macs_skip_the_first_input_gradient():
    report = netcalc.analyze_file(SPECS / "examples/stack_3x3_vs_7x7/three_3x3.yaml")
    forward = 56 * 56 * 64 * (3 * 3 * 64)
    first, *rest = report.layers
    assert (first.backward_input_macs, first.backward_weight_macs, first.skipped_input_macs) == (0, forward, forward)
    assert all((r.backward_input_macs, r.backward_weight_macs) == (forward, forward) for r in rest)
    assert report.totals.backward_macs == 5 * forward
    assert report.totals.backward_flops == 2 * 5 * forward  # no bias, no activation: MACs only


def verified(spec: Path, backward: bool):
    from netcalc.reference.engine import run
    from netcalc.reference.verify import compare

    network = netcalc.load_network(spec)
    report = netcalc.analyze_network(network)
    return report, compare(report, run(network, backward=backward), backward=backward)


EXAMPLES = [
    HERE / "data" / "tiny_net.yaml",
    SPECS / "examples/resnet_bottleneck.yaml",
    SPECS / "examples/inception_naive.yaml",
]


def test_the_reference_pass_measures_the_analysed_live_bytes_layer_by_layer():
    for spec in EXAMPLES:
        report, verification = verified(spec, backward=False)
        assert all(check.live_bytes is not None and check.live_bytes.ok for check in verification.layers), spec
        assert verification.peak.measured == report.totals.live_bytes


def test_a_wrong_live_figure_is_caught():
    from dataclasses import replace

    from netcalc.reference.engine import run
    from netcalc.reference.verify import compare

    network = netcalc.load_network(EXAMPLES[0])
    report = netcalc.analyze_network(network)
    wrong = replace(
        report, layers=(replace(report.layers[0], live_bytes=report.layers[0].live_bytes - 4), *report.layers[1:])
    )
    verification = compare(wrong, run(network, backward=False), backward=False)
    assert not verification.ok and verification.failed[0].disagreements == ("live_bytes",)


def test_backward_macs_are_counted_per_layer():
    report, verification = verified(EXAMPLES[1], backward=True)
    assert verification.ok
    for row, check in zip(report.layers, verification.layers):
        # the reference also computes the input gradient a training step skips (the first layer's)
        assert check.backward.measured == row.backward_input_macs + row.skipped_input_macs + row.backward_weight_macs
