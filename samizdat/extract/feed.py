"""Is a feed item's content the whole article, or only a teaser?"""

from __future__ import annotations

import re

# Endings that announce "there is more on the site".
_MORE = re.compile(
    r"(\.\.\.|…|\[…\]|\[\.\.\.\]|read more|continue reading|more\s*»|"
    r"阅读全文|继续阅读|閱讀全文|繼續閱讀|全文|更多|详情|詳情)\W*$",
    re.IGNORECASE,
)
TEASER_SHARE = 0.6


def _size(text: str) -> int:
    return len(re.sub(r"\s+", "", text))


def teaser_reason(feed_text: str, page_text: str) -> str | None:
    """Why the feed's content is only a teaser, or None when it is the article.

    The rule (``feed_content = "auto"``):

    - feed content with no text is a teaser;
    - feed text that ends in an ellipsis or a "read more" link (English or Chinese) is a teaser;
    - feed text shorter than 60% of the text that generic extraction finds on the article
      page is a teaser (the page holds the article; the feed, its start).

    Otherwise the feed's content is the article: it is what the publisher meant as the body,
    free of the page's navigation, so it is preferred to the page.
    """
    size = _size(feed_text)
    if size == 0:
        return "the feed item has no text"
    if _MORE.search(feed_text.strip()):
        return "the feed's content ends in an ellipsis or a 'read more' link"
    page = _size(page_text)
    if page and size < TEASER_SHARE * page:
        return f"the feed's text is {size * 100 // page}% of the page's (under 60%)"
    return None
