"""The config file: TOML (SPEC §2) loaded into typed, validated, frozen records.

Every mistake raises ConfigError naming the file, the line and the key, because the person
reading the message is editing that file. tomllib gives no positions, so `_Locator` finds the
line of a key by walking the file's table headers the way TOML does.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samizdat.errors import ConfigError
from samizdat.fetch import FetchSettings
from samizdat.models import Rules

CONVERSIONS = (
    "s2t",
    "t2s",
    "s2tw",
    "tw2s",
    "s2hk",
    "hk2s",
    "s2twp",
    "tw2sp",
    "t2tw",
    "t2hk",
    "t2jp",
    "jp2t",
    "hk2t",
    "tw2t",
)
FEED_CONTENT = ("auto", "always", "never")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class MenuLink:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class SiteConfig:
    title: str
    output: Path
    state: Path
    base_url: str
    counter_url: str = ""
    image_base_url: str = ""
    site_url: str = ""  # public prefix of the HTML site (site/), for its share addresses
    convert: str = ""
    keep: int = 500
    menu: tuple[MenuLink, ...] = ()


@dataclass(frozen=True)
class ImageSettings:
    """The `[images]` table: how samizdat.images stores a cycle's images."""

    max_width: int = 1200
    quality: int = 80  # JPEG quality
    max_image_bytes: int = 8_000_000  # download cap per image (larger → refused)
    max_article_bytes: int = 6_000_000  # stored bytes per article; images beyond it are left out
    max_pixels: int = 40_000_000  # decompression-bomb guard

    def __post_init__(self) -> None:
        if self.max_width < 1 or self.max_pixels < 1:
            raise ValueError("max_width and max_pixels must be at least 1")
        if not 1 <= self.quality <= 95:
            raise ValueError("quality must be between 1 and 95")
        if self.max_image_bytes < 1 or self.max_article_bytes < 0:
            raise ValueError("max_image_bytes must be positive, max_article_bytes not negative")


@dataclass(frozen=True, slots=True)
class MirrorConfig:
    name: str
    remote: str
    branch: str = "master"
    base_url: str = ""  # this mirror's own public prefix; empty = site.base_url


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    id: str
    title: str
    feed: str | None = None
    list: str | None = None
    items: str | None = None

    @property
    def url(self) -> str:
        return self.feed or self.list or ""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    id: str
    title: str
    channels: tuple[ChannelConfig, ...]
    rules: Rules = field(default_factory=Rules)
    exclude_titles: tuple[str, ...] = ()
    refresh_titles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PublishConfig:
    index_size: int = 100  # lines on indexes/<channel>.md; the rest go to <channel>-earlier.md
    push_timeout: float = 120.0  # seconds before a hung `git push` is ended
    squash_after: int = 0  # rewrite history to one fresh root commit beyond this many; 0 = never
    author_name: str = "samizdat"
    author_email: str = "samizdat@localhost"


@dataclass(frozen=True, slots=True)
class CounterConfig:
    database: Path | None = None  # the counter's SQLite file when it runs on this machine
    hot_url: str = ""  # else its /hot.json address
    hours: int = 24
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    site: SiteConfig
    sources: tuple[SourceConfig, ...]
    blocked: tuple[str, ...] = ()
    mirrors: tuple[MirrorConfig, ...] = ()
    fetch: FetchSettings = field(default_factory=FetchSettings)
    images: ImageSettings = field(default_factory=ImageSettings)
    publish: PublishConfig = PublishConfig()
    counter: CounterConfig = CounterConfig()

    def channels(self) -> list[tuple[SourceConfig, ChannelConfig]]:
        return [(s, c) for s in self.sources for c in s.channels]

    def source_of(self, channel_id: str) -> SourceConfig:
        for source, channel in self.channels():
            if channel.id == channel_id:
                return source
        raise KeyError(channel_id)


# --------------------------------------------------------------------------- locating keys

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")


