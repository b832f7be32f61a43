"""A source's site rules: CSS selectors for the body, lead image and caption."""

from __future__ import annotations

import lxml.html
from cssselect import SelectorError
from lxml import etree


def select(doc: lxml.html.HtmlElement, selector: str | None) -> list[lxml.html.HtmlElement]:
    """Elements matching a CSS selector, outermost only, in document order; [] if invalid."""
    if not selector:
        return []
    try:
        found = doc.cssselect(selector)
    except (SelectorError, etree.XPathError, ValueError):
        return []
    chosen = set(found)
    return [el for el in found if not any(a in chosen for a in el.iterancestors())]


def remove(doc: lxml.html.HtmlElement, selectors: tuple[str, ...]) -> None:
    """Drop every element matching any of the ``remove`` selectors (and its content)."""
    for selector in selectors:
        for el in select(doc, selector):
            parent = el.getparent()
            if parent is not None:
                el.drop_tree()


def body_by_rules(doc: lxml.html.HtmlElement, selector: str) -> str:
    """The HTML of what the ``content`` selector matches (several matches are joined)."""
    parts = select(doc, selector)
    return "".join(
        etree.tostring(el, encoding="unicode", method="html", with_tail=False) for el in parts
    )


def first_image(doc: lxml.html.HtmlElement, selector: str | None) -> str | None:
    """``src`` of the image a selector names (the element itself or the first img in it)."""
    for el in select(doc, selector):
        img = el if el.tag == "img" else next(iter(el.iter("img")), None)
        if img is not None and img.get("src"):
            return img.get("src")
    return None


def text_by_rules(doc: lxml.html.HtmlElement, selector: str | None) -> str | None:
    for el in select(doc, selector):
        text = " ".join(el.text_content().split())
        if text:
            return text
    return None
