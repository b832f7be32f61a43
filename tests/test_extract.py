"""Extraction on fixture pages: body selection order, metadata, normalisation, structure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import lxml.html
import pytest

from samizdat.extract import extract
from samizdat.extract.feed import teaser_reason
from samizdat.extract.normalize import largest_srcset
from samizdat.extract.text import html_to_text
from samizdat.models import Rules

DATA = Path(__file__).parent / "data" / "extract"
EN_URL = "https://news.example.com/local/2024/03/river-park.html"
ZH_URL = "https://www.epoch.example/gb/23/5/26/n14004562.htm"
ZH_RULES = Rules(
    content="div.post_content",
    image="div.featured_image img",
    caption="div.featured_image .caption",
    remove=("div.post_related",),
)


def page(name: str) -> str:
    return (DATA / f"{name}.html").read_text("utf-8")


def truth(name: str) -> str:
    return json.loads((DATA / f"{name}.json").read_text("utf-8"))["body"]


def body_tree(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


@pytest.fixture(scope="module")
def en():
    return extract(page("en_news"), EN_URL)


@pytest.fixture(scope="module")
def zh():
    return extract(page("zh_news"), ZH_URL)


# ---------------------------------------------------------------- generic path


def test_generic_english_body_is_the_article_and_nothing_else(en):
    assert en.method == "generic"
    assert "generic extraction" in en.reason
    text = html_to_text(en.body_html)
    for paragraph in truth("en_news").split("\n\n"):
        assert paragraph in text
    for junk in (
        "Share on Twitter",
        "Related stories",
        "Bridge repairs",
        "Buy cheap flights",
        "Who is going to pay",
        "Privacy",
        "Politics",
        "Advertisement",
    ):
        assert junk not in text


def test_generic_chinese_body_drops_related_lists_comments_and_nav(zh):
    assert zh.method == "generic"
    text = html_to_text(zh.body_html)
    assert "路透社报导" in text and "七国集团领导人峰会" in text
    for junk in (
        "相关新闻",
        "美光获日本补贴扩产",
        "网友评论",
        "读者甲",
        "分享到脸书",
        "关于我们",
        "国际新闻",
    ):
        assert junk not in text


def test_structure_is_kept(en, zh):
    tree = body_tree(en.body_html)
    assert [h.text for h in tree.iter("h2")] == ["Years of debate"]
    assert len(tree.xpath(".//ul/li")) == 3
    assert tree.xpath(".//blockquote//text()")
    assert tree.xpath(".//em[text()='weather permitting']")
    caption = tree.xpath(".//figure/figcaption/text()")
    assert caption == ["A drawing of the restored wetland at the north end of the site."]
    zh_tree = body_tree(zh.body_html)
    assert zh_tree.xpath(".//h2/text()") == ["供应链多元化"]
    assert len(zh_tree.xpath(".//ol/li")) == 2
    assert zh_tree.xpath(".//blockquote")


def test_lazy_and_noscript_images_resolve_to_absolute_urls(en):
    srcs = [img.get("src") for img in body_tree(en.body_html).iter("img")]
    assert "https://news.example.com/media/wetland-plan.jpg" in srcs  # data-src
    assert "https://news.example.com/media/warehouses.jpg" in srcs  # from <noscript>
    assert not any("placeholder" in s or s.startswith("data:") for s in srcs)


def test_relative_links_resolve_against_base_href(zh):
    hrefs = [a.get("href") for a in body_tree(zh.body_html).iter("a")]
    assert hrefs == ["https://www.epoch.example/gb/tag/%E7%BE%8E%E5%9B%BD.html"]
    srcs = [img.get("src") for img in body_tree(zh.body_html).iter("img")]
    assert srcs == ["https://www.epoch.example/assets/uploads/2023/05/rapidus.jpg"]  # data-original


def test_srcset_largest_candidate():
    assert largest_srcset("a.jpg 320w, b.jpg 1024w, c.jpg 640w") == "b.jpg"
    assert largest_srcset("a.jpg 1x, b.jpg 2x") == "b.jpg"
    raw = extract(
        "<html><body><article><p>" + "Words in a long paragraph here. " * 12 + "</p>"
        '<p><img src="data:," data-srcset="/s.jpg 300w, /l.jpg 1200w"></p><p>'
        + "More words in the second paragraph. " * 12
        + "</p></article></body></html>",
        "https://ex.example/a/b.html",
    )
    assert 'src="https://ex.example/l.jpg"' in raw.body_html


# ---------------------------------------------------------------- metadata


def test_title_without_site_suffix(en, zh):
    assert en.title == "City council approves new river park plan"
    assert zh.title == "美日将发布联合声明 加深芯片合作"
    bare = extract(
        "<html><head><title>Storm hits coast | BBC News</title></head><body></body></html>", None
    )
    assert bare.title == "Storm hits coast"


def test_published_dates_are_timezone_aware(en, zh):
    assert en.published == datetime(2024, 3, 5, 19, 30, tzinfo=UTC)
    assert en.published.utcoffset() == timedelta(hours=-5)
    assert zh.published == datetime(2023, 5, 26, 8, 15, tzinfo=timezone(timedelta(hours=8)))
    assert extract("<html><body><p>no date</p></body></html>", None).published is None


def test_author(en, zh):
    assert en.author == "Jane Doe"
    assert zh.author == "张婷"


def test_lead_image_and_caption_from_figure(en):
    assert en.image == "https://news.example.com/media/park-lead.jpg"
    assert en.caption == "The riverside site of the planned park, seen from the old bridge."
    srcs = [img.get("src") for img in body_tree(en.body_html).iter("img")]
    assert en.image not in srcs


def test_lead_image_removed_from_body_when_first():
    html = (
        '<html><head><meta property="og:image" content="https://ex.example/lead.jpg"></head>'
        '<body><article><figure><img src="/lead.jpg"><figcaption>Lead caption</figcaption>'
        "</figure><p>" + "A long first paragraph of the story. " * 10 + "</p>"
        '<p><img src="/second.jpg"></p><p>'
        + "The second paragraph goes on. " * 10
        + "</p></article></body></html>"
    )
    raw = extract(html, "https://ex.example/story.html", Rules(content="article"))
    assert raw.image == "https://ex.example/lead.jpg"
    assert raw.caption == "Lead caption"
    assert "lead.jpg" not in raw.body_html and "Lead caption" not in raw.body_html
    assert "https://ex.example/second.jpg" in raw.body_html


# ---------------------------------------------------------------- rules path


def test_rules_select_body_remove_blocks_and_name_image_and_caption():
    raw = extract(page("zh_news"), ZH_URL, ZH_RULES)
    assert raw.method == "rules"
    assert "div.post_content" in raw.reason
    text = html_to_text(raw.body_html)
    assert "责任编辑：林妍" in text
    assert "相关文章" not in text and "日本扩大对华芯片设备出口限制" not in text
    assert raw.image == "https://i.epoch.example/assets/uploads/2023/05/chip-600x400.jpeg"
    assert raw.caption.startswith("2023年5月26日，美国和日本将发布")


def test_rules_that_match_nothing_fall_back_to_generic():
    raw = extract(page("zh_news"), ZH_URL, Rules(content="div.no_such_thing"))
    assert raw.method == "generic"
    assert "matched no text" in raw.reason
    assert "路透社报导" in html_to_text(raw.body_html)


# ---------------------------------------------------------------- feed path

FULL_FEED = (
    "<p>The city council voted eight to three on Tuesday night to approve a plan that will "
    "turn a mile of abandoned industrial riverfront into a public park.</p>"
    + "".join(
        f"<p>Paragraph {i} of the feed's full text repeats the article's substance at length, "
        "as feeds with content:encoded do.</p>"
        for i in range(12)
    )
    + '<p><img src="/media/feed-photo.jpg"></p>'
)


def test_full_feed_content_is_used():
    raw = extract(page("en_news"), EN_URL, feed_html=FULL_FEED)
    assert raw.method == "feed"
    assert "full article" in raw.reason
    assert "Paragraph 11 of the feed" in raw.body_html
    assert "https://news.example.com/media/feed-photo.jpg" in raw.body_html  # made absolute


def test_short_feed_content_is_a_teaser():
    teaser = "<p>The city council voted on Tuesday night to approve a plan for a park.</p>"
    raw = extract(page("en_news"), EN_URL, feed_html=teaser)
    assert raw.method == "generic"
    assert "% of the page's" in raw.reason
    assert "boardwalk" in html_to_text(raw.body_html)


def test_feed_ending_in_read_more_is_a_teaser():
    assert teaser_reason("Long enough text " * 100 + " Read more »", "short page") is not None
    assert teaser_reason("正文很长的文章" * 100 + "……", "短") is not None
    assert teaser_reason("The whole article " * 100, "The whole article " * 90) is None


def test_feed_content_modes():
    teaser = "<p>Only the start…</p>"
    assert extract(page("en_news"), EN_URL, Rules(feed_content="always"), teaser).method == "feed"
    never = extract(page("en_news"), EN_URL, Rules(feed_content="never"), FULL_FEED)
    assert never.method == "generic" and "never" in never.reason
    ruled = extract(page("zh_news"), ZH_URL, ZH_RULES, feed_html=FULL_FEED)
    assert ruled.method == "rules"  # the selector comes first


# ---------------------------------------------------------------- text


def test_html_to_text_separates_paragraphs_with_blank_lines():
    html = "<div><h2>Head</h2><p>One  two\nthree</p><ul><li>a</li><li>b</li></ul>x<br>y</div>"
    assert html_to_text(html) == "Head\n\nOne two three\n\na\n\nb\n\nx\ny"
    assert html_to_text("") == ""


def test_empty_and_broken_pages_do_not_raise():
    for html in ("", "   ", "<html>", "<p>tiny</p>", "\x00\x01garbage<<<>>>"):
        raw = extract(html, "https://ex.example/")
        assert raw.method == "generic"
        assert isinstance(raw.body_html, str)


def test_html_to_text_leaves_captions_out_but_the_body_keeps_them(en):
    # Captions label a picture; they are not running text.
    html = "<p>Before.</p><figure><img src='x.jpg'><figcaption>A caption</figcaption></figure>"
    assert html_to_text(html) == "Before."
    assert "<figcaption>A drawing of the restored wetland" in en.body_html
    assert "restored wetland at the north end" not in html_to_text(en.body_html)


# ---------------------------------------------------------------- generic rules

PARAGRAPH = (
    "The council met on {day} to discuss the new bridge, which engineers say will carry "
    "twice the traffic of the old one, and residents asked how long the works would last."
)


def _article(extra_inside: str = "", extra_outside: str = "") -> str:
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
    paragraphs = "".join(f"<p>{PARAGRAPH.format(day=d)}</p>" for d in days)
    return (
        "<html><head><title>Bridge</title></head><body>"
        "<nav><a href='/a'>Home</a> <a href='/b'>World</a></nav>"
        f"<div class='story-body'>{paragraphs[: len(paragraphs) // 2]}{extra_inside}"
        f"{paragraphs[len(paragraphs) // 2 :]}</div>{extra_outside}</body></html>"
    )


def test_hidden_copies_of_the_article_are_not_read():
    hidden = "<div style='display: none'><p>Hidden schema copy of the whole story text.</p></div>"
    hidden += "<p hidden>Another hidden paragraph that nobody sees on the page.</p>"
    text = html_to_text(extract(_article(extra_inside=hidden), None).body_html)
    assert "Monday" in text and "Saturday" in text
    assert "Hidden schema copy" not in text and "Another hidden" not in text


def test_promotion_lines_and_picture_credits_are_dropped():
    junk = (
        "<p>READ MORE: <a href='/x'>Another story about bridges and roads</a></p>"
        "<p>Don't miss: the best bridges of the year, ranked by our readers</p>"
        "<p>The old bridge at dawn (Image: GETTY)</p>"
        "<p>Engineers inspect the pillars. Photo: Jane Doe, AP</p>"
    )
    text = html_to_text(extract(_article(extra_inside=junk), None).body_html)
    assert "Monday" in text and "Saturday" in text
    for line in ("READ MORE", "Don't miss", "(Image: GETTY)", "Photo: Jane Doe"):
        assert line not in text


def test_density_voter_prefers_the_article_to_the_comment_thread():
    comments = "".join(
        f"<div class='comment'><p>{PARAGRAPH.format(day=d)} I disagree, {d}!</p></div>"
        for d in ("one", "two", "three", "four", "five", "six", "seven", "eight")
    )
    text = html_to_text(extract(_article(extra_outside=comments), None).body_html)
    assert "Monday" in text and "Saturday" in text
    assert "I disagree" not in text


# ------------------------------------------------------- density scorer rules

_SENTENCE = (
    "The council voted on Tuesday to extend the river park, adding new paths, lights "
    "and benches along the east bank, after a year of public meetings. "
)


def _nav(n: int) -> str:
    return "".join(f'<li><a href="/archive/{i}">Archive month {i}</a></li>' for i in range(n))


def test_loose_text_beside_a_link_sidebar_is_the_article():
    # The article is bare text (after images) in a column beside an archive menu: it is a
    # paragraph of its column, not of the row that also holds the menu.
    story = _SENTENCE * 4
    html = (
        "<html><head><title>Break-in at the clinic</title></head><body>"
        f'<div class="row"><div class="col-3"><ul>{_nav(40)}</ul></div>'
        '<div class="col-9"><p class="titulo">Break-in at the clinic</p>'
        '<small><b>05/10/2018</b> - Category: <a href="/c/1">Health</a></small><br>'
        f'<img src="/a.jpg"><img src="/b.jpg">{story}<br><br></div></div>'
        '<div class="row"><div class="col-12">Town hall, 1111 Main Street, PO Box 421, '
        "phone 2106-8000, all rights reserved</div></div></body></html>"
    )
    text = html_to_text(extract(html, "https://town.example/news/1").body_html)
    assert "adding new paths" in text
    assert "PO Box 421" not in text and "Archive month" not in text


def test_article_cut_into_same_named_containers_keeps_every_part():
    # A CMS closes and reopens the article body around an ad rail: each part sits in its
    # own grid row, as a cousin of the others rather than a sibling.
    def part(word: str) -> str:
        paragraphs = "".join(f"<p>{word} paragraph {i}. {_SENTENCE}</p>" for i in range(4))
        return (
            f'<div class="grid"><div class="article__body">{paragraphs}</div>'
            '<div class="grid__aside"><a href="/ad">Advertisement</a></div></div>'
        )

    html = (
        "<html><head><title>Banking for the broke</title></head><body>"
        f"<nav><ul>{_nav(30)}</ul></nav><article><h1>Banking for the broke</h1>"
        f"{part('First')}{part('Second')}{part('Third')}</article>"
        f"<footer><ul>{_nav(20)}</ul></footer></body></html>"
    )
    text = html_to_text(extract(html, "https://mag.example/story/banking").body_html)
    for word in ("First", "Second", "Third"):
        assert f"{word} paragraph 3." in text
    assert "Archive month" not in text


def test_prose_paragraph_beside_the_article_container_joins_it():
    from samizdat.extract import density, generic, normalize

    body = "".join(f"<p>Part {i}. {_SENTENCE}</p>" for i in range(5))
    html = (
        f'<html><body><div id="wrap"><div class="story">{body}</div>'
        f"<p>A closing paragraph outside the story box, still part of the article, "
        f"which readers would miss if it were dropped.</p>"
        f'<ul class="links">{_nav(5)}</ul></div></body></html>'
    )
    doc = normalize.load(html, None)
    page = generic._blocks(doc)
    density.vote(page.blocks, page.text, page.links)
    kept = " ".join(b.key for b in page.blocks if b.in_b)
    assert "closingparagraph" in kept
    assert "Archivemonth" not in kept


def test_trafilatura_reads_only_the_part_of_the_page_holding_the_prose():
    from samizdat.extract import density, generic, normalize

    body = "".join(f"<p>Part {i}. {_SENTENCE}</p>" for i in range(6))
    html = (
        f'<html><body><div id="menu"><ul>{_nav(50)}</ul></div>'
        f'<div id="main"><div class="post">{body}</div></div></body></html>'
    )
    doc = normalize.load(html, None)
    page = generic._blocks(doc)
    density.vote(page.blocks, page.text, page.links)
    scope = generic._scope(doc, page.blocks)
    assert scope.get("class") == "post"
    assert "Archive month" not in scope.text_content()
    # and the article still comes out whole
    text = html_to_text(extract(html, None).body_html)
    assert text.count("adding new paths") == 6


# ------------------------------------------------------------- voting rules


def test_caption_boxes_outside_figcaption_leave_the_text_but_label_their_picture():
    captions = (
        "<div class='photo'><img src='https://img.example/bridge.jpg'>"
        "<p class='wp-caption-text'>Workers on the bridge deck at sunrise, seen from the bank</p>"
        "<span class='credit'>Jane Doe for the Herald</span></div>"
        "<p itemprop='caption'>The old toll house, restored by volunteers last spring</p>"
    )
    body = extract(_article(extra_inside=captions), None).body_html
    text = html_to_text(body)
    assert "Monday" in text and "Saturday" in text
    for line in ("Workers on the bridge deck", "Jane Doe", "The old toll house"):
        assert line not in text
    # The kept picture keeps its caption, as one.
    figcaption = body_tree(body).xpath("//figcaption")
    assert figcaption and "Workers on the bridge deck" in figcaption[0].text_content()


def test_a_paragraph_repeated_beside_itself_is_kept_but_a_copy_elsewhere_is_not():
    line = "<p>Breakfast: two eggs, one slice of whole-grain toast and a cup of berries.</p>"
    day = "<h3>Day {n}</h3>" + line
    plan = "".join(day.format(n=n) for n in range(1, 4))
    html = _article(extra_inside=plan).replace(
        "</body>", f"<div class='promo'><p>{PARAGRAPH.format(day='Monday')}</p></div></body>"
    )
    text = html_to_text(extract(html, None).body_html)
    assert text.count("Breakfast: two eggs") == 3
    assert text.count(PARAGRAPH.format(day="Monday")) == 1


def test_an_embedded_post_in_the_article_is_kept_whole():
    tweet = (
        "<p>See the announcement:</p>"
        "<blockquote class='twitter-tweet'><p>The bridge opens to traffic on Friday.</p>"
        "<p>— City Council (@council) <a href='https://x.example/1'>May 3, 2024</a></p>"
        "</blockquote>"
    )
    html = _article().replace("</div></body>", f"{tweet}</div></body>")
    text = html_to_text(extract(html, None).body_html)
    assert "The bridge opens to traffic on Friday." in text
    assert "— City Council (@council) May 3, 2024" in text


def test_hover_card_of_links_inside_a_sentence_is_dropped():
    card = (
        "<p>The plan was backed by Rep. <span class='rollover'><a href='/p/1'>Ann Lee</a>"
        "<span class='card'><img src='/a.jpg'><a href='/p/1'>Ann Lee</a> "
        "<a href='/s/1'>Lee pushes a rail bill</a> <a href='/s/2'>Lee on budgets</a> "
        "<a href='/p/1'>MORE</a></span></span> (D-Ore.), who spoke at length on Monday.</p>"
    )
    text = html_to_text(extract(_article(extra_inside=card), None).body_html)
    assert "The plan was backed by Rep. Ann Lee (D-Ore.), who spoke at length" in text
    assert "Lee pushes a rail bill" not in text


def test_short_blocks_count_for_trafilatura_only_where_its_text_puts_them():
    from samizdat.extract import generic

    blocks = [
        generic.Block(el=None, order=i, key=key, link_chars=0, in_a=True)  # type: ignore[arg-type]
        for i, key in enumerate(
            ["Senate", "Thefirstparagraphoftheanarticle,longenough.", "Senate", "Tags"]
        )
    ]
    text = "Thefirstparagraphoftheanarticle,longenough.TheSenatevoted.Senate"
    generic._align_short(blocks, text)
    # The menu item before the first paragraph is not where the text puts it; after the
    # paragraph, "Senate" is (the trailing word), "Tags" is nowhere.
    assert [b.in_a for b in blocks] == [False, True, True, False]


def test_trafilatura_reads_a_layout_cell_as_the_article_it_holds():
    from samizdat.extract.candidates import trafilatura_candidate

    paragraphs = "".join(
        f"<p>第{i}段。{'市政府周二宣布扩建河滨公园，新增步道和路灯。' * 3}</p>" for i in range(5)
    )
    html = (
        "<html><body><table><tr><td class='nav'><a href='/a'>首页</a></td></tr>"
        f"<tr><td id='cell'>{paragraphs}</td></tr></table></body></html>"
    )
    doc = lxml.html.document_fromstring(html)
    cell = doc.get_element_by_id("cell")
    text = trafilatura_candidate(cell).text
    assert all(f"第{i}段" in text for i in range(5))
    assert "首页" not in text
