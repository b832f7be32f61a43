"""Mirror an article's images into the publication, so pages load fully behind the firewall.

`ImageMirror.mirror` takes one article's cleaned body HTML and lead image URL, downloads every
image (the article page as Referer, under the fetcher's per-host and overall limits), recompresses
it and stores it under a content-addressed path, `images/<2 hex>/<16 hex>.<jpg|png|gif>`: the
name is the SHA-256 of the *source* bytes. So:

- two URLs serving the same bytes share one file, and the same URL is fetched once per cycle
  (one `ImageMirror` per cycle caches url → outcome, failures included);
- an image already stored (by any earlier cycle) is found by its name and neither re-encoded nor
  rewritten, whatever Pillow version or settings the cycle runs with: the repository stays stable;
- output is deterministic: same source bytes and settings → same name and same bytes.

The stored HTML references images by paths relative to the output root ("images/ab/…"); the
renderer makes them page-relative or prefixes `site.image_base_url`.

Format choices, for old phone browsers and small repositories:

- photos (JPEG sources, and WebP/AVIF/many-colour PNG without transparency) → JPEG (progressive
  from 250,000 pixels up) at `quality`, or at the source JPEG's own estimated quality when that
  is lower (re-encoding a quality-55 JPEG at 80 only makes it bigger); every browser shows it;
- graphics (PNG/GIF with at most 256 colours) → palette PNG (exact when not resized);
  images with real transparency → PNG; transparency that is fully opaque is dropped;
- animated GIFs stay animated GIFs (frames resized when too wide), up to MAX_FRAMES frames and
  `max_pixels` pixels over all frames; beyond that, or for animated PNG/WebP, the first frame
  becomes a still. Charts and explainers in news are often animated GIFs, and a still of frame
  one can be blank or misleading, so we keep the animation when the budget allows;
- no WebP output: iOS Safari before 14 and many Android WebViews in use behind the firewall
  cannot show it, and a page that half-loads is what we are here to prevent;
- metadata is stripped (EXIF with GPS and camera serial numbers, XMP, comments, text chunks):
  it can identify a source. EXIF orientation is applied first, and an embedded ICC profile is
  converted to sRGB, so the picture looks the same without them.

Refused, reported for the article as "<url>: <reason>" and left out with its caption kept:
fetch failures (404, hotlink 403, timeouts, bodies over the fetcher's `max_bytes`, where reading
stops), bodies over `max_image_bytes` (checked once downloaded), SVG (it can carry scripts; no
well-kept pure-Python rasteriser is available, so it is dropped rather than mirrored as is),
anything Pillow cannot identify as JPEG, PNG, GIF, WebP or AVIF from the bytes themselves (no
Content-Type is trusted), images over `max_pixels` (checked from the header, before decoding:
decompression bombs), undecodable or truncated files, and images that would push the article
past `max_article_bytes` of stored images (counted in page order, lead first, each file once; a
later image that still fits is kept). Non-http(s) sources (data:, unresolvable) are refused too.

CPU work (hashing, decoding, resizing, encoding, writing) runs off the event loop in threads, at
most `workers` at once (Pillow releases the GIL while decoding, resizing and encoding), so images
are processed while other downloads are still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import re
import struct
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import lxml.html
from PIL import Image, ImageCms, ImageOps, ImageSequence, features

from samizdat.config import ImageSettings
from samizdat.errors import FetchError, SamizdatError
from samizdat.fetch import Fetcher
from samizdat.fragments import inner_html, parse_fragment
from samizdat.render.files import write_if_changed

__all__ = [
    "IMAGE_DIR",
    "ImageMirror",
    "ImageRejected",
    "ImageSettings",
    "MirrorStats",
    "MirroredImages",
    "Recompressed",
    "prune",
    "recompress",
    "referenced",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

IMAGE_DIR = "images"
NAME_HEX = 16  # 64 bits of SHA-256: no collision in any plausible archive
IMAGE_PATH = re.compile(rf"^{IMAGE_DIR}/[0-9a-f]{{2}}/[0-9a-f]{{{NAME_HEX}}}\.(?:jpg|png|gif)$")
EXTENSIONS = ("jpg", "png", "gif")
# Decoders we let near untrusted bytes: the web's raster formats and nothing exotic.
DECODERS = ("JPEG", "PNG", "GIF", "WEBP", *(("AVIF",) if features.check("avif") else ()))
LOSSLESS = frozenset({"PNG", "GIF"})
MAX_FRAMES = 300
PALETTE_COLOURS = 256
PROGRESSIVE_PIXELS = 250_000
PROBLEM_URL_CHARS = 120  # data: URLs can be megabytes long; a problem line shows their start
# The IJG standard luminance quantisation table (quality 50), to estimate a JPEG's quality.
_IJG_LUMA = """
    16 11 10 16 24 40 51 61  12 12 14 19 26 58 60 55  14 13 16 24 40 57 69 56
    14 17 22 29 51 87 80 62  18 22 37 56 68 109 103 77  24 35 55 64 81 104 113 92
    49 64 78 87 103 121 120 101  72 92 95 98 112 100 103 99
