"""Article links from RSS and Atom feeds (feedparser), refusing DOCTYPEs and entities before parsing."""

from __future__ import annotations

import re

import feedparser

from scraper.errors import FeedError
from scraper.urls import join

#: The same bounds as a sitemap: no feed needs more.
MAX_FEED_BYTES = 50 * 1024 * 1024
MAX_FEED_LINKS = 50_000
# A DOCTYPE or ENTITY declaration in the prolog: the billion-laughs and XXE shapes.
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def feed_links(body: bytes, base_url: str) -> list[str]:
    """The entry links of a feed, absolute, in feed order."""
    if len(body) > MAX_FEED_BYTES:
        raise FeedError(f"the feed is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB")
    if _DECLARATION.search(body[:65536]):
        raise FeedError("the feed declares a DOCTYPE or entities; refused")
    parsed = feedparser.parse(body)
    links: dict[str, None] = {}
    for entry in parsed.entries[:MAX_FEED_LINKS]:
        href = entry.get("link")
        if isinstance(href, str) and (url := join(base_url, href)) is not None:
            links.setdefault(url)
    return list(links)
