"""`samizdat counter ingest FILE…`: count pixel hits found in web-server or CDN access logs.

For mirrors whose pixel is served by nginx (`empty_gif`) or a CDN rather than by
`samizdat counter`. Lines in the NCSA common or combined format (nginx's default `combined`,
Apache's `common`/`combined`) are read; plain or gzip-compressed files (detected by content,
not name). A line counts one view when it is a GET answered 2xx or 304 whose path (query
dropped, percent-decoded) is `<prefix>/pages/<channel>/<id>.md` for a live page. Only the page
path and the hour are kept: the address, user and agent fields are never stored.

Ingesting twice counts once. The rule: a log is identified by the SHA-256 of its first
complete lines (up to 100) with the client fields left out (time, request, status and size
only), and the database records, per identity, how many complete lines were counted. Ingesting
a log again counts only lines past that number, so re-reading a file, a file that has grown
since, or its rotated copy (`access.log` → `access.log.1` → `access.log.2.gz`, same content)
adds only new lines. A final line without its newline (still being written) is left for next
time. Each file's views and its record are written in one transaction. Two different logs are
only mistaken for one if their first lines (up to 100) agree in time, request, status and size.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote_to_bytes

from samizdat.counter.counts import add_views, connect

HEAD_LINES = 100
_LINE = re.compile(
    rb'^\S+ \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    rb"(?P<status>\d{3}) (?P<size>\S+)"
)
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class IngestReport:
    files: int = 0
    lines: int = 0  # complete lines read in all files
    already: int = 0  # lines skipped because an earlier ingest counted them
    views: int = 0  # views counted
    unknown: int = 0  # pixel-less or unknown-page requests
    malformed: int = 0  # lines that are not in the common/combined format
    names: list[str] = field(default_factory=list)


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as f:
        magic = f.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _complete_lines(stream: BinaryIO) -> Iterator[bytes]:
    for line in stream:
        if line.endswith(b"\n"):
            yield line


def _anonymous(line: bytes) -> bytes:
    """What identifies a log line without identifying a reader: time, request, status, size."""
    m = _LINE.match(line)
    if m is None:
        return b"-\n"
    return b"|".join(m.group("time", "request", "status", "size")) + b"\n"


class _Hours:
    """Log timestamps (`10/Oct/2000:13:55:36 -0700`) to UTC hours, parsed once per minute."""

    def __init__(self) -> None:
        self.cache: dict[bytes, int] = {}

    def __call__(self, stamp: bytes) -> int | None:
        key = stamp[:17] + stamp[-5:]  # to the minute, with the zone (zones may be +0530)
        hour = self.cache.get(key)
        if hour is None:
            try:
                when = datetime.strptime(stamp.decode("ascii"), "%d/%b/%Y:%H:%M:%S %z")
            except (UnicodeDecodeError, ValueError):
                return None
            hour = int(when.timestamp()) // 3600
            if len(self.cache) > 100_000:
                self.cache.clear()
            self.cache[key] = hour
        return hour


class Ingester:
    def __init__(self, database: Path, pages: Iterable[str], *, prefix: str) -> None:
        self.db = connect(database)
        prefix = prefix.strip().strip("/")
        prefix = "/" + prefix if prefix else ""
        self.known = {f"{prefix}/{page}".encode(): page for page in pages}
        self.hours = _Hours()

    def close(self) -> None:
        self.db.close()

    def ingest(self, paths: Iterable[Path]) -> IngestReport:
        report = IngestReport()
        for path in paths:
            self._file(path, report)
        return report

    def _file(self, path: Path, report: IngestReport) -> None:
        with _open(path) as stream:
            lines = _complete_lines(stream)
            head = [line for _, line in zip(range(HEAD_LINES), lines, strict=False)]
            identity, done = self._identify(head)
            counts: dict[tuple[str, int], int] = {}
            total = 0
            for total, line in enumerate(_chain(head, lines), start=1):
                if total > done:
                    self._line(line, counts, report)
            report.lines += total
            report.already += min(done, total)
        report.files += 1
        report.names.append(str(path))
        self.db.execute("BEGIN IMMEDIATE")
        try:
            add_views(self.db, ((p, h, n) for (p, h), n in counts.items()))
            if head:
                self.db.execute(
                    "INSERT INTO ingested (head_lines, identity, lines_done, name) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (head_lines, identity) DO UPDATE SET "
                    "lines_done = max(lines_done, excluded.lines_done), name = excluded.name",
                    (len(head), identity, total, path.name),
                )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _identify(self, head: list[bytes]) -> tuple[str, int]:
        """This log's identity, and how many of its lines earlier ingests counted."""
        recorded: dict[tuple[int, str], int] = {
            (k, ident): n
            for k, ident, n in self.db.execute(
                "SELECT head_lines, identity, lines_done FROM ingested"
            )
        }
        lengths = {k for k, _ in recorded}
        digest = hashlib.sha256()
        done = 0
        for k, line in enumerate(head, start=1):
            digest.update(_anonymous(line))
            if k in lengths:
                done = max(done, recorded.get((k, digest.hexdigest()), 0))
        return digest.hexdigest(), done

    def _line(self, line: bytes, counts: dict[tuple[str, int], int], report: IngestReport) -> None:
        m = _LINE.match(line)
        if m is None:
            report.malformed += 1
            return
        status = int(m.group("status"))
        method, _, rest = m.group("request").partition(b" ")
        target = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        page = self.known.get(unquote_to_bytes(target))
        if method != b"GET" or not (200 <= status < 300 or status == 304) or page is None:
            report.unknown += 1
            return
        hour = self.hours(m.group("time"))
        if hour is None:
            report.malformed += 1
            return
        counts[(page, hour)] = counts.get((page, hour), 0) + 1
        report.views += 1


def _chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from head
    yield from rest
