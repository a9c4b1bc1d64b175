"""Hostile input through the CLI (issue 9): every case ends in a correct result, or exit 2 with exactly one line of
at most a few hundred characters, never a traceback, a hang or a result code (0/1) that a broken run did not earn.

The classes follow the issue: 1 numbers, 3 files, 4 includes, 5 output, 6 messages, 7 scale (expressions, class 2,
and the verify engine, classes 3's memory estimate, 8 and 9, have their own tests). Stream cases (closed or full
stdout/stderr) run real subprocesses; the rest use CliRunner. The bounds are stated in docs/limits.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcalc.cli import cli

MAX_MESSAGE = 400  # "a few hundred characters"
TINY = "input: 8x8x3\nlayers:\n  - {kind: conv, name: c, out: 4, kernel: 3, padding: 1}\n  - {kind: relu, name: r}\n"
# c: 3·3·3·4 + 4 = 112 params; 8·8·4·27 = 6912 MACs; 8·8·4·4 B = 1 KiB of activations per layer


def invoke(*args: str, columns: int = 120) -> object:
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "1"})


def assert_one_line_error(result, fragment: str = "") -> str:
    """Exit 2, nothing on stdout, one `netcalc: error:` line of bounded length on stderr, containing `fragment`."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    message = result.stderr
    assert message.startswith("netcalc: error: ") and message.endswith("\n"), message
    assert message.count("\n") == 1 and len(message) <= MAX_MESSAGE, message
    assert "Traceback" not in message
    assert fragment in message, message
    assert result.stdout == ""
    return message


@pytest.fixture
def spec(tmp_path):
    def write(text: str | bytes, name: str = "spec.yaml") -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return str(path)

    return write


# --- class 1: numbers ---

NON_FINITE = [
    ("batchnorm", "eps", ".nan"),
    ("batchnorm", "eps", ".inf"),
    ("batchnorm", "momentum", ".nan"),
    ("dropout", "p", ".nan"),
    ("leaky_relu", "negative_slope", ".inf"),
    ("leaky_relu", "negative_slope", "-.inf"),
    ("lrn", "alpha", ".nan"),
    ("lrn", "beta", ".inf"),
    ("lrn", "k", ".nan"),
    ("batchnorm", "eps", "1e400"),
]


@pytest.mark.parametrize(("kind", "attr", "value"), NON_FINITE)
def test_non_finite_reals_are_refused_in_layers_and_in_defaults(spec, kind, attr, value):
    extra = ", size: 3" if kind == "lrn" else ""
    layer = f"input: 8x8x3\nlayers:\n  - {{kind: {kind}, {attr}: {value}{extra}}}\n"
    assert_one_line_error(invoke("summary", spec(layer)), "finite")
    defaults = f"input: 8x8x3\ndefaults:\n  {kind}: {{{attr}: {value}}}\nlayers:\n  - {{kind: {kind}{extra}}}\n"
    assert_one_line_error(invoke("summary", spec(defaults, "defaults.yaml")), "finite")


@pytest.mark.parametrize("digits", [31, 5_000])
def test_an_integer_too_long_for_python_is_a_located_error(spec, digits):
    path = spec(f"input: 8x8x3\nlayers:\n  - {{kind: conv, out: {'1' * digits}, kernel: 1}}\n")
    assert_one_line_error(invoke("summary", path), f"{path}:3: a number of {digits:,} digits is too large")


