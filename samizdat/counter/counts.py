"""Views per page per hour: the in-memory tally, the counter's own SQLite file, the known pages.

Privacy rule for everything in this package: a view is a page path and an hour, nothing else.
No address, user agent, cookie or referrer is kept, in memory or on disk.

The database holds `views(path, hour, views)`, `hour` being Unix time // 3600 (UTC). Writes are
additive upserts (`views = views + excluded.views`), so any number of processes (several
workers, `samizdat counter ingest`) can add to one file; `busy_timeout` makes them queue.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from samizdat.config import Config

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS views (
        path  TEXT NOT NULL,        -- pages/<channel>/<id>.md
        hour  INTEGER NOT NULL,     -- Unix time // 3600, UTC
        views INTEGER NOT NULL,
        PRIMARY KEY (path, hour)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS views_hour ON views (hour)",
    # What `samizdat counter ingest` has already counted (see ingest.py for the rule).
    """
    CREATE TABLE IF NOT EXISTS ingested (
        head_lines INTEGER NOT NULL, -- how many leading lines `identity` covers
        identity   TEXT NOT NULL,    -- sha256 of those lines with the client fields left out
        lines_done INTEGER NOT NULL, -- complete lines counted so far
        name       TEXT NOT NULL,    -- the file last ingested under this identity (for people)
        PRIMARY KEY (head_lines, identity)
    )
    """,
)
_UPSERT = (
    "INSERT INTO views (path, hour, views) VALUES (?, ?, ?) "
    "ON CONFLICT (path, hour) DO UPDATE SET views = views + excluded.views"
)


def current_hour(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 3600)


def database_path(config: Config) -> Path:
    """`[counter] database`, else `counter.db` beside the state DB."""
    return config.counter.database or config.site.state.parent / "counter.db"


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the counter's database for writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for statement in SCHEMA:
        db.execute(statement)
    return db


def add_views(db: sqlite3.Connection, rows: Iterable[tuple[str, int, int]]) -> None:
    """Add (path, hour, views) rows inside the caller's transaction."""
    db.executemany(_UPSERT, rows)


class Tally:
    """Views not yet written, by hour then path.

    Built for the pixel's hot path: `add` is two dict operations on the event loop's thread,
    with no lock, no clock call and no tuple. The hour is advanced by `tick` (called each second
    by the service), so a view lands in the hour it happened in, give or take that second.
    """

    __slots__ = ("current", "hour", "hours", "pending")

    def __init__(self, hour: int | None = None) -> None:
        self.hour = current_hour() if hour is None else hour
        self.current: dict[str, int] = {}
        self.hours: dict[int, dict[str, int]] = {self.hour: self.current}
        self.pending = 0

    def add(self, path: str) -> None:
        current = self.current
        current[path] = current.get(path, 0) + 1
        self.pending += 1

    def tick(self, now: float | None = None) -> None:
        hour = current_hour(now)
        if hour != self.hour:
            self.hour = hour
            self.current = self.hours.setdefault(hour, {})

    def take(self) -> list[tuple[str, int, int]]:
        """Everything pending as (path, hour, views) rows; the tally starts empty."""
        rows = [(p, h, n) for h, paths in self.hours.items() for p, n in paths.items()]
        self.current = {}
        self.hours = {self.hour: self.current}
        self.pending = 0
        return rows

    def give_back(self, rows: Iterable[tuple[str, int, int]]) -> None:
        """Return rows whose write failed, so the next flush retries them."""
        for path, hour, views in rows:
            paths = self.hours.setdefault(hour, {})
            paths[path] = paths.get(path, 0) + views
            self.pending += views


def known_pages(state: Path) -> dict[str, str]:
    """{page path: title} of the live pages in the samizdat state DB, read-only.

    A missing state DB is an empty mirror (nothing is counted yet), not an error."""
    if not state.exists():
        return {}
    db = sqlite3.connect(f"{state.resolve().as_uri()}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        rows = db.execute("SELECT channel, slug, title FROM articles WHERE purged = 0")
        return {f"pages/{channel}/{slug}.md": title for channel, slug, title in rows}
    finally:
        db.close()


def top_pages(
    db: sqlite3.Connection, titles: Mapping[str, str], *, hours: int, limit: int
) -> list[tuple[str, str, int]]:
    """The most viewed live pages of the last `hours` hours (the current one included):
    (path, title, views), most viewed first, ties by path. Pages no longer live are left out."""
    since = current_hour() - hours + 1
    rows = db.execute(
        "SELECT path, SUM(views) AS n FROM views WHERE hour >= ? GROUP BY path ORDER BY n DESC, path",
        (since,),
    )
    top: list[tuple[str, str, int]] = []
    for path, views in rows:
        if path in titles:
            top.append((path, titles[path], int(views)))
            if len(top) >= limit:
                break
    return top
