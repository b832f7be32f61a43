"""`samizdat counter`: run the view-counter service; `samizdat counter ingest FILE…`.

The CLI attaches this group with `main.add_command(counter)`. Plain `samizdat counter` serves.
Exit status as in SPEC §1: 2 for a config or usage error, 1 for any other failure.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from samizdat.errors import ConfigError, SamizdatError

EXIT_FATAL, EXIT_USAGE = 1, 2

_config_option = click.option(
    "-c",
    "--config",
    "config_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The config file.  [default: samizdat.toml]",
)


def _errors(func: Callable[..., None]) -> Callable[..., None]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except ConfigError as e:
            click.echo(f"config error: {e}", err=True)
            sys.exit(EXIT_USAGE)
        except (SamizdatError, OSError, sqlite3.Error) as e:
            click.echo(f"samizdat counter: {e}", err=True)
            sys.exit(EXIT_FATAL)

    return wrapper


def _group_config(ctx: click.Context) -> Path:
    parent = ctx.parent
    while parent is not None:
        if parent.command is counter and parent.params.get("config_path"):
            return Path(parent.params["config_path"])
        parent = parent.parent
    return Path("samizdat.toml")


def _logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(message)s",
            datefmt="%Y-%m-%d %H:%M:%S",
            stream=sys.stderr,
        )


@click.group("counter", invoke_without_command=True)
@_config_option
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
@_errors
def counter(
    ctx: click.Context,
    config_path: Path | None,
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
    config = load(config_path or Path("samizdat.toml"))
    settings = Settings.from_config(
        config, prefix=prefix, flush_every=flush_every, refresh_every=refresh_every
    )
    serve(settings, host, port, workers=workers)


@counter.command("ingest")
@_config_option
@click.option(
    "--prefix",
    default=None,
    help="Request-path prefix of pixel addresses in the logs.  [default: the path of site.counter_url, or /p]",
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.pass_context
@_errors
def ingest(
    ctx: click.Context, config_path: Path | None, prefix: str | None, files: tuple[Path, ...]
) -> None:
    """Count pixel hits in access logs (nginx/Apache common or combined; gzip too).
    Ingesting a log again counts only lines not counted before."""
    from samizdat.config import load
    from samizdat.counter.app import pixel_prefix
    from samizdat.counter.counts import database_path, known_pages
    from samizdat.counter.ingest import Ingester

    config = load(config_path or _group_config(ctx))
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
