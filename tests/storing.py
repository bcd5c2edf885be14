"""Helpers for storage tests: demo-site pages captured at simulated times, old-format archives, archive snapshots."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from scraper.charset import decode
from scraper.demosite.site import Article, NewsSite
from scraper.models import Page
from scraper.pipeline import archive_page, choose_profile
from scraper.store import Archive
from scraper.store.schema import MIGRATIONS

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8765"
PROFILE = choose_profile(BASE, "baigenews")
EDIT = "Дополнено: редакция уточнила подробности."


def demo_page(site: NewsSite, article: Article, when: datetime) -> Page:
    """One fetch of a demo article as the crawler would have it (the counter moves on each fetch)."""
    article.visits += 1
    body = site.render_article(article, BASE)
    headers = {
        "date": format_datetime(when, usegmt=True),
        "server": "demo-news-site",
        "content-type": "text/html; charset=utf-8",
        "content-encoding": "gzip",
        "etag": '"' + hashlib.sha256(body).hexdigest()[:20] + '"',
        "content-length": "4321",
    }
    text, encoding, source = decode(body, headers["content-type"])
    url = BASE + article.path
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers=headers,
        body=body,
        text=text,
        encoding=encoding,
        encoding_source=source,
        content_type="text/html",
        fetched_at=when,
    )


def capture(
    db: Path, *, articles: int = 3, rounds: int = 6, edit_round: int | None = 3, frozen: bool = True
) -> list[Page]:
    """Capture each of `articles` demo articles once an hour for `rounds` hours; edit the first one at
    `edit_round`; with `frozen`, freeze the last one's counter (its later captures repeat its bytes)."""
    # From the second article on: the first one prints its counter rounded (12,3K), unchanged for many fetches.
    site = NewsSite(articles=articles + 1, hostile=False, now=T0)
    chosen = site.articles[1:]
    chosen[-1].views_frozen = frozen
    pages = []
    with Archive(db) as archive:
        for hour in range(rounds):
            if hour == edit_round:
                chosen[0].edits.append(EDIT)
            for offset, article in enumerate(chosen):
                page = demo_page(site, article, T0 + timedelta(hours=hour, minutes=offset))
                archive_page(archive, page, PROFILE)
                pages.append(page)
    return pages


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What an archive knows of its articles: their fields, versions and view readings."""
    with sqlite3.connect(db) as conn:
        return {
            "articles": conn.execute(
                "SELECT url, site, title, lead, author, published_at, views, body_text, body_html, version,"
                " first_seen_at, last_fetched_at, last_changed_at, profile FROM articles ORDER BY url"
            ).fetchall(),
            "versions": conn.execute(
                "SELECT url, version, captured_at, content_hash, changed_fields, title, body_text, page_hash"
                " FROM article_versions ORDER BY url, version"
            ).fetchall(),
            "views": conn.execute(
                "SELECT url, observed_at, views FROM view_counts ORDER BY url, observed_at"
            ).fetchall(),
        }


def legacy_archive(db: Path, pages: list[Page]) -> None:
    """An archive as schema 3 wrote it: every page whole and zlib-compressed, a fetch row for each."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for version in (1, 2, 3):
            MIGRATIONS[version](conn)
        for page in pages:
            key = hashlib.sha256(page.body).hexdigest()
            conn.execute(
                "INSERT OR IGNORE INTO pages (hash, url, final_url, fetched_at, status, content_type, encoding,"
                " encoding_source, headers, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    page.url,
                    page.final_url,
                    page.fetched_at.isoformat(),
                    page.status,
                    page.content_type,
                    page.encoding,
                    page.encoding_source,
                    json.dumps(page.headers, ensure_ascii=False),
                    len(page.body),
                    zlib.compress(page.body, 6),
                ),
            )
            conn.execute(
                "INSERT INTO fetches (url, final_url, status, bytes, fetched_at, page_hash, purpose)"
                " VALUES (?, ?, ?, ?, ?, ?, 'article')",
                (page.url, page.final_url, page.status, len(page.body), page.fetched_at.isoformat(), key),
            )
        conn.execute("PRAGMA user_version = 3")
        conn.execute("COMMIT")
    finally:
        conn.close()


def codecs(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT codec, count(*) FROM pages GROUP BY codec").fetchall())


def bodies(pages: list[Page]) -> dict[str, bytes]:
    return {page.sha256: page.body for page in pages}
