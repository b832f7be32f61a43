"""The render phase: every output file is derived from the store, nothing else.

A cycle renders incrementally: pages of articles stored or updated since the last render, their
channels' indexes and the home page. A full render (`samizdat build`, or when anything that
shapes every page changed: base URL, menu, counter, blocked hosts, samizdat's version) rewrites
every page, and every QR code whose address changed. Files are written atomically and only when
their bytes change, so a render of an unchanged store touches nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from samizdat import __version__
from samizdat.clean import relink
from samizdat.config import Config
from samizdat.counter.hot import HotEntry, render_hot
from samizdat.images import prune, referenced
from samizdat.models import Article
from samizdat.render.files import Writer, remove, write_if_changed
from samizdat.render.indexes import render_home, render_index
from samizdat.render.page import render_page
from samizdat.render.pool import CHUNK, pool_context, run_chunks, workers_for
from samizdat.render.qr import qr_png
from samizdat.site import build_site
from samizdat.site.build import MANIFEST as SITE_MANIFEST
from samizdat.site.build import SITE as SITE_FOLDER
from samizdat.store import Store

HOT_PAGE = "hot.md"


@dataclass
class BuildResult:
    pages: int = 0  # article pages written
    qr_codes: int = 0
    removed: int = 0
    full: bool = False
    markdown_seconds: float = 0.0  # wall time of the Markdown output (pages, QR codes, indexes)
    site_seconds: float = 0.0  # wall time of the HTML site
    worker_cpu: float = 0.0  # CPU seconds spent in worker processes (not in this one's rusage)


def epoch(config: Config) -> str:
    """A digest of everything that shapes every page: when it changes, all pages are rewritten."""
    site = config.site
    shape = {
        "version": __version__,
        "base_url": site.base_url,
        "mirrors": [(m.name, m.base_url) for m in config.mirrors],
        "counter_url": site.counter_url,
        "image_base_url": site.image_base_url,
        "site_url": site.site_url,
        "menu": [(m.title, m.url) for m in site.menu],
        "blocked": sorted(config.blocked),
        "index_size": config.publish.index_size,
        "channels": [(s.id, s.title, c.id, c.title) for s, c in config.channels()],
    }
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:16]


def public_url(config: Config, article: Article) -> str:
    return f"{config.site.base_url}/{article.path}"


def build(
    config: Config, store: Store, *, full: bool = False, hot: list[HotEntry] | None = None
) -> BuildResult:
    """Render the output tree and the HTML site from the store; `full` rewrites every page.

    `hot`: the counter's most-read pages for hot.md and the site's hot page (None: no news
    from the counter this time, the last hot list stays)."""
    revision = store.revision()  # what this render covers: changes after it go to the next
    current = epoch(config)
    full = full or store.get_meta("render.epoch") != current
    last = store.get_meta("render.rev")
    since = None if last is None else store.changed_after(int(last))
    changed = None if full else since
    result = BuildResult(full=changed is None)
    out = config.site.output
    site_missing = not (out / SITE_FOLDER / SITE_MANIFEST).exists()
    if changed is not None and not changed and hot is None and not site_missing:
        return result  # nothing new since the last render: a no-op cycle renders nothing

    out.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    pages = sum(store.counts().values()) if changed is None else len(changed)
    if workers_for(pages) > 1:
        pool_context()  # the worker processes' server boots while the articles load
    live, bodies = load_live(config, store, changed)
    if changed is None or changed:
        qr_base = store.get_meta("render.qr_base")
        _render_markdown(config, out, live, changed, qr_base, result)
    if hot is not None:
        write_if_changed(out, HOT_PAGE, render_hot(hot, config.site))
    write_if_changed(
        out, "README.md", render_home(config, store.counts(), has_hot=(out / HOT_PAGE).exists())
    )
    # A write killed between its temporary file and the rename leaves a .*.tmp file behind:
    # never commit one (the next render removes those in page folders).
    write_if_changed(out, ".gitignore", "*.tmp\n")
    result.markdown_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    site = build_site(
        config,
        store,
        changed=None if result.full or site_missing else changed or set(),
        hot=[(h.path, h.views) for h in hot] if hot is not None else None,
        site_url=config.site.site_url,
        live=live,
        bodies=bodies,
        search_since=None if site_missing else since,
    )
    result.site_seconds = time.perf_counter() - clock
    result.worker_cpu += site.worker_cpu
    store.set_meta("render.epoch", current)
    store.set_meta("render.qr_base", config.site.base_url)
    store.set_meta("render.rev", str(revision))
    return result


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


def _render_markdown(
    config: Config,
    out: Path,
    live: dict[str, list[Article]],
    changed: set[tuple[str, str]] | None,
    qr_base: str | None,
    result: BuildResult,
) -> None:
    """Pages (those in `changed`, or all), QR codes, indexes; purged pages and images removed."""
    # An article listed by several channels links to the copy in the page's own channel.
    mirrored: dict[str, str] = {}
    for articles in live.values():
        for a in articles:
            mirrored.setdefault(a.url, a.path)
    tasks: list[tuple[str, list[tuple[Article, bool, bool]]]] = []
    for _, channel in config.channels():
        work = []
        for article in live[channel.id]:
            page = changed is None or (article.channel, article.slug) in changed
            png = f"{article.path}.png"
            qr = qr_base != config.site.base_url or not (out / png).exists()
            if page or qr:
                work.append((article, page, qr))
        tasks += [(channel.id, work[k : k + CHUNK]) for k in range(0, len(work), CHUNK)]
    own = {channel: {a.url: a.path for a in articles} for channel, articles in live.items()}
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
    with Writer() as writer:
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


def _page(config: Config, article: Article, mirrored: dict[str, str]) -> str:
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
