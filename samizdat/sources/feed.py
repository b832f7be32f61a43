"""RSS 0.9x/1.0/2.0 and Atom feeds, read with feedparser."""

from __future__ import annotations

import calendar
import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.html
from lxml.etree import ParserError

from samizdat.errors import SourceError
from samizdat.models import Item


def parse_feed(content: bytes, url: str, *, source: str, channel: str) -> list[Item]:
    """Items of a feed, in the feed's order. Raise SourceError when nothing usable is in it.

    feedparser is lenient: a feed with an XML error after some entries ("bozo") still gives
    those entries, which we keep; one that gives none is reported with feedparser's reason.
    """
    parsed = feedparser.parse(content, response_headers={"content-location": url})
    if not parsed.entries:
        if parsed.bozo:
            raise SourceError(f"not a readable feed: {parsed.bozo_exception}")
        if not parsed.version:
            raise SourceError("not an RSS or Atom feed")
        return []
    items: list[Item] = []
    seen: set[str] = set()
    for position, entry in enumerate(parsed.entries):
        link = _link(entry, url)
        if not link or link in seen:
            continue
        seen.add(link)
        title = _plain(entry.get("title", "")) or link
        content_html = _content(entry)
        summary = entry.get("summary")
        published = _date(entry)
        fingerprint = Item.digest(title, link, content_html or "", summary or "")
        items.append(
            Item(
                source=source,
                channel=channel,
                url=link,
                title=title,
                published=published,
                content_html=content_html,
                summary=summary,
                image=_image(entry, url),
                position=position,
                fingerprint=fingerprint,
            )
        )
    return items


def _link(entry: Any, feed_url: str) -> str | None:
    candidates = [entry.get("link")]
    candidates += [
        link.get("href")
        for link in entry.get("links", [])
        if link.get("rel") in (None, "alternate")
    ]
    guid = entry.get("id")
    if guid and entry.get("guidislink"):
        candidates.append(guid)
    for href in candidates:
        if href:
            absolute = urljoin(feed_url, href.strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return None


def _plain(title: str) -> str:
    """A title as text: feedparser hands over HTML titles (Atom type="html") as markup."""
    if "<" in title or "&" in title:
        try:
            title = lxml.html.fragment_fromstring(title, create_parent="span").text_content()
        except (ParserError, ValueError):
            title = html.unescape(title)
    return " ".join(title.split())


def _content(entry: Any) -> str | None:
    """The entry's full content (RSS content:encoded, Atom content), HTML preferred."""
    contents = entry.get("content") or []
    html = [c for c in contents if c.get("type") in ("text/html", "application/xhtml+xml")]
    chosen = (html or contents or [None])[0]
    value = chosen.get("value") if chosen else None
    return value.strip() if value and value.strip() else None


def _date(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError):
                continue
    return None


def _image(entry: Any, feed_url: str) -> str | None:
    for media in list(entry.get("media_content", [])) + list(entry.get("media_thumbnail", [])):
        href = media.get("url")
        if href and (
            media.get("medium") in (None, "image")
            or str(media.get("type", "")).startswith("image/")
        ):
            return urljoin(feed_url, href)
    for enclosure in entry.get("enclosures", []):
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            return urljoin(feed_url, enclosure["href"])
    return None
