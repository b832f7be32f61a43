"""The publish stage of a cycle: every mirror, catching up, squashing with a lease."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from samizdat import config as config_module
from samizdat.pipeline import CycleReport, publish_output
from samizdat.progress import Reporter
from samizdat.store import Store
from tests.cycle_helpers import git

CONFIG = """\
[site]
title = "t"
output = "mirror"
base_url = "https://github.com/o/r/blob/master"

[publish]
squash_after = {squash}

[[mirrors]]
name = "one"
remote = "one.git"

[[mirrors]]
name = "two"
remote = "two.git"
branch = "main"
base_url = "https://codeberg.org/o/r/src/branch/main"

[[sources]]
id = "s"
  [[sources.channels]]
  id = "c"
  feed = "https://a.example/feed.xml"
"""


@pytest.fixture
def setup(tmp_path: Path):
    def make(squash: int = 0, bare: tuple[str, ...] = ("one.git", "two.git")):
        for name in bare:
            subprocess.run(["git", "init", "--quiet", "--bare", str(tmp_path / name)], check=True)
        path = tmp_path / "samizdat.toml"
        path.write_text(CONFIG.format(squash=squash), encoding="utf-8")
        cfg = config_module.load(path)
        return cfg, Store(cfg.site.state)

    return make


def publish(cfg, store: Store) -> CycleReport:
    report = CycleReport()
    with Reporter(interactive=False) as reporter:
        publish_output(cfg, store, report, reporter)
    return report


def change(cfg, name: str) -> None:
    (cfg.site.output / "pages").mkdir(parents=True, exist_ok=True)
    (cfg.site.output / "pages" / name).write_text(name, encoding="utf-8")


def test_every_mirror_gets_the_commit_and_a_no_op_pushes_nothing(setup) -> None:
    cfg, store = setup()
    change(cfg, "a.md")
    report = publish(cfg, store)
    assert report.commit and [r.mirror for r in report.pushes] == ["one", "two"]
    root = cfg.path.parent
    assert git(root / "one.git", "rev-parse", "master").strip() == report.commit
    assert git(root / "two.git", "rev-parse", "main").strip() == report.commit
    again = publish(cfg, store)
    assert again.commit is None and again.pushes == [] and again.exit_code == 0


def test_a_dead_mirror_is_reported_and_catches_up(setup) -> None:
    cfg, store = setup(bare=("one.git",))
    change(cfg, "a.md")
    first = publish(cfg, store)
    assert first.exit_code == 3
    assert [p for p in first.problems if p.startswith("mirror two:")]
    assert store.pushes()["two"].last_error
    change(cfg, "b.md")
    publish(cfg, store)  # still dead: one more commit it lacks
    subprocess.run(
        ["git", "init", "--quiet", "--bare", str(cfg.path.parent / "two.git")], check=True
    )
    caught_up = publish(cfg, store)  # nothing new to commit, but "two" lacks HEAD
    assert caught_up.commit is None
    assert [(r.mirror, r.ok) for r in caught_up.pushes] == [("two", True)]
    head = git(cfg.site.output, "rev-parse", "HEAD").strip()
    assert git(cfg.path.parent / "two.git", "rev-parse", "main").strip() == head
    assert git(cfg.path.parent / "two.git", "rev-list", "--count", "main").strip() == "2"
    assert store.pushes()["two"].last_error is None


def test_squash_keeps_history_bounded_and_replaces_only_what_samizdat_pushed(setup) -> None:
    cfg, store = setup(squash=2)
    root = cfg.path.parent
    for name in ("a.md", "b.md"):
        change(cfg, name)
        publish(cfg, store)
    assert git(root / "one.git", "rev-list", "--count", "master").strip() == "2"
    # Someone else pushes to mirror "two" behind samizdat's back.
    other = root / "other"
    subprocess.run(
        ["git", "clone", "--quiet", "-b", "main", str(root / "two.git"), str(other)], check=True
    )
    (other / "theirs.md").write_text("theirs", encoding="utf-8")
    git(other, "add", "theirs.md")
    git(other, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "theirs")
    git(other, "push", "-q", "origin", "main")

    change(cfg, "c.md")
    report = publish(cfg, store)  # third commit > squash_after: history restarts from one root
    assert git(cfg.site.output, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(root / "one.git", "rev-list", "--count", "master").strip() == "1"
    assert sorted(git(root / "one.git", "ls-tree", "-r", "--name-only", "master").split()) == [
        "pages/a.md",
        "pages/b.md",
        "pages/c.md",
    ]
    # The lease protects the commit someone else pushed: "two" is reported, not overwritten.
    (two,) = [r for r in report.pushes if r.mirror == "two"]
    assert not two.ok
    assert "theirs" in git(root / "two.git", "log", "--format=%s", "main")


def test_home_lists_every_mirror_address(tmp_path: Path, setup) -> None:
    from samizdat.render.indexes import render_home

    cfg, _ = setup()
    home = render_home(cfg, {})
    assert "https://github.com/o/r/blob/master/README.md" in home
    assert "https://codeberg.org/o/r/src/branch/main/README.md" in home
