"""Cleaning: the sanitiser's allowlist, heading shift, absolute URLs, conversion, link policy."""

from __future__ import annotations

import lxml.html

from samizdat.clean import clean_body, convert_text, is_blocked, relink

HOSTILE = """
<h1>Top</h1><h2>Sub</h2><h3>Subsub</h3>
<p onclick="steal()" style="color:red">Hello <a href="/rel/page.htm" onmouseover="x()">relative</a>
<a href="JaVaScRiPt:alert(1)">js</a> <a href=" javascript:alert(2)">js2</a>
<a href="data:text/html,<script>alert(3)</script>">data</a></p>
<script>alert("x")</script><style>p{}</style><iframe src="https://evil.example/">frame text</iframe>
<form action="/post"><input name="q"><button>Go</button></form>
<svg><script>alert(4)</script><a xlink:href="javascript:alert(5)">s</a></svg>
<img src="pic.jpg" onerror="alert(6)" alt="图" width="10">
<object data="x.swf"></object><embed src="y.swf">
<p></p><div> </div>
<ul><li>one</li><li>two</li></ul><blockquote>quoted</blockquote>
<table><tr><th>h</th></tr><tr><td colspan="2">c</td></tr></table>
<figure><img src="https://cdn.example/f.jpg"><figcaption>Caption</figcaption></figure>
<p><em>em</em> <strong>strong</strong></p>
"""


def test_nothing_executable_survives() -> None:
    out = clean_body(HOSTILE, base_url="https://news.example/a/b.htm")
    lower = out.lower()
    for bad in (
        "<script",
        "<style",
        "<iframe",
        "<form",
        "<input",
        "<button",
        "<svg",
        "<object",
        "<embed",
        "onclick",
        "onerror",
        "onmouseover",
        "javascript:",
        "data:text",
        "style=",
    ):
        assert bad not in lower, bad
    assert "alert(" not in out  # script content goes with the script
    assert "frame text" not in out


def test_structure_is_kept_and_headings_shift_below_the_title() -> None:
    out = clean_body(HOSTILE, base_url="https://news.example/a/b.htm")
    doc = lxml.html.fragment_fromstring(out, create_parent="div")
    assert [h.tag for h in doc.iter("h4", "h5", "h6")] == ["h4", "h4", "h5"]
    assert not doc.xpath("//h1|//h2|//h3")
    for tag in (
        "ul",
        "li",
        "blockquote",
        "table",
        "th",
        "td",
        "figure",
        "figcaption",
        "em",
        "strong",
    ):
        assert doc.xpath(f"//{tag}"), tag
    assert doc.xpath("//td/@colspan") == ["2"]
    assert not doc.xpath("//p[not(normalize-space()) and not(.//img)]")  # empty paragraphs dropped


def test_relative_urls_become_absolute() -> None:
    out = clean_body(HOSTILE, base_url="https://news.example/a/b.htm")
    assert 'href="https://news.example/rel/page.htm"' in out
    assert 'src="https://news.example/a/pic.jpg"' in out


def test_opencc_conversion_of_text_not_urls() -> None:
    out = clean_body(
        '<p>汉字<a href="https://x.example/汉字.html">发展</a></p><img alt="头发" src="a.jpg">',
        convert="s2t",
    )
    assert "漢字" in out and "發展" in out and "頭髮" in out
    assert 'href="https://x.example/%E6%B1%89%E5%AD%97.html"' in out  # the URL is not converted
    assert convert_text("简体中文", "s2t") == "簡體中文"
    assert convert_text("简体", "") == "简体"


def test_blocked_hosts_and_subdomains() -> None:
    blocked = ("example-news.com",)
    assert is_blocked("https://example-news.com/x", blocked)
    assert is_blocked("https://www.EXAMPLE-NEWS.com/x", blocked)
    assert not is_blocked("https://notexample-news.com/x", blocked)
    assert not is_blocked("/relative", blocked)


def test_relink_points_at_mirrored_pages_and_unlinks_blocked() -> None:
    html = (
        '<p><a href="https://www.example-news.com/gb/tag/x.html">日本</a> and '
        '<a href="https://www.example-news.com/gb/23/5/26/n1.htm#top">mirrored</a> and '
        '<a href="https://free.example.org/">free</a></p>'
    )
    out = relink(
        html,
        page_url="https://www.example-news.com/gb/23/5/27/n2.htm",
        mirrored={"https://www.example-news.com/gb/23/5/26/n1.htm": "pages/nsc413/n1.md"},
        blocked=("example-news.com",),
        page_path="pages/nsc413/n2.md",
    )
    doc = lxml.html.fragment_fromstring(out, create_parent="div")
    assert [(a.text, a.get("href")) for a in doc.iter("a")] == [
        ("mirrored", "../../pages/nsc413/n1.md"),
        ("free", "https://free.example.org/"),
    ]
    assert "日本" in doc.text_content()
