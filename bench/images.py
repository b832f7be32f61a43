"""Image mirroring: throughput, bytes saved, overlap with fetching, repository growth.

1. Throughput: `recompress` over a mix of typical news images (1600x1067 photo-like JPEGs,
   800x600 PNGs, small animated GIFs), on 1 thread and on 2 threads (this machine has 2 cores);
   prints images per second and bytes in vs out.
2. Overlap: N images served on loopback with LATENCY seconds per response, per-host limit 4:
   the wall time of the fetches alone vs the wall time of ImageMirror.mirror (fetch + process +
   store). Processing that overlaps with fetching adds little more than the last image's work.
3. Repository growth: ImageMirror over the bundled demo site's articles (extract_article on each
   page, then mirror the lead and body images), stored bytes per article and per 1,000 articles;
   and the same estimate for the typical-size mix at IMAGES_PER_ARTICLE images per article.

    python bench/images.py [--count 40] [--overlap 50] [--latency 0.1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

import samizdat
from samizdat.decode import decode_html
from samizdat.demo.server import SiteServer
from samizdat.fetch import Fetcher, FetchSettings
from samizdat.images import ImageMirror, ImageSettings, MirrorStats, Recompressed, recompress

DEMO = Path(samizdat.__file__).parent / "demo" / "site"
IMAGES_PER_ARTICLE = 1.5  # lead + the odd inline figure: our guess for a typical news article


def photo(seed: int, size: tuple[int, int]) -> Image.Image:
    """Gradients, soft shapes and sensor-like noise: compresses like a real photo (~250 KB at
    1600x1067, quality 90, as news sites serve them)."""
    width, height = size
    base = Image.linear_gradient("L").resize(size).rotate(seed * 37 % 360, expand=False)
    image = Image.merge("RGB", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x, y = (seed * 97 + i * 131) % width, (seed * 53 + i * 71) % height
        r = 40 + (i * 29 + seed) % 160
        draw.ellipse((x - r, y - r, x + r, y + r), fill=((i * 60) % 256, (seed * 40) % 256, 128))
    image = image.filter(ImageFilter.GaussianBlur(6))
    noise = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(image, noise, 0.12)


def mix(count: int) -> list[tuple[str, bytes]]:
    """(name, bytes): 60% JPEG photos, 25% PNG, 15% animated GIF, all distinct."""
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        buffer = io.BytesIO()
        kind = i % 20
        if kind < 12:
            photo(i, (1600, 1067)).save(buffer, "JPEG", quality=90)
            name = f"photo{i}.jpg"
        elif kind < 17:
            # Half screenshots/photos saved as PNG (many colours), half charts (few colours).
            image = photo(i, (800, 600))
            if kind % 2:
                image = image.quantize(8).convert("RGB")
            image.save(buffer, "PNG")
            name = f"png{i}.png"
        else:
            frames = [photo(i + f, (400, 300)).quantize(64) for f in range(8)]
            frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=120)
            name = f"anim{i}.gif"
        out.append((name, buffer.getvalue()))
    return out


def throughput(images: list[tuple[str, bytes]], settings: ImageSettings, rounds: int) -> None:
    print(f"== throughput: {len(images)} images, max_width {settings.max_width}, best of {rounds}")
    results: dict[str, Recompressed] = {}
    best = {1: float("inf"), 2: float("inf")}
    for _ in range(rounds):  # interleaved: this machine's speed drifts from minute to minute
        for threads in (1, 2):
            with ThreadPoolExecutor(threads) as pool:
                started = time.perf_counter()
                outputs = list(pool.map(lambda item: recompress(item[1], settings), images))
                best[threads] = min(best[threads], time.perf_counter() - started)
            results = dict(zip((n for n, _ in images), outputs, strict=True))
    for threads, elapsed in best.items():
        print(f"  {threads} thread(s): {len(images) / elapsed:6.1f} images/s ({elapsed:.2f} s)")
    for suffix in (".jpg", ".png", ".gif"):
        group = [(data, results[name]) for name, data in images if name.endswith(suffix)]
        if group:
            before = sum(len(d) for d, _ in group)
            after = sum(len(r.data) for _, r in group)
            kinds = ",".join(sorted({r.extension for _, r in group}))
            print(
                f"  {suffix[1:]:>3}: {len(group):3} images {before / 1e6:7.2f} MB -> "
                f"{after / 1e6:6.2f} MB ({100 * (1 - after / before):4.1f}% saved; stored as {kinds})"
            )
    total_in = sum(len(d) for _, d in images)
    total_out = sum(len(r.data) for r in results.values())
    print(
        f"  all: {total_in / 1e6:.2f} MB -> {total_out / 1e6:.2f} MB "
        f"({100 * (1 - total_out / total_in):.1f}% saved), "
        f"{total_out / len(images) / 1e3:.0f} KB stored per image"
    )


async def fetch_only(base: str, names: list[str]) -> float:
    async with Fetcher(FetchSettings(retries=0)) as fetcher:
        started = time.perf_counter()
        await asyncio.gather(*(fetcher.get(f"{base}/{n}") for n in names))
        return time.perf_counter() - started


async def fetch_and_mirror(
    base: str, names: list[str], output: Path, settings: ImageSettings
) -> tuple[float, MirrorStats]:
    html = "".join(
        f'<figure><img src="{base}/{n}"><figcaption>{n}</figcaption></figure>' for n in names
    )
    async with Fetcher(FetchSettings(retries=0)) as fetcher:
        mirror = ImageMirror(output, fetcher, settings)
        started = time.perf_counter()
        result = await mirror.mirror(html, None, page_url=f"{base}/article.html")
        elapsed = time.perf_counter() - started
    assert not result.problems, result.problems
    return elapsed, mirror.stats


def _serve(root: Path, latency: float, ports: multiprocessing.Queue[str], stop: object) -> None:
    with SiteServer(root, delay=latency) as server:
        ports.put(server.base_url)
        stop.wait()  # type: ignore[attr-defined]


def overlap(
    images: list[tuple[str, bytes]], latency: float, settings: ImageSettings, rounds: int
) -> None:
    print(
        f"== overlap: {len(images)} images, {latency * 1000:.0f} ms latency, 4 per host, "
        f"best of {rounds}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "site")
        root.mkdir()
        for name, data in images:
            (root / name).write_bytes(data)
        names = [n for n, _ in images]
        # The server runs in its own process, as a real one would: in ours its threads would
        # compete with the image work for the GIL and the bench would measure that instead.
        ports: multiprocessing.Queue[str] = multiprocessing.Queue()
        stop = multiprocessing.Event()
        server = multiprocessing.Process(target=_serve, args=(root, latency, ports, stop))
        server.start()
        fetch = work = full = float("inf")
        try:
            base = ports.get(timeout=10)
            for i in range(rounds):  # interleaved, best of each: the machine's speed drifts
                fetch = min(fetch, asyncio.run(fetch_only(base, names)))
                started = time.perf_counter()
                with ThreadPoolExecutor(2) as pool:
                    list(pool.map(lambda item: recompress(item[1], settings), images))
                work = min(work, time.perf_counter() - started)
                out = Path(tmp, f"out{i}")
                elapsed, stats = asyncio.run(fetch_and_mirror(base, names, out, settings))
                full = min(full, elapsed)
        finally:
            stop.set()
            server.join(timeout=10)
    print(f"  fetch only:                       {fetch:6.2f} s")
    print(f"  image work only (2 threads):      {work:6.2f} s")
    print(f"  fetch, then image work (serial):  {fetch + work:6.2f} s")
    print(f"  ImageMirror (overlapped):         {full:6.2f} s  [{stats.encoded} encoded]")
    print(f"  hidden by overlapping:            {fetch + work - full:6.2f} s")


async def mirror_demo(output: Path) -> tuple[int, int, int]:
    """(articles, images referenced, stored bytes) for the demo site's articles."""
    pages = sorted(DEMO.glob("en/*/2023/**/*.html")) + sorted(DEMO.glob("gb/23/**/*.htm"))
    total_refs = 0
    with SiteServer(DEMO) as server:
        async with Fetcher(FetchSettings(retries=0)) as fetcher:
            mirror = ImageMirror(output, fetcher)
            for page in pages:
                url = f"{server.base_url}/{page.relative_to(DEMO).as_posix()}"
                html = decode_html(page.read_bytes()).replace("{{BASE}}", server.base_url)
                article = samizdat.extract_article(html, url=url)
                result = await mirror.mirror(article.html, article.image, page_url=url)
                total_refs += len(result.paths)
                for problem in result.problems:
                    print("  problem:", problem)
    stored = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    return len(pages), total_refs, stored


