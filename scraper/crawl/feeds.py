"""Article links from RSS and Atom feeds (feedparser)."""

from __future__ import annotations

import feedparser

from scraper.urls import join


def feed_links(body: bytes, base_url: str) -> list[str]:
    """The entry links of a feed, absolute, in feed order."""
    parsed = feedparser.parse(body)
    links: dict[str, None] = {}
    for entry in parsed.entries:
        href = entry.get("link")
        if isinstance(href, str) and (url := join(base_url, href)) is not None:
            links.setdefault(url)
    return list(links)
