"""Re-run surviving mutants in a fresh interpreter each, with the mutant active from the first import.

mutmut 3 forks every mutant's test run from a process that has already imported netcalc, and switches mutants
per call through a trampoline. A function that only runs while its module is imported (a factory that builds a
kind's functions, such as `kinds.base.real` or `kinds.norm.statistics_saved`) was called before any mutant was
active, so its mutants "survive" whatever the tests do. Here each mutant gets its own `python -m pytest` with
MUTANT_UNDER_TEST in its environment from the start, so the import-time calls go through the mutant too.

Run from the project root after `mutmut run` (docs/mutation.md):

    python tools/mutants_fresh.py 'netcalc.kinds.base.x_real*' 'netcalc.kinds.norm.*' [--jobs 2]

Patterns (fnmatch) select among the survivors `mutmut results` lists (`--unchecked`: and the mutants it has not
checked yet); no pattern means every survivor. Each mutant's verdict is kept in <tree>/fresh-results.json, so an
interrupted run resumes. pytest collects every listed test file before it runs one, so a cheap first pass with a
few targeted files (`--tests`, `-k`) and a second over what survived it with the broad default list (`--again`)
costs far less than the broad list for all. `--mutants COPY` runs in a copy of the mutated tree, e.g. one holding
new tests, to count which old survivors the new tests kill. The selected tests first run once with no mutant
active, and the run stops if they fail (a test that fails anyway would count every mutant killed). Prints one
line per mutant and the counts: killed (a test failed, or collection failed because the mutant breaks the
import), survived, timeout, or text (`--skip-text`: the mutant changes only a string literal, so it is set apart
unrun).
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import functools
import io
import json
import os
import subprocess
import sys
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The quick tests that exercise the kinds, the reference and the analysis, fastest first, so a mutant that a
# cheap test kills costs little; a survivor runs them all.
DEFAULT_TESTS = (
    "tests/kinds",
    "tests/reference",
    "tests/test_engine.py",
    "tests/test_analysis_vs_reference.py",
    "tests/test_verify.py",
    "tests/test_verify_vacuous.py",
    "tests/test_pointwise_net.py",
    "tests/test_spatial_network.py",
    "tests/test_spatial_cli.py",
    "tests/test_autograd_saved.py",
    "tests/test_peak_memory.py",
    "tests/test_memory.py",
    "tests/test_explain.py",
    "tests/test_language.py",
    "tests/test_schema.py",
    "tests/test_cli_summary.py",
    "tests/test_zoo.py",
    "tests/test_zoo_modern.py",
)
PYTEST_ARGS = ("-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider")
SKIPPED = "not zoo_specs_verify"  # the whole zoo through the reference: minutes per mutant
TIMEOUT = 600  # seconds per mutant, by default


def listed(root: Path, statuses: tuple[str, ...] = ("survived",)) -> list[str]:
    """The names `mutmut results --all` lists with one of `statuses` ("survived", "not checked", …)."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = (line.rpartition(":") for line in out.splitlines())
    return [name.strip() for name, _, status in pairs if status.strip() in statuses]


@functools.cache
def function_sources(path: Path) -> dict[str, str]:
    """Source text of every function in a (mutated) module, by name: parsed once per module."""
    source = path.read_text()
    lines = source.splitlines(keepends=True)
    return {
        node.name: "".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.col_offset == 0
    }


def only_text_changes(mutants: Path, name: str) -> bool:
    """Whether mutant `name` differs from its original only inside string literals (a message, a label, a
    docstring): a change of text, not of behaviour, which no rerun needs to judge."""
    module, _, function = name.rpartition(".")
    bodies = function_sources(mutants / (module.replace(".", "/") + ".py"))
    original = bodies.get(function.split("__mutmut_")[0] + "__mutmut_orig")
    mutant = bodies.get(function)
    if original is None or mutant is None:
        return False

    def tokens(text: str) -> list[tuple[int, str]]:
        found = [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)]
        return found[:1] + found[2:]  # `def` and then the name, which differs by the suffix only

    a, b = tokens(original), tokens(mutant)
    if [t for t, _ in a] != [t for t, _ in b]:
        return False
    return all(x == y or x[0] == tokenize.STRING for x, y in zip(a, b))


