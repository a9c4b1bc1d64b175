"""Hand-written mutants of the pointwise and normalisation kinds: each plants one plausible bug (a wrong
constant, a dropped term, a wrong reduction axis, a forgotten parameter), runs the pointwise tests, and restores
the file. Every mutant must be caught; prints one line per mutant and the count.

    /work/venvs/<name>/bin/python tools/pointwise_mutants.py      # from the repository root, about a minute
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

# (file, text, the text that replaces it)
MUTANTS = [
    ("netcalc/kinds/elementwise.py", "return np.clip(x + 3, 0, 6) / 6", "return np.clip(x + 3, 0, 6) / 5"),
    ("netcalc/kinds/elementwise.py", "return dy * s * (1 + x * (1 - s))", "return dy * s * (1 + x * s)"),
    (
        "netcalc/kinds/elementwise.py",
        "_TANH_GELU = (math.sqrt(2 / math.pi), 0.044715)",
        "_TANH_GELU = (math.sqrt(2 / math.pi), 0.0447)",
    ),
    (
        "netcalc/kinds/elementwise.py",
        "return np.where(kept > 0, dy, dy * (kept + arg))",
        "return np.where(kept > 0, dy, dy * kept)",
    ),
    (
        "netcalc/kinds/elementwise.py",
        "return np.where(x < -3, 0, np.where(x <= 3, dy * (x / 3 + 0.5), dy))",
        "return np.where(x < -3, 0, np.where(x <= 3, dy * (x / 3), dy))",
    ),
    (
        "netcalc/kinds/elementwise.py",
        "axes = (0, *range(2, x.ndim)) if slopes > 1 else None",
        "axes = (0, *range(2, x.ndim))",
    ),
    ("netcalc/kinds/elementwise.py", "g = np.where(x > 0, 0, dy * x)", "g = np.where(x > 0, 0, dy)"),
    (
        "netcalc/kinds/elementwise.py",
        "scale = x.dtype.type(1.0 if p == 1 else 1 / (1 - p))",
        "scale = x.dtype.type(1.0)",
    ),
    (
        "netcalc/kinds/elementwise.py",
        'keep = np.random.default_rng(attrs.get("seed", 0)).random(size) < 1 - p',
        'keep = np.random.default_rng(attrs.get("seed", 0)).random(size) < p',
    ),
    (
        "netcalc/kinds/elementwise.py",
        'size = (x.shape[0],) + (1,) * (x.ndim - 1) if attrs["mode"] == "row" else (1,) * x.ndim',
        "size = x.shape",
    ),
    (
        "netcalc/kinds/elementwise.py",
        "dgamma = (dy * x).sum(axis=(0, *range(2, x.ndim)))",
        "dgamma = dy.sum(axis=(0, *range(2, x.ndim)))",
    ),
    (
        "netcalc/kinds/elementwise.py",
        'return {"slope": (1 if attrs["shared"] else channels(ins[0]),)}',
        'return {"slope": (channels(ins[0]),)}',
    ),
    (
        "netcalc/kinds/base.py",
        'return {"slope": (out_channels,)} if attrs.get("activation") == "prelu" else {}',
        "return {}",
    ),
    (
        "netcalc/kinds/merge.py",
        "            g = g.sum(axis=(2, 3), keepdims=True)",
        "            g = g.mean(axis=(2, 3), keepdims=True)",
    ),
    (
        "netcalc/kinds/merge.py",
        "return is_spatial(full) and gate in ((1, 1, full[2]), (full[2],))",
        "return is_spatial(full) and gate in ((1, 1, full[2]),)",
    ),
    (
        "netcalc/kinds/norm.py",
        'return (5 + 2 * attrs["affine"]) * numel(out)',
        'return (5 + attrs["affine"]) * numel(out)',
    ),
    (
        "netcalc/kinds/norm.py",
        'lambda s, a: ((s[0], a["groups"], -1), (2,)),',
        'lambda s, a: ((a["groups"], -1), (1,)),',
    ),
    (
        "netcalc/kinds/norm.py",
        'return batchnorm_arrays(attrs, ins) if attrs["affine"] else {}',
        "return batchnorm_arrays(attrs, ins)",
    ),
    ("netcalc/reference/norm.py", "    dx -= xhat * np.mean(dxhat * xhat, axis=axes, keepdims=True)\n", ""),
    (
        "netcalc/reference/norm.py",
        "    var = np.mean(centred * centred, axis=axes, keepdims=True)",
        "    var = np.var(x, axis=axes, keepdims=True, ddof=1)",
    ),
    (
        "netcalc/kinds/elementwise.py",
        "return 0.5 * x * (1 + _erf(x / math.sqrt(2)))",
        "return 0.5 * x * (1 + _erf(x / 2))",
    ),
]
TESTS = [
    "tests/kinds/test_pointwise.py",
    "tests/kinds/test_pointwise_oracle.py",
    "tests/kinds/test_reference_pairs.py",
    "tests/test_pointwise_net.py",
    "tests/kinds/test_pointwise_fuzz.py",
]


def main() -> int:
    caught = 0
    for path, old, new in MUTANTS:
        p = pathlib.Path(path)
        src = p.read_text()
        if src.count(old) != 1:
            sys.exit(f"{path}: the text to mutate is gone or not unique, update this script: {old!r}")
        p.write_text(src.replace(old, new))
        try:
            r = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
                capture_output=True,
                text=True,
            )
        finally:
            p.write_text(src)
        ok = r.returncode != 0
        caught += ok
        first = next((line for line in r.stdout.splitlines() if line.startswith("FAILED")), "")
        print("CAUGHT" if ok else "SURVIVED", path, new.strip()[:60], "|", first[:110])
    print(f"{caught}/{len(MUTANTS)} caught")
    return 0 if caught == len(MUTANTS) else 1


if __name__ == "__main__":
    sys.exit(main())
