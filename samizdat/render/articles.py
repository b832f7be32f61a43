"""One pass over the live articles writes their pages and QR codes in both outputs: the
Markdown tree (`render.tree.MarkdownPages`) and the HTML site (`site.build.SiteBuild`).

A task is a block of up to CHUNK articles of one channel, and one process writes both
outputs' files of those articles, the Markdown ones first: the site's QR code of an article
is a copy of its Markdown QR code when both hold the same address. One pass, not one per
output, also means one set of worker processes per build and no wait between the outputs;
what needs no article page (indexes, feeds, search) is written by this process meanwhile.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import resource
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from samizdat.models import Article
from samizdat.render.files import Spares, Writer
from samizdat.render.pool import CHUNK, run_chunks, writer_threads
from samizdat.store import Store

if TYPE_CHECKING:
    from samizdat.render.tree import Flags, MarkdownPages
    from samizdat.site.build import SiteBuild, SiteFlags, SiteResult

Marks = tuple[bool, bool, bool, bool]  # Markdown page, its QR code, site page, its QR code
Task = tuple[list[Article], list[Marks]]


@dataclass
class Written:
    """What a pass wrote of the Markdown output (the site's part is merged into its build)."""

    pages: int = 0
    qr_codes: int = 0
    worker_cpu: float = 0.0  # CPU seconds of worker processes (not in this one's rusage)
    worker_peak_kib: int = 0  # the largest peak resident size of a worker process
    site: list[tuple[SiteResult, set[str]]] = field(default_factory=list)


def write_articles(
    live: Mapping[str, list[Article]],
    markdown: MarkdownPages | None,
    markdown_flags: Flags,
    site: SiteBuild | None,
    site_flags: SiteFlags,
    *,
    state: Path,
    meanwhile: Callable[[], None] | None = None,
) -> Written:
    """Write what the flags ask for (a channel missing from a flag map: nothing of that
    output), over worker processes for big builds, running `meanwhile` in this process.
    Articles without their bodies get them from the store at `state`."""
    tasks: list[Task] = []
    nothing = (False, False)
    for channel, articles in live.items():
        md = markdown_flags.get(channel) or [nothing] * len(articles)
        html = site_flags.get(channel) or [nothing] * len(articles)
        work = [(a, (*m, *h)) for a, m, h in zip(articles, md, html, strict=True) if any(m + h)]
        for k in range(0, len(work), CHUNK):
            block = work[k : k + CHUNK]
            tasks.append(([a for a, _ in block], [marks for _, marks in block]))
    try:
        done, pooled = run_chunks(
            _chunk,
            tasks,
            pages=sum(len(articles) for articles, _ in tasks),
            start=_start,
            args=(markdown, site, state),
            meanwhile=meanwhile,
        )
    finally:
        _finish_here()
    written = Written()
    for part in done:
        written.pages += part.pages
        written.qr_codes += part.qr_codes
        written.site += part.site
        if pooled:
            written.worker_cpu += part.worker_cpu
            written.worker_peak_kib = max(written.worker_peak_kib, part.worker_peak_kib)
    if site is not None:
        for result, used in written.site:
            site.merge(result, used)
    return written


@dataclass
class _Context:
    """What every task needs, set once in each worker (and in this process without workers):
    the two outputs' writers, the spare files their writes go through (kept from one task to
    the next), and the store, from which each task reads its articles' bodies (cheaper than
    sending them: a full build's bodies pickle to 75 MB)."""

    markdown: MarkdownPages | None
    site: SiteBuild | None
    spares: Spares
    state: Path
    store: Store | None = None

    def bodies(self, articles: list[Article]) -> None:
        missing = [a for a in articles if not a.text]
        if missing:
            if self.store is None:
                self.store = Store(self.state)
            self.store.load_bodies(missing)

    def close(self) -> None:
        self.spares.release()
        if self.store is not None:
            self.store.close()
            self.store = None


_context: _Context | None = None


def _start(markdown: MarkdownPages | None, site: SiteBuild | None, state: Path) -> None:
    global _context
    output = markdown.config.site.output if markdown else site.output if site else None
    _context = _Context(markdown, site, Spares(home=output), state)
    if multiprocessing.parent_process() is not None:
        # A worker's last act, when the pool shuts down: remove its spares.
        multiprocessing.util.Finalize(None, _context.close, exitpriority=10)


def _finish_here() -> None:
    """Close what `_start` opened when this process did the work itself."""
    global _context
    if _context is not None:
        _context.close()
        _context = None


def _chunk(task: Task) -> Written:
    assert _context is not None
    started = time.process_time()
    markdown, site = _context.markdown, _context.site
    articles, marks = task
    _context.bodies(articles)
    part = Written()
    with Writer(writer_threads(), spares=_context.spares) as writer:
        if markdown is not None:
            paths: list[str] = []
            for article, (page, qr, _, _) in zip(articles, marks, strict=True):
                paths += markdown.write(article, page, qr, writer)
            for path, wrote in zip(paths, writer.wait(), strict=True):
                if path.endswith(".png"):
                    part.qr_codes += wrote
                else:
                    part.pages += wrote
        if site is not None:
            part.site.append(site.write_all(articles, [m[2:] for m in marks], writer))
    part.worker_cpu = time.process_time() - started
    part.worker_peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return part
