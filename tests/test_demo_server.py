"""SiteServer over real loopback HTTP, and the integrity of the two bundled sites it serves."""

from __future__ import annotations

import http.client
import threading
import time
import tomllib
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import httpx
import lxml.html
import pytest

from samizdat.demo.server import SiteServer

REPO = Path(__file__).resolve().parent.parent
DEMO_SITE = REPO / "samizdat" / "demo" / "site"
FIXTURE_SITE = REPO / "tests" / "data" / "site"

SOURCE_KEYS = {
    "id", "title", "exclude_titles", "refresh_titles", "content", "image", "caption",
    "remove", "feed_content", "channels",
}  # fmt: skip
CHANNEL_KEYS = {"id", "title", "feed", "list", "items"}


def make_site(root: Path, files: dict[str, bytes], routes: str = "") -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if routes:
        (root / "_routes.toml").write_text(routes, encoding="utf-8")
    return root


@pytest.fixture
def client() -> httpx.Client:
    with httpx.Client(timeout=5) as c:
        yield c


# -- the server ----------------------------------------------------------------------------


def test_placeholder_is_replaced_in_text_files_and_bytes_survive(tmp_path, client):
    gbk = "<meta charset=gb2312><a href='{{BASE}}/x.htm'>新闻</a>".encode("gbk")
    site = make_site(
        tmp_path,
        {
            "page.html": b"<a href='{{BASE}}/a.htm'>a</a>",
            "feed.xml": b"<link>{{BASE}}/feed.xml</link>",
            "gbk.htm": gbk,
            "img.png": b"\x89PNG{{BASE}}",  # binary: left alone
        },
    )
    with SiteServer(site) as server:
        base = server.base_url.encode()
        assert server.base_url.startswith("http://127.0.0.1:")
        assert (
            client.get(server.url("/page.html")).content == b"<a href='" + base + b"/a.htm'>a</a>"
        )
        assert client.get(server.url("/feed.xml")).content == b"<link>" + base + b"/feed.xml</link>"
        got = client.get(server.url("/gbk.htm")).content
        assert got == gbk.replace(b"{{BASE}}", base)
        assert got.decode("gbk").endswith("新闻</a>")
        assert client.get(server.url("/img.png")).content == b"\x89PNG{{BASE}}"


def test_content_type_announces_utf8_only_for_utf8_text(tmp_path, client):
    site = make_site(
        tmp_path,
        {"u.html": "新闻".encode(), "g.htm": "新闻".encode("gbk"), "p.jpg": b"\xff\xd8\xff"},
    )
    with SiteServer(site) as server:
        assert client.get(server.url("/u.html")).headers["content-type"] == (
            "text/html; charset=utf-8"
        )
        assert client.get(server.url("/g.htm")).headers["content-type"] == "text/html"
        assert client.get(server.url("/p.jpg")).headers["content-type"] == "image/jpeg"


def test_missing_file_is_404_and_paths_cannot_escape_the_root(tmp_path, client):
    site = make_site(tmp_path / "site", {"index.html": b"home"})
    (tmp_path / "secret.txt").write_text("secret")
    with SiteServer(site) as server:
        assert client.get(server.url("/nope.htm")).status_code == 404
        assert client.get(server.url("/")).content == b"home"
        # http.client sends the path verbatim (httpx would normalise the dots away).
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/../secret.txt")
        response = conn.getresponse()
        assert response.status == 404
        assert b"secret" not in response.read()
        conn.close()


def test_status_sequence_then_last_status_repeats(tmp_path, client):
    site = make_site(
        tmp_path, {"flaky.htm": b"finally"}, '["/flaky.htm"]\nstatus = [500, 500, 200]\n'
    )
    with SiteServer(site) as server:
        got = [client.get(server.url("/flaky.htm")) for _ in range(4)]
        assert [r.status_code for r in got] == [500, 500, 200, 200]
        assert got[2].content == b"finally"
        assert server.hits["/flaky.htm"] == 4
        server.reset()
        assert client.get(server.url("/flaky.htm")).status_code == 500


