"""The few records that flow through a cycle.

Item      one entry discovered in a feed or on a list page (sources → pipeline)
Raw       what extraction found on an article page, before cleaning (extract → clean)
Article   a cleaned, stored article, ready to render (store → render)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Rules:
    """A source's site rules: CSS selectors kept as data, not code."""

    content: str | None = None
    image: str | None = None
    caption: str | None = None
    remove: tuple[str, ...] = ()
    feed_content: str = "auto"  # "auto" | "always" | "never"


@dataclass(slots=True)
class Item:
    """One entry as a feed or list page lists it."""

    source: str
    channel: str
    url: str  # absolute article URL
    title: str
    published: datetime | None = None  # timezone-aware, from the feed
    content_html: str | None = None  # the feed's full content (content:encoded, Atom content)
    summary: str | None = None
    image: str | None = None  # enclosure / media:content image named by the feed
    position: int = 0  # 0 = first in the listing
    fingerprint: str = ""  # hash of the entry as listed: a change means "fetch again"
    from_feed: bool = True  # False for links found on an HTML list page

    @staticmethod
    def digest(*parts: str) -> str:
        """A fingerprint of the entry as listed, from the parts that make it what it is."""
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


@dataclass(slots=True)
class Raw:
    """What extraction found on one article page; the body is not yet cleaned."""

    title: str
    body_html: str
    image: str | None = None
    caption: str | None = None
    published: datetime | None = None
    author: str | None = None
    method: str = "generic"  # "rules" | "feed" | "generic": which path produced the body
    reason: str = ""  # why that path was taken, for `samizdat check`


@dataclass(slots=True)
class Extracted:
    """The public result of `samizdat.extract_article` (SPEC §4)."""

    title: str
    text: str
    html: str
    image: str | None = None
    caption: str | None = None
    published: datetime | None = None
    author: str | None = None
    method: str = "generic"
    reason: str = ""


@dataclass(slots=True)
class Article:
    """A cleaned article as the store keeps it and the renderers read it."""

    channel: str
    slug: str  # <id> in pages/<channel>/<id>.md
    url: str  # original URL
    title: str
    html: str  # cleaned body HTML
    text: str
    published: datetime  # ordering time: the feed's date, else first seen (aware, UTC)
    image: str | None = None  # lead image address as it goes into the page
    caption: str | None = None
    author: str | None = None
    position: int = 0  # tie-breaker: order in the source listing
    extra: dict[str, str] = field(default_factory=dict)
    # Order of arrival in its channel, counting purged articles (1, 2, …; 0: not from a
    # store): it never changes, so it fixes the article's archive page in the HTML site.
    seq: int = 0

    @property
    def path(self) -> str:
        """The page's path relative to the output root."""
        return f"pages/{self.channel}/{self.slug}.md"