"""
_IJG_LUMA_SUM = sum(int(v) for v in _IJG_LUMA.split())
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass
class MirroredImages:
    html: str  # body HTML: every <img src> rewritten to "images/…", or the <img> removed
    lead: str | None  # lead image's "images/…" path, or None when it failed / was absent
    paths: set[str]  # every images/… path this article uses
    problems: list[str]  # one line per image left out: "<url>: <reason>"


@dataclass
class MirrorStats:
    """What one ImageMirror did: for logs, benchmarks and tests."""

    fetched: int = 0  # URLs downloaded
    encoded: int = 0  # images decoded, recompressed and written
    reused: int = 0  # images whose file was already stored (same source hash)
    failed: int = 0  # URLs that ended in a problem
    bytes_in: int = 0  # source bytes of the encoded images
    bytes_out: int = 0  # stored bytes of the encoded images


class ImageRejected(SamizdatError):
    """An image is not mirrored; the message is the reason a person reads."""


@dataclass(frozen=True)
class Recompressed:
    data: bytes
    extension: str  # "jpg" | "png" | "gif"
    width: int
    height: int


@dataclass(frozen=True)
class _Outcome:
    path: str | None = None  # images/… when stored
    size: int = 0  # stored bytes
    reason: str = ""  # why not, when path is None


class ImageMirror:
    """Downloads, recompresses and stores images for the articles of one cycle.

    Make one per cycle (its caches are per cycle) and use it inside one event loop."""

    def __init__(
        self,
        output: Path,
        fetcher: Fetcher,
        settings: ImageSettings | None = None,
        *,
        executor: Executor | None = None,
        workers: int | None = None,
    ) -> None:
        self.output = Path(output)
        self.fetcher = fetcher
        self.settings = settings or ImageSettings()
        self.stats = MirrorStats()
        self._executor = executor
        # Bounds memory (a 40-megapixel RGBA frame is 160 MB) and keeps CPU work from starving
        # the event loop's own thread; Pillow's C code runs in parallel up to the core count.
        self._cpu = asyncio.Semaphore(workers or os.cpu_count() or 2)
        self._by_url: dict[str, asyncio.Task[_Outcome]] = {}
        self._by_hash: dict[str, asyncio.Task[_Outcome]] = {}

    async def mirror(self, html: str, lead: str | None, *, page_url: str) -> MirroredImages:
        """Mirror the lead image and every <img> of one article's body (all concurrently)."""
        doc = parse_fragment(html) if "<img" in html.lower() else None
        images = list(doc.iter("img")) if doc is not None else []
        sources = [(None, lead)] if lead else []
        sources += [(img, str(img.get("src") or "")) for img in images]

        # Start every download before waiting for any: the fetcher queues them per host.
        pending: list[tuple[lxml.html.HtmlElement | None, str, asyncio.Future[_Outcome]]] = []
        for img, src in sources:
            url, outcome = self._resolve(src, page_url)
            future = outcome if outcome is not None else self._load_once(url, page_url)
            pending.append((img, url, future))
        await asyncio.gather(*(future for _, _, future in pending))

        result = MirroredImages(html=html, lead=None, paths=set(), problems=[])
        used = 0
        changed = False
        for img, url, future in pending:
            outcome = future.result()
            path, problem = outcome.path, outcome.reason
            if path is not None and path not in result.paths:
                if used + outcome.size > self.settings.max_article_bytes:
                    path = None
                    problem = (
                        f"over the article's image budget ({used} + {outcome.size} bytes > "
                        f"{self.settings.max_article_bytes})"
                    )
                else:
                    used += outcome.size
                    result.paths.add(path)
            if path is None:
                result.problems.append(f"{_short(url)}: {problem}")
            if img is None:
                result.lead = path
            elif path is None:
                _remove_image(img)
                changed = True
            elif img.get("src") != path:
                img.set("src", path)
                changed = True
        if changed and doc is not None:
            result.html = inner_html(doc)
        return result

    def _resolve(self, src: str, page_url: str) -> tuple[str, asyncio.Future[_Outcome] | None]:
        """The absolute URL to fetch, or an already settled outcome (a path we stored before,
        which keeps mirror() idempotent, or a refusal)."""
        src = src.strip()
        if IMAGE_PATH.match(src):
            if (self.output / src).is_file():
                return src, _settled(_Outcome(path=src, size=(self.output / src).stat().st_size))
            return src, _settled(_Outcome(reason="mirrored file is missing from the output"))
        url = urljoin(page_url, src) if src and not src.lower().startswith("data:") else src
        if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
            return src or "(empty src)", _settled(_Outcome(reason="not an http(s) address"))
        return url.split("#", 1)[0], None

    def _load_once(self, url: str, referer: str) -> asyncio.Future[_Outcome]:
        task = self._by_url.get(url)
        if task is None:
            task = self._by_url[url] = asyncio.ensure_future(self._load(url, referer))
        return task

    async def _load(self, url: str, referer: str) -> _Outcome:
        try:
            response = await self.fetcher.get(url, referer=referer)
        except FetchError as exc:
            self.stats.failed += 1
            return _Outcome(reason=exc.reason)
        self.stats.fetched += 1
        data = response.content
        if len(data) > self.settings.max_image_bytes:
            self.stats.failed += 1
            return _Outcome(
                reason=f"image larger than {self.settings.max_image_bytes} bytes ({len(data)})"
            )
        digest = await self._off_loop(_digest, data)
        task = self._by_hash.get(digest)
        if task is None:
            task = asyncio.ensure_future(self._store(digest, data, response.content_type))
            self._by_hash[digest] = task
        outcome = await task
        if outcome.path is None:
            self.stats.failed += 1
        return outcome

    async def _store(self, digest: str, data: bytes, content_type: str | None) -> _Outcome:
        async with self._cpu:
            existing = await self._off_loop(_existing, self.output, digest)
            if existing is not None:
                self.stats.reused += 1
                return existing
            try:
                image = await self._off_loop(recompress, data, self.settings, content_type)
            except ImageRejected as exc:
                return _Outcome(reason=str(exc))
            path = f"{IMAGE_DIR}/{digest[:2]}/{digest}.{image.extension}"
            await self._off_loop(write_if_changed, self.output, path, image.data)
        self.stats.encoded += 1
        self.stats.bytes_in += len(data)
        self.stats.bytes_out += len(image.data)
        return _Outcome(path=path, size=len(image.data))

    async def _off_loop(self, func: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            return await asyncio.to_thread(func, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)


def referenced(html: str) -> set[str]:
    """The images/… paths an article body uses."""
    if f"{IMAGE_DIR}/" not in html:
        return set()
    doc = parse_fragment(html)
    if doc is None:
        return set()
    return {
        src for img in doc.iter("img") if IMAGE_PATH.match(src := str(img.get("src") or "").strip())
    }


def prune(output: Path, keep: set[str]) -> int:
    """Remove files under output/images that are not in `keep` (paths like "images/ab/….jpg"),
    and folders left empty; return how many files went. Symbolic links are not followed."""
    root = Path(output) / IMAGE_DIR
    if not root.is_dir():
        return 0
    removed = 0
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = Path(folder, name)
            if path.relative_to(output).as_posix() not in keep:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        for name in dirs:
            with contextlib.suppress(OSError):  # not empty, or a symlink: leave it
                Path(folder, name).rmdir()
    return removed


# --- recompression (runs in a worker thread) ------------------------------------------------------


def recompress(
    data: bytes, settings: ImageSettings, content_type: str | None = None
) -> Recompressed:
    """Decode untrusted image bytes and re-encode them small, metadata-free and deterministic.
    Raises ImageRejected with the reason."""
    if not data:
        raise ImageRejected("empty response")
    if _is_svg(data, content_type):
        raise ImageRejected("SVG is not mirrored (it can carry scripts)")
    try:
        source = Image.open(io.BytesIO(data), formats=DECODERS)
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"decompression bomb ({exc})") from None
    except Image.UnidentifiedImageError:
        raise ImageRejected(f"not an image ({content_type or 'no content type'})") from None
    except Exception as exc:  # a hostile header can raise anything from any plugin
        raise ImageRejected(f"unreadable image ({type(exc).__name__}: {exc})") from None
    with source:
        width, height = source.size
        if width * height > settings.max_pixels:
            raise ImageRejected(
                f"decompression bomb guard: {width}x{height} pixels over {settings.max_pixels}"
            )
        try:
            frames = _gif_frames(source, MAX_FRAMES) if source.format == "GIF" else 1
            if 1 < frames <= MAX_FRAMES and width * height * frames <= settings.max_pixels:
                return _animated_gif(source, settings)
            return _still(source, settings)
        except ImageRejected:
            raise
        except Exception as exc:  # truncated or corrupt data fails deep inside the decoders
            raise ImageRejected(f"could not decode {source.format} ({exc})") from None


