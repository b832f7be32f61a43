"""Writing the output tree: atomically, and only when the bytes change.

A cycle killed mid-write must leave no half-written page (SPEC §5), so a file is written to a
temporary name in its own folder and renamed over the old one: a killed process leaves either
the old file or the new one, and at worst a `.*.tmp` file, which the output's .gitignore keeps
out of commits and the next render removes. (No fsync per file: it made a full build of 10,000
pages I/O-bound, and surviving a power cut is git's job once the cycle commits.) Files whose
bytes are unchanged are not touched: git then sees no change and a quiet cycle commits nothing.

Replacing a file costs a new inode, and on the machines samizdat runs on (ext4 in a small VM)
creating one is slow: 200–400 µs of kernel time, most of a base-URL rebuild's 30,000 writes.
So a `Writer` replaces files through spares (a few per thread, see `Spares`): one is rewritten
in place and then swapped with the target by `renameat2(RENAME_EXCHANGE)`, which is as atomic
as a rename. The spare then holds the old bytes and is rewritten for a later file: 20–25 µs a
file. Where the
exchange is not available (not Linux, a file system without it) writes fall back to a new
temporary file and a rename; files with other hard links never go through the spare, whose
inode is rewritten in place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_MODE = 0o644


# (root, folder relative to it) → the folder's resolved path. Resolving a path costs a system
# call per component, and a full build writes tens of thousands of files into a few hundred
# folders. A folder is checked once per process: only a symbolic link put into the output
# while samizdat runs could get past that, and nothing in samizdat makes links.
_FOLDERS: dict[tuple[Path, str], tuple[Path, str]] = {}


def _target(root: Path, relpath: str) -> tuple[Path, str]:
    """The resolved root, and the path of `relpath` inside it (its folder resolved); ValueError
    when it would land outside."""
    folder, _, name = relpath.rpartition("/")
    known = _FOLDERS.get((root, folder))
    if known is None:
        if not relpath or relpath.startswith("/"):
            raise ValueError(f"not a relative path inside the output: {relpath!r}")
        base = root.resolve()
        parent = (base / folder).resolve() if folder else base
        if parent != base and not parent.is_relative_to(base):
            raise ValueError(f"path escapes the output folder: {relpath!r}")
        known = _FOLDERS[(root, folder)] = (base, f"{parent}/")
    if name in ("", ".", ".."):
        raise ValueError(f"not a file inside the output: {relpath!r}")
    base, parent = known
    return base, parent + name


def _follow(base: Path, target: str, relpath: str) -> str:
    """Where a symbolic link at `target` leads, which must be inside `base`."""
    resolved = Path(target).resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise ValueError(f"path escapes the output folder: {relpath!r}")
    return str(resolved)


def write_if_changed(
    root: Path, relpath: str, data: bytes | str, spares: Spares | None = None
) -> bool:
    """Write `data` (str is UTF-8) to `root/relpath`; False, touching nothing, when the file
    already holds exactly these bytes. `spares`: replace an existing file through this
    thread's spare file (see the module's doc)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    base, target = _target(root, relpath)
    try:
        status = os.lstat(target)
        if stat.S_ISLNK(status.st_mode):  # followed only once `_follow` checked where it leads
            target = _follow(base, target, relpath)
            status = os.stat(target)
    except FileNotFoundError:
        _replace(target, payload, DEFAULT_MODE)
        return True
    # A file of another size cannot hold the same bytes: no need to read it.
    if status.st_size == len(payload) and _holds(target, payload):
        return False
    mode = status.st_mode & 0o777
    if (
        spares is None
        or status.st_nlink != 1
        or not spares.swap(root, target, payload, mode, status)
    ):
        _replace(target, payload, mode)
    return True


