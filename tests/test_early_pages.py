"""Pages written while a cycle fetches (render.tree.EarlyPages): skipped by the final render
when still right, rendered again when a link in them now points at a mirrored article."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from samizdat import build
from samizdat.config import load
from samizdat.models import Article
from samizdat.render.tree import EarlyPages
from samizdat.store import Store

CONFIG = """\
[site]
title = "t"
output = "mirror"
base_url = "https://github.com/o/r/blob/master"

[[sources]]
id = "s"
  [[sources.channels]]
  id = "c"
  feed = "https://news.example/feed.xml"
"""


def article(slug: str, html: str) -> Article:
    return Article(
        channel="c",
        slug=slug,
        url=f"https://news.example/{slug}.htm",
        title=slug.upper(),
        html=html,
        text=slug,
        published=datetime(2024, 5, 1, tzinfo=UTC),
    )


def test_early_pages_are_kept_unless_a_link_changed(tmp_path: Path) -> None:
    (tmp_path / "samizdat.toml").write_text(CONFIG, encoding="utf-8")
    config = load(tmp_path / "samizdat.toml")
    a = article("a", '<p>See <a href="https://news.example/b.htm">B</a>.</p>')
    c = article("c", "<p>No links here.</p>")
    b = article("b", "<p>B's own text.</p>")
    with Store(config.site.state) as store:
        early = EarlyPages(config, store)
        for item in (a, c):  # stored and written early, before B is known
            store.save(item, source="s", fingerprint="f", method="feed")
            early.write(item)
        store.save(b, source="s", fingerprint="f", method="feed")
        early.write(b)
        written_a = (config.site.output / "pages/c/a.md").read_text(encoding="utf-8")
        assert "](../../pages/c/b.md)" not in written_a  # B was not mirrored yet
        result = build.build(config, store, early=early)
    # Only A is rendered again: its link now points at the mirrored B.
    assert result.pages == 1
    page_a = (config.site.output / "pages/c/a.md").read_text(encoding="utf-8")
    assert "[B](../../pages/c/b.md)" in page_a
    for slug in ("a", "b", "c"):
        assert (config.site.output / f"pages/c/{slug}.md.png").is_file()

    # The same store rendered from scratch gives the same bytes.
    again = tmp_path / "again"
    again.mkdir()
    (again / "samizdat.toml").write_text(CONFIG, encoding="utf-8")
    fresh = load(again / "samizdat.toml")
    shutil.copy(config.site.state, fresh.site.state)
    with Store(fresh.site.state) as store:
        build.build(fresh, store, full=True)
    for slug in ("a", "b", "c"):
        rel = f"pages/c/{slug}.md"
        assert (fresh.site.output / rel).read_bytes() == (config.site.output / rel).read_bytes()
