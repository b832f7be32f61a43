"""Extraction: from an article page (and its feed item) to a `Raw` record.

Body selection, in the order SPEC §2 fixes:

1. the source's ``rules.content`` CSS selector on the article page (``rules.remove``
   selectors dropped first);
2. the feed item's full content, unless it is only a teaser (``rules.feed_content``:
   ``"always"`` uses it, ``"never"`` ignores it, ``"auto"`` decides by
   :func:`samizdat.extract.feed.teaser_reason`);
3. generic main-content extraction of the page (:mod:`samizdat.extract.generic`).

Before anything the page is normalised as a browser with scripts off shows it
(:mod:`samizdat.extract.normalize`). The body comes back uncleaned (``samizdat.clean``
sanitises it) but with its structure: paragraphs, headings, lists, quotes, tables,
emphasis, figures with captions.
"""

from __future__ import annotations

import copy

import lxml.html
from lxml import etree

from samizdat.models import Raw, Rules

from . import metadata, normalize
from . import rules as site_rules
from .feed import teaser_reason
from .generic import extract_generic
from .text import html_to_text, parse_fragment

__all__ = ["extract", "html_to_text"]


def extract(
    html: str, url: str | None, rules: Rules | None = None, feed_html: str | None = None
) -> Raw:
    """Extract an article from a page's HTML (already decoded text) and, optionally, the
    full content its feed item carried. Never fetches anything."""
    rules = rules or Rules()
    doc = normalize.parse(html)
    base = normalize.base_url(doc, url)
    meta = metadata.read_head(doc, base)
    normalize.normalize(doc, url)

    body, method, reason = _body(doc, url, rules, feed_html)

    image = site_rules.first_image(doc, rules.image) if rules.image else None
    image = image or meta.image
    caption = site_rules.text_by_rules(doc, rules.caption) if rules.caption else None
    if image and not caption:
        caption = metadata.caption_for(doc, image)
    if image:
        body = _drop_lead_image(body, image)
    return Raw(
        title=meta.title,
        body_html=body,
        image=image,
        caption=caption,
        published=meta.published,
        author=meta.author,
        method=method,
        reason=reason,
    )


def _body(
    doc: lxml.html.HtmlElement, url: str | None, rules: Rules, feed_html: str | None
) -> tuple[str, str, str]:
    """(body HTML, method, reason) following the selection order."""
    missed = ""
    if rules.content:
        scope = _copy(doc)
        site_rules.remove(scope, rules.remove)
        body = site_rules.body_by_rules(scope, rules.content)
        if html_to_text(body):
            return body, "rules", f"the source's content selector {rules.content!r} matched"
        missed = f"the content selector {rules.content!r} matched no text; "
    feed_body = _normalise_fragment(feed_html, url) if feed_html and feed_html.strip() else ""
    mode = rules.feed_content
    if feed_body and mode == "always":
        return feed_body, "feed", missed + "the feed's content is used (feed_content = always)"

    # Generic extraction leaves the tree as it found it (it marks and unmarks blocks, and
    # trafilatura reads its own copy): only removal rules need a copy of the page.
    scope = doc
    if rules.remove:
        scope = _copy(doc)
        site_rules.remove(scope, rules.remove)
    generic, how = extract_generic(scope)

    if feed_body and mode == "auto":
        why_not = teaser_reason(html_to_text(feed_body), html_to_text(generic))
        if why_not is None:
            return feed_body, "feed", missed + "the feed carries the full article"
        return generic, "generic", missed + f"{why_not}; generic extraction: {how}"
    if not feed_html:
        prefix = "no feed content; "
    elif mode == "never":
        prefix = "feed content ignored (feed_content = never); "
    else:
        prefix = "the feed's content is empty; "
    return generic, "generic", missed + prefix + f"generic extraction: {how}"


def _copy(doc: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    # Later steps (captions, lead image) read the page as it was; work on a copy.
    return copy.deepcopy(doc)


def _normalise_fragment(html: str, url: str | None) -> str:
    """Feed content gets the same treatment as a page: noscript, lazy images, absolute URLs."""
    doc = normalize.load(f"<html><body>{html}</body></html>", url)
    body = doc.find("body")
    if body is None:
        return ""
    return (body.text or "") + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in body
    )


def _drop_lead_image(body: str, image: str) -> str:
    """The renderer shows the lead image above the body: drop it from the body when it is
    the body's first image (its figure goes with it when it holds nothing else)."""
    if "<img" not in body:
        return body
    root = parse_fragment(body)
    first = next(iter(root.iter("img")), None)
    if first is None or not metadata.same_image(first.get("src"), image):
        return body
    figure = next((a for a in first.iterancestors() if a.tag == "figure"), None)
    if figure is not None and len(figure.xpath(".//img")) == 1:
        figure.drop_tree()
    else:
        first.drop_tree()
    return (root.text or "") + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in root
    )
