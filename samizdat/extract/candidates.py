"""trafilatura, the first voter of generic extraction (the second is
:mod:`samizdat.extract.density`), run once on a copy of the already parsed, normalised tree.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import lxml.html
from trafilatura import bare_extraction
from trafilatura.htmlprocessing import build_html_output

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Candidate:
    """trafilatura's article: its plain text, and its HTML made only when asked for."""

    text: str
    _document: object | None = None

    def html(self) -> str:
        if self._document is None:
            return ""
        try:
            return build_html_output(self._document)  # type: ignore[arg-type]
        except Exception:  # a library bug on one odd page must not stop the cycle
            log.debug("trafilatura HTML output failed", exc_info=True)
            return ""


def trafilatura_candidate(doc: lxml.html.HtmlElement) -> Candidate:
    """trafilatura's article on the page, or on a part of it (any element).

    Fast mode (its readability/jusText fallbacks off: the density scorer is our second
    voter), and ``bare_extraction`` rather than ``extract``: no fingerprint, no output
    serialisation unless the HTML is needed.
    """
    if doc.tag != "html":
        # A part of the page: trafilatura reads a page, so wrap a copy of it in one.
        page = lxml.html.Element("html")
        body = lxml.html.Element("body")
        page.append(body)
        article = lxml.html.Element("main")
        body.append(article)
        part = copy.deepcopy(doc)
        part.tail = None
        article.append(part)
    else:
        page = copy.deepcopy(doc)
    try:
        document = bare_extraction(
            page,
            fast=True,
            # Not "python": that serialises the body to text (xmltotxt), a tenth of our
            # time; the voting reads the body's plain text runs instead.
            output_format="txt",
            include_comments=False,
            include_tables=True,
            include_images=True,
            include_formatting=True,
            deduplicate=False,
            with_metadata=False,
        )
    except Exception:  # a library bug on one odd page must not stop the cycle
        log.debug("trafilatura failed", exc_info=True)
        return Candidate("")
    if document is None or isinstance(document, dict):
        return Candidate("")
    body = document.body
    # The text of the body itself: ``raw_text`` may be the text of a rescue the body is not.
    text = " ".join(body.itertext()) if body is not None else document.raw_text or ""
    return Candidate(text, document)