def test_whole_numbers_stop_at_int32(spec):
    ok = invoke(
        "summary", spec(f"input: 1x1x1\nlayers:\n  - {{kind: conv, out: {2**31 - 1}, kernel: 1}}\n"), "--format", "json"
    )
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["totals"]["params"] == 1 * (2**31 - 1) + (2**31 - 1)  # weights + bias
    too_big = spec(f"input: 1x1x1\nlayers:\n  - {{kind: conv, out: {2**31}, kernel: 1}}\n", "big.yaml")
    assert_one_line_error(invoke("summary", too_big), "at most 2,147,483,647")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--batch", "1" + "0" * 320, "--batch"),
        ("--batch", "0", "--batch"),
        ("--batch", "x" * 5000, "--batch"),
        ("--input", "1x1x" + "9" * 5000, "--input"),
        ("--input", f"{2**20 + 1}x1x1", "at most 1,048,576"),
        ("--input", "8x8", "--input"),
        ("--dtype", "float128", "--dtype"),
        ("--format", "yaml", "--format"),
    ],
)
@pytest.mark.parametrize("command", ["summary", "check", "diff", "verify", "compare", "show"])
def test_bad_option_values_are_one_netcalc_line_for_every_command(spec, command, option, value, fragment):
    path = spec(TINY)
    args = {"diff": [path, path], "check": [path, "--budget", path]}.get(command, [path])
    if command == "show" and option != "--input":
        option, value, fragment = "--input", "8x8", "--input"
    assert_one_line_error(invoke(command, *args, option, value), fragment)


def test_a_huge_budget_limit_is_refused_not_a_decimal_trap(spec, tmp_path):
    path = spec(TINY)
    for limit in ("1" + "0" * 84, "'" + "9" * 80 + "'", "1e300", ".nan"):
        budget = spec(f"total: {{params: {limit}}}\n", "budget.yaml")
        assert_one_line_error(invoke("check", path, "--budget", budget), "budget.yaml:1")


