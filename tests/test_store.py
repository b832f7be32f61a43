"""The SQLite store: migrations, articles keep their place, purge, failures, validators, atomicity."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from samizdat.models import Article
from samizdat.store import MIGRATIONS, Store

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def art(
    slug: str, hours: int = 0, position: int = 0, title: str | None = None, channel: str = "c"
) -> Article:
    return Article(
        channel=channel,
        slug=slug,
        url=f"https://a.example/{slug}.htm",
        title=title or slug,
        html=f"<p>{slug}</p>",
        text=slug,
        published=T0 + timedelta(hours=hours),
        position=position,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "state.db")
    yield s
    s.close()


def test_fresh_store_is_at_the_latest_version(tmp_path: Path) -> None:
    s = Store(tmp_path / "a.db")
    assert s.version == len(MIGRATIONS)
    s.close()
    again = Store(tmp_path / "a.db")  # re-opening applies nothing twice
    assert again.version == len(MIGRATIONS)
    again.close()


def test_newest_first_with_source_order_for_ties(store: Store) -> None:
    store.save(art("old", hours=0), source="s", fingerprint="f", method="generic")
    store.save(art("tie-b", hours=5, position=1), source="s", fingerprint="f", method="generic")
    store.save(art("tie-a", hours=5, position=0), source="s", fingerprint="f", method="generic")
    assert [a.slug for a in store.articles("c")] == ["tie-a", "tie-b", "old"]


def test_update_keeps_place_and_slug(store: Store) -> None:
    assert store.save(art("n1", hours=3), source="s", fingerprint="1", method="feed") is True
    store.save(art("n2", hours=1), source="s", fingerprint="1", method="feed")
    updated = art("n1", hours=-100, title="n1 （更新）")
    assert store.save(updated, source="s", fingerprint="2", method="feed") is False
    first = store.articles("c")[0]
    assert (first.slug, first.title, first.published) == (
        "n1",
        "n1 （更新）",
        T0 + timedelta(hours=3),
    )
    assert store.known("c")["https://a.example/n1.htm"].fingerprint == "2"


def test_purge_keeps_the_newest_and_remembers_the_rest(store: Store) -> None:
    for i in range(5):
        store.save(art(f"a{i}", hours=i), source="s", fingerprint="f", method="feed")
    assert sorted(store.purge("c", keep=3)) == ["a0", "a1"]
    assert [a.slug for a in store.articles("c")] == ["a4", "a3", "a2"]
    known = store.known("c")
    assert known["https://a.example/a0.htm"].purged is True
    assert store.purge("c", keep=3) == []


def test_failures_count_attempts_and_clear_on_success(store: Store) -> None:
    assert store.fail("c", "https://a.example/x.htm", "x", "HTTP 500") == 1
    assert store.fail("c", "https://a.example/x.htm", "x", "timed out") == 2
    (failure,) = store.failures()
    assert (failure.reason, failure.attempts) == ("timed out", 2)
    store.save(art("x"), source="s", fingerprint="f", method="generic")
    assert store.failures() == []


def test_validators_round_trip(store: Store) -> None:
    assert store.validators("https://a.example/f.xml") == (None, None)
    store.set_validators("https://a.example/f.xml", '"abc"', "Wed, 01 May 2024 12:00:00 GMT")
    assert store.validators("https://a.example/f.xml") == ('"abc"', "Wed, 01 May 2024 12:00:00 GMT")
    store.clear_validators("https://a.example/f.xml")
    assert store.validators("https://a.example/f.xml") == (None, None)


def test_nested_atomic_rolls_back_only_the_inner_part(store: Store) -> None:
    with store.atomic():
        store.set_meta("outer", "1")
        with pytest.raises(RuntimeError), store.atomic():
            store.set_meta("inner", "1")
            raise RuntimeError("boom")
    assert store.get_meta("outer") == "1"
    assert store.get_meta("inner") is None
    with pytest.raises(RuntimeError), store.atomic():
        store.set_meta("gone", "1")
        raise RuntimeError("boom")
    assert store.get_meta("gone") is None


def test_state_is_durable_across_connections(tmp_path: Path) -> None:
    s = Store(tmp_path / "d.db")
    s.save(art("n1"), source="s", fingerprint="f", method="feed")
    s.close()
    row = sqlite3.connect(tmp_path / "d.db").execute("SELECT slug, source FROM articles").fetchone()
    assert row == ("n1", "s")


def test_pushes_keep_last_success_and_last_error(store: Store) -> None:
    store.record_push("gh", ok=True, commit="abc", error=None)
    store.record_push("gh", ok=False, commit=None, error="unreachable")
    state = store.pushes()["gh"]
    assert (state.last_commit, state.last_error) == ("abc", "unreachable")
    assert state.last_ok is not None
    store.record_push("gh", ok=True, commit="def", error=None)
    assert store.pushes()["gh"].last_error is None


def test_given_up_after_repeated_failures(store: Store) -> None:
    for _ in range(3):
        store.fail("c", "https://a.example/gone.htm", "gone", "HTTP 404 Not Found")
    store.fail("c", "https://a.example/once.htm", "once", "HTTP 500")
    assert store.given_up("c", 3) == {"https://a.example/gone.htm"}
    assert store.given_up("other", 1) == set()


def test_revisions_say_what_changed_whatever_the_clock(store: Store) -> None:
    assert store.revision() == 0
    store.save(art("a"), source="s", fingerprint="f", method="feed")
    seen = store.revision()
    assert store.changed_after(0) == {("c", "a")}
    assert store.changed_after(seen) == set()
    # Saved within the same second as `seen` was taken: still a change after it.
    store.save(art("b"), source="s", fingerprint="f", method="feed")
    store.save(art("a", title="a2"), source="s", fingerprint="g", method="feed")
    assert store.changed_after(seen) == {("c", "a"), ("c", "b")}
    latest = store.revision()
    store.purge("c", keep=1)
    assert len(store.changed_after(latest)) == 1


def test_migrating_a_first_version_store(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute(
        """INSERT INTO articles (channel, slug, url, source, title, html, text, published,
               first_seen, updated) VALUES ('c', 'old', 'https://a.example/old.htm', 's', 'Old',
               '<p>x</p>', 'x', '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00',
               '2024-01-01T00:00:00+00:00')"""
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = Store(path)
    assert store.version == len(MIGRATIONS)
    assert [a.slug for a in store.articles("c")] == ["old"]
    assert store.changed_after(0) == {("c", "old")}  # a first render after upgrading sees it
    store.close()


def test_headers_leave_bodies_out_but_image_references_in(store: Store) -> None:
    store.save(art("a", hours=1), source="s", fingerprint="f", method="feed")
    with_image = art("b")
    with_image.html = '<p><img src="images/ab/ab00000000000001.jpg"></p>'
    store.save(with_image, source="s", fingerprint="f", method="feed")
    headers = store.headers()
    assert [(h.slug, h.html, h.text) for h in headers] == [
        ("a", "", ""),
        ("b", with_image.html, ""),
    ]
    store.load_bodies(headers)
    assert [(h.slug, h.html, h.text) for h in headers] == [
        ("a", "<p>a</p>", "a"),
        ("b", with_image.html, "b"),
    ]


def test_linking_to_finds_the_pages_whose_links_change(store: Store) -> None:
    a = art("a")
    a.html = '<p>see <a href="https://a.example/b.htm#part">b</a></p>'
    store.save(a, source="s", fingerprint="f", method="feed")
    store.save(art("c"), source="s", fingerprint="f", method="feed")
    assert store.linking_to({("c", "c")}) == set()
    store.save(art("b"), source="s", fingerprint="f", method="feed")  # https://a.example/b.htm
    assert store.linking_to({("c", "b")}) == {("c", "a")}
    assert store.linking_to({("c", "b"), ("c", "a")}) == set()  # a is rendered anyway
    a.html = "<p>no link now</p>"
    store.save(a, source="s", fingerprint="g", method="feed")
    assert store.linking_to({("c", "b")}) == set()
    a.html = '<p><a href="https://a.example/b.htm">b</a></p>'
    store.save(a, source="s", fingerprint="h", method="feed")
    assert store.purge("c", keep=2) == ["b"]  # gone: a's link leads to the original again
    assert store.linking_to({("c", "b")}) == {("c", "a")}
    assert store.purge("c", keep=0) == ["a", "c"]
    assert store.linking_to({("c", "b")}) == set()  # no live page links to it


def test_migrating_a_second_version_store_fills_the_links(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        db.executescript(script)
    for slug, html in (("a", '<p><a href="https://a.example/b.htm">b</a></p>'), ("b", "<p>b</p>")):
        db.execute(
            """INSERT INTO articles (channel, slug, url, source, title, html, text, published,
                   first_seen, updated) VALUES ('c', ?, ?, 's', ?, ?, 'x',
                   '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00',
                   '2024-01-01T00:00:00+00:00')""",
            (slug, f"https://a.example/{slug}.htm", slug, html),
        )
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.version == len(MIGRATIONS)
        assert store.linking_to({("c", "b")}) == {("c", "a")}
