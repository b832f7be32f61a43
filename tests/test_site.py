"""The static HTML site (`samizdat.site`): built from a real store into real files, then read
back the way a browser, a feed reader and a crawler would."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import feedparser
import lxml.etree
import lxml.html
import pytest
import zxingcpp
from PIL import Image

from samizdat.build import build
from samizdat.config import ChannelConfig, Config, SiteConfig, SourceConfig
from samizdat.models import Article
from samizdat.site import build_site
from samizdat.site.search import tokens
from samizdat.store import Store

BASE = "https://github.com/o/r/blob/master"
HOSTILE = '</title><script>alert(1)</script> & "q" <img src=x onerror=alert(1)> {{ 7*7 }}'
BLOCKED = "blocked.example"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f1a15b0000000049454e44ae426082"
)
ZH_BODY = "美国和日本将发布一份联合声明，加强在芯片领域的合作。台积电在熊本县建厂。"


def make_config(tmp: Path) -> Config:
    china = ChannelConfig("china", "大陆新闻", feed="https://blocked.example/gb/china.xml")
    world = ChannelConfig("world", "World", feed="https://news.example/world.xml")
    return Config(
        path=tmp / "samizdat.toml",
        site=SiteConfig(
            title="禁闻聚合", output=tmp / "mirror", state=tmp / "state.db", base_url=BASE
        ),
        sources=(
            SourceConfig("epoch", "大纪元", (china,)),
            SourceConfig("news", "News & <Views>", (world,)),
        ),
        blocked=(BLOCKED,),
    )


def article(channel: str, slug: str, n: int, **changes: object) -> Article:
    values: dict[str, object] = {
        "channel": channel,
        "slug": slug,
        "url": f"https://{BLOCKED}/gb/{slug}.htm",
        "title": f"新闻标题 {n}",
        "html": f"<p>第{n}篇。{ZH_BODY if n == 3 else '今天天气很好，市场平稳。'}</p>",
        "text": f"第{n}篇。{ZH_BODY if n == 3 else '今天天气很好，市场平稳。'}",
        "published": datetime(2023, 5, 1, tzinfo=UTC) + timedelta(hours=n),
    }
    values.update(changes)
    return Article(**values)  # type: ignore[arg-type]


def fill(config: Config, store: Store) -> None:
    """55 Chinese articles (two index pages), three English ones with a hostile title, images,
    links to a blocked host, to a mirrored article and to an open site."""
    images = config.site.output / "images" / "ab"
    images.mkdir(parents=True)
    for name in ("ab00000000000001.png", "ab00000000000002.png"):
        (images / name).write_bytes(PNG)
    for n in range(55):
        changes: dict[str, object] = {}
        if n == 3:
            changes = {
                "image": "images/ab/ab00000000000001.png",
                "caption": "2023年5月26日，芯片。(Shutterstock)",
                "html": (
                    f"<p>{ZH_BODY}</p>"
                    '<figure><img src="images/ab/ab00000000000002.png" alt="熊本工厂"><figcaption>工厂</figcaption></figure>'
                    '<p><img src="https://cdn.blocked.example/x.jpg" alt="外站图片">'
                    f'<a href="https://www.{BLOCKED}/gb/other.htm">被封链接</a> '
                    '<a href="https://news.example/world/w1.html">英文报道</a> '
                    '<a href="https://open.example/wiki">维基</a></p>'
                    '<p><img src="images/ab/ab00000000000003.png" alt="丢失的图"></p>'
                ),
            }
        store.save(
            article("china", f"n{n}", n, **changes), source="epoch", fingerprint="", method=""
        )
    for n, title in enumerate(["Rates hold steady", HOSTILE, "Floods in the delta"]):
        store.save(
            article(
                "world",
                f"w{n}",
                n,
                url=f"https://news.example/world/w{n}.html",
                title=title,
                html=f"<p>Story {n} about <em>markets</em> and weather.</p>",
                text=f"Story {n} about markets and weather.",
            ),
            source="news",
            fingerprint="",
            method="",
        )


def _built(tmp_path: Path) -> Iterator[tuple[Config, Store, Path]]:
    config = make_config(tmp_path)
    with Store(config.site.state) as store:
        fill(config, store)
        build(config, store, full=True)  # the Markdown pages and their QR codes
        build_site(config, store, changed=None, hot=[("pages/china/n3.md", 42)])
        yield config, store, config.site.output / "site"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Store, Path]]:
    """One site, read by the tests that do not change it."""
    yield from _built(tmp_path_factory.mktemp("site"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Config, Store, Path]]:
    """A site of its own, for tests that change the store and build again."""
    yield from _built(tmp_path)


def html_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


def tree(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_bytes())


def test_layout(built: tuple[Config, Store, Path]) -> None:
    _, _, site = built
    for path in (
        "index.html",
        "indexes/china.html",
        "indexes/china-2.html",
        "indexes/world.html",
        "pages/china/n3.html",
        "pages/china/n3.html.png",
        "pages/world/w1.html",
        "hot.html",
        "search.html",
        "search/meta.js",
        "feed.xml",
        "feeds/china.xml",
        "feeds/world.xml",
        "sitemap.xml",
        "static/site.css",
        "static/search.js",
        "static/share.js",
        "images/ab/ab00000000000001.png",
        "images/ab/ab00000000000002.png",
    ):
        assert (site / path).is_file(), path
    assert not (site / "indexes/china-3.html").exists()
    page = tree(site / "pages/china/n3.html")
    assert page.findtext(".//h1") == "新闻标题 3"
    assert (
        page.find(".//figure[@class='lead']/img").get("src")
        == "../../images/ab/ab00000000000001.png"
    )
    assert "芯片" in page.findtext(".//figure[@class='lead']/figcaption")
    assert "大纪元：大陆新闻" in page.find(".//p[@class='meta']").text_content()
    assert page.find(".//time").get("datetime").startswith("2023-05-01T03:00")
    # Share block: the Markdown page's public address, its QR code and a copy button.
    address = f"{BASE}/pages/china/n3.md"
    assert page.findtext(".//code[@id='share-address']") == address
    assert page.find(".//button[@data-copy]").get("data-copy") == address
    assert page.find(".//img[@class='qr']").get("src") == "n3.html.png"
    original = page.find(".//p[@class='original']")
    assert original.text_content() == f"原文地址（需翻墙访问）：https://{BLOCKED}/gb/n3.htm"
    assert original.find(".//a") is None
    # The channel's page: its newest 50; "earlier" leads to the archive page of the first
    # article it leaves out. Archive pages hold the articles by order of arrival (n0 came
    # first), 50 a page, newest first within, linked both ways.
    own, first, second = (tree(site / f"indexes/china{s}.html") for s in ("", "-1", "-2"))
    assert len(own.findall(".//ol/li")) == 50
    assert own.find(".//ol/li/a").get("href") == "../pages/china/n54.html"
    assert own.find(".//a[@rel='prev']").get("href") == "china-1.html"
    assert own.find(".//a[@rel='next']") is None
    assert [a.get("href") for a in first.findall(".//ol/li/a")] == [
        f"../pages/china/n{n}.html" for n in range(49, -1, -1)
    ]
    assert first.find(".//a[@rel='prev']") is None
    assert first.find(".//a[@rel='next']").get("href") == "china-2.html"
    assert [a.get("href") for a in second.findall(".//ol/li/a")] == [
        f"../pages/china/n{n}.html" for n in range(54, 49, -1)
    ]
    assert second.find(".//a[@rel='prev']").get("href") == "china-1.html"
    assert second.find(".//a[@rel='next']").get("href") == "china.html"
    assert second.findtext(".//h1").endswith("（第 2 页）")
    assert not (site / "indexes/world-1.html").exists()  # 3 articles: their page shows all
    hot = tree(site / "hot.html")
    assert hot.find(".//ol/li/a").get("href") == "pages/china/n3.html"
    assert "42 次阅读" in hot.find(".//ol/li").text_content()
    # English article pages say so.
    assert tree(site / "pages/world/w0.html").find(".//article").get("lang") == "en"


def test_body_links_and_images(built: tuple[Config, Store, Path]) -> None:
    config, _, site = built
    body = tree(site / "pages/china/n3.html").find(".//div[@class='body']")
    hrefs = [a.get("href") for a in body.iter("a")]
    assert "../../pages/world/w1.html" in hrefs  # a mirrored article: its HTML page
    assert "https://open.example/wiki" in hrefs  # an open site stays a link…
    assert all(BLOCKED not in h for h in hrefs)  # …a blocked host does not
    assert "被封链接" in body.text_content()
    srcs = [img.get("src") for img in body.iter("img")]
    assert srcs == ["../../images/ab/ab00000000000002.png"]
    assert "［外站图片］" in body.text_content()  # dropped image, its alt kept as text
    assert "［丢失的图］" in body.text_content()  # an image the output does not hold either
    for a in body.iter("a"):
        if a.get("href").startswith("http"):
            assert "noopener" in a.get("rel") and "noreferrer" in a.get("rel")
    # Images are hard links to the output's copies where the file system allows.
    original = config.site.output / "images/ab/ab00000000000002.png"
    assert (site / "images/ab/ab00000000000002.png").samefile(original)


def _local_targets(page: Path, root: Path) -> Iterator[tuple[str, Path]]:
    doc = tree(page)
    for _element, _attribute, link, _ in doc.iterlinks():
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            continue
        if not parts.path:
            continue
        yield link, (page.parent / unquote(parts.path)).resolve()


def test_crawl_from_home_reaches_everything_and_every_link_resolves(
    built: tuple[Config, Store, Path],
) -> None:
    _, _store, site = built
    seen: set[Path] = set()
    todo = [(site / "index.html").resolve()]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        if page.suffix != ".html":
            continue
        for link, target in _local_targets(page, site):
            assert target.is_file(), f"{page.relative_to(site)}: {link} does not resolve"
            assert target.is_relative_to(site.resolve()), f"{link} leaves site/"
            todo.append(target)
    pages = {p.resolve() for p in html_files(site)}
    assert pages <= seen, sorted(str(p) for p in pages - seen)
    assert len([p for p in seen if "/pages/" in str(p) and p.suffix == ".html"]) == 58


def test_no_other_origin_anywhere(built: tuple[Config, Store, Path]) -> None:
    _, _, site = built
    for page in html_files(site):
        doc = tree(page)
        for element, attribute, link, _ in doc.iterlinks():
            parts = urlsplit(link)
            if not (parts.scheme or parts.netloc) or link == "data:,":  # data: is no origin
                continue
            # Only an <a> inside an article body may point elsewhere (a link the source made
            # to an open site); nothing is loaded from another origin.
            assert element.tag == "a" and attribute == "href", (page, link)
            assert element.xpath("ancestor::div[@class='body']"), (page, link)
        assert not doc.xpath("//style|//*[@style]|//iframe|//object|//embed")
        for script in doc.iter("script"):
            assert script.get("src", "").startswith(("../", "static/")) and not script.text
        csp = doc.find(".//meta[@http-equiv='Content-Security-Policy']").get("content")
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
    css = (site / "static/site.css").read_text()
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    for name in ("search.js", "share.js"):
        assert "://" not in (site / "static" / name).read_text()


def test_hostile_title_is_text_everywhere(built: tuple[Config, Store, Path]) -> None:
    _, _, site = built
    page = tree(site / "pages/world/w1.html")
    assert page.findtext(".//h1") == HOSTILE
    assert page.findtext(".//title") == f"{HOSTILE} - 禁闻聚合"
    for path in ("pages/world/w1.html", "indexes/world.html", "index.html"):
        doc = tree(site / path)
        assert not doc.xpath("//*[@onerror]") and not doc.xpath("//img[@src='x']"), path
        assert [s.get("src") for s in doc.iter("script")] == [
            s.get("src") for s in doc.iter("script") if "static/" in s.get("src", "")
        ]
    index = tree(site / "indexes/world.html")
    assert HOSTILE in [a.text for a in index.iter("a")]
    home = tree(site / "index.html")
    assert "News & <Views>" in [h.text for h in home.iter("h2")]
    feed = feedparser.parse((site / "feeds/world.xml").read_bytes())
    assert HOSTILE in [e.title for e in feed.entries]


def test_feeds_and_sitemap(built: tuple[Config, Store, Path]) -> None:
    _, _, site = built
    feed = feedparser.parse((site / "feeds/china.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "大纪元：大陆新闻"
    assert len(feed.entries) == 50
    first = feed.entries[0]
    assert first.title == "新闻标题 54" and first.link == "../pages/china/n54.html"
    assert (site / "feeds" / first.link).resolve().is_file()
    everything = feedparser.parse((site / "feed.xml").read_bytes())
    assert not everything.bozo and len(everything.entries) == 50
    assert everything.entries[0].link == "pages/china/n54.html"
    assert len({e.id for e in everything.entries}) == 50
    sitemap = lxml.etree.fromstring((site / "sitemap.xml").read_bytes())
    locs = [e.text for e in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert "pages/china/n3.html" in locs and "indexes/china-2.html" in locs
    assert len([loc for loc in locs if loc.startswith("pages/")]) == 58
    assert all((site / loc).is_file() for loc in locs)


def index_file(site: Path, name: str) -> Any:
    """The value an index script hands to search.js: `samizdatSearch("<name>", <JSON>);`."""
    text = (site / "search" / f"{name}.js").read_text("utf-8")
    match = re.fullmatch(r'samizdatSearch\("([^"]+)",(.*)\);\n', text, re.DOTALL)
    assert match and match.group(1) == name, text[:80]
    return json.loads(match.group(2))


def search(site: Path, query: str) -> list[str]:
    """What search.js does, in Python: AND of the query's terms, newest first, live docs only."""
    meta = index_file(site, "meta")
    hits: set[int] | None = None
    for term in tokens(query):
        crc = zlib.crc32(term.encode())
        ids: set[int] = set()
        for folder, count in (("s", meta["shards"]), ("r", meta["recent"])):
            ids |= set(accumulate(index_file(site, f"{folder}/{crc % count}").get(term, [])))
        hits = ids if hits is None else hits & ids
    found = []
    for i in sorted(hits or (), reverse=True):
        chunk = index_file(site, f"d/{i // meta['chunk']}")
        if chunk[i % meta["chunk"]]:
            found.append(chunk[i % meta["chunk"]][0])
    return found


