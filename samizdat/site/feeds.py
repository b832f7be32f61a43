"""Atom feeds (one per channel, one for the whole site) and the sitemap.

Links are relative to the feed's own location unless the site's public address (`site_url`)
is known: feed readers resolve relative links against the feed's URL (RFC 4287 §4.2.7 with
xml:base), while the sitemap protocol wants absolute addresses, so without `site_url` its
locations are relative paths and search engines need the owner to set it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
FEED_ENTRIES = 50
SUMMARY_CHARS = 300
_NAMESPACE = uuid.UUID("9b7e1f8e-4b1e-4c55-9d3f-2c1a0f6a5e11")  # ours: entry ids are uuid5


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # relative to site/
    title: str
    published: datetime
    summary: str
    key: str  # channel/slug: the entry's stable id


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def atom_feed(
    *, title: str, path: str, entries: Sequence[Entry], site_url: str, updated: datetime
) -> bytes:
    """The Atom document at `path` (relative to site/) listing the newest entries."""
    depth = "../" * path.count("/")
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _text(feed, "title", title)
    _text(feed, "id", _urn(f"feed:{path}"))
    _text(feed, "updated", _stamp(updated))
    author = etree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", title)
    home = f"{site_url}/index.html" if site_url else f"{depth}index.html"
    etree.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=home)
    if site_url:
        etree.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{site_url}/{path}")
    for item in entries[:FEED_ENTRIES]:
        entry = etree.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "title", item.title)
        _text(entry, "id", _urn(item.key))
        href = f"{site_url}/{item.path}" if site_url else depth + item.path
        etree.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=href)
        _text(entry, "published", _stamp(item.published))
        _text(entry, "updated", _stamp(item.published))
        summary = " ".join(item.summary.split())
        if len(summary) > SUMMARY_CHARS:
            summary = summary[:SUMMARY_CHARS] + "…"
        _text(entry, "summary", summary)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def sitemap(paths: Sequence[str], *, site_url: str) -> bytes:
    urlset = etree.Element(f"{{{SITEMAP}}}urlset", nsmap={None: SITEMAP})
    for path in paths:
        url = etree.SubElement(urlset, f"{{{SITEMAP}}}url")
        _text(url, "loc", f"{site_url}/{path}" if site_url else path, ns=SITEMAP)
    return etree.tostring(urlset, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _text(parent: etree._Element, tag: str, text: str, *, ns: str = ATOM) -> None:
    # XML 1.0 forbids most control characters; a source title may hold them.
    etree.SubElement(parent, f"{{{ns}}}{tag}").text = _CONTROL.sub("", text)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _urn(key: str) -> str:
    return uuid.uuid5(_NAMESPACE, key).urn
