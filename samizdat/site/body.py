"""An article's body as it goes into an HTML page of the site.

The stored body is already sanitised (`samizdat.clean.clean_body`). Here it is fitted to one
page of `site/`: links to mirrored articles point at their HTML pages and blocked hosts lose
their links (`clean.relink`); images mirrored into the output's `images/` are referenced inside
`site/images/`, relative to the page; any other image (an absolute address left on a source or
CDN host) is dropped, keeping its alt text, because a published page never loads from another
origin. nh3 runs once more with the same allowlist, so nothing a template marks safe can carry
markup that `clean` would not have let through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import lxml.html
import nh3
from lxml.etree import ParserError

from samizdat.clean import ATTRIBUTES, TAGS, relink

IMAGE_ROOT = "images/"  # mirrored images, relative to the output root and to site/


@dataclass
class Body:
    html: str
    images: set[str] = field(default_factory=set)  # output-root-relative paths it uses


def mirrored_image(address: str | None) -> str | None:
    """The output-root-relative path of a mirrored image (`images/…`), else None."""
    address = (address or "").strip()
    parts = urlsplit(address)
    if parts.scheme or parts.netloc or not address:
        return None
    path = unquote(parts.path).lstrip("/")
    while path.startswith("./"):
        path = path[2:]
    if not path.startswith(IMAGE_ROOT) or ".." in path.split("/"):
        return None
    return path


def site_body(
    html: str,
    *,
    page_url: str,
    page_path: str,
    mirrored: Mapping[str, str],
    blocked: tuple[str, ...],
    has_image: Callable[[str], bool],
) -> Body:
    """The page body; `page_path` is relative to site/, `mirrored` maps original URLs to page
    paths relative to site/, `has_image(path)` says whether the output holds that image."""
    body = relink(html, page_url=page_url, mirrored=mirrored, blocked=blocked, page_path=page_path)
    used: set[str] = set()
    if "<img" in body:
        body = _images(body, "../" * page_path.count("/"), has_image, used)
    cleaned = nh3.clean(
        body,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return Body(cleaned, used)


def _images(html: str, root: str, has_image: Callable[[str], bool], used: set[str]) -> str:
    try:
        doc = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ParserError, ValueError):
        return ""
    for img in list(doc.iter("img")):
        path = mirrored_image(img.get("src"))
        if path and has_image(path):
            img.set("src", root + path)
            used.add(path)
            continue
        alt = (img.get("alt") or "").strip()
        parent = img.getparent()
        if parent is None:
            continue
        if alt:
            # Keep what the image said, as text in its place.
            span = lxml.html.Element("span")
            span.text = f"［{alt}］"
            span.tail = img.tail
            parent.replace(img, span)
        else:
            img.drop_tag()
    out = lxml.html.tostring(doc, encoding="unicode")
    return out[len("<div>") : -len("</div>")] if out.startswith("<div>") else out
