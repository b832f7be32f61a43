"""Generic main-content extraction: two voters decide, block by block, on the page's DOM.

trafilatura (fast mode, run once) and a light readability-style density scorer over the
page's own blocks (:mod:`samizdat.extract.density`) are each good and each wrong in their
own way (trafilatura keeps related-link lists and comments on Chinese portals; the density
pick misses link-rich paragraphs). Their choices are votes on the page's text blocks:

1. Every text block of the normalised page (a paragraph, heading, list item, cell …) that
   both kept is article text. The span from the first to the last such block is the core.
2. Inside the core, a block that only one of them kept is kept when it reads as prose.
3. Outside the core, blocks kept by one voter extend it while they read like prose (long
   enough, few links, not in a box named like comments or a sidebar); the first block that
   doesn't ends the article.
4. When the two hardly agree, the one whose text reads more like an article (more prose,
   fewer link-heavy blocks) wins alone.
5. Promotion lines ("Read more:", "Don't miss") and picture credits go.

The body is then the page's own subtree around the kept blocks, with everything else
pruned, so headings, lists, quotes, tables and figures keep their original markup.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import lxml.html
from lxml import etree

from . import density
from .candidates import trafilatura_candidate

BLOCK_TAGS = frozenset(
    [
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "dt",
        "dd",
        "blockquote",
        "pre",
        "td",
        "th",
        "figcaption",
        "div",
        "section",
        "article",
        "center",
        "caption",
        "address",
        "main",
        "header",
        "footer",
        "aside",
        "nav",
        "ul",
        "ol",
        "dl",
        "table",
        "tr",
        "tbody",
        "form",
    ]
)
_WS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?。！？…\"”'’)）:：;；]$")
_PUNCT = re.compile(r"[.!?。！？,，、;；]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
KEEP, IMAGE = "k", "i"
MARK = "data-samizdat"
SHORT = 6  # blocks shorter than this (no spaces) match anywhere: their votes mean nothing
GRAM = 6  # character n-gram size for matching blocks to candidate texts
_WORD = re.compile(r"\w")
_WORDY = re.compile(r"[^\W\d_]{2}")  # two letters in a row: a block with words in it
LINKY = 0.5  # a block with more of its text in links than this is navigation
# Calls to action and cross-promotion that sit between paragraphs: never the article.
_PROMO = re.compile(
    r"^\W*(read more|read also|also read|read next|see more|see also|more on this|related"
    r"( articles?| stories| coverage| content)?\s*:|don'?t miss|click here|sign up|subscribe"
    r"|advertisement|相关(新闻|阅读|文章|报道)|延伸阅读|推荐阅读|更多(精彩|阅读))",
    re.I,
)
# Picture credits and captions outside <figcaption>: short lines naming a photographer.
_CREDIT = re.compile(
    r"\((image|photo|picture|pic)s?\s*:|\b(photo|image|picture)s?\s*(credit)?\s*:\s*\S"
    r"|\bcredit\s*:\s*\S|\(photo by\b|\(ap photo|\bgetty images?\)?\s*$|图片来源|图/",
    re.I,
)
CREDIT_MAX = 300  # a caption is short; a paragraph that quotes a credit is not one


# Names (class, id, itemprop words) of a picture's caption or credit outside <figcaption>.
_CAPTION_NAME = re.compile(
    r"(?:^|[\s_-])(?:fig)?(?:caption|captions|credit|credits|cutline|photo-?credit)(?:$|[\s_-])",
    re.I,
)
CAPTION_DEPTH = 3  # a caption's text sits at most this deep in its caption-named box
CAPTION_MAX = 600  # characters (spaces aside): more is a layout misnamed, not a caption


def _boilerplate(block: Block) -> bool:
    """A promotion line or a picture caption or credit (block text as shown)."""
    text = block.el.text_content().strip()
    if _PROMO.search(text):
        return True
    if _captioned(block.el):
        return True
    return len(text) <= CREDIT_MAX and bool(_CREDIT.search(text))


def _captioned(el: etree._Element) -> bool:
    """Whether el is, or sits in, a short box named as a picture's caption or credit:
    captions label pictures (the text leaves out <figcaption> alike)."""
    for _ in range(CAPTION_DEPTH):
        if el is None or el.tag in ("body", "html", "article", "main"):
            return False
        names = f"{el.get('class') or ''} {el.get('id') or ''} {el.get('itemprop') or ''}"
        if _CAPTION_NAME.search(names):
            return len(_squash(el.text_content())) <= CAPTION_MAX
        el = el.getparent()
    return False


PROSE_LINKS = 0.5  # a paragraph may link a lot (news roundups) and still be prose
BIAS = 0.5  # trafilatura wins a disagreement unless the density pick holds clearly more prose


@dataclass(slots=True)
class Block:
    el: lxml.html.HtmlElement
    order: int
    key: str  # own text without whitespace
    link_chars: int
    in_a: bool = False
    in_b: bool = False
    mixed: bool = False  # loose text beside nested blocks (a container, not a paragraph)
    _prose: bool | None = None

    @property
    def link_density(self) -> float:
        return self.link_chars / len(self.key) if self.key else 0.0

    def prose(self) -> bool:
        """Long enough and link-poor enough to be a paragraph of an article."""
        if self._prose is None:
            self._prose = self._reads_as_prose()
        return self._prose

    def _reads_as_prose(self) -> bool:
        cjk = len(_CJK.findall(self.key))
        size = cjk * 3 + (len(self.key) - cjk)
        # Sentences end in punctuation; headlines of teaser cards don't.
        sentence = bool(_SENTENCE_END.search(self.key)) or len(_PUNCT.findall(self.key)) >= 2
        return size >= 60 and self.link_density < PROSE_LINKS and sentence


@dataclass(slots=True)
class Page:
    """The page's text blocks, each element's document position, and per element the
    squashed text and link characters of the blocks under it (each block's counts are
    added to its ancestors once, here, so later steps look them up)."""

    blocks: list[Block]
    order: dict[etree._Element, int]
    text: dict[etree._Element, int]
    links: dict[etree._Element, int]


def _blocks(doc: lxml.html.HtmlElement) -> Page:
    """Cut the page into text blocks in one walk (lxml's C-level ``iterwalk``).

    A block's own text is its text outside nested blocks (inline children included); its
    link characters are those of that text inside ``<a>``. A block wrapped in a link
    (teaser cards) is all link.
    """
    body = doc.find("body")
    root = body if body is not None else doc
    order: dict[etree._Element, int] = {}
    blocks: list[Block] = []
    frames: list[_Frame] = []
    links_open = 0
    index = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag
        if event == "start":
            order[el] = index
            index += 1
            if tag == "a":
                links_open += 1
            if tag in BLOCK_TAGS or el is root:
                if frames:
                    frames[-1].nested = True
                frames.append(_Frame(el, links_open > 0))
                if el.text:
                    frames[-1].add(el.text, links_open > 0)
            elif el.text and frames and isinstance(tag, str):
                frames[-1].add(el.text, links_open > 0)
            continue
        if tag in BLOCK_TAGS or el is root:
            frame = frames.pop()
            key = _WS.sub("", "".join(frame.parts))
            if key and (el is not root or tag in BLOCK_TAGS):
                link = len(key) if frame.wrapped else min(frame.link, len(key))
                blocks.append(Block(el, order[el], key, link, mixed=frame.nested))
        if tag == "a":
            links_open -= 1
        if el.tail and frames and el is not root:
            frames[-1].add(el.tail, links_open > 0)
    blocks.sort(key=lambda b: b.order)
    return Page(blocks, order, *_totals(blocks))


class _Frame:
    """A block being read: its text so far and how much of it is in links."""

    __slots__ = ("el", "link", "nested", "parts", "wrapped")

    def __init__(self, el: etree._Element, wrapped: bool) -> None:
        self.el = el
        self.nested = False
        self.wrapped = wrapped
        self.parts: list[str] = []
        self.link = 0

    def add(self, text: str, in_link: bool) -> None:
        self.parts.append(text)
        if in_link:
            self.link += len(_WS.sub("", text))


def _totals(blocks: list[Block]) -> tuple[dict, dict]:
    text: dict[etree._Element, int] = {}
    links: dict[etree._Element, int] = {}
    for block in blocks:
        size, link = len(block.key), block.link_chars
        el = block.el
        while el is not None:
            text[el] = text.get(el, 0) + size
            links[el] = links.get(el, 0) + link
            el = el.getparent()
    return text, links


class _Grams:
    """A candidate text's character n-grams, built only when a block is not found in it
    verbatim (most blocks are, and a substring test is far cheaper)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._grams: set[str] | None = None

    def found(self, key: str) -> bool:
        """Whether a block's text is in the candidate's, tolerating the small rewrites
        extractors make (table cell separators, dropped inline bits): most of its
        character n-grams are."""
        if key in self.text:
            return True
        if len(key) < 4 * GRAM:
            return False
        if self._grams is None:
            text = self.text
            self._grams = {text[i : i + GRAM] for i in range(len(text) - GRAM + 1)}
        grams = self._grams
        starts = range(0, len(key) - GRAM + 1, 2)
        hits = sum(1 for i in starts if key[i : i + GRAM] in grams)
        return hits >= 0.6 * len(starts)


def _squash(text: str) -> str:
    return _WS.sub("", text)


ANCHOR = 4 * GRAM  # a block this long found verbatim in trafilatura's text pins a place in it


def _align_short(blocks: list[Block], a: str) -> None:
    """A short block (a menu item, a tag, a one-word heading) is in trafilatura's text only
    where the page puts it: between the places of the long blocks around it. Found
    anywhere else, it is a word that also occurs in some sentence."""
    # Each anchor's place, searched past the previous one first (a page may repeat a
    # paragraph), and for each block where the previous anchor ends.
    places: list[tuple[int, int] | None] = []
    ends, end = [], 0
    for block in blocks:
        ends.append(end)
        at = -1
        if block.in_a and len(block.key) >= ANCHOR:
            at = a.find(block.key, end)
            if at < 0:
                at = a.find(block.key)
        places.append((at, at + len(block.key)) if at >= 0 else None)
        if at >= 0:
            end = at + len(block.key)
    start = len(a)
    for i in range(len(blocks) - 1, -1, -1):
        block, place = blocks[i], places[i]
        if place:
            start = place[0]
        elif block.in_a and len(block.key) < ANCHOR:
            at = a.find(block.key, ends[i])
            block.in_a = 0 <= at <= start


def _quality(blocks: list[Block], flag: str) -> float:
    """How much article-like prose a candidate holds: prose characters minus link characters."""
    chosen = [b for b in blocks if getattr(b, flag)]
    prose = sum(len(b.key) for b in chosen if b.prose())
    # Links inside sentences are the article's; only link-heavy blocks are navigation.
    links = sum(b.link_chars for b in chosen if b.link_density > LINKY)
    return prose - links


def _vote(blocks: list[Block], a: str, b: str) -> tuple[list[Block], str]:
    """Choose the article's blocks (``in_b`` already set); returns them and a sentence
    saying how."""
    grams_a = _Grams(a)
    for block in blocks:
        block.in_a = grams_a.found(block.key)
    _align_short(blocks, a)
    if not a and not b:
        return [], "neither extractor found an article"
    agreed = [x for x in blocks if x.in_a and x.in_b and _WORDY.search(x.key) and len(x.key) >= 10]
    agreed_chars = sum(len(x.key) for x in agreed)
    smaller = min(len(a), len(b))
    qa, qb = _quality(blocks, "in_a"), _quality(blocks, "in_b")
    lopsided = min(qa, qb) < 0.2 * max(qa, qb)
    if not a or not b or agreed_chars < 0.5 * smaller or lopsided:
        if qa >= BIAS * qb:
            return [
                x for x in blocks if (x.in_a and len(x.key) >= SHORT) or _inside(x, blocks, "in_a")
            ], "trafilatura's text (the two voters disagreed; it read more like an article)"
        return [
            x for x in blocks if (x.in_b and len(x.key) >= SHORT) or _inside(x, blocks, "in_b")
        ], "the densest part of the page (the two voters disagreed; it read more like an article)"
    first = blocks.index(agreed[0])
    last = blocks.index(agreed[-1])
    kept: list[Block] = []
    # A quote standing in the article's own container (an embedded post, a pull quote) is
    # the article's, whole: its attribution line is no prose, and embeds are named like
    # the social widgets that elsewhere are clutter.
    containers = {x.el.getparent() for x in agreed}
    for block in blocks[first : last + 1]:
        if (
            (block.in_a and block.in_b)
            or ((block.in_a or block.in_b) and block.prose())
            or _quoted(block, containers)
        ):
            kept.append(block)
    # Past the agreed core, text in a box named like comments, a footer or a sidebar is not
    # the article, however well written.
    memo: dict = {}
    before: list[Block] = []
    for block in reversed(blocks[:first]):
        if (block.in_a or block.in_b) and block.prose() and not density.unlikely(block.el, memo):
            before.append(block)
        elif len(block.key) >= SHORT:
            break
    after: list[Block] = []
    for block in blocks[last + 1 :]:
        if _quoted(block, containers) or (
            (block.in_a or block.in_b) and block.prose() and not density.unlikely(block.el, memo)
        ):
            after.append(block)
        elif len(block.key) >= SHORT:
            break
    return _unique(
        [*reversed(before), *kept, *after]
    ), "both extractors' agreed text, with its edges voted"


QUOTE_MAX = 1200  # characters: a longer "quote" is a box of its own, not one embedded post


def _quoted(block: Block, containers: set) -> bool:
    """Whether a block is inside a ``<blockquote>`` that is a child of one of the
    article's containers."""
    el = block.el
    for _ in range(4):
        if el.tag == "blockquote":
            parent = el.getparent()
            return parent in containers and len(el.text_content()) <= QUOTE_MAX
        el = el.getparent()
        if el is None or el in containers:
            return False
    return False


def _unique(blocks: list[Block]) -> list[Block]:
    """Drop repeats of a block's text (galleries and sliders repeat captions)."""
    seen: set[str] = set()
    out = []
    for block in blocks:
        if block.key not in seen or len(block.key) < SHORT or (block.in_a and block.in_b):
            seen.add(block.key)
            out.append(block)
    return out


def _inside(block: Block, blocks: list[Block], flag: str) -> bool:
    """A short block counts for a lone candidate only between two long blocks it kept."""
    return False


def _image_range(kept: list[Block], blocks: list[Block]) -> tuple[int, int]:
    """Images from just after the last wordy block before the article (a lead figure sits
    between the headline and the first paragraph) to the last kept block."""
    lo = kept[0].order
    chosen = {id(b) for b in kept}
    for block in blocks:
        if block.order >= kept[0].order:
            break
        if id(block) not in chosen and len(block.key) >= SHORT:
            lo = block.order + 1
    return lo, kept[-1].order


def _assemble(
    doc: lxml.html.HtmlElement, kept: list[Block], blocks: list[Block], order: dict
) -> str:
    if not kept:
        return ""
    for block in kept:
        block.el.set(MARK, KEEP)
    lo, hi = _image_range(kept, blocks)
    marked = []
    for img in doc.iter("img"):
        if lo <= order.get(img, -1) <= hi:
            img.set(MARK, IMAGE)
            marked.append(img)
            # A kept picture keeps its caption, in place.
            figure = next((a for a in img.iterancestors() if a.tag == "figure"), None)
            if figure is not None:
                for caption in figure.iter("figcaption"):
                    caption.set(MARK, KEEP)
                    marked.append(caption)
            else:
                caption = _caption_box(img)
                if caption is not None:
                    caption.set(MARK, KEEP)
                    caption.set(CAPTION, "")
                    marked.append(caption)
    ancestor = _common_ancestor([b.el for b in kept])
    root = copy.deepcopy(ancestor)
    for block in kept:
        del block.el.attrib[MARK]
    for el in marked:
        el.attrib.pop(MARK, None)
        el.attrib.pop(CAPTION, None)
    _prune(root)
    for el in root.iter():
        if el.get(MARK) == KEEP:
            _drop_link_cards(el)
    for el in root.iter():
        if isinstance(el.tag, str):
            el.attrib.pop(MARK, None)
            if CAPTION in el.attrib:
                # A caption box outside <figure> is its picture's caption: say so.
                del el.attrib[CAPTION]
                el.tag = "figcaption"
    if root.tag in ("body", "html"):
        root.tag = "div"
    return etree.tostring(root, encoding="unicode", method="html", with_tail=False)


CAPTION = "data-samizdat-caption"


def _caption_box(img: etree._Element) -> etree._Element | None:
    """The caption-named box beside a picture that has no <figure>: the first one within
    the picture's two nearest containers, holding text and no picture of its own."""
    holder = img.getparent()
    for _ in range(2):
        if holder is None or holder.tag in ("body", "html", "article", "main"):
            return None
        for el in holder.iterdescendants():
            if not isinstance(el.tag, str) or el.tag in ("img", "a"):
                continue
            names = f"{el.get('class') or ''} {el.get('id') or ''} {el.get('itemprop') or ''}"
            if (
                _CAPTION_NAME.search(names)
                and 0 < len(_squash(el.text_content())) <= CAPTION_MAX
                and next(el.iter("img"), None) is None
            ):
                return el
        holder = holder.getparent()
    return None


CARD_LINKS = 3  # links in an inline box that holds nothing else: a card, not a sentence


def _drop_link_cards(block: etree._Element) -> None:
    """Inside a paragraph, an inline box of several links and nothing but links (a hover
    card of a person's latest stories, a "related" strip) is hidden until pointed at: it
    is not the sentence around it. Innermost first, so the link the card hangs on stays."""
    for el in reversed(list(block.iterdescendants())):
        if not isinstance(el.tag, str) or el.tag in BLOCK_TAGS or el.tag == "a":
            continue
        if sum(1 for _ in el.iter("a")) >= CARD_LINKS and not _WORD.search(_unlinked(el)):
            _remove_keep_tail(el)


def _unlinked(el: etree._Element) -> str:
    """An element's text outside the links in it."""
    if el.tag == "a":
        return ""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            parts.append(_unlinked(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _remove_keep_tail(el: etree._Element) -> None:
    """Remove an element but keep the text that follows it (the rest of the sentence)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    previous = el.getprevious()
    parent.remove(el)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def _common_ancestor(elements: list[etree._Element]) -> etree._Element:
    path = [*list(elements[0].iterancestors())[::-1], elements[0]]
    depth = len(path)
    for el in elements[1:]:
        chain = [*list(el.iterancestors())[::-1], el]
        common = 0
        while common < min(depth, len(chain)) and chain[common] is path[common]:
            common += 1
        depth = common
    return path[max(depth - 1, 0)]


def _prune(el: etree._Element) -> bool:
    """Drop what holds no kept block or image; returns whether el holds any."""
    mark = el.get(MARK)
    if mark == IMAGE:
        return True
    holds = mark == KEEP
    for child in list(el):
        if mark == KEEP and child.tag not in BLOCK_TAGS:
            continue  # the inline content of a kept block is part of it
        if _prune(child):
            holds = True
        else:
            _remove(child)
    if holds and mark != KEEP and el.tag in BLOCK_TAGS:
        # An unkept container keeps its kept children but not its own loose text.
        el.text = None
        for child in el:
            child.tail = None
    return holds


def _remove(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    parent.remove(el)
    del tail  # loose text beside a dropped element belongs to no kept block


def _titles(doc: lxml.html.HtmlElement) -> list[str]:
    found = [doc.findtext(".//title") or ""]
    found += doc.xpath("//meta[@property='og:title' or @name='twitter:title']/@content")
    return [_squash(t) for t in found if t and len(_squash(t)) >= SHORT]


def _is_title(key: str, titles: list[str]) -> bool:
    return len(key) >= SHORT and any(
        key == t or (key in t and len(key) > 0.6 * len(t)) for t in titles
    )


SCOPE_PROSE = 0.9  # trafilatura reads the smallest part of the page holding this much prose


def _scope(doc: lxml.html.HtmlElement, blocks: list[Block]) -> etree._Element:
    """What trafilatura reads: the smallest ancestor of the density pick that holds most
    of the page's prose (the whole page when the pick is empty or the prose is spread).

    trafilatura's cost grows with the tree it cleans; the navigation, footers and link
    farms outside that part hold no prose for it to find, so it needn't read them.
    """
    prose: dict[etree._Element, int] = {}
    total = 0
    for block in blocks:
        if block.prose():
            size = len(block.key)
            total += size
            el = block.el
            while el is not None:
                prose[el] = prose.get(el, 0) + size
                el = el.getparent()
    picked = [b.el for b in blocks if b.in_b]
    if not picked or not total:
        return doc
    el: etree._Element | None = _common_ancestor(picked)
    while el is not None and prose.get(el, 0) < SCOPE_PROSE * total:
        el = el.getparent()
    if el is None or el.tag in ("html", "body"):
        return doc
    return el


def extract_generic(doc: lxml.html.HtmlElement) -> tuple[str, str]:
    """Body HTML of the page's article and a sentence on how it was chosen."""
    page = _blocks(doc)
    blocks, order = page.blocks, page.order
    density.vote(blocks, page.text, page.links)
    candidate = trafilatura_candidate(_scope(doc, blocks))
    a = _squash(candidate.text)
    b = "".join(x.key for x in blocks if x.in_b)
    titles = _titles(doc)
    # The title is shown above the body by every renderer: it is not body text.
    blocks = [x for x in blocks if x.el.tag != "h1" and not _is_title(x.key, titles)]
    # A paragraph seen before is a copy (print/AMP duplicates, slideshows): never an anchor.
    # A repeat beside its first copy, in the same container, is the article's own (a meal
    # plan or a recipe repeats its lines); a copy elsewhere on the page is not.
    seen: dict[str, etree._Element | None] = {}
    unique = []
    for block in blocks:
        parent = block.el.getparent()
        first = seen.get(block.key, False)
        if len(block.key) < 40 or first is False or first is parent:
            unique.append(block)
            seen.setdefault(block.key, parent)
    blocks = unique
    kept, how = _vote(blocks, a, b)
    kept = [x for x in kept if not _boilerplate(x)]
    if how.startswith("trafilatura") and sum(len(x.key) for x in kept) < 0.5 * len(a):
        # The page's blocks don't line up with trafilatura's text (it rewrote it): take
        # its own HTML.
        return candidate.html(), how
    return _assemble(doc, kept, blocks, order), how
