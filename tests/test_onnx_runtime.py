"""`netcalc verify --against onnxruntime`: every zoo spec's values agree with ONNX Runtime at a reduced input,
and each of the three bugs of issue 8, planted in the reference pass, makes it fail naming the layer."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcalc.bridges.onnx.runtime import RTOL, verify_against_onnxruntime
from netcalc.cli import cli
from netcalc.kinds import REGISTRY
from netcalc.language.spec import load_network, parse_network_text
from netcalc.render.verify import CROSS

ROOT = Path(__file__).parent.parent
SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml"))
# H×W of the reduced input (32×32), a network's own channels kept; the strided stems of AlexNet and ZFNet and
# the valid convolutions of U-Net need more; LeNet-5 keeps its own.
REDUCED = {"lenet5": None, "unet": 188, "alexnet_original": 67, "alexnet": 64, "zfnet": 64}


def reduced(spec: str):
    full = load_network(ROOT / spec)
    side = REDUCED.get(Path(spec).stem, 32)
    return full if side is None else load_network(ROOT / spec, input_shape=(side, side, full.input_shape[2]))


@pytest.mark.parametrize("spec", SPECS)
def test_every_zoo_spec_agrees_with_onnxruntime(spec):
    result = verify_against_onnxruntime(reduced(spec))
    assert result.ok, [(c.name, c.max_error, c.allowed) for c in result.failed]
    assert len(result.layers) == len(reduced(spec).layers)


# A small network with one layer of each planted bug: an average pool whose padding the divisor counts, a
# batch norm, and a flatten before a fully connected layer.
PLANTED = """
name: planted
input: 9x9x4
layers:
  - {kind: conv, name: conv, out: 8, kernel: 3, padding: 1}
  - {kind: batchnorm, name: bn}
  - {kind: avgpool, name: pool, kernel: 3, stride: 2, padding: 1}
  - {kind: flatten, name: flat}
  - {kind: fc, name: fc, out: 10}
