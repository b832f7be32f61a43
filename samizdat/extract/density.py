"""A light readability-style scorer: which part of the page holds the article.

It is the second voter of generic extraction (trafilatura is the first). It reads the
text blocks that :mod:`samizdat.extract.generic` has already cut from the one parsed tree,
so it costs a pass over them rather than a second extractor run on a copy of the page:

1. every block with enough text scores for its parent (fully) and grandparent (half):
   one point, one per comma (Latin or Chinese), one per 100 characters up to three;
2. a container's score is weighted by its class and id (``article``, ``content`` … up;
   ``comment``, ``related``, ``sidebar`` … down) and multiplied by the share of its text
   that is not in links;
3. the best container is the article, with those of its siblings that score well or read
   as prose themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from lxml import etree

_POSITIVE = re.compile(r"article|body|content|entry|hentry|main|page|post|text|blog|story", re.I)
_NEGATIVE = re.compile(
    r"combx|comment|com-|contact|foot|footer|footnote|masthead|media|meta|outbrain|promo|"
    r"related|scroll|shoutbox|sidebar|sponsor|shopping|tags|tool|widget|recommend|share|"
    r"newsletter|subscribe|teaser|trending|popular|most-?read",
    re.I,
)
# Containers readability sets aside before scoring: their text votes for no ancestor.
_UNLIKELY = re.compile(
    r"combx|comment|community|disqus|extra|foot|header|menu|remark|rss|shoutbox|sidebar|"
    r"sponsor|ad-break|agegate|pagination|pager|popup|tweet|twitter",
    re.I,
)
_MAYBE = re.compile(r"and|article|body|column|content|main|shadow", re.I)
RETRY = 250  # chosen text shorter than this: the names misled, score again without them
_COMMAS = re.compile(r"[,，、]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_TAG_SCORE = {"div": 5, "article": 8, "section": 3, "td": 3, "pre": 3, "blockquote": 3}
_TAG_SCORE |= {"form": -3, "ol": -3, "ul": -3, "dl": -3, "li": -3, "th": -5}
_TAG_SCORE |= {"h1": -5, "h2": -5, "h3": -5, "h4": -5, "h5": -5, "h6": -5}
_BOXES = frozenset(["table", "ul", "ol", "dl", "div", "section", "aside", "nav", "form"])
MIN_TEXT = 25  # a block shorter than this (CJK counting double) casts no vote


class TextBlock(Protocol):
    el: etree._Element
    key: str
    link_chars: int
    in_b: bool
    mixed: bool


def weight(el: etree._Element) -> int:
    """Class and id weight, as readability's: +25 for an article-like name, -25 for junk."""
    score = 0
    for name in (el.get("class"), el.get("id")):
        if name:
            if _NEGATIVE.search(name):
                score -= 25
            if _POSITIVE.search(name):
                score += 25
    return score


def unlikely(el: etree._Element, memo: dict[etree._Element, bool]) -> bool:
    """Whether el or an ancestor is named like a comment thread, menu or footer."""
    found = memo.get(el)
    if found is None:
        if el.tag in ("html", "body") or not isinstance(el.tag, str):
            found = False
        else:
            names = f"{el.get('class') or ''} {el.get('id') or ''}"
            found = bool(_UNLIKELY.search(names)) and not _MAYBE.search(names)
            parent = el.getparent()
            if not found and parent is not None:
                found = unlikely(parent, memo)
        memo[el] = found
    return found


def _size(text: str) -> int:
    return len(text) + len(_CJK.findall(text))


def vote(
    blocks: Iterable[TextBlock],
    text: dict[etree._Element, int],
    links: dict[etree._Element, int],
) -> None:
    """Set ``in_b`` on the blocks inside the article's containers (unlikely ones aside).

    ``text`` and ``links`` give, per element, the squashed text and link characters of all
    the page's blocks under it."""
    blocks = list(blocks)
    memo: dict[etree._Element, bool] = {}
    likely = [b for b in blocks if not unlikely(b.el, memo)]
    for pool in (likely, blocks):
        chosen = set(article_elements(pool, text, links))
        for block in pool:
            block.in_b = block.el in chosen or any(x in chosen for x in block.el.iterancestors())
        _sanitize([b for b in pool if b.in_b], chosen)
        if sum(len(b.key) for b in pool if b.in_b) >= RETRY:
            return


