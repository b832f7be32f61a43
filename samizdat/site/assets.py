"""Files of the site that are not rendered from templates: our stylesheet and scripts, the
mirrored images the pages use, and QR codes.

`site/` must stand alone on a host that serves only it, so images used by its pages are placed
inside it: hard-linked to the output's copy when the file system allows (no extra space),
copied otherwise. Both are replaced atomically, as every other write of the output.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
from functools import cache
from importlib import resources
from pathlib import Path

from samizdat.render.files import remove, write_if_changed

STATIC = ("site.css", "search.js", "share.js")


@cache
def static_files() -> dict[str, bytes]:
    folder = resources.files("samizdat.site") / "static"
    return {name: (folder / name).read_bytes() for name in STATIC}


@cache
def templates_digest() -> str:
    """A digest of the templates and static files: when it changes, every page is rewritten."""
    digest = hashlib.sha256()
    for folder in ("templates", "static"):
        base = resources.files("samizdat.site") / folder
        for entry in sorted(base.iterdir(), key=lambda e: e.name):
            if entry.is_file():
                digest.update(entry.name.encode() + b"\0" + entry.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def asset_version() -> str:
    """A short digest of the static files, appended to their URLs so that caches refresh."""
    digest = hashlib.sha256(b"".join(static_files().values()))
    return digest.hexdigest()[:8]


def write_static(root: Path) -> list[str]:
    written = []
    for name, data in static_files().items():
        if write_if_changed(root, f"static/{name}", data):
            written.append(f"static/{name}")
    return written


def place_image(output: Path, root: Path, path: str) -> bool:
    """Make `root/path` hold the same bytes as `output/path`; True when anything was written."""
    source, target = output / path, root / path
    try:
        if target.samefile(source) or target.read_bytes() == source.read_bytes():
            return False
    except FileNotFoundError:
        pass
    _link(source, target)
    return True


def prune_images(root: Path, used: set[str]) -> list[str]:
    """Remove images under site/images that no page uses any more."""
    removed = []
    folder = root / "images"
    if not folder.is_dir():
        return removed
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath, name).relative_to(root).as_posix()
            if path not in used and remove(root, path):
                removed.append(path)
    return removed


def _link(source: Path, target: Path) -> None:
    """Atomically replace `target` by a hard link to `source`, or a copy where links fail."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            os.link(source, temp)
        except OSError:  # another file system, or links not allowed: a copy then
            shutil.copyfile(source, temp)
            os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
