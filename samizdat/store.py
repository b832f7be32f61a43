"""SQLite state: articles, per-item failures, feed validators, cycles and pushes.

The store is the single source of truth for rendering (`build` reads only this). Every write
that belongs to one step happens in one transaction, so a cycle killed at any point leaves
the store consistent; migrations are applied in order, each in the transaction that records it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from samizdat.models import Article

# Every article with `seq`, its order of arrival in its channel (first seen, then insertion),
# counting purged ones, which the store keeps: an article's number never changes. The numbers
# are counted over the keys alone, then joined: sorting whole rows (bodies and all) doubled
# the time of reading 10,000 headers.
_SEQUENCED = """SELECT articles.*, numbered.seq FROM articles JOIN (
                    SELECT channel, slug,
                           ROW_NUMBER() OVER (PARTITION BY channel ORDER BY first_seen, rowid) AS seq
                    FROM articles
                ) AS numbered USING (channel, slug)"""

# Each entry upgrades the schema by one version. Never edit a released entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE articles (
        channel     TEXT NOT NULL,
        slug        TEXT NOT NULL,
        url         TEXT NOT NULL,
        source      TEXT NOT NULL,
        title       TEXT NOT NULL,
        html        TEXT NOT NULL,
        text        TEXT NOT NULL,
        published   TEXT NOT NULL,      -- ISO 8601 UTC; feed date or first seen
        first_seen  TEXT NOT NULL,
        updated     TEXT NOT NULL,
        image       TEXT,
        caption     TEXT,
        author      TEXT,
        position    INTEGER NOT NULL DEFAULT 0,
        fingerprint TEXT NOT NULL DEFAULT '',  -- the feed entry as listed
        method      TEXT NOT NULL DEFAULT '',
        purged      INTEGER NOT NULL DEFAULT 0, -- beyond `keep`: remembered, never mirrored again
        PRIMARY KEY (channel, slug),
        UNIQUE (channel, url)
    );
    CREATE INDEX articles_order ON articles (channel, purged, published DESC, position);
    CREATE TABLE failures (
        channel      TEXT NOT NULL,
        url          TEXT NOT NULL,
        title        TEXT NOT NULL,
        reason       TEXT NOT NULL,
        attempts     INTEGER NOT NULL,
        first_failed TEXT NOT NULL,
        last_failed  TEXT NOT NULL,
        PRIMARY KEY (channel, url)
    );
    CREATE TABLE validators (
        url           TEXT PRIMARY KEY,
        etag          TEXT,
        last_modified TEXT,
        checked       TEXT NOT NULL
    );
    CREATE TABLE cycles (
        id       INTEGER PRIMARY KEY,
        started  TEXT NOT NULL,
        finished TEXT,
        report   TEXT              -- JSON: counts and problems
    );
    CREATE TABLE pushes (
        mirror        TEXT PRIMARY KEY,
        last_ok       TEXT,
        last_commit   TEXT,
        last_error    TEXT,
        last_error_at TEXT
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: a revision number per change, so "what changed since the last render" never depends
    # on the clock (whole seconds collided; a clock set back would hide changes).
    """
    ALTER TABLE articles ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX articles_rev ON articles (rev);
    UPDATE articles SET rev = 1;
    """,
    # 3: the addresses each article's body links to, so that a cycle finds the pages whose
    # links change when an article comes or goes (filled for stored articles by _fill_links);
    # and an index for numbering articles by arrival (`_SEQUENCED`).
    """
    CREATE TABLE links (
        channel TEXT NOT NULL,
        slug    TEXT NOT NULL,
        target  TEXT NOT NULL,      -- absolute, without its fragment (clean.link_targets)
        PRIMARY KEY (channel, slug, target)
    );
    CREATE INDEX links_target ON links (target);
    CREATE INDEX articles_arrival ON articles (channel, first_seen);
    """,
)

_NEXT_REV = "(SELECT coalesce(max(rev), 0) + 1 FROM articles)"


def _statements(script: str) -> list[str]:
    """Split a script into statements (executescript would commit the migration's transaction)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Known:
    """What the store remembers of one URL in a channel: enough to decide whether to fetch it."""

    slug: str
    fingerprint: str
    purged: bool


@dataclass(frozen=True, slots=True)
class Failure:
    channel: str
    url: str
    title: str
    reason: str
    attempts: int
    last_failed: datetime


@dataclass(frozen=True, slots=True)
class PushState:
    mirror: str
    last_ok: datetime | None
    last_commit: str | None
    last_error: str | None
    last_error_at: datetime | None


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = path
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)  # transactions are explicit
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA busy_timeout = 5000")
        self._depth = 0
        self.migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """A transaction; nested calls become savepoints, so helpers compose."""
        name = f"sp{self._depth}"
        self.db.execute("BEGIN IMMEDIATE" if self._depth == 0 else f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self.db
        except BaseException:
            self._depth -= 1
            self.db.execute("ROLLBACK" if self._depth == 0 else f"ROLLBACK TO {name}")
            if self._depth:
                self.db.execute(f"RELEASE {name}")
            raise
        else:
            self._depth -= 1
            self.db.execute("COMMIT" if self._depth == 0 else f"RELEASE {name}")

    # ------------------------------------------------------------------ schema

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        for version in range(self.version, len(MIGRATIONS)):
            with self.atomic() as db:
                for statement in _statements(MIGRATIONS[version]):
                    db.execute(statement)
                if version + 1 == 3:
                    self._fill_links()
                db.execute(f"PRAGMA user_version = {version + 1}")

    def _fill_links(self) -> None:
        """Migration 3's data: the link targets of every stored article."""
        rows = self.db.execute("SELECT channel, slug, url, html FROM articles").fetchall()
        for channel, slug, url, html in rows:
            self._set_links(channel, slug, url, html)

    # ------------------------------------------------------------------ articles

    def known(self, channel: str) -> dict[str, Known]:
        """Every URL the channel has held, live or purged, keyed by URL."""
        rows = self.db.execute(
            "SELECT url, slug, fingerprint, purged FROM articles WHERE channel = ?", (channel,)
        )
        return {r["url"]: Known(r["slug"], r["fingerprint"], bool(r["purged"])) for r in rows}

    def slugs(self, channel: str) -> set[str]:
        return {
            r[0] for r in self.db.execute("SELECT slug FROM articles WHERE channel = ?", (channel,))
        }

    def save(
        self,
        article: Article,
        *,
        source: str,
        fingerprint: str,
        method: str,
        clear_failure: bool = True,
    ) -> bool:
        """Insert or update one article; return True when it is new. Clears its failure record
        unless told not to (an article stored with a problem, e.g. an image that failed).

        An updated article keeps its slug, first-seen time and place (published, position)."""
        stamp = _iso(now())
        with self.atomic() as db:
            old = db.execute(
                "SELECT slug FROM articles WHERE channel = ? AND url = ?",
                (article.channel, article.url),
            ).fetchone()
            if old is None:
                db.execute(
                    f"""INSERT INTO articles (channel, slug, url, source, title, html, text, published,
                           first_seen, updated, image, caption, author, position, fingerprint, method,
                           rev)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,{_NEXT_REV})""",
                    (
                        article.channel,
                        article.slug,
                        article.url,
                        source,
                        article.title,
                        article.html,
                        article.text,
                        _iso(article.published),
                        stamp,
                        stamp,
                        article.image,
                        article.caption,
                        article.author,
                        article.position,
                        fingerprint,
                        method,
                    ),
                )
            else:
                db.execute(
                    f"""UPDATE articles SET title = ?, html = ?, text = ?, updated = ?, image = ?,
                           caption = ?, author = ?, fingerprint = ?, method = ?, rev = {_NEXT_REV}
                       WHERE channel = ? AND url = ?""",
                    (
                        article.title,
                        article.html,
                        article.text,
                        stamp,
                        article.image,
                        article.caption,
                        article.author,
                        fingerprint,
                        method,
                        article.channel,
                        article.url,
                    ),
                )
            slug = article.slug if old is None else old[0]
            self._set_links(article.channel, slug, article.url, article.html)
            if clear_failure:
                db.execute(
                    "DELETE FROM failures WHERE channel = ? AND url = ?",
                    (article.channel, article.url),
                )
        return old is None

    def _set_links(self, channel: str, slug: str, url: str, html: str) -> None:
        from samizdat.clean import link_targets  # lxml: only when something is saved

        self.db.execute("DELETE FROM links WHERE channel = ? AND slug = ?", (channel, slug))
        self.db.executemany(
            "INSERT INTO links (channel, slug, target) VALUES (?, ?, ?)",
            [(channel, slug, target) for target in sorted(link_targets(html, url))],
        )

    def linking_to(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """(channel, slug) of the other live articles whose bodies link to one of these
        (stored, updated or purged): where their links lead (the mirrored page, or the
        original) changes with them."""
        found: set[tuple[str, str]] = set()
        keys_list = sorted(keys)
        for k in range(0, len(keys_list), 400):
            part = keys_list[k : k + 400]
            rows = self.db.execute(
                f"""SELECT DISTINCT l.channel, l.slug
                    FROM articles AS target
                    JOIN links AS l ON l.target = target.url
                    JOIN articles AS page ON page.channel = l.channel AND page.slug = l.slug
                    WHERE page.purged = 0
                      AND (target.channel, target.slug) IN
                          (VALUES {", ".join(["(?, ?)"] * len(part))})""",
                [value for key in part for value in key],
            )
            found.update((r[0], r[1]) for r in rows)
        return found - keys

    def touch(self, channel: str, url: str, fingerprint: str) -> None:
        """Record a changed listing whose article did not change, so it is not fetched again."""
        self.db.execute(
            "UPDATE articles SET fingerprint = ? WHERE channel = ? AND url = ?",
            (fingerprint, channel, url),
        )

    def articles(self, channel: str | None = None) -> list[Article]:
        """Live articles, newest first within each channel (publication time, then source order)."""
        sql = f"SELECT * FROM ({_SEQUENCED}) WHERE purged = 0"
        args: tuple[str, ...] = ()
        if channel is not None:
            sql += " AND channel = ?"
            args = (channel,)
        sql += " ORDER BY channel, published DESC, position, first_seen DESC"
        return [self._article(r) for r in self.db.execute(sql, args)]

    def headers(self) -> list[Article]:
        """Live articles like `articles()`, but without their bodies (`html` and `text` empty),
        except a body that names a mirrored image (image pruning needs it): what indexes, links
        and QR codes need, for a fraction of the reading. `load_bodies` fills them in."""
        rows = self.db.execute(
            f"""SELECT channel, slug, url, title, published, image, caption, author, position,
                   CASE WHEN instr(html, 'images/') > 0 THEN html ELSE '' END AS html, '' AS text,
                   seq
               FROM ({_SEQUENCED}) WHERE purged = 0
               ORDER BY channel, published DESC, position, first_seen DESC"""
        )
        return [self._article(r) for r in rows]

    def load_bodies(self, articles: Iterable[Article]) -> None:
        """Fill in `html` and `text` of articles read by `headers()` (those purged since keep
        what they have), a query per channel and 500 articles."""
        wanted: dict[str, dict[str, Article]] = {}
        for article in articles:
            wanted.setdefault(article.channel, {})[article.slug] = article
        for channel, by_slug in wanted.items():
            slugs = list(by_slug)
            for k in range(0, len(slugs), 500):
                part = slugs[k : k + 500]
                rows = self.db.execute(
                    "SELECT slug, html, text FROM articles WHERE purged = 0 AND channel = ?"
                    f" AND slug IN ({','.join('?' * len(part))})",
                    (channel, *part),
                )
                for slug, html, text in rows:
                    by_slug[slug].html, by_slug[slug].text = html, text

    def article(self, channel: str, slug: str) -> Article | None:
        row = self.db.execute(
            f"SELECT * FROM ({_SEQUENCED}) WHERE channel = ? AND slug = ? AND purged = 0",
            (channel, slug),
        ).fetchone()
        return self._article(row) if row else None

    @staticmethod
    def _article(r: sqlite3.Row) -> Article:
        return Article(
            channel=r["channel"],
            slug=r["slug"],
            url=r["url"],
            title=r["title"],
            html=r["html"],
            text=r["text"],
            published=_parse(r["published"]),
            image=r["image"],
            caption=r["caption"],
            author=r["author"],
            position=r["position"],
            seq=r["seq"],
        )

    def purge(self, channel: str, keep: int) -> list[str]:
        """Mark all but the newest `keep` articles of a channel purged; return their slugs.

        The row stays (without its body) so the URL is never mirrored again."""
        with self.atomic() as db:
            rows = db.execute(
                """SELECT slug FROM articles WHERE channel = ? AND purged = 0
                   ORDER BY published DESC, position, first_seen DESC LIMIT -1 OFFSET ?""",
                (channel, keep),
            ).fetchall()
            slugs = [r[0] for r in rows]
            # The revision moves so that the next render sees the channel changed.
            db.executemany(
                f"""UPDATE articles SET purged = 1, html = '', text = '', updated = ?,
                        rev = {_NEXT_REV} WHERE channel = ? AND slug = ?""",
                [(_iso(now()), channel, s) for s in slugs],
            )
        return slugs

    def revision(self) -> int:
        """The store's latest change: every save and purge gets the next revision number."""
        return int(self.db.execute("SELECT coalesce(max(rev), 0) FROM articles").fetchone()[0])

    def changed_after(self, revision: int) -> set[tuple[str, str]]:
        """(channel, slug) of articles stored, updated or purged after `revision`."""
        rows = self.db.execute("SELECT channel, slug FROM articles WHERE rev > ?", (revision,))
        return {(r[0], r[1]) for r in rows}

    def counts(self) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT channel, count(*) FROM articles WHERE purged = 0 GROUP BY channel"
        )
        return {r[0]: r[1] for r in rows}

    # ------------------------------------------------------------------ failures

    def fail(self, channel: str, url: str, title: str, reason: str) -> int:
        """Record one item's failure; return how many times it has failed."""
        stamp = _iso(now())
        with self.atomic() as db:
            db.execute(
                """INSERT INTO failures (channel, url, title, reason, attempts, first_failed, last_failed)
                   VALUES (?, ?, ?, ?, 1, ?, ?)
                   ON CONFLICT (channel, url) DO UPDATE SET
                       title = excluded.title, reason = excluded.reason,
                       attempts = attempts + 1, last_failed = excluded.last_failed""",
                (channel, url, title, reason, stamp, stamp),
            )
            row = db.execute(
                "SELECT attempts FROM failures WHERE channel = ? AND url = ?", (channel, url)
            ).fetchone()
        return int(row[0])

    def failures(self) -> list[Failure]:
        rows = self.db.execute("SELECT * FROM failures ORDER BY last_failed DESC, channel, url")
        return [
            Failure(
                r["channel"],
                r["url"],
                r["title"],
                r["reason"],
                r["attempts"],
                _parse(r["last_failed"]),
            )
            for r in rows
        ]

    def given_up(self, channel: str, attempts: int) -> set[str]:
        """URLs of the channel's items that have failed at least `attempts` times."""
        rows = self.db.execute(
            "SELECT url FROM failures WHERE channel = ? AND attempts >= ?", (channel, attempts)
        )
        return {r[0] for r in rows}

    def forget_failures(self, channel: str, urls: Iterable[str]) -> None:
        self.db.executemany(
            "DELETE FROM failures WHERE channel = ? AND url = ?", [(channel, u) for u in urls]
        )

    # ------------------------------------------------------------------ feed validators

    def validators(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute(
            "SELECT etag, last_modified FROM validators WHERE url = ?", (url,)
        ).fetchone()
        return (row["etag"], row["last_modified"]) if row else (None, None)

    def set_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self.db.execute(
            """INSERT INTO validators (url, etag, last_modified, checked) VALUES (?, ?, ?, ?)
               ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
                   last_modified = excluded.last_modified, checked = excluded.checked""",
            (url, etag, last_modified, _iso(now())),
        )

    def clear_validators(self, url: str) -> None:
        self.db.execute("DELETE FROM validators WHERE url = ?", (url,))

    # ------------------------------------------------------------------ cycles, pushes, meta

    def begin_cycle(self) -> int:
        cur = self.db.execute("INSERT INTO cycles (started) VALUES (?)", (_iso(now()),))
        return int(cur.lastrowid or 0)

    def end_cycle(self, cycle: int, report: dict[str, object]) -> None:
        self.db.execute(
            "UPDATE cycles SET finished = ?, report = ? WHERE id = ?",
            (_iso(now()), json.dumps(report, ensure_ascii=False, sort_keys=True), cycle),
        )

    def last_cycle(self) -> tuple[datetime, datetime | None, dict[str, object]] | None:
        row = self.db.execute("SELECT * FROM cycles ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        finished = _parse(row["finished"]) if row["finished"] else None
        return _parse(row["started"]), finished, json.loads(row["report"] or "{}")

    def record_push(self, mirror: str, *, ok: bool, commit: str | None, error: str | None) -> None:
        stamp = _iso(now())
        if ok:
            self.db.execute(
                """INSERT INTO pushes (mirror, last_ok, last_commit) VALUES (?, ?, ?)
                   ON CONFLICT (mirror) DO UPDATE SET last_ok = excluded.last_ok,
                       last_commit = excluded.last_commit, last_error = NULL, last_error_at = NULL""",
                (mirror, stamp, commit),
            )
        else:
            self.db.execute(
                """INSERT INTO pushes (mirror, last_error, last_error_at) VALUES (?, ?, ?)
                   ON CONFLICT (mirror) DO UPDATE SET last_error = excluded.last_error,
                       last_error_at = excluded.last_error_at""",
                (mirror, error, stamp),
            )

    def pushes(self) -> dict[str, PushState]:
        out = {}
        for r in self.db.execute("SELECT * FROM pushes"):
            out[r["mirror"]] = PushState(
                r["mirror"],
                _parse(r["last_ok"]) if r["last_ok"] else None,
                r["last_commit"],
                r["last_error"],
                _parse(r["last_error_at"]) if r["last_error_at"] else None,
            )
        return out

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