def _sanitize(inside: list[TextBlock], chosen: set[etree._Element]) -> None:
    """Inside the article, drop link lists as readability's clean-up does: a block mostly in
    links, or one in a list, table or box whose text is more than a third links (unless it
    is named like article content)."""
    text: dict[etree._Element, int] = {}
    links: dict[etree._Element, int] = {}
    chains = []
    for block in inside:
        chain = []
        for el in (block.el, *block.el.iterancestors()):
            if el in chosen:
                break
            chain.append(el)
            text[el] = text.get(el, 0) + len(block.key)
            links[el] = links.get(el, 0) + block.link_chars
        chains.append(chain)
    for block, chain in zip(inside, chains, strict=True):
        if block.link_chars > 0.5 * len(block.key):
            block.in_b = False
            continue
        for el in chain:
            if el.tag in _BOXES and links[el] > text[el] / 3 and weight(el) < 25:
                block.in_b = False
                break


def article_elements(
    blocks: list[TextBlock],
    text: dict[etree._Element, int],
    links: dict[etree._Element, int],
) -> list[etree._Element]:
    """The elements (the best container and its worthy siblings) that hold the article."""
    scores: dict[etree._Element, float] = {}
    for block in blocks:
        size = _size(block.key)
        if size < MIN_TEXT:
            continue
        # Loose text in a container that also holds blocks is a paragraph of that container
        # (readability wraps such text in <p>): it votes for the container itself.
        parent = block.el if block.mixed else block.el.getparent()
        if parent is None:
            continue
        points = 1 + len(_COMMAS.findall(block.key)) + min(size // 100, 3)
        grand = parent.getparent()
        for el, share in ((parent, 1.0), (grand, 0.5)):
            if el is None or not isinstance(el.tag, str):
                continue
            if el not in scores:
                scores[el] = _TAG_SCORE.get(el.tag, 0) + weight(el)
            scores[el] += points * share
    if not scores:
        return []
    # Link density of each candidate: the share of its blocks' text inside links.
    final = {
        el: s * (1 - links.get(el, 0) / text[el] if text.get(el) else 1) for el, s in scores.items()
    }
    top = max(final, key=final.__getitem__)
    parent = top.getparent()
    if parent is None:
        return [top]
    threshold = max(10.0, final[top] * 0.2)
    chosen = []
    for sibling in parent:
        if sibling is top or final.get(sibling, -1.0) >= threshold or _prose(sibling, text, links):
            chosen.append(sibling)
    # An article cut into several same-named containers (a CMS closes and reopens its body
    # around ads and embeds) keeps all of them: twins of the top container elsewhere in the
    # page that score as siblings would and are mostly not links.
    names = top.get("class")
    if names:
        for el, value in final.items():
            if (
                el.tag == top.tag
                and el.get("class") == names
                and el not in chosen
                and value >= threshold
                and links.get(el, 0) < TWIN_LINKS * text.get(el, 1)
                and not any(a in chosen for a in el.iterancestors())
            ):
                chosen.append(el)
    return chosen


TWIN_LINKS = 0.25  # readability's bar for a sibling paragraph: under a quarter links
PROSE_SIBLING = 80  # characters: a sibling paragraph this long (and link-poor) is article


def _prose(el: etree._Element, text: dict, links: dict) -> bool:
    """A sibling paragraph of the top container that reads as prose joins it (readability's
    rule): long and under a quarter links, or shorter, linkless and ending a sentence."""
    if el.tag != "p":
        return False
    size = text.get(el, 0)
    if size >= PROSE_SIBLING:
        return links.get(el, 0) < TWIN_LINKS * size
    content = (el.text_content() or "").strip()
    return size > 0 and not links.get(el, 0) and content.endswith((".", "。", "!", "?", "！", "？"))
