"""Worker processes for full builds: rendering pages and drawing QR codes is CPU work that
holds the GIL, so above POOL_MIN pages it is spread over one process per core, in chunks of
CHUNK articles. Each file is written by exactly one worker, with the same bytes as one process
would write: the output does not depend on how the work was split.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

A = TypeVar("A")
R = TypeVar("R")
log = logging.getLogger(__name__)

POOL_MIN = 500  # below it, starting the workers costs more than they save
CHUNK = 200  # articles per task: few tasks, and work even across the workers


def workers_for(count: int) -> int:
    """How many worker processes `count` pages get; 0 or 1 means: render them here."""
    if count < POOL_MIN:
        return 0
    return min(os.cpu_count() or 1, -(-count // CHUNK))


def writer_threads() -> int:
    """Threads for a `render.files.Writer` here: none in a worker process, whose siblings
    already keep every core busy (threads there only contend for the GIL), else a few, which
    overlap the kernel's file work with rendering."""
    return 0 if multiprocessing.parent_process() is not None else 4


def pool_context() -> BaseContext:
    """The workers' multiprocessing context, its server started.

    forkserver: workers start from a clean process whatever threads this one runs (a cycle
    has some), and without importing the __main__ module again, as spawn would (running
    `python -m samizdat`'s command line in each worker). The server imports samizdat's
    renderers once; workers fork from it ready."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["samizdat.render.articles", "samizdat.site.build"])
    forkserver.ensure_running()
    return context


def run_chunks(
    work: Callable[[A], R],
    tasks: list[A],
    *,
    pages: int,
    start: Callable[..., None],
    args: tuple[Any, ...],
    meanwhile: Callable[[], None] | None = None,
) -> tuple[list[R], bool]:
    """`[work(task) for task in tasks]`, over worker processes when `pages` warrant them (each
    worker runs `start(*args)` first; here it is run when they are not used), and
    `meanwhile()` in this process while they work (after the work without them). Also says
    whether workers did it. Workers that fail to start (a script calling samizdat without the
    `if __name__ == "__main__"` guard that multiprocessing needs) leave the work to this
    process, with a warning."""
    workers = workers_for(pages)
    pending = meanwhile
    if workers > 1:
        try:
            with ProcessPoolExecutor(
                workers, mp_context=pool_context(), initializer=start, initargs=args
            ) as pool:
                results = pool.map(work, tasks)  # every task is submitted now
                if pending is not None:
                    pending()
                    pending = None  # done: not again if the workers fail after all
                return list(results), True
        except (BrokenProcessPool, BrokenPipeError) as error:  # (a pipe: when run from stdin)
            log.warning("rendering in one process: the worker processes failed (%s)", error)
    start(*args)
    done = [work(task) for task in tasks]
    if pending is not None:
        pending()
    return done, False
