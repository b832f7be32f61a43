"""Page ids (SPEC §3)."""

from __future__ import annotations

import pytest

from samizdat.ids import page_id, short_hash


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.epochtimes.com/gb/23/5/26/n14004562.htm", "n14004562"),
        ("https://a.example/news/some-story_2.html", "some-story_2"),
        ("https://a.example/news/v1.2.html", "v1.2"),
        ("https://a.example/news/story/", "story"),
        ("https://a.example/news/%41bc.htm", "Abc"),
    ],
)
def test_last_segment_without_extension(url: str, expected: str) -> None:
    assert page_id(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/新闻/报道.html",  # not letters/digits/._- only
        "https://a.example/a/..",
        "https://a.example/a/%2E%2E",
        "https://a.example/a/%2Fetc%2Fpasswd",
        "https://a.example/",
        "https://a.example/a/" + "x" * 81 + ".htm",
        "https://a.example/a/.hidden",
    ],
)
def test_unsafe_segments_get_a_hash(url: str) -> None:
    pid = page_id(url)
    assert pid == short_hash(url)
    assert "/" not in pid and pid not in (".", "..")


def test_collision_gets_the_hash_appended() -> None:
    first = page_id("https://a.example/x/n1.htm")
    second = page_id("https://a.example/y/n1.htm", taken={first})
    assert first == "n1"
    assert second == "n1-" + short_hash("https://a.example/y/n1.htm")
