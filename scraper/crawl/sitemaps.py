"""URLs from sitemaps and sitemap indexes (defusedxml: no DOCTYPE, no entities), with lastmod."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from scraper.errors import SitemapError
from scraper.urls import join

#: The sitemaps.org limits: 50,000 URLs and 50 MB (uncompressed) per file.
MAX_SITEMAP_URLS = 50_000
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    #: True for a child sitemap of an index, False for a page.
    is_sitemap: bool
    #: lastmod normalized to UTC ISO 8601 seconds, or None.
    lastmod: str | None = None


def _lastmod(value: str | None) -> str | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).replace(microsecond=0).isoformat()


def sitemap_entries(body: bytes, base_url: str) -> list[SitemapEntry]:
    """Read a <urlset> or <sitemapindex>; refuses DOCTYPEs/entities and files over the sitemaps.org limits."""
    if len(body) > MAX_SITEMAP_BYTES:
        raise SitemapError(f"the sitemap is larger than {MAX_SITEMAP_BYTES // (1024 * 1024)} MB")
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SitemapError(f"the sitemap declares a DOCTYPE or entities ({type(exc).__name__}); refused") from None
    except ElementTree.ParseError as exc:
        raise SitemapError(f"the sitemap is not well-formed XML ({exc})") from None
    is_index = root.tag.rsplit("}", 1)[-1] == "sitemapindex"
    entries: list[SitemapEntry] = []
    for node in root:
        loc = lastmod = None
        for child in node:
            name = child.tag.rsplit("}", 1)[-1]
            if name == "loc":
                loc = (child.text or "").strip()
            elif name == "lastmod":
                lastmod = child.text
        if loc and (url := join(base_url, loc)) is not None:
            entries.append(SitemapEntry(url, is_index, _lastmod(lastmod)))
            if len(entries) >= MAX_SITEMAP_URLS:
                break
    return entries