def test_search_index_finds_chinese_bigrams_and_words(built: tuple[Config, Store, Path]) -> None:
    _, _, site = built
    assert tokens("台积电 Chips") == {"台积", "积电", "chips"}
    assert search(site, "芯片") == ["pages/china/n3.html"]  # two characters inside a sentence
    assert search(site, "熊本县建厂") == ["pages/china/n3.html"]
    assert search(site, "片领") == ["pages/china/n3.html"]  # across a word boundary too
    assert search(site, "MARKETS") == [f"pages/world/w{n}.html" for n in (2, 1, 0)]
    assert search(site, "芯片 markets") == []
    assert len(search(site, "天气")) == 54  # every Chinese article but n3


def snapshot(site: Path) -> dict[str, tuple[int, int]]:
    """Every file's (inode, mtime): a rewrite changes one or the other."""
    out = {}
    for dirpath, _dirs, files in os.walk(site):
        for name in files:
            stat = os.stat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), site)] = (
                stat.st_ino,
                stat.st_mtime_ns,
            )
    return out


def test_a_second_build_writes_nothing(fresh: tuple[Config, Store, Path]) -> None:
    config, store, site = fresh
    before = snapshot(site)
    assert build_site(config, store, changed=set()).written == []
    assert build_site(config, store, changed=None).written == []  # a full one neither
    assert snapshot(site) == before


