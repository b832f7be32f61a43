"""Whole cycles against the fixture site on a real loopback server, real SQLite and real git."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import lxml.html
import pytest
import zxingcpp
from PIL import Image

from samizdat import pipeline
from samizdat.demo.server import SiteServer
from samizdat.progress import Reporter
from samizdat.store import Store
from tests.cycle_helpers import BASE_URL, SITE, git, render_markdown, site_file, write_config

GOOD = {
    "nsc413": {"n14004562", "n14004893", "n14004720", "n14003871"},
    "world": {"delta-floods", "shoal-fishermen", "verenia-count"},
    "business": {"chip-plants", "container-rates", "rates-hold"},
    "rss10": {"one", "two"},
}


def cycle(config) -> pipeline.CycleReport:
    with Reporter(interactive=False) as reporter:
        return pipeline.run(config, reporter)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory):
    """One full cycle over every channel of the fixture site, failures included."""
    directory = tmp_path_factory.mktemp("cycle")
    with SiteServer(SITE) as server:
        config = write_config(directory, server.base_url)
        report = cycle(config)
        yield config, report, server.base_url


def pages(config) -> dict[str, str]:
    out = config.site.output
    return {
        str(p.relative_to(out)): p.read_text(encoding="utf-8")
        for p in out.rglob("*.md")
        if ".git" not in p.parts
    }


def test_every_good_article_is_mirrored(first) -> None:
    config, report, _ = first
    out = config.site.output
    for channel, ids in GOOD.items():
        present = {p.name.removesuffix(".md") for p in (out / "pages" / channel).glob("*.md")}
        assert ids <= present, (channel, ids - present)
        for slug in ids:
            assert (out / "pages" / channel / f"{slug}.md.png").is_file()
    assert report.new >= sum(len(v) for v in GOOD.values())


def test_bad_items_are_reported_and_the_rest_goes_on(first) -> None:
    config, report, base = first
    problems = "\n".join(report.problems)
    assert report.exit_code == 3
    assert f"{base}/mess/missing.htm: HTTP 404" in problems
    assert f"{base}/mess/hang.htm" in problems
    assert f"{base}/mess/huge.htm" in problems
    with Store(config.site.state) as store:
        failed = {f.url for f in store.failures()}
    assert {f"{base}/mess/missing.htm", f"{base}/mess/hang.htm", f"{base}/mess/huge.htm"} <= failed
    # 500, 500, then 200: the retries inside one cycle got it.
    assert f"{base}/mess/flaky.htm" not in failed
    assert (config.site.output / "pages/messfeed/flaky.md").is_file()


def test_excluded_titles_are_not_mirrored(first) -> None:
    config, report, _ = first
    assert report.excluded >= 1
    assert not (config.site.output / "pages/nsc413/n14004801.md").exists()
    assert "n14004801" not in (config.site.output / "indexes/nsc413.md").read_text(encoding="utf-8")


def test_seed_article_page_carries_everything_in_order(first) -> None:
    config, _, base = first
    page = (config.site.output / "pages/nsc413/n14004562.md").read_text(encoding="utf-8")
    address = f"{BASE_URL}/pages/nsc413/n14004562.md"
    assert page.startswith("### 美日将发布联合声明 加深芯片合作\n")
    # Every paragraph of the source body is there.
    source = lxml.html.document_fromstring(site_file("gb/23/5/26/n14004562.htm").read_bytes())
    paragraphs = [
        " ".join(p.text_content().split()) for p in source.cssselect("div.post_content p")
    ]
    flat = " ".join(re.sub(r"[\\*_]", "", page).split())
    for paragraph in paragraphs:
        assert paragraph.replace("{{BASE}}", base)[:40] in flat
    caption = " ".join(source.cssselect("div.featured_image .caption")[0].text_content().split())
    positions = [
        page.index("首页"),
        page.index(caption[:20]),
        page.index(paragraphs[0][:15]),
        page.index(address),
        page.index("n14004562.md.png"),
        page.index("需翻墙"),
        page.rindex("首页"),
        page.index("https://counter.example.org/pages/nsc413/n14004562.md"),
    ]
    assert positions == sorted(positions)
    assert f"{base}/gb/23/5/26/n14004562.htm".replace(":", "") in page.replace("\\", "").replace(
        ":", ""
    )


def test_qr_code_decodes_to_the_share_address(first) -> None:
    config, _, _ = first
    png = (config.site.output / "pages/nsc413/n14004562.md.png").read_bytes()
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert code.text == f"{BASE_URL}/pages/nsc413/n14004562.md"


def test_no_page_can_run_anything_or_link_a_blocked_host(first) -> None:
    config, _, base = first
    for path, text in pages(config).items():
        html = render_markdown(text)
        doc = lxml.html.fragment_fromstring(html, create_parent="div")
        assert not doc.xpath("//script|//style|//iframe|//form|//object|//embed|//svg"), path
        for element in doc.iter():
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), (path, name)
                assert "javascript:" not in value.lower().replace(" ", ""), (path, value)
        for href in doc.xpath("//a/@href"):
            assert "example-news.com" not in href and not href.startswith(base), (path, href)


def test_pages_load_nothing_from_other_hosts(first) -> None:
    """Every image a page shows is in the mirror, referenced by a relative path; the counter
    pixel is the one exception."""
    config, _, _ = first
    out = config.site.output
    checked = 0
    for path, text in pages(config).items():
        doc = lxml.html.fragment_fromstring(render_markdown(text), create_parent="div")
        for src in doc.xpath("//img/@src"):
            if src.startswith("https://counter.example.org/"):
                continue
            assert "://" not in src and not src.startswith("//"), (path, src)
            assert (out / path).parent.joinpath(src).resolve().is_file(), (path, src)
            checked += 1
        assert not doc.xpath("//link|//script|//iframe|//object|//embed|//video|//audio"), path
    assert checked >= 10  # lead images and inline figures of the fixture site


@pytest.mark.parametrize("channel", ["messfeed", "messlist"])
def test_hostile_title_cannot_inject_markup(first, channel: str) -> None:
    config, _, _ = first
    out = config.site.output
    index = (out / f"indexes/{channel}.md").read_text(encoding="utf-8")
    doc = lxml.html.fragment_fromstring(render_markdown(index), create_parent="div")
    line = next(h for h in doc.iter("h4") if "Breaking" in h.text_content())
    assert [a.get("href") for a in line.iter("a")] == [f"../pages/{channel}/metachars.md"]
    assert not line.xpath(".//img|.//em|.//strong|.//code")
    assert "*Breaking* _news_ #1: [x](javascript:alert(1))" in line.text_content()
    page = (out / f"pages/{channel}/metachars.md").read_text(encoding="utf-8")
    title = lxml.html.fragment_fromstring(
        render_markdown(page.splitlines()[0]), create_parent="div"
    )
    assert not title.xpath(".//a|.//img|.//em|.//strong|.//code")
    assert title.text_content().startswith("*Breaking* _news_ #1: [x](javascript:alert(1))")


def test_title_text_that_looks_like_html_stays_text(first) -> None:
    # On a list page the link text is text: the tag-like part is kept, as text, not as an image.
    config, _, _ = first
    index = (config.site.output / "indexes/messlist.md").read_text(encoding="utf-8")
    doc = lxml.html.fragment_fromstring(render_markdown(index), create_parent="div")
    assert "<img src=x onerror=alert(1)>" in doc.text_content()
    assert not doc.xpath("//img")


def test_gbk_and_big5_pages_are_decoded(first) -> None:
    config, _, _ = first
    out = config.site.output
    gbk = (out / "pages/nsc413/n14003871.md").read_text(encoding="utf-8")
    assert "失业率" in gbk
    assert "\ufffd" not in gbk
    texts = "".join(pages(config).values())
    assert "\ufffd" not in texts


def test_id_collision_gets_a_hashed_id(first) -> None:
    config, _, _ = first
    folder = config.site.output / "pages/messlist"
    names = sorted(p.name for p in folder.glob("story*.md"))
    assert len(names) == 2 and "story.md" in names
    (hashed,) = [n for n in names if n != "story.md"]
    assert re.fullmatch(r"story-[0-9a-f]{10}\.md", hashed)
    # The list page names a/story.htm first: it keeps the plain id.
    assert "/mess/a/story.htm" in (folder / "story.md").read_text(encoding="utf-8").replace(
        "\\", ""
    )
    assert "/mess/b/story.htm" in (folder / hashed).read_text(encoding="utf-8").replace("\\", "")


def test_links_to_mirrored_articles_point_at_the_mirror(first) -> None:
    config, _, _ = first
    page = (config.site.output / "pages/nsc413/n14004893.md").read_text(encoding="utf-8")
    assert "](../../pages/nsc413/n14004562.md)" in page


def test_indexes_and_home(first) -> None:
    config, _, _ = first
    out = config.site.output
    index = (out / "indexes/nsc413.md").read_text(encoding="utf-8")
    lines = [line for line in index.splitlines() if line.startswith("#### [") and "pages/" in line]
    assert len(lines) == 4
    home = (out / "README.md").read_text(encoding="utf-8")
    assert home.startswith("### 禁闻聚合") or home.splitlines()[0].endswith("禁闻聚合")
    for _, channel in config.channels():
        if (out / "indexes" / f"{channel.id}.md").exists():
            assert f"indexes/{channel.id}.md" in home


def test_the_mirror_received_the_commit(first) -> None:
    config, report, _ = first
    remote = config.path.parent / "remote.git"
    assert report.commit
    assert git(remote, "rev-parse", "master").strip() == report.commit


# --------------------------------------------------------------------------- over time


@pytest.fixture
def small(tmp_path: Path):
    """A copy of the fixture site (so tests can edit it) and a config of two channels; yields
    the config and a function giving the served file of a site path."""
    layers = tuple(shutil.copytree(layer, tmp_path / f"site{n}") for n, layer in enumerate(SITE))
    with SiteServer(layers) as server:
        config = write_config(tmp_path, server.base_url, channels={"nsc413", "world"})
        yield config, lambda relpath: site_file(relpath, layers)


def test_second_run_changes_nothing(small) -> None:
    config, _ = small
    first_report = cycle(config)
    assert first_report.exit_code == 0, first_report.problems
    snapshot = {p: t for p, t in pages(config).items()}
    head = git(config.site.output, "rev-parse", "HEAD")
    second = cycle(config)
    assert (second.new, second.updated, second.commit, second.exit_code) == (0, 0, None, 0)
    assert git(config.site.output, "rev-parse", "HEAD") == head
    assert pages(config) == snapshot
    assert second.pushes == []  # the mirror already has HEAD: nothing is pushed


def test_retitled_item_with_new_body_is_rerendered(small) -> None:
    config, served = small
    cycle(config)
    page = config.site.output / "pages/nsc413/n14004720.md"
    before = page.read_text(encoding="utf-8")
    article = served("gb/23/5/26/n14004720.htm")
    html = article.read_text(encoding="utf-8")
    first_paragraph = re.search(r"<div class=\"post_content\"[^>]*>\s*<p>", html)
    assert first_paragraph
    article.write_text(
        html.replace(
            first_paragraph.group(0),
            first_paragraph.group(0) + "最新消息：水位已开始回落。</p><p>",
            1,
        ),
        encoding="utf-8",
    )
    feed = served("gb/nsc413.xml")
    feed.write_text(
        feed.read_text(encoding="utf-8").replace("（更新）", "（更新2）"), encoding="utf-8"
    )
    report = cycle(config)
    after = page.read_text(encoding="utf-8")
    assert report.updated == 1 and report.new == 0
    assert "最新消息：水位已开始回落。" in after and after != before
    assert after.startswith("### ") and "更新2" in after.splitlines()[0]
    index = (config.site.output / "indexes/nsc413.md").read_text(encoding="utf-8")
    assert index.count("n14004720.md") == 1  # it keeps its place, once


def test_failed_item_is_retried_next_cycle(small, tmp_path: Path) -> None:
    config, served = small
    victim = served("en/world/2023/05/24/shoal-fishermen.html")
    saved = victim.read_bytes()
    victim.unlink()
    report = cycle(config)
    assert report.exit_code == 3 and any("shoal-fishermen" in p for p in report.problems)
    victim.write_bytes(saved)
    again = cycle(config)
    assert again.new == 1 and again.exit_code == 0, again.problems
    assert (config.site.output / "pages/world/shoal-fishermen.md").is_file()


def test_same_store_renders_byte_identical_files(first, tmp_path: Path) -> None:
    import dataclasses

    from samizdat import build

    config, _, _ = first
    other = dataclasses.replace(
        config, site=dataclasses.replace(config.site, output=tmp_path / "again")
    )
    state = tmp_path / "state.db"
    shutil.copy(config.site.state, state)
    # Mirrored images are content the cycle fetched, not something rendered from the store.
    shutil.copytree(config.site.output / "images", tmp_path / "again" / "images")
    with Store(state) as store:
        build.build(other, store, full=True)

    def tree(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(root).parts
        }

    assert tree(tmp_path / "again") == tree(config.site.output)


def test_chinese_conversion(tmp_path: Path) -> None:
    with SiteServer(SITE) as server:
        config = write_config(tmp_path, server.base_url, channels={"nsc413"})
        text = config.path.read_text(encoding="utf-8").replace(
            'title = "禁闻聚合"', 'title = "禁闻聚合"\nconvert = "s2t"'
        )
        config.path.write_text(text, encoding="utf-8")
        from samizdat.config import load

        cycle(load(config.path))
    page = (config.site.output / "pages/nsc413/n14004562.md").read_text(encoding="utf-8")
    assert page.startswith("### 美日將發佈聯合聲明 加深芯片合作")
    assert "日本成立了新的芯片製造商Rapidus" in page
    index = (config.site.output / "indexes/nsc413.md").read_text(encoding="utf-8")
    assert "美日將發佈聯合聲明" in index


def test_an_item_failing_for_ever_is_given_up(small, monkeypatch: pytest.MonkeyPatch) -> None:
    config, served = small
    monkeypatch.setattr(pipeline, "GIVE_UP_AFTER", 2)
    served("en/world/2023/05/24/shoal-fishermen.html").unlink()
    assert cycle(config).exit_code == 3
    assert cycle(config).exit_code == 3
    third = cycle(config)
    assert third.exit_code == 0 and third.problems == []
    with Store(config.site.state) as store:
        (failure,) = store.failures()  # still listed for `status`
    assert failure.attempts == 2 and "shoal-fishermen" in failure.url


def test_the_cycle_writes_the_hot_list_from_a_local_counter(small) -> None:
    from samizdat.counter.counts import add_views, connect, current_hour, database_path

    config, _ = small
    cycle(config)
    assert not (config.site.output / "hot.md").exists()  # no counter yet: no hot list
    db = connect(database_path(config))
    with db:
        add_views(
            db,
            [
                ("pages/nsc413/n14004562.md", current_hour(), 7),
                ("pages/world/delta-floods.md", current_hour(), 3),
                ("pages/nsc413/nope.md", current_hour(), 99),  # not a live page
            ],
        )
    db.close()
    report = cycle(config)
    assert report.exit_code == 0, report.problems
    hot = (config.site.output / "hot.md").read_text(encoding="utf-8")
    doc = lxml.html.fragment_fromstring(render_markdown(hot), create_parent="div")
    assert [a.get("href") for a in doc.iter("a") if "pages/" in a.get("href", "")] == [
        "pages/nsc413/n14004562.md",
        "pages/world/delta-floods.md",
    ]
    assert "美日将发布联合声明" in doc.text_content()
    assert "hot.md" in (config.site.output / "README.md").read_text(encoding="utf-8")
    assert (config.site.output / "site/hot.html").is_file()
    assert report.commit  # the hot list is news: it is committed
