"""The render phase: every output file is derived from the store, nothing else.

A cycle renders incrementally: pages of articles stored or updated since the last render, their
channels' indexes and the home page. A full render (`samizdat build`, or when anything that
shapes every page changed: base URL, menu, counter, blocked hosts, samizdat's version) rewrites
every page, and every QR code whose address changed. Files are written atomically and only when
their bytes change, so a render of an unchanged store touches nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from samizdat import __version__
from samizdat.clean import relink
from samizdat.config import Config
from samizdat.counter.hot import HotEntry, render_hot
from samizdat.images import prune, referenced
from samizdat.models import Article
from samizdat.render.files import remove, write_if_changed
from samizdat.render.indexes import render_home, render_index
from samizdat.render.page import render_page
from samizdat.render.qr import qr_png
from samizdat.site import build_site
from samizdat.site.build import MANIFEST as SITE_MANIFEST
from samizdat.site.build import SITE as SITE_FOLDER
from samizdat.store import Store, now

HOT_PAGE = "hot.md"


@dataclass
class BuildResult:
    pages: int = 0  # article pages written
    qr_codes: int = 0
    removed: int = 0
    full: bool = False


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
    started = now()
    current = epoch(config)
    full = full or store.get_meta("render.epoch") != current
    last = store.get_meta("render.at")
    changed = None if full or last is None else store.changed_since(last)
    result = BuildResult(full=changed is None)
    out = config.site.output
    site_missing = not (out / SITE_FOLDER / SITE_MANIFEST).exists()
    if changed is not None and not changed and hot is None and not site_missing:
        return result  # nothing new since the last render: a no-op cycle renders nothing

    out.mkdir(parents=True, exist_ok=True)
    if changed is None or changed:
        _render_markdown(config, store, out, changed, result)
    if hot is not None:
        write_if_changed(out, HOT_PAGE, render_hot(hot, config.site))
    write_if_changed(
        out, "README.md", render_home(config, store.counts(), has_hot=(out / HOT_PAGE).exists())
    )
    # A write killed between its temporary file and the rename leaves a .*.tmp file behind:
    # never commit one (the next render removes those in page folders).
    write_if_changed(out, ".gitignore", "*.tmp\n")
    build_site(
        config,
        store,
        changed=None if result.full or site_missing else changed or set(),
        hot=[(h.path, h.views) for h in hot] if hot is not None else None,
        site_url=config.site.site_url,
    )
    store.set_meta("render.epoch", current)
    store.set_meta("render.qr_base", config.site.base_url)
    store.set_meta("render.at", started.isoformat())
    return result


def _render_markdown(
    config: Config,
    store: Store,
    out: Path,
    changed: set[tuple[str, str]] | None,
    result: BuildResult,
) -> None:
    """Pages (those in `changed`, or all), QR codes, indexes; purged pages and images removed."""
    live = {channel.id: store.articles(channel.id) for _, channel in config.channels()}
    # An article listed by several channels links to the copy in the page's own channel.
    mirrored: dict[str, str] = {}
    for articles in live.values():
        for a in articles:
            mirrored.setdefault(a.url, a.path)
    qr_base = store.get_meta("render.qr_base")
    for source, channel in config.channels():
        articles = live[channel.id]
        links = mirrored | {a.url: a.path for a in articles}
        for article in articles:
            if changed is None or (article.channel, article.slug) in changed:
                result.pages += _write_page(config, out, article, links)
            png = f"{article.path}.png"
            if qr_base != config.site.base_url or not (out / png).exists():
                result.qr_codes += write_if_changed(out, png, qr_png(public_url(config, article)))
        files = render_index(
            channel, source, articles, index_size=config.publish.index_size, site=config.site
        )
        for path, text in files.items():
            write_if_changed(out, path, text)
        earlier = f"indexes/{channel.id}-earlier.md"
        if earlier not in files:
            result.removed += remove(out, earlier)
        result.removed += _remove_stale(out, channel.id, {a.slug for a in articles})
    keep = {a.image for articles in live.values() for a in articles if a.image}
    keep |= {path for articles in live.values() for a in articles for path in referenced(a.html)}
    result.removed += prune(out, keep)  # images no kept article uses (purged ones' included)


def _write_page(config: Config, out: Path, article: Article, mirrored: dict[str, str]) -> int:
    body = relink(
        article.html,
        page_url=article.url,
        mirrored=mirrored,
        blocked=config.blocked,
        page_path=article.path,
    )
    text = render_page(
        dataclasses.replace(article, html=body), config.site, public_url=public_url(config, article)
    )
    return int(write_if_changed(out, article.path, text))


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
