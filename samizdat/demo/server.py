"""A small threaded loopback HTTP server that plays a news site from a folder.

`samizdat demo` serves the bundled sample site with it, and the tests serve
`tests/data/site/` layered over that same sample site (a path is looked up in each folder in
turn, the first holding it wins), so every network path runs against real HTTP and the
fixtures hold only what the demo lacks.

What it adds to a plain static file server:

* ``{{BASE}}`` in text files (.html .htm .xml .rss .rdf .atom .json .txt and
  extensionless pages) becomes the server's base URL at serve time, so feeds
  and pages can hold absolute links whatever port the OS picked. The
  replacement works on bytes: GBK and Big5 files pass through untouched.
* An optional ``_routes.toml`` in the root gives per-path behaviour::

      ["/gb/missing.htm"]
      status = 404                 # or a list: [500, 500, 200] = one per request, last repeats
      content_type = "text/html; charset=utf-8"   # exact header value (may be wrong on purpose)
      delay = 30                   # seconds before answering (hang / timeout tests)
      redirect = "/gb/other.htm"   # 302 (or the route's 3xx status) to a path or absolute URL
      body_bytes = 20_000_000      # serve N bytes of HTML filler instead of a file
      etag = '"v1"'                # fixed ETag (false: send none); honours If-None-Match
      last_modified = "Fri, 26 May 2023 05:43:00 GMT"   # honours If-Modified-Since

  Keys are request paths, percent-decoded, without the query string.
* Every file otherwise gets a strong ETag from its content hash and answers
  a matching If-None-Match with 304.
* ``delay`` (constructor) is added to every response; requests still run in
  parallel, one thread each.

Requests are counted in `hits` (per decoded path) and recorded in `log`.
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import hashlib
import mimetypes
import threading
import tomllib
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

PLACEHOLDER = b"{{BASE}}"
ROUTES_FILE = "_routes.toml"

# Suffixes whose bytes may hold the placeholder. Extensionless paths count too:
# news sites often serve list pages as /gb/prog1.
TEXT_SUFFIXES = frozenset({".html", ".htm", ".xml", ".rss", ".rdf", ".atom", ".json", ".txt", ""})

CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    "": "text/html",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".rdf": "application/rdf+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "text/javascript",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}

ROUTE_KEYS = frozenset(
    {"status", "content_type", "delay", "redirect", "body_bytes", "etag", "last_modified"}
)

_FILLER = b"<p>" + b"filler " * 140 + b"</p>\n"
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Route:
    """Per-path behaviour read from ``_routes.toml``."""

    statuses: tuple[int, ...] = ()
    content_type: str | None = None
    delay: float = 0.0
    redirect: str | None = None
    body_bytes: int | None = None
    etag: str | bool | None = None  # None: content hash; False: no ETag; str: that ETag
    last_modified: str | None = None

    @classmethod
    def parse(cls, path: str, table: dict[str, Any]) -> Route:
        unknown = set(table) - ROUTE_KEYS
        if unknown:
            raise ValueError(f"{ROUTES_FILE}: unknown key(s) {sorted(unknown)} for {path!r}")
        status = table.get("status", ())
        statuses = tuple(status) if isinstance(status, list) else (int(status),) if status else ()
        etag = table.get("etag")
        if etag is True:
            raise ValueError(f"{ROUTES_FILE}: etag must be a string or false for {path!r}")
        return cls(
            statuses=statuses,
            content_type=table.get("content_type"),
            delay=float(table.get("delay", 0.0)),
            redirect=table.get("redirect"),
            body_bytes=table.get("body_bytes"),
            etag=etag,
            last_modified=table.get("last_modified"),
        )


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the server saw it (for tests that check what a client sent)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


def load_routes(root: Path) -> dict[str, Route]:
    """Read ``root/_routes.toml``; no file means no special routes."""
    file = root / ROUTES_FILE
    if not file.is_file():
        return {}
    with file.open("rb") as fh:
        data = tomllib.load(fh)
    return {path: Route.parse(path, table) for path, table in data.items()}


class SiteServer:
    """Serve a site folder (or folders layered, the first holding a path wins) on loopback in
    a background thread; a context manager."""

    def __init__(
        self,
        root: Path | Sequence[Path],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
    ) -> None:
        self.roots = [Path(r).resolve() for r in ([root] if isinstance(root, str | Path) else root)]
        self.root = self.roots[0]
        self.host = host
        self.port = port
        self.delay = delay
        self.base_url = ""
        self.hits: collections.Counter[str] = collections.Counter()
        self.log: list[Request] = []
        self.in_flight = 0
        self.peak_in_flight = 0  # most requests handled at once: shows delays don't serialise
        self.routes: dict[str, Route] = {}
        for layer in reversed(self.roots):  # an upper layer's route wins
            self.routes.update(load_routes(layer))
        self._lock = threading.Lock()
        # Set by stop(): wakes handlers sleeping in a delay so stop() never waits 30 s.
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        handler = type("BoundHandler", (_Handler,), {"site": self})
        httpd = _QuietServer((self.host, self.port), handler)
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.port = int(port)
        shown = f"[{host}]" if ":" in str(host) else str(host)
        self.base_url = f"http://{shown}:{self.port}"
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"SiteServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def url(self, path: str) -> str:
        """Absolute URL of a site path (``"/gb/nsc413.xml"``), percent-encoding non-ASCII."""
        return self.base_url + urllib.parse.quote(path, safe="/%?=&#:@")

    def reset(self) -> None:
        """Forget hits and the request log (status sequences start over too)."""
        with self._lock:
            self.hits.clear()
            self.log.clear()

    # -- used by the handler -----------------------------------------------------------------

    def _count(self, request: Request) -> int:
        with self._lock:
            self.hits[request.path] += 1
            self.log.append(request)
            return self.hits[request.path]

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _file_for(self, path: str) -> Path | None:
        for root in self.roots:
            candidate = (root / path.lstrip("/")).resolve()
            if not candidate.is_relative_to(root):
                return None  # ../ escapes the site folder
            if candidate.is_dir():
                candidate = candidate / "index.html"
            if candidate.is_file() and candidate.name != ROUTES_FILE:
                return candidate
        return None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler never keeps the process alive

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up (timeouts, size caps) are part of the tests: stay quiet.
        return


class _Handler(BaseHTTPRequestHandler):
    site: ClassVar[SiteServer]
    server_version = "SiteServer/1.0"
    # Keep-alive, as news sites serve: clients reuse connections (every response has a
    # Content-Length). With it, Nagle's algorithm must go, or small responses wait ~40 ms for
    # the client's delayed ACK.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # no per-request noise on stderr

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        site = self.site
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        count = site._count(Request(self.command, path, dict(self.headers.items())))
        route = site.routes.get(path, Route())
        with site._lock:
            site.in_flight += 1
            site.peak_in_flight = max(site.peak_in_flight, site.in_flight)
        try:
            site._sleep(site.delay + route.delay)
            if site._stopping.is_set():
                return  # the server is going away: drop the connection unanswered
            # A client that hangs up (size cap, timeout) is part of the tests: fine.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
                self._respond(path, route, count, head=head)
        finally:
            with site._lock:
                site.in_flight -= 1

    def _respond(self, path: str, route: Route, count: int, *, head: bool) -> None:
        status = route.statuses[min(count, len(route.statuses)) - 1] if route.statuses else 200

        if route.redirect is not None:
            target = route.redirect
            if target.startswith("/"):
                target = self.site.url(target)
            self._send(
                status if 300 <= status < 400 else 302,
                b"",
                "text/plain",
                head=head,
                extra={"Location": target},
            )
            return
        if status >= 400:
            body = f"<html><body><h1>{status}</h1></body></html>".encode()
            self._send(status, body, route.content_type or "text/html", head=head)
            return
        if route.body_bytes is not None:
            self._send_filler(route, head=head)
            return

        file = self.site._file_for(path)
        if file is None:
            self._send(404, b"<html><body><h1>404</h1></body></html>", "text/html", head=head)
            return
        body = file.read_bytes()
        suffix = file.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            body = body.replace(PLACEHOLDER, self.site.base_url.encode("ascii"))
        content_type = route.content_type or _default_type(suffix, body)

        headers: dict[str, str] = {}
        etag = route.etag
        if etag is None:
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if etag:
            headers["ETag"] = str(etag)
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if self._not_modified(headers):
            self._send(304, b"", None, head=True, extra=headers)
            return
        self._send(status, body, content_type, head=head, extra=headers)

    def _not_modified(self, headers: dict[str, str]) -> bool:
        # RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since when both are sent.
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            etag = headers.get("ETag")
            if etag is None:
                return False
            wanted = {tag.strip().removeprefix("W/") for tag in inm.split(",")}
            return "*" in wanted or etag.removeprefix("W/") in wanted
        ims = self.headers.get("If-Modified-Since")
        last = headers.get("Last-Modified")
        if ims and last:
            since, modified = _http_date(ims), _http_date(last)
            return since is not None and modified is not None and modified <= since
        return False

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        *,
        head: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _send_filler(self, route: Route, *, head: bool) -> None:
        total = int(route.body_bytes or 0)
        self.send_response(200)
        self.send_header("Content-Type", route.content_type or "text/html; charset=utf-8")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        if head:
            return
        # Streamed in chunks: a 20 MB page never sits in memory, and a client that
        # stops reading at its size cap just breaks the pipe.
        start = b"<!DOCTYPE html><html><head><title>huge</title></head><body>\n"
        block = _FILLER * (_CHUNK // len(_FILLER) + 1)
        sent = 0
        first = start[:total]
        self.wfile.write(first)
        sent += len(first)
        while sent < total and not self.site._stopping.is_set():
            piece = block[: min(len(block), total - sent)]
            self.wfile.write(piece)
            sent += len(piece)


def _default_type(suffix: str, body: bytes) -> str:
    base = CONTENT_TYPES.get(suffix) or mimetypes.guess_type("x" + suffix)[0]
    base = base or "application/octet-stream"
    textual = base.startswith("text/") or base.endswith(("xml", "json"))
    if not textual:
        return base
    # Like a typical server: announce UTF-8 when the file is UTF-8, and say nothing
    # otherwise, so GBK/Big5 pages must be decoded from their meta tag or by detection.
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return base
    return base + "; charset=utf-8"


def _http_date(value: str) -> datetime | None:
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
