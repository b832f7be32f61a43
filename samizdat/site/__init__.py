"""The static HTML site (`<output>/site/`): pages, indexes, feeds, search. See `site.build`.

The names below are what the rest of samizdat needs to know of the site without rendering it;
`build_site` and friends are imported on first use (Jinja2 and the templates are not needed by
a cycle that renders nothing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

SITE = "site"  # the site's folder in the output
MANIFEST = ".samizdat-build.json"  # in it: what the last build was made with

__all__ = ["MANIFEST", "SITE", "HotEntry", "SiteResult", "build_site", "share_address"]

if TYPE_CHECKING:
    from samizdat.site.build import HotEntry, SiteResult, build_site, share_address


def __getattr__(name: str) -> Any:
    if name in ("HotEntry", "SiteResult", "build_site", "share_address"):
        from samizdat.site import build

        return getattr(build, name)
    raise AttributeError(f"module 'samizdat.site' has no attribute {name!r}")
