"""Plain text of body HTML: what `samizdat.extract_article` returns as ``.text``."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

# Elements that start a new paragraph in the text.
BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "nav",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "pre",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "figure",
        "figcaption",
        "address",
        "hr",
        "form",
        "fieldset",
        "center",
        "details",
        "summary",
    ]
)
# Not running text: captions label a picture (the body HTML keeps them, in place, with it).
SKIPPED = frozenset(["script", "style", "template", "noscript", "figcaption"])
_SPACES = re.compile(r"\s+")


def _walk(el: etree._Element, out: list[str]) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in SKIPPED:
        if el.tail:
            out.append(el.tail)
        return
    block = tag in BLOCKS
    if block:
        out.append("\n\n")
    elif tag == "br":
        out.append("\n")
    elif tag in ("td", "th"):
        out.append(" ")
    if el.text and isinstance(el.tag, str):
        out.append(_SPACES.sub(" ", el.text))
    for child in el:
        _walk(child, out)
    if block:
        out.append("\n\n")
    if el.tail:
        out.append(_SPACES.sub(" ", el.tail))


_LOOKUP = etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)


def html_parser(**options: bool | str) -> lxml.html.HTMLParser:
    """An HTML parser whose elements are all ``HtmlElement``, chosen in C: lxml.html's own
    lookup calls Python for each element touched (to give forms and inputs their own
    classes, which we never use), a tenth of extraction's time on large pages."""
    parser = lxml.html.HTMLParser(**options)
    parser.set_element_class_lookup(_LOOKUP)
    return parser


def parse_fragment(html: str) -> lxml.html.HtmlElement:
    """Parse an HTML fragment (or a whole page) into one ``<div>`` holding it; never raises."""
    try:
        doc = lxml.html.document_fromstring(
            f"<html><body>{html}</body></html>", parser=html_parser()
        )
    except (etree.ParserError, ValueError):
        return lxml.html.fromstring("<div></div>")
    body = doc.find("body")
    if body is None:
        return lxml.html.fromstring("<div></div>")
    body.tag = "div"
    return body


def html_to_text(html: str) -> str:
    """Convert body HTML to text: paragraphs (and other blocks) separated by one blank line.

    Whitespace inside a paragraph collapses to single spaces; ``<br>`` keeps a line break.
    """
    if not html or not html.strip():
        return ""
    root = parse_fragment(html)
    parts: list[str] = []
    _walk(root, parts)
    paragraphs = []
    for chunk in "".join(parts).split("\n\n"):
        lines = [line.strip() for line in chunk.split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            paragraphs.append(text)
    return "\n\n".join(paragraphs)
