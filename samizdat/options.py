"""What every `samizdat` command shares: the `-c/--config` option and the exit statuses.

Exit status (SPEC §1): 0 all done; 3 some items/mirrors failed or another cycle holds the lock;
2 usage or config error; 1 any other fatal error.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from samizdat.errors import ConfigError, LockHeld, SamizdatError

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

DEFAULT_CONFIG = Path("samizdat.toml")


def remember_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path:
    """`-c` works before the command (`samizdat -c x run`) and after it (`samizdat run -c x`)."""
    root = ctx.find_root()
    if value is not None:
        if ctx is root:
            root.meta["samizdat.config"] = value
        return value
    return root.meta.get("samizdat.config") or DEFAULT_CONFIG


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-c",
        "--config",
        "config_path",
        default=None,
        callback=remember_config,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The config file [default: ./samizdat.toml].",
    )(func)


def with_exit_status(func: Callable[..., int | None]) -> Callable[..., None]:
    """Map samizdat's exceptions to SPEC's exit codes with a one-line message on stderr."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = func(*args, **kwargs) or EXIT_OK
        except ConfigError as e:
            click.echo(f"config error: {e}", err=True)
            code = EXIT_USAGE
        except LockHeld as e:
            click.echo(f"samizdat: {e}", err=True)
            code = EXIT_PARTIAL
        except SamizdatError as e:
            click.echo(f"samizdat: {e}", err=True)
            code = EXIT_FATAL
        except KeyboardInterrupt:
            click.echo("samizdat: interrupted", err=True)
            code = 130
        except Exception as e:  # a bug or the environment: say what; the trace goes to the log
            logging.getLogger("samizdat").debug("fatal error", exc_info=True)
            click.echo(f"samizdat: fatal: {type(e).__name__}: {e}", err=True)
            code = EXIT_FATAL
        if code:  # success returns normally, so a group can go on to its subcommand
            sys.exit(code)

    return wrapper
