"""The counter service as an ASGI application.

A thin ASGI callable (`PixelApp`) stands in front of a Starlette app. Every GET that is not one
of the service's own endpoints is a pixel request: `PixelApp` answers it itself with prepared
messages (a 1×1 transparent GIF, no-cache headers) and counts it when the path is the pixel
address of a live page, `<prefix>/pages/<channel>/<id>.md`. That path skips Starlette's
request objects and routing, which is what lets one worker keep up (see docs/counter.md).
Anything else (`/hot.json`, `/healthz`, `/metrics`, the lifespan) goes to Starlette.

The prefix is the path of `site.counter_url` (`https://c.example.org/p` → `/p`), `/p` when no
counter_url is set, or what `--prefix` says; `""` serves pixels at `/pages/…`.

Nothing about the client is read: not `scope["client"]`, not a header. Counts live in a
`Tally` and are written to the counter's SQLite file every `flush_every` seconds and at
lifespan shutdown (uvicorn runs it on SIGTERM/SIGINT after the last request is answered).
Only paths of live pages are counted, so junk requests cost neither memory nor disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from samizdat.config import Config
from samizdat.counter.counts import Tally, add_views, connect, database_path, known_pages, top_pages

log = logging.getLogger("samizdat.counter")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The smallest transparent 1×1 GIF (43 bytes), the same bytes as nginx's empty_gif.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
ENDPOINTS = frozenset({"/hot.json", "/healthz", "/metrics"})
DEFAULT_PREFIX = "/p"
MAX_HOURS = 24 * 366
MAX_LIMIT = 1000

_PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(GIF)).encode()),
    # Every view must reach us: no browser, proxy or image proxy (GitHub's camo) may reuse it.
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
_PIXEL_START = {"type": "http.response.start", "status": 200, "headers": _PIXEL_HEADERS}
_PIXEL_BODY = {"type": "http.response.body", "body": GIF}
_EMPTY_BODY = {"type": "http.response.body", "body": b""}
_NOT_ALLOWED = {
    "type": "http.response.start",
    "status": 405,
    "headers": [(b"allow", b"GET, HEAD"), (b"content-length", b"0")],
}


@dataclass(frozen=True, slots=True)
class Settings:
    state: Path  # the samizdat state DB, read-only: which pages exist
    database: Path  # the counter's own SQLite file
    prefix: str = DEFAULT_PREFIX  # path in front of pages/<channel>/<id>.md
    flush_every: float = 5.0  # seconds between writes: what a crash can lose
    refresh_every: float = 60.0  # seconds between reads of the known pages
    hours: int = 24  # /hot.json defaults
    limit: int = 50

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        prefix: str | None = None,
        flush_every: float = 5.0,
        refresh_every: float = 60.0,
    ) -> Settings:
        return cls(
            state=config.site.state,
            database=database_path(config),
            prefix=pixel_prefix(config.site.counter_url) if prefix is None else prefix,
            flush_every=flush_every,
            refresh_every=refresh_every,
            hours=config.counter.hours,
            limit=config.counter.limit,
        )


def pixel_prefix(counter_url: str) -> str:
    """The request-path prefix of pixel addresses, from `site.counter_url`."""
    if not counter_url:
        return DEFAULT_PREFIX
    return normalise_prefix(urlsplit(counter_url).path)


def normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip().strip("/")
    return "/" + prefix if prefix else ""


class Counter:
    """The service's state: known pages, the tally, the database and the metrics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = normalise_prefix(settings.prefix)
        self.tally = Tally()
        self.titles: dict[str, str] = {}  # page path → title
        self.known: dict[str, str] = {}  # request path → page path
        self.db: sqlite3.Connection | None = None
        self.lock = asyncio.Lock()  # one database user at a time (flush, hot list)
        self.stopping = asyncio.Event()
        # Metrics. Plain ints: they are only touched on the event loop's thread.
        self.requests = 0
        self.views = 0
        self.unknown = 0
        self.flushes = 0
        self.flush_errors = 0
        self.refresh_errors = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.db = await asyncio.to_thread(connect, self.settings.database)
        await self.refresh()
        log.info(
            "counting views of %d pages at %s/pages/…; writing to %s every %gs",
            len(self.titles),
            self.prefix,
            self.settings.database,
            self.settings.flush_every,
        )

    async def stop(self) -> None:
        # The last write matters most: a busy database gets a few more chances.
        for attempt in range(3):
            await self.flush()
            if not self.tally.pending:
                break
            await asyncio.sleep(1.0 + attempt)
        if self.tally.pending:
            log.error("stopping with %d views that could not be written", self.tally.pending)
        if self.db is not None:
            self.db.close()
            self.db = None
        log.info("stopped: %d views counted", self.views)

    async def run(self) -> None:
        """Each second: advance the hour; flush and refresh when they are due. Ends when
        `stopping` is set, never in the middle of a write (no cancellation)."""
        last_flush = last_refresh = time.monotonic()
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 1.0)
            self.tally.tick()
            now = time.monotonic()
            if now - last_flush >= self.settings.flush_every:
                last_flush = now
                await self.flush()
            if now - last_refresh >= self.settings.refresh_every:
                last_refresh = now
                await self.refresh()

    # ------------------------------------------------------------------ work

    def count(self, path: str) -> None:
        """One pixel request (GET)."""
        self.requests += 1
        page = self.known.get(path)
        if page is None:
            self.unknown += 1
        else:
            self.views += 1
            self.tally.add(page)

    async def flush(self) -> None:
        async with self.lock:
            rows = self.tally.take()
            if not rows or self.db is None:
                self.tally.give_back(rows)
                return
            try:
                await asyncio.to_thread(self._write, rows)
            except sqlite3.Error as e:
                # Keep the views in memory; the next flush tries again.
                self.tally.give_back(rows)
                self.flush_errors += 1
                log.error("could not write views to %s: %s", self.settings.database, e)
            else:
                self.flushes += 1

    def _write(self, rows: list[tuple[str, int, int]]) -> None:
        assert self.db is not None
        self.db.execute("BEGIN IMMEDIATE")
        try:
            add_views(self.db, rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    async def refresh(self) -> None:
        try:
            titles = await asyncio.to_thread(known_pages, self.settings.state)
        except sqlite3.Error as e:
            self.refresh_errors += 1
            log.error("could not read the pages from %s: %s", self.settings.state, e)
            return
        self.titles = titles
        self.known = {f"{self.prefix}/{page}": page for page in titles}

    async def hot(self, hours: int, limit: int) -> list[dict[str, object]]:
        await self.flush()
        async with self.lock:
            if self.db is None:
                return []
            top = await asyncio.to_thread(top_pages, self.db, self.titles, hours=hours, limit=limit)
        return [{"path": p, "title": t, "views": n} for p, t, n in top]

    def metrics(self) -> str:
        """Prometheus text exposition format, version 0.0.4."""
        families = [
            ("requests", "counter", "Pixel requests answered (GET).", self.requests),
            ("views", "counter", "Views counted (pixel requests for live pages).", self.views),
            ("unknown", "counter", "Pixel requests for paths that are no live page.", self.unknown),
            ("flushes", "counter", "Batches of views written to the database.", self.flushes),
            (
                "flush_errors",
                "counter",
                "Failed batch writes (kept and retried).",
                self.flush_errors,
            ),
            ("refresh_errors", "counter", "Failed reads of the known pages.", self.refresh_errors),
            ("pending_views", "gauge", "Views counted but not yet written.", self.tally.pending),
            ("known_pages", "gauge", "Live pages whose views are counted.", len(self.titles)),
        ]
        lines = []
        for name, kind, text, value in families:
            full = f"samizdat_counter_{name}" + ("_total" if kind == "counter" else "")
            lines += [f"# HELP {full} {text}", f"# TYPE {full} {kind}", f"{full} {value}"]
        return "\n".join(lines) + "\n"


class PixelApp:
    """The front ASGI callable: pixels here, everything else to `inner`."""

    def __init__(self, counter: Counter, inner: ASGIApp) -> None:
        self.counter = counter
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ENDPOINTS:
            await self.inner(scope, receive, send)
            return
        method = scope["method"]
        if method == "GET":
            self.counter.count(scope["path"])
            await send(_PIXEL_START)
            await send(_PIXEL_BODY)
        elif method == "HEAD":  # answered, not counted: no image was shown
            await send(_PIXEL_START)
            await send(_EMPTY_BODY)
        else:
            await send(_NOT_ALLOWED)
            await send(_EMPTY_BODY)


def _bounded(request: Request, name: str, default: int, top: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
    if not 1 <= value <= top:
        raise ValueError(f"{name} must be between 1 and {top}")
    return value


def create_app(settings: Settings) -> PixelApp:
    counter = Counter(settings)

    async def hot(request: Request) -> Response:
        try:
            hours = _bounded(request, "hours", settings.hours, MAX_HOURS)
            limit = _bounded(request, "limit", settings.limit, MAX_LIMIT)
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        entries = await counter.hot(hours, limit)
        return JSONResponse(entries, headers={"cache-control": "no-cache"})

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "known_pages": len(counter.titles), "pending": counter.tally.pending}
        )

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(counter.metrics(), media_type="text/plain; version=0.0.4")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await counter.start()
        task = asyncio.create_task(counter.run())
        try:
            yield
        finally:
            counter.stopping.set()
            await task
            await counter.stop()

    inner = Starlette(
        routes=[
            Route("/hot.json", hot, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return PixelApp(counter, inner)
