"""HTML list pages: article links picked by the channel's `items` CSS selector."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml.etree import ParserError

from samizdat.errors import SourceError
from samizdat.models import Item


def parse_list(html: str, url: str, selector: str, *, source: str, channel: str) -> list[Item]:
    """Article links on a list page, in page order, without duplicates.

    The selector may match the links themselves or elements that contain them; relative links
    resolve against the page's URL (or its <base href>)."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (ParserError, ValueError) as e:
        raise SourceError(f"list page is not HTML: {e}") from None
    base = url
    for href in doc.xpath("//base/@href")[:1]:
        base = urljoin(url, str(href).strip())
    matches = doc.cssselect(selector)
    if not matches:
        raise SourceError(f"the items selector {selector!r} matched nothing on the list page")
    items: list[Item] = []
    seen: set[str] = set()
    for element in matches:
        anchor = element if element.tag == "a" else next(iter(element.iterdescendants("a")), None)
        if anchor is None or not anchor.get("href"):
            continue
        link = urljoin(base, anchor.get("href", "").strip()).split("#", 1)[0]
        if urlsplit(link).scheme not in ("http", "https") or link in seen:
            continue
        seen.add(link)
        title = " ".join(anchor.text_content().split()) or " ".join(element.text_content().split())
        title = title or anchor.get("title", "").strip() or link
        items.append(
            Item(
                source=source,
                channel=channel,
                url=link,
                title=title,
                position=len(items),
                from_feed=False,
                fingerprint=Item.digest(title, link),
            )
        )
    return items
