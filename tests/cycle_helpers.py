"""Shared set-up for cycle tests: a config for the fixture site served on loopback."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from markdown_it import MarkdownIt

from samizdat import config as config_module
from samizdat.config import Config

FIXTURES = Path(__file__).parent / "data" / "site"  # what only the tests need ...
DEMO = Path(__file__).parent.parent / "samizdat" / "demo" / "site"  # ... over the demo site
SITE = (FIXTURES, DEMO)  # the layers SiteServer serves together: the first holding a path wins


def site_file(relpath: str, layers: tuple[Path, ...] = SITE) -> Path:
    """The file a SiteServer of these layers serves for `relpath`."""
    for layer in layers:
        if (layer / relpath).is_file():
            return layer / relpath
    raise FileNotFoundError(relpath)


BASE_URL = "https://github.com/owner/mirror/blob/master"

HEADER = """\
[site]
title = "禁闻聚合"
output = "mirror"
state = "state/samizdat.db"
base_url = "{base_url}"
counter_url = "https://counter.example.org"
menu = [ {{ title = "首页", url = "README.md" }}, {{ title = "翻墙教程", url = "https://guides.example.org/" }} ]

[links]
blocked = ["example-news.com", "127.0.0.1"]

[fetch]
read_timeout = 1.5
total_timeout = 3
retries = 2
backoff = 0.05
max_bytes = 2000000

[[mirrors]]
name = "origin"
remote = "remote.git"
"""


def write_config(
    directory: Path, server_base: str, *, channels: set[str] | None = None, extra: str = ""
) -> Config:
    """A config for the fixture site's sources; `channels` keeps only those channels."""
    sources = (
        (FIXTURES / "sources.toml").read_text(encoding="utf-8").replace("{{BASE}}", server_base)
    )
    if channels is not None:
        sources = _only(sources, channels)
    subprocess.run(["git", "init", "--quiet", "--bare", str(directory / "remote.git")], check=True)
    path = directory / "samizdat.toml"
    path.write_text(HEADER.format(base_url=BASE_URL) + extra + "\n" + sources, encoding="utf-8")
    return config_module.load(path)


def _only(sources: str, channels: set[str]) -> str:
    """Drop the [[sources.channels]] tables (and then empty sources) not in `channels`."""
    blocks = re.split(r"(?m)^(?=\[\[sources\]\])", sources)
    kept = []
    for block in blocks:
        if not block.startswith("[[sources]]"):
            continue
        head, *chans = re.split(r"(?m)^(?=[ \t]*\[\[sources\.channels\]\])", block)
        chans = [c for c in chans if _channel_id(c) in channels]
        if chans:
            kept.append(head + "".join(chans))
    return "\n".join(kept)


def _channel_id(table: str) -> str | None:
    match = re.search(r'(?m)^\s*id = "([^"]+)"', table)
    return match.group(1) if match else None


def render_markdown(text: str) -> str:
    """What a GFM host shows: markdown-it in CommonMark mode with tables and autolinks."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout
