"""samizdat: keep news readable behind a national firewall.

The library API (SPEC §4) is `samizdat.extract_article`; it is imported on first use so that the
command line starts fast (extraction pulls in trafilatura and friends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "extract_article"]

if TYPE_CHECKING:
    from samizdat.article import extract_article


def __getattr__(name: str) -> Any:
    if name == "extract_article":
        from samizdat.article import extract_article

        return extract_article
    raise AttributeError(f"module 'samizdat' has no attribute {name!r}")
