"""The mirror cycle, end to end: a first cycle of N articles, and a no-op cycle over a big store.

    python bench/cycle.py [--n 1000] [--per-host 4] [--store 10000] [--only first|noop]
                          [--profile DIR] [--keep DIR]

1. First cycle. A generated news site (10 channels; Chinese and English pages of 5–15
   paragraphs with navigation, related links, ads and a lead image) is served by the demo
   SiteServer (in a child process) on loopback with DELAY (100 ms) added to every response. One full cycle
   (`pipeline.run`: feeds → fetch → extract → clean → store → render → commit → push to a local
   bare repo) mirrors its N articles. Per-host concurrency bounds it below by the ideal
   N × DELAY ÷ per_host; the goal is a wall time within 1.25× of that. Channels 0–3 carry the
   full text in content:encoded (feed path), 4–6 only summaries on pages without rules (generic
   extraction), 7–9 summaries on pages the source's CSS rules match (rules path).
   As a control, the same N pages are fetched alone with the Fetcher (no extraction, no
   rendering): that is the floor the server and the fetcher allow.
2. No-op cycle. A store of STORE articles (written with `Store.save`, then rendered, committed
   and pushed by one priming cycle whose feeds list only articles the store has) gets a second
   cycle while the same feeds are served: every feed answers 304 to its ETag, nothing is
   fetched, rendered, committed or pushed. It runs as a subprocess, `python -m samizdat -c
   CONFIG run` (what the `samizdat` script runs, with this checkout first on the path),
   next to `python -c pass` (interpreter start) in the same run; the goal is under 1 s beyond
   interpreter start.

Prints one line per figure with its ratio to the goal, and stage times from the Reporter's
stage marks. Exits 1 when a goal is missed. `--profile DIR` writes pyinstrument reports of both
cycles there (needs `pip install pyinstrument`).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import io
import itertools
import multiprocessing
import multiprocessing.connection
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samizdat import config as config_module  # noqa: E402
from samizdat import pipeline  # noqa: E402
from samizdat.config import Config  # noqa: E402
from samizdat.demo.server import Request, SiteServer, _Handler  # noqa: E402
from samizdat.fetch import Fetcher  # noqa: E402
from samizdat.ids import page_id  # noqa: E402
from samizdat.models import Article  # noqa: E402
from samizdat.progress import Reporter  # noqa: E402
from samizdat.sources import parse_feed  # noqa: E402
from samizdat.store import Store  # noqa: E402

FIRST_GOAL = 1.25  # first cycle: at most this many times the ideal
NOOP_GOAL = 1.0  # no-op cycle: at most this many seconds beyond interpreter start
NEWEST = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}

# --------------------------------------------------------------------------- text to fill pages

ZH = [
    "据知情人士透露，当地政府在事发后第一时间封锁了消息，多名记者在现场遭到阻拦。",
    "多位受访民众表示，物价上涨已经明显影响到日常生活，菜市场的猪肉价格比去年同期高出三成。",
    "分析人士指出，这一政策调整反映出决策层对经济下行压力的担忧，但具体执行效果仍有待观察。",
    "连日暴雨导致多条河流水位超过警戒线，沿岸数个乡镇被迫紧急转移群众。",
    "法院在周二的庭审中驳回了辩方提出的全部动议，案件将于下月继续审理。",
    "一名不愿具名的官员对本台说，内部文件要求各地“严防舆情发酵”，并对网络言论加强审查。",
    "根据国家统计局公布的数据，上季度青年失业率再创新高，引发社会广泛关注。",
    "当地居民在社交媒体上发布的视频显示，大批警察在凌晨进入小区，带走了多名维权人士。",
    "专家认为，房地产市场的持续低迷正在拖累地方财政，多地已出现拖欠公务员工资的情况。",
    "外交部发言人在例行记者会上回应称，有关报道“不符合事实”，但未提供进一步细节。",
    "这家工厂的工人说，他们已经三个月没有拿到全额工资，多次向劳动部门投诉都没有结果。",
    "学者李明（Li Ming）在接受采访时说，透明度不足是公众对官方数据缺乏信任的主要原因。",
    "国际人权组织呼吁当局立即释放被拘押的律师，并允许其家属探视。",
    "据报道，该地区的互联网连接在事发后数小时内中断，部分居民只能通过卫星电话与外界联系。",
    "村民们表示，征地补偿款远低于市场价格，而且迟迟没有到位。",
    "这项调查历时半年，记者走访了五个省份的二十多个村庄。",
    "医院的一名护士透露，急诊室连续多日人满为患，部分病人只能在走廊里接受治疗。",
    "网友纷纷在评论区留言，质疑官方通报的伤亡人数，相关帖子随后被删除。",
    "美国国务院（State Department）发表声明，对事态发展表示严重关切。",
    "多家外资企业表示，正在重新评估在华投资计划，部分生产线已开始向东南亚转移。",
    "报道还引述一位退休教师的话说：“我们只希望知道真相。”",
    "截至记者发稿时，当地政府尚未对此事作出正式回应。",
]
EN = [
    "Officials declined to comment on the report, citing an ongoing investigation.",
    "Residents said the water rose faster than anyone had expected, leaving little time to leave.",
    "The ministry's figures, published late on Friday, showed exports falling for a third month.",
    "Analysts cautioned that the numbers may be revised once the full quarter is counted.",
    "Several people interviewed by the Courier asked that their names not be used.",
    "The court adjourned until next month after the defence filed a new set of motions.",
    "Prices at the port have more than doubled since the start of the year, traders said.",
    "A spokesman for the company said the plant would reopen once inspections were complete.",
    "Critics argue that the measure gives the authorities broad powers with little oversight.",
    "The fishermen, some of whom have worked these waters for decades, say the catch is shrinking.",
    "Aid groups warned that supplies in the camps would run out within two weeks.",
    "In a statement, the central bank said it stood ready to act if conditions worsened.",
    "Local media, which are tightly controlled, made no mention of the protest.",
    "The census, the first in a decade, found the population of the capital had grown by a fifth.",
    "Lawmakers are expected to vote on the bill before the summer recess.",
    "One resident, a retired teacher, said she had never seen anything like it.",
    "The report's authors called for an independent inquiry into the handling of the crisis.",
    "Shares in the group fell 4 percent in early trading before recovering some ground.",
    "Witnesses described hearing loud bangs shortly before midnight.",
    "The agreement still has to be ratified by both parliaments.",
    "A video shared widely online, whose authenticity could not be verified, showed long queues.",
    "The government has said the figures are exaggerated.",
]
ZH_TOPICS = [
    "暴雨成灾",
    "物价上涨",
    "青年失业",
    "维权律师",
    "征地纠纷",
    "工厂欠薪",
    "网络审查",
    "房市低迷",
]
ZH_PLACES = ["四川", "河南", "广东", "湖北", "上海", "北京", "浙江", "云南", "山东", "辽宁"]
EN_TOPICS = ["floods", "exports", "census", "fishermen", "court", "rates", "protest", "strike"]
EN_PLACES = ["Verenia", "Delta Province", "the capital", "the coast", "Port Alder", "the north"]


@dataclass
class Piece:
    """One generated article: what the page, the feed item and the store hold."""

    channel: int
    number: int  # unique over the site; also the page's file name
    path: str  # site path of the page
    title: str
    paragraphs: list[str]
    published: datetime
    author: str
    zh: bool


@dataclass
class Channel:
    index: int
    id: str
    title: str
    kind: str  # "feed" (content:encoded), "generic" (summary), "rules" (summary, source rules)
    zh: bool
    pieces: list[Piece] = field(default_factory=list)


SOURCES = {  # kind → (source id, title, source-level TOML lines)
    "feed": ("xinwen", "新闻网", 'remove = ["div.post_related", "div.ad_inline"]\n'),
    "generic": ("courier", "The Meridian Courier", ""),
    "rules": (
        "jiyuan",
        "纪元新闻",
        'content = "div.post_content"\nimage = "div.featured_image img"\n'
        'caption = "div.featured_image .caption"\n'
        'remove = ["div.post_related", "div.ad_inline"]\n',
    ),
}


def channel_kind(index: int) -> str:
    return "feed" if index % 10 < 4 else "generic" if index % 10 < 7 else "rules"


def make_site(channels: int, per_channel: list[int], seed: int = 413) -> list[Channel]:
    """Channels with their articles, newest first; deterministic for a seed."""
    rng = random.Random(seed)
    result, number = [], 14_000_000
    for c in range(channels):
        kind = channel_kind(c)
        zh = kind != "generic"
        channel = Channel(c, f"ch{c:02d}", f"频道{c}" if zh else f"Section {c}", kind, zh)
        for i in range(per_channel[c]):
            number += 1
            published = NEWEST - timedelta(minutes=7 * i + c)
            if zh:
                title = f"{rng.choice(ZH_PLACES)}{rng.choice(ZH_TOPICS)} 第{number}号报道"
                d = published
                path = f"/gb/{d:%y}/{d.month}/{d.day}/n{number}.htm"
                author = rng.choice(["李晴", "王明", "张远", "陈思"])
                bank, other = ZH, EN
            else:
                topic = rng.choice(EN_TOPICS)
                title = f"{rng.choice(EN_PLACES)}: {topic} report no. {number}".capitalize()
                path = f"/en/{published:%Y/%m/%d}/{topic}-report-{number}.html"
                author = rng.choice(["Anna Kowal", "James Reid", "Mei Tan"])
                bank, other = EN, ZH
            paragraphs = []
            for _ in range(rng.randint(5, 15)):
                sentences = rng.sample(bank, rng.randint(2, 4))
                if rng.random() < 0.15:  # a quote in the other language now and then
                    sentences.append(rng.choice(other))
                paragraphs.append(("" if zh else " ").join(sentences))
            channel.pieces.append(Piece(c, number, path, title, paragraphs, published, author, zh))
        result.append(channel)
    return result


# --------------------------------------------------------------------------- pages and feeds


def _links(rng: random.Random, count: int, zh: bool) -> str:
    words = ZH_TOPICS if zh else EN_TOPICS
    return "".join(
        f'<li><a href="https://www.example-news.com/{"gb" if zh else "en"}/'
        f'{rng.randint(1, 9)}/{rng.randint(100000, 999999)}.htm">'
        f"{rng.choice(ZH_PLACES if zh else EN_PLACES)}{' ' if not zh else ''}{rng.choice(words)}</a></li>"
        for _ in range(count)
    )


def _body(piece: Piece) -> str:
    """The article body; subheads every few paragraphs, an inline ad in the middle."""
    out = []
    for i, p in enumerate(piece.paragraphs):
        if i and i % 5 == 0:
            out.append(f"<h2>{'小标题' if piece.zh else 'Background'} {i // 5}</h2>")
        out.append(f"<p>{html.escape(p)}</p>")
        if i == len(piece.paragraphs) // 2:
            out.append(
                '<div class="ad_inline"><script>googletag.display("ad-mid");</script>'
                '<a href="https://ads.example-adnet.com/click?id=7">广告 Advertisement</a></div>'
            )
    return "\n".join(out)


def page_html(piece: Piece, channel: Channel, *, images: bool) -> str:
    rng = random.Random(piece.number)
    title = html.escape(piece.title)
    image = lead_url(piece)
    caption = "资料图片：现场画面（网络图片）" if piece.zh else "The scene on Tuesday. (File photo)"
    nav = "".join(
        f'<li><a href="https://www.example-news.com/{s}.htm">{s}</a></li>'
        for s in ("首页", "大陆", "国际", "香港", "台湾", "评论", "财经", "科技", "视频", "专题")
    )
    related = _links(rng, 10, piece.zh)
    hot = _links(rng, 10, piece.zh)
    ad = (
        '<div class="ad"><script async src="https://ads.example-adnet.com/tag.js"></script>'
        '<ins class="adsbygoogle" data-ad-slot="123"></ins></div>'
    )
    if channel.kind == "generic":  # a different site's markup: no rules match it
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | The Meridian Courier</title>
<meta name="description" content="{html.escape(piece.paragraphs[0][:150])}">
{f'<meta property="og:image" content="{image}">' if images else ""}
<meta property="article:published_time" content="{piece.published.isoformat()}">
<meta name="author" content="{piece.author}">
<script>window.dataLayer=window.dataLayer||[];dataLayer.push({{page:"{piece.number}"}});</script>
</head><body>
<header class="masthead"><a class="logo" href="/">The Meridian Courier</a>
<nav><ul>{nav}</ul></nav><form class="search"><input name="q"></form></header>
{ad}
<main><article class="story">
<h1 class="headline">{title}</h1>
<p class="byline">By {piece.author} · <time>{piece.published:%B %d, %Y}</time></p>
{f'<figure class="lead"><img src="{image}" alt="{title}"><figcaption>{caption}</figcaption></figure>' if images else ""}
<div class="story-body">
{_body(piece)}
</div>
<div class="share"><a href="#">Share</a> <a href="#">Tweet</a> <a href="#">Email</a></div>
</article>
<aside class="related-links"><h3>Related</h3><ul>{related}</ul></aside>
<aside class="most-read"><h3>Most read</h3><ol>{hot}</ol></aside>
</main>
<section id="comments"><h3>Comments (12)</h3><p>Log in to comment.</p></section>
<footer><p>© 2024 The Meridian Courier</p><ul>{_links(rng, 6, False)}</ul></footer>
</body></html>
"""
    return f"""<!DOCTYPE html>
<html lang="zh-Hans"><head><meta charset="UTF-8"><title>{title} | 新闻网</title>
<meta name="description" content="{html.escape(piece.paragraphs[0][:80])}">
<meta property="og:title" content="{title}">
{f'<meta property="og:image" content="{image}">' if images else ""}
<meta property="article:published_time" content="{piece.published.isoformat()}">
<meta name="author" content="{piece.author}">
<link rel="stylesheet" href="https://www.example-news.com/assets/css/style.min.css">
<script>var _post_id="n{piece.number}";window.dataLayer=window.dataLayer||[];</script>
</head><body class="post single">
<div id="top_bar"><a href="https://www.example-news.com/gb/">新闻网</a> | <a href="#">正体</a> | <a href="#">订阅</a></div>
<div id="header"><ul id="nav">{nav}</ul></div>
{ad}
<div id="main"><div id="breadcrumb"><a href="#">首页</a> &gt; <a href="#">{channel.title}</a></div>
<h1 class="title">{title}</h1>
<div class="info"><span class="author">作者：{piece.author}</span> <span class="time">更新: {piece.published:%Y-%m-%d %H:%M}</span>
<span class="print_link"><a href="javascript:window.print()">打印</a></span></div>
{f'<div class="featured_image"><img src="{image}" alt="{title}"><span class="caption">{caption}</span></div>' if images else ""}
<div class="post_content">
{_body(piece)}
</div>
<div class="post_related"><h3>相关新闻</h3><ul>{related}</ul></div>
</div>
<div id="sidebar"><h3>热门新闻</h3><ol>{hot}</ol>{ad}</div>
<div id="comments"><h3>评论</h3><p>请登录后发表评论。</p></div>
<div id="footer"><p>© 2024 新闻网 版权所有</p><ul>{_links(rng, 6, True)}</ul></div>
</body></html>
"""


