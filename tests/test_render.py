"""Rendering: pages, indexes, home, QR codes and file writes.

Markdown is checked the way readers see it: rendered to HTML by markdown-it-py (CommonMark +
tables) and, when installed, by cmark-gfm (GitHub's own parser, with its autolink extension),
raw HTML let through so that any tag a source managed to inject would show.
"""

from __future__ import annotations

import errno
import hashlib
import html
import io
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
import zxingcpp
from markdown_it import MarkdownIt
from PIL import Image

from samizdat.config import ChannelConfig, Config, MenuLink, SiteConfig, SourceConfig
from samizdat.models import Article
from samizdat.render import qr
from samizdat.render.files import (
    SPARE_PREFIX,
    Spares,
    Writer,
    remove,
    remove_spares,
    write_if_changed,
)
from samizdat.render.indexes import render_home, render_index
from samizdat.render.markdown import body_to_markdown, escape_inline, escape_text
from samizdat.render.page import render_page

# The seed page lives beside the project on the team's machines and in CI (shared/reference).
SEED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "seed-page.md"
needs_seed = pytest.mark.skipif(not SEED.exists(), reason="shared/reference/seed-page.md not here")
BASE = "https://github.com/gfw-breaker/banned-news3/blob/master"
SEED_URL = "https://www.epochtimes.com/gb/23/5/26/n14004562.htm"
CAPTION = "2023年5月26日，美国和日本将发布一份联合声明，加强在芯片领域的合作。(Shutterstock)"
WORD_JOINER = "\u2060"  # escape_text puts one after the @ of an e-mail address

HOSTILE = [
    "*bold* [x](javascript:alert(1)) <img src=x onerror=alert(1)> # _u_ |a|b|",
    "# heading",
    "- item",
    "+ item",
    "1. item",
    "2) item",
    "> quote",
    "---",
    "===",
    "<script>alert(1)</script>",
    "`code` ``more``",
    "~~gone~~ ~one~",
    "![img](http://evil.example/x.png)",
    "[ref]: http://evil.example/",
    "[^1] [!NOTE]",
    "&lt;b&gt; &amp; &#60;i&#62;",
    "<http://evil.example/> <mail@evil.example>",
    "see https://evil.example/a_b_c and www.evil.example and mail@evil.example",
    "trailing backslash \\",
    "__strong__ **strong** _em_",
    "$x^2$ and $$y$$",
    "| a | b |\n|---|---|",
    "line one\n# line two\n- line three",
    "<!-- c --> <b>b</b> <a href='http://evil.example'>a</a>",
]


# --------------------------------------------------------------------------- renderers


def _markdown_it(text: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)


def _cmark_gfm(text: str) -> str:
    cmarkgfm = pytest.importorskip("cmarkgfm")
    from cmarkgfm.cmark import Options

    # No tagfilter: an injected tag must come out as a tag for the test to see it.
    return cmarkgfm.markdown_to_html_with_extensions(
        text, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "autolink", "strikethrough"]
    )


@pytest.fixture(params=["markdown-it", "cmark-gfm"])
def to_html(request: pytest.FixtureRequest) -> Callable[[str], str]:
    return _markdown_it if request.param == "markdown-it" else _cmark_gfm


