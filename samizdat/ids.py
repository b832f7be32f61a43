"""Page ids: the `<id>` in pages/<channel>/<id>.md (SPEC §3)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


def short_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]


def page_id(url: str, taken: Container[str] = ()) -> str:
    """The URL's last path segment without its extension when that is a safe name, else a hash.

    `taken` holds the ids already used in the channel: a later URL that gives the same id gets
    `-<short hash>` appended, so two articles never share a page."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    candidate = ""
    if segments:
        last = unquote(segments[-1])
        candidate = PurePosixPath(last).stem if "." in last.lstrip(".") else last
    if not _SAFE.match(candidate) or candidate in (".", "..") or candidate.startswith("."):
        candidate = short_hash(url)
    if candidate in taken:
        candidate = f"{candidate[:69]}-{short_hash(url)}"
    return candidate