"""


def plant(monkeypatch, kind: str, forward) -> None:
    monkeypatch.setitem(REGISTRY, kind, replace(REGISTRY[kind], forward=forward))


def avgpool_flipped(xs, params, attrs, train):
    flipped = {**attrs, "count_include_pad": not attrs["count_include_pad"]}
    return REGISTRY_ORIGINAL["avgpool"].forward(xs, params, flipped, train)


def batchnorm_without_eps(xs, params, attrs, train):
    return REGISTRY_ORIGINAL["batchnorm"].forward(xs, params, {**attrs, "eps": 0.0}, train)


def flatten_hwc(xs, params, attrs, train):
    x = xs[0]
    return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1), x.shape


REGISTRY_ORIGINAL = dict(REGISTRY)
BUGS = [
    ("avgpool", avgpool_flipped, "pool"),
    ("batchnorm", batchnorm_without_eps, "bn"),
    ("flatten", flatten_hwc, "flat"),
]


def test_the_planted_network_agrees_without_bugs():
    result = verify_against_onnxruntime(parse_network_text(PLANTED))
    assert result.ok
    assert max(c.max_error / c.allowed for c in result.layers) < 0.5


@pytest.mark.parametrize(("kind", "bug", "layer"), BUGS, ids=[b[0] for b in BUGS])
def test_each_planted_bug_fails_naming_its_layer(monkeypatch, tmp_path, kind, bug, layer):
    plant(monkeypatch, kind, bug)
    spec = tmp_path / "planted.yaml"
    spec.write_text(PLANTED)
    plain = CliRunner().invoke(cli, ["verify", str(spec), "--no-backward"])
    # shapes and counts cannot see a wrong value; the H,W,C flatten shows only as a copy where a view belongs
    assert plain.exit_code == (1 if kind == "flatten" else 0)
    assert f"{CROSS} 800 ≠ 1,600" in plain.stdout if kind == "flatten" else True
    result = CliRunner().invoke(cli, ["verify", str(spec), "--against", "onnxruntime"], env={"COLUMNS": "160"})
    assert result.exit_code == 1, result.stdout
    assert f"layer '{layer}' ({kind}): worst element [" in result.stdout
    assert "onnxruntime " in result.stdout and "reference " in result.stdout
    data = json.loads(
        CliRunner().invoke(cli, ["verify", str(spec), "--against", "onnxruntime", "--format", "json"]).stdout
    )
    assert data["failed"][0] == layer  # the first layer to disagree is the buggy one (the next get its inputs)
    bad = next(row for row in data["layers"] if row["name"] == layer)
    assert bad["max_error"] > bad["allowed"] and bad["onnxruntime"] != bad["reference"]


def test_tolerance_is_stated_in_the_json(tmp_path):
    spec = tmp_path / "planted.yaml"
    spec.write_text(PLANTED)
    result = CliRunner().invoke(cli, ["verify", str(spec), "--against", "onnxruntime", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] and data["against"].startswith("onnxruntime ") and str(RTOL) in data["tolerance"]


def test_the_value_check_needs_no_onnx_package(tmp_path):
    # the model is written by netcalc.bridges.onnx.proto: with `onnx` unimportable the check runs all the same
    import subprocess
    import sys

    spec = tmp_path / "planted.yaml"
    spec.write_text(PLANTED)
    script = (
        "import sys\nsys.modules['onnx'] = None  # any import of onnx now fails\nfrom netcalc.cli import run\n"
        f"sys.argv = ['netcalc', 'verify', {str(spec)!r}, '--against', 'onnxruntime', '--format', 'json']\nrun()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"]


def test_missing_onnxruntime_says_how_to_install(without_module, tmp_path):
    without_module("onnxruntime")
    spec = tmp_path / "planted.yaml"
    spec.write_text(PLANTED)
    result = CliRunner().invoke(cli, ["verify", str(spec), "--against", "onnxruntime"])
    assert result.exit_code == 2
    assert 'needs the `onnxruntime` package: pip install "netcalc[onnx]"' in result.stderr


# --- one layer's comparison, on arrays written out here ---


def test_the_scale_is_the_largest_magnitude_a_negative_value_included():
    import numpy as np

    from netcalc.bridges.onnx.runtime import _compare, _largest

    assert _largest(np.array([[-0.5, 2.0]], dtype=np.float32)) == 2.0
    assert _largest(np.array([[-3.0, 2.0]], dtype=np.float32)) == 3.0
    assert _largest(np.zeros((0, 4), dtype=np.float32)) == 0.0
    reference = np.array([[-8.0, 1.0]], dtype=np.float32)
    got = np.array([[-8.0, 1.0 + 2**-10]], dtype=np.float32)
    check = _compare("l", "relu", reference, got, [2.0], macs_per_element=3)
    assert check.scale == 8.0  # |−8|, larger than the input's 2 and the output's 1
    assert check.allowed == RTOL * (1 + 3**0.5) * 8.0
    assert check.max_error == 2**-10 and check.index == (0, 1)
    assert (check.ort, check.reference) == (1.0 + 2**-10, 1.0)
    assert _compare("l", "add", reference, got, [2.0, 16.0], macs_per_element=3).scale == 16.0  # an input's


def test_each_tensor_is_scanned_once_for_its_magnitude_and_the_network_analysed_once(monkeypatch):
    # a residual input is read by two layers (the branch's conv and the add); its magnitude is worked out once,
    # and the export reads the check's own analysis
    import netcalc.analysis.analyze as analyze
    import netcalc.bridges.onnx.runtime as runtime

    scanned: list[tuple[int, ...]] = []
    largest = runtime._largest
    monkeypatch.setattr(runtime, "_largest", lambda a: scanned.append(a.shape) or largest(a))
    analysed: list[str] = []
    analyze_network = analyze.analyze_network
    monkeypatch.setattr(analyze, "analyze_network", lambda n, **k: analysed.append(n.name) or analyze_network(n, **k))
    network = parse_network_text(
        "name: r\ninput: 4x4x2\nlayers:\n  - {kind: conv, name: c, out: 2, kernel: 1}\n"
        "  - {kind: add, name: a, from: [input, c]}\n",
        "r.yaml",
    )
    assert verify_against_onnxruntime(network).ok
    # the input and c once each as inputs, and each layer's reference output once
    assert sorted(scanned) == sorted([(1, 2, 4, 4)] * 4)
    assert analysed == ["r"]


def test_a_nan_from_onnxruntime_is_an_infinite_error_at_its_index():
    import numpy as np

    from netcalc.bridges.onnx.runtime import _compare

    reference = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    got = np.array([[1.0, np.nan, 30.0]], dtype=np.float32)  # the NaN is the worst, though 27 is larger
    check = _compare("l", "relu", reference, got, [3.0], macs_per_element=0)
    assert check.max_error == float("inf") and check.index == (0, 1) and not check.ok


# --- the check's own memory: refused up front, like the reference pass (issue 9, class 3) ---

# A subprocess's own peak, from the moment this preamble ends: VmHWM after writing 5 to clear_refs (ru_maxrss
# would carry over the resident memory of the pytest process that forked it). Every module the check may load is
# imported first and the heap their compiling freed is given back, so neither sets the peak nor lends the check
# pages already resident (a mutation tool's instrumented copies compile to hundreds of megabytes).
FRESH_PEAK = """\
import ctypes, gc, importlib, pkgutil
import numpy, onnx, onnxruntime
import netcalc.bridges.onnx, netcalc.kinds, netcalc.reference
for package in (netcalc.bridges.onnx, netcalc.kinds, netcalc.reference):
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
gc.collect()
ctypes.CDLL(None).malloc_trim(0)
open("/proc/self/clear_refs", "w").write("5")
def status(key):
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(key))
"""

# one 3×3 conv on a 2048×2048×128 input: 2 GiB, and 1 GiB of output (its 18 GiB of columns come 9 MiB at a time)
HUGE = "name: huge\ninput: 2048x2048x128\nlayers:\n  - {kind: conv, out: 64, kernel: 3, padding: 1}\n"


def test_a_check_too_big_for_the_limit_is_refused_before_anything_is_allocated(tmp_path):
    import resource
    import subprocess
    import sys

    spec = tmp_path / "huge.yaml"
    spec.write_text(HUGE)
    script = (
        f"import sys\nfrom netcalc.cli import cli\n{FRESH_PEAK}imported = status('VmRSS') // 1024\n"
        f"argv = ['verify', {str(spec)!r}, '--against', 'onnxruntime', '--max-memory', '4GiB']\n"
        # the command itself, not the console entry point `run`, which ends the process before `finally`
        "try:\n    cli(argv, prog_name='netcalc')\n"
        "finally:\n    print(status('VmHWM') // 1024 - imported, file=sys.stderr)\n"
    )
    limit = 2 << 30  # an address-space cap: an allocation that slipped through would fail, not swap
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
    )
    message, growth = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    # input 2 GiB + output 1 GiB + the reference output and its difference 2 GiB + a band of columns (9 MiB)
    assert message.startswith("netcalc: error: the ONNX Runtime value check would need about 5.0")
    assert "4.00 GiB" in message
    assert "largest buffer 1.00 GiB in 'conv1'" in message
    assert int(growth) < 300 << 10  # KiB: the refusal came before any of it was allocated


def test_the_value_check_estimate_by_hand():
    from netcalc.analysis.analyze import analyze_network
    from netcalc.reference.memory import LAYER_SLACK, SESSION_BYTES, SLACK, estimate_value_check_memory

    network = parse_network_text(
        "name: m\ninput: 8x8x3\nlayers:\n  - {kind: conv, out: 4, kernel: 3, padding: 1}\n  - relu\n"
        "  - {kind: conv, out: 2, kernel: 1}\n",
        "m.yaml",
    )
    estimate = estimate_value_check_memory(network, analyze_network(network))
    held = 8 * 8 * 3 * 4 + 8 * 8 * 4 * 4 * 2 + 8 * 8 * 2 * 4  # input, conv1 and relu outputs, conv2 output
    weights = (4 * 3 * 9 + 4 + 2 * 4 + 2) * 4
    # the worst layer is conv1: its 3·9 × 64 columns copied (conv2's 1×1 columns are its input), its reference
    # output and their difference (relu would need only its input, output, reference and difference: 4 KiB);
    # im2col pads the input's 3 channels to 10×10 in one block beside the columns
    worst = 3 * 9 * 64 * 4 + 3 * 10 * 10 * 4 + 2 * 8 * 8 * 4 * 4
    assert estimate.peak == held + weights + worst + SESSION_BYTES + SLACK + 3 * LAYER_SLACK
    assert (estimate.phase, estimate.layer, estimate.weights) == ("forward", "conv1", weights)
    assert (estimate.largest_buffer, estimate.largest_buffer_layer) == (3 * 9 * 64 * 4, "conv1")  # its columns

    # a batch norm's running mean and variance are held beside γ and β: 4 channels, four vectors
    network = parse_network_text("name: m\ninput: 8x8x4\nlayers: [batchnorm]\n", "m.yaml")
    estimate = estimate_value_check_memory(network, analyze_network(network))
    assert estimate.weights == 4 * 4 * 4

    # without a convolution the worst layer is the one with the largest input + output + reference + difference
    network = parse_network_text("name: m\ninput: 8x8x4\nlayers:\n  - relu\n  - maxpool\n", "m.yaml")
    estimate = estimate_value_check_memory(network, analyze_network(network))
    act = 8 * 8 * 4 * 4  # the input and relu's output; the 4×4 max pool's is a quarter of it
    assert estimate.peak == act + act + act // 4 + 4 * act + SESSION_BYTES + SLACK + 2 * LAYER_SLACK
    assert estimate.layer == "relu1"


@pytest.mark.parametrize("side", [256, 384])
def test_the_value_check_estimate_covers_the_measured_peak(side):
    """The peak resident memory the check adds, measured in a fresh process (ONNX Runtime's arrays are not
    visible to tracemalloc), lies under the estimate and within 1.3× of it."""
    import subprocess
    import sys

    script = f"""
from netcalc.analysis.analyze import analyze_network
from netcalc.bridges.onnx.runtime import verify_against_onnxruntime
from netcalc.language.spec import parse_network
from netcalc.reference.memory import estimate_value_check_memory
spec = {{"name": "m", "input": "{side}x{side}x16", "layers": [
    {{"kind": "conv", "out": 32, "kernel": 3, "padding": 1}}, "relu", "maxpool",
    {{"kind": "conv", "out": 64, "kernel": 3, "padding": 1}}, "batchnorm", "relu", "global_avgpool", "flatten",
    "fc-10"]}}
network = parse_network(spec, "m.yaml")
estimate = estimate_value_check_memory(network, analyze_network(network)).peak
{FRESH_PEAK}rss = status("VmRSS")
assert verify_against_onnxruntime(network).ok
print(estimate, status("VmHWM") - rss)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    estimate, measured = map(int, result.stdout.split())
    assert measured <= estimate <= 1.3 * measured