def test_one_changed_article_rewrites_its_page_and_indexes_only(
    fresh: tuple[Config, Store, Path],
) -> None:
    config, store, site = fresh
    before = snapshot(site)
    changed = article(
        "china",
        "n40",
        40,
        title="更新：新的标题",
        text="台风登陆沿海地区。",
        html="<p>台风登陆沿海地区。</p>",
    )
    store.save(changed, source="epoch", fingerprint="x", method="")
    result = build_site(config, store, changed={("china", "n40")})
    assert not result.full and result.pages == 1
    pages = {p for p in result.written if p.startswith("pages/")}
    assert pages == {"pages/china/n40.html"}
    html = {p for p in result.written if p.endswith(".html")}
    # n40 is on its channel's page and on the archive page of the 1st to 50th arrivals.
    assert html <= {
        "pages/china/n40.html",
        "indexes/china.html",
        "indexes/china-1.html",
        "index.html",
    }
    assert "indexes/china.html" in html and "index.html" in html  # n40 is among the newest 30
    assert "feeds/china.xml" in result.written and "feeds/world.xml" not in result.written
    after = snapshot(site)
    untouched = {p for p in before if p not in result.written}
    assert {p: after[p] for p in untouched} == {p: before[p] for p in untouched}
    assert tree(site / "pages/china/n40.html").findtext(".//h1") == "更新：新的标题"
    # The search index followed: the new text is found, the old page version is not listed twice.
    assert search(site, "台风") == ["pages/china/n40.html"]
    assert search(site, "第40篇") == []
    assert search(site, "天气").count("pages/china/n40.html") == 0


