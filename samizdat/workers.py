"""Extraction workers: CPU work off the event loop, in processes started only when needed.

Workers are spawned (not forked: the parent holds sockets, threads and an event loop) and watch
their parent: a cycle killed with SIGKILL must not leave idle workers behind for ever, which is
what a ProcessPoolExecutor's workers otherwise do when their parent dies without shutting down.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from samizdat.models import Extracted, Rules


def extract(html: str, url: str, rules: Rules, feed_html: str | None, convert: str) -> Extracted:
    from samizdat.article import extract_article

    return extract_article(html, url, rules=rules, feed_html=feed_html, convert=convert)


def when_orphaned(action: Callable[[], object], parent: int | None = None) -> None:
    """Run `action` (in a daemon thread) once this process's parent is gone: a worker whose
    parent was killed (SIGKILL) must not live on, idle or serving, for ever."""
    parent = os.getppid() if parent is None else parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        action()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _start_worker(parent: int) -> None:
    # Nobody will ever read our results once the cycle is gone.
    when_orphaned(lambda: os._exit(0), parent)
    import samizdat.article  # noqa: F401  (pay the import while the first pages are fetched)


class ExtractionPool:
    """A process pool for `extract`, created on first use and shut down by `close`."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(os.cpu_count() or 1, 4))
        self._executor: ProcessPoolExecutor | None = None

    async def run(
        self, html: str, url: str, rules: Rules, feed_html: str | None, convert: str
    ) -> Extracted:
        """Extract one page in a worker. A worker that dies (a crash in a C library on a hostile
        page, the OOM killer) breaks the whole pool: it is replaced and the page tried once more,
        so one bad page costs itself, not every page after it."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self._current()
            try:
                return await loop.run_in_executor(
                    executor, extract, html, url, rules, feed_html, convert
                )
            except BrokenProcessPool:
                if self._executor is executor:  # the first to notice replaces it
                    executor.shutdown(wait=False, cancel_futures=True)
                    self._executor = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _current(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
