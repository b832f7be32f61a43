"""Fetcher against real loopback servers: pytest-httpserver for plain exchanges, a small threaded
http.server for slow, hanging, trickling and endless responses and for counting concurrency."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from samizdat.errors import FetchError
from samizdat.fetch import Fetcher, FetchSettings, Response

T = TypeVar("T")

FAST = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=5, backoff=0.01)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def fetch(settings: FetchSettings, url: str, **kwargs: Any) -> Response:
    async with Fetcher(settings) as fetcher:
        return await fetcher.get(url, **kwargs)


def fetch_error(settings: FetchSettings, url: str, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        run(fetch(settings, url, **kwargs))
    assert caught.value.url == url
    return caught.value


# --- a threaded server for timing-sensitive behaviour --------------------------------------------


class Stats:
    """Requests seen, and how many /slow requests were in the handler at once.

    Only /slow is counted in flight: handlers of /hang or /endless outlive their test (the client
    hung up) and would skew the next test's count."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.requests = 0

    def reset(self) -> None:
        with self.lock:
            self.peak = self.requests = 0


class SlowHandler(BaseHTTPRequestHandler):
    """/slow?ms=N sleeps N ms; /hang sends nothing for 3 s; /trickle sends a byte every 0.1 s;
    /endless streams 64 KiB chunks (up to 64 MiB) with no Content-Length; /status/N answers N."""

    stats: Stats

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        stats = self.stats
        counted = self.path.startswith("/slow")
        with stats.lock:
            stats.requests += 1
            if counted:
                stats.in_flight += 1
                stats.peak = max(stats.peak, stats.in_flight)
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up on purpose (cap or timeout)
        finally:
            if counted:
                with stats.lock:
                    stats.in_flight -= 1

    def route(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/slow":
            time.sleep(int(query.get("ms", ["100"])[0]) / 1000)
            self.reply(200, b"ok")
        elif parts.path == "/hang":
            time.sleep(3)
        elif parts.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        elif parts.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            for _ in range(1024):
                self.wfile.write(b"y" * 65536)
        elif parts.path.startswith("/status/"):
            self.reply(int(parts.path.rsplit("/", 1)[1]), b"status")
        else:
            self.reply(404, b"no such path")

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


@pytest.fixture(scope="module")
def slow_server() -> Iterator[tuple[str, Stats]]:
    stats = Stats()
    handler = type("Handler", (SlowHandler,), {"stats": stats})
    server = SlowServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stats
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def slow(slow_server: tuple[str, Stats]) -> tuple[str, Stats]:
    slow_server[1].reset()
    return slow_server


# --- plain exchanges ------------------------------------------------------------------------------


def test_200_with_body_and_validators(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data(
        "<p>hello</p>",
        content_type="text/html; charset=utf-8",
        headers={"ETag": '"v1"', "Last-Modified": "Wed, 01 May 2024 10:00:00 GMT"},
    )
    response = run(fetch(FAST, httpserver.url_for("/a")))
    assert response.status == 200
    assert not response.not_modified
    assert response.content == b"<p>hello</p>"
    assert response.text() == "<p>hello</p>"
    assert response.content_type == "text/html; charset=utf-8"
    assert response.etag == '"v1"'
    assert response.last_modified == "Wed, 01 May 2024 10:00:00 GMT"
    assert response.url == httpserver.url_for("/a")


def test_conditional_get_304(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/feed",
        headers={"If-None-Match": '"v1"', "If-Modified-Since": "Wed, 01 May 2024 10:00:00 GMT"},
    ).respond_with_data("", status=304)
    response = run(
        fetch(
            FAST,
            httpserver.url_for("/feed"),
            etag='"v1"',
            last_modified="Wed, 01 May 2024 10:00:00 GMT",
        )
    )
    assert response.not_modified
    assert response.status == 304
    assert response.content == b""
    # The server repeated no validators: the ones we sent still hold.
    assert response.etag == '"v1"'
    assert response.last_modified == "Wed, 01 May 2024 10:00:00 GMT"


def test_no_validators_sent_when_none_given(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data("fresh")
    run(fetch(FAST, httpserver.url_for("/feed")))
    request = httpserver.log[0][0]
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


def test_404_fails_at_once(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("nope", status=404)
    error = fetch_error(FAST, httpserver.url_for("/gone"))
    assert error.reason == "HTTP 404 Not Found"
    assert error.status == 404
    assert len(httpserver.log) == 1


def test_500_then_200_retries(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/flaky").respond_with_data("boom", status=500)
    httpserver.expect_request("/flaky").respond_with_data("fine")
    response = run(fetch(FAST, httpserver.url_for("/flaky")))
    assert response.content == b"fine"
    assert [entry[1].status_code for entry in httpserver.log] == [500, 200]


def test_persistent_503_gives_up_after_all_attempts(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/down").respond_with_data("down", status=503)
    error = fetch_error(FAST, httpserver.url_for("/down"))
    assert error.reason == "HTTP 503 Service Unavailable after 3 attempts"
    assert error.status == 503
    assert len(httpserver.log) == 3


def test_429_with_short_retry_after_is_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/busy").respond_with_data(
        "", status=429, headers={"Retry-After": "0"}
    )
    httpserver.expect_request("/busy").respond_with_data("ok")
    assert run(fetch(FAST, httpserver.url_for("/busy"))).content == b"ok"
    assert len(httpserver.log) == 2


def test_429_with_long_retry_after_gives_up(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/busy").respond_with_data(
        "", status=429, headers={"Retry-After": "3600"}
    )
    started = time.monotonic()
    error = fetch_error(FAST, httpserver.url_for("/busy"))
    assert time.monotonic() - started < 10  # not the hour the server asked for
    assert error.status == 429
    assert "Retry-After 3600s" in error.reason
    assert len(httpserver.log) == 1


def test_referer_and_user_agent_sent(httpserver: HTTPServer) -> None:
    settings = FetchSettings(user_agent="TestAgent/1.0", backoff=0.01)
    httpserver.expect_request(
        "/page", headers={"User-Agent": "TestAgent/1.0", "Referer": "https://news.example/list"}
    ).respond_with_data("ok")
    run(fetch(settings, httpserver.url_for("/page"), referer="https://news.example/list"))
    assert len(httpserver.log) == 1


def test_default_user_agent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/page").respond_with_data("ok")
    run(fetch(FAST, httpserver.url_for("/page")))
    assert httpserver.log[0][0].headers["User-Agent"] == FetchSettings().user_agent
    assert "Referer" not in httpserver.log[0][0].headers


def test_text_decodes_header_charset(httpserver: HTTPServer) -> None:
    body = "<p>国务院前总理朱镕基、歌手陶喆</p>".encode("gbk")
    httpserver.expect_request("/gbk").respond_with_data(
        body, content_type="text/html; charset=gb2312"
    )
    response = run(fetch(FAST, httpserver.url_for("/gbk")))
    assert response.content == body
    assert response.text() == "<p>国务院前总理朱镕基、歌手陶喆</p>"


def test_gzip_body_is_decompressed(httpserver: HTTPServer) -> None:
    page = b"<p>" + b"compressible " * 1000 + b"</p>"
    httpserver.expect_request("/gz").respond_with_data(
        gzip.compress(page), headers={"Content-Encoding": "gzip"}
    )
    assert run(fetch(FAST, httpserver.url_for("/gz"))).content == page


def test_gzip_bomb_hits_the_size_cap(httpserver: HTTPServer) -> None:
    # The cap is on the decompressed body: 2 MB of zeros shrink to a few KB on the wire.
    httpserver.expect_request("/bomb").respond_with_data(
        gzip.compress(b"\0" * 2_000_000), headers={"Content-Encoding": "gzip"}
    )
    settings = FetchSettings(max_bytes=1_000_000, backoff=0.01)
    assert (
        "body larger than 1000000 bytes"
        in fetch_error(settings, httpserver.url_for("/bomb")).reason
    )


def test_redirects_followed_and_final_url_reported(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/mid"}
    )
    httpserver.expect_request("/mid").respond_with_data(
        "", status=302, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_data("moved here")
    response = run(fetch(FAST, httpserver.url_for("/old")))
    assert response.url == httpserver.url_for("/new")
    assert response.content == b"moved here"


def test_redirect_loop_fails(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    error = fetch_error(FAST, httpserver.url_for("/loop"))
    assert error.reason == "too many redirects (more than 10)"
    assert len(httpserver.log) == 11


def test_redirect_to_other_scheme_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ftp").respond_with_data(
        "", status=302, headers={"Location": "ftp://files.example/x"}
    )
    assert "unsupported URL" in fetch_error(FAST, httpserver.url_for("/ftp")).reason
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    "url", ["ftp://files.example/a.html", "file:///etc/passwd", "javascript:alert(1)", "/relative"]
)
def test_non_http_urls_refused(url: str) -> None:
    assert "only http and https" in fetch_error(FAST, url).reason


def test_size_cap_by_content_length(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"z" * 5000)
    settings = FetchSettings(max_bytes=1000, backoff=0.01)
    error = fetch_error(settings, httpserver.url_for("/big"))
    assert error.reason == "body larger than 1000 bytes (Content-Length 5000)"
    assert len(httpserver.log) == 1  # not retried


def test_body_exactly_at_cap_is_fine(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/edge").respond_with_data(b"z" * 1000)
    settings = FetchSettings(max_bytes=1000, backoff=0.01)
    assert len(run(fetch(settings, httpserver.url_for("/edge"))).content) == 1000


def test_http_proxy_is_used(httpserver: HTTPServer) -> None:
    # The loopback server plays the proxy: the request for a host that does not exist must
    # reach it in absolute form, and never leave the machine.
    def proxy(request: Request) -> WerkzeugResponse:
        return WerkzeugResponse(f"proxied {request.host} {request.path}")

    httpserver.expect_request("/article/1").respond_with_handler(proxy)
    settings = FetchSettings(proxy=httpserver.url_for("/").rstrip("/"), backoff=0.01)
    response = run(fetch(settings, "http://news.invalid/article/1"))
    assert response.content == b"proxied news.invalid /article/1"


def test_settings_validation() -> None:
    with pytest.raises(ValueError):
        FetchSettings(per_host=0)
    with pytest.raises(ValueError):
        FetchSettings(proxy="ftp://proxy.example:21")
    FetchSettings(proxy="socks5://127.0.0.1:1080")


def test_get_outside_context_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        run(Fetcher(FAST).get("http://127.0.0.1/"))


# --- failures that take time ----------------------------------------------------------------------


def test_read_timeout_retries_then_fails(slow: tuple[str, Stats]) -> None:
    base, stats = slow
    settings = FetchSettings(read_timeout=0.2, retries=1, backoff=0.01)
    started = time.monotonic()
    error = fetch_error(settings, f"{base}/hang")
    assert error.reason == "timed out after 2 attempts (read timeout 0.2s)"
    assert error.status is None
    assert stats.requests == 2
    assert time.monotonic() - started < 10  # generous bounds: the machines are shared


def test_total_timeout_stops_a_trickle(slow: tuple[str, Stats]) -> None:
    # Each byte arrives well within the read timeout; only the total deadline ends it.
    base, _ = slow
    settings = FetchSettings(read_timeout=1, total_timeout=0.5, retries=0)
    error = fetch_error(settings, f"{base}/trickle")
    assert error.reason == "timed out after 1 attempt (total timeout 0.5s)"


def test_size_cap_stops_reading_endless_body(slow: tuple[str, Stats]) -> None:
    base, _ = slow
    settings = FetchSettings(max_bytes=1_000_000, retries=2, backoff=0.01)
    started = time.monotonic()
    error = fetch_error(settings, f"{base}/endless")
    assert error.reason == "body larger than 1000000 bytes"
    assert error.status == 200
    assert time.monotonic() - started < 10  # 64 MiB were on offer


def test_connection_refused_retries_then_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = fetch_error(FAST, f"http://127.0.0.1:{port}/")
    assert error.reason.startswith("connection failed after 3 attempts (ConnectError")


def test_per_host_limit(slow: tuple[str, Stats]) -> None:
    base, stats = slow
    settings = FetchSettings(per_host=3, max_connections=32)

    async def main() -> None:
        async with Fetcher(settings) as fetcher:
            await asyncio.gather(*(fetcher.get(f"{base}/slow?ms=100&n={i}") for i in range(12)))

    started = time.monotonic()
    run(main())
    elapsed = time.monotonic() - started
    assert stats.requests == 12
    assert stats.peak == 3  # never more, and the limit is actually used
    assert elapsed >= 0.4  # 12 requests, 3 at a time, 100 ms each


def test_limit_is_per_host_not_global(slow: tuple[str, Stats]) -> None:
    # 127.0.0.1 and localhost are two hosts to the fetcher, one server underneath.
    base, stats = slow
    other = base.replace("127.0.0.1", "localhost")
    settings = FetchSettings(per_host=2, max_connections=32)

    async def main() -> None:
        async with Fetcher(settings) as fetcher:
            urls = [f"{b}/slow?ms=150&n={i}" for i in range(6) for b in (base, other)]
            await asyncio.gather(*(fetcher.get(url) for url in urls))

    run(main())
    assert stats.peak == 4


def test_overall_limit(slow: tuple[str, Stats]) -> None:
    base, stats = slow
    other = base.replace("127.0.0.1", "localhost")
    settings = FetchSettings(per_host=4, max_connections=3)

    async def main() -> None:
        async with Fetcher(settings) as fetcher:
            urls = [f"{b}/slow?ms=100&n={i}" for i in range(6) for b in (base, other)]
            await asyncio.gather(*(fetcher.get(url) for url in urls))

    run(main())
    assert stats.peak == 3


def test_host_slot_is_free_during_backoff(slow: tuple[str, Stats]) -> None:
    # With one slot per host, a request backing off after a 503 must let another one through.
    base, _ = slow
    settings = FetchSettings(per_host=1, retries=1, backoff=0.6)

    async def main() -> tuple[float, float]:
        async with Fetcher(settings) as fetcher:
            started = time.monotonic()

            async def failing() -> float:
                with pytest.raises(FetchError):
                    await fetcher.get(f"{base}/status/503")
                return time.monotonic() - started

            async def quick() -> float:
                await asyncio.sleep(0.1)  # start while the first one is backing off
                await fetcher.get(f"{base}/slow?ms=10")
                return time.monotonic() - started

            failed_at, quick_at = await asyncio.gather(failing(), quick())
            return failed_at, quick_at

    failed_at, quick_at = run(main())
    assert failed_at >= 0.6
    assert quick_at < failed_at  # it went through while the first request was backing off
