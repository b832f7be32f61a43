"""The command line as cron and users meet it: real processes, real exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from samizdat.demo.server import SiteServer
from samizdat.lock import CycleLock
from samizdat.pipeline import lock_path
from tests.cycle_helpers import SITE, write_config


def samizdat(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    return subprocess.run(
        [sys.executable, "-m", "samizdat", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def test_config_error_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "samizdat.toml").write_text(
        '[site]\ntitle = "t"\noutput = "o"\nbase_url = "https://x.example"\nbogus = 1\n'
    )
    result = samizdat("-c", str(tmp_path / "samizdat.toml"), "run")
    assert result.returncode == 2
    assert f"{tmp_path / 'samizdat.toml'}:5: site.bogus: unknown key" in result.stderr


def test_missing_config_exits_2(tmp_path: Path) -> None:
    result = samizdat("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "samizdat.toml" in result.stderr and "not found" in result.stderr


def test_init_writes_a_valid_commented_config(tmp_path: Path) -> None:
    assert samizdat("init", str(tmp_path)).returncode == 0
    text = (tmp_path / "samizdat.toml").read_text(encoding="utf-8")
    assert "[fetch]" in text and "per_host" in text and "# " in text
    assert samizdat("init", str(tmp_path)).returncode == 1  # never overwrites
    # The written config loads (status works on it before any cycle).
    result = samizdat("-c", str(tmp_path / "samizdat.toml"), "status")
    assert result.returncode == 0 and "no cycle has run yet" in result.stdout


def test_run_status_build_publish_and_lock(tmp_path: Path) -> None:
    with SiteServer(SITE) as server:
        config = write_config(tmp_path, server.base_url, channels={"nsc413", "messfeed"})
        cfg = str(config.path)
        first = samizdat("-c", cfg, "run")
        # Some items fail (404, hang, huge): the cycle completes and says so with exit status 3.
        assert first.returncode == 3, first.stderr
        assert "mess/missing.htm: HTTP 404" in first.stderr
        assert "new" in first.stdout

        status = samizdat("-c", cfg, "status")
        assert status.returncode == 0
        assert "nsc413" in status.stdout and "failing items: 4" in status.stdout
        assert "origin" in status.stdout and "last push" in status.stdout

        with CycleLock(lock_path(config)):
            held = samizdat("-c", cfg, "run")
        assert held.returncode == 3
        assert "another cycle holds the lock" in held.stderr and str(os.getpid()) in held.stderr

    page = config.site.output / "pages/nsc413/n14004562.md"
    page.unlink()
    rebuilt = samizdat("-c", cfg, "build")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert page.is_file()
    published = samizdat("-c", cfg, "publish")
    assert published.returncode == 0, published.stderr
    assert "nothing to commit" in published.stdout


def test_check_shows_the_extraction_and_its_path(tmp_path: Path) -> None:
    with SiteServer(SITE) as server:
        config = write_config(tmp_path, server.base_url, channels={"nsc413"})
        result = samizdat("-c", str(config.path), "check", server.url("/gb/23/5/26/n14004562.htm"))
        # Without a config (none in the working folder): generic extraction.
        empty = tmp_path / "empty"
        empty.mkdir()
        generic = samizdat(
            "check", server.url("/en/world/2023/05/24/shoal-fishermen.html"), cwd=empty
        )
    assert result.returncode == 0, result.stderr
    assert "title:     美日将发布联合声明 加深芯片合作" in result.stdout
    assert "body from: rules (rules of source 'xinjiyuan')" in result.stdout
    assert "caption:   2023年5月26日" in result.stdout
    assert "日本成立了新的芯片制造商Rapidus" in result.stdout
    assert generic.returncode == 0, generic.stderr
    assert "body from: generic (no source rules" in generic.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="the demo test runs where CI runs")
def test_demo_mirrors_the_bundled_site(tmp_path: Path) -> None:
    result = samizdat("demo", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "demo" / "mirror"
    assert (out / "pages/nsc413/n14004562.md").is_file()
    assert "new articles" in result.stdout
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", str(tmp_path / "demo" / "remote.git"), str(clone)], check=True
    )
    assert (clone / "README.md").is_file()
    again = samizdat("demo", str(tmp_path / "demo"))
    assert again.returncode == 0 and "0 new articles" in again.stdout
