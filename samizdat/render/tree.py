"""The Markdown tree of the publication: article pages and their QR codes, channel indexes,
and the removal of what purged articles leave behind (SPEC §3).

`samizdat.build` decides what to render; this module does it, with worker processes for big
renders (`render.pool`). It is imported only when something is rendered, so a no-op cycle
never pays for the renderers' imports.
"""

from __future__ import annotations

import os
import time
from collections import ChainMap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from samizdat.clean import link_targets, relink
from samizdat.config import Config
from samizdat.images import prune, referenced
from samizdat.models import Article
from samizdat.render.files import Writer, remove, write_if_changed
from samizdat.render.indexes import render_index
from samizdat.render.page import render_page
from samizdat.render.pool import CHUNK, run_chunks, writer_threads
from samizdat.render.qr import qr_png
from samizdat.store import Store

if TYPE_CHECKING:
    from samizdat.build import BuildResult


def public_url(config: Config, article: Article) -> str:
    """The Markdown page's public address: what the share block shows and the QR code holds."""
    return f"{config.site.base_url}/{article.path}"


class Bodies:
    """Fills in `html` and `text` of articles read without them (`Store.headers`), once each:
    a cycle that adds 20 articles to a mirror of 10,000 reads 20 bodies, not 10,000."""

    def __init__(self, store: Store, loaded: bool) -> None:
        self.store = store
        self.all_loaded = loaded
        self.loaded: set[tuple[str, str]] = set()

    def __call__(self, articles: Iterable[Article]) -> None:
        if self.all_loaded:
            return
        for article in articles:
            key = (article.channel, article.slug)
            if key in self.loaded:
                continue
            body = self.store.body(*key)
            if body is not None:
                article.html, article.text = body
            self.loaded.add(key)


def load_live(
    config: Config, store: Store, changed: set[tuple[str, str]] | None
) -> tuple[dict[str, list[Article]], Bodies]:
    """Live articles per configured channel, newest first: whole for a full render (`changed`
    None), else without bodies but for those in `changed`."""
    ids = [channel.id for _, channel in config.channels()]
    if changed is None:
        everything = store.articles()
        bodies = Bodies(store, loaded=True)
    else:
        everything = store.headers()
        bodies = Bodies(store, loaded=False)
        bodies([a for a in everything if (a.channel, a.slug) in changed])
    live: dict[str, list[Article]] = {channel: [] for channel in ids}
    for article in everything:
        if article.channel in live:
            live[article.channel].append(article)
    return live, bodies


class EarlyPages:
    """Article pages and QR codes written while a cycle still fetches, so that the CPU and
    disk work of rendering them overlaps the waiting for the network.

    A page is written with the links known at the time; the final render skips it when every
    link in it resolves the same way then (usually: links to articles mirrored later in the
    cycle are the exception, and those pages are rendered again)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.out = config.site.output
        # Same rule as the final render: an article listed by several channels is linked to
        # in the page's own channel, else in the first channel that holds it.
        self.first: dict[str, str] = {}
        self.own: dict[str, dict[str, str]] = {c.id: {} for _, c in config.channels()}
        for article in store.headers():
            self._know(article)
        self.written: dict[tuple[str, str], dict[str, str | None]] = {}

    def _know(self, article: Article) -> None:
        self.first.setdefault(article.url, article.path)
        self.own.setdefault(article.channel, {})[article.url] = article.path

    def write(self, article: Article) -> None:
        """Write one stored article's page and QR code (call it from one thread at a time)."""
        self._know(article)
        links = ChainMap(self.own[article.channel], self.first)
        write_if_changed(self.out, article.path, _page(self.config, article, links))
        _write_qr(self.out, f"{article.path}.png", public_url(self.config, article))
        targets = link_targets(article.html, article.url)
        self.written[(article.channel, article.slug)] = {t: links.get(t) for t in targets}

    def still_right(self, article: Article, links: Mapping[str, str]) -> bool:
        """Whether the page written early is what the final render would write."""
        seen = self.written.get((article.channel, article.slug))
        return seen is not None and all(links.get(t) == path for t, path in seen.items())


