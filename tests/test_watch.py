"""`samizdat watch`: cycles on an interval, ended cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samizdat.demo.server import SiteServer
from samizdat.store import Store
from samizdat.watch import parse_interval
from tests.cycle_helpers import SITE, git, write_config


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("2h", 7200), ("1d", 86400)]
)
def test_intervals(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "m", "5x", "0s", "1h-2m"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ValueError):
        parse_interval(text)


def start(config_path: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    return subprocess.Popen(
        [sys.executable, "-m", "samizdat", "-c", str(config_path), "watch", "--every", "1h"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(condition, timeout: float = 240) -> None:  # generous: shared, loaded machines
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_sigterm_while_waiting_ends_at_once(tmp_path: Path) -> None:
    with SiteServer(SITE) as server:
        config = write_config(tmp_path, server.base_url, channels={"nsc413"})
        proc = start(config.path)
        remote = tmp_path / "remote.git"
        wait_for(lambda: git(remote, "branch").strip() != "")
        time.sleep(0.5)  # the cycle is over: watch is waiting for the next
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert time.monotonic() - started < 20  # not the hour to the next cycle
    assert "SIGTERM received" in stderr


def test_sigterm_during_a_cycle_finishes_the_step_and_leaves_things_consistent(
    tmp_path: Path,
) -> None:
    with SiteServer(SITE) as server:
        # messfeed holds a page that hangs: the cycle is surely running when the signal comes.
        config = write_config(tmp_path, server.base_url, channels={"messfeed", "nsc413"})
        proc = start(config.path)
        wait_for(lambda: server.hits["/mess/hang.htm"] >= 1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    # Whatever was stored is rendered and committed: the output and the store agree.
    with Store(config.site.state) as store:
        stored = {(a.channel, a.slug) for a in store.articles()}
    pages = {(p.parent.name, p.stem) for p in (config.site.output / "pages").rglob("*.md")}
    assert stored == pages
    assert git(config.site.output, "status", "--porcelain").strip() == ""
