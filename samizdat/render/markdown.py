"""Cleaned body HTML to GitHub-flavoured Markdown, and the escaping every renderer shares.

The body arrives sanitised (`samizdat.clean`); this module only has to say the same thing in
Markdown, with one promise on top: text that came from a source stays text. A title such as
`*x* [y](javascript:…) <img onerror=…>` must not become emphasis, a link, an image or a tag in
any renderer the publication is read through (GitHub, GitLab, Gitea, Codeberg).

Conversion is `markdownify` with a subclass that overrides only what GitHub needs differently.

Figures with captions are written as an image paragraph followed by an italic caption paragraph,
not as `<figure>`/`<figcaption>` or `<p align=center>`: GitHub's sanitiser drops `<figure>`,
raw HTML is optional in Gitea and in many viewers, and HTML blocks switch off Markdown (and our
Markdown escaping) inside them. Two Markdown paragraphs render the same everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

import lxml.html
from bs4 import BeautifulSoup, Tag
from lxml.etree import ParserError
from markdownify import ATX, BACKSLASH, MarkdownConverter, chomp

# Characters that mean something anywhere in a line. `$` is GitHub's inline math.
_ALWAYS = re.compile(r"([\\`*_\[\]<>|~&$])")
# Block markers that only count at the start of a line. A text node may land at the start of
# a line (after a <br>, in a list item), so its own start counts as one, as in markdownify.
_HASHES = re.compile(r"(^|\s)(#{1,6})(?=\s|$)")
_RULES = re.compile(r"(^|\s)([-+=]+)(?=\s|$)")  # bullets, thematic breaks, setext underlines
_ORDERED = re.compile(r"(^|\s)(\d{1,9})([.)])(?=\s|$)")
# GitHub turns bare addresses into links ("autolink literals"). An escaped `:` or `.` stops the
# scheme and www forms (checked with cmark-gfm, GitHub's parser); e-mail addresses are found
# after escapes are resolved, so only an invisible WORD JOINER after the `@` stops them.
_SCHEME = re.compile(r"://")
_WWW = re.compile(r"(?i)\b(www)\.")
_EMAIL_AT = re.compile(r"(?<=[\w.+-])@(?=[\w-])")
_WORD_JOINER = "\u2060"
_SPACE = re.compile(r"\s+")
_HARD_BREAKS = re.compile(r"(?:\s*\\\n\s*)+")
_BACKTICKS = re.compile(r"`+")

# Characters left as they are in link and image destinations; everything else (spaces,
# parentheses, <, >, quotes, backslashes, non-ASCII) is percent-encoded, so no destination can
# end early or carry Markdown.
_URL_SAFE = "/?:@&=+$,;-_.!~*'#%"
_ENTITY_AMP = re.compile(r"&(?=#?\w+;)")
_LINK_SCHEMES = {"http", "https", "mailto"}
_IMAGE_SCHEMES = {"http", "https"}


def escape_text(text: str) -> str:
    """Markdown for literal text: whatever it holds renders as these characters (plus an
    invisible word joiner after the `@` of an e-mail address)."""
    # Each pattern needs a character that plain prose seldom has: the `in` tests skip a pass
    # over the text for most of them (rendering every page of a full build goes through here).
    text = _ALWAYS.sub(r"\\\1", text)
    if "#" in text:
        text = _HASHES.sub(r"\1\\\2", text)
    if "-" in text or "+" in text or "=" in text:
        text = _RULES.sub(r"\1\\\2", text)
    if "." in text or ")" in text:
        text = _ORDERED.sub(r"\1\2\\\3", text)
    if "://" in text:
        text = _SCHEME.sub(r"\\://", text)
    if "." in text:
        text = _WWW.sub(r"\1\\.", text)
    if "@" in text:
        text = _EMAIL_AT.sub("@" + _WORD_JOINER, text)
    return text


def escape_inline(text: str) -> str:
    """`escape_text` for one line (a title, a caption, link text): whitespace becomes one space."""
    return escape_text(_SPACE.sub(" ", text).strip())


def url(address: str) -> str:
    """An address made safe to put inside `(…)` or `<…>` in Markdown."""
    # `&amp;` in a destination would be read as an entity: such an `&` is encoded too.
    return _ENTITY_AMP.sub("%26", quote(address.strip(), safe=_URL_SAFE))


def link(text: str, address: str) -> str:
    """`[text](address)` with the text escaped and the address encoded."""
    return f"[{escape_inline(text)}]({url(address)})"


def is_relative(address: str) -> bool:
    """True for a path (no scheme, no host), such as `images/ab.jpg` or `README.md`."""
    parts = urlsplit(address.strip())
    return not parts.scheme and not parts.netloc and not address.strip().startswith("#")


def image_src(address: str | None, root: str) -> str | None:
    """An image address for a page: absolute http(s) kept, paths below the output root prefixed
    with `root`; anything else (data:, javascript:, empty) is None."""
    address = (address or "").strip()
    if not address:
        return None
    parts = urlsplit(address)
    if parts.scheme:
        return url(address) if parts.scheme.lower() in _IMAGE_SCHEMES else None
    if parts.netloc:  # //host/path
        return url("https:" + address)
    return url(root + address.lstrip("/"))


def image(alt: str, src: str) -> str:
    """`![alt](src)`; `src` must come from `image_src`."""
    return f"![{escape_inline(alt)}]({src})"


def emphasis(text: str, *, strong: bool = False, paragraph: bool = False) -> str:
    """`*text*` (or `**text**`) for Markdown that is already escaped.

    CommonMark only opens or closes emphasis next to punctuation when the other side is space,
    which Chinese text seldom has (`中文**“引文”**中文` stays literal). When the text starts or
    ends with punctuation the HTML tag says it instead; GitHub, GitLab and Gitea all allow it.
    A whole `paragraph` has line ends on both sides, where the marks always work."""
    if not text:
        return ""
    if not paragraph and (_is_punctuation(text[0]) or _is_punctuation(text[-1])):
        tag = "strong" if strong else "em"
        return f"<{tag}>{text}</{tag}>"
    mark = "**" if strong else "*"
    return f"{mark}{text}{mark}"


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS"


def _one_line(markdown: str) -> str:
    return _SPACE.sub(" ", _HARD_BREAKS.sub(" ", _trim_breaks(markdown))).strip()


def _trim_breaks(markdown: str) -> str:
    """Drop hard breaks (`\\` + newline) at the start or end of a block: there they would show
    as a lone backslash. An odd run of trailing backslashes ends in a break; an even run is
    escaped backslashes from the text."""
    markdown = markdown.strip()
    while (len(markdown) - len(markdown.rstrip("\\"))) % 2:
        markdown = markdown[:-1].rstrip()
    while markdown.startswith("\\\n"):
        markdown = markdown[2:].lstrip()
    return markdown


class _Converter(MarkdownConverter):
    """markdownify, where GitHub needs something else: escaping, addresses, code, figures."""

    def __init__(self, *, root: str, heading_shift: int) -> None:
        super().__init__(
            heading_style=ATX,
            bullets="-",
            newline_style=BACKSLASH,  # trailing double spaces vanish in editors; `\` does not
            autolinks=False,
            escape_misc=False,  # escape() below does all of it
            # Source line breaks are spaces in HTML; one line per paragraph also means no source
            # text can land at the start of a line except after a <br>.
            wrap=True,
            wrap_width=None,
            bs4_options="lxml",
        )
        self.root = root
        self.heading_shift = heading_shift

    def escape(self, text: str, parent_tags: set[str]) -> str:
        return escape_text(text) if text else ""

    def convert_hN(self, n: int, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_inline" in parent_tags:
            return text
        text = _one_line(text)
        if not text:
            return ""
        level = max(1, min(6, n + self.heading_shift))
        return f"\n\n{'#' * level} {text}\n\n"

    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_noformat" in parent_tags:
            return text
        prefix, suffix, text = chomp(text)
        if not text:
            return ""
        href = str(el.get("href") or "").strip()
        parts = urlsplit(href)
        # Relative hrefs are already relative to the page (samizdat.clean.relink made them so).
        if not href or (parts.scheme and parts.scheme.lower() not in _LINK_SCHEMES):
            return prefix + text + suffix
        return f"{prefix}[{text}]({url(href)}){suffix}"

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        alt = str(el.get("alt") or "")
        src = image_src(str(el.get("src") or ""), self.root)
        if src is None:
            return escape_inline(alt)
        return image(alt, src)

    def _emphasis(self, text: str, parent_tags: set[str], *, strong: bool) -> str:
        if "_noformat" in parent_tags:
            return text
        prefix, suffix, text = chomp(text)
        return prefix + emphasis(text, strong=strong) + suffix if text else ""

    def convert_em(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self._emphasis(text, parent_tags, strong=False)

    def convert_strong(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self._emphasis(text, parent_tags, strong=True)

    convert_i = convert_em
    convert_b = convert_strong

    def convert_code(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_noformat" in parent_tags and "pre" in parent_tags:
            return text
        # Block structure is parsed before code spans: a newline in one could start a heading
        # or a list, so the span stays on one line. In a table a `|` ends the cell even here.
        text = _SPACE.sub(" ", text).strip()
        if not text:
            return ""
        if parent_tags & {"td", "th"}:
            text = text.replace("|", "\\|")
        longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
        fence = "`" * (longest + 1)
        if longest or text.startswith("`") or text.endswith("`"):
            text = f" {text} "
        return f"{fence}{text}{fence}"

    convert_kbd = convert_code
    convert_samp = convert_code

    def convert_pre(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_inline" in parent_tags:
            return self.convert_code(el, text, parent_tags - {"pre", "_noformat"})
        text = text.strip("\n")
        if not text.strip():
            return ""
        longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
        fence = "`" * max(
            3, longest + 1
        )  # a fence longer than any run inside cannot be closed early
        return f"\n\n{fence}\n{text}\n{fence}\n\n"

    def convert_p(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_inline" in parent_tags:
            return " " + _one_line(text) + " "
        text = _trim_breaks(text)
        return f"\n\n{text}\n\n" if text else ""

    def convert_li(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return str(super().convert_li(el, _trim_breaks(text), parent_tags))

    def convert_figure(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = text.strip()
        return f"\n\n{text}\n\n" if text else ""

    def convert_figcaption(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = _one_line(text)
        return f"\n\n{emphasis(text, paragraph=True)}\n\n" if text else ""

    def convert_dt(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        # GFM has no definition lists: the term becomes a strong paragraph, the definition a
        # plain one.
        text = _one_line(text)
        return f"\n\n{emphasis(text, strong=True, paragraph=True)}\n\n" if text else ""

    def convert_dd(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = text.strip()
        return f"\n\n{text}\n\n" if text else ""

    def convert_q(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return f"“{text}”"


def _heading_shift(soup: BeautifulSoup) -> int:
    """Levels to add so that the body's top heading sits below the `###` title (h4), keeping
    the relative levels. `clean` already shifts; bodies from elsewhere may not be."""
    levels = [int(h.name[1]) for h in soup.find_all(re.compile(r"^h[1-6]$"))]
    return max(0, 4 - min(levels)) if levels else 0


def _lift_table_captions(soup: BeautifulSoup) -> None:
    """A <caption> before the rows would stop markdownify from seeing the header row: it goes
    above the table as a paragraph of its own."""
    for caption in soup.find_all("caption"):
        table = caption.find_parent("table")
        caption.extract()
        if table is not None and caption.get_text(strip=True):
            paragraph = soup.new_tag("p")
            emphasis_tag = soup.new_tag("em")
            emphasis_tag.extend(list(caption.contents))
            paragraph.append(emphasis_tag)
            table.insert_before(paragraph)


def body_to_markdown(html: str, *, root: str) -> str:
    """GitHub-flavoured Markdown for a cleaned body.

    `root` prefixes image addresses that are paths below the output root: the way from the
    page's folder to the root (`"../../"` for `pages/<channel>/`), or `image_base_url + "/"`.
    Link hrefs that are paths are kept: `clean.relink` has made them relative to the page."""
    if not html or not html.strip():
        return ""
    fast = _simple_markdown(html, root)
    if fast is not None:
        return fast
    soup = BeautifulSoup(html, "lxml")
    _lift_table_captions(soup)
    converter = _Converter(root=root, heading_shift=_heading_shift(soup))
    markdown: Any = converter.convert_soup(soup)
    return _tidy_spaces(str(markdown)).strip()


# The fast path: most bodies are paragraphs of text with links, emphasis and line breaks. For
# those, walking lxml's tree with the same conversion methods gives markdownify's output
# (tests/test_render.py compares the two on many bodies) at a tenth of the cost: building the
# BeautifulSoup tree and markdownify's generic walk were most of a full build's time. Any other
# shape (headings, lists, tables, images, nesting) goes through markdownify itself.
_INLINE = frozenset({"a", "strong", "b", "em", "i", "br"})
_ALL_WHITESPACE = re.compile(r"[\t \r\n]+")  # markdownify's re_all_whitespace
_EXTRACT_NEWLINES = re.compile(r"^(\n*)((?:.*[^\n])?)(\n*)$", flags=re.DOTALL)
_PARENTS = frozenset({"[document]", "html", "body", "p"})


@cache
def _converter(root: str) -> _Converter:
    return _Converter(root=root, heading_shift=0)


def _simple_markdown(html: str, root: str) -> str | None:
    """markdownify's Markdown for a body of plain paragraphs, or None for any other shape."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return None
    body = doc.find("body")
    if body is None or len(doc) != 1 or (body.text or "").strip():
        return None
    converter = _converter(root)
    blocks = []
    for p in body:
        if p.tag != "p" or (p.tail and p.tail.strip()):
            return None
        if len(p):
            text = _paragraph(converter, p)
            if text is None:
                return None
        else:  # text alone, the commonest paragraph: what _paragraph gives for it, directly
            text = _text(p.text, first=True, last=True) if p.text else ""
        # convert_p's block, "\n\n" + text + "\n\n", collapsed with its neighbours as
        # markdownify does: joined by one blank line.
        text = _trim_breaks(text)
        if text:
            blocks.append(text)
    return _tidy_spaces("\n\n".join(blocks)).strip()


