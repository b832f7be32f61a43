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
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from samizdat import __version__
from samizdat.config import Config
from samizdat.site import MANIFEST as SITE_MANIFEST
from samizdat.site import SITE as SITE_FOLDER
from samizdat.store import Store

if TYPE_CHECKING:
    from samizdat.counter.hot import HotEntry
    from samizdat.render.tree import EarlyPages

HOT_PAGE = "hot.md"


@dataclass
class BuildResult:
    pages: int = 0  # article pages written
    qr_codes: int = 0
    removed: int = 0
    full: bool = False
    load_seconds: float = 0.0  # wall time of reading the articles and planning the writes
    write_seconds: float = 0.0  # wall time of the article pass (with indexes, feeds, search)
    site_pages: int = 0  # pages of site/ written
    worker_cpu: float = 0.0  # CPU seconds spent in worker processes (not in this one's rusage)
    worker_peak_kib: int = 0  # the largest peak resident size of a worker process


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


def build(
    config: Config,
    store: Store,
    *,
    full: bool = False,
    hot: list[HotEntry] | None = None,
    early: EarlyPages | None = None,
) -> BuildResult:
    """Render the output tree and the HTML site from the store; `full` rewrites every page.

    `hot`: the counter's most-read pages for hot.md and the site's hot page (None: no news
    from the counter this time, the last hot list stays). `early`: pages the cycle already
    wrote while it fetched; those still right are not rendered again."""
    revision = store.revision()  # what this render covers: changes after it go to the next
    current = epoch(config)
    out = config.site.output
    rendered = store.get_meta("render.epoch")
    # A store never rendered has every article changed since revision 0: the first render is
    # an incremental one over everything. A changed epoch, or a tree that is gone, is full.
    full = full or (rendered is not None and rendered != current)
    full = full or (rendered is not None and not (out / "README.md").exists())
    since = store.changed_after(int(store.get_meta("render.rev") or 0))
    # Pages linking to an article that came or went now link elsewhere (to its mirrored page,
    # or back to the original): they are rendered again too.
    changed = None if full else since | store.linking_to(since)
    result = BuildResult(full=changed is None)
    site_missing = not (out / SITE_FOLDER / SITE_MANIFEST).exists()
    if changed is not None and not changed and hot is None and not site_missing:
        return result  # nothing new since the last render: a no-op cycle renders nothing

    # The renderers are imported only now: a no-op cycle (above) never pays for them.
    from samizdat.counter.hot import render_hot
    from samizdat.render.articles import write_articles
    from samizdat.render.files import remove_spares, write_if_changed
    from samizdat.render.indexes import render_home
    from samizdat.render.pool import pool_context, workers_for
    from samizdat.render.tree import load_live, plan_markdown, remove_purged, write_indexes
    from samizdat.site.build import SiteBuild

    out.mkdir(parents=True, exist_ok=True)
    for root in (out, out / SITE_FOLDER):
        remove_spares(root)  # what a killed render left
    clock = time.perf_counter()
    pages = sum(store.counts().values()) if changed is None else len(changed)
    if workers_for(pages) > 1:
        pool_context()  # the worker processes' server boots while the articles load
    live, bodies = load_live(config, store)
    markdown, markdown_flags = plan_markdown(
        config, live, changed, store.get_meta("render.qr_base"), early=early
    )
    site = SiteBuild(
        config,
        live,
        bodies,
        config.site.site_url.rstrip("/"),
        [(h.path, h.views) for h in hot] if hot is not None else None,
    )
    site_flags = site.plan(
        None if result.full or site_missing else changed or set(),
        None if site_missing or rendered is None else since,
    )
    counts = store.counts()
    result.load_seconds = time.perf_counter() - clock

    def meanwhile() -> None:
        """Everything but the article pages, while worker processes write those."""
        result.removed += write_indexes(config, live)
        if hot is not None:
            write_if_changed(out, HOT_PAGE, render_hot(hot, config.site))
        home = render_home(config, counts, has_hot=(out / HOT_PAGE).exists())
        write_if_changed(out, "README.md", home)
        # A write killed between its temporary file and the rename leaves a .*.tmp file
        # behind: never commit one (the next render removes them).
        write_if_changed(out, ".gitignore", "*.tmp\n")
        site.meanwhile()

    clock = time.perf_counter()
    written = write_articles(
        live,
        markdown,
        markdown_flags,
        site,
        site_flags,
        state=config.site.state,
        meanwhile=meanwhile,
    )
    result.pages, result.qr_codes = written.pages, written.qr_codes
    result.worker_cpu, result.worker_peak_kib = written.worker_cpu, written.worker_peak_kib
    result.removed += remove_purged(config, live)
    result.site_pages = site.finish().pages
    result.write_seconds = time.perf_counter() - clock
    store.set_meta("render.epoch", current)
    store.set_meta("render.qr_base", config.site.base_url)
    store.set_meta("render.rev", str(revision))
    return result
