"""`site/`: the static HTML site of the same articles, written by `build` and every cycle.

Layout (relative to the output's `site/` folder, every link relative):

    index.html                       home: channels per source, newest articles, search box
    indexes/<channel>.html           channel pages, newest first: <channel>-2.html …
    pages/<channel>/<id>.html        one article; <id>.html.png is its QR code
    hot.html                         most-read pages, when the counter gave a hot list
    search.html, search/…            static full-text search (`site.search`)
    feed.xml, feeds/<channel>.xml    Atom
    sitemap.xml
    images/…                         the mirrored images the pages use (hard links)
    static/                          our stylesheet and two small scripts
    .samizdat-build.json             what the last build was made with (see `_digest`)

Incremental like the Markdown render: an article page is rendered when its article changed
(`changed`), channel indexes and feeds when their channel did; everything when the templates,
the samizdat version or anything that shapes every page changed, which the manifest's digest
detects. Files are written only when their bytes change, so a build with nothing new writes
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from samizdat import __version__
from samizdat.config import Config
from samizdat.models import Article
from samizdat.render.files import Writer, listing, remove, write_if_changed
from samizdat.render.qr import qr_png
from samizdat.site import MANIFEST, SITE, assets, feeds, pages, search
from samizdat.site.body import mirrored_image, site_body
from samizdat.store import Store

HotEntry = tuple[str, int]  # (page path as the counter names it, "pages/<channel>/<id>.md"; views)


@dataclass
class SiteResult:
    full: bool = False
    pages: int = 0  # article pages written
    indexes: int = 0  # channel index pages written
    qr_codes: int = 0
    images: int = 0
    removed: int = 0
    written: list[str] = field(default_factory=list)  # paths written or removed, under site/


def page_path(article: Article) -> str:
    return f"pages/{article.channel}/{article.slug}.html"


def share_address(config: Config, article: Article, site_url: str) -> str:
    """The address the share block gives: the HTML page under `site_url` when the site's
    public prefix is known, else the Markdown page's public address."""
    if site_url:
        return f"{site_url.rstrip('/')}/{page_path(article)}"
    return f"{config.site.base_url}/{article.path}"


def build_site(
    config: Config,
    store: Store,
    *,
    changed: set[tuple[str, str]] | None,
    hot: Sequence[HotEntry] | None = None,
    site_url: str = "",
    live: Mapping[str, list[Article]] | None = None,
    bodies: Callable[[Iterable[Article]], None] | None = None,
    search_since: set[tuple[str, str]] | None = None,
) -> SiteResult:
    """Write `<output>/site/` from the store.

    `changed`: (channel, slug) of the articles stored, updated or purged since the last build;
    None rebuilds every page. `hot`: the counter's most-read pages, most read first (None keeps
    the hot page of the last build). `site_url`: the site's public prefix ('' = unknown).
    `live` (channel id → its live articles, newest first) saves reading the store again; its
    articles may lack `html` and `text` when `bodies` fills them in on demand. `search_since`:
    the articles changed since the last build even when `changed` is None; the search index
    depends on none of what makes a build full (base URL, templates), so it is then updated
    with those alone."""
    if live is None:
        live = {channel.id: store.articles(channel.id) for _, channel in config.channels()}
    from samizdat.render.articles import write_articles

    site = SiteBuild(config, live, bodies, site_url.rstrip("/"), hot)
    flags = site.plan(changed, search_since)
    write_articles(live, None, {}, site, flags, state=config.site.state, meanwhile=site.meanwhile)
    return site.finish()


SiteFlags = dict[str, list[tuple[bool, bool]]]  # channel → per live article: (page, QR) to write


