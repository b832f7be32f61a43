"""Full-text search for a static host: an inverted index cut into shards fetched on demand.

Why our own index and not Pagefind: Pagefind segments Chinese into words, so a two-character
query that falls across its word boundaries finds nothing, and its UI needs WebAssembly (a CSP
exception). Here Chinese, Japanese and Korean text is indexed as overlapping character bigrams
(a query of any two or more characters matches wherever they stand) and other scripts as
lower-cased words. A query is the AND of its tokens.

Files under `site/search/`, each a script `samizdatSearch("<name>", <JSON value>);` that the
search page loads with a <script> element: unlike fetch(), that works from a site opened from
disk (file://), and the site's Content-Security-Policy allows its own scripts:
  meta.js            {"version", "shards", "chunk", "docs"}: read first by the search page
  s/<n>.js           {token: [doc id deltas…]}: shard n holds the tokens whose CRC-32 of
                     their UTF-8 bytes is n modulo `shards` (search.js computes the same)
  d/<k>.js           documents k*chunk … (k+1)*chunk-1: [path, title, date, channel] or 0

  r/<n>.js           the same for the recent documents, ids >= meta "base", in `recent`
                     shards by the same CRC-32

A search loads meta.js, two shards per distinct token (s/ and r/), then the document chunks
of the hits.

Incremental: a changed article gets a new document id and its old id becomes a tombstone (0),
which the page skips. Ids only grow, so postings stay sorted by appending. New documents go to
the recent shards: a cycle that adds 20 articles touches their terms in hundreds of the main
shards, but rewrites only the 64 recent ones. When the recent documents pass RECENT_DOCS they
are merged into the main shards: a write of nearly every shard, which the output's git history
keeps (about 2 MiB to push for 10,000 articles), so it should be rare: at 20 articles a cycle,
once in 51 cycles (with 16 shards and 256 documents, once in 13, the pushes of an average cycle
were a quarter larger). Recent shards stay small all the same (~4 KB each at 1,000 documents).
When tombstones pass a quarter of the ids (purges add one per new article) the index is rebuilt
whole.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from samizdat.render.files import remove, write_if_changed

VERSION = 3  # 3: scripts (.js) in place of .json files
RECENT_SHARDS = 64
RECENT_DOCS = 1024  # recent documents before they are merged into the main shards
CHUNK = 256  # documents per d/<k>.js: ~20 KB, and the top results of a query touch few
POSTINGS_PER_SHARD = 6000  # target: a shard of ~20 KB before the web server's compression
MIN_SHARDS, MAX_SHARDS = 16, 4096
TOMBSTONE_LIMIT = 0.25

# Han (with extensions and compatibility ideographs), kana, Hangul syllables.
_CJK_CLASS = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002ffff"
)
_CJK = re.compile(f"[{_CJK_CLASS}]+")
_WORD = re.compile(r"[^\W_]+")
MAX_WORD = 40  # longer "words" are hashes, base64, URLs: nobody searches them


@dataclass(frozen=True, slots=True)
class Doc:
    """One searchable article page."""

    path: str  # relative to site/: pages/<channel>/<id>.html
    title: str
    date: str  # YYYY-MM-DD
    channel: str  # the channel's display title
    text: str  # the body text

    def record(self) -> list[str]:
        return [self.path, self.title, self.date, self.channel]


def tokens(text: str) -> set[str]:
    """The index terms of `text`: CJK character bigrams (a lone character stands for itself)
    and lower-cased words of other scripts. search.js tokenises queries the same way."""
    text = unicodedata.normalize("NFKC", text).lower()
    terms: set[str] = set()
    for run in _CJK.findall(text):
        if len(run) == 1:
            terms.add(run)
        else:
            terms.update(run[i : i + 2] for i in range(len(run) - 1))
    terms.update(w for w in _WORD.findall(_CJK.sub(" ", text)) if len(w) <= MAX_WORD)
    return terms


def shard_of(term: str, shards: int) -> int:
    return zlib.crc32(term.encode("utf-8")) % shards


def build_search(
    root: Path,
    docs: Sequence[Doc],
    changed: set[str] | None,
    *,
    texts: Callable[[Sequence[Doc]], list[str]] | None = None,
) -> list[str]:
    """Write the index under `root/search/` for `docs` (every live page, oldest first).

    `changed` holds the paths of pages added, changed or removed since the last build; None
    rebuilds the index. `texts(docs)` gives the docs' texts when their `text` is not filled in
    (only the documents indexed are asked for). Returns the paths (relative to `root`) of files
    written or removed."""
    if texts is None:
        texts = _own_texts
    if changed is not None:
        state = _State.load(root)
        if state is not None:
            written = state.update(root, docs, changed, texts)
            if written is not None:
                return written
    return _write_full(root, docs, texts)


def _own_texts(docs: Sequence[Doc]) -> list[str]:
    return [d.text for d in docs]


def _terms(doc: Doc, text: str) -> set[str]:
    return tokens(f"{doc.title}\n{text}")


def _write_full(
    root: Path, docs: Sequence[Doc], texts: Callable[[Sequence[Doc]], list[str]]
) -> list[str]:
    postings: dict[str, list[int]] = {}
    for number, (doc, text) in enumerate(zip(docs, texts(docs), strict=True)):
        for term in _terms(doc, text):
            entry = postings.get(term)
            if entry is None:
                postings[term] = [number]
            else:
                entry.append(number)
    total = sum(len(ids) for ids in postings.values())
    shards = MIN_SHARDS
    while shards < MAX_SHARDS and total / shards > POSTINGS_PER_SHARD:
        shards *= 2
    state = _State(shards, [d.record() for d in docs], len(docs))
    for n in range(shards):
        state.shards[n] = {}
    for n in range(RECENT_SHARDS):
        state.recent[n] = {}
    for term, ids in postings.items():
        state.shards[shard_of(term, shards)][term] = ids
    return state.write(root, set(range(len(docs) // CHUNK + 1)), prune=True)


class _State:
    """The index as it is on disk, decoded; shards are loaded only when touched."""

    def __init__(self, shards: int, records: list[list[str] | int], base: int) -> None:
        self.count = shards
        self.records = records
        self.base = base  # the first id of the recent documents
        self.shards: dict[int, dict[str, list[int]]] = {}  # loaded (and to be written)
        self.recent: dict[int, dict[str, list[int]]] = {}

    @classmethod
    def load(cls, root: Path) -> _State | None:
        try:
            meta = _read(root, "meta")
            if meta.get("version") != VERSION or meta.get("recent") != RECENT_SHARDS:
                return None
            records: list[list[str] | int] = []
            for k in range((meta["docs"] + CHUNK - 1) // CHUNK):
                records += _read(root, f"d/{k}")
            base = int(meta["base"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if len(records) != meta["docs"] or not 0 <= base <= len(records):
            return None
        return cls(int(meta["shards"]), records, base)

    def update(
        self,
        root: Path,
        docs: Sequence[Doc],
        changed: set[str],
        texts: Callable[[Sequence[Doc]], list[str]],
    ) -> list[str] | None:
        """Tombstone the changed and removed pages, append the changed and new ones."""
        ids = {r[0]: i for i, r in enumerate(self.records) if isinstance(r, list)}
        live = {d.path for d in docs}
        dirty_docs: set[int] = set()
        for path in set(ids) - live | (changed & set(ids)):
            self.records[ids[path]] = 0
            dirty_docs.add(ids[path] // CHUNK)
        adding = [d for d in docs if d.path in changed or d.path not in ids]
        tombstones = sum(1 for r in self.records if r == 0)
        if tombstones > TOMBSTONE_LIMIT * (len(self.records) + len(adding)):
            return None
        if not adding and not dirty_docs:
            return []
        for doc, text in zip(adding, texts(adding), strict=True):
            number = len(self.records)
            self.records.append(doc.record())
            dirty_docs.add(number // CHUNK)
            for term in _terms(doc, text):
                self._recent(root, shard_of(term, RECENT_SHARDS)).setdefault(term, []).append(
                    number
                )
        if len(self.records) - self.base > RECENT_DOCS:
            self._merge(root)
        return self.write(root, dirty_docs, prune=False)

    def _recent(self, root: Path, n: int) -> dict[str, list[int]]:
        if n not in self.recent:
            self.recent[n] = _read_shard(root, f"r/{n}")
        return self.recent[n]

    def _merge(self, root: Path) -> None:
        """Move the recent postings into the main shards."""
        for n in range(RECENT_SHARDS):
            for term, ids in self._recent(root, n).items():
                main = shard_of(term, self.count)
                if main not in self.shards:
                    self.shards[main] = _read_shard(root, f"s/{main}")
                self.shards[main].setdefault(term, []).extend(ids)
            self.recent[n] = {}
        self.base = len(self.records)

    def write(self, root: Path, chunks: set[int], *, prune: bool) -> list[str]:
        written = []

        def write(name: str, value: object) -> None:
            path = f"search/{name}.js"
            if write_if_changed(root, path, _script(name, value)):
                written.append(path)

        for folder, shards in (("s", self.shards), ("r", self.recent)):
            for n in sorted(shards):
                write(f"{folder}/{n}", {t: _deltas(ids) for t, ids in sorted(shards[n].items())})
        for k in sorted(chunks):
            write(f"d/{k}", self.records[k * CHUNK : (k + 1) * CHUNK])
        meta = {
            "version": VERSION,
            "shards": self.count,
            "recent": RECENT_SHARDS,
            "base": self.base,
            "chunk": CHUNK,
            "docs": len(self.records),
        }
        write("meta", meta)
        if prune:
            if remove(root, "search/meta.json"):  # an index of version 2 or older
                written.append("search/meta.json")
            keep_chunks = (len(self.records) + CHUNK - 1) // CHUNK
            written += _prune(root, "search/s", self.count) + _prune(root, "search/d", keep_chunks)
            written += _prune(root, "search/r", RECENT_SHARDS)
        return written


def _read_shard(root: Path, name: str) -> dict[str, list[int]]:
    try:
        raw = _read(root, name)
    except (OSError, ValueError):
        return {}
    return {term: list(accumulate(deltas)) for term, deltas in raw.items()}


def _script(name: str, value: object) -> str:
    """The index file `name`: a call that hands search.js the value."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # Line and paragraph separators end a string in JavaScript engines older than ES2019
    # (chat apps' browsers can be old): written escaped, they are the same characters.
    data = data.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'samizdatSearch("{name}",{data});\n'


def _read(root: Path, name: str) -> Any:
    """The value in the index file `name` (ValueError when it is not one)."""
    text = (root / "search" / f"{name}.js").read_text("utf-8")
    prefix, suffix = f'samizdatSearch("{name}",', ");\n"
    if not (text.startswith(prefix) and text.endswith(suffix)):
        raise ValueError(f"search/{name}.js is not an index file")
    return json.loads(text[len(prefix) : -len(suffix)])


def _deltas(ids: Iterable[int]) -> list[int]:
    out, last = [], 0
    for i in ids:
        out.append(i - last)
        last = i
    return out


def _prune(root: Path, folder: str, keep: int) -> list[str]:
    """Remove numbered files >= keep left by a larger earlier index."""
    removed = []
    directory = root / folder
    if directory.is_dir():
        for child in directory.iterdir():
            stem = child.name.removesuffix(".js")
            if not (stem.isdigit() and int(stem) < keep and child.name.endswith(".js")):
                path = f"{folder}/{child.name}"
                if remove(root, path):
                    removed.append(path)
    return removed
