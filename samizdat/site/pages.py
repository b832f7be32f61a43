"""The HTML pages of the site, from Jinja2 templates (`samizdat/site/templates/`).

Every value from a source goes in through autoescaping; the body alone is marked safe, after
`site.body` has sanitised it again. Links are relative: `root` is the way back to site/ from
the page's folder, so the site works under any path prefix and opened from disk.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from urllib.parse import unquote, urlsplit

import jinja2

from samizdat.render.page import SHARE_TEXT

PAGE_SIZE = 50  # articles per channel page: one phone screen-scroll each way is plenty
LATEST = 30  # newest articles listed on the home page
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("samizdat.site", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship inside the package: no need to stat their files on every page.
        auto_reload=False,
    )


@dataclass(frozen=True, slots=True)
class Common:
    """What every page shows: the site's title, the asset version, whether a hot page exists,
    and the navigation links (`navigation`)."""

    site_title: str
    version: str
    has_hot: bool
    nav: tuple[NavLink, ...] = ()


@dataclass(frozen=True, slots=True)
class NavLink:
    title: str
    href: str  # relative to site/ when `local`, else an absolute http(s) address
    local: bool = True


def navigation(menu: Sequence[tuple[str, str]], has_hot: bool) -> tuple[NavLink, ...]:
    """The links at the top of every page: `site.menu`, else the home page; then the hot page
    (when there is one) and search, unless the menu already has them.

    Menu URLs name Markdown files of the output, relative to its root: each becomes the site's
    page of the same thing (`README.md` the home page, a channel's index or earlier index its
    first page, `X.md` `X.html`). Absolute http(s) addresses stay; anything else (an image, a
    folder) has no page here and is left out, as is a second link to the same page."""
    links: list[NavLink] = []
    for title, url in menu:
        address = url.strip()
        parts = urlsplit(address)
        if parts.scheme or parts.netloc:
            if parts.scheme.lower() in ("http", "https") and parts.netloc:
                links.append(NavLink(title, address, local=False))
            continue
        path = unquote(parts.path).lstrip("/")
        while path.startswith("./"):
            path = path[2:]
        if not path.endswith(".md") or ".." in path.split("/"):
            continue
        if path == "README.md":
            href = "index.html"
        elif path.startswith("indexes/"):
            channel = path.removeprefix("indexes/").removesuffix(".md").removesuffix("-earlier")
            href = index_name(channel, 1)
        else:
            href = path.removesuffix(".md") + ".html"
        links.append(NavLink(title, href))
    if not links:
        links.append(NavLink("首页", "index.html"))
    if has_hot:
        links.append(NavLink("热门", "hot.html"))
    links.append(NavLink("搜索", "search.html"))
    unique: dict[str, NavLink] = {}
    for link in links:
        if link.href == "hot.html" and not has_hot:
            continue  # no hot page yet: the counter has not sent a hot list
        unique.setdefault(link.href, link)
    return tuple(unique.values())


@dataclass(frozen=True, slots=True)
class ListItem:
    href: str  # relative to site/
    title: str
    published: datetime
    extra: str = ""

    @property
    def iso(self) -> str:
        return self.published.astimezone(UTC).isoformat()

    @property
    def date(self) -> str:
        return self.published.astimezone(UTC).strftime("%Y-%m-%d")


def when(published: datetime) -> str:
    return published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _render(name: str, common: Common, root: str, **context: object) -> str:
    template = environment().get_template(name)
    return template.render(
        site_title=common.site_title,
        version=common.version,
        has_hot=common.has_hot,
        nav=common.nav,
        root=root,
        **context,
    )


def index_name(channel_id: str, page: int) -> str:
    """indexes/<channel>.html, then indexes/<channel>-2.html …"""
    return f"indexes/{channel_id}.html" if page == 1 else f"indexes/{channel_id}-{page}.html"


def channel_pages(
    common: Common, channel_id: str, heading: str, items: Sequence[ListItem]
) -> dict[str, str]:
    """{path: HTML} of a channel's index pages, newest first, PAGE_SIZE a page."""
    pages = max(1, math.ceil(len(items) / PAGE_SIZE))
    out = {}
    for page in range(1, pages + 1):
        name = index_name(channel_id, page)
        out[name] = _render(
            "channel.html",
            common,
            "../",
            heading=heading,
            channel_id=channel_id,
            items=items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
            page=page,
            pages=pages,
            prev=index_name(channel_id, page - 1).removeprefix("indexes/") if page > 1 else "",
            next=index_name(channel_id, page + 1).removeprefix("indexes/") if page < pages else "",
        )
    return out


@dataclass(frozen=True, slots=True)
class ChannelLink:
    href: str
    title: str
    count: int


@dataclass(frozen=True, slots=True)
class SourceLinks:
    title: str
    channels: list[ChannelLink]


def home_page(common: Common, sources: Sequence[SourceLinks], latest: Sequence[ListItem]) -> str:
    return _render("home.html", common, "", sources=sources, latest=latest[:LATEST])


def hot_page(common: Common, items: Sequence[ListItem]) -> str:
    return _render("hot.html", common, "", items=items)


def search_page(common: Common) -> str:
    return _render("search.html", common, "")


@dataclass(frozen=True, slots=True)
class ArticleView:
    title: str
    channel_id: str
    channel_title: str
    source_title: str
    published: datetime
    author: str | None
    image: str | None  # relative to the page, or None
    caption: str | None
    body: str  # sanitised HTML
    text: str
    address: str  # the public address shared
    qr: str  # relative to the page
    original: str


def article_page(common: Common, view: ArticleView) -> str:
    # An article without Chinese, Japanese or Korean text is marked so: browsers pick fonts,
    # hyphenation and screen-reader voices by it.
    sample = view.title + view.text[:500]
    if _CJK.search(sample) or not sample.strip():
        lang = ""
    else:
        ascii_share = len(sample.encode("ascii", "ignore")) / len(sample)
        lang = "en" if ascii_share > 0.9 else "und"
    return _render(
        "article.html",
        common,
        "../../",
        title=view.title,
        channel_id=view.channel_id,
        channel_title=view.channel_title,
        source_title=view.source_title,
        iso=view.published.astimezone(UTC).isoformat(),
        date=when(view.published),
        author=view.author,
        image=view.image,
        caption=view.caption,
        body=view.body,
        article_lang=lang,
        share_text=SHARE_TEXT,
        address=view.address,
        qr=view.qr,
        original=view.original,
    )
