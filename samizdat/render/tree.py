"""The Markdown tree of the publication: article pages and their QR codes, channel indexes,
and the removal of what purged articles leave behind (SPEC §3).

`samizdat.build` decides what to render; this module does it, with worker processes for big
renders (`render.pool`). It is imported only when something is rendered, so a no-op cycle
never pays for the renderers' imports.
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from samizdat.clean import link_targets, relink
from samizdat.config import Config
from samizdat.images import prune, referenced
from samizdat.models import Article
from samizdat.render.files import Writer, listing, remove, write_if_changed
from samizdat.render.indexes import earlier_path, render_index
from samizdat.render.page import render_page
from samizdat.render.qr import qr_png
from samizdat.store import Store


def public_url(config: Config, article: Article) -> str:
    """The Markdown page's public address: what the share block shows and the QR code holds."""
    return f"{config.site.base_url}/{article.path}"


class Bodies:
    """Fills in `html` and `text` of articles read without them (`Store.headers`), once each:
    a cycle that adds 20 articles to a mirror of 10,000 reads 20 bodies, not 10,000."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.loaded: set[tuple[str, str]] = set()

    def __call__(self, articles: Iterable[Article]) -> None:
        wanted = [a for a in articles if (a.channel, a.slug) not in self.loaded]
        self.store.load_bodies(wanted)
        self.loaded.update((a.channel, a.slug) for a in wanted)


def load_live(config: Config, store: Store) -> tuple[dict[str, list[Article]], Bodies]:
    """Live articles per configured channel, newest first, without their bodies: the pages
    written load theirs (`render.articles`), the rest what it needs through `Bodies`."""
    live: dict[str, list[Article]] = {channel.id: [] for _, channel in config.channels()}
    for article in store.headers():
        if article.channel in live:
            live[article.channel].append(article)
    return live, Bodies(store)


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
        write_if_changed(self.out, f"{article.path}.png", qr_png(public_url(self.config, article)))
        targets = link_targets(article.html, article.url)
        self.written[(article.channel, article.slug)] = {t: links.get(t) for t in targets}

    def still_right(self, article: Article, links: Mapping[str, str]) -> bool:
        """Whether the page written early is what the final render would write."""
        seen = self.written.get((article.channel, article.slug))
        return seen is not None and all(links.get(t) == path for t, path in seen.items())


@dataclass
class MarkdownPages:
    """What writing the Markdown pages of articles needs: set up once per build, and sent once
    to each worker process (`render.articles`)."""

    config: Config
    mirrored: dict[str, str]  # original URL → page path, the first channel's copy
    own: dict[str, dict[str, str]]  # the same per channel, which wins in that channel

    def write(self, article: Article, page: bool, qr: bool, writer: Writer) -> list[str]:
        """Submit the writes of an article's page and QR code (when asked for); the paths
        submitted, in order, for `writer.wait()`'s results."""
        submitted = []
        if page:
            links = ChainMap(self.own[article.channel], self.mirrored)
            writer.write(self.config.site.output, article.path, _page(self.config, article, links))
            submitted.append(article.path)
        if qr:
            png = f"{article.path}.png"
            writer.write(self.config.site.output, png, qr_png(public_url(self.config, article)))
            submitted.append(png)
        return submitted


Flags = dict[str, list[tuple[bool, bool]]]  # channel → per live article: (page, QR code) to write


def plan_markdown(
    config: Config,
    live: dict[str, list[Article]],
    changed: set[tuple[str, str]] | None,
    qr_base: str | None,
    *,
    early: EarlyPages | None = None,
) -> tuple[MarkdownPages, Flags]:
    """What to write of each live article's page and QR code: pages in `changed` (all when
    None) but those the cycle wrote early and that are still right, QR codes that are missing or
    whose address changed (`qr_base` is the base URL of the last render)."""
    # An article listed by several channels links to the copy in the page's own channel.
    mirrored: dict[str, str] = {}
    for articles in live.values():
        for a in articles:
            mirrored.setdefault(a.url, a.path)
    own = {channel: {a.url: a.path for a in articles} for channel, articles in live.items()}
    out = config.site.output
    moved = qr_base != config.site.base_url
    flags: Flags = {}
    for channel, articles in live.items():
        existing = set() if moved else listing(out / "pages" / channel)
        links = ChainMap(own[channel], mirrored)
        marks = []
        for article in articles:
            page = changed is None or (article.channel, article.slug) in changed
            qr = moved or f"{article.slug}.md.png" not in existing
            if early is not None and changed is not None and early.still_right(article, links):
                page = qr = False  # written while the cycle fetched, and still right
            marks.append((page, qr))
        flags[channel] = marks
    return MarkdownPages(config, mirrored, own), flags


def write_indexes(config: Config, live: dict[str, list[Article]]) -> int:
    """The channel indexes (`indexes/<channel>.md`, and `-earlier.md` when it is long; one no
    longer needed is removed). The number of files removed."""
    out = config.site.output
    removed = 0
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
        if earlier_path(channel.id) not in files:
            removed += remove(out, earlier_path(channel.id))
    return removed


def remove_purged(config: Config, live: dict[str, list[Article]]) -> int:
    """Remove what articles no longer live left: pages, QR codes, and images no kept article
    uses. Run it after the pages are written: a page folder listed mid-write would show their
    temporary files. The number of files removed."""
    out = config.site.output
    removed = 0
    for _, channel in config.channels():
        removed += _remove_stale(out, channel.id, {a.slug for a in live[channel.id]})
    keep = {a.image for articles in live.values() for a in articles if a.image}
    keep |= {path for articles in live.values() for a in articles for path in referenced(a.html)}
    return removed + prune(out, keep)


def _page(config: Config, article: Article, mirrored: Mapping[str, str]) -> str:
    body = relink(
        article.html,
        page_url=article.url,
        mirrored=mirrored,
        blocked=config.blocked,
        page_path=article.path,
    )
    return render_page(article, config.site, public_url=public_url(config, article), body_html=body)


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