HUGE = (
    "input: 1048576x1048576x1048576\n"
    "layers:\n"
    f"  - {{kind: conv, name: wide, out: {2**31 - 1}, kernel: 1, bias: false}}\n"
    "  - {kind: global_avgpool, name: gap}\n"
    f"  - {{kind: flatten, name: flat}}\n"
    f"  - {{kind: fc, name: fc, out: {2**31 - 1}}}\n"
)
HUGE_MACS_PER_SAMPLE = 2**20 * 2**20 * (2**31 - 1) * 2**20 + (2**31 - 1) * (2**31 - 1)


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_figures_at_the_bounds_render_in_every_format(spec, fmt):
    result = invoke("summary", spec(HUGE), "--batch", str(2**20), "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert json.loads(result.stdout)["totals"]["macs"] == 2**20 * HUGE_MACS_PER_SAMPLE
    else:
        assert str(2**20 * HUGE_MACS_PER_SAMPLE) in result.stdout.replace(",", "")


def test_figures_at_the_bounds_render_in_compare_diff_and_check(spec, tmp_path):
    path = spec(HUGE)
    other = spec(HUGE.replace("name: fc, out", "name: fc2, out"), "other.yaml")
    batch = ["--batch", str(2**20)]
    assert invoke("compare", path, other, *batch).exit_code == 0
    assert invoke("compare", path, other, "--baseline", "spec", *batch).exit_code == 0
    assert invoke("diff", path, other, *batch).exit_code == 0
    budget = spec("total: {macs: 1T}\nlayers:\n  'w*': {params: 1}\n", "budget.yaml")
    result = invoke("check", path, "--budget", budget, *batch)
    assert result.exit_code == 1 and "OVER" in result.stdout  # a real result: over budget


def test_adaptive_pool_figures_do_not_grow_with_the_output_size(spec):
    result = invoke(
        "summary", spec("input: 8x8x3\nlayers:\n  - {kind: adaptive_avgpool, output: 100000000}\n"), "--format", "json"
    )
    assert result.exit_code == 0
    layer = json.loads(result.stdout)["layers"][0]
    assert layer["output_shape"] == [100_000_000, 100_000_000, 3]
    # each output averages its bin; the bins' lengths sum to H + o − gcd(H, o) per axis (8 + 10⁸ − 8)
    assert layer["flops"] == 3 * 100_000_000 * 100_000_000


def test_no_attribute_makes_expansion_or_figures_grow_without_bound(spec):
    """Attributes at int32's maximum: the work must not grow with them (each case finishes at once)."""
    split = spec(f"input: 8x8x3\nlayers:\n  - {{kind: channel_split, name: s, parts: {2**31 - 1}}}\n")
    assert_one_line_error(invoke("summary", split), "at most 40,000 parts")
    wide = spec(f"input: 8x8x3\nlayers:\n  - {{kind: upsample, scale: {2**31 - 1}}}\n", "wide.yaml")
    result = invoke("summary", wide, "--format", "json")
    assert result.exit_code == 0
    side = 8 * (2**31 - 1)
    assert json.loads(result.stdout)["totals"]["activation_bytes"] == side * side * 3 * 4


# --- class 3: files ---


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_as_spec_budget_and_include(spec, tmp_path, device):
    assert_one_line_error(invoke("summary", device), "not a regular file")
    assert_one_line_error(invoke("check", spec(TINY), "--budget", device), "not a regular file")
    (tmp_path / "dev.yaml").symlink_to(device)
    including = spec("input: 8x8x3\ninclude: dev.yaml\nlayers: [relu]\n", "including.yaml")
    assert_one_line_error(invoke("summary", including), "not a regular file")


def test_devices_and_fifos_are_refused_as_onnx_models(tmp_path):
    pytest.importorskip("onnx", reason="the ONNX bridge is optional (pip install netcalc[onnx])")
    assert_one_line_error(invoke("import", "/dev/zero"), "not a regular file")
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    assert_one_line_error(invoke("summary", str(fifo)), "not a regular file")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    assert_one_line_error(invoke("summary", str(fifo)), "not a regular file")


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(50 * 2**20)  # sparse: 50 MB of NULs, never read
    assert_one_line_error(invoke("summary", str(big)), "is 50.0 MiB; files over 16 MiB are refused")


def test_many_nodes_without_aliases_are_not_called_an_alias_bomb(spec):
    path = spec("input: 8x8x3\nlayers: [relu]\nbudget: [" + "0," * 2_000_001 + "0]\n")
    message = assert_one_line_error(invoke("summary", path), "more than 2,000,000 YAML nodes")
    assert "alias bomb" not in message


def test_an_alias_bomb_is_named_as_one(spec):
    levels = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    assert_one_line_error(invoke("summary", spec(levels)), "alias bomb")


def test_a_budget_with_too_many_globs_is_refused_with_the_bound(spec):
    globs = "".join(f"  'l{i}*': {{params: 1}}\n" for i in range(101))
    budget = spec("layers:\n" + globs, "budget.yaml")
    assert_one_line_error(invoke("check", spec(TINY), "--budget", budget), "101 layer globs; a budget has at most 100")


# --- class 4: includes ---


def test_a_spec_that_includes_itself_says_so(spec):
    path = spec("input: 8x8x3\ninclude: spec.yaml\nlayers: [relu]\n")
    assert_one_line_error(invoke("summary", path), "'spec.yaml' includes itself")


def test_diamonds_and_double_includes_define_each_block_once(spec):
    spec("blocks:\n  unit: {layers: [relu]}\n", "d.yaml")
    spec("include: d.yaml\n", "b.yaml")
    spec("include: [d.yaml, d.yaml]\n", "c.yaml")
    path = spec("input: 8x8x3\ninclude: [b.yaml, c.yaml, d.yaml]\nlayers: [{block: unit, name: u}]\n")
    result = invoke("summary", path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert [layer["name"] for layer in json.loads(result.stdout)["layers"]] == ["u.relu1"]


def test_an_include_fan_out_bomb_reads_each_file_once(spec):
    for level in range(9):  # 9 files each including the next 10 times: 10⁹ paths, 10 files
        spec(f"include: [{', '.join([f'f{level + 1}.yaml'] * 10)}]\n", f"f{level}.yaml")
    spec("blocks:\n  unit: {layers: [relu]}\n", "f9.yaml")
    result = invoke("summary", spec("input: 8x8x3\ninclude: f0.yaml\nlayers: [{block: unit}]\n"))
    assert result.exit_code == 0, result.stderr


def test_a_long_include_chain_is_refused_with_the_bound(spec):
    for i in range(1000):
        spec(f"include: c{i + 1}.yaml\n", f"c{i}.yaml")
    spec("blocks:\n  unit: {layers: [relu]}\n", "c1000.yaml")
    path = spec("input: 8x8x3\ninclude: c0.yaml\nlayers: [{block: unit}]\n")
    assert_one_line_error(invoke("summary", path), "includes nest more than 16 files deep")


def test_include_path_policy_and_no_echo_of_contents(spec, tmp_path):
    assert_one_line_error(
        invoke("summary", spec("input: 8x8x3\ninclude: /etc/passwd\nlayers: [relu]\n")), "not an absolute one"
    )
    assert_one_line_error(
        invoke("summary", spec("input: 8x8x3\ninclude: notes.txt\nlayers: [relu]\n", "txt.yaml")), ".yaml or .yml"
    )
    spec("SECRET-CONTENT-" + "x" * 500 + "\n", "secret.yaml")
    message = assert_one_line_error(
        invoke("summary", spec("input: 8x8x3\ninclude: secret.yaml\nlayers: [relu]\n", "s.yaml"))
    )
    assert "SECRET" not in message
    spec("blocks:\n  unit: {layers: [relu]}\n", "shared/units.yaml")  # `..` is allowed
    inner = spec("input: 8x8x3\ninclude: ../shared/units.yaml\nlayers: [{block: unit}]\n", "nets/net.yaml")
    assert invoke("summary", inner).exit_code == 0


# --- class 5: output ---

MARKUP_NAMES = ["x[/]", "[bold]conv1x", "[red]r[/red]", "a[link=x]b", "\\[esc]"]


@pytest.mark.parametrize("name", MARKUP_NAMES)
def test_markup_in_names_prints_verbatim_in_every_table(spec, tmp_path, name):
    quoted = json.dumps(name)
    text = f"name: {quoted}\ninput: 8x8x3\nlayers:\n  - {{kind: conv, name: {quoted}, out: 4, kernel: 3}}\n"
    path = spec(text)
    other = spec(text.replace("out: 4", "out: 5").replace(f"name: {quoted}\ninput", "name: other\ninput"), "o.yaml")
    budget = spec(f"layers:\n  {json.dumps(name.replace('[', '[[]'))}: {{params: 1}}\n", "budget.yaml")
    for args, code in [
        (["summary", path], 0),
        (["compare", path, other], 0),
        (["diff", path, other], 0),
        (["check", path, "--budget", budget], 1),
        (["verify", path], 0),
    ]:
        result = invoke(*args)
        assert result.exit_code == code, (args, result.output)
        assert name in result.stdout, (args, result.stdout)


@pytest.mark.parametrize("name", ['"a\\nb"', '"a\\tb"', '"a\\u0007b"', '"a\\u001b[31mb"'])
def test_control_characters_in_names_are_refused_where_they_stand(spec, name):
    layer = spec(f"input: 8x8x3\nlayers:\n  - relu\n  - {{kind: relu, name: {name}}}\n")
    assert_one_line_error(invoke("summary", layer), f"{layer}:4: ")
    network = spec(f"name: {name}\ninput: 8x8x3\nlayers: [relu]\n", "net.yaml")
    assert_one_line_error(invoke("summary", network), "control characters")


def test_show_round_trips_long_names_exactly(spec, tmp_path):
    network = " ".join(f"word{i}" for i in range(40))
    layer = "l" + "-x" * 150
    path = spec(f"name: {network}\ninput: 8x8x3\nlayers:\n  - {{kind: relu, name: {layer}}}\n")
    shown = invoke("show", path)
    assert shown.exit_code == 0
    again = tmp_path / "shown.yaml"
    again.write_text(shown.stdout)
    data = json.loads(invoke("summary", str(again), "--format", "json").stdout)
    assert data["name"] == network and data["layers"][0]["name"] == layer


@pytest.mark.parametrize("columns", [5, 40, 72])
def test_a_narrow_terminal_never_cuts_a_figure(spec, columns):
    result = invoke("summary", spec(TINY), columns=columns)
    assert result.exit_code == 0
    for figure in ("8×8×4", "112", "6.91K", "1.00 KiB", "params 112", "MACs 6,912"):
        assert figure in result.stdout, (columns, result.stdout)


def run_process(args: list[str], **redirect) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netcalc", *args], text=True, timeout=60, **redirect)


def test_closed_stdout_is_an_error_not_a_traceback(spec):
    path = spec(TINY)
    code = "import os, sys, subprocess; os.close(1); sys.exit(subprocess.call(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "netcalc", "summary", path],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "netcalc: error: standard output is closed; there is nowhere to write the result\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["summary"], ["summary", "--format", "json"], ["check"], ["show"]])
