"""Fetch pages over HTTP: one shared httpx client with the politeness and limits a cycle needs.

- timeouts: connect and read (httpx), plus a total per attempt (asyncio.timeout), so a server that
  trickles a byte every few seconds cannot hold an item forever;
- retries with exponential backoff on timeouts, connection errors, 5xx and 429 (honouring a short
  Retry-After; a long one means "not now", so we give up for this cycle instead of hammering);
- 4xx fail at once; so do a body over the size cap, a redirect loop and non-http(s) URLs;
- at most `per_host` requests in flight to one host and `max_connections` overall; a slot is held
  only while a request is in flight, never while backing off;
- conditional GET (If-None-Match / If-Modified-Since) and 304 handling.

Every failure surfaces as samizdat.errors.FetchError with a reason a person can act on.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType

import httpx

from samizdat.decode import decode_html
from samizdat.errors import FetchError

__all__ = ["FetchSettings", "Fetcher", "Response"]

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
# A Retry-After up to this many seconds is waited out; a longer one ends the retries.
MAX_RETRY_AFTER = 30.0
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclass(frozen=True)
class FetchSettings:
    """How the fetcher behaves; the `[fetch]` table of the config maps onto these fields."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0  # whole request incl. body, enforced with asyncio.timeout
    retries: int = 2  # extra attempts on timeouts, connection errors, 5xx and 429
    backoff: float = 0.5  # seconds, doubled each retry (honour Retry-After when small)
    per_host: int = 4  # concurrent requests per host
    max_connections: int = 32  # concurrent requests overall
    max_bytes: int = 10_000_000  # size cap: a larger body is an error (stream and stop reading)
    user_agent: str = "Mozilla/5.0 (compatible; samizdat/0.1; +https://github.com/samizdat-news)"
    proxy: str | None = None  # http://, https:// or socks5:// proxy for every request

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.retries < 0 or self.backoff < 0:
            raise ValueError("retries and backoff must not be negative")
        if self.per_host < 1 or self.max_connections < 1 or self.max_bytes < 1:
            raise ValueError("per_host, max_connections and max_bytes must be at least 1")
        if self.proxy is not None and httpx.URL(self.proxy).scheme not in PROXY_SCHEMES:
            raise ValueError(f"proxy must start with one of {', '.join(PROXY_SCHEMES)}://")


@dataclass(frozen=True)
class Response:
    """A fetched page, or the news that it has not changed since the validators were taken."""

    url: str  # final URL after redirects
    status: int  # 200, or 304 when not modified
    content: bytes = field(repr=False)  # b"" on 304
    content_type: str | None
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == HTTPStatus.NOT_MODIFIED

    def text(self) -> str:
        return decode_html(self.content, self.content_type)


