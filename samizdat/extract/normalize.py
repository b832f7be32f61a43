"""Parse a page once and make it look as a browser with scripts off would show it.

- comments, scripts, styles and templates go (they are never shown);
- an ``<img>`` inside ``<noscript>`` replaces the lazy placeholder image just before it
  (or stands on its own when there is none): with scripts off the browser renders it;
- lazy images resolve: ``data-src``, ``data-original``, ``data-lazy-src`` and the largest
  candidate of ``srcset`` / ``data-srcset`` become ``src``;
- relative URLs (links, images) become absolute against the page's ``<base href>`` or URL;
- what the page hides without a script (the ``hidden`` attribute, an inline
  ``display: none`` or ``visibility: hidden``) goes: schema.org copies of the article,
  share-dialog templates and collapsed menus are never read by a person.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from .text import html_parser

LAZY_ATTRS = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-url")
SRCSET_ATTRS = ("data-srcset", "srcset", "data-lazy-srcset")
_PLACEHOLDER = re.compile(
    r"^(data:|about:blank)|(blank|spacer|placeholder|pixel|loading|lazy)[^/]*$", re.I
)
_DROP = ("script", "style", "template", "iframe", "object", "embed")
_LEAVE = ("#", "javascript:", "mailto:", "data:", "http://", "https://")
_HIDDEN_STYLE = re.compile(r"(display\s*:\s*none|visibility\s*:\s*hidden)", re.I)


def parse(html: str) -> lxml.html.HtmlElement:
    """Parse HTML text into an lxml document (comments and processing instructions dropped)."""
    parser = html_parser(remove_comments=True, remove_pis=True, encoding="utf-8")
    # Bytes in a declared encoding: lxml then ignores a stale <meta charset> in the page.
    data = html.encode("utf-8", "surrogatepass")
    try:
        return lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError):
        return lxml.html.document_fromstring("<html><body></body></html>")


def largest_srcset(srcset: str) -> str | None:
    """The URL of the widest (or densest) candidate in a srcset attribute."""
    best, best_size = None, -1.0
    for part in srcset.split(","):
        fields = part.strip().split()
        if not fields:
            continue
        size = 0.0
        if len(fields) > 1:
            try:
                size = float(fields[1][:-1]) if fields[1][-1] in "wx" else 0.0
            except ValueError:
                size = 0.0
        if size > best_size:
            best, best_size = fields[0], size
    return best


def _is_placeholder(src: str | None) -> bool:
    return not src or bool(_PLACEHOLDER.search(src.strip()))


def resolve_image(img: lxml.html.HtmlElement) -> None:
    """Give a lazy image its real address in ``src``."""
    src = img.get("src")
    for attr in LAZY_ATTRS:
        value = (img.get(attr) or "").strip()
        if value and not value.startswith("data:"):
            if _is_placeholder(src) or attr != "data-url":
                img.set("src", value)
                src = value
            break
    if _is_placeholder(src):
        for attr in SRCSET_ATTRS:
            best = largest_srcset(img.get(attr) or "")
            if best:
                img.set("src", best)
                break


def _noscript_images(doc: lxml.html.HtmlElement) -> None:
    for noscript in list(doc.iter("noscript")):
        inner = (noscript.text or "") + "".join(
            etree.tostring(c, encoding="unicode") for c in noscript
        )
        if "<img" not in inner.lower():
            noscript.drop_tree()
            continue
        try:
            fragment = lxml.html.fragment_fromstring(inner, create_parent="div")
        except etree.ParserError:
            noscript.drop_tree()
            continue
        images = fragment.xpath(".//img")
        # The placeholder the script would have replaced is the image just before <noscript>.
        prev = noscript.getprevious()
        if prev is not None and prev.tag != "img":
            found = prev.xpath(".//img")
            prev = found[-1] if len(found) == 1 else None
        if prev is not None and prev.tag == "img" and len(images) == 1:
            prev.drop_tree()
        parent = noscript.getparent()
        index = parent.index(noscript)
        tail = noscript.tail
        parent.remove(noscript)
        for offset, image in enumerate(images):
            image.tail = None
            parent.insert(index + offset, image)
        if tail:
            if images:
                images[-1].tail = tail
            else:
                _append_text(parent, index, tail)


def _append_text(parent: etree._Element, index: int, text: str) -> None:
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        sibling = parent[index - 1]
        sibling.tail = (sibling.tail or "") + text


def _drop_hidden(doc: lxml.html.HtmlElement) -> None:
    hidden = [
        el
        for el in doc.xpath("//body//*[@hidden or @style]")
        if el.get("hidden") is not None or _HIDDEN_STYLE.search(el.get("style") or "")
    ]
    for el in hidden:
        # Keep the text that follows a hidden element: it belongs to its parent.
        if el.getparent() is not None:
            el.drop_tree()


def base_url(doc: lxml.html.HtmlElement, url: str | None) -> str | None:
    """What relative links resolve against: ``<base href>`` (itself resolved), else the URL."""
    for base in doc.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            return urljoin(url or "", href)
    return url


def normalize(doc: lxml.html.HtmlElement, url: str | None) -> lxml.html.HtmlElement:
    """Normalise a parsed page in place (see the module docstring) and return it."""
    base = base_url(doc, url)
    etree.strip_elements(doc, *_DROP, with_tail=False)
    _drop_hidden(doc)
    _noscript_images(doc)
    for img in doc.iter("img"):
        resolve_image(img)
    for source in doc.iter("source"):
        best = largest_srcset(source.get("data-srcset") or source.get("srcset") or "")
        if best:
            source.set("srcset", best)
    if base:
        for el in doc.iter("a", "img"):
            attr = "href" if el.tag == "a" else "src"
            value = (el.get(attr) or "").strip()
            # Most links are absolute already: urljoin is costly on link-heavy pages.
            if value and not value.startswith(_LEAVE):
                with contextlib.suppress(ValueError):
                    el.set(attr, urljoin(base, value))
    return doc


def load(html: str, url: str | None) -> lxml.html.HtmlElement:
    """Parse and normalise: the one tree every later step reads."""
    return normalize(parse(html), url)