def test_a_cycle_rewrites_few_channel_pages(fresh: tuple[Config, Store, Path]) -> None:
    """Archive pages follow the order of arrival: a new article changes its channel's page and
    the last archive page, a purge the page it leaves, never every page (each is pushed)."""
    config, store, site = fresh
    store.save(article("china", "n55", 55), source="epoch", fingerprint="", method="")
    result = build_site(config, store, changed={("china", "n55")})
    indexes = {p for p in result.written if p.startswith("indexes/")}
    assert indexes == {"indexes/china.html", "indexes/china-2.html"}
    assert len(tree(site / "indexes/china-2.html").findall(".//ol/li")) == 6
    purged = store.purge("china", 55)  # the oldest, n0, goes
    assert purged == ["n0"]
    result = build_site(config, store, changed={("china", "n0")})
    assert {p for p in result.written if p.startswith("indexes/")} == {"indexes/china-1.html"}
    assert len(tree(site / "indexes/china-1.html").findall(".//ol/li")) == 49


def test_purged_articles_leave_the_site(fresh: tuple[Config, Store, Path]) -> None:
    config, store, site = fresh
    purged = store.purge("china", 50)
    assert sorted(purged) == ["n0", "n1", "n2", "n3", "n4"]
    result = build_site(config, store, changed={("china", s) for s in purged})
    for slug in purged:
        assert not (site / f"pages/china/{slug}.html").exists()
        assert not (site / f"pages/china/{slug}.html.png").exists()
    # 50 left: the channel's page shows them all, and the archive pages go.
    assert not (site / "indexes/china-1.html").exists()
    assert not (site / "indexes/china-2.html").exists()
    assert {"indexes/china-1.html", "indexes/china-2.html"} <= set(result.written)
    assert search(site, "芯片") == []
    sitemap = (site / "sitemap.xml").read_text()
    assert "pages/china/n3.html" not in sitemap and "pages/china/n5.html" in sitemap


