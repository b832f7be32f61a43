"""`samizdat counter`: run the view-counter service; `samizdat counter ingest FILE…`.

The CLI attaches this group with `main.add_command(counter)`. Plain `samizdat counter` serves.
Exit status as in SPEC §1: 2 for a config or usage error, 1 for any other failure.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from samizdat.options import config_option, with_exit_status


def _logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(message)s",
            datefmt="%Y-%m-%d %H:%M:%S",
            stream=sys.stderr,
        )


@click.group("counter", invoke_without_command=True)
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8008, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes sharing the port (SO_REUSEPORT), all adding to one database.",
)
@click.option(
    "--prefix",
    default=None,
    help="Request-path prefix of pixel addresses.  [default: the path of site.counter_url, or /p]",
)
@click.option(
    "--flush-every",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.5, 3600),
    help="Seconds between writes of the counts (what a crash can lose).",
)
@click.option(
    "--refresh-every",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1, 86400),
    help="Seconds between reads of the mirror's live pages from the state DB.",
)
@click.pass_context
@with_exit_status
def counter(
    ctx: click.Context,
    config_path: Path,
    host: str,
    port: int,
    workers: int,
    prefix: str | None,
    flush_every: float,
    refresh_every: float,
) -> None:
    """Run the view-counter service: GET <prefix>/pages/<channel>/<id>.md answers a pixel and
    counts a view; /hot.json, /healthz and /metrics. Stores no address, agent or cookie."""
    if ctx.invoked_subcommand is not None:
        return
    from samizdat.config import load
    from samizdat.counter.app import Settings
    from samizdat.counter.serve import serve

    _logging()
    config = load(config_path)
    settings = Settings.from_config(
        config, prefix=prefix, flush_every=flush_every, refresh_every=refresh_every
    )
    serve(settings, host, port, workers=workers)


@counter.command("ingest")
@config_option
@click.option(
    "--prefix",
    default=None,
    help="Request-path prefix of pixel addresses in the logs.  [default: the path of site.counter_url, or /p]",
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.pass_context
@with_exit_status
def ingest(
    ctx: click.Context, config_path: Path, prefix: str | None, files: tuple[Path, ...]
) -> None:
    """Count pixel hits in access logs (nginx/Apache common or combined; gzip too).
    Ingesting a log again counts only lines not counted before."""
    from samizdat.config import load
    from samizdat.counter.app import pixel_prefix
    from samizdat.counter.counts import database_path, known_pages
    from samizdat.counter.ingest import Ingester

    config = load(config_path)
    pages = known_pages(config.site.state)
    if not pages:
        click.echo(f"warning: no live pages in {config.site.state}; nothing will count", err=True)
    ingester = Ingester(
        database_path(config),
        pages,
        prefix=pixel_prefix(config.site.counter_url) if prefix is None else prefix,
    )
    try:
        report = ingester.ingest(files)
    finally:
        ingester.close()
    click.echo(
        f"{report.files} file(s), {report.lines} lines: {report.views} views counted, "
        f"{report.already} lines counted before, {report.unknown} other requests, "
        f"{report.malformed} unreadable lines"
    )
