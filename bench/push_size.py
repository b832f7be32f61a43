"""What a cycle adds to the publication's git history, HTML site included.

    python bench/push_size.py [--articles 10000] [--cycles 60] [--new 20] [--keep DIR]

A store of `--articles` generated articles (bench/build.py's, 10 channels) is built and
committed to a git repository; then every cycle stores `--new` new articles, purges each
channel back to its share of `--articles` (the steady state of `site.keep`), builds as a cycle
does, commits, and measures the thin pack `git push` would send for that commit (objects the
previous commit lacks, deltas against it). Prints each cycle's size, their mean, and for the
last cycle a breakdown by folder (each folder's changes alone, on top of the commit before).
bench/publish.py measures the Markdown tree alone over a year; this adds `site/`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from build import CHANNELS, fill, make_config

from samizdat.build import build
from samizdat.store import Store

GROUPS = ("pages", "indexes", "site/pages", "site/indexes", "site/search", "site/feeds")
BASE = "https://github.com/o/r/blob/master"


def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    command = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org", *args]
    return subprocess.run(command, cwd=repo, input=stdin, capture_output=True, check=True).stdout


def push_size(repo: Path, commit: str = "HEAD", parent: str = "HEAD~1") -> int:
    """Bytes of the thin pack that brings a mirror holding `parent` to `commit`."""
    revs = f"{commit}\n^{parent}\n".encode()
    return len(git(repo, "pack-objects", "--revs", "--thin", "--stdout", "-q", stdin=revs))


def group_size(repo: Path, folder: str) -> int:
    """The push size of the last commit's changes under `folder` alone."""
    changed = git(repo, "diff", "--name-only", "HEAD~1", "HEAD", "--", folder).decode().split()
    if not changed:
        return 0
    index = repo / ".git" / "bench-index"
    env_index = {"GIT_INDEX_FILE": str(index)}
    run = {"cwd": repo, "check": True, "capture_output": True, "env": env_index}
    subprocess.run(["git", "read-tree", "HEAD~1"], **run)  # type: ignore[call-overload]
    for path in changed:
        listed = git(repo, "ls-tree", "HEAD", "--", path).decode().split()
        if listed:
            mode, _, sha = listed[:3]
            args = ["git", "update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}"]
        else:
            args = ["git", "update-index", "--force-remove", path]
        subprocess.run(args, **run)  # type: ignore[call-overload]
    tree = subprocess.run(["git", "write-tree"], **run).stdout.decode().strip()  # type: ignore[call-overload]
    commit = git(repo, "commit-tree", tree, "-p", "HEAD~1", stdin=b"part").decode().strip()
    index.unlink()
    return push_size(repo, commit)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=60)
    parser.add_argument("--new", type=int, default=20, help="new articles a cycle")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="samizdat-push-"))
    root.mkdir(parents=True, exist_ok=True)
    config = make_config(root, BASE)
    repo = config.site.output
    try:
        started = time.perf_counter()
        fill(root, args.articles)
        with Store(config.site.state) as store:
            build(config, store)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "first")
        print(
            f"{args.articles} articles built and committed in {time.perf_counter() - started:.0f} s"
        )
        sizes = []
        per_channel = args.articles // CHANNELS
        for cycle in range(args.cycles):
            fill(root, args.new, first=args.articles + args.new * cycle)
            with Store(config.site.state) as store:
                for _, channel in config.channels():
                    store.purge(channel.id, per_channel)
                build(config, store)
            git(repo, "add", "-A")
            files = len(git(repo, "diff", "--cached", "--name-only").split())
            git(repo, "commit", "-qm", f"cycle {cycle}")
            sizes.append(push_size(repo))
            print(f"cycle {cycle:3}: {files:5} files changed, push {sizes[-1] / 1024:7.1f} KiB")
        print(
            f"mean push {statistics.mean(sizes) / 1024:.1f} KiB a cycle"
            f" (median {statistics.median(sizes) / 1024:.1f} KiB) over {len(sizes)} cycles"
        )
        print("last cycle by folder, each alone:")
        for folder in GROUPS:
            print(f"  {folder:<14} {group_size(repo, folder) / 1024:7.1f} KiB")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
