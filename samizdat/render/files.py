"""Writing the output tree: atomically, and only when the bytes change.

A cycle killed mid-write must leave no half-written page (SPEC §5), so a file is written to a
temporary name in its own folder and renamed over the old one: a killed process leaves either
the old file or the new one, and at worst a `.*.tmp` file, which the output's .gitignore keeps
out of commits and the next render removes. (No fsync per file: it made a full build of 10,000
pages I/O-bound, and surviving a power cut is git's job once the cycle commits.) Files whose
bytes are unchanged are not touched: git then sees no change and a quiet cycle commits nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

DEFAULT_MODE = 0o644


def _target(root: Path, relpath: str) -> Path:
    """The path of `relpath` inside `root`; ValueError when it would land outside."""
    if not relpath or Path(relpath).is_absolute():
        raise ValueError(f"not a relative path inside the output: {relpath!r}")
    base = root.resolve()
    target = (base / relpath).resolve()
    if target == base or not target.is_relative_to(base):
        raise ValueError(f"path escapes the output folder: {relpath!r}")
    return target


def write_if_changed(root: Path, relpath: str, data: bytes | str) -> bool:
    """Write `data` (str is UTF-8) to `root/relpath`; False, touching nothing, when the file
    already holds exactly these bytes."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    target = _target(root, relpath)
    try:
        if target.read_bytes() == payload:
            return False
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = DEFAULT_MODE
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(temp, mode)  # mkstemp makes 0600; the page must stay readable by a web server
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return True


def remove(root: Path, relpath: str) -> bool:
    """Delete `root/relpath`; False when there was nothing to delete."""
    target = _target(root, relpath)
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True
