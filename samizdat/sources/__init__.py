"""Discovering items: RSS/Atom feeds (feed.py) and HTML list pages (listpage.py)."""

from samizdat.sources.feed import parse_feed
from samizdat.sources.listpage import parse_list

__all__ = ["parse_feed", "parse_list"]
