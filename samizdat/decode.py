"""Turn the bytes of an HTML page into text, whatever charset the page claims.

The order is the browser's, hardened against the lies that Chinese news sites tell:

1. a byte-order mark wins outright;
2. the HTTP header's charset, then the page's own ``<meta>`` declaration, are tried in turn and
   trusted only if they decode the bytes strictly *and* the result is not mojibake;
3. bytes that are valid UTF-8 are UTF-8: a GBK or Latin page is practically never valid UTF-8 by
   accident, so this check settles both "utf-8 declared as gbk" and undeclared UTF-8 cheaply;
4. a declaration that decodes with a handful of broken bytes (a truncated character, one stray
   byte) is still believed, since real pages are seldom perfectly clean;
5. otherwise charset-normalizer guesses; the last resort is UTF-8 with replacement characters.

Declared labels are widened to the superset that real pages actually use (gb2312 -> gb18030,
big5 -> big5hkscs/cp950, iso-8859-1 -> windows-1252, as WHATWG and browsers do).

Feeds are not decoded here: feedparser takes bytes and handles XML encodings itself.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer
from charset_normalizer.md import mess_ratio

__all__ = ["decode_html"]

# How far into the page to look for <meta charset>. Browsers stop at 1 KB, but Chinese portals
# often put kilobytes of inline script before it; a regex over 32 KB costs microseconds.
META_SCAN_BYTES = 32 * 1024

# A declaration that decodes with at most this share of broken characters (relative to the
# non-ASCII bytes) is trusted anyway: a cut-off last character must not discard a correct label.
TOLERATED_ERROR_RATIO = 0.005

# charset-normalizer's own default: above this "mess" ratio a decoding is considered garbage.
MESS_THRESHOLD = 0.2

# How much of a decoded page is stripped of markup to find that sample: bounds the cost on huge
# pages, and a wrong decoding shows in the first ~100 KB as surely as anywhere.
MESS_SCAN_CHARS = 100_000

# Tried leniently when nothing else fits: the encodings of the sites this tool mirrors.
FALLBACK_CODECS = ("gb18030", "big5hkscs")

# Characters of visible text fed to the mojibake check; enough to judge, cheap to compute.
MESS_SAMPLE_CHARS = 4000

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Python codec name (after codecs.lookup) -> the codecs to try, widest first.
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "gb18030": ("gb18030",),
    "hz": ("gb18030",),  # HZ is ASCII-armoured GB2312; such labels are really GBK in practice
    "big5": ("big5hkscs", "cp950"),
    "big5hkscs": ("big5hkscs", "cp950"),
    "cp950": ("cp950", "big5hkscs"),
    "iso8859-1": ("cp1252",),  # WHATWG: iso-8859-1 and us-ascii mean windows-1252
    "ascii": ("cp1252",),
    "iso8859-9": ("cp1254",),
    "iso8859-11": ("cp874",),
    "tis-620": ("cp874",),
    "euc_kr": ("cp949",),
    "shift_jis": ("cp932",),
    # A <meta> can't truthfully say UTF-16 (it would not be readable as ASCII): WHATWG says UTF-8.
    "utf-16": ("utf-8",),
    "utf-16-le": ("utf-8",),
    "utf-16-be": ("utf-8",),
}

# Labels that browsers know (WHATWG Encoding) and Python's codec registry does not.
_LABEL_ALIASES: dict[str, str] = {
    "x-gbk": "gbk",
    "gb_2312-80": "gb2312",
    "gb_2312": "gb2312",
    "csgb2312": "gb2312",
    "iso-ir-58": "gb2312",
    "x-x-big5": "big5",
    "csbig5": "big5",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "ms_kanji": "shift_jis",
    "x-euc-jp": "euc_jp",
    "unicode-1-1-utf-8": "utf-8",
}

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:+-]+)""", re.IGNORECASE)
_META_TAG = re.compile(rb"<meta\s[^>]*>", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:+-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:+-]+)""")
_NOT_TEXT = re.compile(r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<[^>]*>", re.I | re.S)
_SPACES = re.compile(r"\s+")


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode an HTML page. Never raises: undecodable bytes become U+FFFD at worst."""
    if not body:
        return ""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")

    candidates = _declared_codecs(body, content_type)
    non_ascii = not body.isascii()
    utf8_text = _strict(body, "utf-8") if non_ascii else None

    for codec in candidates:
        if codec == "utf-8":
            if not non_ascii:
                return body.decode("ascii")
            if utf8_text is not None:
                return utf8_text
            continue  # declared UTF-8 but is not: probably GBK, try the next clue
        if utf8_text is not None:
            return utf8_text  # a non-UTF-8 label on valid UTF-8 bytes is the lie
        text = _strict(body, codec)
        if text is not None and not _is_mojibake(text):
            return text

    if not non_ascii:
        return body.decode("ascii")
    if utf8_text is not None:
        return utf8_text

    for codec in candidates:
        text = body.decode(codec, errors="replace")
        if _few_errors(text, body) and not _is_mojibake(text):
            return text

    guessed = _detect(body, rejected=candidates)
    if guessed is not None:
        return guessed
    # charset-normalizer gives up on pages with a few broken multi-byte characters; for the
    # Chinese sites this tool is for, a lenient GBK or Big5 reading is then the best bet.
    for codec in FALLBACK_CODECS:
        text = body.decode(codec, errors="replace")
        if _few_errors(text, body) and not _is_mojibake(text):
            return text
    return body.decode(candidates[0] if candidates else "utf-8", errors="replace")