class SiteBuild:
    """One build of site/: `plan` says what to write of each article, `write` writes one
    article's page and QR code (in worker processes for big builds: see `render.articles`),
    `meanwhile` writes what does not depend on the article pages, `finish` the rest."""

    def __init__(
        self,
        config: Config,
        live: Mapping[str, list[Article]],
        bodies: Callable[[Iterable[Article]], None] | None,
        site_url: str,
        hot: Sequence[HotEntry] | None,
    ) -> None:
        self.config, self.site_url, self.hot = config, site_url, hot
        self.output = config.site.output
        self.root = self.output / SITE
        self.manifest = _load_manifest(self.root)
        self.has_hot = hot is not None or bool(self.manifest.get("hot"))
        self.common = pages.Common(
            config.site.title,
            assets.asset_version(),
            self.has_hot,
            pages.navigation([(m.title, m.url) for m in config.site.menu], self.has_hot),
        )
        self.live = live
        self.bodies = bodies or (lambda _articles: None)
        self.titles = {c.id: (s.title, c.title) for s, c in config.channels()}
        self.result = SiteResult()
        self.images = _ImageChecker(self.output)
        self.used_images: set[str] = set()
        self.mirrored: dict[str, str] = {}  # original URL → page path, for links
        self.own: dict[str, dict[str, str]] = {}  # the same per channel, which wins in it

    def wrote(self, path: str, changed: bool) -> bool:
        if changed:
            self.result.written.append(path)
        return changed

    def plan(
        self, changed: set[tuple[str, str]] | None, search_since: set[tuple[str, str]] | None
    ) -> SiteFlags:
        """Decide what this build writes: every page when `changed` is None or anything that
        shapes every page changed (see `_digest`), else the pages of `changed`; QR codes that
        are missing or whose address changed."""
        root = self.root
        root.mkdir(parents=True, exist_ok=True)
        self.digest = _digest(self.config, self.site_url, self.has_hot)
        full = changed is None or self.manifest.get("digest") != self.digest
        self.touched = set() if full or changed is None else changed
        self.search_since = search_since
        self.result.full = full
        everything = [a for articles in self.live.values() for a in articles]
        for a in everything:
            self.mirrored.setdefault(a.url, page_path(a))
        self.own = {c: {a.url: page_path(a) for a in articles} for c, articles in self.live.items()}
        self.qr_prefix = self.site_url or self.config.site.base_url
        qr_stale = self.manifest.get("qr") != self.qr_prefix
        flags: SiteFlags = {}
        for channel_id, articles in self.live.items():
            existing = set() if qr_stale else listing(root / "pages" / channel_id)
            flags[channel_id] = [
                (
                    full or (a.channel, a.slug) in self.touched,
                    f"{a.slug}.html.png" not in existing,
                )
                for a in articles
            ]
        return flags

    def write(self, article: Article, render: bool, qr: bool, writer: Writer) -> list[str]:
        """Submit the writes of an article's page and QR code (when asked for); the paths
        submitted, in order, for `writer.wait()`'s results."""
        path = page_path(article)
        submitted = []
        if render:
            links = ChainMap(self.own[article.channel], self.mirrored)
            writer.write(self.root, path, self.article_html(article, links))
            submitted.append(path)
        if qr:
            writer.write(self.root, path + ".png", self.qr_code(article))
            submitted.append(path + ".png")
        return submitted

    def write_all(
        self, articles: list[Article], marks: list[tuple[bool, bool]], writer: Writer
    ) -> tuple[SiteResult, set[str]]:
        """`write` some articles, then wait for the writes: what was written, as a result of
        its own, and the images the pages use."""
        kept = self.result, self.used_images
        self.result, self.used_images = SiteResult(), set()
        try:
            paths: list[str] = []
            for article, (render, qr) in zip(articles, marks, strict=True):
                paths += self.write(article, render, qr, writer)
            for path, wrote in zip(paths, writer.wait(), strict=True):
                if path.endswith(".png"):
                    self.result.qr_codes += self.wrote(path, wrote)
                else:
                    self.result.pages += self.wrote(path, wrote)
            return self.result, self.used_images
        finally:
            self.result, self.used_images = kept

    def __getstate__(self) -> dict[str, object]:
        """What a worker process gets: enough to write article pages, not the live articles
        (each worker gets its own in its tasks) nor the store's body loader."""
        state = self.__dict__.copy()
        for name in ("live", "bodies", "hot", "manifest", "touched", "search_since"):
            state.pop(name, None)
        state["result"], state["used_images"] = SiteResult(), set()
        return state

    def merge(self, part: SiteResult, used: set[str]) -> None:
        """Add what a worker process wrote."""
        result = self.result
        result.pages += part.pages
        result.qr_codes += part.qr_codes
        result.images += part.images
        result.written += part.written
        self.used_images |= used

    def meanwhile(self) -> None:
        """Channel pages and feeds, the home, hot and search pages, the sitemap, the search
        index and the static files: none depends on the article pages, so they are written
        while worker processes write those."""
        full, touched, root, result = self.result.full, self.touched, self.root, self.result
        for channel_id, articles in self.live.items():
            if full or any(c == channel_id for c, _ in touched):
                self.bodies(articles[: feeds.FEED_ENTRIES])
                self.channel(channel_id, articles)
        everything = [a for articles in self.live.values() for a in articles]
        newest = sorted(everything, key=lambda a: a.published, reverse=True)
        self.bodies(newest[: feeds.FEED_ENTRIES])
        self.shared(newest)
        docs = [
            search.Doc(
                page_path(a),
                a.title or a.slug,
                a.published.astimezone(UTC).strftime("%Y-%m-%d"),
                self.titles[a.channel][1],
                a.text,
            )
            for a in reversed(newest)
        ]
        # The documents' records name their channel: a renamed channel rebuilds the index.
        self.search_digest = hashlib.sha256(
            json.dumps([search.VERSION, sorted(self.titles.items())], ensure_ascii=False).encode()
        ).hexdigest()[:16]
        search_changed: set[str] | None = None
        if not full:
            search_changed = {f"pages/{c}/{s}.html" for c, s in touched}
        elif self.search_since is not None and self.manifest.get("search") == self.search_digest:
            search_changed = {f"pages/{c}/{s}.html" for c, s in self.search_since}
        by_path = {page_path(a): a for a in everything}

        def texts(wanted: Sequence[search.Doc]) -> list[str]:
            articles = [by_path[d.path] for d in wanted]
            self.bodies(articles)
            return [a.text for a in articles]

        result.written += search.build_search(root, docs, search_changed, texts=texts)
        for path in assets.write_static(root):
            self.wrote(path, True)

    def finish(self) -> SiteResult:
        """After the article pages: what purged articles and channels left, and the manifest."""
        root, result = self.root, self.result
        # After the writes: a page folder listed mid-write would show their temporary files.
        for channel_id, articles in self.live.items():
            for stale in _stale_pages(root, channel_id, {a.slug for a in articles}):
                result.removed += self.wrote(stale, remove(root, stale))
        if result.full:
            for path in assets.prune_images(root, self.used_images):
                result.removed += self.wrote(path, True)
            for path in _orphans(root, set(self.live)):
                result.removed += self.wrote(path, remove(root, path))
        state = {
            "digest": self.digest,
            "qr": self.qr_prefix,
            "hot": self.has_hot,
            "search": self.search_digest,
        }
        write_if_changed(root, MANIFEST, json.dumps(state, indent=1, sort_keys=True) + "\n")
        return result

    def article_html(self, article: Article, links: Mapping[str, str]) -> str:
        body = site_body(
            article.html,
            page_url=article.url,
            page_path=page_path(article),
            mirrored=links,
            blocked=self.config.blocked,
            has_image=self.images.__getitem__,
        )
        images = set(body.images)
        lead = mirrored_image(article.image)
        image = None
        if lead and self.images[lead]:
            images.add(lead)
            image = "../../" + lead
        for path in sorted(images - self.used_images):
            self.result.images += self.wrote(path, assets.place_image(self.output, self.root, path))
        self.used_images |= images
        source_title, channel_title = self.titles[article.channel]
        view = pages.ArticleView(
            title=article.title or article.slug,
            channel_id=article.channel,
            channel_title=channel_title,
            source_title=source_title,
            published=article.published,
            author=article.author,
            image=image,
            caption=article.caption,
            body=body.html,
            text=article.text,
            address=share_address(self.config, article, self.site_url),
            qr=f"{article.slug}.html.png",
            original=article.url,
        )
        return pages.article_page(self.common, view)

    def qr_code(self, article: Article) -> bytes:
        """The PNG of the page's QR code.

        When the site has no address of its own the share address is the Markdown page's,
        whose QR code this build has already written: a copy of it, not a hard link, since the
        Markdown render replaces its codes through a spare file (see `render.files`), which a
        second link to the same inode would defeat."""
        if not self.site_url:
            try:
                return (self.output / f"{article.path}.png").read_bytes()
            except FileNotFoundError:
                pass
        return qr_png(share_address(self.config, article, self.site_url))

    def channel(self, channel_id: str, articles: list[Article]) -> None:
        root, result = self.root, self.result
        source_title, channel_title = self.titles[channel_id]
        heading = f"{source_title}：{channel_title}"
        index = pages.channel_pages(self.common, channel_id, heading, [_item(a) for a in articles])
        for path, html in index.items():
            result.indexes += self.wrote(path, write_if_changed(root, path, html))
        for stale in _stale_indexes(root, channel_id, set(index)):
            result.removed += self.wrote(stale, remove(root, stale))
        path = f"feeds/{channel_id}.xml"
        feed = feeds.atom_feed(
            title=heading,
            path=path,
            entries=[_entry(a) for a in articles],
            site_url=self.site_url,
            updated=articles[0].published if articles else EPOCH,
        )
        self.wrote(path, write_if_changed(root, path, feed))

    def shared(self, newest: list[Article]) -> None:
        """Home, search and hot pages, the site's feed and the sitemap: cheap, so every build
        renders them and writes those whose bytes changed."""
        root, config, common = self.root, self.config, self.common
        sources = [
            pages.SourceLinks(
                s.title,
                [
                    pages.ChannelLink(
                        pages.channel_page(c.id), c.title, len(self.live.get(c.id, []))
                    )
                    for c in s.channels
                ],
            )
            for s in config.sources
        ]
        files: dict[str, str | bytes] = {
            "index.html": pages.home_page(
                common, sources, [_item(a) for a in newest[: pages.LATEST]]
            ),
            "search.html": pages.search_page(common),
            "feed.xml": feeds.atom_feed(
                title=config.site.title,
                path="feed.xml",
                entries=[_entry(a) for a in newest[: feeds.FEED_ENTRIES]],
                site_url=self.site_url,
                updated=newest[0].published if newest else EPOCH,
            ),
        }
        if self.hot is not None:
            by_path = {a.path: a for a in newest}
            items = []
            for counted, views in self.hot:
                article = by_path.get(counted.lstrip("/"))
                if article is not None:
                    item = _item(article)
                    items.append(
                        pages.ListItem(item.href, item.title, item.published, f"{views} 次阅读")
                    )
            files["hot.html"] = pages.hot_page(common, items)
        index_pages = []
        for channel_id, articles in self.live.items():
            index_pages.append(pages.channel_page(channel_id))
            seqs = (a.seq for a in articles)
            numbers = pages.archive_numbers(seqs, len(articles))
            index_pages += [pages.archive_page(channel_id, n) for n in numbers]
        listed = ["index.html", "search.html"] + (["hot.html"] if self.has_hot else [])
        listed += index_pages + [page_path(a) for a in newest]
        files["sitemap.xml"] = feeds.sitemap(listed, site_url=self.site_url)
        for path, data in files.items():
            self.wrote(path, write_if_changed(root, path, data))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _ImageChecker(dict[str, bool]):
    """path → whether the output holds that mirrored image; each path is checked once."""

    def __init__(self, output: Path) -> None:
        super().__init__()
        self.output = output

    def __missing__(self, path: str) -> bool:
        exists = (self.output / path).is_file()
        self[path] = exists
        return exists