def test_template_or_address_change_rebuilds_everything(
    fresh: tuple[Config, Store, Path],
) -> None:
    config, store, site = fresh
    manifest = site / ".samizdat-build.json"
    state = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(state | {"digest": "old templates"}))
    result = build_site(config, store, changed=set())
    assert result.full and result.written == []  # same templates in fact: same bytes
    # A public address for the site: every page's share block and QR code change.
    site_url = "https://mirror.example/news/site"
    result = build_site(config, store, changed=set(), site_url=site_url)
    assert result.full and result.pages == 58 and result.qr_codes == 58
    page = tree(site / "pages/china/n3.html")
    address = f"{site_url}/pages/china/n3.html"
    assert page.findtext(".//code[@id='share-address']") == address
    with Image.open(site / "pages/china/n3.html.png") as image:
        (code,) = zxingcpp.read_barcodes(image)
    assert code.text == address
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.entries[0].link == f"{site_url}/pages/china/n54.html"
    assert f"<loc>{site_url}/index.html</loc>" in (site / "sitemap.xml").read_text()
    # Back to no site address: the page's QR code is the Markdown page's (same address)
    # again, a copy: a hard link would make the Markdown render rewrite both in place.
    build_site(config, store, changed=set())
    md_png = config.site.output / "pages/china/n3.md.png"
    html_png = site / "pages/china/n3.html.png"
    assert html_png.read_bytes() == md_png.read_bytes()
    assert not html_png.samefile(md_png)


