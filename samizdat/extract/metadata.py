"""Article metadata from a page: title, publication date, author, lead image and caption."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from htmldate import find_date

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")
# Separators between a headline and the site's name in <title>.
_SEPARATOR = re.compile(r"\s+[-|–—:·»]\s+|\s*[|｜_]\s*|\s+-{2,}\s+")


@dataclass(slots=True)
class Meta:
    title: str = ""
    published: datetime | None = None
    author: str | None = None
    image: str | None = None
    site_name: str | None = None


def json_ld(doc: lxml.html.HtmlElement) -> list[dict[str, Any]]:
    """Every JSON-LD object in the page (``@graph`` lists flattened). Read before scripts go."""
    found: list[dict[str, Any]] = []
    for script in doc.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except (ValueError, TypeError):
            continue
        found.extend(_objects(data))
    return found


def _objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _objects(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _objects(data["@graph"])


Metas = dict[str, str]


def meta_tags(doc: lxml.html.HtmlElement) -> Metas:
    """Every ``<meta>``'s content by its property, name and itemprop (the first non-empty
    one per key), read in one pass rather than one tree search per key looked up."""
    found: Metas = {}
    for el in doc.iter("meta"):
        content = el.get("content")
        if not content:
            continue
        value = ""
        for attr in ("property", "name", "itemprop"):
            key = el.get(attr)
            if key and key not in found:
                value = value or _WS.sub(" ", content).strip()
                if value:
                    found[key] = value
    return found


def _meta(metas: Metas, *names: str) -> str | None:
    for name in names:
        if name in metas:
            return metas[name]
    return None


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def strip_site_name(title: str, site_name: str | None = None) -> str:
    """``"Headline - Site"`` → ``"Headline"``: drop short trailing (or site-named) segments."""
    parts = [p for p in _SEPARATOR.split(title) if p.strip()]
    if site_name:
        parts = [p for p in parts if _clean(p).lower() != site_name.lower()] or parts
    while len(parts) > 1 and len(parts[-1]) <= 30 and len(parts[-1]) < len(" ".join(parts[:-1])):
        parts.pop()
    if not parts:
        return _clean(title)
    # Re-cut the original title so separators inside the headline survive.
    end = title.find(parts[-1]) + len(parts[-1])
    return _clean(title[: max(end, 0)] if end > 0 else parts[0])


def find_title(doc: lxml.html.HtmlElement, metas: Metas, site_name: str | None) -> str:
    """The headline: an ``<h1>`` (or og:title) that the ``<title>`` contains, else the
    ``<title>`` without its site-name suffix."""
    page_title = _clean(doc.findtext(".//title") or "")
    og = _meta(metas, "og:title", "twitter:title")
    h1s = [_clean(h.text_content()) for h in doc.iter("h1")][:5]
    squashed = page_title.replace(" ", "").lower()
    for candidate in [*h1s, og or ""]:
        if candidate and len(candidate) >= 4 and candidate.replace(" ", "").lower() in squashed:
            return candidate
    if og:
        return strip_site_name(og, site_name)
    if page_title:
        return strip_site_name(page_title, site_name)
    return h1s[0] if h1s else ""


def _parse_datetime(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def find_published(
    doc: lxml.html.HtmlElement, metas: Metas, ld: list[dict[str, Any]], url: str | None = None
) -> datetime | None:
    """Publication time, timezone-aware: article:published_time or JSON-LD (which carry a
    time and zone), else htmldate's date at midnight UTC; None when unknown. htmldate reads
    a date in the URL first (news URLs often carry one), sparing it a search of the page."""
    candidates = [_meta(metas, "article:published_time", "datePublished", "pubdate") or ""]
    candidates += [str(o.get("datePublished", "")) for o in ld if o.get("datePublished")]
    candidates += doc.xpath("//time[@datetime]/@datetime")[:1]
    for value in candidates:
        parsed = _parse_datetime(value)
        if parsed:
            return parsed
    try:
        found = find_date(doc, url=url, original_date=True, extensive_search=False)
    except Exception:  # htmldate on a pathological page must not fail the item
        log.debug("htmldate failed", exc_info=True)
        return None
    if not found:
        return None
    try:
        return datetime.strptime(found, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _ld_value(value: Any, key: str = "name") -> str | None:
    if isinstance(value, list):
        names = [v for v in (_ld_value(x, key) for x in value) if v]
        return ", ".join(names) or None
    if isinstance(value, dict):
        value = value.get(key) or value.get("url")
    return _clean(value) if isinstance(value, str) and value.strip() else None


def find_author(doc: lxml.html.HtmlElement, metas: Metas, ld: list[dict[str, Any]]) -> str | None:
    author = _meta(metas, "author", "article:author", "byl", "dc.creator")
    if author and not author.startswith("http"):
        return author
    for obj in ld:
        name = _ld_value(obj.get("author"))
        if name and not name.startswith("http"):
            return name
    for el in doc.xpath("//*[@rel='author' or @itemprop='author']"):
        text = _clean(el.text_content())
        if 0 < len(text) <= 80:
            return text
    return None


def find_image(metas: Metas, ld: list[dict[str, Any]], base: str | None) -> str | None:
    """og:image, twitter:image or JSON-LD image, absolute."""
    image = _meta(metas, "og:image", "og:image:url", "og:image:secure_url", "twitter:image")
    if not image:
        for obj in ld:
            image = _ld_value(obj.get("image"), "url")
            if image:
                image = image.split(", ")[0]
                break
    if not image:
        return None
    try:
        return urljoin(base or "", image)
    except ValueError:
        return image


def read_head(doc: lxml.html.HtmlElement, base: str | None) -> Meta:
    """Metadata that lives in the head and scripts: read it before normalising strips them."""
    ld = json_ld(doc)
    metas = meta_tags(doc)
    site = _meta(metas, "og:site_name", "application-name")
    return Meta(
        title=find_title(doc, metas, site),
        published=find_published(doc, metas, ld, base),
        author=find_author(doc, metas, ld),
        image=find_image(metas, ld, base),
        site_name=site,
    )


def same_image(a: str | None, b: str | None) -> bool:
    """Whether two image URLs name the same picture (ignoring query strings and host)."""
    if not a or not b:
        return False
    if a == b:
        return True
    pa, pb = urlsplit(a).path, urlsplit(b).path
    return bool(pa) and pa == pb


def caption_for(doc: lxml.html.HtmlElement, image: str) -> str | None:
    """The figcaption (or a caption-classed sibling) of the figure holding ``image``."""
    for img in doc.iter("img"):
        if not same_image(img.get("src"), image):
            continue
        for depth, holder in enumerate(img.iterancestors()):
            if holder.tag == "figure":
                captions = holder.xpath(".//figcaption")
                text = _clean(captions[0].text_content()) if captions else ""
                return text or None
            if holder.tag in ("body", "article", "main") or depth >= 2:
                break
            found = holder.xpath(".//*[contains(@class, 'caption')]")
            if found:
                text = _clean(found[0].text_content())
                return text or None
    return None
