"""Publishing: the cost of one commit + push, and the size of a mirror after a year of cycles.

    python bench/publish.py [--only cycle|year] [--base 10000] [--new 50] [--runs 7]
                            [--squash-after 336] [--after 48] [--keep DIR]

1. Commit + push of one cycle. A repository holding BASE articles (default 10,000 over 10
   channels: `pages/<channel>/<id>.md` of 4–8 KB of Chinese text in the layout `render_page`
   writes, its QR code `<id>.md.png` drawn by samizdat's own `qr_png` (about 450 B),
   `indexes/<channel>.md` + `-earlier.md`, `README.md`) is committed and pushed once to a bare
   repository by `publish_output`, then copied twice with `cp -a` (output, store, mirror). A
   copy changes every file's inode and ctime, so both git indexes are refreshed first (else
   the first `git add` would hash every file again, which no real cycle does). Each of RUNS
   runs is one more cycle on both copies: the same NEW articles and rewritten indexes are
   written into both (untimed), then, in alternating order,
     ours:  `pipeline.publish_output` (ensure_repo, commit, push_all, the Store's push record)
     plain: `git add -A`, `git commit -q -m …`, `git push -q MIRROR HEAD:refs/heads/master`,
            run one after the other with subprocess (what `a && b && c` runs, minus the shell)
   Goal: median ours ≤ 1.2 × median plain. Ours is also broken down by step (the bench wraps
   `publish._git`, `publish._push_one` and two Store methods from outside; samizdat is not
   changed), the plain side by command.

2. A mirror's size after a year: 48 cycles a day, 20 new articles each (spread at random over
   10 channels), `keep = 500` a channel (the oldest page and its QR code leave the tree as each
   new one arrives), the touched channels' indexes rewritten. Every cycle is a real
   `publish_output` into a real output repository pushed to a real bare mirror, with
   `squash_after = SQUASH_AFTER` (default 336 = one week). Simulated in full, not scaled:
     - the start: one root commit holding a full tree (10 × 500 articles), as after the first
       5.2 days of a new mirror;
     - SQUASH_AFTER cycles: until the first squash the history is exactly the history without
       squashing, so these days give both the no-squash growth per day and the squashed
       mirror's largest size;
     - AFTER more cycles (default 48): the squash, the lease push, and regrowth.
   At the end of each simulated day the mirror is measured as pushed (packs + loose objects,
   as receive-pack and its `gc --auto` left them), then `git gc --prune=now` is run on it, as a
   host's maintenance repacks (GitHub repacks regularly; it drops unreachable objects only
   after a grace period, so right after a squash a host's disk briefly holds both histories:
   the "as pushed" column). The packed size after gc is what a clone downloads.
   The year without squashing is extrapolated, and only that: the objects a mirror holds are
   every blob ever committed (each article's page and QR code once, each index version as a
   delta) plus, per commit, the commit and the changed trees as deltas. Both grow linearly
   once the tree is full (same tree size, same number of changes per cycle), so
   size(year) ≈ size(root) + growth per day × (365 − 5.2 days to fill the tree). The blob /
   tree / commit split of the growth is printed to show what it is made of.

`--keep DIR` keeps the repositories. Exits 1 when the commit + push goal is missed.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samizdat import config as config_module  # noqa: E402
from samizdat import publish  # noqa: E402
from samizdat.config import Config  # noqa: E402
from samizdat.pipeline import CycleReport, publish_output  # noqa: E402
from samizdat.progress import Reporter  # noqa: E402
from samizdat.render.qr import qr_png  # noqa: E402
from samizdat.store import Store  # noqa: E402

GOAL = 1.2  # ours ≤ this × plain git
CHANNELS = 10
INDEX_SIZE = 100  # PublishConfig.index_size's default
CYCLES_A_DAY = 48  # every 30 minutes
# A real mirror's address and channel ids of real length: the QR code's size follows the URL's.
BASE_URL = "https://github.com/gfw-breaker/banned-news3/blob/master"
CHANNEL_IDS = [f"china-news-{i}" for i in range(CHANNELS)]
MENU = "#### [首页](../../README.md) | [翻墙教程](https://github.com/o/guides/wiki)"

# --------------------------------------------------------------------------- articles

# Text with the statistics that matter to git: a Zipf-weighted lexicon of 1–4 character words
# over ~2,800 CJK characters (the seed page's plus random ones) deflates to about 1.45 bytes a
# character, close to real news prose (1.4–1.6); a small pool of repeated sentences would
# deflate far better and understate every size here.
_SEED = ROOT.parent / "shared" / "reference" / "seed-page.md"


def _lexicon() -> tuple[list[str], list[float]]:
    rng = random.Random(1)
    seen = _SEED.read_text(encoding="utf-8") if _SEED.exists() else ""
    chars = sorted(set(re.findall(r"[\u4e00-\u9fff]", seen)))
    chars += [chr(rng.randrange(0x4E00, 0x9FA6)) for _ in range(2800 - len(chars))]
    weights = [1 / (i + 1) ** 0.9 for i in range(len(chars))]
    words = [
        "".join(rng.choices(chars, weights, k=rng.choice((1, 2, 2, 2, 3, 4)))) for _ in range(6000)
    ]
    return words, list(itertools.accumulate(1 / (i + 1) for i in range(len(words))))


WORDS, CUM_WEIGHTS = _lexicon()


def prose(rng: random.Random, chars: int) -> list[str]:
    """Paragraphs of about `chars` characters."""
    paragraphs, size = [], 0
    while size < chars:
        sentences = [
            "".join(rng.choices(WORDS, cum_weights=CUM_WEIGHTS, k=rng.randint(6, 20)))
            + rng.choice("。。。，；！？")
            for _ in range(rng.randint(2, 6))
        ]
        paragraphs.append("".join(sentences))
        size += len(paragraphs[-1])
    return paragraphs


@dataclass(frozen=True)
class Page:
    channel: str
    slug: str
    title: str
    markdown: bytes
    png: bytes

    @property
    def path(self) -> str:
        return f"pages/{self.channel}/{self.slug}.md"


def make_page(channel: str, serial: int) -> Page:
    """One article as `render_page` lays it out: 4–8 KB of Markdown and a real QR code."""
    rng = random.Random(f"{channel}/{serial}")
    slug = f"n{serial:08d}"  # news sites' ids mostly grow: new pages land at a tree's end
    title = "".join(rng.choices(WORDS, cum_weights=CUM_WEIGHTS, k=rng.randint(5, 10)))
    address = f"{BASE_URL}/pages/{channel}/{slug}.md"
    head = [f"### {title}", "---", MENU, f"![{title}](../../images/{slug}.jpg)", "---"]
    tail = [
        "---",
        "手机上长按并复制下列链接或二维码分享本文章：",
        f"<{address}>",
        f"[![本文二维码]({slug}.md.png)]({address})",
        f"原文地址（需翻墙访问）：https://www.example-news.com/gb/{serial}.html",
        "---",
        MENU,
    ]
    frame = len("\n\n".join(head + tail).encode())
    body = prose(rng, max(200, (rng.randint(4000, 8000) - frame) // 3))
    text = "\n\n".join(head + body + tail) + "\n"
    return Page(channel, slug, title, text.encode(), qr_png(address))


class Output:
    """An output folder as samizdat's render phase leaves it: pages, QR codes, indexes.

    Every write and delete goes to each of `roots` alike (identical copies to compare)."""

    def __init__(self, *roots: Path) -> None:
        self.roots = list(roots)
        self.channels: dict[str, deque[Page]] = {c: deque() for c in CHANNEL_IDS}
        self.serial = itertools.count(10_000_000)

    def add(self, channel: str) -> Page:
        page = make_page(channel, next(self.serial))
        for root in self.roots:
            folder = root / "pages" / channel
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{page.slug}.md").write_bytes(page.markdown)
            (folder / f"{page.slug}.md.png").write_bytes(page.png)
        self.channels[channel].appendleft(page)
        return page

    def purge(self, channel: str, keep: int) -> int:
        pages, gone = self.channels[channel], 0
        while len(pages) > keep:
            old = pages.pop()
            for root in self.roots:
                (root / old.path).unlink()
                (root / f"{old.path}.png").unlink()
            gone += 1
        return gone

    def indexes(self, channels: set[str]) -> None:
        for root in self.roots:
            self._indexes(root, channels)

    def _indexes(self, root: Path, channels: set[str]) -> None:
        (root / "indexes").mkdir(exist_ok=True)
        for channel in sorted(channels):
            pages = list(self.channels[channel])
            lines = [f"#### [{p.title}](../{p.path})" for p in pages]
            head = f"### 新闻：{channel}\n\n{MENU.replace('../../', '../')}\n\n---\n\n"
            main, rest = lines[:INDEX_SIZE], lines[INDEX_SIZE:]
            foot = f"\n\n---\n\n#### [更早的文章]({channel}-earlier.md)" if rest else ""
            (root / "indexes" / f"{channel}.md").write_text(
                head + "\n".join(main) + foot + "\n", encoding="utf-8"
            )
            if rest:
                (root / "indexes" / f"{channel}-earlier.md").write_text(
                    head + "\n".join(rest) + f"\n\n---\n\n#### [最新文章]({channel}.md)\n",
                    encoding="utf-8",
                )
        counts = " | ".join(f"[{c}](indexes/{c}.md)（{len(p)}）" for c, p in self.channels.items())
        (root / "README.md").write_text(
            f"### 新闻镜像\n\n#### [首页](README.md)\n\n---\n\n#### 新闻：{counts}\n",
            encoding="utf-8",
        )
        (root / ".gitignore").write_text("*.tmp\n", encoding="utf-8")

    def fill(self, per_channel: int) -> None:
        for channel in self.channels:
            for _ in range(per_channel):
                self.add(channel)
        self.indexes(set(self.channels))

    def cycle(self, rng: random.Random, new: int, keep: int | None) -> tuple[int, int]:
        """New articles spread at random over the channels; retention; the touched indexes."""
        touched = rng.choices(sorted(self.channels), k=new)
        for channel in touched:
            self.add(channel)
        purged = sum(self.purge(c, keep) for c in set(touched)) if keep else 0
        self.indexes(set(touched))
        return new, purged


# --------------------------------------------------------------------------- git helpers


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def bare(path: Path) -> Path:
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    return path


CONFIG = """\
[site]
title = "bench"
output = "{output}"
state = "{state}"
base_url = "{base}"
keep = {keep}

