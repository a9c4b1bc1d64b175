"""The pointwise and normalisation kinds through the CLI and the engine: a small network using every one of them
verifies in training and inference mode, `netcalc kinds` shows them, bad input is one located line and exit 2,
and stochastic depth follows torchvision's semantics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import netcalc
from netcalc.cli import cli
from netcalc.reference.engine import random_input, run
from netcalc.reference.verify import compare

SPEC = str(Path(__file__).parent / "data" / "pointwise_net.yaml")
NEW_KINDS = (
    "hardsigmoid", "hardswish", "silu", "gelu", "elu", "prelu", "multiply", "scale", "stochastic_depth", "identity",
    "groupnorm", "instancenorm", "layernorm",
)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "160", "NO_COLOR": "1"})


def test_the_spec_uses_every_new_kind_and_every_new_fused_activation() -> None:
    network = netcalc.load_network(SPEC)
    assert set(NEW_KINDS) <= {layer.kind for layer in network.layers}
    fused = {layer.attrs.get("activation") for layer in network.layers}
    assert {"hardswish", "hardsigmoid", "silu", "gelu", "elu", "prelu"} <= fused


@pytest.mark.parametrize(
    "options",
    [
        ["--dtype", "float64", "--batch", "3", "--gradcheck", "6"],  # training: batch statistics, drop-path masks
        ["--no-backward"],  # inference: stochastic depth is the identity
        ["--batch", "2"],  # float32, training
    ],
)
def test_verify_passes(options: list[str]) -> None:
    result = invoke("verify", SPEC, "--format", "json", *options)
    assert result.exit_code == 0, result.output[-3000:]
    data = json.loads(result.stdout)  # stderr warns: prelu_shared only ever sees x ≥ 0 (after silu of hardswish)
    assert data["ok"] and data["totals"]["failed"] == []
    assert data["totals"]["counted_macs"] == data["totals"]["analysed_macs"] > 0


def test_engine_runs_train_and_eval_and_eval_is_deterministic() -> None:
    network = netcalc.load_network(SPEC)
    for train in (True, False):
        result = run(network, batch=2, dtype="float64", train=train, gradcheck=3, seed=3)
        verification = compare(netcalc.analyze(network, batch=2, dtype="float64"), result, gradcheck=3)
        assert verification.ok, [(c.name, c.disagreements) for c in verification.failed]
    once = run(network, batch=2, dtype="float64", train=False, backward=False, seed=1).output
    again = run(network, batch=2, dtype="float64", train=False, backward=False, seed=1).output
    np.testing.assert_array_equal(once, again)


def stochastic_depth_output(p: float, mode: str, train: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    spec = f"input: 2x2x3\nlayers:\n  - {{kind: stochastic_depth, name: sd, p: {p}, mode: {mode}}}\n"
    network = netcalc.parse_network_text(spec)
    x = random_input(network, 64, seed, "float64")
    return x, run(network, batch=64, dtype="float64", train=train, backward=False, x=x, seed=seed).output


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_is_the_identity_at_inference(mode: str) -> None:
    x, y = stochastic_depth_output(0.5, mode, train=False)
    np.testing.assert_array_equal(y, x)


def test_stochastic_depth_row_mode_drops_whole_samples_and_scales_the_rest() -> None:
    x, y = stochastic_depth_output(0.25, "row", train=True)
    kept = [bool(np.any(y[n])) for n in range(64)]
    for n in range(64):  # each sample is either zero or x / (1 − p), as a whole
        np.testing.assert_allclose(y[n], x[n] / (1 - 0.25) if kept[n] else 0 * x[n])
    assert 0 < sum(kept) < 64  # 64 draws of keep-probability 0.75: some of each (seed 0)


def test_stochastic_depth_batch_mode_keeps_or_drops_the_whole_batch() -> None:
    outcomes = set()
    for seed in range(8):
        x, y = stochastic_depth_output(0.5, "batch", train=True, seed=seed)
        if np.any(y):
            np.testing.assert_allclose(y, x / (1 - 0.5))
            outcomes.add("kept")
        else:
            outcomes.add("dropped")
    assert outcomes == {"kept", "dropped"}


def test_stochastic_depth_with_p_1_drops_everything_unscaled() -> None:
    _, y = stochastic_depth_output(1.0, "row", train=True)
    assert not np.any(y)


def test_kinds_lists_every_new_kind() -> None:
    result = invoke("kinds")
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.splitlines() if line.strip()}
    assert set(NEW_KINDS) <= listed


@pytest.mark.parametrize(
    ("kind", "fragments"),
    [
        ("gelu", ["FLOPs: 1 per element", "approximate", "(default none)"]),
        ("prelu", ["shared", "(default false)"]),
        ("groupnorm", ["FLOPs: 5 per element, + 2 with affine", "groups", "(required)", "eps", "(default 1e-05)"]),
        ("instancenorm", ["affine", "(default false)"]),
        ("layernorm", ["affine", "(default true)"]),
        ("stochastic_depth", ["FLOPs: none (the identity at inference)", "mode", "(default row)"]),
        ("multiply", ["inputs: two or more", "FLOPs: (inputs − 1) multiplies per output element"]),
        ("scale", ["FLOPs: 1 per element (a multiply)"]),
        ("conv", ["hardswish", "gelu", "prelu"]),
    ],
)
def test_kinds_describes_each(kind: str, fragments: list[str]) -> None:
    result = invoke("kinds", kind)
    assert result.exit_code == 0
    for fragment in fragments:
        assert fragment in result.output, result.output


HEAD = "input: 8x8x16\nlayers:\n  - {kind: conv, name: a, out: 16, kernel: 1}\n  - global_avgpool\n"


@pytest.mark.parametrize(
    ("layer", "line", "fragment"),
    [
        ("  - {kind: maxpool, name: q, kernel: 2, from: a}\n  - {kind: multiply, from: [a, global_avgpool1, q]}\n", 6,
         "layer 'multiply1': multiply needs inputs of the same shape, or a 1×1×C (or flat C) gate over an H×W×C map, "
         "got 8×8×16, 1×1×16, 4×4×16"),
        ("  - {kind: groupnorm, groups: 5, from: a}\n", 5, "groupnorm: groups 5 must divide the channels 16"),
        ("  - {kind: gelu, approximate: erf}\n", 5, "approximate: expected one of none, tanh, got 'erf'"),
        ("  - {kind: prelu, shared: 1}\n", 5, "shared: expected true or false, got 1"),
        ("  - {kind: conv, out: 4, kernel: 1, activation: swish}\n", 5, "activation: expected one of"),
        ("  - {kind: stochastic_depth, p: 2}\n", 5, "p: expected a number ≥ 0.0 and ≤ 1.0, got 2"),
        ("  - flatten\n  - instancenorm\n", 6, "instancenorm needs an H×W×C input, got the flat vector 16"),
        ("  - {kind: layernorm, gamma: 1}\n", 5, "unknown"),
    ],
)
def test_bad_input_is_one_located_line_and_exit_2(write_spec, layer: str, line: int, fragment: str) -> None:
    path = write_spec(HEAD + layer)
    result = CliRunner().invoke(cli, ["summary", path])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"netcalc: error: {path}:{line}: "), message
    assert fragment in message, message
