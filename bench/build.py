"""Build time of 10,000 articles: samizdat's Markdown and HTML outputs against Hugo.

    python bench/build.py [--articles 10000] [--keep DIR]

Fills a store with generated articles (Chinese text from a word list, a tenth English; some
paragraphs hold links, to mirrored articles and to blocked hosts, and emphasis), then times
`samizdat.build.build`, which writes both outputs (Markdown and the HTML site), each phase in a
fresh process so that its peak memory is its own:

  cold        build(full=True) into an empty output: every file written, every QR code drawn
  full        build(full=True) again (as `samizdat build`): every page rendered, QR codes kept
  base URL    after a base-URL change: every page and every QR code rewritten
  incremental 20 new articles, as a cycle renders them

and Hugo (Debian's `hugo`) building the same articles as Markdown pages with a minimal theme.
After the cold build, `--rounds` rounds (default 3) each time Hugo, a full build, a base-URL
build (alternating between two base URLs) and an incremental build, one after the other, so
that a busy spell on this shared machine weighs on both; the medians are compared.
Peak memory: the main process's, and the largest of its worker processes' (each reports its
own: they are children of multiprocessing's fork server, not of the main process); the goal
applies to their sum.
Goals: full <= 1.0x Hugo, base URL <= 1.5x Hugo, incremental < 2 s, peak memory < 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from samizdat.config import ChannelConfig, Config, SiteConfig, SourceConfig
from samizdat.models import Article
from samizdat.store import Store

CHANNELS = 10
WORDS = [
    "中国",
    "美国",
    "日本",
    "台湾",
    "香港",
    "政府",
    "经济",
    "市场",
    "芯片",
    "合作",
    "声明",
    "发布",
    "加强",
    "领域",
    "公司",
    "工厂",
    "建设",
    "官员",
    "报道",
    "记者",
    "表示",
    "认为",
    "问题",
    "国家",
    "人民",
    "社会",
    "发展",
    "政策",
    "安全",
    "军事",
    "外交",
    "会议",
    "总统",
    "主席",
    "法院",
    "判决",
    "抗议",
    "自由",
    "人权",
    "媒体",
    "网络",
    "审查",
    "翻墙",
    "新闻",
    "消息",
    "调查",
    "疫情",
    "医院",
    "学生",
    "大学",
    "教育",
    "银行",
    "利率",
    "通胀",
    "出口",
    "进口",
    "关税",
    "贸易",
    "投资",
    "股市",
    "房地产",
    "债务",
    "地方",
    "农村",
    "城市",
    "天气",
    "洪水",
    "地震",
]
ENGLISH = [
    "the",
    "government",
    "said",
    "markets",
    "rates",
    "inflation",
    "trade",
    "chips",
    "factory",
    "court",
    "ruling",
    "protest",
    "freedom",
    "press",
    "report",
    "officials",
    "announced",
    "investment",
    "floods",
    "earthquake",
    "election",
]


def make_config(root: Path, base_url: str) -> Config:
    channels = tuple(
        ChannelConfig(f"c{n}", f"频道{n}", feed=f"https://x.example/{n}.xml")
        for n in range(CHANNELS)
    )
    return Config(
        path=root / "samizdat.toml",
        site=SiteConfig(
            title="禁闻聚合",
            output=root / "mirror",
            state=root / "state.db",
            base_url=base_url,
            keep=100_000,
        ),
        sources=(SourceConfig("src", "来源", channels),),
        blocked=("x.example",),
    )


def generate(rng: random.Random, n: int, channel: str, start: datetime) -> Article:
    english = n % 10 == 0
    vocabulary = ENGLISH if english else WORDS
    joiner = " " if english else ""
    weights = [1 / (i + 1) for i in range(len(vocabulary))]  # Zipf-like, as real text
    paragraphs, html = [], []
    for k in range(rng.randint(6, 12)):
        words = rng.choices(vocabulary, weights, k=rng.randint(40, 90))
        paragraph = joiner.join(words) + ("." if english else "。")
        paragraphs.append(paragraph)
        if k == 1 and n % 3 == 0:  # a link to an earlier article (the mirror holds it)
            other = rng.randrange(max(1, n))
            html.append(f'<p>{paragraph}<a href="/gb/n{other}.htm">{words[0]}</a></p>')
        elif k == 2 and n % 4 == 0:  # a link to the blocked source's home, and emphasis
            html.append(
                f'<p><strong>{words[0]}</strong>{paragraph}<a href="https://x.example/">'
                f"{words[1]}</a><br>{words[2]}</p>"
            )
        else:
            html.append(f"<p>{paragraph}</p>")
    title = joiner.join(rng.choices(vocabulary, weights, k=8))
    return Article(
        channel=channel,
        slug=f"n{n}",
        url=f"https://x.example/gb/n{n}.htm",
        title=title,
        html="".join(html),
        text="\n\n".join(paragraphs),
        published=start + timedelta(minutes=n),
    )


def fill(root: Path, count: int, first: int = 0) -> None:
    rng = random.Random(first)
    config = make_config(root, "https://github.com/o/r/blob/master")
    start = datetime(2023, 1, 1, tzinfo=UTC)
    with Store(config.site.state) as store, store.atomic():
        for n in range(first, first + count):
            article = generate(rng, n, f"c{n % CHANNELS}", start)
            store.save(article, source="src", fingerprint="", method="")


def phase(root: Path, name: str, base_url: str) -> None:
    """One timed build in this process; prints JSON."""
    from samizdat.build import build

    config = make_config(root, base_url)
    with Store(config.site.state) as store:
        started = time.perf_counter()
        result = build(config, store, full=name != "incremental")
        total = time.perf_counter() - started
    cpu = result.worker_cpu
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        cpu += usage.ru_utime + usage.ru_stime
    print(
        json.dumps(
            {
                "load": result.load_seconds,
                "write": result.write_seconds,
                "total": total,
                # the whole process, imports included, and its worker processes (children of
                # multiprocessing's fork server, which rusage does not count as ours)
                "cpu": cpu,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "workers": (os.cpu_count() or 1) if result.worker_peak_kib else 0,
                "worker_peak_mb": result.worker_peak_kib / 1024,
                "pages": result.pages,
                "qr": result.qr_codes,
            }
        )
    )


def run_phase(root: Path, name: str, base_url: str) -> dict[str, float]:
    os.sync()  # see hugo()
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--root", str(root), "--base-url", base_url],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def hugo_site(root: Path) -> Path | None:
    """A Hugo site of the same articles with a minimal theme, or None without Hugo."""
    if shutil.which("hugo") is None:
        return None
    site = root / "hugo"
    layouts = site / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (site / "hugo.toml").write_text(
        'baseURL = "https://example.org/"\ntitle = "bench"\ndisableKinds = ["taxonomy", "term"]\n'
    )
    (layouts / "baseof.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>{{ .Title }}</title></head>'
        '<body>{{ block "main" . }}{{ end }}</body></html>'
    )
    (layouts / "single.html").write_text(
        '{{ define "main" }}<h1>{{ .Title }}</h1>{{ .Content }}{{ end }}'
    )
    (layouts / "list.html").write_text(
        '{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Paginator.Pages }}'
        '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}'
    )
    config = make_config(root, "https://github.com/o/r/blob/master")
    with Store(config.site.state) as store:
        for article in store.articles():
            folder = site / "content" / article.channel
            folder.mkdir(parents=True, exist_ok=True)
            body = article.text
            front = json.dumps(
                {"title": article.title, "date": article.published.isoformat()}, ensure_ascii=False
            )
            (folder / f"{article.slug}.md").write_text(f"{front}\n\n{body}\n", encoding="utf-8")
    return site


def hugo(site: Path) -> dict[str, float]:
    """One Hugo build of the site into the public/ of the last one, as `hugo` rebuilds a site:
    wall and CPU. (Deleting public/ first made every run slower than the one before here:
    freeing and creating 20,000 files costs this disk more each time.) Every timed run starts
    after a sync: without it, the previous run's 40,000 dirty files were still being written
    back during the next one, which slowed Hugo's rounds by up to half."""
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["hugo", "--quiet", "-s", str(site), "-d", str(site / "public")], check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"total": wall, "cpu": cpu}


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (medians printed)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.root, args.phase, args.base_url)
        return

    root = args.keep or Path(tempfile.mkdtemp(prefix="samizdat-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        fill(root, args.articles)
        print(f"store: {args.articles} articles in {time.perf_counter() - started:.1f} s")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        site = hugo_site(root)
        bases = ["https://github.com/o/r/blob/master", "https://codeberg.org/o/r/src/branch/master"]
        cold = run_phase(root, "cold", bases[0])
        if site is not None:
            hugo(site)  # warm-up: writes public/, and fills the page cache with the content
        # Rounds of every measurement, one after the other, so that a busy spell on this
        # shared machine weighs on Hugo and samizdat alike; medians are compared.
        runs: dict[str, list[dict[str, float]]] = {
            "hugo": [], "full": [], "base URL": [], "incremental": []
        }  # fmt: skip
        base = bases[0]
        for n in range(args.rounds):
            if site is not None:
                runs["hugo"].append(hugo(site))
            runs["full"].append(run_phase(root, "full", base))
            base = bases[(n + 1) % 2]
            runs["base URL"].append(run_phase(root, "full", base))
            fill(root, 20, first=args.articles + 20 * n)
            runs["incremental"].append(run_phase(root, "incremental", base))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        hugo_s = median(runs["hugo"], "total") if runs["hugo"] else None

        def line(name: str, figures: list[dict[str, float]], goal: str) -> None:
            total = median(figures, "total")
            ratio = f"{total / hugo_s:.2f}x Hugo" if hugo_s else "no Hugo"
            each = " ".join(f"{f['total']:.2f}" for f in figures)
            print(
                f"{name:<12} {total:6.2f} s = {ratio} (runs {each}; CPU "
                f"{median(figures, 'cpu'):.2f} s; load {median(figures, 'load'):.2f} s); "
                f"peak {max(f['peak_mb'] for f in figures):.0f} MB"
                f" + {max(f['workers'] for f in figures)} workers of"
                f" {max(f['worker_peak_mb'] for f in figures):.0f} MB; "
                f"pages {figures[-1]['pages']}, QR {figures[-1]['qr']}   goal {goal}"
            )

        if runs["hugo"]:
            each = " ".join(f"{f['total']:.2f}" for f in runs["hugo"])
            print(
                f"hugo         {hugo_s:6.2f} s (runs {each}; CPU {median(runs['hugo'], 'cpu'):.2f} s)"
            )
        else:
            print("hugo         not installed")
        line("cold", [cold], "(first build: no goal)")
        line("full", runs["full"], "<= 1.0x Hugo, < 500 MB")
        line("base URL", runs["base URL"], "<= 1.5x Hugo")
        line("incremental", runs["incremental"], "< 2 s")
        folder = root / "mirror" / "site" / "search"
        size = sum(p.stat().st_size for p in folder.rglob("*.js"))
        shards = list((folder / "s").glob("*.js"))
        largest = max(p.stat().st_size for p in shards)
        print(
            f"search index {size / 1e6:.1f} MB in {len(shards)} shards (largest {largest / 1e3:.0f} KB)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
