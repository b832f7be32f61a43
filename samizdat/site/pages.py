"""The HTML pages of the site, from Jinja2 templates (`samizdat/site/templates/`).

Every value from a source goes in through autoescaping; the body alone is marked safe, after
`site.body` has sanitised it again. Links are relative: `root` is the way back to site/ from
the page's folder, so the site works under any path prefix and opened from disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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
            href = channel_page(channel)
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
    seq: int = 0  # the article's arrival number in its channel (`Article.seq`)

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


def channel_page(channel_id: str) -> str:
    """indexes/<channel>.html: the channel's newest PAGE_SIZE articles."""
    return f"indexes/{channel_id}.html"


def archive_page(channel_id: str, number: int) -> str:
    """indexes/<channel>-<n>.html: the n-th PAGE_SIZE articles the channel received."""
    return f"indexes/{channel_id}-{number}.html"


def archive_numbers(seqs: Iterable[int], total: int) -> list[int]:
    """The archive pages of a channel of `total` live articles with these arrival numbers
    (`Article.seq`), oldest first: none while its own page shows them all."""
    if total <= PAGE_SIZE:
        return []
    return sorted({(seq - 1) // PAGE_SIZE + 1 for seq in seqs})


def channel_pages(
    common: Common, channel_id: str, heading: str, items: Sequence[ListItem]
) -> dict[str, str]:
    """{path: HTML} of a channel's pages: its own (the newest PAGE_SIZE of `items`, which come
    newest first) and, when it has more, archive pages by order of arrival.

    Archive page n holds the articles that arrived (n-1)×PAGE_SIZE+1 … n×PAGE_SIZE in the
    channel, newest first; as arrival numbers never change, a new article changes its
    channel's page and the last archive page, and a purge the page it leaves, where pages
    counted from the newest would all shift by one, every cycle, and be committed and pushed
    again (the output is a git repository)."""
    numbers = archive_numbers((item.seq for item in items), len(items))
    own = channel_page(channel_id).removeprefix("indexes/")

    def href(number: int) -> str:
        return archive_page(channel_id, number).removeprefix("indexes/")

    def render(page: int, listed: Sequence[ListItem], older: str, newer: str) -> str:
        return _render(
            "channel.html",
            common,
            "../",
            heading=heading,
            channel_id=channel_id,
            items=listed,
            page=page,  # 0: the channel's own page
            older=older,
            newer=newer,
            latest=own if page else "",
        )

    # "Earlier" from the channel's page leads to the archive page of the first article it
    # leaves out.
    older = href((items[PAGE_SIZE].seq - 1) // PAGE_SIZE + 1) if numbers else ""
    out = {channel_page(channel_id): render(0, items[:PAGE_SIZE], older, "")}
    archived: dict[int, list[ListItem]] = {n: [] for n in numbers}
    for item in items if numbers else ():
        archived[(item.seq - 1) // PAGE_SIZE + 1].append(item)
    for k, number in enumerate(numbers):
        older = href(numbers[k - 1]) if k > 0 else ""
        newer = href(numbers[k + 1]) if k + 1 < len(numbers) else own
        out[archive_page(channel_id, number)] = render(number, archived[number], older, newer)
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
