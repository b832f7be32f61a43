"""The `samizdat` command: a thin click group, one function per command, no logic of its own.

Exit status (SPEC §1): 0 all done; 3 some items/mirrors failed or another cycle holds the lock;
2 usage or config error; 1 any other fatal error.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from samizdat import __version__
from samizdat.errors import SamizdatError
from samizdat.options import EXIT_OK, EXIT_PARTIAL, config_option, remember_config, with_exit_status


def _load(path: Path) -> Any:
    from samizdat.config import load

    return load(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="samizdat")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option(
    "-c",
    "--config",
    "config_path",
    default=None,
    callback=remember_config,
    is_eager=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The config file [default: ./samizdat.toml].",
)
def main(quiet: bool, config_path: Path) -> None:
    """Mirror news from blocked sites into git repositories of Markdown pages and a static site."""
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "readability"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
@config_option
@with_exit_status
def run(config_path: Path) -> int:
    """One full cycle: discover, fetch, extract, clean, store, render, commit, push."""
    from samizdat import pipeline
    from samizdat.progress import Reporter

    config = _load(config_path)
    with Reporter() as reporter:
        report = pipeline.run(config, reporter)
    _summary(report)
    return report.exit_code


@main.command()
@config_option
@with_exit_status
def build(config_path: Path) -> int:
    """Re-render every output from the store, fetching nothing."""
    from samizdat import build as build_stage
    from samizdat.lock import CycleLock
    from samizdat.pipeline import lock_path
    from samizdat.store import Store

    config = _load(config_path)
    with CycleLock(lock_path(config)):
        store = Store(config.site.state)
        try:
            result = build_stage.build(config, store, full=True)
        finally:
            store.close()
    click.echo(
        f"rendered {result.pages} pages, {result.qr_codes} QR codes, removed {result.removed} files"
    )
    return EXIT_OK


@main.command()
@config_option
@with_exit_status
def publish(config_path: Path) -> int:
    """Commit and push what is in the output, nothing else."""
    from samizdat import pipeline
    from samizdat.lock import CycleLock
    from samizdat.progress import Reporter
    from samizdat.store import Store

    config = _load(config_path)
    report = pipeline.CycleReport()
    with CycleLock(pipeline.lock_path(config)), Reporter() as reporter:
        store = Store(config.site.state)
        try:
            pipeline.publish_output(config, store, report, reporter)
        finally:
            store.close()
    click.echo(f"commit: {report.commit or 'nothing to commit'}")
    return report.exit_code


@main.command()
@config_option
@with_exit_status
def status(config_path: Path) -> int:
    """Articles per source and channel, last cycle, failures, each mirror's last push."""
    from samizdat.status import status_text

    click.echo(status_text(_load(config_path)), nl=False)
    return EXIT_OK


@main.command()
@click.argument("url")
@config_option
@click.option(
    "--source",
    "source_id",
    help="Use this source's rules (default: the source whose channels share the URL's host).",
)
@with_exit_status
def check(url: str, config_path: Path, source_id: str | None) -> int:
    """Fetch one article URL and print what would be extracted."""
    from samizdat.check import check as check_url

    config = _load(config_path) if config_path.exists() or source_id else None
    article, rules = check_url(url, config, source_id)
    lines = [
        f"title:     {article.title}",
        f"published: {article.published.isoformat() if article.published else '-'}",
        f"author:    {article.author or '-'}",
        f"image:     {article.image or '-'}",
        f"caption:   {article.caption or '-'}",
        f"body from: {article.method} ({rules}): {article.reason}",
        "",
        article.text,
    ]
    click.echo("\n".join(lines))
    return EXIT_OK if article.text.strip() else EXIT_PARTIAL


@main.command()
@config_option
@click.option(
    "--every", default="30m", show_default=True, help="Interval between cycles: 30m, 1h, 90s …"
)
@with_exit_status
def watch(config_path: Path, every: str) -> int:
    """Run a cycle every interval until stopped (SIGTERM ends it cleanly)."""
    from samizdat.watch import parse_interval
    from samizdat.watch import watch as watch_loop

    try:
        seconds = parse_interval(every)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--every") from None
    return watch_loop(config_path, seconds)


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@with_exit_status
def init(directory: Path) -> int:
    """Write a commented example samizdat.toml into DIRECTORY."""
    from importlib.resources import files

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "samizdat.toml"
    if target.exists():
        raise SamizdatError(f"{target} exists; not overwriting it")
    target.write_text(
        files("samizdat").joinpath("init_template.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    click.echo(f"wrote {target}; edit it, then run: samizdat -c {target} run")
    return EXIT_OK


@main.command()
@click.argument(
    "directory", default="samizdat-demo", type=click.Path(file_okay=False, path_type=Path)
)
@with_exit_status
def demo(directory: Path) -> int:
    """Mirror the bundled sample news site, offline, into DIRECTORY."""
    from samizdat.demo.run import run_demo

    return run_demo(directory)


def _summary(report: Any) -> None:
    click.echo(
        f"{report.new} new, {report.updated} updated, {report.excluded} excluded, {report.purged} purged; "
        f"commit: {report.commit or 'none (nothing changed)'}"
    )
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s):", err=True)
        for line in report.problems:
            click.echo(f"  {line}", err=True)


def _attach_counter() -> None:
    from samizdat.counter.command import counter

    main.add_command(counter)


_attach_counter()
