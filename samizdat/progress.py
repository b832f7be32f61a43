"""Progress for long work: a rich progress bar on a terminal, plain log lines otherwise (cron)."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

log = logging.getLogger("samizdat")


class Reporter:
    """Counts work done and says what happened. Quiet enough for cron when stderr is not a TTY."""

    def __init__(self, *, interactive: bool | None = None) -> None:
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> Reporter:
        if self.interactive:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._progress:
            self._progress.stop()

    def stage(self, description: str, total: int | None = None) -> None:
        if self._progress:
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(description, total=total)
        else:
            log.info("%s%s", description, f" ({total})" if total else "")

    def add_total(self, n: int) -> None:
        if self._progress and self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=(task.total or 0) + n)

    def advance(self, n: int = 1) -> None:
        if self._progress and self._task is not None:
            self._progress.advance(self._task, n)

    def info(self, message: str) -> None:
        if self._progress:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            log.info("%s", message)

    def warn(self, message: str) -> None:
        if self._progress:
            self._progress.console.print(Text.assemble(("warning: ", "yellow"), message))
        else:
            log.warning("%s", message)
