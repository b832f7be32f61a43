"""`extract_article`: extraction and cleaning of one page, exactly as a cycle does it (SPEC §4)."""

from __future__ import annotations

from samizdat.clean import clean_body, convert_text
from samizdat.extract import extract
from samizdat.extract.text import html_to_text
from samizdat.models import Extracted, Rules


def extract_article(
    html: str,
    url: str | None = None,
    *,
    rules: Rules | None = None,
    feed_html: str | None = None,
    convert: str = "",
) -> Extracted:
    """Extract the article on one page and clean it. Never fetches anything.

    `rules` takes a source's selectors; `feed_html` the feed item's full content, used when the
    rules don't apply and it is not a teaser; `convert` an OpenCC conversion such as "s2t".
    """
    raw = extract(html, url, rules, feed_html)
    body = clean_body(raw.body_html, base_url=url, convert=convert)
    return Extracted(
        title=convert_text(raw.title, convert),
        text=html_to_text(body),
        html=body,
        image=raw.image,
        caption=convert_text(raw.caption, convert) if raw.caption else raw.caption,
        published=raw.published,
        author=raw.author,
        method=raw.method,
        reason=raw.reason,
    )