def _still(source: Image.ImageFile.ImageFile, settings: ImageSettings) -> Recompressed:
    fmt = source.format or ""
    width = _display_size(source)[0]
    if fmt == "JPEG" and width > settings.max_width:
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale (never below the target): much faster.
        scale = settings.max_width / width
        source.draft(None, (int(source.width * scale) + 1, int(source.height * scale) + 1))
    source.seek(0)
    try:
        image = ImageOps.exif_transpose(source)  # loads; EXIF orientation applied, then forgotten
    except (SyntaxError, ValueError, KeyError, TypeError, struct.error):
        image = source.copy()  # a broken EXIF block is no reason to lose the picture
    image = _to_srgb(image)
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    palette = image.mode in ("P", "1") and not transparent
    colours = None
    if fmt in LOSSLESS:
        colours = image.convert("RGBA" if transparent else "RGB").getcolors(PALETTE_COLOURS)
    if transparent:
        image = image.convert("RGBA")
        if image.getchannel("A").getextrema()[0] == 255:  # an alpha channel nobody uses
            image, transparent = image.convert("RGB"), False
    elif image.mode not in ("RGB", "L"):
        image = image.convert("L" if image.mode in ("1", "I", "I;16", "F") else "RGB")
    resized = image.width > settings.max_width
    if resized:
        height = max(1, round(image.height * settings.max_width / image.width))
        image = image.resize((settings.max_width, height), Image.Resampling.LANCZOS, None, 3.0)

    out = io.BytesIO()
    image.info = {}  # nothing from the source's metadata may reach the file
    if transparent:
        image.save(out, "PNG", optimize=True)
        extension = "png"
    elif colours is not None or palette:
        count = PALETTE_COLOURS if resized or colours is None else max(2, len(colours))
        graphic = image.convert("RGB").quantize(count, Image.Quantize.MEDIANCUT, dither=0)
        graphic.info = {}
        graphic.save(out, "PNG", optimize=True)
        extension = "png"
    else:
        # Never above the source's own quality: that only inflates its artefacts and its size.
        quality = min(settings.quality, _jpeg_quality(source) or settings.quality)
        # Progressive shows a whole blurry picture early on a slow line; below ~500x500 its
        # extra scan headers cost more than it gains (5-7% larger on 480x320 photos).
        progressive = image.width * image.height >= PROGRESSIVE_PIXELS
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=progressive)
        extension = "jpg"
    return Recompressed(out.getvalue(), extension, image.width, image.height)


