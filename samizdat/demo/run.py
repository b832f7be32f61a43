"""`samizdat demo`: serve the bundled sample news site on loopback and mirror it, offline."""

from __future__ import annotations

import subprocess
from importlib.resources import as_file, files
from pathlib import Path

import click

from samizdat import config, pipeline
from samizdat.demo.server import SiteServer
from samizdat.progress import Reporter

CONFIG = """\
# Written by `samizdat demo`: the bundled sample site, served on {base} while the demo ran.
[site]
title = "samizdat 演示 · demo"
output = "mirror"
state = "samizdat.db"
base_url = "https://github.com/OWNER/samizdat-demo/blob/master"
menu = [ {{ title = "首页", url = "README.md" }} ]

[links]
blocked = ["example-news.com"]

[[mirrors]]
name = "local"
remote = "remote.git"
branch = "master"

{sources}
"""


# Article URLs include the server's port, so a fixed port keeps them stable across demo runs
# (a second run then shows that nothing changes); any free port serves when it is taken.
DEMO_PORT = 8413


def _server(root: Path) -> SiteServer:
    try:
        return SiteServer(root, port=DEMO_PORT).start()
    except OSError:
        return SiteServer(root).start()


def run_demo(directory: Path) -> int:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    remote = directory / "remote.git"
    if not remote.exists():
        subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    with as_file(files("samizdat.demo").joinpath("site")) as root, _server(Path(root)) as server:
        sources = (
            (Path(root) / "sources.toml")
            .read_text(encoding="utf-8")
            .replace("{{BASE}}", server.base_url)
        )
        path = directory / "samizdat.toml"
        path.write_text(CONFIG.format(base=server.base_url, sources=sources), encoding="utf-8")
        cfg = config.load(path)
        with Reporter() as reporter:
            report = pipeline.run(cfg, reporter)
    click.echo(f"\nsamizdat demo: mirrored the sample site served on {server.base_url}")
    click.echo(
        f"  {report.new} new articles, {report.updated} updated, {report.excluded} excluded by title"
    )
    for source, channel in cfg.channels():
        folder = cfg.site.output / "pages" / channel.id
        pages = sorted(folder.glob("*.md")) if folder.is_dir() else []
        click.echo(f"  {source.id}/{channel.id}: {len(pages)} pages in {folder}")
    click.echo(f"  config:  {path}")
    click.echo(f"  home:    {cfg.site.output / 'README.md'} (Markdown, as git hosts show it)")
    click.echo(f"  site:    {cfg.site.output / 'site' / 'index.html'} (the static HTML site)")
    click.echo(f"  images:  {cfg.site.output / 'images'} (mirrored: pages need no source host)")
    click.echo(
        f"  remote:  {remote} (a bare git repository; `git clone {remote}` to see what readers get)"
    )
    if report.problems:
        click.echo(f"  problems ({len(report.problems)}):")
        for line in report.problems:
            click.echo(f"    {line}")
    return report.exit_code