class _Locator:
    """Maps a key path such as ("sources", 1, "channels", 0, "feed") to its line number."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        counts: dict[tuple[Any, ...], int] = {}
        current: tuple[Any, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                names = [n.strip().strip("\"'") for n in header.group(2).split(".")]
                current = self._resolve(names, counts, array=header.group(1) == "[[")
                self.lines.setdefault(current, number)
                continue
            key = _KEY.match(line)
            if key:
                self.lines.setdefault((*current, key.group(1).strip("\"'")), number)

    def _resolve(
        self, names: list[str], counts: dict[tuple[Any, ...], int], *, array: bool
    ) -> tuple[Any, ...]:
        # Parents that are arrays of tables resolve to their latest element, as in TOML.
        path: tuple[Any, ...] = ()
        for i, name in enumerate(names):
            path = (*path, name)
            last = i == len(names) - 1
            if last and array:
                counts[path] = counts.get(path, -1) + 1
                path = (*path, counts[path])
            elif not last and path in counts:
                path = (*path, counts[path])
        return path

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


# --------------------------------------------------------------------------- reading tables


class _Reader:
    """Typed access to one table, raising ConfigError with file, line and dotted key."""

    def __init__(
        self, loader: _Loader, data: dict[str, Any], path: tuple[Any, ...], known: set[str]
    ) -> None:
        self.loader, self.data, self.path = loader, data, path
        for key in data:
            if key not in known:
                loader.fail((*path, key), f"unknown key (known here: {', '.join(sorted(known))})")

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        if key not in self.data:
            if required:
                self.loader.fail((*self.path, key), "is required")
            return default
        value = self.data[key]
        # bool is an int in Python; a config that says `keep = true` is still wrong.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            self.loader.fail(
                (*self.path, key), f"must be {_kind_name(kind)}, not {type(value).__name__}"
            )
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.get(key, str, default, required=required)
        if required and isinstance(value, str) and not value.strip():
            self.loader.fail((*self.path, key), "must not be empty")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.loader.fail((*self.path, key), f"item {i + 1} must be a string")
        return tuple(value)

    def number(self, key: str, default: float, *, minimum: float = 0) -> float:
        value = self.get(key, (int, float), default)
        if value < minimum:
            self.loader.fail((*self.path, key), f"must be at least {minimum}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            self.loader.fail((*self.path, key), f"must be at least {minimum}")
        return int(value)

    def check(self, key: str, ok: Callable[[Any], bool], message: str) -> None:
        if key in self.data and not ok(self.data[key]):
            self.loader.fail((*self.path, key), message)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "a table",
        bool: "true or false",
    }
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


class _Loader:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.locator = path, _Locator(text)

    def fail(self, key_path: tuple[Any, ...], message: str) -> None:
        dotted = ".".join(f"[{k + 1}]" if isinstance(k, int) else k for k in key_path).replace(
            ".[", "["
        )
        raise ConfigError(str(self.path), self.locator.line(key_path), dotted, message)

    def table(self, data: dict[str, Any], key: str, known: set[str]) -> _Reader:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.fail((key,), "must be a table")
        return _Reader(self, value, (key,), known)

    def relative(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()


def load(path: str | Path) -> Config:
    """Read and validate a config file; raise ConfigError on any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), None, "file", "not found (write one with `samizdat init`)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), None, "file", f"cannot be read: {e}") from None
    return parse(text, path)


def parse(text: str, path: Path) -> Config:
    loader = _Loader(path.resolve(), text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        match = re.search(r"line (\d+)", str(e))
        raise ConfigError(
            str(path), int(match.group(1)) if match else None, "syntax", str(e)
        ) from None

    _Reader(
        loader,
        data,
        (),
        {"site", "links", "mirrors", "sources", "fetch", "images", "publish", "counter"},
    )
    site = _site(loader, data)
    sources = _sources(loader, data)
    links = loader.table(data, "links", {"blocked"})
    blocked = tuple(h.lower().lstrip(".") for h in links.strings("blocked"))
    return Config(
        path=loader.path,
        site=site,
        sources=sources,
        blocked=blocked,
        mirrors=_mirrors(loader, data),
        fetch=_fetch(loader, data),
        images=_images(loader, data),
        publish=_publish(loader, data),
        counter=_counter(loader, data),
    )


def _site(loader: _Loader, data: dict[str, Any]) -> SiteConfig:
    if "site" not in data:
        loader.fail(("site",), "the [site] table is required")
    t = loader.table(
        data,
        "site",
        {
            "title",
            "output",
            "state",
            "base_url",
            "counter_url",
            "image_base_url",
            "site_url",
            "convert",
            "keep",
            "menu",
        },
    )
    t.check(
        "convert", lambda v: v in ("", *CONVERSIONS), f"must be one of {', '.join(CONVERSIONS)}"
    )
    t.check("base_url", lambda v: re.match(r"^https?://", v) is not None, "must be an http(s) URL")
    menu = []
    for i, entry in enumerate(t.get("menu", list, [])):
        if not isinstance(entry, dict):
            loader.fail(("site", "menu"), f"item {i + 1} must be a table {{ title = …, url = … }}")
        m = _Reader(loader, entry, ("site", "menu"), {"title", "url"})
        menu.append(MenuLink(m.text("title", required=True), m.text("url", required=True)))
    return SiteConfig(
        title=t.text("title", required=True),
        output=loader.relative(t.text("output", required=True)),
        state=loader.relative(t.text("state", "samizdat.db")),
        base_url=t.text("base_url", required=True).rstrip("/"),
        counter_url=t.text("counter_url", "").rstrip("/"),
        image_base_url=t.text("image_base_url", "").rstrip("/"),
        site_url=t.text("site_url", "").rstrip("/"),
        convert=t.text("convert", ""),
        keep=t.integer("keep", 500, minimum=1),
        menu=tuple(menu),
    )


def _sources(loader: _Loader, data: dict[str, Any]) -> tuple[SourceConfig, ...]:
    raw = data.get("sources")
    if not raw:
        loader.fail(
            ("sources",), "at least one [[sources]] table with one [[sources.channels]] is required"
        )
    if not isinstance(raw, list):
        loader.fail(("sources",), "must be an array of tables ([[sources]])")
    known = {
        "id",
        "title",
        "exclude_titles",
        "refresh_titles",
        "content",
        "image",
        "caption",
        "remove",
        "feed_content",
        "channels",
    }
    sources, source_ids, channel_ids = [], set(), set()
    for i, entry in enumerate(raw):
        t = _Reader(loader, entry, ("sources", i), known)
        sid = t.text("id", required=True)
        if not _ID.match(sid):
            loader.fail(("sources", i, "id"), "use letters, digits, '.', '_' and '-' only")
        if sid in source_ids:
            loader.fail(("sources", i, "id"), f"duplicate source id {sid!r}")
        source_ids.add(sid)
        t.check(
            "feed_content", lambda v: v in FEED_CONTENT, f"must be one of {', '.join(FEED_CONTENT)}"
        )
        for key in ("content", "image", "caption"):
            t.check(key, _valid_selector, "is not a valid CSS selector")
        rules = Rules(
            content=t.text("content"),
            image=t.text("image"),
            caption=t.text("caption"),
            remove=t.strings("remove"),
            feed_content=t.text("feed_content", "auto"),
        )
        for selector in rules.remove:
            if not _valid_selector(selector):
                loader.fail(("sources", i, "remove"), f"{selector!r} is not a valid CSS selector")
        channels = []
        raw_channels = t.get("channels", list, [])
        if not raw_channels:
            loader.fail(
                ("sources", i, "channels"),
                f"source {sid!r} needs at least one [[sources.channels]]",
            )
        for j, ch in enumerate(raw_channels):
            c = _Reader(
                loader, ch, ("sources", i, "channels", j), {"id", "title", "feed", "list", "items"}
            )
            cid = c.text("id", required=True)
            where = ("sources", i, "channels", j)
            if not _ID.match(cid):
                loader.fail((*where, "id"), "use letters, digits, '.', '_' and '-' only")
            if cid in channel_ids:
                loader.fail(
                    (*where, "id"),
                    f"duplicate channel id {cid!r} (ids are unique across the config)",
                )
            channel_ids.add(cid)
            feed, listing, items = c.text("feed"), c.text("list"), c.text("items")
            if bool(feed) == bool(listing):
                loader.fail(
                    (*where, "feed" if feed else "id"),
                    "a channel has either `feed` or `list`, not both or neither",
                )
            if listing and not items:
                loader.fail(
                    (*where, "items"),
                    "a `list` channel needs `items`, the CSS selector of its article links",
                )
            if items and not listing:
                loader.fail((*where, "items"), "`items` only applies to a `list` channel")
            c.check("items", _valid_selector, "is not a valid CSS selector")
            for key in ("feed", "list"):
                c.check(
                    key,
                    lambda v: re.match(r"^(https?|file)://", v) is not None,
                    "must be an http(s) URL",
                )
            channels.append(ChannelConfig(cid, c.text("title", cid) or cid, feed, listing, items))
        sources.append(
            SourceConfig(
                id=sid,
                title=t.text("title", sid) or sid,
                channels=tuple(channels),
                rules=rules,
                exclude_titles=t.strings("exclude_titles"),
                refresh_titles=t.strings("refresh_titles"),
            )
        )
    return tuple(sources)


def _mirrors(loader: _Loader, data: dict[str, Any]) -> tuple[MirrorConfig, ...]:
    raw = data.get("mirrors", [])
    if not isinstance(raw, list):
        loader.fail(("mirrors",), "must be an array of tables ([[mirrors]])")
    mirrors, names = [], set()
    for i, entry in enumerate(raw):
        t = _Reader(loader, entry, ("mirrors", i), {"name", "remote", "branch", "base_url"})
        name = t.text("name", required=True)
        if name in names:
            loader.fail(("mirrors", i, "name"), f"duplicate mirror name {name!r}")
        names.add(name)
        remote = t.text("remote", required=True)
        # A plain path is relative to the config file; URLs and scp-style remotes are kept as written.
        if not re.match(r"^[\w+.-]+://", remote) and not re.match(r"^[^/]+@[^/]+:", remote):
            remote = str(loader.relative(remote))
        mirrors.append(
            MirrorConfig(
                name, remote, t.text("branch", "master"), t.text("base_url", "").rstrip("/")
            )
        )
    return tuple(mirrors)


def _fetch(loader: _Loader, data: dict[str, Any]) -> FetchSettings:
    d = FetchSettings()
    t = loader.table(
        data,
        "fetch",
        {
            "connect_timeout",
            "read_timeout",
            "total_timeout",
            "retries",
            "backoff",
            "per_host",
            "max_connections",
            "max_bytes",
            "user_agent",
            "proxy",
        },
    )
    t.check(
        "proxy",
        lambda v: re.match(r"^(https?|socks5h?)://", v) is not None,
        "must be an http://, https://, socks5:// or socks5h:// URL",
    )
    return FetchSettings(
        connect_timeout=t.number("connect_timeout", d.connect_timeout, minimum=0.1),
        read_timeout=t.number("read_timeout", d.read_timeout, minimum=0.1),
        total_timeout=t.number("total_timeout", d.total_timeout, minimum=0.1),
        retries=t.integer("retries", d.retries),
        backoff=t.number("backoff", d.backoff),
        per_host=t.integer("per_host", d.per_host, minimum=1),
        max_connections=t.integer("max_connections", d.max_connections, minimum=1),
        max_bytes=t.integer("max_bytes", d.max_bytes, minimum=1024),
        user_agent=t.text("user_agent", d.user_agent),
        proxy=t.text("proxy", None) or None,
    )


def _images(loader: _Loader, data: dict[str, Any]) -> ImageSettings:
    d = ImageSettings()
    t = loader.table(
        data,
        "images",
        {"max_width", "quality", "max_image_bytes", "max_article_bytes", "max_pixels"},
    )
    t.check("quality", lambda v: isinstance(v, int) and 1 <= v <= 95, "must be between 1 and 95")
    return ImageSettings(
        max_width=t.integer("max_width", d.max_width, minimum=16),
        quality=t.integer("quality", d.quality, minimum=1),
        max_image_bytes=t.integer("max_image_bytes", d.max_image_bytes, minimum=1024),
        max_article_bytes=t.integer("max_article_bytes", d.max_article_bytes),
        max_pixels=t.integer("max_pixels", d.max_pixels, minimum=1),
    )


def _publish(loader: _Loader, data: dict[str, Any]) -> PublishConfig:
    d = PublishConfig()
    t = loader.table(
        data,
        "publish",
        {"index_size", "push_timeout", "squash_after", "author_name", "author_email"},
    )
    return PublishConfig(
        index_size=t.integer("index_size", d.index_size, minimum=1),
        push_timeout=t.number("push_timeout", d.push_timeout, minimum=1),
        squash_after=t.integer("squash_after", d.squash_after),
        author_name=t.text("author_name", d.author_name),
        author_email=t.text("author_email", d.author_email),
    )


def _counter(loader: _Loader, data: dict[str, Any]) -> CounterConfig:
    t = loader.table(data, "counter", {"database", "hot_url", "hours", "limit"})
    database = t.text("database", "")
    return CounterConfig(
        database=loader.relative(database) if database else None,
        hot_url=t.text("hot_url", ""),
        hours=t.integer("hours", 24, minimum=1),
        limit=t.integer("limit", 50, minimum=1),
    )


def _valid_selector(selector: Any) -> bool:
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError:
        return False
    return True
