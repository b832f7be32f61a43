"""Image mirroring against a real loopback server (pytest-httpserver), with the fixture images in
tests/data/images/ (made by tests/data/images/make.py) and a real output folder."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image
from pytest_httpserver import HTTPServer
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from samizdat.fetch import Fetcher, FetchSettings
from samizdat.images import (
    IMAGE_PATH,
    ImageMirror,
    ImageRejected,
    ImageSettings,
    MirroredImages,
    MirrorStats,
    prune,
    recompress,
    referenced,
)

DATA = Path(__file__).parent / "data" / "images"
FAST = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=5, retries=0, backoff=0.01)
SMALL = ImageSettings(max_width=400)
TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}


def serve(server: HTTPServer, path: str, name: str, content_type: str | None = None) -> str:
    """Serve the fixture `name` at `path`; return its URL."""
    kind = content_type or TYPES.get(Path(name).suffix, "application/octet-stream")
    server.expect_request(path).respond_with_data((DATA / name).read_bytes(), content_type=kind)
    return server.url_for(path)


def mirror_many(
    output: Path,
    articles: Sequence[tuple[str, str | None, str]],
    settings: ImageSettings = SMALL,
) -> tuple[list[MirroredImages], MirrorStats]:
    """Mirror (html, lead, page_url) articles concurrently with one ImageMirror (one cycle)."""

    async def go() -> tuple[list[MirroredImages], MirrorStats]:
        async with Fetcher(FAST) as fetcher:
            images = ImageMirror(output, fetcher, settings)
            results = await asyncio.gather(
                *(images.mirror(html, lead, page_url=page) for html, lead, page in articles)
            )
            return list(results), images.stats

    return asyncio.run(go())


def mirror(
    output: Path, html: str, lead: str | None, page_url: str, settings: ImageSettings = SMALL
) -> MirroredImages:
    return mirror_many(output, [(html, lead, page_url)], settings)[0][0]


def stored(output: Path, path: str) -> Image.Image:
    assert IMAGE_PATH.match(path), path
    return Image.open(io.BytesIO((output / path).read_bytes()))


def hits(server: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in server.log if request.path == path)


def test_jpeg_lead_and_inline_are_resized_rewritten_and_keep_captions(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    photo = serve(httpserver, "/img/photo.jpg", "photo.jpg")
    chart = serve(httpserver, "/img/chart.png", "chart.png")
    page = httpserver.url_for("/news/1.html")
    html = (
        '<p>Intro</p><figure><img src="/img/chart.png" alt="Bar chart">'
        "<figcaption>Sales by year</figcaption></figure><p>End</p>"
    )

    result = mirror(tmp_path, html, photo, page)

    assert result.problems == []
    assert result.lead is not None and result.lead.endswith(".jpg")
    lead = stored(tmp_path, result.lead)
    assert (lead.format, lead.size) == ("JPEG", (400, 267))  # 900x600 scaled to max_width
    # Saved at quality 40, re-encoded at 40 (not 80): the same quantisation tables.
    assert lead.quantization == Image.open(DATA / "photo.jpg").quantization
    [inline] = referenced(result.html)
    assert inline.endswith(".png") and chart not in result.html
    assert f'<img src="{inline}" alt="Bar chart">' in result.html
    assert "<figcaption>Sales by year</figcaption>" in result.html
    assert result.paths == {result.lead, inline}
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_images_are_processed_while_others_are_still_downloading(tmp_path: Path) -> None:
    """The slow image's response waits until the fast one is stored: it can only succeed when
    image work runs while a fetch is still in flight (not after all fetches)."""
    images = tmp_path / "images"
    seen: list[bool] = []

    def slow(request: Request) -> WerkzeugResponse:
        deadline = time.monotonic() + 3
        while not any(images.rglob("*.jpg")) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(any(images.rglob("*.jpg")))
        return WerkzeugResponse((DATA / "chart.png").read_bytes(), content_type="image/png")

    server = HTTPServer(threaded=True)
    server.expect_request("/slow.png").respond_with_handler(slow)
    serve(server, "/fast.jpg", "photo.jpg")
    server.start()
    try:
        html = '<img src="/slow.png"><img src="/fast.jpg">'
        result = mirror(tmp_path, html, None, server.url_for("/a"))
    finally:
        server.clear()
        server.stop()

    assert seen == [True] and len(result.paths) == 2


def test_transparent_png_stays_transparent(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve(httpserver, "/t.png", "transparent.png")
    result = mirror(tmp_path, '<img src="/t.png" alt="logo">', None, httpserver.url_for("/a"))

    [path] = result.paths
    out = stored(tmp_path, path).convert("RGBA")
    assert path.endswith(".png")
    assert out.getpixel((2, 2))[3] == 0  # the background is still transparent
    assert out.getpixel((90, 60)) == (220, 30, 30, 255)  # the opaque fill is exact


def test_palette_chart_is_lossless(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve(httpserver, "/c.png", "chart.png")
    result = mirror(tmp_path, '<img src="/c.png">', None, httpserver.url_for("/a"))

    [path] = result.paths
    original = Image.open(DATA / "chart.png").convert("RGB")
    assert stored(tmp_path, path).convert("RGB").tobytes() == original.tobytes()


def test_animated_gif_stays_animated(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve(httpserver, "/anim.gif", "animated.gif")
    result = mirror(tmp_path, '<img src="/anim.gif" alt="x">', None, httpserver.url_for("/a"))

    [path] = result.paths
    out = stored(tmp_path, path)
    assert path.endswith(".gif") and out.n_frames == 4
    out.seek(2)
    assert out.info["duration"] == 150


def test_unusable_images_are_reported_and_left_out_with_captions(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    serve(httpserver, "/ok.jpg", "photo.jpg")
    httpserver.expect_request("/missing.jpg").respond_with_data("gone", status=404)
    serve(httpserver, "/fake.jpg", "page.html", content_type="image/jpeg")
    serve(httpserver, "/bomb.png", "bomb.png")
    serve(httpserver, "/evil.svg", "script.svg")
    serve(httpserver, "/evil-as-png.png", "script.svg", content_type="image/png")
    figure = '<figure><img src="{}" alt="{}"><figcaption>Caption {}</figcaption></figure>'
    names = ["/missing.jpg", "/fake.jpg", "/bomb.png", "/evil.svg", "/evil-as-png.png"]
    html = "".join(figure.format(n, n, i) for i, n in enumerate(names))
    html += '<p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="pixel">after</p>'
    html += '<p><a href="/big"><img src="/ok.jpg" alt="kept"></a></p>'

    result = mirror(tmp_path, html, httpserver.url_for("/missing.jpg"), httpserver.url_for("/a"))

    assert result.lead is None
    reasons = dict(line.split(": ", 1) for line in result.problems)
    base = httpserver.url_for("")
    assert "HTTP 404" in reasons[base + "missing.jpg"]
    assert "not an image" in reasons[base + "fake.jpg"]
    assert "decompression bomb" in reasons[base + "bomb.png"]
    assert "SVG" in reasons[base + "evil.svg"]
    assert "SVG" in reasons[base + "evil-as-png.png"]
    assert any(line.startswith("data:image/gif") for line in result.problems)
    assert len(result.problems) == 7  # the 404 twice: as lead and inline
    # Every caption survives; only the good image is left, inside its link.
    for i in range(len(names)):
        assert f"<figcaption>Caption {i}</figcaption>" in result.html
    [kept] = result.paths
    assert f'<a href="/big"><img src="{kept}" alt="kept"></a>' in result.html
    assert "<p>after</p>" in result.html
    assert result.html.count("<img") == 1
    assert hits(httpserver, "/missing.jpg") == 1  # one fetch per URL per cycle


def test_size_caps(httpserver: HTTPServer, tmp_path: Path) -> None:
    # 50 MB: the fetcher stops at its own cap (10 MB by default) from the Content-Length.
    httpserver.expect_request("/huge.jpg").respond_with_data(
        b"\xff" * 50_000_000, content_type="image/jpeg"
    )
    serve(httpserver, "/photo.jpg", "photo.jpg")  # 12 KB
    html = '<img src="/huge.jpg"><img src="/photo.jpg">'
    settings = ImageSettings(max_width=400, max_image_bytes=10_000)

    result = mirror(tmp_path, html, None, httpserver.url_for("/a"), settings)

    assert result.paths == set() and "<img" not in result.html
    huge, photo = result.problems
    assert "huge.jpg: body larger than 10000000 bytes" in huge
    assert "photo.jpg: image larger than 10000 bytes (12316)" in photo


def test_pixel_guard_refuses_before_decoding(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve(httpserver, "/photo.jpg", "photo.jpg")
    settings = ImageSettings(max_pixels=500_000)  # photo.jpg is 900x600 = 540,000

    result = mirror(tmp_path, "", httpserver.url_for("/photo.jpg"), "http://x/a", settings)

    assert result.lead is None
    assert "900x600 pixels over 500000" in result.problems[0]


def test_hotlink_protection_is_passed_with_the_article_as_referer(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    page = httpserver.url_for("/news/2.html")
    body = (DATA / "photo.jpg").read_bytes()

    def hotlink(request: Request) -> WerkzeugResponse:
        if request.headers.get("Referer") != page:
            return WerkzeugResponse("hotlinking forbidden", status=403)
        return WerkzeugResponse(body, content_type="image/jpeg")

    httpserver.expect_request("/protected.jpg").respond_with_handler(hotlink)
    html = '<img src="/protected.jpg" alt="p">'

    assert len(mirror(tmp_path, html, None, page).paths) == 1
    other = mirror(tmp_path, html, None, httpserver.url_for("/elsewhere.html"))
    assert other.paths == set() and "HTTP 403 Forbidden" in other.problems[0]


def test_same_bytes_one_file_same_url_one_fetch(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve(httpserver, "/a/photo.jpg", "photo.jpg")
    serve(httpserver, "/b/copy.jpg", "photo.jpg")
    first = ('<img src="/a/photo.jpg"><img src="/b/copy.jpg">', None, httpserver.url_for("/1"))
    second = (
        '<img src="/a/photo.jpg">',
        httpserver.url_for("/b/copy.jpg"),
        httpserver.url_for("/2"),
    )

    (one, two), stats = mirror_many(tmp_path, [first, second])

    [path] = one.paths
    assert two.paths == {path} and two.lead == path
    assert one.html.count(f'src="{path}"') == 2
    assert [p for p in (tmp_path / "images").rglob("*") if p.is_file()] == [tmp_path / path]
    assert hits(httpserver, "/a/photo.jpg") == 1 and hits(httpserver, "/b/copy.jpg") == 1
    assert (stats.fetched, stats.encoded) == (2, 1)


def test_stored_image_is_not_reencoded_next_cycle(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve(httpserver, "/p.jpg", "photo.jpg")
    article = ('<img src="/p.jpg">', None, httpserver.url_for("/1"))
    [first], _ = mirror_many(tmp_path, [article])
    [path] = first.paths
    written = (tmp_path / path).stat().st_mtime_ns

    # Another cycle, with settings that would encode differently: the stored file stands.
    [again], stats = mirror_many(tmp_path, [article], ImageSettings(max_width=100, quality=30))

    assert again.paths == {path}
    assert (stats.encoded, stats.reused) == (0, 1)
    assert (tmp_path / path).stat().st_mtime_ns == written


def test_mirroring_mirrored_html_changes_nothing(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve(httpserver, "/p.jpg", "photo.jpg")
    first = mirror(tmp_path, '<p><img src="/p.jpg" alt="a"></p>', None, httpserver.url_for("/1"))

    again = mirror(tmp_path, first.html, first.lead, "http://unreachable.invalid/1")

    assert (again.html, again.paths, again.problems) == (first.html, first.paths, [])


def test_article_budget(httpserver: HTTPServer, tmp_path: Path) -> None:
    size = {
        name: len(recompress((DATA / name).read_bytes(), SMALL).data)
        for name in ("photo.jpg", "exif.jpg", "transparent.png")
    }
    assert size["transparent.png"] < size["exif.jpg"]
    for name in size:
        serve(httpserver, f"/{name}", name)
    html = (
        '<img src="/photo.jpg"><img src="/photo.jpg"><figure><img src="/exif.jpg">'
        '<figcaption>Cap</figcaption></figure><img src="/transparent.png">'
    )
    budget = size["photo.jpg"] + size["exif.jpg"] - 1
    settings = ImageSettings(max_width=400, max_article_bytes=budget)

    result = mirror(tmp_path, html, None, httpserver.url_for("/a"), settings)

    # The photo twice counts once; the EXIF photo would pass the budget; the smaller PNG fits.
    assert sorted(p.rsplit(".", 1)[1] for p in referenced(result.html)) == ["jpg", "png"]
    assert result.html.count("<img") == 3
    [problem] = result.problems
    assert "exif.jpg: over the article's image budget" in problem
    assert "<figcaption>Cap</figcaption>" in result.html


def test_exif_and_gps_are_stripped_after_orientation(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    serve(httpserver, "/exif.jpg", "exif.jpg")
    result = mirror(tmp_path, "", httpserver.url_for("/exif.jpg"), httpserver.url_for("/a"))

    assert result.lead is not None
    data = (tmp_path / result.lead).read_bytes()
    out = Image.open(io.BytesIO(data))
    assert out.size == (200, 300)  # Orientation 6 applied: 300x200 stored, shown upright
    assert dict(out.getexif()) == {}
    assert "exif" not in out.info and "icc_profile" not in out.info
    for secret in (b"Exif", b"SourceCam", b"SERIAL-12345", b"Model X"):
        assert secret not in data


def test_output_is_deterministic(httpserver: HTTPServer, tmp_path: Path) -> None:
    for name in ("photo.jpg", "transparent.png", "animated.gif", "chart.png"):
        serve(httpserver, f"/{name}", name)
    html = "".join(f'<img src="/{n}">' for n in ("photo.jpg", "transparent.png", "animated.gif"))
    page = httpserver.url_for("/a")

    one = mirror(tmp_path / "one", html, httpserver.url_for("/chart.png"), page)
    two = mirror(tmp_path / "two", html, httpserver.url_for("/chart.png"), page)

    assert one.html == two.html and one.paths == two.paths and len(one.paths) == 4
    for path in one.paths:
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes()


def test_referenced_and_prune(tmp_path: Path) -> None:
    keep = "images/ab/abcdef0123456789.jpg"
    drop = "images/cd/cdef0123456789ab.png"
    for path in (keep, drop, "images/cd/.cdef0123456789ab.png.x1.tmp"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "other.md").write_text("not an image")
    html = (
        f'<figure><img src="{keep}" alt="a"></figure><img src="https://x/y.jpg">'
        '<img src="images/../pages/other.md">'
    )

    assert referenced(html) == {keep}
    assert referenced("<p>no images</p>") == set()
    assert prune(tmp_path, referenced(html)) == 2
    assert (tmp_path / keep).exists() and not (tmp_path / "images" / "cd").exists()
    assert (tmp_path / "pages" / "other.md").exists()
    assert prune(tmp_path / "nowhere", set()) == 0


@pytest.mark.parametrize("field", ["max_width", "quality", "max_pixels", "max_image_bytes"])
def test_settings_are_validated(field: str) -> None:
    with pytest.raises(ValueError):
        ImageSettings(**{field: 0})


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def test_format_choices() -> None:
    photo = Image.open(DATA / "photo.jpg").convert("RGB")
    chart = Image.open(DATA / "chart.png")
    opaque = photo.convert("RGBA")  # an alpha channel that is never used

    assert recompress(encoded(photo, "WEBP"), SMALL).extension == "jpg"
    assert recompress(encoded(photo, "PNG"), SMALL).extension == "jpg"  # a photo saved as PNG
    assert recompress(encoded(opaque, "PNG"), SMALL).extension == "jpg"
    assert recompress(encoded(chart, "GIF"), SMALL).extension == "png"  # a still GIF chart
    grey = recompress(encoded(photo.convert("L"), "JPEG"), SMALL)
    assert (grey.extension, Image.open(io.BytesIO(grey.data)).mode) == ("jpg", "L")


def test_hostile_inputs_are_rejected_or_tamed() -> None:
    data = (DATA / "photo.jpg").read_bytes()
    with pytest.raises(ImageRejected, match="could not decode JPEG"):
        recompress(data[: len(data) // 2], SMALL)
    with pytest.raises(ImageRejected, match="empty"):
        recompress(b"", SMALL)
    with pytest.raises(ImageRejected, match="SVG"):
        recompress(b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>", SMALL, "image/png")
    # Far too many frames to keep animated: the first frame becomes a still.
    frames = [Image.new("L", (20, 20), i % 250) for i in range(400)]
    many = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    still = recompress(many, SMALL)
    assert still.extension != "gif" and (still.width, still.height) == (20, 20)