def _declared_codecs(body: bytes, content_type: str | None) -> list[str]:
    """Codecs named by the HTTP header, then the page itself, widened and de-duplicated."""
    found: list[str] = []
    if content_type:
        match = _CHARSET_PARAM.search(content_type)
        if match:
            found.extend(_widen(match.group(1), in_page=False))
    head = body[:META_SCAN_BYTES]
    xml = _XML_DECL.match(head)
    if xml:
        found.extend(_widen(xml.group(1).decode("ascii")))
    for tag in _META_TAG.finditer(head):
        match = _META_CHARSET.search(tag.group(0))
        if match:
            found.extend(_widen(match.group(1).decode("ascii")))
            break  # the first declaration is the one browsers use
    return list(dict.fromkeys(found))


def _widen(label: str, *, in_page: bool = True) -> tuple[str, ...]:
    """Map a charset label to the Python codecs to try; unknown labels map to nothing."""
    label = label.strip().lower()
    try:
        name = codecs.lookup(_LABEL_ALIASES.get(label, label)).name
    except LookupError:
        return ()
    if name == "utf-8-sig":
        return ("utf-8",)
    if name.startswith("utf-16") and not in_page:
        return (name,)  # only an HTTP header can truthfully say UTF-16
    return _SUPERSETS.get(name, (name,))


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _few_errors(text: str, body: bytes) -> bool:
    non_ascii_bytes = len(body) - len(body.decode("ascii", errors="ignore"))
    return text.count("\ufffd") <= max(1.0, non_ascii_bytes * TOLERATED_ERROR_RATIO)


def _is_mojibake(text: str) -> bool:
    """True when the visible text looks like a wrong decoding (charset-normalizer's mess check).

    Only the text between tags is judged: markup is ASCII and would dilute the ratio.
    """
    if text.isascii():
        return False
    visible = _SPACES.sub(" ", _NOT_TEXT.sub(" ", text[:MESS_SCAN_CHARS]))
    sample = _non_ascii_window(visible, MESS_SAMPLE_CHARS)
    return mess_ratio(sample, MESS_THRESHOLD) >= MESS_THRESHOLD


def _non_ascii_window(text: str, size: int) -> str:
    """The `size` characters starting a little before the first non-ASCII character."""
    for index, char in enumerate(text):
        if not char.isascii():
            start = max(0, index - 200)
            return text[start : start + size]
    return text[:size]


def _detect(body: bytes, rejected: list[str]) -> str | None:
    """charset-normalizer's first guess that also passes our mojibake check on visible text.

    Its own pre-emptive reading of the <meta> is off: that declaration was already tried and
    rejected. Its chaos measure runs on raw 512-byte chunks, where ASCII markup hides a wrong
    guess, so each guess is re-checked on the page's text.
    """
    matches = charset_normalizer.from_bytes(
        body, cp_exclusion=rejected or None, preemptive_behaviour=False
    )
    for match in matches:
        for codec in _widen(match.encoding):
            text = _strict(body, codec)
            if text is not None and not _is_mojibake(text):
                return text
    return None
