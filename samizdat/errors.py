"""A small exception tree. Everything samizdat raises on purpose derives from SamizdatError."""

from __future__ import annotations


class SamizdatError(Exception):
    """Base of samizdat's own errors."""


class ConfigError(SamizdatError):
    """The config file is wrong; the message names the file, line and key. Exit status 2."""

    def __init__(self, path: str, line: int | None, key: str, message: str) -> None:
        self.path, self.line, self.key = path, line, key
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {message}")


class LockHeld(SamizdatError):
    """Another cycle holds the lock on this config. Exit status 3."""


class FetchError(SamizdatError):
    """A URL could not be fetched (after retries). Carries the URL and the reason."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        self.url, self.reason, self.status = url, reason, status
        super().__init__(f"{url}: {reason}")


class SkipItem(SamizdatError):
    """One item is dropped for this cycle; the reason is logged, stored and retried later."""


class SourceError(SamizdatError):
    """A feed or list page could not be read (malformed, not a feed, selector matched nothing)."""