def test_qr_code_of_the_default_address_reads_back(built: tuple[Config, Store, Path]) -> None:
    _, _, site = built
    with Image.open(site / "pages/world/w1.html.png") as image:
        (code,) = zxingcpp.read_barcodes(image)
    assert code.text == f"{BASE}/pages/world/w1.md"


def test_hostile_article_html_cannot_reach_the_page(fresh: tuple[Config, Store, Path]) -> None:
    """The store holds cleaned bodies; if one ever held markup it should not, the site's own
    sanitising pass still keeps it out."""
    config, store, site = fresh
    evil = '<p onclick="x()">a<script>alert(1)</script><a href="javascript:alert(1)">j</a></p><iframe src="https://evil.example/"></iframe>'
    store.save(
        article("world", "w0", 0, url="https://news.example/world/w0.html", html=evil),
        source="news",
        fingerprint="y",
        method="",
    )
    build_site(config, store, changed={("world", "w0")})
    body = tree(site / "pages/world/w0.html").find(".//div[@class='body']")
    markup = lxml.html.tostring(body, encoding="unicode")
    assert "script" not in markup and "onclick" not in markup and "javascript" not in markup
    assert "iframe" not in markup and "evil.example" not in markup


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "state.db"
    }


def test_worker_processes_write_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build spread over worker processes (as full builds of many pages are) writes the same
    bytes as one process, and counts the same."""
    import samizdat.render.articles
    import samizdat.render.pool

    trees, results = [], []
    for name, pool_min in (("one", 10**9), ("pool", 1)):
        monkeypatch.setattr(samizdat.render.pool, "POOL_MIN", pool_min)
        for module in (samizdat.render.pool, samizdat.render.articles):
            monkeypatch.setattr(module, "CHUNK", 7)  # several tasks per channel
        config = make_config(tmp_path / name)
        with Store(config.site.state) as store:
            fill(config, store)
            build(config, store, full=True)
            # A new base URL: every page and QR code is replaced, through spare files.
            moved = dataclasses.replace(config.site, base_url="https://elsewhere.example/m")
            config = dataclasses.replace(config, site=moved)
            results.append(build(config, store, full=True))
        trees.append(_tree(config.site.output))
        assert not [p for p in trees[-1] if "spare" in p]  # each process removed its spares
    one, pool = results
    assert pool.worker_cpu > 0 and one.worker_cpu == 0  # the workers did run
    assert (pool.pages, pool.qr_codes) == (one.pages, one.qr_codes) == (58, 58)
    assert pool.site_pages == one.site_pages == 58
    assert trees[0].keys() == trees[1].keys() and len(trees[0]) > 200
    assert trees[0] == trees[1]


def test_search_recent_shards_merge_into_the_main_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New documents go to the recent shards; past RECENT_DOCS they move to the main shards,
    and a search finds the same pages either way."""
    from samizdat.site import search as index

    monkeypatch.setattr(index, "RECENT_DOCS", 5)
    site = tmp_path / "site"

    def doc(n: int) -> index.Doc:
        words = "台风 芯片" if n % 2 else "台风 市场"
        return index.Doc(f"pages/c/n{n}.html", f"标题{n}", "2024-01-01", "频道", f"{words} 第{n}篇")

    docs = [doc(n) for n in range(10)]
    index.build_search(site, docs, None)
    assert all(index_file(site, f"r/{n}") == {} for n in range(index.RECENT_SHARDS))
    for n in range(10, 14):  # under the limit: only recent shards, chunks and meta change
        docs.append(doc(n))
        written = index.build_search(site, docs, {docs[-1].path})
        assert not any(w.startswith("search/s/") for w in written)
    meta = index_file(site, "meta")
    assert meta["base"] == 10 and meta["docs"] == 14
    assert search(site, "芯片") == [f"pages/c/n{n}.html" for n in (13, 11, 9, 7, 5, 3, 1)]
    docs += [doc(14), doc(15)]  # past the limit: merged
    written = index.build_search(site, docs, {d.path for d in docs[-2:]})
    assert any(w.startswith("search/s/") for w in written)
    meta = index_file(site, "meta")
    assert meta["base"] == meta["docs"] == 16
    assert all(index_file(site, f"r/{n}") == {} for n in range(index.RECENT_SHARDS))
    assert search(site, "芯片") == [f"pages/c/n{n}.html" for n in (15, 13, 11, 9, 7, 5, 3, 1)]
    assert search(site, "台风") == [f"pages/c/n{n}.html" for n in range(15, -1, -1)]


