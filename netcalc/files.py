"""What netcalc is willing to open: regular files of bounded size (docs/limits.md).

Devices (`/dev/zero`), FIFOs and sockets are refused before they are opened, so nothing blocks or reads without
end, and a file over the cap is refused from its size alone, before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from netcalc.errors import Location, SpecError


def regular_file(path: str | Path, max_bytes: int, what: str = "a YAML file") -> int:
    """The size of `path` if it is a regular file of at most `max_bytes`; otherwise a SpecError naming it."""
    where = Location(str(path))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpecError("no such file", where) from None
    except OSError as error:
        raise SpecError(f"cannot read: {error.strerror or error}", where) from None
    if stat.S_ISDIR(info.st_mode):
        raise SpecError(f"is a directory, not {what}", where)
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(f"is not a regular file (a device, FIFO or socket); give {what}", where)
    if info.st_size > max_bytes:
        cap = f"{max_bytes // 2**30} GiB" if max_bytes >= 2**30 else f"{max_bytes // 2**20} MiB"
        raise SpecError(f"is {info.st_size / 2**20:,.1f} MiB; files over {cap} are refused", where)
    return info.st_size