def _holds(path: str, payload: bytes) -> bool:
    """Whether the file holds exactly `payload` (whose length is the file's)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        return _read(fd, len(payload) + 1) == payload  # + 1: a file grown since is not equal
    finally:
        os.close(fd)


def _read(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _replace(target: str, payload: bytes, mode: int) -> None:
    """Write a new temporary file next to `target` and rename it over `target`."""
    folder, _, name = target.rpartition("/")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    except FileNotFoundError:  # a new folder (or one pruned when it emptied)
        os.makedirs(folder, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            os.fchmod(handle.fileno(), mode)  # mkstemp makes 0600; a web server must read it
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


SPARE_PREFIX = ".samizdat-spare-"  # + pid-number.tmp, in the root written to


class Spares:
    """Spare files for `write_if_changed`: a few per thread and output root, removed by
    `release`.

    Shrinking a file across a block boundary frees blocks, which costs this disk as much as a
    new inode (100 µs against 10 µs a write). So each thread keeps up to MAX_SPARES spares of
    various sizes and writes a page into one whose blocks it fills or extends, never one it
    would have to shrink; the swap leaves the old page's bytes, and size, in the spare.

    A spare left by a killed process holds some page's old bytes under a `.tmp` name, which
    the output's .gitignore keeps out of commits and `remove_spares` deletes."""

    MAX_SPARES = 8

    def __init__(self, home: Path | None = None) -> None:
        # Where the spares live: `home` (the output's root, so that none is ever left inside
        # site/, which a static host may serve whole), else each root written to.
        self.home = home
        self._local = threading.local()
        self._all: list[str] = []
        self._lock = threading.Lock()
        self.exchange = _exchange_function()

    def swap(self, root: Path, target: str, payload: bytes, mode: int, old: os.stat_result) -> bool:
        """Put `payload` in `target` (whose status is `old`, under `root`) by exchanging it with
        a spare; False when the exchange is not available (the caller writes another way)."""
        if self.exchange is None:
            return False
        pools: dict[Path, list[list[Any]]] = self._local.__dict__.setdefault("pools", {})
        folder = self.home or root
        pool = pools.setdefault(folder, [])  # [path, size, mode] of each of this thread's spares
        block = old.st_blksize or 4096
        need = -(-len(payload) // block)
        fits = [entry for entry in pool if -(-entry[1] // block) <= need]
        if fits:
            spare = max(fits, key=lambda entry: entry[1])
        elif len(pool) < self.MAX_SPARES:
            with self._lock:
                spare = [f"{folder}/{SPARE_PREFIX}{os.getpid()}-{len(self._all)}.tmp", 0, -1]
                self._all.append(spare[0])
            pool.append(spare)
        else:
            spare = min(pool, key=lambda entry: entry[1])  # shrinking it is the lesser cost
        fd = os.open(spare[0], os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, DEFAULT_MODE)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if spare[1] > len(payload):
                os.ftruncate(fd, len(payload))  # the spare held a longer file's bytes
            if spare[2] != mode:
                os.fchmod(fd, mode)
        except BaseException:
            # A write that failed half-way (a full disk) leaves the size unknown: cut the
            # spare to length next time, whatever it holds.
            spare[1], spare[2] = sys.maxsize, -1
            raise
        finally:
            os.close(fd)
        try:
            self.exchange(spare[0], target)
        except OSError as error:
            spare[1], spare[2] = len(payload), mode
            if error.errno not in _NO_EXCHANGE:
                raise
            self.exchange = None  # this file system cannot: new files from now on
            return False
        spare[1], spare[2] = old.st_size, old.st_mode & 0o777  # the old file's, now the spare's
        return True

    def release(self) -> None:
        """Delete the spare files."""
        with self._lock:
            spares, self._all = self._all, []
        for spare in spares:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spare)
        self._local = threading.local()


def remove_spares(root: Path) -> None:
    """Delete spare files a killed process left in `root`."""
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(root):
            if name.startswith(SPARE_PREFIX) and name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(root / name)


_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.EOPNOTSUPP, errno.EPERM}


@cache
def _exchange_function() -> Callable[[str, str], None] | None:
    """`exchange(a, b)`: atomically swap the two paths (Linux's renameat2 with
    RENAME_EXCHANGE, through libc); None where libc has no renameat2."""
    if sys.platform != "linux":
        return None
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2  # <fcntl.h>, <linux/fs.h>

    def exchange(a: str, b: str) -> None:
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange):
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number), b)

    return exchange


def listing(folder: Path) -> set[str]:
    """The names in a folder, none when it is missing: one listing where a build would
    otherwise stat every file of a page folder."""
    try:
        return set(os.listdir(folder))
    except FileNotFoundError:
        return set()


def remove(root: Path, relpath: str) -> bool:
    """Delete `root/relpath`; False when there was nothing to delete."""
    _, target = _target(root, relpath)
    try:
        os.unlink(target)
    except FileNotFoundError:
        return False
    return True


class Writer:
    """`write_if_changed` (and other file work) on a few threads, for builds of many files.

    Creating and renaming a file is kernel time that releases the GIL (on ext4 a rename over an
    existing file also starts the new file's writeback), so threads overlap it with rendering,
    which keeps the main thread. At most `pending` calls wait at a time, which bounds the pages
    held in memory. `wait()` returns the results in submission order and re-raises the first
    error; whatever the order the threads ran in, the files end up the same.

    `threads=0` runs each call at once, in this thread, with the same results. That is for
    worker processes (`render.pool`), which already keep every core busy: there, threads gain
    no overlap and hand the GIL back and forth (dozens of futex calls an article), which cost
    a base-URL build of 3,000 pages in one process 15.0 s of CPU against 10.1 s in place."""

    def __init__(self, threads: int = 4, pending: int = 512, spares: Spares | None = None) -> None:
        self._pool = (
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="samizdat-write")
            if threads > 0
            else None
        )
        self._slots = threading.BoundedSemaphore(pending)
        self._futures: list[Future[Any]] = []
        # Spares of the caller's (kept across writers, released by it), else the writer's own.
        self._own_spares = spares is None
        self.spares = spares or Spares()

    def submit(self, fn: Callable[..., T], *args: Any) -> None:
        if self._pool is None:
            done: Future[Any] = Future()
            try:
                done.set_result(fn(*args))
            except Exception as error:  # kept for wait(), as a thread's would be
                done.set_exception(error)
            self._futures.append(done)
            return
        self._slots.acquire()
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def write(self, root: Path, relpath: str, data: bytes | str) -> None:
        self.submit(write_if_changed, root, relpath, data, self.spares)

    def wait(self) -> list[Any]:
        """Results of everything submitted since the last wait, in order."""
        futures, self._futures = self._futures, []
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._own_spares:
            self.spares.release()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