def test_a_full_stdout_exits_2_even_when_the_result_would_be_1(spec, args):
    path = spec(TINY + "budget:\n  total: {params: 1}\n")  # over budget: check's result would be 1
    with open("/dev/full", "w") as full:
        result = run_process([args[0], path, *args[1:]], stdout=full, stderr=subprocess.PIPE)
    assert result.returncode == 2
    assert result.stderr == "netcalc: error: cannot write the output: No space left on device\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_stderr_does_not_change_the_result(spec, tmp_path):
    with open("/dev/full", "w") as full:
        ok = run_process(["summary", spec(TINY)], stdout=subprocess.DEVNULL, stderr=full)
        bad = run_process(["summary", str(tmp_path / "missing.yaml")], stdout=subprocess.DEVNULL, stderr=full)
    assert (ok.returncode, bad.returncode) == (0, 2)


def test_a_reader_that_has_left_is_not_a_success(spec):
    path = spec(TINY + "budget:\n  total: {params: 1}\n")  # over budget: check's result would be 1
    for args in (["summary", path, "--format", "json"], ["check", path]):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before anything is written: every write is a broken pipe
        result = run_process(args, stdout=write, stderr=subprocess.PIPE)
        os.close(write)
        assert result.returncode == 2 and result.stderr == "", result.stderr


