"""CycleLock across real processes: held → LockHeld naming the holder; holder killed → free."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from samizdat.errors import LockHeld
from samizdat.lock import CycleLock, holder

ROOT = Path(__file__).resolve().parents[1]

# Takes the lock, optionally starts a long-lived child (as a cycle starts `git push`), says so,
# then sleeps until killed.
HOLDER = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from samizdat.lock import CycleLock
    with CycleLock(Path(sys.argv[1])):
        if sys.argv[2] == "child":
            # close_fds=False: like os.system or a library that forks, the child gets every
            # inheritable descriptor, so only the lock's own O_CLOEXEC keeps it out.
            print(subprocess.Popen(["sleep", "30"], close_fds=False).pid, flush=True)
        print("held", flush=True)
        time.sleep(60)
    """
)


@pytest.fixture
def spawn() -> Iterator:
    started: list[subprocess.Popen[str]] = []

    def run(lock: Path, mode: str = "plain") -> tuple[subprocess.Popen[str], list[str]]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(lock), mode],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append(proc)
        lines = []
        assert proc.stdout is not None
        while (line := proc.stdout.readline().strip()) != "held":
            assert line, "the holder process exited before taking the lock"
            lines.append(line)
        return proc, lines

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_second_process_gets_lock_held_naming_the_holder(tmp_path: Path, spawn) -> None:
    lock = tmp_path / "samizdat.db.lock"
    proc, _ = spawn(lock)

    with pytest.raises(LockHeld) as caught, CycleLock(lock):
        pass

    message = str(caught.value)
    assert message.startswith("another cycle holds the lock: ")
    assert f"pid {proc.pid} on {socket.gethostname()} since 20" in message
    assert holder(lock)["pid"] == proc.pid  # the loser did not overwrite the record


def test_lock_of_a_killed_holder_is_taken_over(tmp_path: Path, spawn) -> None:
    lock = tmp_path / "samizdat.db.lock"
    proc, _ = spawn(lock)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    with CycleLock(lock):
        assert holder(lock)["pid"] == os.getpid()


def test_a_child_left_running_by_a_killed_holder_does_not_keep_the_lock(
    tmp_path: Path, spawn
) -> None:
    # A cycle killed while its `git push` hangs: the orphan must not inherit the lock.
    lock = tmp_path / "samizdat.db.lock"
    proc, lines = spawn(lock, "child")
    child = int(lines[0])
    try:
        proc.kill()
        proc.wait()
        os.kill(child, 0)  # still alive
        with CycleLock(lock):
            pass
    finally:
        os.kill(child, signal.SIGKILL)


def test_released_on_exit_even_after_an_exception(tmp_path: Path) -> None:
    lock = tmp_path / "state" / "samizdat.db.lock"  # the folder does not exist yet
    with pytest.raises(RuntimeError), CycleLock(lock):
        assert holder(lock)["pid"] == os.getpid()
        raise RuntimeError("cycle failed")
    assert holder(lock) is None  # record cleared on release
    with CycleLock(lock):
        pass


def test_two_locks_in_one_process_also_exclude_each_other(tmp_path: Path) -> None:
    lock = tmp_path / "samizdat.db.lock"
    with CycleLock(lock), pytest.raises(LockHeld, match=f"pid {os.getpid()} "), CycleLock(lock):
        pass


def test_message_when_the_holder_has_not_written_its_record_yet(tmp_path: Path) -> None:
    import fcntl

    lock = tmp_path / "samizdat.db.lock"
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # locked, but nothing written yet
        with pytest.raises(LockHeld, match="holder unknown"), CycleLock(lock):
            pass
