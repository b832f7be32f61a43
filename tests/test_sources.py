"""Sources: RSS 0.9x/1.0/2.0 and Atom feeds, and HTML list pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from samizdat.errors import SourceError
from samizdat.sources import parse_feed, parse_list

DATA = Path(__file__).parent / "data" / "feeds"


def feed(name: str, url: str = "https://www.example-news.com/gb/nsc413.xml"):
    return parse_feed((DATA / name).read_bytes(), url, source="s", channel="c")


def test_rss2_with_content_encoded_media_and_relative_links() -> None:
    items = feed("rss2.xml")
    # The item without a link is dropped, the duplicate link keeps its first listing.
    assert [i.url for i in items] == [
        "https://www.example-news.com/gb/23/5/26/n14004562.htm",
        "https://www.example-news.com/gb/23/5/26/n14004600.htm",
    ]
    first, second = items
    assert first.title == "美日将发布联合声明 加深芯片合作"
    assert first.content_html is not None and "技术合作联合声明" in first.content_html
    assert first.published == datetime(2023, 5, 26, 14, 31, tzinfo=UTC)
    assert first.image == "https://www.example-news.com/assets/uploads/2022/12/id13879282.jpeg"
    assert second.title == "北京疫情 （更新）"  # whitespace of the feed's title is normalised
    assert second.content_html is None and second.summary == "短摘要"
    assert second.image == "https://img.example-news.com/a.jpg"
    assert (first.position, second.position) == (0, 1)
    assert first.fingerprint and first.fingerprint != second.fingerprint


def test_atom_content_and_dates() -> None:
    items = feed("atom.xml", "https://news.example.org/en/world.atom")
    assert items[0].url == "https://news.example.org/en/2024/03/floods-fires.html"
    assert items[0].title == "Floods & fires: a summer of extremes"  # HTML title turned to text
    assert "Second paragraph" in (items[0].content_html or "")
    assert items[0].published == datetime(2024, 3, 1, 7, 30, tzinfo=UTC)
    assert items[1].published is None


def test_rss1_and_rss091() -> None:
    rdf = feed("rss1.rdf", "https://news.example.org/rss1")
    assert [i.title for i in rdf] == ["RDF item one"]
    assert rdf[0].published == datetime(2024, 1, 5, 12, tzinfo=UTC)
    old = feed("rss091.xml", "http://old.example.org/rss")
    assert old[0].title == "Café society returns"


def test_gbk_feed_decoded_by_its_declaration() -> None:
    assert feed("gbk.xml")[0].title == "两会召开 镕基讲话"


def test_truncated_feed_keeps_what_it_has() -> None:
    assert [i.title for i in feed("truncated.xml")] == ["Kept despite the break"]


def test_not_a_feed_is_a_clear_error() -> None:
    with pytest.raises(SourceError):
        feed("notafeed.xml")


def test_fingerprint_changes_when_the_entry_changes() -> None:
    text = (DATA / "rss2.xml").read_bytes()
    before = parse_feed(text, "https://www.example-news.com/x.xml", source="s", channel="c")[0]
    after = parse_feed(
        text.replace("两国".encode(), b"x").replace("他们希望".encode(), "他们不希望".encode()),
        "https://www.example-news.com/x.xml",
        source="s",
        channel="c",
    )[0]
    assert before.fingerprint != after.fingerprint


def test_list_page_links_resolved_deduplicated_in_order() -> None:
    html = (DATA / "list.html").read_text(encoding="utf-8")
    items = parse_list(
        html,
        "https://www.example-tv.com/gb/prog1",
        "div.list_wrapper div.one_post a.title",
        source="s",
        channel="c",
    )
    assert [(i.url, i.title) for i in items] == [
        ("https://www.example-tv.com/gb/2024/05/01/a1.html", "中共 两会 内幕"),
        ("https://www.example-tv.com/gb/2024/05/01/a2.html", "第二篇"),
    ]
    assert all(not i.from_feed for i in items)
    # A selector that matches containers finds the link inside them.
    wrapped = parse_list(
        html, "https://www.example-tv.com/gb/prog1", "div.one_post", source="s", channel="c"
    )
    assert len(wrapped) == 2


def test_list_selector_matching_nothing_is_reported() -> None:
    with pytest.raises(SourceError, match="matched nothing"):
        parse_list(
            "<html><body><p>x</p></body></html>",
            "https://a.example/",
            "a.headline",
            source="s",
            channel="c",
        )