# Where lead images live. News sites serve them from an image host of their own (a CDN such as
# i.example-news.com), which has its own per-host limit; `first_cycle` points this at a second
# server on 127.0.0.2 unless --same-host puts images on the page host.
IMAGE_BASE = "{{BASE}}"


def lead_url(piece: Piece) -> str:
    return f"{IMAGE_BASE}/img/lead-{piece.number}.jpg"


def lead_jpeg(number: int) -> bytes:
    """A distinct 800×450 photo-like JPEG (~20 KB): a gradient with a few shapes on it."""
    from PIL import Image, ImageDraw

    rng = random.Random(number)
    base = Image.linear_gradient("L").resize((800, 450)).rotate(rng.choice((0, 90, 180, 270)))
    tint = tuple(rng.randint(40, 220) for _ in range(3))
    photo = Image.merge("RGB", [base.point(lambda v, t=t: v * t // 255) for t in tint])
    draw = ImageDraw.Draw(photo)
    for _ in range(6):
        x, y = rng.randint(0, 700), rng.randint(0, 380)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        draw.ellipse((x, y, x + rng.randint(30, 200), y + rng.randint(30, 150)), fill=colour)
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=85)
    return out.getvalue()


def feed_xml(channel: Channel, pieces: list[Piece], *, images: bool) -> str:
    items = []
    for piece in pieces:
        link = f"{{{{BASE}}}}{piece.path}"
        summary = piece.paragraphs[0][:60] + ("……" if piece.zh else "…")
        content = ""
        if channel.kind == "feed":
            image = f'<img src="{lead_url(piece)}" alt="" /><br />' if images else ""
            full = image + "".join(f"<p>{html.escape(p)}</p>" for p in piece.paragraphs)
            content = f"<content:encoded><![CDATA[{full}]]></content:encoded>"
        items.append(
            f"<item><title>{html.escape(piece.title)}</title><link>{link}</link>"
            f'<guid isPermaLink="true">{link}</guid>'
            f"<pubDate>{format_datetime(piece.published)}</pubDate>"
            f"<dc:creator><![CDATA[{piece.author}]]></dc:creator>"
            f"<description><![CDATA[{summary}]]></description>{content}</item>"
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>{html.escape(channel.title)}</title><link>{{{{BASE}}}}/{channel.id}/</link>
<description>{html.escape(channel.title)}</description><language>{"zh-cn" if channel.zh else "en"}</language>
{"".join(items)}
</channel></rss>
"""


def feed_path(channel: Channel) -> str:
    return f"/feeds/{channel.id}.xml"


def write_site(root: Path, site: list[Channel], *, images: bool, listed: int | None = None) -> None:
    """Feeds (each listing its newest `listed` pieces, or all), the listed pieces' pages and,
    with `images`, their lead images."""
    for channel in site:
        shown = channel.pieces if listed is None else channel.pieces[:listed]
        write(root / feed_path(channel).lstrip("/"), feed_xml(channel, shown, images=images))
        for piece in shown:
            write(root / piece.path.lstrip("/"), page_html(piece, channel, images=images))
            if images:
                jpeg = root / "img" / f"lead-{piece.number}.jpg"
                jpeg.parent.mkdir(parents=True, exist_ok=True)
                jpeg.write_bytes(lead_jpeg(piece.number))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_config(
    directory: Path, base: str, site: list[Channel], *, per_host: int, keep: int
) -> Config:
    """Like tests/cycle_helpers.write_config: output, state and a bare repo in `directory`."""
    subprocess.run(["git", "init", "--quiet", "--bare", str(directory / "remote.git")], check=True)
    lines = [
        "[site]",
        'title = "禁闻聚合"',
        'output = "mirror"',
        'state = "state/samizdat.db"',
        'base_url = "https://github.com/owner/mirror/blob/master"',
        f"keep = {keep}",
        "",
        "[links]",
        'blocked = ["example-news.com", "127.0.0.1"]',
        "",
        "[fetch]",
        f"per_host = {per_host}",
        "",
        "[[mirrors]]",
        'name = "origin"',
        'remote = "remote.git"',
        "",
    ]
    for kind, (sid, title, rules) in SOURCES.items():
        chans = [c for c in site if c.kind == kind]
        if not chans:
            continue
        lines += ["[[sources]]", f'id = "{sid}"', f'title = "{title}"', rules]
        for c in chans:
            lines += [
                "  [[sources.channels]]",
                f'  id = "{c.id}"',
                f'  title = "{c.title}"',
                f'  feed = "{base}{feed_path(c)}"',
                "",
            ]
    path = directory / "samizdat.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return config_module.load(path)


# --------------------------------------------------------------------------- measuring


class CpuClock:
    """CPU seconds used since creation by this process and the children it has waited for.

    On a shared two-core machine wall time moves with other people's load; CPU time much less,
    so both are printed."""

    def __init__(self) -> None:
        self.start = self._now()

    @staticmethod
    def _now() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def seconds(self) -> float:
        return self._now() - self.start


class StageClock(Reporter):
    """A quiet Reporter that notes when each stage of the cycle starts."""

    def __init__(self) -> None:
        super().__init__(interactive=False)
        self.marks: list[tuple[str, float]] = []
        self.cpu = 0.0  # CPU seconds of this process and its reaped children (workers, git)
        self.text = ""

    def stage(self, description: str, total: int | None = None) -> None:
        self.marks.append((description, time.perf_counter()))

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def breakdown(self, started: float, ended: float) -> str:
        marks = [("start", started), *self.marks, ("end", ended)]
        parts = [
            f"{name} {b - a:.2f}s"
            for (name, a), (_, b) in itertools.pairwise(marks)
            if name != "start" or b - a >= 0.005
        ]
        return ", ".join(parts)


def timed_cycle(
    config: Config, profile: Path | None = None
) -> tuple[float, pipeline.CycleReport, StageClock]:
    clock = StageClock()
    profiler = _profiler() if profile else None
    cpu = CpuClock()
    started = time.perf_counter()
    if profiler:
        profiler.start()
    report = pipeline.run(config, clock)
    if profiler:
        profiler.stop()
    ended = time.perf_counter()
    clock.cpu = cpu.seconds()
    if profiler and profile:
        profile.write_text(profiler.output_text(unicode=True, color=False), encoding="utf-8")
    clock.text = clock.breakdown(started, ended)
    return ended - started, report, clock


def _profiler():  # type: ignore[no-untyped-def]
    from pyinstrument import Profiler

    return Profiler(interval=0.001)


async def fetch_only(urls: list[str], config: Config) -> float:
    """The same pages through the Fetcher alone: the floor the server and fetcher allow."""
    async with Fetcher(config.fetch) as fetcher:
        started = time.perf_counter()
        await asyncio.gather(*(fetcher.get(u) for u in urls))
        return time.perf_counter() - started


class RemoteSite:
    """SiteServer in a child process: a news site is not inside our process, so its threads
    must not compete with the cycle's event loop for our GIL (in one process they do, and the
    figures would charge the server's Python work to the cycle). `--same-process` keeps it in."""

    def __init__(
        self, root: Path, delay: float, *, same_process: bool = False, host: str = "127.0.0.1"
    ) -> None:
        self.root, self.delay, self.same_process, self.host = root, delay, same_process, host
        self.base_url = ""
        self._local: SiteServer | None = None

    def __enter__(self) -> RemoteSite:
        if self.same_process:
            self._local = SiteServer(self.root, delay=self.delay, host=self.host).start()
            self.base_url = self._local.base_url
            return self
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(self.root, self.delay, self.host, child), daemon=True
        )
        self._process.start()
        self.base_url = self._conn.recv()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._local is not None:
            self._local.stop()
            return
        self._conn.send("stop")
        self._process.join(timeout=10)

    def url(self, path: str) -> str:
        return self.base_url + quote(path, safe="/%?=&#:@")

    def log(self) -> list[Request]:
        if self._local is not None:
            return list(self._local.log)
        self._conn.send("log")
        return self._conn.recv()

    def reset(self) -> None:
        if self._local is not None:
            self._local.reset()
            return
        self._conn.send("reset")
        self._conn.recv()


def _serve(
    root: Path, delay: float, host: str, conn: multiprocessing.connection.Connection
) -> None:
    with SiteServer(root, delay=delay, host=host) as server:
        conn.send(server.base_url)
        while (command := conn.recv()) != "stop":
            if command == "log":
                conn.send(list(server.log))
            elif command == "reset":
                server.reset()
                conn.send(None)


def server_settings(same_process: bool) -> str:
    nagle_off = getattr(_Handler, "disable_nagle_algorithm", False)
    return (
        f"SiteServer in {'this' if same_process else 'a child'} process: "
        f"{_Handler.protocol_version}, "
        f"TCP_NODELAY {'on' if nagle_off else 'off (Nagle on)'}"
    )


def spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def problems_line(report: pipeline.CycleReport) -> str:
    if not report.problems:
        return "no problems"
    shown = "; ".join(report.problems[:3])
    return f"{len(report.problems)} problem(s), e.g. {shown}"


# --------------------------------------------------------------------------- the two benchmarks


def first_cycle(args: argparse.Namespace, work: Path) -> bool:
    global IMAGE_BASE
    site = make_site(args.channels, spread(args.n, args.channels))
    root = work / "site"
    separate = args.images and not args.same_host
    images = RemoteSite(root, args.delay, same_process=args.same_process, host="127.0.0.2")
    if separate:
        images.__enter__()
        IMAGE_BASE = images.base_url
    write_site(root, site, images=args.images)
    # Pages and, when the pages carry them, lead images: the requests the cycle must make
    # besides the feeds, `per_host` at a time on each host. With images on an image host of
    # their own, the ideal is the article one; on the page host, images double it.
    needed = args.n * (2 if args.images and not separate else 1)
    ideal = needed * args.delay / args.per_host
    article_ideal = args.n * args.delay / args.per_host
    try:
        return _first_cycle(args, work, site, root, needed, ideal, article_ideal, images, separate)
    finally:
        if separate:
            images.__exit__(None, None, None)


def _first_cycle(
    args: argparse.Namespace,
    work: Path,
    site: list[Channel],
    root: Path,
    needed: int,
    ideal: float,
    article_ideal: float,
    images: RemoteSite,
    separate: bool,
) -> bool:
    with RemoteSite(root, args.delay, same_process=args.same_process) as server:
        config = write_config(
            work, server.base_url, site, per_host=args.per_host, keep=max(500, args.n)
        )
        profile = args.profile / "first-cycle.txt" if args.profile else None
        elapsed, report, clock = timed_cycle(config, profile)
        log = server.log()
        made = [server.url(r.path) for r in log if not r.path.startswith("/feeds/")]
        if separate:
            made += [images.url(r.path) for r in images.log()]
        feeds = len(log) - sum(1 for r in log if not r.path.startswith("/feeds/"))
        methods = _methods(config)
        floor = None
        if not args.no_floor:
            floor = asyncio.run(fetch_only(made, config))
    ratio = elapsed / ideal
    ok = ratio <= FIRST_GOAL and not report.problems
    what = (
        f"{args.n} pages (+ {args.n} lead images on their own host)"
        if separate
        else f"{args.n} pages + {args.n} lead images"
        if args.images
        else f"{args.n} pages"
    )
    print(
        f"first cycle, {args.n} articles, {args.delay * 1000:.0f} ms/response, "
        f"per_host {args.per_host}: {elapsed:.2f}s vs ideal {ideal:.2f}s for {what} = "
        f"{ratio:.2f}x ideal (goal ≤ {FIRST_GOAL}x: {'met' if ok else 'MISSED'})"
    )
    if args.images and not separate:
        print(
            f"  against the article-only ideal N × delay ÷ per_host = {article_ideal:.2f}s: "
            f"{elapsed / article_ideal:.2f}x (images double the requests; --no-images leaves "
            f"them out of the pages)"
        )
    print(f"  stages: {clock.text}; CPU {clock.cpu:.1f}s on {os.cpu_count()} cores")
    print(
        f"  {report.new} new, {report.updated} updated, {len(made)} page/image requests "
        f"(+{feeds} feeds), body from {methods}; {problems_line(report)}"
    )
    if floor is not None:
        print(
            f"  fetch alone, the same {len(made)} requests: {floor:.2f}s = "
            f"{floor / ideal:.2f}x the ideal "
            f"({server_settings(args.same_process)})"
        )
    return ok


def _methods(config: Config) -> str:
    with Store(config.site.state) as store:
        rows = store.db.execute("SELECT method, count(*) FROM articles GROUP BY method")
        return ", ".join(f"{m} {n}" for m, n in sorted(tuple(r) for r in rows))


def fill_store(config: Config, site: list[Channel], base: str, listed: int) -> None:
    """Write every piece into the store as a cycle would have stored it.

    The listed pieces get the fingerprint their feed item has, so the priming cycle finds
    nothing to fetch."""
    source_of = {c.id: SOURCES[c.kind][0] for c in site}
    with Store(config.site.state) as store:
        for channel in site:
            feed = (config.path.parent / "site" / feed_path(channel).lstrip("/")).read_bytes()
            items = parse_feed(
                feed.replace(b"{{BASE}}", base.encode()),
                base + feed_path(channel),
                source=source_of[channel.id],
                channel=channel.id,
            )
            fingerprints = {i.url: i.fingerprint for i in items}
            taken: set[str] = set()
            for position, piece in enumerate(channel.pieces):
                url = base + piece.path
                slug = page_id(url, taken)
                taken.add(slug)
                body = "".join(f"<p>{html.escape(p)}</p>" for p in piece.paragraphs)
                article = Article(
                    channel=channel.id,
                    slug=slug,
                    url=url,
                    title=piece.title,
                    html=body,
                    text="\n\n".join(piece.paragraphs),
                    published=piece.published,
                    image=None,  # the no-op site serves no images
                    author=piece.author,
                    position=position if position < listed else 0,
                )
                store.save(
                    article,
                    source=source_of[channel.id],
                    fingerprint=fingerprints.get(url, "old"),
                    method=channel.kind,
                )


def noop_cycle(args: argparse.Namespace, work: Path) -> bool:
    per_channel = spread(args.store, args.channels)
    site = make_site(args.channels, per_channel, seed=89)
    root = work / "site"
    write_site(root, site, images=False, listed=args.feed_items)
    # `python -m samizdat` with this checkout first on the path: what the `samizdat` script
    # runs, but measuring the code beside this file even when the installed one is elsewhere.
    samizdat = [sys.executable, "-m", "samizdat"]
    with RemoteSite(root, args.delay, same_process=args.same_process) as server:
        config = write_config(
            work, server.base_url, site, per_host=args.per_host, keep=max(500, max(per_channel))
        )
        started = time.perf_counter()
        fill_store(config, site, server.base_url, args.feed_items)
        filled = time.perf_counter() - started
        # The store's `updated` stamps and the render's `render.at` have whole seconds, and
        # build re-renders what was updated at or after render.at: an article saved in the
        # second the render starts counts as changed once more in the next cycle (which then
        # rewrites site/search and commits). Let that second pass, so the priming cycle leaves
        # a settled output and the runs below measure the steady no-op.
        time.sleep(1.1)
        priming, report, clock = timed_cycle(config)
        print(
            f"store of {args.store} articles: filled in {filled:.1f}s; priming cycle (feeds read, "
            f"full render, commit, push) {priming:.1f}s [{clock.text}; CPU {clock.cpu:.1f}s]; "
            f"{report.new} new, {report.updated} updated; {problems_line(report)}"
        )
        head = _head(config)
        server.reset()
        starts, cycles = [], []
        for _ in range(args.runs):
            starts.append(_wall([sys.executable, "-c", "pass"]))
            cycles.append(_wall([*samizdat, "-c", str(config.path), "run"]))
        log = server.log()
        requests = len(log)
        fetched = [r.path for r in log if not r.path.startswith("/feeds/")]
        conditional = sum(any(k.lower() == "if-none-match" for k in r.headers) for r in log)
        if args.profile:
            _profile_subprocess(config, args.profile / "noop-cycle.txt")
        inprocess, report2, clock2 = timed_cycle(config)
        unchanged = _head(config) == head
    start = statistics.median(w for w, _ in starts)
    cycle = statistics.median(w for w, _ in cycles)
    cpu = statistics.median(c for _, c in cycles)
    beyond = cycle - start
    ok = beyond < NOOP_GOAL and unchanged and not fetched
    rounds = -(-args.channels // args.per_host)  # feeds on one host, per_host at a time
    print(f"interpreter start (python -c pass): {start:.3f}s (median of {args.runs})")
    print(
        f"no-op cycle over {args.store} articles (python -m samizdat -c CONFIG run): {cycle:.3f}s, "
        f"CPU {cpu:.3f}s (medians of {args.runs}; wall {', '.join(f'{w:.2f}' for w, _ in cycles)})"
    )
    print(
        f"no-op cycle beyond interpreter start: {beyond:.3f}s = {beyond / NOOP_GOAL:.2f}x the "
        f"{NOOP_GOAL:.0f} s goal ({'met' if ok else 'MISSED'}); of it, {args.channels} feeds "
        f"answering 304 after {args.delay * 1000:.0f} ms, {args.per_host} at a time, take "
        f"≥ {rounds * args.delay:.1f}s"
    )
    print(
        f"  in-process no-op cycle (imports warm): {inprocess:.3f}s [{clock2.text}; "
        f"CPU {clock2.cpu:.2f}s]; {requests} requests in {args.runs} runs ({conditional} "
        f"conditional, {len(fetched)} not feeds); output commit "
        f"{'unchanged' if unchanged else 'CHANGED'}; {problems_line(report2)}"
    )
    return ok


def _wall(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one command (CPU includes the children it waited for)."""
    cpu = CpuClock()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(f"  {' '.join(command[:3])}… exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return elapsed, cpu.seconds()


def _head(config: Config) -> str:
    return subprocess.run(
        ["git", "-C", str(config.site.output), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _profile_subprocess(config: Config, out: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pyinstrument",
            "--interval",
            "0.001",
            "-r",
            "text",
            "--unicode",
            "-o",
            str(out),
            "-m",
            "samizdat",
            "-c",
            str(config.path),
            "run",
        ],
        check=True,
        capture_output=True,
        env=ENV,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="articles in the first cycle")
    parser.add_argument("--per-host", type=int, default=4, help="[fetch] per_host")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added to each response")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--store", type=int, default=10_000, help="articles in the no-op store")
    parser.add_argument("--feed-items", type=int, default=100, help="items per feed (no-op)")
    parser.add_argument("--runs", type=int, default=3, help="no-op cycles to take the median of")
    parser.add_argument("--only", choices=("first", "noop"), help="run one of the two")
    parser.add_argument("--no-floor", action="store_true", help="skip the fetch-alone control")
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="run the SiteServer in this process (it then shares the cycle's GIL)",
    )
    parser.add_argument(
        "--no-images",
        dest="images",
        action="store_false",
        help="pages without lead images",
    )
    parser.add_argument(
        "--same-host",
        action="store_true",
        help="serve lead images from the page host (2N requests under one per-host limit) "
        "instead of an image host of their own on 127.0.0.2",
    )
    parser.add_argument("--profile", type=Path, help="write pyinstrument reports into this folder")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    work = args.keep or Path(tempfile.mkdtemp(prefix="samizdat-bench-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    ok = True
    try:
        if args.only in (None, "first"):
            ok &= first_cycle(args, work / "first")
        if args.only in (None, "noop"):
            ok &= noop_cycle(args, work / "noop")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