def _tree(rendered: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(rendered, create_parent="div")


def _tags(rendered: str) -> Counter[str]:
    return Counter(e.tag for e in _tree(rendered).iter() if isinstance(e.tag, str))


def _text(element: lxml.html.HtmlElement) -> str:
    return element.text_content().replace(WORD_JOINER, "")


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


# --------------------------------------------------------------------------- fixtures


def _site(**changes: object) -> SiteConfig:
    values: dict[str, object] = {
        "title": "禁闻聚合",
        "output": Path("mirror"),
        "state": Path("samizdat.db"),
        "base_url": BASE,
        "menu": (
            MenuLink("首页", "README.md"),
            MenuLink("翻墙教程", "https://github.com/gfw-breaker/guides/wiki"),
            MenuLink("热门", "/hot.md"),
        ),
    }
    values.update(changes)
    return SiteConfig(**values)  # type: ignore[arg-type]


def _seed_body() -> str:
    """The seed page's body, as `clean.relink` leaves it: links to the blocked host unlinked."""
    if not SEED.exists():
        return "<p>【大纪元2023年05月26日讯】路透社报导。</p><p>责任编辑：林妍#</p>"
    seed = SEED.read_text(encoding="utf-8")
    start = seed.index("<div><p>")
    end = seed.index("</div>\n<hr/>\n手机") + len("</div>")
    return re.sub(r"</?ok[^>]*>", "", seed[start:end])


def _article(**changes: object) -> Article:
    values: dict[str, object] = {
        "channel": "nsc413",
        "slug": "n14004562",
        "url": SEED_URL,
        "title": "美日将发布联合声明 加深芯片合作",
        "html": _seed_body(),
        "text": "",
        "published": datetime(2023, 5, 26, 8, 0, tzinfo=UTC),
        "image": "images/3f/3fa1c2.jpeg",
        "caption": CAPTION,
    }
    values.update(changes)
    return Article(**values)  # type: ignore[arg-type]


def _page(article: Article | None = None, site: SiteConfig | None = None) -> str:
    article = article or _article()
    return render_page(article, site or _site(), public_url=f"{BASE}/{article.path}")


# --------------------------------------------------------------------------- the seed article


@needs_seed
def test_seed_page_blocks_in_seed_order() -> None:
    page = _page(site=_site(counter_url="http://counter.example/banned-news3"))
    public = f"{BASE}/pages/nsc413/n14004562.md"
    lines = page.splitlines()
    assert lines[0] == "### 美日将发布联合声明 加深芯片合作"
    wiki = "https://github.com/gfw-breaker/guides/wiki"
    menu = f"#### [首页](../../README.md) | [翻墙教程]({wiki}) | [热门](../../hot.md)"
    markers = [
        "### 美日将发布联合声明",
        menu,
        "](../../images/3f/3fa1c2.jpeg)",
        f"*{escape_inline(CAPTION)}*",
        "---",
        "【大纪元2023年05月26日讯】",
        "日本成立了新的芯片制造商Rapidus。",
        "责任编辑：林妍#",
        "手机上长按并复制下列链接或二维码分享本文章：",
        f"<{public}>",
        f"[![本文二维码](n14004562.md.png)]({public})",
        "原文地址（需翻墙访问）：" + escape_inline(SEED_URL),
        menu,
        '<img src="http://counter.example/banned-news3/pages/nsc413/n14004562.md"'
        ' width="1" height="1" alt="">',
    ]
    positions, at = [], 0
    for marker in markers:
        at = page.index(marker, at)
        positions.append(at)
        at += len(marker)
    assert positions == sorted(positions)
    assert page.count(menu) == 2
    assert page.endswith('alt="">\n')


@needs_seed
def test_seed_page_as_readers_see_it(to_html: Callable[[str], str]) -> None:
    rendered = to_html(_page())
    tree = _tree(rendered)
    assert _text(tree.xpath("//h3")[0]) == "美日将发布联合声明 加深芯片合作"
    # Every paragraph of the seed body is there, in order, as one paragraph each.
    seed_paragraphs = [" ".join(p.text_content().split()) for p in _tree(_seed_body()).iter("p")]
    page_paragraphs = [" ".join(_text(p).split()) for p in tree.iter("p")]
    found = [page_paragraphs.index(p) for p in seed_paragraphs]
    assert found == sorted(found) and len(found) == 10
    # The lead image, loaded from the mirror, not from the source's host.
    lead = tree.xpath("//img")[0]
    assert lead.get("src") == "../../images/3f/3fa1c2.jpeg"
    assert lead.get("alt") == CAPTION
    assert tree.xpath("//em")[0].text_content() == CAPTION
    # Share block: the public address, shown whole and linked; the QR code by relative path.
    public = f"{BASE}/pages/nsc413/n14004562.md"
    share = [a for a in tree.iter("a") if a.get("href") == public]
    assert share[0].text_content() == public
    assert share[1].xpath("img/@src") == ["n14004562.md.png"]
    # The original address is text: no renderer may turn it into a link.
    assert "原文地址（需翻墙访问）：" + SEED_URL in _text(tree)
    assert not [a for a in tree.iter("a") if "epochtimes.com" in (a.get("href") or "")]
    # No counter configured, no pixel.
    assert not [i for i in tree.iter("img") if i.get("width") == "1"]


def test_counter_pixel_only_with_counter_url() -> None:
    assert "<img src=" not in _page()
    page = _page(site=_site(counter_url='https://c.example/count?site=a&b="x"'))
    pixel = page.rstrip("\n").splitlines()[-1]
    assert pixel == (
        '<img src="https://c.example/count?site=a&amp;b=%22x%22/pages/nsc413/n14004562.md"'
        ' width="1" height="1" alt="">'
    )
    img = _tree(_markdown_it(page)).xpath("//img[@width='1']")[0]
    assert img.get("src") == "https://c.example/count?site=a&b=%22x%22/pages/nsc413/n14004562.md"


def test_menu_rewritten_for_each_folder() -> None:
    site = _site()
    page_menu = _page(site=site).splitlines()[4]
    assert "(../../README.md)" in page_menu and "(../../hot.md)" in page_menu
    assert "(https://github.com/gfw-breaker/guides/wiki)" in page_menu
    channel = ChannelConfig("nsc413", "大陆新闻", feed="https://x.example/f.xml")
    source = SourceConfig("epoch", "大纪元", (channel,))
    index = render_index(channel, source, [_article()], index_size=10, site=site)[
        "indexes/nsc413.md"
    ]
    wiki = "https://github.com/gfw-breaker/guides/wiki"
    assert f"#### [首页](../README.md) | [翻墙教程]({wiki}) | [热门](../hot.md)" in index
    home = render_home(Config(Path("c.toml"), site, (source,)), {"nsc413": 1})
    assert f"#### [首页](README.md) | [翻墙教程]({wiki}) | [热门](hot.md)" in home
    # No menu configured: a page still links home.
    assert "#### [首页](../../README.md)\n" in _page(site=_site(menu=()))


def test_image_base_url_and_absolute_images() -> None:
    site = _site(image_base_url="https://cdn.example/gh/o/r@master")
    body = '<p>x</p><figure><img src="images/aa/bb.png" alt="a"><figcaption>c</figcaption></figure>'
    page = _page(_article(html=body), site)
    assert "](https://cdn.example/gh/o/r@master/images/3f/3fa1c2.jpeg)" in page
    assert "![a](https://cdn.example/gh/o/r@master/images/aa/bb.png)" in page
    page = _page(_article(image="https://img.example/a b.jpg?x=1&amp;y=2&z", caption=None))
    assert (
        "![美日将发布联合声明 加深芯片合作](https://img.example/a%20b.jpg?x=1%26amp;y=2&z)" in page
    )
    src = _tree(_markdown_it(page)).xpath("//img/@src")[0]
    assert src == "https://img.example/a%20b.jpg?x=1%26amp;y=2&z"
    # A lead image that is no image address at all is left out, not linked.
    page = _page(_article(image="javascript:alert(1)"))
    assert "javascript" not in page


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_title_stays_text_in_page(title: str, to_html: Callable[[str], str]) -> None:
    plain = to_html(_page(_article(title="plain", caption="plain")))
    hostile = to_html(_page(_article(title=title, caption=title)))
    # The same elements as a page with a plain title: no link, image, emphasis or tag added.
    assert _tags(hostile) == _tags(plain)
    tree = _tree(hostile)
    heading = tree.xpath("//h3")[0]
    assert len(heading) == 0 and _same_text(_text(heading), title)
    assert _same_text(tree.xpath("//img")[0].get("alt").replace(WORD_JOINER, ""), title)


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_title_stays_text_in_index(title: str, to_html: Callable[[str], str]) -> None:
    channel = ChannelConfig("nsc413", "大陆新闻", feed="https://x.example/f.xml")
    source = SourceConfig("epoch", "大纪元", (channel,))
    articles = [_article(slug="a1", title=title), _article(slug="a2", title="plain")]
    index = render_index(channel, source, articles, index_size=10, site=_site())
    tree = _tree(to_html(index["indexes/nsc413.md"]))
    entries = [h for h in tree.iter("h4") if h.xpath("a[contains(@href, 'pages/')]")]
    assert len(entries) == 2
    for entry, article in zip(entries, articles, strict=True):
        (anchor,) = entry  # the heading holds one link and nothing else
        assert anchor.tag == "a" and len(anchor) == 0
        assert anchor.get("href") == f"../pages/nsc413/{article.slug}.md"
        assert _same_text(_text(anchor), article.title)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_body_text_stays_text(text: str, to_html: Callable[[str], str]) -> None:
    body = f"<p>{html.escape(text)}</p><ul><li>{html.escape(text)}</li></ul>"
    tree = _tree(to_html(body_to_markdown(body, root="../../")))
    assert [e.tag for e in tree.iter() if isinstance(e.tag, str)] == ["div", "p", "ul", "li"]
    assert _same_text(_text(tree[0]), text) and _same_text(_text(tree[1]), text)


def test_hostile_caption_original_url_and_alt(to_html: Callable[[str], str]) -> None:
    evil_url = "https://evil.example/a_(b)*c*?x=<img src=x>&y=[z](javascript:1)"
    article = _article(
        url=evil_url,
        caption=HOSTILE[0],
        html='<p><img src="images/x.png" alt="](javascript:alert(1))"></p>',
    )
    plain = _article(
        url="https://x.example/a", caption="plain", html='<p><img src="images/x.png" alt="a"></p>'
    )
    hostile_html, plain_html = to_html(_page(article)), to_html(_page(plain))
    assert _tags(hostile_html) == _tags(plain_html)
    assert "原文地址（需翻墙访问）：" + evil_url in _text(_tree(hostile_html))
    images = _tree(hostile_html).xpath("//img")
    assert images[1].get("src") == "../../images/x.png"
    assert images[1].get("alt") == "](javascript:alert(1))"


def test_bare_addresses_in_text_are_not_autolinked() -> None:
    text = "见 https://evil.example/x 或 www.evil.example 或 tips@evil.example"
    rendered = _cmark_gfm(body_to_markdown(f"<p>{text}</p>", root=""))
    assert "<a" not in rendered
    assert _text(_tree(rendered)).strip() == text


def test_escape_inline_is_one_line() -> None:
    assert "\n" not in escape_inline("a\n# b\r\n- c")
    assert escape_inline("  a \t b  ") == "a b"
    assert escape_text("a*b") == "a\\*b"
    assert escape_text("$x$") == "\\$x\\$"  # GitHub's math; neither test renderer has it


# --------------------------------------------------------------------------- body structure

STRUCTURE = """<h4>小标题</h4><p>第一段<em>强调</em>和<strong>“引文”</strong>中文。<br>第二行</p>
<ul><li>甲 <a href="../other/x.md">站内</a></li><li>乙<ul><li>乙一</li></ul></li></ul>
<ol start="3"><li>三</li><li>四</li></ol>
<blockquote><p>引用</p><p>第二段</p></blockquote>
<table><caption>表 1</caption><thead><tr><th>名|称</th><th>值</th></tr></thead>
<tbody><tr><td><code>a|b</code></td><td>2</td></tr></tbody></table>
<figure><img src="images/a/b.jpg" alt="图"><figcaption>图说：某人（摄影）</figcaption></figure>
<pre><code>code ``` with
  indent
```
# not a heading</code></pre>
<h5>下一级</h5><p>inline <code>x</code>, <a href="javascript:alert(1)">js</a>,
<a href="https://ok.example/p?q=1 2">ok</a>,
<img src="data:image/png;base64,AAAA" alt="data">.<br></p>"""


def test_structure_is_kept(to_html: Callable[[str], str]) -> None:
    markdown = body_to_markdown(STRUCTURE, root="../../")
    tree = _tree(to_html(markdown))
    assert [_text(h) for h in tree.xpath("//h4|//h5")] == ["小标题", "下一级"]
    assert [e.text_content() for e in tree.xpath("//p[1]/em|//p[1]/strong")] == ["强调", "“引文”"]
    assert tree.xpath("//p[1]/br")
    assert [li.text.strip() for li in tree.xpath("/div/ul/li")] == ["甲", "乙"]
    assert tree.xpath("/div/ul/li[2]/ul/li/text()") == ["乙一"]
    assert tree.xpath("//ol/@start") == ["3"] and tree.xpath("//ol/li/text()") == ["三", "四"]
    assert [p.text for p in tree.xpath("//blockquote/p")] == ["引用", "第二段"]
    assert tree.xpath("//table/thead/tr/th/text()") == ["名|称", "值"]
    assert tree.xpath("//table/tbody/tr/td/code/text()") == ["a|b"]
    assert tree.xpath("//table/preceding-sibling::p[1]/em/text()") == ["表 1"]
    figure = tree.xpath("//img[@alt='图']")[0]
    assert figure.get("src") == "../../images/a/b.jpg"
    assert figure.getparent().getnext().xpath("em/text()") == ["图说：某人（摄影）"]
    assert tree.xpath("//pre/code/text()") == ["code ``` with\n  indent\n```\n# not a heading\n"]
    links = {a.text_content(): a.get("href") for a in tree.iter("a")}
    assert links == {"站内": "../other/x.md", "ok": "https://ok.example/p?q=1%202"}
    assert not tree.xpath("//img[starts-with(@src, 'data:')]")
    assert "\\" not in _text(tree)  # no lone backslash from the trailing <br>


def test_headings_go_below_the_title() -> None:
    assert body_to_markdown("<h2>a</h2><h3>b</h3>", root="").splitlines()[::2] == [
        "#### a",
        "##### b",
    ]
    assert body_to_markdown("<h4>a</h4><h6>b</h6>", root="").splitlines()[::2] == [
        "#### a",
        "###### b",
    ]


def test_rendering_is_deterministic() -> None:
    site = _site(counter_url="https://c.example")
    page = _page(_article(html=STRUCTURE), site)
    assert page == _page(_article(html=STRUCTURE), site)
    digest = hashlib.sha256(page.encode()).hexdigest()
    project = str(Path(__file__).resolve().parents[1])
    script = (
        f"import sys, hashlib; sys.path.insert(0, {project!r}); import tests.test_render as t;"
        "page = t._page(t._article(html=t.STRUCTURE), t._site(counter_url='https://c.example'));"
        "print(hashlib.sha256(page.encode()).hexdigest())"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == digest
    assert qr.qr_png("https://x.example/p.md") == qr.qr_png("https://x.example/p.md")


# --------------------------------------------------------------------------- indexes and home


def _channel_articles(count: int) -> list[Article]:
    return [_article(slug=f"n{count - i}", title=f"标题 {count - i}") for i in range(count)]


def test_index_splits_into_earlier_page() -> None:
    channel = ChannelConfig("nsc413", "大陆新闻", feed="https://x.example/f.xml")
    source = SourceConfig("epoch", "大纪元", (channel,))
    articles = _channel_articles(5)
    files = render_index(channel, source, articles, index_size=3, site=_site())
    assert sorted(files) == ["indexes/nsc413-earlier.md", "indexes/nsc413.md"]
    main, earlier = files["indexes/nsc413.md"], files["indexes/nsc413-earlier.md"]
    entries = re.findall(r"^#### \[(.*)\]\(\.\./pages/nsc413/(n\d)\.md\)$", main, re.M)
    assert entries == [("标题 5", "n5"), ("标题 4", "n4"), ("标题 3", "n3")]
    assert main.splitlines()[0] == "### 大纪元：大陆新闻"
    assert main.rstrip().endswith("#### [更早的文章](nsc413-earlier.md)")
    assert re.findall(r"pages/nsc413/(n\d)\.md", earlier) == ["n2", "n1"]
    assert "(nsc413.md)" in earlier
    only = render_index(channel, source, articles, index_size=5, site=_site())
    assert list(only) == ["indexes/nsc413.md"] and "earlier" not in only["indexes/nsc413.md"]
    empty = render_index(channel, source, [], index_size=5, site=_site())
    assert "pages/" not in empty["indexes/nsc413.md"]


def test_index_paths_are_encoded() -> None:
    channel = ChannelConfig("c", "C", feed="https://x.example/f.xml")
    source = SourceConfig("s", "S", (channel,))
    index = render_index(
        channel, source, [_article(channel="c", slug="中文 (1)")], index_size=5, site=_site()
    )
    assert "(../pages/c/%E4%B8%AD%E6%96%87%20%281%29.md)" in index["indexes/c.md"]


def test_home_lines() -> None:
    a, b, c = (
        ChannelConfig(i, t, feed="https://x.example/f.xml")
        for i, t in (("nsc413", "大陆新闻"), ("prog1", "中国*时局"), ("ntd", "新闻"))
    )
    sources = (SourceConfig("epoch", "大纪元新闻网", (a, b)), SourceConfig("ntd", "新唐人", (c,)))
    config = Config(Path("samizdat.toml"), _site(), sources)
    home = render_home(config, {"nsc413": 12, "prog1": 30})
    lines = [line for line in home.splitlines() if line]
    assert lines[0] == "### 禁闻聚合"
    first = "#### 大纪元新闻网：[大陆新闻](indexes/nsc413.md)（12）"
    assert f"{first} | [中国\\*时局](indexes/prog1.md)（30）" in lines
    assert "#### 新唐人：[新闻](indexes/ntd.md)（0）" in lines
    assert "hot.md)\n" not in home.replace("[热门](hot.md)", "")
    assert "#### [热门文章](hot.md)" in render_home(config, {}, has_hot=True)


# --------------------------------------------------------------------------- QR codes


def _decode(png: bytes) -> tuple[str, tuple[int, int]]:
    image = Image.open(io.BytesIO(png))
    (barcode,) = zxingcpp.read_barcodes(image)
    return barcode.text, image.size


@pytest.mark.parametrize(
    "address", [f"{BASE}/pages/nsc413/n14004562.md", "https://例子.example/页面/文章.md"]
)
def test_qr_code_decodes_to_the_address(address: str) -> None:
    png = qr.qr_png(address)
    assert png.startswith(b"\x89PNG") and len(png) < 2000
    text, (width, height) = _decode(png)
    assert text == address
    # 4-pixel modules, 2-module white border.
    assert width == height and width % 4 == 0
    image = Image.open(io.BytesIO(png)).convert("L")
    assert all(image.getpixel((x, y)) == 255 for x in range(width) for y in range(8))
    assert image.getpixel((8, 8)) == 0  # the finder pattern's corner


def test_qr_code_is_a_bordered_one_bit_image() -> None:
    # The PNG is written by hand from zxing-cpp's module matrix: a 1-bit image whose
    # 2-module (8-pixel) border is white on all four sides and whose modules are 4x4 pixels.
    png = qr.qr_png(f"{BASE}/pages/nsc413/n14004562.md")
    image = Image.open(io.BytesIO(png))
    assert image.mode == "1"
    width, _ = image.size
    grey = image.convert("L")
    edge = [*range(8), *range(width - 8, width)]
    assert all(grey.getpixel((x, y)) == 255 for x in range(width) for y in edge)
    assert all(grey.getpixel((x, y)) == 255 for x in edge for y in range(width))
    modules = [grey.getpixel((x, 8)) for x in range(8, width - 8)]
    assert all(len(set(modules[k : k + 4])) == 1 for k in range(0, len(modules), 4))


def test_segno_fallback_draws_the_same_symbol() -> None:
    address = f"{BASE}/pages/nsc413/n14004562.md"
    assert _decode(qr._segno_png(address)) == _decode(qr.qr_png(address))


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("threads", [0, 3])
def test_writer_results_in_order_and_errors_at_wait(tmp_path: Path, threads: int) -> None:
    # threads=0 (worker processes) writes at once, in the caller's thread: the same results.
    (tmp_path / "same.md").write_text("甲\n")
    with Writer(threads) as writer:
        writer.write(tmp_path, "a/new.md", "乙\n")
        writer.write(tmp_path, "same.md", "甲\n")
        assert writer.wait() == [True, False]
        writer.write(tmp_path, "b.md", "丙\n")
        writer.write(tmp_path, "../escape.md", "x")
        with pytest.raises(ValueError, match=r"escapes|not a relative"):
            writer.wait()
    assert (tmp_path / "a/new.md").read_text() == "乙\n"
    assert (tmp_path / "b.md").read_text() == "丙\n"
    assert not (tmp_path.parent / "escape.md").exists()


def _spares(root: Path) -> list[Path]:
    return sorted(root.glob(SPARE_PREFIX + "*"))


@pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")
def test_writer_replaces_files_through_one_spare(tmp_path: Path) -> None:
    first, second, linked = tmp_path / "a/1.md", tmp_path / "a/2.md", tmp_path / "a/3.md"
    first.parent.mkdir()
    first.write_text("old one, the longest of them\n")
    first.chmod(0o600)
    second.write_text("old two\n")
    linked.write_text("old three\n")
    os.link(linked, tmp_path / "other-link")
    with Writer(0) as writer:
        writer.write(tmp_path, "a/1.md", "new one\n")
        writer.wait()
        # Swapped: the spare now holds the old bytes, and is rewritten for the next file.
        (spare,) = _spares(tmp_path)
        assert spare.read_text() == "old one, the longest of them\n"
        writer.write(tmp_path, "a/2.md", "new two, longer than before\n")
        writer.write(tmp_path, "a/3.md", "new three\n")
        assert writer.wait() == [True, True]
        assert spare.read_text() == "old two\n"  # cut to length: nothing of "old one" left
    assert first.read_text() == "new one\n" and first.stat().st_mode & 0o777 == 0o600
    assert second.read_text() == "new two, longer than before\n"
    assert second.stat().st_mode & 0o777 == 0o644
    # A file with another link is replaced by a new file: the other link keeps its bytes.
    assert linked.read_text() == "new three\n"
    assert (tmp_path / "other-link").read_text() == "old three\n"
    assert _spares(tmp_path) == []  # released with the writer
    assert sorted(p.name for p in first.parent.iterdir()) == ["1.md", "2.md", "3.md"]


@pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")
def test_spares_are_never_shrunk_across_a_block(tmp_path: Path) -> None:
    # Freeing blocks costs as much as a new inode: a page of one block is not written into a
    # spare that holds three; another spare takes it.
    block = os.statvfs(tmp_path).f_bsize
    (tmp_path / "big.md").write_bytes(b"b" * (3 * block))
    (tmp_path / "small.md").write_bytes(b"s" * 10)
    spares = Spares()
    assert write_if_changed(tmp_path, "big.md", b"B" * 100, spares) is True
    assert [p.stat().st_size for p in _spares(tmp_path)] == [3 * block]  # the old big page
    assert write_if_changed(tmp_path, "small.md", b"S" * 20, spares) is True
    assert sorted(p.stat().st_size for p in _spares(tmp_path)) == [10, 3 * block]
    assert (tmp_path / "big.md").read_bytes() == b"B" * 100
    assert (tmp_path / "small.md").read_bytes() == b"S" * 20
    spares.release()
    assert _spares(tmp_path) == []


@pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")
def test_a_write_that_fails_half_way_leaves_no_stale_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.md", "b.md", "c.md"):
        (tmp_path / name).write_text("0123456789")
    spares = Spares()
    assert write_if_changed(tmp_path, "a.md", "x" * 5, spares)  # the spare: a's 10 bytes
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[:20]))  # the spare grows to 20 bytes, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError):
        write_if_changed(tmp_path, "b.md", "y" * 30, spares)
    monkeypatch.setattr(os, "write", real_write)
    assert (tmp_path / "b.md").read_text() == "0123456789"  # untouched
    assert write_if_changed(tmp_path, "c.md", "z" * 15, spares)
    assert (tmp_path / "c.md").read_text() == "z" * 15  # not 15 new bytes and 5 stale ones
    spares.release()


@pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")
def test_spares_live_in_their_home_not_in_the_site(tmp_path: Path) -> None:
    # A static host may serve site/ whole: a spare (an old page's bytes) never stands there.
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.html").write_text("old")
    spares = Spares(home=tmp_path)
    assert write_if_changed(site, "a.html", "new", spares) is True
    assert (site / "a.html").read_text() == "new"
    assert _spares(site) == [] and [p.read_text() for p in _spares(tmp_path)] == ["old"]
    spares.release()


def test_writes_without_exchange_fall_back_to_new_files(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("old\n")
    spares = Spares()
    spares.exchange = None  # not Linux, or a file system without RENAME_EXCHANGE
    assert write_if_changed(tmp_path, "a.md", "new\n", spares) is True
    assert (tmp_path / "a.md").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


def test_spares_left_by_a_killed_process_are_removed(tmp_path: Path) -> None:
    (tmp_path / f"{SPARE_PREFIX}123-0.tmp").write_text("a page's old bytes")
    (tmp_path / "keep.md").write_text("x")
    remove_spares(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.md"]


def test_write_if_changed(tmp_path: Path) -> None:
    assert write_if_changed(tmp_path, "pages/c/a.md", "甲\n") is True
    target = tmp_path / "pages/c/a.md"
    assert target.read_bytes() == "甲\n".encode()
    assert target.stat().st_mode & 0o777 == 0o644
    os.utime(target, (1_000_000, 1_000_000))
    assert write_if_changed(tmp_path, "pages/c/a.md", "甲\n".encode()) is False
    assert target.stat().st_mtime == 1_000_000  # untouched
    assert write_if_changed(tmp_path, "pages/c/a.md", b"\x00\x01") is True
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.md"]  # no temp file left


@pytest.mark.parametrize("relpath", ["../x.md", "/tmp/x.md", "pages/../../x.md", "", "."])
def test_write_refuses_paths_outside_root(tmp_path: Path, relpath: str) -> None:
    root = tmp_path / "out"
    root.mkdir()
    with pytest.raises(ValueError):
        write_if_changed(root, relpath, "x")
    with pytest.raises(ValueError):
        remove(root, relpath)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_refuses_symlink_out_of_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "pages").symlink_to(outside)
    with pytest.raises(ValueError):
        write_if_changed(root, "pages/x.md", "x")
    assert not list(outside.iterdir())


def test_write_refuses_a_file_link_out_of_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "out", tmp_path / "secret.txt"
    (root / "pages").mkdir(parents=True)
    outside.write_text("keep")
    (root / "pages/x.md").symlink_to(outside)
    with pytest.raises(ValueError):
        write_if_changed(root, "pages/x.md", "x")
    assert outside.read_text() == "keep"
    # A link that stays inside the output is written through.
    (root / "real.md").write_text("old")
    (root / "pages/y.md").symlink_to(root / "real.md")
    assert write_if_changed(root, "pages/y.md", "new") is True
    assert (root / "real.md").read_text() == "new"


def test_remove(tmp_path: Path) -> None:
    write_if_changed(tmp_path, "indexes/c-earlier.md", "x")
    assert remove(tmp_path, "indexes/c-earlier.md") is True
    assert remove(tmp_path, "indexes/c-earlier.md") is False
    assert not (tmp_path / "indexes/c-earlier.md").exists()


def _markdownify_only(html: str, root: str) -> str:
    """body_to_markdown without its fast path: markdownify over BeautifulSoup, as always."""
    from bs4 import BeautifulSoup

    from samizdat.render import markdown

    soup = BeautifulSoup(html, "lxml")
    markdown._lift_table_captions(soup)
    converter = markdown._Converter(root=root, heading_shift=markdown._heading_shift(soup))
    return markdown._tidy_spaces(str(converter.convert_soup(soup))).strip()


def test_fast_path_gives_markdownifys_output() -> None:
    """Plain paragraphs with links, emphasis and breaks skip BeautifulSoup and markdownify's
    walk; the Markdown must be the same, whatever text, spacing and markup they hold."""
    import random

    from samizdat.render.markdown import _simple_markdown

    rng = random.Random(7)
    atoms = [
        "中文", "text", " ", "  ", "\n", "\t", "*x*", "_y_", "#", "# ", "1. ", "10)", "- ", "+",
        "=", "--", "`code`", "\\", "[a](b)", "&lt;b&gt;", "&amp;", "“引文”", "。", "http://x.y",
        "www.a.b", "a@b.c", "|", "~", "$", "\u3000", "\xa0", "&nbsp;", "!",
    ]  # fmt: skip
    hrefs = ["https://x.example/a b", "../../pages/c/n1.md", "", "javascript:x", "mailto:a@b"]

    def text() -> str:
        return "".join(rng.choice(atoms) for _ in range(rng.randint(0, 6)))

    def inline() -> str:
        tag = rng.choice(["a", "strong", "b", "em", "i", "br", "text", "text"])
        if tag == "text":
            return text()
        if tag == "br":
            return "<br>"
        if tag == "a":
            return f'<a href="{rng.choice(hrefs)}">{text()}</a>'
        return f"<{tag}>{text()}</{tag}>"

    fast = 0
    for _ in range(3000):
        html = rng.choice(["", " ", "\n"]) + "".join(
            "<p>" + "".join(inline() for _ in range(rng.randint(0, 6))) + "</p>"
            + rng.choice(["", "\n", " "])
            for _ in range(rng.randint(1, 5))
        )  # fmt: skip
        root = rng.choice(["../../", "https://img.example/"])
        quick = _simple_markdown(html, root)
        if quick is not None:
            fast += 1
            assert quick == _markdownify_only(html, root), html
    assert fast > 2500  # the fast path did take these shapes


@pytest.mark.parametrize(
    "html",
    [
        "<h2>标题</h2><p>正文</p>",
        "<p>a</p><ul><li>b</li></ul>",
        "<p>a<strong>b<em>c</em></strong></p>",
        '<p><img src="images/a.png" alt="x"></p>',
        "loose text<p>a</p>",
        "<p>a</p><!-- c -->",
        "<table><tr><td>x</td></tr></table>",
    ],
)
def test_fast_path_leaves_other_shapes_to_markdownify(html: str) -> None:
    from samizdat.render.markdown import _simple_markdown

    assert _simple_markdown(html, "../../") is None
    assert body_to_markdown(html, root="../../") == _markdownify_only(html, "../../")
