"""The links a listing, feed or sitemap offers, sorted by the schedule's rules: articles, more listings, or neither."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from scraper import settings
from scraper.config import Schedule
from scraper.crawl.feeds import feed_links
from scraper.crawl.sitemaps import sitemap_entries
from scraper.models import Discovered, FrontierItem, Page, Purpose
from scraper.parse.links import page_links
from scraper.urls import canonicalize, site_key


@dataclass
class LinkTally:
    """Links seen on listings and sitemaps in one run, and how many the article pattern took."""

    offered: int = 0
    articles: int = 0


class Discoverer:
    """Reads discovery pages for one schedule; `tally` counts what the article pattern made of their links."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.sites = {site_key(url) for url in schedule.start_urls}
        self.tally = LinkTally()

    def __call__(self, page: Page, item: FrontierItem) -> tuple[Discovered, ...]:
        """The links of a fetched discovery page; ContentError for a feed or sitemap that cannot be read."""
        depth = item.depth + 1
        if item.kind == Purpose.LISTING:
            return tuple(self._from_listing(page, depth))
        if item.kind == Purpose.FEED:
            # A feed lists articles, whatever their URLs look like: a site that changes its URL scheme
            # must not silently stop being archived.
            links = feed_links(page.body, page.final_url)
            return tuple(Discovered(canonicalize(url), Purpose.ARTICLE, depth) for url in links if self._ours(url))
        return tuple(self._from_sitemap(page, depth))

    def _ours(self, url: str) -> bool:
        return site_key(url) in self.sites

    def _from_listing(self, page: Page, depth: int) -> list[Discovered]:
        schedule = self.schedule
        found = []
        for url in page_links(page.text, page.final_url)[: settings.MAX_OUTLINKS]:
            if not self._ours(url):
                continue
            path = urlsplit(url).path
            self.tally.offered += 1
            if schedule.article_url.search(path):
                self.tally.articles += 1
                found.append(Discovered(canonicalize(url), Purpose.ARTICLE, depth))
            elif schedule.follow and depth <= schedule.max_depth and schedule.follow.search(path):
                found.append(Discovered(canonicalize(url), Purpose.LISTING, depth))
        return found

    def _from_sitemap(self, page: Page, depth: int) -> list[Discovered]:
        found = []
        for entry in sitemap_entries(page.body, page.final_url):
            if not self._ours(entry.url):
                continue
            if entry.is_sitemap:
                if depth <= self.schedule.max_depth:
                    found.append(Discovered(canonicalize(entry.url), Purpose.SITEMAP, depth))
                continue
            self.tally.offered += 1
            if self.schedule.article_url.search(urlsplit(entry.url).path):
                self.tally.articles += 1
                found.append(Discovered(canonicalize(entry.url), Purpose.ARTICLE, depth, entry.lastmod))
        return found

    def pattern_warning(self) -> str | None:
        """A sentence when the schedule's article pattern took none of the links its listings and sitemaps offered."""
        if self.tally.offered and not self.tally.articles and self.schedule.article_url.source != ".":
            return (
                f"article_url {self.schedule.article_url.source!r} matched none of the {self.tally.offered} links "
                f"the listings and sitemaps offered; check the pattern in {self.schedule.path}"
            )
        return None
