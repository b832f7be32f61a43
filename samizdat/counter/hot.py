"""The hot list: the most read pages, for `hot.md` (SPEC §3).

`hot_entries` reads the counter's database when it is on this machine (`[counter] database`,
default `counter.db` beside the state DB), else asks the counter service over HTTP
(`[counter] hot_url`). Entries from HTTP are checked like any input: only well-formed page
paths are kept, so a counter elsewhere cannot make `hot.md` link outside the publication.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from samizdat.config import Config, SiteConfig
from samizdat.counter.counts import database_path, known_pages, top_pages
from samizdat.errors import SamizdatError
from samizdat.render.indexes import HOT_TEXT
from samizdat.render.markdown import escape_inline, url
from samizdat.render.page import menu_line

HTTP_TIMEOUT = 10.0
NO_ENTRIES_TEXT = "暂无数据"
_PAGE_PATH = re.compile(r"^pages/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+\.md$")


class HotListError(SamizdatError):
    """Neither the counter's database nor its /hot.json could be read."""


@dataclass(frozen=True, slots=True)
class HotEntry:
    path: str  # pages/<channel>/<id>.md
    title: str
    views: int


def hot_entries(config: Config) -> list[HotEntry]:
    """The `[counter] limit` most viewed live pages of the last `[counter] hours` hours."""
    problems = []
    database = database_path(config)
    if database.exists():
        try:
            return _from_database(config)
        except sqlite3.Error as e:
            problems.append(f"cannot read the counter database {database}: {e}")
    else:
        problems.append(f"no counter database at {database}")
    if config.counter.hot_url:
        try:
            return _from_http(config)
        except (httpx.HTTPError, ValueError) as e:
            problems.append(f"cannot read {_hot_json_url(config.counter.hot_url)}: {e}")
    else:
        problems.append("no [counter] hot_url is set")
    raise HotListError("hot list unavailable: " + "; ".join(problems))


def _from_database(config: Config) -> list[HotEntry]:
    database = database_path(config)
    titles = known_pages(config.site.state)
    db = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        top = top_pages(db, titles, hours=config.counter.hours, limit=config.counter.limit)
    finally:
        db.close()
    return [HotEntry(path, title, views) for path, title, views in top]


def _hot_json_url(hot_url: str) -> str:
    """`hot_url` may be the service's address or its /hot.json itself."""
    parts = urlsplit(hot_url.strip())
    if parts.path.rstrip("/").endswith("/hot.json"):
        return hot_url.strip()
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/hot.json"))


def _from_http(config: Config) -> list[HotEntry]:
    response = httpx.get(
        _hot_json_url(config.counter.hot_url),
        params={"hours": config.counter.hours, "limit": config.counter.limit},
        timeout=HTTP_TIMEOUT,
        follow_redirects=True,
    )
    response.raise_for_status()
    data: Any = response.json()
    if not isinstance(data, list):
        raise ValueError("the answer is not a JSON list")
    entries = []
    for item in data:
        if not isinstance(item, dict):
            continue
        path, title, views = item.get("path"), item.get("title"), item.get("views")
        if (
            isinstance(path, str)
            and _PAGE_PATH.match(path)
            and isinstance(title, str)
            and isinstance(views, int)
            and not isinstance(views, bool)
            and views >= 0
        ):
            entries.append(HotEntry(path, title, views))
    entries.sort(key=lambda e: (-e.views, e.path))
    return entries[: config.counter.limit]


def render_hot(entries: list[HotEntry], site: SiteConfig) -> str:
    """The Markdown of `hot.md` at the output root: title, menu, one line per page."""
    blocks = [f"### {HOT_TEXT}", menu_line(site.menu, ""), "---"]
    lines = [
        f"#### [{escape_inline(e.title) or escape_inline(e.path)}]({url(e.path)}) ({e.views})"
        for e in entries
    ]
    blocks.append("\n".join(lines) if lines else NO_ENTRIES_TEXT)
    return "\n\n".join(blocks) + "\n"