def growth(images: list[tuple[str, bytes]], settings: ImageSettings) -> None:
    print("== repository growth")
    with tempfile.TemporaryDirectory() as tmp:
        articles, refs, stored = asyncio.run(mirror_demo(Path(tmp)))
    source = sum(p.stat().st_size for p in (DEMO / "img").iterdir())
    print(
        f"  demo site: {articles} articles, {refs} image uses, source images {source / 1e3:.1f} KB, "
        f"stored {stored / 1e3:.1f} KB -> {stored / articles / 1e3:.1f} KB per article, "
        f"{stored / articles:.0f} KB per 1,000 articles (the demo's images are small thumbnails)"
    )
    per_image = sum(len(recompress(d, settings).data) for _, d in images) / len(images)
    per_article = per_image * IMAGES_PER_ARTICLE
    print(
        f"  typical news mix: {per_image / 1e3:.0f} KB per stored image x {IMAGES_PER_ARTICLE} per "
        f"article = {per_article / 1e3:.0f} KB per article, {per_article / 1e3:.0f} MB per 1,000 "
        "articles (an estimate: images shared between articles are stored once)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="images in the throughput mix")
    parser.add_argument("--overlap", type=int, default=50, help="images in the overlap test")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per response")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions (best is shown)")
    args = parser.parse_args()
    settings = ImageSettings()
    images = mix(max(args.count, args.overlap))
    throughput(images[: args.count], settings, args.rounds)
    overlap(images[: args.overlap], args.latency, settings, args.rounds)
    growth(images[: args.count], settings)


if __name__ == "__main__":
    main()
