"""decode_html on fixture pages that tell the truth, lie, or say nothing about their charset."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import charset_normalizer
import pytest

from samizdat.decode import decode_html

DATA = Path(__file__).parent / "data" / "encodings"


def page(name: str) -> bytes:
    return (DATA / name).read_bytes()


def assert_clean(text: str, *expected: str) -> None:
    assert "\ufffd" not in text
    for fragment in expected:
        assert fragment in text


@pytest.fixture
def no_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if charset-normalizer runs: a page whose declaration is right must not need it."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("charset-normalizer ran on a correctly declared page")

    monkeypatch.setattr(charset_normalizer, "from_bytes", refuse)


def test_gbk_with_correct_meta(no_detection: None) -> None:
    assert_clean(decode_html(page("gbk-meta.html")), "朱镕基谈改革", "国务院前总理朱镕基")


def test_gbk_without_declaration_is_detected() -> None:
    assert_clean(decode_html(page("gbk-undeclared.html")), "基础设施投资", "固定资产投资同比增长")


def test_gbk_declared_utf8_is_not_trusted() -> None:
    assert_clean(decode_html(page("gbk-declared-utf8.html")), "基础设施投资", "中小企业发展")


def test_gbk_declared_utf8_in_header_too() -> None:
    text = decode_html(page("gbk-declared-utf8.html"), "text/html; charset=UTF-8")
    assert_clean(text, "基础设施投资")


def test_gb2312_declaration_reads_gbk_only_characters(no_detection: None) -> None:
    # 镕 and 喆 are outside GB2312: a strict gb2312 codec would fail on them.
    assert_clean(decode_html(page("gb2312-with-gbk-chars.html")), "朱镕基", "陶喆演唱会")


def test_big5_declaration_reads_hkscs_characters(no_detection: None) -> None:
    assert_clean(decode_html(page("big5hkscs-declared-big5.html")), "行政院通過總預算案", "咗㗎")


def test_big5_page_declared_gb2312_is_mojibake_and_redetected() -> None:
    # Big5 bytes decode as GB18030 without a single error, into nonsense; only the mess
    # check can tell.
    assert_clean(decode_html(page("big5-declared-gb2312.html")), "行政院通過總預算案", "立法院")


def test_utf8_bom_wins_over_meta(no_detection: None) -> None:
    text = decode_html(page("utf8-bom-declared-gbk.html"), "text/html; charset=gbk")
    assert_clean(text, "朱镕基谈改革")
    assert not text.startswith("\ufeff")


def test_utf8_declared_gbk_is_utf8(no_detection: None) -> None:
    assert_clean(decode_html(page("utf8-declared-gbk.html")), "朱镕基谈改革", "陶喆")


def test_header_charset_overrides_meta(no_detection: None) -> None:
    body = page("latin9-declared-cp1252.html")  # ISO-8859-15 bytes: 0xA4 is €
    assert_clean(decode_html(body, "text/html; charset=ISO-8859-15"), "costs 5 € and")
    # Without the header the (wrong) meta is all there is, and 0xA4 is ¤ in windows-1252.
    assert "costs 5 ¤ and" in decode_html(body)


def test_header_gbk_overrides_wrong_meta(no_detection: None) -> None:
    text = decode_html(page("gbk-declared-utf8.html"), 'text/html; charset="gbk"')
    assert_clean(text, "基础设施投资")


def test_iso_8859_1_declaration_means_windows_1252(no_detection: None) -> None:
    text = decode_html(page("cp1252-declared-latin1.html"))
    assert_clean(text, "The café’s owner", "“soufflé”", "1998 — long", "€12", "charm…")
    assert not any("\x80" <= char <= "\x9f" for char in text)  # no C1 controls from latin-1


def test_header_label_without_meta(no_detection: None) -> None:
    body = "<p>朱镕基</p>".encode("gbk")
    assert decode_html(body, "text/html; charset=gb2312") == "<p>朱镕基</p>"


@pytest.mark.parametrize(
    ("label", "encoding"),
    [
        ("x-gbk", "gbk"),
        ("GB_2312-80", "gbk"),
        ("cp936", "gbk"),
        ("x-x-big5", "big5"),
        ("Big5-HKSCS", "big5hkscs"),
        ("US-ASCII", "cp1252"),
        ("latin1", "cp1252"),
    ],
)
def test_browser_labels(no_detection: None, label: str, encoding: str) -> None:
    words = "Café – “naïve” …" if encoding == "cp1252" else "行政院總預算案"
    body = f'<meta charset="{label}"><p>{words}</p>'.encode(encoding)
    assert decode_html(body) == f'<meta charset="{label}"><p>{words}</p>'


def test_ascii_and_empty() -> None:
    assert decode_html(b"") == ""
    assert decode_html(b"<p>plain</p>", "text/html") == "<p>plain</p>"


def test_unknown_label_is_ignored() -> None:
    body = '<meta charset="x-klingon"><p>朱镕基谈改革，国务院前总理</p>'.encode()
    assert_clean(decode_html(body, "text/html; charset=nonsense"), "朱镕基谈改革")


def test_truncated_last_character_keeps_declaration() -> None:
    # A page cut mid-character is still GBK: one broken byte must not discard the label.
    body = page("gbk-meta.html") + "朱".encode("gbk")[:1]
    text = decode_html(body)
    assert "朱镕基谈改革" in text
    assert text.count("\ufffd") == 1


def test_stray_byte_in_utf8_page_keeps_declaration() -> None:
    body = page("utf8-declared-gbk.html").replace(b'charset="gbk"', b'charset="utf-8"')
    body = body.replace("陶喆".encode(), "陶喆".encode() + b"\xff")
    text = decode_html(body)
    assert "朱镕基谈改革" in text
    assert text.count("\ufffd") == 1


def test_garbage_never_raises() -> None:
    rng = random.Random(7)
    for size in (1, 2, 3, 17, 512, 4096):
        for label in (
            None,
            "text/html; charset=utf-8",
            "text/html; charset=gbk",
            "x; charset=big5",
        ):
            body = bytes(rng.randrange(256) for _ in range(size))
            assert isinstance(decode_html(body, label), str)
    assert isinstance(decode_html(b"\xff\xfe\x00", None), str)  # a bare UTF-16 BOM, odd length


def test_utf16_bom() -> None:
    body = "\ufeff<p>朱镕基</p>".encode("utf-16-le")
    assert decode_html(body) == "<p>朱镕基</p>"


# --- the shared corpus: real pages with ground-truth text ---------------------------------------


def corpus_dir() -> Path | None:
    """shared/corpus/dev beside the repository (as laid out for sessions and CI), if present."""
    configured = os.environ.get("SAMIZDAT_CORPUS")
    candidates = [Path(configured)] if configured else []
    root = Path(__file__).resolve().parent.parent
    candidates += [root.parent / "shared" / "corpus" / "dev", root / "shared" / "corpus" / "dev"]
    return next((path for path in candidates if path.is_dir()), None)


def decoded_right(text: str, truth: str) -> bool:
    """Most of the ground-truth characters (counted with repeats) appear in the decoded page.

    Only non-ASCII characters are counted too, separately: ASCII survives any wrong decoding.
    """
    want = Counter(char for char in truth if not char.isspace())
    have = Counter(text)
    found = sum(min(count, have[char]) for char, count in want.items())
    wide = {char: count for char, count in want.items() if not char.isascii()}
    wide_found = sum(min(count, have[char]) for char, count in wide.items())
    return found >= 0.9 * sum(want.values()) and wide_found >= 0.9 * sum(wide.values())


def test_corpus_pages_decode_right() -> None:
    root = corpus_dir()
    if root is None:
        pytest.skip("shared corpus not found (set SAMIZDAT_CORPUS)")
    pages = sorted(root.glob("*/*.html"))
    wrong = [
        path.name
        for path in pages
        if not decoded_right(
            decode_html(path.read_bytes()),
            json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["body"],
        )
    ]
    assert len(pages) >= 100
    assert wrong == []
