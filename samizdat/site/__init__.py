"""The static HTML site (`<output>/site/`): pages, indexes, feeds, search. See `site.build`."""

from samizdat.site.build import HotEntry, SiteResult, build_site, share_address

__all__ = ["HotEntry", "SiteResult", "build_site", "share_address"]