[publish]
squash_after = {squash}

[[mirrors]]
name = "mirror"
remote = "{remote}"

[[sources]]
id = "s"
title = "新闻"
{channels}
"""


def make_config(folder: Path, output: Path, remote: Path, *, keep: int, squash: int) -> Config:
    channels = "\n".join(
        f'  [[sources.channels]]\n  id = "{c}"\n  feed = "https://news.example/{c}.xml"\n'
        for c in CHANNEL_IDS
    )
    path = folder / "samizdat.toml"
    path.write_text(
        CONFIG.format(
            output=output,
            state=folder / "state.db",
            base=BASE_URL,
            keep=keep,
            squash=squash,
            remote=remote,
            channels=channels,
        ),
        encoding="utf-8",
    )
    return config_module.load(path)


def run_cycle(cfg: Config, store: Store, new: int, purged: int) -> CycleReport:
    report = CycleReport(new=new, purged=purged)
    with Reporter(interactive=False) as reporter:
        publish_output(cfg, store, report, reporter)
    if report.problems or not report.commit:
        raise SystemExit(f"publish_output failed: {report.problems or 'no commit'}")
    return report


@contextmanager
def git_timings() -> Iterator[dict[str, list[float]]]:
    """Time every git command `publish` runs (its `_git`), each push and the Store's push
    records, by name: wrapped from outside, samizdat's code is not changed."""
    times: dict[str, list[float]] = defaultdict(list)
    original_git, original_push = publish._git, publish._push_one

    def timed_git(output: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        started = time.perf_counter()
        try:
            return original_git(output, *args, **kw)  # type: ignore[arg-type]
        finally:
            words = [a for a in args[:3] if not a.startswith(("-c", "init."))]
            name = " ".join(w for w in words if not re.fullmatch(r"[0-9a-f]{40}", w))
            times[f"git {name}"].append(time.perf_counter() - started)

    def timed_push(*args: object) -> publish.PushResult:
        started = time.perf_counter()
        try:
            return original_push(*args)  # type: ignore[arg-type]
        finally:
            times["git push (thread)"].append(time.perf_counter() - started)

    def timed_method(name: str) -> object:
        original = getattr(Store, name)

        def method(self: Store, *args: object, **kw: object) -> object:
            started = time.perf_counter()
            try:
                return original(self, *args, **kw)
            finally:
                times[f"Store.{name} (SQLite)"].append(time.perf_counter() - started)

        return method

    store_methods = {name: getattr(Store, name) for name in ("pushes", "record_push")}
    publish._git, publish._push_one = timed_git, timed_push  # type: ignore[assignment]
    for name in store_methods:
        setattr(Store, name, timed_method(name))
    try:
        yield times
    finally:
        publish._git, publish._push_one = original_git, original_push  # type: ignore[assignment]
        for name, original in store_methods.items():
            setattr(Store, name, original)


def kib(n: float) -> str:
    return f"{n / 1024:,.0f} KiB" if n < 10 * 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MiB"


# --------------------------------------------------------------------------- part 1


def bench_cycle(work: Path, base: int, new: int, runs: int) -> bool:
    print(f"== 1. Commit + push of {new} new articles into a repository of {base:,}")
    prep = work / "prep"
    started = time.perf_counter()
    out = Output(prep / "out")
    out.fill(base // CHANNELS)
    mirror = bare(prep / "mirror.git")
    cfg = make_config(prep, prep / "out", mirror, keep=10**6, squash=0)
    with Store(cfg.site.state) as store:
        run_cycle(cfg, store, base, 0)  # leaves a push record, as every later real cycle has
    pages = list((prep / "out" / "pages").glob("*/*.md"))
    md = sum(f.stat().st_size for f in pages)
    png = sum(f.with_name(f.name + ".png").stat().st_size for f in pages)
    print(
        f"   prepared in {time.perf_counter() - started:.0f} s: {len(pages):,} pages "
        f"(mean {md / len(pages) / 1024:.1f} KiB) + QR codes (mean {png / len(pages):.0f} B), "
        f"{kib(md + png)}; mirror {kib(dir_size(mirror))}"
    )
    # Two identical copies (output, store, mirror). A copy changes every file's inode and
    # ctime: refresh the git index, or the first `git add` would hash every file again.
    sides = {side: work / side for side in ("ours", "plain")}
    for folder in sides.values():
        subprocess.run(["cp", "-a", str(prep), str(folder)], check=True)
        git(folder / "out", "update-index", "-q", "--refresh")
    shutil.rmtree(prep)
    ours_dir = sides["ours"]
    cfg = make_config(ours_dir, ours_dir / "out", ours_dir / "mirror.git", keep=10**6, squash=0)
    out.roots = [folder / "out" for folder in sides.values()]

    # Each run is one more cycle on both copies: the same NEW articles and rewritten indexes
    # written into both (untimed), then committed and pushed by each side, in turn first.
    rng = random.Random(7)
    ours_t: list[float] = []
    plain_t: list[float] = []
    other_t: list[float] = []
    steps: dict[str, list[float]] = defaultdict(list)
    calls: dict[str, int] = {}
    plain_steps: dict[str, list[float]] = defaultdict(list)
    for run in range(runs):
        out.cycle(rng, new, None)
        for side in ("ours", "plain") if run % 2 == 0 else ("plain", "ours"):
            if side == "ours":
                with Store(cfg.site.state) as store, git_timings() as times:
                    started = time.perf_counter()
                    run_cycle(cfg, store, new, 0)
                    ours_t.append(time.perf_counter() - started)
                for name, values in times.items():
                    steps[name].append(sum(values))
                    calls[name] = len(values)
                other_t.append(ours_t[-1] - sum(sum(v) for v in times.values()))
            else:
                # The three commands a cron script would chain with &&, timed one by one.
                folder = sides["plain"]
                commands = {
                    "add -A": ["git", "add", "-A"],
                    "commit": ["git", "commit", "-q", "-m", "Sync: new articles"],
                    "push": [
                        "git",
                        "push",
                        "-q",
                        str(folder / "mirror.git"),
                        "HEAD:refs/heads/master",
                    ],
                }
                total = 0.0
                for name, argv in commands.items():
                    started = time.perf_counter()
                    subprocess.run(argv, cwd=folder / "out", check=True)
                    took = time.perf_counter() - started
                    plain_steps[f"git {name}"].append(took)
                    total += took
                plain_t.append(total)
        print(
            f"   run {run + 1}: ours {ours_t[-1] * 1000:.0f} ms, plain {plain_t[-1] * 1000:.0f} ms"
        )

    ours, plain = statistics.median(ours_t), statistics.median(plain_t)
    ratio = ours / plain
    print(f"   median ours  (publish_output)        {ours * 1000:7.0f} ms")
    print(f"   median plain (git add/commit/push)   {plain * 1000:7.0f} ms")
    verdict = "ok" if ratio <= GOAL else "MISSED"
    print(f"   ratio {ratio:.2f} (goal ≤ {GOAL}) {verdict}")
    print("   ours by step (median over the runs):")
    for name, values in sorted(steps.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"     {name:34} {statistics.median(values) * 1000:7.1f} ms  ({calls[name]} call(s))")
    print(f"     {'the rest (Python, threads)':34} {statistics.median(other_t) * 1000:7.1f} ms")
    print("   plain by command (median over the runs):")
    for name, values in plain_steps.items():
        print(f"     {name:34} {statistics.median(values) * 1000:7.1f} ms")
    return ratio <= GOAL


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --------------------------------------------------------------------------- part 2


@dataclass
class Sizes:
    packed: int  # bytes in objects/pack (packs, indexes, bitmaps)
    loose: int  # bytes of loose object files
    loose_count: int
    by_type: dict[str, int] = field(default_factory=dict)  # packed bytes per object type


def measure(repo: Path) -> Sizes:
    objects = repo / "objects"
    loose = [f for f in objects.glob("??/*") if f.is_file()]
    packed = sum(f.stat().st_size for f in (objects / "pack").glob("*") if f.is_file())
    return Sizes(packed, sum(f.stat().st_size for f in loose), len(loose))


def packed_by_type(repo: Path) -> dict[str, int]:
    by_type: dict[str, int] = defaultdict(int)
    lines = git(
        repo, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize:disk)"
    )
    for line in lines.splitlines():
        kind, size = line.split()
        by_type[kind] += int(size)
    return dict(by_type)


def gc(repo: Path) -> Sizes:
    git(repo, "gc", "--quiet", "--prune=now")
    sizes = measure(repo)
    sizes.by_type = packed_by_type(repo)
    return sizes


def bench_year(work: Path, squash_after: int, after: int, keep: int, per_cycle: int) -> None:
    print(
        f"\n== 2. Mirror size: {CYCLES_A_DAY} cycles a day, {per_cycle} new articles each, "
        f"keep = {keep} × {CHANNELS} channels, squash_after = {squash_after}"
    )
    folder = work / "year"
    folder.mkdir()
    out = Output(folder / "out")
    mirror = bare(folder / "mirror.git")
    cfg = make_config(folder, folder / "out", mirror, keep=keep, squash=squash_after)
    store = Store(cfg.site.state)
    started = time.perf_counter()
    out.fill(keep)
    run_cycle(cfg, store, keep * CHANNELS, 0)
    root = gc(mirror)
    print(
        f"   start: one root commit, {keep * CHANNELS:,} pages + QR codes "
        f"({time.perf_counter() - started:.0f} s); mirror after gc {kib(root.packed)}"
    )
    print("   day  cycles  commits  as pushed: packed + loose (objects)   after gc --prune=now")
    rng = random.Random(11)
    history: list[tuple[int, Sizes]] = [(0, root)]
    total = squash_after + after
    cycle_times: list[float] = []
    squashed_at = None
    for n in range(1, total + 1):
        new, purged = out.cycle(rng, per_cycle, keep)
        packs_before = {p.name for p in (mirror / "objects" / "pack").glob("*.pack")}
        started = time.perf_counter()
        report = run_cycle(cfg, store, new, purged)
        cycle_times.append(time.perf_counter() - started)
        if publish.commit_count(folder / "out") == 1 and squashed_at is None:
            squashed_at = n
            upload = sum(
                p.stat().st_size
                for p in (mirror / "objects" / "pack").glob("*.pack")
                if p.name not in packs_before
            )
            push = report.pushes[0]
            print(
                f"   cycle {n}: history squashed; the lease push re-sent the whole tree "
                f"({kib(upload)} pack, {push.seconds:.1f} s, ok={push.ok})"
            )
        # The squash comes with commit squash_after + 1, i.e. cycle squash_after: measure the
        # cycle before it too, the largest the mirror gets.
        if n % CYCLES_A_DAY == 0 or n in (squash_after - 1, total):
            pushed = measure(mirror)
            after_gc = gc(mirror)
            history.append((n, after_gc))
            commits = git(mirror, "rev-list", "--count", "master").strip()
            print(
                f"   {n / CYCLES_A_DAY:5.2f} {n:6}  {commits:>7}  {kib(pushed.packed):>10} + "
                f"{kib(pushed.loose):>9} ({pushed.loose_count:5})   {kib(after_gc.packed):>10}"
            )
    store.close()
    print(
        f"   one cycle's publish_output: median {statistics.median(cycle_times) * 1000:.0f} ms, "
        f"max {max(cycle_times) * 1000:.0f} ms"
    )

    # Growth per day over the stretch whose history equals the no-squash history.
    pre = [(n, s) for n, s in history if squashed_at is None or n < squashed_at]
    (n0, s0), (n1, s1) = pre[0], pre[-1]
    days = (n1 - n0) / CYCLES_A_DAY
    per_day = (s1.packed - s0.packed) / days
    fill_days = keep * CHANNELS / (per_cycle * CYCLES_A_DAY)
    year = s0.packed + per_day * (365 - fill_days)
    print(f"   growth per day without squashing (days 0–{days:.0f}, after gc): {kib(per_day)}")
    for kind in ("blob", "tree", "commit"):
        grow = (s1.by_type.get(kind, 0) - s0.by_type.get(kind, 0)) / days
        print(f"     {kind:6} {kib(grow):>10} a day  (root: {kib(s0.by_type.get(kind, 0))})")
    articles = 365 * CYCLES_A_DAY * per_cycle
    print(
        f"   WITHOUT squashing, a year ({365 * CYCLES_A_DAY:,} commits, {articles:,} articles): "
        f"≈ {kib(year)}  [extrapolated: root {kib(s0.packed)} + {kib(per_day)} × "
        f"{365 - fill_days:.1f} days; simulated {days:.0f} days]"
    )
    if squashed_at is None:
        print("   no squash happened within the simulated cycles (raise --after)")
        return
    largest = max(s.packed for n, s in history if n < squashed_at)
    last = history[-1][1].packed
    print(
        f"   WITH squash_after = {squash_after}: the mirror goes back to about the root's size at "
        f"each squash and grows {kib(per_day)} a day until the next; simulated: largest "
        f"{kib(largest)} (just before the squash), {kib(last)} {after} cycles after it "
        f"[simulated in full, no extrapolation: the pattern repeats every "
        f"{squash_after / CYCLES_A_DAY:g} days all year]"
    )


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("cycle", "year"))
    parser.add_argument("--base", type=int, default=10_000, help="articles already committed")
    parser.add_argument("--new", type=int, default=50, help="new articles in the timed cycle")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--squash-after", type=int, default=336, help="commits (336 = a week)")
    parser.add_argument("--after", type=int, default=48, help="cycles simulated after a squash")
    parser.add_argument("--keep-articles", type=int, default=500, help="site.keep")
    parser.add_argument("--per-cycle", type=int, default=20, help="new articles a cycle")
    parser.add_argument("--keep", type=Path, help="keep the repositories in this folder")
    args = parser.parse_args()

    print(
        f"git: {git(ROOT, 'version').strip()}; load average {Path('/proc/loadavg').read_text().split()[:3]}"
    )
    work = Path(tempfile.mkdtemp(prefix="samizdat-publish-"))
    try:
        ok = True
        if args.only in (None, "cycle"):
            ok = bench_cycle(work, args.base, args.new, args.runs)
        if args.only in (None, "year"):
            bench_year(work, args.squash_after, args.after, args.keep_articles, args.per_cycle)
        return 0 if ok else 1
    finally:
        if args.keep:
            shutil.move(str(work), args.keep)
            print(f"kept in {args.keep}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
