"""`samizdat check URL`: what a cycle would extract from one article page, and why."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from samizdat.config import Config, SourceConfig
from samizdat.errors import SourceError
from samizdat.fetch import Fetcher, FetchSettings
from samizdat.models import Extracted, Rules
from samizdat.workers import extract


def check(url: str, config: Config | None, source_id: str | None) -> tuple[Extracted, str]:
    """Fetch one article URL and extract it with the rules of its source (`samizdat check`)."""
    rules, label = Rules(), "no source rules (generic extraction)"
    if config is not None:
        source = _source_for(config, url, source_id)
        if source is not None:
            rules, label = source.rules, f"rules of source {source.id!r}"

    async def fetch() -> str:
        async with Fetcher(config.fetch if config else FetchSettings()) as fetcher:
            return (await fetcher.get(url)).text()

    html = asyncio.run(fetch())
    return extract(html, url, rules, None, config.site.convert if config else ""), label


def _source_for(config: Config, url: str, source_id: str | None) -> SourceConfig | None:
    if source_id:
        for source in config.sources:
            if source.id == source_id:
                return source
        raise SourceError(f"no source with id {source_id!r} in {config.path}")
    host = urlsplit(url).hostname
    for source in config.sources:
        if any(urlsplit(c.url).hostname == host for c in source.channels):
            return source
    return None