def render_markdown(
    config: Config,
    out: Path,
    live: dict[str, list[Article]],
    changed: set[tuple[str, str]] | None,
    qr_base: str | None,
    result: BuildResult,
    *,
    early: EarlyPages | None = None,
) -> None:
    """Pages (those in `changed`, or all), QR codes, indexes; purged pages and images removed."""
    # An article listed by several channels links to the copy in the page's own channel.
    mirrored: dict[str, str] = {}
    for articles in live.values():
        for a in articles:
            mirrored.setdefault(a.url, a.path)
    own = {channel: {a.url: a.path for a in articles} for channel, articles in live.items()}
    tasks: list[tuple[str, list[tuple[Article, bool, bool]]]] = []
    for _, channel in config.channels():
        work = []
        links = ChainMap(own[channel.id], mirrored)
        for article in live[channel.id]:
            page = changed is None or (article.channel, article.slug) in changed
            png = f"{article.path}.png"
            qr = qr_base != config.site.base_url or not (out / png).exists()
            if early is not None and changed is not None and early.still_right(article, links):
                page = qr = False  # written while the cycle fetched, and still right
            if page or qr:
                work.append((article, page, qr))
        tasks += [(channel.id, work[k : k + CHUNK]) for k in range(0, len(work), CHUNK)]
    done, pooled = run_chunks(
        _render_chunk,
        tasks,
        pages=sum(len(work) for _, work in tasks),
        start=_start,
        args=(config, mirrored, own),
    )
    if pooled:
        result.worker_cpu += sum(cpu for _, _, cpu in done)
    result.pages += sum(pages for pages, _, _ in done)
    result.qr_codes += sum(codes for _, codes, _ in done)
    for source, channel in config.channels():
        files = render_index(
            channel,
            source,
            live[channel.id],
            index_size=config.publish.index_size,
            site=config.site,
        )
        for path, text in files.items():
            write_if_changed(out, path, text)
        earlier = f"indexes/{channel.id}-earlier.md"
        if earlier not in files:
            result.removed += remove(out, earlier)
        result.removed += _remove_stale(out, channel.id, {a.slug for a in live[channel.id]})
    keep = {a.image for articles in live.values() for a in articles if a.image}
    keep |= {path for articles in live.values() for a in articles for path in referenced(a.html)}
    result.removed += prune(out, keep)  # images no kept article uses (purged ones' included)


# What every chunk of pages needs, set once in each worker (and in this process without them).
_context: tuple[Config, dict[str, str], dict[str, dict[str, str]]] | None = None


def _start(config: Config, mirrored: dict[str, str], own: dict[str, dict[str, str]]) -> None:
    global _context
    _context = (config, mirrored, own)


def _render_chunk(task: tuple[str, list[tuple[Article, bool, bool]]]) -> tuple[int, int, float]:
    """Write the pages and QR codes of some articles of one channel: (pages, codes) written,
    and the CPU seconds it took."""
    assert _context is not None
    started = time.process_time()
    config, mirrored, own = _context
    channel, work = task
    links = mirrored | own[channel]
    out = config.site.output
    pages = codes = 0
    with Writer(writer_threads()) as writer:
        for article, page, qr in work:
            if page:
                writer.write(out, article.path, _page(config, article, links))
            if qr:
                writer.submit(_write_qr, out, f"{article.path}.png", public_url(config, article))
        done = iter(writer.wait())
        for _, page, qr in work:
            pages += page and next(done)
            codes += qr and next(done)
    return pages, codes, time.process_time() - started


def _page(config: Config, article: Article, mirrored: Mapping[str, str]) -> str:
    body = relink(
        article.html,
        page_url=article.url,
        mirrored=mirrored,
        blocked=config.blocked,
        page_path=article.path,
    )
    return render_page(article, config.site, public_url=public_url(config, article), body_html=body)


def _write_qr(out: Path, path: str, address: str) -> bool:
    return write_if_changed(out, path, qr_png(address))


def _remove_stale(out: Path, channel: str, slugs: set[str]) -> int:
    """Remove pages (and QR codes) of purged articles, and anything a killed write left behind."""
    folder = out / "pages" / channel
    if not folder.is_dir():
        return 0
    removed = 0
    for name in os.listdir(folder):
        slug = name.removesuffix(".png").removesuffix(".md")
        if slug not in slugs or not (name.endswith(".md") or name.endswith(".md.png")):
            removed += remove(out, f"pages/{channel}/{name}")
    return removed