def test_a_script_without_a_main_guard_still_builds(tmp_path: Path) -> None:
    """multiprocessing's workers import the calling script again: one without the
    `if __name__ == "__main__"` guard breaks them, and the build is done in one process."""
    project = Path(__file__).resolve().parent.parent
    script = tmp_path / "unguarded.py"
    script.write_text(
        f"""
import logging, sys
sys.path.insert(0, {str(project)!r})
import samizdat.build, samizdat.render.pool, samizdat.render.tree, samizdat.site.build
from samizdat.build import build
from samizdat.store import Store
from tests.test_site import fill, make_config
from pathlib import Path

logging.basicConfig(level=logging.WARNING)
samizdat.render.pool.POOL_MIN = 1
for module in (samizdat.render.pool, samizdat.render.tree, samizdat.site.build):
    module.CHUNK = 7
config = make_config(Path({str(tmp_path)!r}))
with Store(config.site.state) as store:
    if not store.counts():
        fill(config, store)
    result = build(config, store, full=True)
print("pages", result.pages, "qr", result.qr_codes)
"""
    )
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert "pages 58 qr 58" in run.stdout
    assert "rendering in one process" in run.stderr
    assert (tmp_path / "mirror" / "site" / "pages" / "china" / "n3.html").is_file()


def test_feed_drops_characters_xml_forbids() -> None:
    from samizdat.site.feeds import Entry, atom_feed

    when = datetime(2023, 5, 1, tzinfo=UTC)
    entry = Entry("pages/c/a.html", "标题\x01\x0b 新闻\t一", when, "摘要\x1f。\n第二行", "c/a")
    xml = atom_feed(
        title="频道\x00", path="feeds/c.xml", entries=[entry], site_url="", updated=when
    )
    feed = lxml.etree.fromstring(xml)  # well-formed XML 1.0
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert feed.findtext("a:title", namespaces=ns) == "频道"
    assert feed.findtext("a:entry/a:title", namespaces=ns) == "标题 新闻\t一"
    assert (
        feed.findtext("a:entry/a:summary", namespaces=ns) == "摘要 。 第二行"
    )  # \x1f is a space to split()


def test_navigation_maps_the_menu_to_site_pages() -> None:
    from samizdat.site.pages import NavLink, navigation

    menu = [
        ("首页", "README.md"),
        ("大陆", "/indexes/china.md"),
        ("更早", "./indexes/china-earlier.md"),  # the same channel page: once
        ("一篇", "pages/china/n3.md"),
        ("热门", "hot.md"),
        ("外站", "https://example.org/about"),
        ("图片", "images/ab/x.jpg"),  # no page in the site
        ("脚本", "javascript:alert(1)"),
        ("上层", "../secret.md"),
    ]
    assert navigation(menu, has_hot=True) == (
        NavLink("首页", "index.html"),
        NavLink("大陆", "indexes/china.html"),
        NavLink("一篇", "pages/china/n3.html"),
        NavLink("热门", "hot.html"),
        NavLink("外站", "https://example.org/about", local=False),
        NavLink("搜索", "search.html"),
    )
    # No hot page yet: no link to it, even from the menu. No menu: home, then search.
    assert [link.href for link in navigation(menu, has_hot=False)][3:] == [
        "https://example.org/about",
        "search.html",
    ]
    assert [link.href for link in navigation([], has_hot=False)] == ["index.html", "search.html"]