def run_one(mutants: Path, name: str, tests: tuple[str, ...], timeout: float = TIMEOUT) -> tuple[str, float]:
    """('killed' | 'survived' | 'timeout', seconds) of the selected tests against one mutant."""
    env = {**os.environ, "MUTANT_UNDER_TEST": name, "PYTHONPATH": str(mutants)}
    start = time.perf_counter()
    try:
        code = subprocess.run(
            [sys.executable, "-m", "pytest", *PYTEST_ARGS, *tests],
            cwd=mutants,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        ).returncode
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start
    # 0: every test passed; 1: a test failed; 2-4: collection or usage failed (the mutant breaks the import)
    return ("survived" if code == 0 else "killed"), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="*", help="fnmatch patterns over mutant names (default: all survivors)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--mutants", default="mutants", help="the mutated tree to run in (a copy, to try new tests on old survivors)"
    )
    parser.add_argument("-k", dest="keyword", help="pytest -k expression selecting the tests to run")
    parser.add_argument("--tests", nargs="+", default=list(DEFAULT_TESTS), help="test paths to run per mutant")
    parser.add_argument(
        "--skip-text", action="store_true", help="do not rerun mutants that change only string literals (counted apart)"
    )
    parser.add_argument(
        "--unchecked",
        action="store_true",
        help="also take the mutants mutmut has not checked yet (a file whose survivors each cost minutes there)",
    )
    parser.add_argument(
        "--again", action="store_true", help="re-run mutants a previous run left surviving (e.g. with more tests)"
    )
    parser.add_argument(
        "--timeout", type=float, default=TIMEOUT, help="seconds before a mutant counts as a timeout (a loop it made endless)"
    )
    args = parser.parse_args()
    root = Path.cwd()
    mutants = root / args.mutants
    results_path = mutants / "fresh-results.json"  # one per tree: a copy keeps its own verdicts
    results: dict[str, str] = json.loads(results_path.read_text()) if results_path.exists() else {}
    statuses = ("survived", "not checked") if args.unchecked else ("survived",)
    names = [
        n for n in listed(root, statuses) if not args.patterns or any(fnmatch.fnmatch(n, p) for p in args.patterns)
    ]
    if args.skip_text:
        for name in names:
            if name not in results and only_text_changes(mutants, name):
                results[name] = "text"
    todo = [n for n in names if n not in results or (args.again and results[n] == "survived")]
    print(f"{len(names)} mutants selected, {len(names) - len(todo)} already re-run", flush=True)
    keyword = f"{SKIPPED} and ({args.keyword})" if args.keyword else SKIPPED
    tests = (*args.tests, "-k", keyword)
    # the tests must pass with no mutant active, in this tree, in this order: a test that fails anyway (one that
    # measures memory while the instrumented modules are imported for the first time) would "kill" every mutant
    if todo and run_one(mutants, "", tests, args.timeout)[0] != "survived":
        raise SystemExit(f"the selected tests fail with no mutant active in {mutants}: fix them first")
    with ThreadPoolExecutor(args.jobs) as pool:
        for name, (verdict, seconds) in zip(todo, pool.map(lambda n: run_one(mutants, n, tests, args.timeout), todo)):
            results[name] = verdict
            results_path.write_text(json.dumps(results, indent=1, sort_keys=True))
            print(f"{verdict:8} {seconds:6.1f} s  {name}", flush=True)
    chosen = [results[n] for n in names]
    print({verdict: chosen.count(verdict) for verdict in ("killed", "survived", "timeout", "text")})


if __name__ == "__main__":
    main()
