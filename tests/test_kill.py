"""SPEC §5: a cycle killed at any point (SIGKILL), then a normal cycle: output, mirror and store
agree, no article is lost and no half-written file is committed."""

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
from tests.cycle_helpers import SITE, git, write_config

CHANNELS = {"nsc413", "world", "business", "rss10"}
EXPECTED = 4 + 3 + 3 + 2


def samizdat_run(config_path: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    return subprocess.Popen(
        [sys.executable, "-m", "samizdat", "-q", "-c", str(config_path), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


# From the start of the process: loading, reading sources, extracting, rendering, publishing.
@pytest.mark.parametrize("delay", [0.3, 0.9, 1.4, 2.0, 2.4, 2.8])
def test_killed_cycle_then_a_normal_cycle_agree(tmp_path: Path, delay: float) -> None:
    with SiteServer(SITE, delay=0.05) as server:  # slow enough that the kill lands mid-cycle
        config = write_config(tmp_path, server.base_url, channels=CHANNELS)
        proc = samizdat_run(config.path)
        time.sleep(delay)
        workers = children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # Extraction workers notice their parent is gone and exit: nothing is left running.
        deadline = time.monotonic() + 5
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if alive(w)]
        finish = samizdat_run(config.path)
        _, stderr = finish.communicate(timeout=120)
    assert finish.returncode == 0, stderr

    out = config.site.output
    with Store(config.site.state) as store:
        stored = {(a.channel, a.slug) for a in store.articles()}
        assert store.failures() == []
    pages = {(p.parent.name, p.name.removesuffix(".md")) for p in out.glob("pages/*/*.md")}
    qr = {(p.parent.name, p.name.removesuffix(".md.png")) for p in out.glob("pages/*/*.md.png")}
    assert len(stored) == EXPECTED  # no article lost
    assert stored == pages == qr
    assert git(out, "status", "--porcelain").strip() == ""  # everything is committed
    committed = git(out, "ls-files").split()
    assert not [f for f in committed if f.endswith(".tmp")]  # no half-written file
    for path in committed:
        if path.endswith(".md"):
            text = (out / path).read_text(encoding="utf-8")
            assert text.endswith("\n") and text.startswith("###"), path
    head = git(out, "rev-parse", "HEAD").strip()
    assert git(tmp_path / "remote.git", "rev-parse", "master").strip() == head