def test_default_etag_gives_304(tmp_path, client):
    site = make_site(tmp_path, {"a.htm": b"<p>{{BASE}}</p>"})
    with SiteServer(site) as server:
        first = client.get(server.url("/a.htm"))
        etag = first.headers["etag"]
        again = client.get(server.url("/a.htm"), headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        other = client.get(server.url("/a.htm"), headers={"If-None-Match": '"stale"'})
        assert other.status_code == 200
        assert other.content == first.content


def test_route_validators_last_modified_and_no_etag(tmp_path, client):
    routes = (
        '["/feed.xml"]\netag = false\nlast_modified = "Mon, 22 May 2023 10:00:00 GMT"\n'
        '["/tagged.xml"]\netag = \'"v1"\'\n'
    )
    site = make_site(tmp_path, {"feed.xml": b"<rss/>", "tagged.xml": b"<rss/>"}, routes)
    with SiteServer(site) as server:
        first = client.get(server.url("/feed.xml"))
        assert "etag" not in first.headers
        assert first.headers["last-modified"] == "Mon, 22 May 2023 10:00:00 GMT"
        same = {"If-Modified-Since": "Mon, 22 May 2023 10:00:00 GMT"}
        older = {"If-Modified-Since": "Sun, 21 May 2023 10:00:00 GMT"}
        assert client.get(server.url("/feed.xml"), headers=same).status_code == 304
        assert client.get(server.url("/feed.xml"), headers=older).status_code == 200
        tagged = client.get(server.url("/tagged.xml"), headers={"If-None-Match": '"v1"'})
        assert tagged.status_code == 304
        assert tagged.headers["etag"] == '"v1"'


def test_redirect_and_content_type_override(tmp_path, client):
    routes = (
        '["/old.htm"]\nstatus = 301\nredirect = "/new.htm"\n'
        '["/new.htm"]\ncontent_type = "text/html; charset=iso-8859-1"\n'
    )
    site = make_site(tmp_path, {"new.htm": "新".encode()}, routes)
    with SiteServer(site) as server:
        moved = client.get(server.url("/old.htm"))
        assert moved.status_code == 301
        assert moved.headers["location"] == server.base_url + "/new.htm"
        final = client.get(server.url("/old.htm"), follow_redirects=True)
        assert final.headers["content-type"] == "text/html; charset=iso-8859-1"
        assert final.content == "新".encode()


def test_body_bytes_streams_a_huge_page(tmp_path):
    site = make_site(tmp_path, {}, '["/huge.htm"]\nbody_bytes = 5_000_000\n')
    with SiteServer(site) as server, httpx.Client(timeout=5) as client:
        assert client.head(server.url("/huge.htm")).headers["content-length"] == "5000000"
        with client.stream("GET", server.url("/huge.htm")) as response:
            chunk = next(response.iter_bytes())
            assert chunk.startswith(b"<!DOCTYPE html>")
        # A client that hangs up early (a size cap) leaves the server healthy.
        full = client.get(server.url("/huge.htm"))
        assert len(full.content) == 5_000_000


def test_delay_applies_to_every_response_without_serialising_them(tmp_path):
    site = make_site(tmp_path, {f"{i}.htm": b"x" for i in range(5)})
    with SiteServer(site, delay=0.4) as server, httpx.Client(timeout=5) as client:
        results: list[int] = []

        def fetch(i: int) -> None:
            results.append(client.get(server.url(f"/{i}.htm")).status_code)

        started = time.monotonic()
        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    assert results == [200] * 5
    assert elapsed >= 0.4  # the delay applies
    # Not serialised: several requests were inside their delay at once. (Counted, not timed:
    # the machines are shared and noisy.)
    assert server.peak_in_flight >= 2


def test_hanging_route_times_out_and_stop_does_not_wait_for_it(tmp_path):
    site = make_site(tmp_path, {"hang.htm": b"late"}, '["/hang.htm"]\ndelay = 30\n')
    server = SiteServer(site).start()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url("/hang.htm"), timeout=0.3)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 10  # not the 30 s the route sleeps
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url("/hang.htm"), timeout=1)


def test_server_is_quiet_and_records_requests(tmp_path, capfd):
    site = make_site(tmp_path, {"a.htm": b"a"})
    with SiteServer(site) as server:
        httpx.get(server.url("/a.htm?x=1"), headers={"User-Agent": "probe/1"}, timeout=5)
        httpx.get(server.url("/missing"), timeout=5)
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""
    assert server.hits == {"/a.htm": 1, "/missing": 1}
    assert server.log[0].headers["User-Agent"] == "probe/1"


def test_unknown_route_key_is_an_error(tmp_path):
    make_site(tmp_path, {}, '["/a.htm"]\nstatuss = 404\n')
    with pytest.raises(ValueError, match="statuss"):
        SiteServer(tmp_path)


# -- the bundled sites ---------------------------------------------------------------------


def load_sources(root: Path, base_url: str) -> list[dict]:
    text = (root / "sources.toml").read_text(encoding="utf-8").replace("{{BASE}}", base_url)
    return tomllib.loads(text)["sources"]


