"""The archive's searches: articles ranked by bm25, and articles whose words only an earlier version had."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scraper import settings
from scraper.errors import StoreError
from scraper.store.db import describe, upgrade
from scraper.store.schema import SEARCH_WEIGHTS

#: What a search reads through: a connection to an archive (a read-only one from open_reader, or one of
#: Datasette's), named here so callers outside the store need not know it is sqlite3's.
Reader = sqlite3.Connection


@dataclass(frozen=True)
class Filters:
    """What a search is narrowed to: one site, and publication days (the site's calendar day, inclusive).

    `since` and `until` are YYYY-MM-DD; `until_next` is the day after `until` (published_at is compared as
    text, so an index answers: "2024-03-12T23:50:00+05:00" < "2024-03-13").
    """

    site: str | None = None
    since: str | None = None
    until: str | None = None
    until_next: str | None = None

    def accepts(self, site: str | None, published_at: str | None) -> bool:
        """Tell whether an article of `site` published at `published_at` is within the filters."""
        if self.site and site != self.site:
            return False
        if (self.since or self.until_next) and not published_at:
            return False
        if self.since and str(published_at) < self.since:
            return False
        return not (self.until_next and str(published_at) >= self.until_next)

    def tests(self, table: str = "") -> tuple[list[str], dict[str, object]]:
        """The SQL tests of the filters on `articles` (under the alias `table`, if given), and their values."""
        prefix = f"{table}." if table else ""
        tests: list[str] = []
        values: dict[str, object] = {}
        if self.site:
            tests.append(f"{prefix}site = :site")
            values["site"] = self.site
        if self.since:
            tests.append(f"{prefix}published_at >= :since")
            values["since"] = self.since
        if self.until_next:
            tests.append(f"{prefix}published_at < :until_next")
            values["until_next"] = self.until_next
        return tests, values

    def scope(self) -> tuple[str, dict[str, object]]:
        """SQL for the rowids of the articles within the filters (empty when there are none), and its values."""
        tests, values = self.tests()
        if not tests:
            return "", values
        return "SELECT rowid FROM articles WHERE " + " AND ".join(tests), values


@dataclass(frozen=True)
class Found:
    """One article a search found, with the text its snippet is cut from."""

    url: str
    site: str
    title: str | None
    lead: str | None
    body_text: str
    published_at: str | None
    version: int
    #: bm25 (lower is better); comparable within one list only.
    rank: float
    #: For a find in an earlier version only: that version (the latest with the words) and when the version
    #: after it, without them, was captured.
    earlier: int | None = None
    removed_at: str | None = None


@dataclass(frozen=True)
class Count:
    """How many articles match, counted up to a cap (`more`: there are more than `articles`)."""

    articles: int
    more: bool


# How each search stays fast on a large archive whatever the words: the filters become a set of rowids that
# the indexes on articles give, tested against each match without reading its row (`+rowid` keeps SQLite from
# handing the set to FTS5 as lookups); counts stop at a cap; and when more than SEARCH_RANK_WINDOW articles
# match, bm25 is computed for the most recently archived SEARCH_RANK_WINDOW of them (found by walking the index
# newest first), not for every match: a common word matches half the archive, and ranking all of it takes a
# second. Every statement reads the index once.


@dataclass(frozen=True)
class Matches:
    """The current articles a search matches (within its filters), newest first, up to one past the count cap."""

    rowids: list[int]
    filters: Filters

    @property
    def count(self) -> Count:
        cap = settings.SEARCH_COUNT_CAP
        return Count(min(len(self.rowids), cap), len(self.rowids) > cap)

    def window(self, size: int) -> list[int]:
        """The `size` newest matches."""
        return self.rowids[:size]


def matches(conn: sqlite3.Connection, match: str, filters: Filters) -> Matches:
    """The articles whose current text matches, within the filters: the one statement that reads the filters.

    A narrow filter (a few days) is the set of its articles' rowids, from the indexes on `articles`; a wide one
    (a site of a quarter of the archive) is tested on each match's row instead, newest first, which stops as
    soon as enough pass: building a set of its rowids would cost more than the search.
    """
    scope, values = filters.scope()
    params = {**values, "match": match, "cap": settings.SEARCH_COUNT_CAP + 1}
    if not scope:
        sql = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match ORDER BY rowid DESC LIMIT :cap"
    elif _wider_than(conn, scope, values, settings.SEARCH_SCOPE_SET):
        tests = " AND ".join(filters.tests("a")[0])
        sql = f"""
            SELECT f.rowid FROM articles_fts f JOIN articles a ON a.rowid = f.rowid
            WHERE f.articles_fts MATCH :match AND {tests}
            ORDER BY f.rowid DESC LIMIT :cap
        """
    else:
        sql = f"""
            SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match AND +rowid IN ({scope})
            ORDER BY rowid DESC LIMIT :cap
        """
    return Matches([int(row[0]) for row in _rows(conn, sql, params)], filters)


def _wider_than(conn: sqlite3.Connection, scope: str, values: dict[str, object], size: int) -> bool:
    sql = f"SELECT count(*) FROM ({scope} LIMIT :size)"
    return int(_rows(conn, sql, {**values, "size": size + 1})[0][0]) > size


#: What an archive has from schema 5 on: the search indexes and the view they read.
SEARCH_OBJECTS = ("articles_fts", "search_articles", "versions_fts")


def has_search_index(conn: sqlite3.Connection) -> bool:
    """Tell whether the database on `conn` is an archive with the search indexes of schema 5 or later."""
    marks = ", ".join("?" for _ in SEARCH_OBJECTS)
    names = {
        str(row[0]) for row in _rows(conn, f"SELECT name FROM sqlite_master WHERE name IN ({marks})", SEARCH_OBJECTS)
    }
    return names == set(SEARCH_OBJECTS)


def newest_window(match: str, floor: int) -> tuple[str, dict[str, object]]:
    """A where clause on `articles` keeping the matches at or above `floor` (see newest_floor), and its values."""
    clause = (
        "rowid in (select rowid from articles_fts where articles_fts match :window_match and rowid >= :window_floor)"
    )
    return clause, {"window_match": match, "window_floor": floor}


def newest_floor(conn: sqlite3.Connection, match: str, window: int) -> int | None:
    """The rowid of the `window`-th most recently archived match when more than `window` articles match, else
    None: `rowid >= floor` then keeps the newest `window` matches (and no statement has to read them all)."""
    sql = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match ORDER BY rowid DESC LIMIT 2 OFFSET :skip"
    rows = _rows(conn, sql, {"match": match, "skip": window - 1})
    return int(rows[0][0]) if len(rows) == 2 else None


def articles(conn: sqlite3.Connection, match: str, found: Matches, *, limit: int, offset: int = 0) -> list[Found]:
    """The articles whose current text matches, best first (title weighted above lead above body)."""
    window = found.window(max(settings.SEARCH_RANK_WINDOW, offset + limit))
    if offset >= len(window):
        return []
    # The window's matches, and only they, are ranked: a range of rowids when nothing is filtered out of it,
    # else the rowids themselves.
    within = " AND +rowid IN (SELECT value FROM json_each(:window))" if found.filters.scope()[0] else ""
    sql = f"""
        WITH best AS (
            SELECT rowid, bm25(articles_fts, {SEARCH_WEIGHTS}) AS score FROM articles_fts
            WHERE articles_fts MATCH :match AND rowid >= :floor{within}
            ORDER BY score LIMIT :limit OFFSET :offset
        )
        SELECT a.url, a.site, a.title, a.lead, a.body_text, a.published_at, a.version, best.score
        FROM best JOIN articles a ON a.rowid = best.rowid
        ORDER BY best.score
    """
    params = {
        "match": match,
        "floor": window[-1],
        "window": json.dumps(window) if within else None,
        "limit": limit,
        "offset": offset,
    }
    return [Found(*row) for row in _rows(conn, sql, params)]


def earlier_versions(conn: sqlite3.Connection, match: str, found: Matches, *, limit: int) -> list[Found]:
    """Articles that match only in a version they have since moved on from, best first: per article the latest
    such version, with the capture time of the version after it (the one that removed the words)."""
    window = settings.SEARCH_EARLIER_WINDOW
    floor_rows = _rows(
        conn,
        "SELECT rowid FROM versions_fts WHERE versions_fts MATCH :match ORDER BY rowid DESC LIMIT 1 OFFSET :skip",
        {"match": match, "skip": window - 1},
    )
    candidates = _rows(
        conn,
        f"""
        WITH old AS MATERIALIZED (
            SELECT rowid, bm25(versions_fts, {SEARCH_WEIGHTS}) AS score FROM versions_fts
            WHERE versions_fts MATCH :match AND rowid >= :floor
        )
        SELECT a.rowid, max(v.version), min(old.score) AS score
        FROM old
        JOIN article_versions v ON v.id = old.rowid
        JOIN articles a ON a.url = v.url
        GROUP BY a.rowid
        ORDER BY score
        """,
        {"match": match, "floor": int(floor_rows[0][0]) if floor_rows else -(2**63)},
    )
    if not candidates:
        return []
    current = _matching_now(conn, match, found, [int(row[0]) for row in candidates])
    detail = """
        SELECT a.url, a.site, v.title, v.lead, v.body_text, v.published_at, v.version, :score, v.version,
            after.captured_at, a.published_at
        FROM articles a
        JOIN article_versions v ON v.url = a.url AND v.version = :version
        JOIN article_versions after ON after.url = a.url AND after.version = :version + 1
        WHERE a.rowid = :article
    """
    finds: list[Found] = []
    for article, version, score in candidates:
        if len(finds) >= limit:
            break
        if int(article) in current:
            continue
        for *row, published_at in _rows(conn, detail, {"article": article, "version": version, "score": score}):
            if found.filters.accepts(row[1], published_at):
                finds.append(Found(*row))
    return finds


def _matching_now(conn: sqlite3.Connection, match: str, found: Matches, articles: list[int]) -> set[int]:
    """Which of `articles` match in their current text. The listed matches decide for every article at or above
    the oldest one listed (all of them when the count was not capped); the index is asked about the rest."""
    listed = set(found.rowids)
    if not found.count.more:
        return listed
    oldest = found.rowids[-1]
    unsure = sorted(article for article in articles if article < oldest)
    if not unsure:
        return listed
    sql = """
        SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match AND rowid BETWEEN :low AND :high
            AND +rowid IN (SELECT value FROM json_each(:ids))
    """
    rows = _rows(conn, sql, {"match": match, "low": unsure[0], "high": unsure[-1], "ids": json.dumps(unsure)})
    return listed | {int(row[0]) for row in rows}


def _rows(conn: sqlite3.Connection, sql: str, params: dict[str, object] | tuple[object, ...]) -> list[Any]:
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, _path(conn)), path=_path(conn)) from exc


def _path(conn: sqlite3.Connection) -> str:
    try:
        return str(conn.execute("PRAGMA database_list").fetchone()[2]) or "in memory"
    except sqlite3.Error:
        return "being searched"


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection to the archive at `path` for searching, its schema brought up to date first
    (which needs write access once); StoreError when it is missing or not an archive."""
    if not path.is_file():
        raise StoreError(f"There is no archive at {path}; run `scrape crawl` or `scrape url` first.", path=str(path))
    upgrade(path)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("SELECT 1 FROM articles_fts LIMIT 0")
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, str(path)), path=str(path)) from exc
    return conn