def _paragraph(converter: _Converter, p: Any) -> str | None:
    """The converted inside of a <p> whose children are text and childless inline elements."""
    nodes: list[Any] = [p.text] if p.text else []
    for child in p:
        if child.tag not in _INLINE or len(child) or (child.tag == "br" and child.text):
            return None
        nodes.append(child)
        if child.tail:
            nodes.append(child.tail)
    parts = []
    last = len(nodes) - 1
    tags = _PARENTS | {"p"}
    for n, node in enumerate(nodes):
        if isinstance(node, str):
            parts.append(_text(node, first=n == 0, last=n == last))
            continue
        inner = converter.escape(_ALL_WHITESPACE.sub(" ", node.text), tags) if node.text else ""
        convert = getattr(converter, f"convert_{node.tag}")
        parts.append(convert(node, inner, parent_tags=tags))
    return _collapse(parts)


def _text(raw: str, *, first: bool, last: bool) -> str:
    """A text node as `_Converter` converts it in a paragraph."""
    if not raw.strip() and (first or last):
        return ""  # markdownify skips whitespace at the edges of a block
    if "\n" in raw or "\t" in raw or "\r" in raw or "  " in raw:  # else nothing to collapse
        raw = _ALL_WHITESPACE.sub(" ", raw)
    text = escape_text(raw)
    if first:
        text = text.lstrip(" \t\r\n")
    if last:
        text = text.rstrip()
    return text


def _collapse(strings: list[str]) -> str:
    """Join converted siblings as markdownify does: at most two newlines where they meet."""
    out = [""]
    for string in strings:
        if not string:
            continue
        match = _EXTRACT_NEWLINES.match(string)
        assert match is not None
        leading, content, trailing = match.groups()
        if out[-1] and leading:
            previous = out.pop()
            leading = "\n" * min(2, max(len(previous), len(leading)))
        out += [leading, content, trailing]
    return "".join(out)


_FENCE = re.compile(r"^\s*(`{3,})")
_INNER_SPACES = re.compile(r"(?<=\S) {2,}(?=\S)")


def _tidy_spaces(markdown: str) -> str:
    """One space where source whitespace and an inline element's own space met (`a  [b](c)`);
    indentation and the insides of fenced code are left alone."""
    if "  " not in markdown:
        return markdown  # nothing to tidy (most pages)
    lines, fence = [], ""
    for line in markdown.split("\n"):
        match = _FENCE.match(line)
        if fence:
            if match and len(match.group(1)) >= len(fence) and not line.strip().strip("`"):
                fence = ""
        elif match:
            fence = match.group(1)
        else:
            line = _INNER_SPACES.sub(" ", line)
        lines.append(line)
    return "\n".join(lines)