def _animated_gif(source: Image.ImageFile.ImageFile, settings: ImageSettings) -> Recompressed:
    width, height = source.size
    if width > settings.max_width:
        width, height = settings.max_width, max(1, round(height * settings.max_width / width))
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(source):
        durations.append(int(frame.info.get("duration", 100)))
        rgba = frame.convert("RGBA")  # the composed canvas of this frame
        if rgba.size != (width, height):
            rgba = rgba.resize((width, height), Image.Resampling.LANCZOS)
        rgba.info = {}  # no comments or application extensions from the source
        frames.append(rgba)
    out = io.BytesIO()
    loop = int(source.info.get("loop", 0))
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=loop
    )
    return Recompressed(out.getvalue(), "gif", width, height)


def _gif_frames(source: Image.Image, limit: int) -> int:
    """A GIF's frame count, counting no further than limit + 1 (n_frames would walk every
    frame of a hostile file, and one 8 MB GIF can declare hundreds of thousands)."""
    if not getattr(source, "is_animated", False):
        return 1
    count = 1
    with contextlib.suppress(EOFError):
        while count <= limit:
            source.seek(count)
            count += 1
    source.seek(0)
    return count


def _jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality a JPEG was most likely saved with, from its luminance table."""
    table = getattr(image, "quantization", None) or {}
    luma = table.get(0)
    if image.format != "JPEG" or not luma or len(luma) != 64:
        return None
    scale = 100 * sum(luma) / _IJG_LUMA_SUM  # libjpeg scales the standard table by this
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(1, min(100, round(quality)))


def _display_size(image: Image.Image) -> tuple[int, int]:
    """Width and height as shown, after EXIF orientation (5-8 swap the axes)."""
    with contextlib.suppress(Exception):
        if image.getexif().get(0x0112) in (5, 6, 7, 8):
            return image.height, image.width
    return image.size


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert through the embedded ICC profile to sRGB, so dropping the profile keeps colours.
    A broken profile is ignored (the pixels are then taken as sRGB, as browsers do)."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    return converted if converted is not None else image


def _is_svg(data: bytes, content_type: str | None) -> bool:
    if content_type and "svg" in content_type.lower():
        return True
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg")) and b"<svg" in data[:4096]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:NAME_HEX]


def _existing(output: Path, digest: str) -> _Outcome | None:
    folder = output / IMAGE_DIR / digest[:2]
    for extension in EXTENSIONS:
        path = folder / f"{digest}.{extension}"
        with contextlib.suppress(FileNotFoundError):
            return _Outcome(path=path.relative_to(output).as_posix(), size=path.stat().st_size)
    return None


# --- HTML -----------------------------------------------------------------------------------------


def _settled(outcome: _Outcome) -> asyncio.Future[_Outcome]:
    future: asyncio.Future[_Outcome] = asyncio.get_running_loop().create_future()
    future.set_result(outcome)
    return future


def _remove_image(img: lxml.html.HtmlElement) -> None:
    """Drop an image (its tail text stays), and the link or wrapper it leaves empty; a figure
    keeps its caption."""
    parent = img.getparent()
    img.drop_tree()
    while (
        parent is not None
        and parent.getparent() is not None
        and parent.tag in ("a", "p", "span", "div", "picture", "figure")
        and not parent.text_content().strip()
        and not parent.xpath(".//img|.//br|.//hr")
    ):
        grandparent = parent.getparent()
        parent.drop_tree()
        parent = grandparent


def _short(url: str) -> str:
    return url if len(url) <= PROBLEM_URL_CHARS else url[: PROBLEM_URL_CHARS - 1] + "…"
