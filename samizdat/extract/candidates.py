"""The two independent extractors whose votes generic extraction combines.

Each returns the HTML it considers the article, computed on its own copy of the
already parsed and normalised tree (no second parse of the page).
"""

from __future__ import annotations

import copy
import logging

import lxml.html
import trafilatura
from readability import Document
from readability.readability import Unparseable

from .text import parse_fragment

log = logging.getLogger(__name__)


def trafilatura_html(doc: lxml.html.HtmlElement, output_format: str = "html") -> str:
    """Trafilatura's article HTML, or text with ``output_format="txt"``.

    Its own fallbacks are off: readability is our second voter.
    """
    try:
        html = trafilatura.extract(
            copy.deepcopy(doc),
            fast=True,
            output_format=output_format,
            include_comments=False,
            include_tables=True,
            include_images=True,
            include_formatting=True,
            deduplicate=False,
        )
    except Exception:  # a library bug on one odd page must not stop the cycle
        log.debug("trafilatura failed", exc_info=True)
        return ""
    return html or ""


class _SharedTreeDocument(Document):
    """readability's Document fed an already parsed, normalised tree.

    Its default ``_parse`` runs lxml's Cleaner (javascript links, styles, comments), which
    costs half of its time; our tree has lost scripts, styles and comments already, so a
    deep copy (readability mutates it, and re-parses on its lenient second pass) suffices.
    """

    def _parse(self, input: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
        doc = copy.deepcopy(input)
        for elem in doc.xpath("//*[@hidden]"):
            elem.drop_tree()
        return doc


def readability_html(doc: lxml.html.HtmlElement) -> str:
    """readability-lxml's article HTML."""
    try:
        summary = _SharedTreeDocument(doc).summary(html_partial=True)
    except (Unparseable, ValueError, TypeError):
        log.debug("readability failed", exc_info=True)
        return ""
    return summary


def text_of(html: str) -> str:
    """All the text of an HTML fragment."""
    if not html.strip():
        return ""
    return parse_fragment(html).text_content()