# The fixture site is served over the demo site: (its own folder, the demo's).
LAYERS = [(DEMO_SITE,), (FIXTURE_SITE, DEMO_SITE)]


@pytest.mark.parametrize("layers", LAYERS, ids=["demo", "fixture"])
def test_sources_toml_uses_spec_keys_only(layers):
    sources = load_sources(layers[0], "http://127.0.0.1:1")
    ids = [c["id"] for s in sources for c in s["channels"]]
    assert len(ids) == len(set(ids)), "channel ids are unique across the config"
    for source in sources:
        assert set(source) <= SOURCE_KEYS, source["id"]
        for channel in source["channels"]:
            assert set(channel) <= CHANNEL_KEYS, channel["id"]
            assert ("feed" in channel) != ("list" in channel), channel["id"]
            assert ("items" in channel) == ("list" in channel), channel["id"]


@pytest.mark.parametrize("root", [DEMO_SITE, FIXTURE_SITE], ids=["demo", "fixture"])
def test_readme_names_every_file(root):
    readme = (root / "README.md").read_text(encoding="utf-8")
    for path in root.rglob("*"):
        if path.is_file() and path.name != "README.md":
            rel = "/" + path.relative_to(root).as_posix()
            assert rel in readme, f"{rel} is not described in {root.name}/README.md"


@pytest.mark.parametrize("layers", LAYERS, ids=["demo", "fixture"])
def test_every_listed_article_and_its_images_are_served(layers, client):
    """Every channel yields items, and every item page (bar the failure cases) and image is 200."""
    with SiteServer(layers) as server:
        routes = server.routes
        failing = {p for p, r in routes.items() if r.statuses or r.delay or r.body_bytes}
        articles: dict[str, dict] = {}  # url -> its source's rules
        for source in load_sources(layers[0], server.base_url):
            for channel in source["channels"]:
                if "feed" in channel:
                    response = client.get(channel["feed"])
                    parsed = feedparser.parse(response.content)
                    links = [e.get("link") for e in parsed.entries if e.get("link")]
                else:
                    response = client.get(channel["list"])
                    page = lxml.html.fromstring(response.content)
                    hrefs = [a.get("href") for a in page.cssselect(channel["items"])]
                    links = [
                        urljoin(channel["list"], h)
                        for h in hrefs
                        if h and not h.startswith(("javascript:", "mailto:"))
                    ]
                assert response.status_code == 200, channel["id"]
                assert links, channel["id"]
                articles.update(dict.fromkeys(links, source))

        images: set[str] = set()
        for url, rules in sorted(articles.items()):
            path = unquote(urlsplit(url).path)
            if path in failing:
                continue
            response = client.get(url, follow_redirects=True)
            assert response.status_code == 200, path
            page = lxml.html.fromstring(response.content)
            # The source's documented selectors fit its pages.
            if "content" in rules:
                (body,) = page.cssselect(rules["content"])
                for selector in rules.get("remove", ()):
                    assert body.cssselect(selector), (path, selector)
            for key in ("image", "caption"):
                if key in rules:
                    assert page.cssselect(rules[key]), (path, key)
            for img in page.iter("img"):
                src = img.get("data-src") or img.get("src") or ""
                absolute = urljoin(url, src)
                if absolute.startswith(server.base_url + "/img/"):
                    images.add(absolute)
        assert len(images) >= 5
        for url in images:
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.headers["content-type"].startswith("image/"), url


def test_demo_feed_has_the_items_the_demo_relies_on(client):
    with SiteServer(DEMO_SITE) as server:
        rss = feedparser.parse(client.get(server.url("/gb/nsc413.xml")).content)
        atom = feedparser.parse(client.get(server.url("/en/business.atom")).content)
        gbk = client.get(server.url("/gb/23/5/25/n14003871.htm"))
    assert rss.version == "rss20" and not rss.bozo
    titles = [e.title for e in rss.entries]
    assert 4 <= len(titles) <= 5
    assert sum("更新" in t for t in titles) == 1
    assert sum("视频）" in t for t in titles) == 1
    assert all(e.content[0].value for e in rss.entries), "content:encoded on every item"
    links = [urlsplit(e.link).path for e in rss.entries]
    assert "/gb/23/5/26/n14004562.htm" in links
    assert atom.version == "atom10" and len(atom.entries) == 3
    assert all("content" not in e and e.summary for e in atom.entries), "teasers only"
    # The GBK page: declared gb2312 in a meta tag only, not decodable as UTF-8.
    assert gbk.headers["content-type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        gbk.content.decode("utf-8")
    assert b"charset=gb2312" in gbk.content
    assert "大陆青年失业率再创新高" in gbk.content.decode("gbk")
