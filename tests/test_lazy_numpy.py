"""`netcalc.lazy_numpy.np`: NumPy imported on the first attribute read, and each name looked up once."""

from __future__ import annotations

import subprocess
import sys


def test_numpy_is_imported_on_first_use_and_each_name_looked_up_once() -> None:
    code = (
        "import importlib, sys\n"
        "from netcalc.lazy_numpy import np\n"
        "before = 'numpy' in sys.modules\n"
        "calls = []\n"
        "real = importlib.import_module\n"
        "importlib.import_module = lambda name, *a: calls.append(name) or real(name, *a)\n"
        "first, again, other = np.float32, np.float32, np.int8\n"
        "import numpy\n"
        "print(before, first is numpy.float32 is again, other is numpy.int8, calls)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # numpy absent until `np` is read; one import-system lookup per name read, none when it is read again
    assert result.stdout.split(" ", 3) == ["False", "True", "True", "['numpy', 'numpy']\n"]