def test_site_pages_show_the_menu(tmp_path: Path) -> None:
    from samizdat.config import MenuLink

    config = make_config(tmp_path)
    menu = (MenuLink("首页", "README.md"), MenuLink("世界", "indexes/world.md"))
    config = dataclasses.replace(config, site=dataclasses.replace(config.site, menu=menu))
    with Store(config.site.state) as store:
        fill(config, store)
        build(config, store, full=True)
    site = config.site.output / "site"
    for page in ("index.html", "indexes/china.html", "pages/china/n3.html"):
        nav = tree(site / page).find(".//header/nav")
        links = [(a.text, a.get("href")) for a in nav.iter("a")]
        assert [text for text, _ in links] == ["首页", "世界", "搜索"], page
        for _, href in links:  # relative, and each leads to a page of the site
            assert (site / page).parent.joinpath(href).resolve().is_file(), (page, href)


def test_a_build_removes_spares_a_killed_render_left(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Store(config.site.state) as store:
        fill(config, store)
        build(config, store, full=True)
        out = config.site.output
        for root in (out, out / "site"):
            (root / ".samizdat-spare-4242-0.tmp").write_text("an old page")
        build(config, store, full=True)
    assert not list(out.rglob(".samizdat-spare-*"))


def test_a_page_links_to_an_article_mirrored_after_it(fresh: tuple[Config, Store, Path]) -> None:
    """A page written before the article it links to was mirrored links to the original; the
    cycle that mirrors that article renders the page again, both outputs, to link to it; and
    when the article is purged, back to the original."""
    config, store, site = fresh
    out = config.site.output
    later = "https://news.example/world/later.html"
    body = f'<p>See <a href="{later}">the follow-up</a>.</p>'
    linking = article("world", "w9", 9, url="https://news.example/world/w9.html", html=body)
    store.save(linking, source="news", fingerprint="", method="")
    build(config, store)
    assert f"]({later})" in (out / "pages/world/w9.md").read_text()
    assert tree(site / "pages/world/w9.html").find(".//div[@class='body']//a").get("href") == later

    # Mirrored later, though published before w9 (a follow-up to an older story).
    follow_up = article("world", "later", 5, url=later, html="<p>Later.</p>")
    store.save(follow_up, source="news", fingerprint="", method="")
    result = build(config, store)
    assert not result.full and result.pages == 2  # the new page, and the page linking to it
    assert "](../../pages/world/later.md)" in (out / "pages/world/w9.md").read_text()
    link = tree(site / "pages/world/w9.html").find(".//div[@class='body']//a")
    assert link.get("href") == "../../pages/world/later.html"

    assert "later" in store.purge("world", 1)  # w9, the newest, stays
    build(config, store)
    assert f"]({later})" in (out / "pages/world/w9.md").read_text()
    assert tree(site / "pages/world/w9.html").find(".//div[@class='body']//a").get("href") == later


def test_an_earlier_index_no_longer_needed_is_removed(fresh: tuple[Config, Store, Path]) -> None:
    config, store, _ = fresh
    publish = dataclasses.replace(config.publish, index_size=50)
    config = dataclasses.replace(config, publish=publish)
    build(config, store)
    earlier = config.site.output / "indexes/china-earlier.md"
    assert earlier.is_file()  # 55 articles, 50 a index
    store.purge("china", 50)
    result = build(config, store)
    assert not earlier.exists() and result.removed >= 1
    assert "china-earlier.md" not in (config.site.output / "indexes/china.md").read_text()
