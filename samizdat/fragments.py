"""Body HTML fragments as lxml trees, and back: the one way cleaning, images and rendering
parse an article body, so they agree on what a fragment is."""

from __future__ import annotations

import lxml.html
from lxml.etree import ParserError

_OPEN, _CLOSE = "<div>", "</div>"


def parse_fragment(html: str) -> lxml.html.HtmlElement | None:
    """The fragment under one wrapper <div> (so text, several blocks, anything is one tree);
    None when there is nothing to parse."""
    if not html or not html.strip():
        return None
    try:
        return lxml.html.fragment_fromstring(html, create_parent="div")
    except (ParserError, ValueError):
        return None


def inner_html(doc: lxml.html.HtmlElement) -> str:
    """The wrapper's content, without the wrapper `parse_fragment` added."""
    out = lxml.html.tostring(doc, encoding="unicode")
    return out[len(_OPEN) : -len(_CLOSE)].strip() if out.startswith(_OPEN) else out.strip()
