"""One cycle at a time per config (SPEC §5): an exclusive flock on a file beside the state DB.

flock belongs to the open file, so the kernel drops it the moment the holder dies, however it
dies: a lock left by a killed cycle is simply free, with no pid-file staleness guessing. The file
also holds who took the lock (pid, host, start time) so that the second cycle can say so.

The file is never deleted: removing it while another process has it open would let two
processes each lock a different inode under the same name.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from samizdat.errors import LockHeld


class CycleLock:
    """Context manager guarding one config's cycle; raises LockHeld when another holds it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> CycleLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # os.open makes a non-inheritable descriptor: a git child left running after we die
        # must not keep the lock alive.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(f"another cycle holds the lock: {describe(holder(self.path))}") from None
        except BaseException:
            os.close(fd)
            raise
        # Rewrite only once we hold the lock, so a loser never clobbers the holder's record.
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # no holder any more; emptied before the lock is let go
        finally:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def holder(path: Path) -> dict[str, Any] | None:
    """Who wrote the lock file last: {"pid", "host", "since"}, or None when it is empty.

    Only meaningful while the lock is held (a killed holder leaves its record behind)."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
        record = json.loads(text) if text else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def describe(record: dict[str, Any] | None) -> str:
    if not record:
        return "holder unknown (it has only just started)"
    return f"pid {record.get('pid')} on {record.get('host')} since {record.get('since')}"