def _item(article: Article) -> pages.ListItem:
    return pages.ListItem(
        page_path(article), article.title or article.slug, article.published, seq=article.seq
    )


def _entry(article: Article) -> feeds.Entry:
    return feeds.Entry(
        page_path(article),
        article.title or article.slug,
        article.published,
        article.text,
        f"{article.channel}/{article.slug}",
    )


def _stale_pages(root: Path, channel: str, slugs: set[str]) -> list[str]:
    """Pages and QR codes of articles no longer live (purged), and leftovers of killed writes."""
    folder = root / "pages" / channel
    if not folder.is_dir():
        return []
    stale = []
    for name in os.listdir(folder):
        slug = name.removesuffix(".png").removesuffix(".html")
        if slug not in slugs or not (name.endswith(".html") or name.endswith(".html.png")):
            stale.append(f"pages/{channel}/{name}")
    return stale


def _stale_indexes(root: Path, channel: str, keep: set[str]) -> list[str]:
    folder = root / "indexes"
    prefix = f"{channel}-"
    return [
        f"indexes/{name}"
        for name in os.listdir(folder)
        if name.startswith(prefix)
        and name.removeprefix(prefix).removesuffix(".html").isdigit()
        and f"indexes/{name}" not in keep
    ]


def _orphans(root: Path, channels: set[str]) -> list[str]:
    """Files of channels no longer in the config."""
    out = []
    folder = root / "pages"
    if folder.is_dir():
        for channel in os.listdir(folder):
            if channel not in channels and (folder / channel).is_dir():
                out += [f"pages/{channel}/{name}" for name in os.listdir(folder / channel)]
    feeds_folder = root / "feeds"
    if feeds_folder.is_dir():
        out += [
            f"feeds/{name}"
            for name in os.listdir(feeds_folder)
            if name.removesuffix(".xml") not in channels
        ]
    return out


def _digest(config: Config, site_url: str, has_hot: bool) -> str:
    """Everything that shapes every page: when it changes, every page is rewritten."""
    shape = {
        "version": __version__,
        "templates": assets.templates_digest(),
        "title": config.site.title,
        "site_url": site_url,
        "base_url": config.site.base_url,
        "blocked": sorted(config.blocked),
        "channels": [(s.id, s.title, c.id, c.title) for s, c in config.channels()],
        "hot": has_hot,
        "menu": [(m.title, m.url) for m in config.site.menu],
        "page_size": pages.PAGE_SIZE,
    }
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:16]


def _load_manifest(root: Path) -> dict[str, object]:
    try:
        data = json.loads((root / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
