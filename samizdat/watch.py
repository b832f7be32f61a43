"""`samizdat watch`: a cycle every interval until stopped.

SIGTERM or SIGINT ends it cleanly: while waiting, at once; during a cycle, after the current
step (no new item is started; what was collected is rendered and committed; the push waits for
the next run). The config is read again before each cycle, so edits apply without a restart;
a broken edit is reported and the last good config is used.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from samizdat import config as config_module
from samizdat import pipeline
from samizdat.errors import ConfigError, LockHeld
from samizdat.progress import Reporter

log = logging.getLogger("samizdat")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_interval(text: str) -> float:
    """Seconds in an interval such as "30m", "1h30m", "90s" or "2h"."""
    compact = text.replace(" ", "").lower()
    parts = _INTERVAL.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"not an interval: {text!r} (use e.g. 30m, 1h, 1h30m, 90s)")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"the interval must be positive: {text!r}")
    return seconds


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: finishing the current step", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def watch(config_path: Path, every: float, *, cycles: int | None = None) -> int:
    """Run cycles until a signal (or `cycles` of them, for tests); return the exit status."""
    config = config_module.load(config_path)  # a broken config at start is exit status 2
    done = 0
    with stop_on_signals() as stop:
        while not stop.is_set():
            try:
                config = config_module.load(config_path)
            except ConfigError as e:
                log.error("config error, keeping the last good config: %s", e)
            try:
                with Reporter() as reporter:
                    report = pipeline.run(config, reporter, stop)
                log.info(
                    "cycle done: %d new, %d updated, %d problems",
                    report.new,
                    report.updated,
                    len(report.problems),
                )
            except LockHeld as e:
                log.warning("skipping this cycle: %s", e)
            except Exception:  # the next cycle may well succeed (a full disk, a network blip)
                log.exception("cycle failed")
            done += 1
            if cycles is not None and done >= cycles:
                break
            stop.wait(every)
    return 0