# --- class 6: messages ---


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"input: 8x8x3\nlayers:\n  - relu\x00\n", ":3: control character U+0000"),
        (b"input: 8x8x3\nlayers:\n  - relu\x07\n", ":3: control character U+0007"),
        ("input: 8x8x3\nlayers: [relu]\n".encode("utf-16-le"), ":1: control character U+0000"),
        ("input: 8x8x3\nlayers: [relu]\n".encode("utf-16"), "UTF-16"),
        (b"input: 8x8x3\nlayers: [\xff]\n", ":2: byte 0xff is not UTF-8"),
    ],
)
def test_unreadable_bytes_are_one_located_line(spec, data, fragment):
    assert_one_line_error(invoke("summary", spec(data)), fragment)


def test_a_huge_value_is_quoted_as_a_short_excerpt(spec):
    huge = "y" * 1_000_000
    for text in (
        f"input: 8x8x3\nlayers:\n  - {{kind: conv, out: {huge}, kernel: 1}}\n",
        f"input: {huge}\nlayers: [relu]\n",
        f"input: 8x8x3\nlayers:\n  - {{kind: relu, {huge}: 1}}\n",
        f"input: 8x8x3\nlayers:\n  - {huge}\n",
    ):
        assert_one_line_error(invoke("summary", spec(text)))
    assert_one_line_error(invoke("summary", spec(TINY), "--input", huge), "--input")


# --- class 7: scale ---


def test_more_layers_than_the_maximum_are_refused_early(spec):
    path = spec("input: 8x8x3\nlayers:\n  - {kind: relu, repeat: 40000}\n  - {kind: relu, name: one_more}\n")
    assert_one_line_error(invoke("summary", path), "more than 40,000 layers")
    # the maximum itself is accepted
    path = spec("input: 8x8x3\nlayers:\n  - {kind: relu, repeat: 39999}\n  - {kind: relu, name: last}\n", "at.yaml")
    assert invoke("summary", path, "--format", "csv").exit_code == 0
    # a repeat that alone exceeds the maximum is refused before any copy is made
    path = spec("input: 8x8x3\nlayers:\n  - {kind: relu, repeat: 40001}\n", "over.yaml")
    assert_one_line_error(invoke("summary", path), "repeat 40,001 is absurd; at most 40,000 copies are allowed")


# --- a hypothesis strategy for hostile YAML ---

HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(list("ab_.-[]/\\:#{}, '\"") + ["\n", "\t", "\x00", "\x07", "\x1b", "é", "中", "…"]),
    min_size=1,
    max_size=12,
)
HOSTILE_NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([".nan", ".inf", "-.inf", "1e400", "1" * 40, "0x7fffffff", "1_000", "-0", "1e-400"]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def yaml_scalar(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value) if value == value else ".nan"


@st.composite
def hostile_spec(draw) -> dict[str, str]:
    """Files of a hostile spec: `spec.yaml` plus an include graph; names, numbers and nesting drawn to break
    things."""
    files: dict[str, str] = {}
    n_includes = draw(st.integers(0, 4))
    for i in range(n_includes):
        targets = draw(st.lists(st.integers(0, n_includes), max_size=3))  # may point back: cycles, self, diamonds
        include = ", ".join(f"i{t}.yaml" if t < n_includes else "spec.yaml" for t in targets)
        files[f"i{i}.yaml"] = f"include: [{include}]\nblocks:\n  b{i}: {{layers: [relu]}}\n"
    name = json.dumps(draw(HOSTILE_TEXT), ensure_ascii=False)
    kind, attr = draw(
        st.sampled_from([("conv", "out"), ("batchnorm", "eps"), ("dropout", "p"), ("leaky_relu", "negative_slope")])
    )
    extra = ", kernel: 1" if kind == "conv" else ""
    number = yaml_scalar(draw(HOSTILE_NUMBER))
    depth = draw(st.integers(0, 300))
    nested = "[" * depth + "1" + "]" * depth
    layers = [f"  - {{kind: {kind}, name: {name}, {attr}: {number}{extra}}}"]
    if draw(st.booleans()):
        layers.append(f"  - {{kind: relu, name: deep, repeat: {nested}}}")
    if n_includes:
        layers.append(f"  - {{block: b{draw(st.integers(0, n_includes - 1))}}}")
    includes = ", ".join(f"i{i}.yaml" for i in range(n_includes))
    network = json.dumps(draw(HOSTILE_TEXT), ensure_ascii=False)
    files["spec.yaml"] = f"name: {network}\ninput: 8x8x3\ninclude: [{includes}]\nlayers:\n" + "\n".join(layers) + "\n"
    return files


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=hostile_spec(), fmt=st.sampled_from(["table", "json", "csv", "markdown"]))
def test_hostile_yaml_is_a_result_or_one_line(tmp_path_factory, files, fmt):
    directory = tmp_path_factory.mktemp("hostile")
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    result = invoke("summary", str(directory / "spec.yaml"), "--format", fmt, columns=60)
    if result.exit_code == 0:
        if fmt == "json":
            data = json.loads(result.stdout)
            assert data["totals"]["params"] >= 0
        assert result.stdout
    else:
        assert_one_line_error(result)


# --- the fast paths behind class 7 give exactly what PyYAML gives (PyYAML is the oracle) ---

ZOO = sorted((Path(__file__).resolve().parent.parent / "specs").rglob("*.yaml"))


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.name)
def test_the_yaml_loader_builds_what_pyyaml_builds(path):
    import yaml

    from netcalc.language.yamlload import load_yaml_file

    assert load_yaml_file(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_show_writes_each_layer_as_pyyaml_would():
    from netcalc.language.spec import load_network
    from netcalc.render.expanded import flow_mapping, layer_mapping, safe_dump_flow

    for path in ZOO:
        if path.parent.name in ("blocks", "budgets"):  # not networks
            continue
        for layer in load_network(path).layers:
            mapping = layer_mapping(layer.name, layer.kind, layer.inputs, dict(layer.attrs))
            mapping = {key: list(value) if isinstance(value, tuple) else value for key, value in mapping.items()}
            assert flow_mapping(mapping) == safe_dump_flow(mapping), (path.name, layer.name)
    awkward = {"name": "a:b", "kind": "true", "x": ["null", "1e3", "", "~", "é", "a#b", "a, b", [1, "x[/]"]]}
    assert flow_mapping(awkward) == safe_dump_flow(awkward)
