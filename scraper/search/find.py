"""A search of the archive, start to end: the reader's text parsed, the store asked, each find with a snippet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from scraper import settings
from scraper.search.query import Query, parse
from scraper.search.snippets import Marked, mark, snippet
from scraper.store.search import Count, Filters, Found, Reader, articles, earlier_versions, matches
from scraper.urls import site_key


@dataclass(frozen=True)
class Hit:
    """One article found, ready to show: its title and a snippet with the searched words marked."""

    url: str
    site: str
    title: Marked
    snippet: Marked
    published_at: str | None
    version: int
    rank: float
    #: Set when only an earlier version has the words: that version, and when the next one removed them.
    earlier: int | None = None
    removed_at: str | None = None

    @property
    def note(self) -> str | None:
        """ "in version N, removed on DATE" for a find in an earlier version only."""
        if self.earlier is None:
            return None
        return f"in version {self.earlier}, removed on {(self.removed_at or '')[:10]}"

    def to_record(self) -> dict[str, Any]:
        """The hit as JSON-ready data; marks are [start, end) character offsets into title and snippet."""
        return {
            "url": self.url,
            "site": self.site,
            "title": self.title.text,
            "title_marks": [list(span) for span in self.title.marks],
            "published_at": self.published_at,
            "snippet": self.snippet.text,
            "snippet_marks": [list(span) for span in self.snippet.marks],
            "version": self.version,
            "earlier_version": self.earlier,
            "removed_at": self.removed_at,
            "note": self.note,
            "rank": round(self.rank, 4),
        }


@dataclass(frozen=True)
class Results:
    """What a search found: articles by rank, then articles that had the words only in an earlier version."""

    query: Query
    total: Count
    hits: list[Hit]
    earlier: list[Hit]

    def to_record(self) -> dict[str, Any]:
        return {
            "query": self.query.text,
            "match": self.query.expression(),
            "truncated": self.query.truncated,
            "total": self.total.articles,
            "more": self.total.more,
            "hits": [hit.to_record() for hit in self.hits],
            "earlier_versions": [hit.to_record() for hit in self.earlier],
        }


def filters(site: str | None = None, since: date | None = None, until: date | None = None) -> Filters:
    """Filters from what a reader gives: a site as a host or URL (www. and the scheme do not matter), days."""
    if site is not None and site.strip():
        text = site.strip()
        site = site_key(text if "://" in text else f"http://{text}")
    else:
        site = None
    return Filters(
        site,
        since.isoformat() if since else None,
        until.isoformat() if until else None,
        # The last day there is has no day after it, and bounds nothing.
        (until + timedelta(days=1)).isoformat() if until and until < date.max else None,
    )


def search(
    conn: Reader,
    text: str,
    filters: Filters | None = None,
    *,
    limit: int = settings.SEARCH_DEFAULT_LIMIT,
    offset: int = 0,
) -> Results:
    """Search the archive open on `conn`: up to `limit` current articles best first (after `offset`), and up to
    `limit` articles found only in an earlier version. An empty or unreadable query finds nothing."""
    query = parse(text)
    filters = filters or Filters()
    limit = max(1, min(limit, settings.SEARCH_MAX_LIMIT))
    if query.empty:
        return Results(query, Count(0, False), [], [])
    match = query.expression()
    current = matches(conn, match, filters)
    found = articles(conn, match, current, limit=limit, offset=max(0, offset))
    older = earlier_versions(conn, match, current, limit=limit) if offset == 0 else []
    return Results(query, current.count, [_hit(query, row) for row in found], [_hit(query, row) for row in older])


def _hit(query: Query, row: Found) -> Hit:
    return Hit(
        url=row.url,
        site=row.site,
        title=mark(query, row.title),
        snippet=snippet(query, row.body_text, row.lead),
        published_at=row.published_at,
        version=row.version,
        rank=row.rank,
        earlier=row.earlier,
        removed_at=row.removed_at,
    )
