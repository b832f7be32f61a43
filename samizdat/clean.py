"""Cleaning: what goes into a page is decided here, and only here.

`clean_body` runs once per article, when it is stored: absolute URLs, headings shifted below
the page title, nh3's allowlist sanitiser (no script, style, iframe, form, event handler or
`javascript:` URL survives, whatever the source sent), and the optional OpenCC conversion.

`relink` runs when a page is rendered, because it depends on the rest of the mirror: a link to
an article the mirror holds points at the mirrored page, and a link to a blocked host becomes its
text alone (readers inside the firewall would only hang on it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from urllib.parse import urljoin, urlsplit

import nh3

from samizdat.fragments import inner_html, parse_fragment

TAGS = {
    "p",
    "br",
    "hr",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "blockquote",
    "pre",
    "code",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "s",
    "sub",
    "sup",
    "small",
    "mark",
    "q",
    "cite",
    "abbr",
    "a",
    "img",
    "figure",
    "figcaption",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "caption",
    "dl",
    "dt",
    "dd",
    "div",
    "span",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
}
# Content of these goes with them (nh3 would otherwise keep their text).
DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "form",
    "noscript",
    "template",
    "object",
    "embed",
    "svg",
    "math",
    "button",
    "select",
    "textarea",
    "input",
    "canvas",
    "audio",
    "video",
    "frameset",
    "frame",
    "head",
    "title",
    "nav",
}
# The page title is `###` (h3); the body's headings go below it, as the seed page did (h2 → h4).
HEADING_SHIFT = {"h1": "h4", "h2": "h4", "h3": "h5", "h4": "h6", "h5": "h6", "h6": "h6"}


def clean_body(html: str, *, base_url: str | None = None, convert: str = "") -> str:
    """Sanitised body HTML, ready to store."""
    doc = parse_fragment(html)
    if doc is None:
        return ""
    for element in doc.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        element.tag = HEADING_SHIFT[element.tag]
    if base_url:
        doc.make_links_absolute(base_url, resolve_base_href=False, handle_failures="discard")
    if convert:
        converter = _converter(convert)
        for element in doc.iter():
            if isinstance(element.tag, str):
                if element.text:
                    element.text = converter(element.text)
                if element.tail:
                    element.tail = converter(element.tail)
                if element.get("alt"):
                    element.set("alt", converter(element.get("alt", "")))
    cleaned = nh3.clean(
        inner_html(doc),
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
    )
    return _tidy(cleaned)


def convert_text(text: str, convert: str) -> str:
    """OpenCC conversion of a title or caption ('' = none)."""
    return _converter(convert)(text) if convert and text else text


@cache
def _converter(config: str) -> Callable[[str], str]:
    import opencc  # the C++ binding: about 20x faster than the pure-Python port

    return opencc.OpenCC(f"{config}.json" if not config.endswith(".json") else config).convert


def relink(
    html: str,
    *,
    page_url: str,
    mirrored: Mapping[str, str],
    blocked: tuple[str, ...],
    page_path: str,
) -> str:
    """Point links at mirrored pages (relative to `page_path`) and unlink blocked hosts.

    `mirrored` maps original article URLs to their page paths relative to the output root."""
    if "<a" not in html:
        return html
    doc = parse_fragment(html)
    if doc is None:
        return html
    changed = False
    depth = page_path.count("/")
    for anchor in list(doc.iter("a")):
        href = anchor.get("href", "")
        target = mirrored.get(urljoin(page_url, href).split("#", 1)[0])  # as in link_targets
        if target:
            anchor.set("href", "../" * depth + target)
            changed = True
        elif is_blocked(href, blocked):
            anchor.drop_tag()  # keep its text and children, lose the link
            changed = True
    return inner_html(doc) if changed else html


def link_targets(html: str, page_url: str) -> frozenset[str]:
    """The addresses `relink` looks up for this body: two link maps that agree on these give
    the same page."""
    if "<a" not in html:
        return frozenset()
    doc = parse_fragment(html)
    if doc is None:
        return frozenset()
    return frozenset(urljoin(page_url, a.get("href", "")).split("#", 1)[0] for a in doc.iter("a"))


def is_blocked(url: str, blocked: tuple[str, ...]) -> bool:
    """True when the URL's host is a blocked host or one of its subdomains."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return bool(host) and any(host == b or host.endswith("." + b) for b in blocked)


def _tidy(html: str) -> str:
    """Drop what sanitising leaves hollow: links without an address, empty blocks."""
    doc = parse_fragment(html)
    if doc is None:
        return ""
    for anchor in list(doc.iter("a")):
        if not anchor.get("href"):
            anchor.drop_tag()
    for element in list(doc.iter("p", "div", "span", "li", "blockquote", "figure")):
        if (
            not element.text_content().strip()
            and not element.xpath(".//img|.//br|.//hr")
            and element.getparent() is not None
        ):
            element.drop_tree()
    return inner_html(doc)