class _Retryable(Exception):
    """One attempt failed in a way that another attempt may fix."""

    def __init__(
        self, kind: str, what: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(what)
        self.kind = kind  # "timeout" | "connection" | "status": what `what` describes
        self.what, self.status, self.retry_after = what, status, retry_after


class Fetcher:
    """One httpx.AsyncClient shared by every request of a cycle. Use as `async with`."""

    def __init__(
        self, settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._overall = asyncio.Semaphore(settings.max_connections)

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        self._client = httpx.AsyncClient(
            headers={"User-Agent": s.user_agent, "Accept": ACCEPT},
            timeout=httpx.Timeout(
                connect=s.connect_timeout,
                read=s.read_timeout,
                write=s.read_timeout,
                # Our semaphores queue requests before they reach the pool, so this only trips
                # if the pool itself is stuck.
                pool=s.total_timeout,
            ),
            limits=httpx.Limits(max_connections=s.max_connections),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            proxy=s.proxy,
            transport=self._transport,
            # Settings, not the environment, decide the proxy: runs must be reproducible.
            trust_env=False,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(
        self,
        url: str,
        *,
        referer: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response:
        """GET a URL, retrying what may pass on a second try. Raises FetchError."""
        if self._client is None:
            raise RuntimeError("Fetcher.get called outside 'async with Fetcher(...)'")
        host = _http_host(url)
        headers: dict[str, str] = {}
        if referer:
            headers["Referer"] = referer
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                async with self._slot(host):
                    return await self._attempt(self._client, url, headers, etag, last_modified)
            except _Retryable as failure:
                too_long = failure.retry_after is not None and failure.retry_after > MAX_RETRY_AFTER
                if attempt == attempts or too_long:
                    raise FetchError(url, _give_up(failure, attempt), failure.status) from None
                delay = self.settings.backoff * 2 ** (attempt - 1)
                if failure.retry_after is not None:
                    delay = max(delay, failure.retry_after)
                log.info("%s: %s (%s); retrying in %.1fs", url, failure.kind, failure.what, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """Hold a per-host slot, then an overall one (in that order, so that requests queued for
        one busy host never sit on overall slots that other hosts could use)."""
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(self.settings.per_host)
        async with semaphore, self._overall:
            yield

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> Response:
        s = self.settings
        try:
            async with asyncio.timeout(s.total_timeout):
                async with client.stream("GET", url, headers=headers) as response:
                    return await self._read(url, response, etag, last_modified)
        except TimeoutError:
            raise _Retryable("timeout", f"total timeout {s.total_timeout:g}s") from None
        except httpx.ConnectTimeout:
            raise _Retryable("timeout", f"connect timeout {s.connect_timeout:g}s") from None
        except httpx.ReadTimeout:
            raise _Retryable("timeout", f"read timeout {s.read_timeout:g}s") from None
        except httpx.WriteTimeout:
            raise _Retryable("timeout", f"write timeout {s.read_timeout:g}s") from None
        except httpx.PoolTimeout:
            raise _Retryable("timeout", f"pool timeout {s.total_timeout:g}s") from None
        except httpx.TooManyRedirects:
            raise FetchError(url, f"too many redirects (more than {MAX_REDIRECTS})") from None
        except httpx.UnsupportedProtocol as exc:
            raise FetchError(url, f"unsupported URL ({exc})") from None
        except httpx.TransportError as exc:  # refused, reset, DNS, proxy, malformed response
            raise _Retryable("connection", f"{type(exc).__name__}: {exc}") from None
        except httpx.DecodingError as exc:
            raise FetchError(url, f"undecodable response body ({exc})") from None
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL ({exc})") from None

    async def _read(
        self, url: str, response: httpx.Response, etag: str | None, last_modified: str | None
    ) -> Response:
        status = response.status_code
        headers = response.headers
        if status == HTTPStatus.NOT_MODIFIED:
            return Response(
                url=str(response.url),
                status=status,
                content=b"",
                content_type=headers.get("Content-Type"),
                etag=headers.get("ETag", etag),
                last_modified=headers.get("Last-Modified", last_modified),
            )
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= 500:
            retry_after = _retry_after(headers.get("Retry-After"))
            raise _Retryable("status", _status_line(response), status, retry_after)
        if not 200 <= status < 300:
            raise FetchError(url, _status_line(response), status)
        content = await self._body(url, response)
        return Response(
            url=str(response.url),
            status=status,
            content=content,
            content_type=headers.get("Content-Type"),
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
        )

    async def _body(self, url: str, response: httpx.Response) -> bytes:
        """Read the (decompressed) body, stopping as soon as it passes the cap."""
        cap = self.settings.max_bytes
        too_big = f"body larger than {cap} bytes"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(url, f"{too_big} (Content-Length {declared})", response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(url, too_big, response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)


def _http_host(url: str) -> str:
    """The URL's host, or FetchError if it is not an absolute http(s) URL."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(url, f"invalid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        scheme = parsed.scheme or "none"
        raise FetchError(url, f"refused URL scheme '{scheme}' (only http and https)")
    if not parsed.host:
        raise FetchError(url, "invalid URL (no host)")
    return parsed.host


def _status_line(response: httpx.Response) -> str:
    """'HTTP 404 Not Found': the standard phrase when the code has one (servers vary the case)."""
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = response.reason_phrase
    return f"HTTP {response.status_code} {phrase}".rstrip()


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _give_up(failure: _Retryable, attempts: int) -> str:
    """The FetchError reason after the last attempt, e.g. 'timed out after 3 attempts (read
    timeout 30s)'."""
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    if failure.retry_after is not None and failure.retry_after > MAX_RETRY_AFTER:
        return f"{failure.what} with Retry-After {failure.retry_after:.0f}s; gave up after {tries}"
    if failure.kind == "timeout":
        return f"timed out after {tries} ({failure.what})"
    if failure.kind == "connection":
        return f"connection failed after {tries} ({failure.what})"
    return f"{failure.what} after {tries}"
