"""Archive writes and reads: raw pages, the fetch ledger, articles with their versions, view counts and aliases."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from scraper.errors import CorruptPage, StoreError
from scraper.models import (
    CONTENT_FIELDS,
    Article,
    FetchRecord,
    FrontierUpdate,
    Outcome,
    Page,
    ParseStatus,
    Purpose,
    Verdict,
)
from scraper.store.db import Connection, describe
from scraper.store.frontier import Frontier, Runs, iso, now_iso
from scraper.store.pages import PageStore
from scraper.urls import canonicalize


@dataclass(frozen=True)
class CaptureResult:
    """What archiving one page changed."""

    url: str
    new_article: bool = False
    version: int | None = None
    new_version: bool = False
    changed_fields: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CaptureRow:
    """A fetch whose raw page is stored: what `scrape export` writes as a WARC record."""

    fetch_id: int
    url: str
    #: The URL that answered (after redirects).
    final_url: str
    fetched_at: datetime
    status: int | None
    page_hash: str


def content_hash(article: Article) -> str:
    """Hash the fields whose change makes a new version (never the view counter)."""
    payload = json.dumps([getattr(article, name) for name in CONTENT_FIELDS], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Archive:
    """An open archive.db: the one writer of captures, with its frontier (`.frontier`) and run ledger (`.runs`)."""

    def __init__(self, path: str | Path, *, check: bool = True) -> None:
        self.connection = Connection(path, check=check)
        self.path = self.connection.path
        self.db = sqlite_utils.Database(self.connection.conn)
        self.frontier = Frontier(self.connection)
        self.runs = Runs(self.connection)
        #: The raw pages: written by what changed, read back bit-exact.
        self.pages = PageStore(self.connection)

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite when the last one closes)."""
        self.connection.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.connection.schema_version

    # -- writing ---------------------------------------------------------

    def record(
        self,
        outcome: Outcome,
        *,
        run_id: int | None = None,
        frontier: FrontierUpdate | None = None,
        key: str | None = None,
    ) -> CaptureResult | None:
        """Write what became of one URL, all or nothing: its ledger row, raw page, article, version, view count,
        removal or check time, and its frontier entry. Returns what the capture changed, for an archived article.

        With `key` (a distributed delivery), the key is written in the same transaction: see `delivered`.
        """
        with self.connection.transaction():
            db = self.db
            if key is not None:
                db.execute("INSERT OR IGNORE INTO deliveries (key, applied_at) VALUES (?, ?)", (key, now_iso()))
            if outcome.page is not None and outcome.record.page_hash:
                self.pages.put(outcome.page)
            self._insert_fetch(outcome.record, run_id)
            result = None
            if outcome.verdict == Verdict.ARCHIVED and outcome.article is not None and outcome.page is not None:
                result = self._store_article(outcome.article, outcome.page, outcome.record.page_hash or "")
            elif outcome.verdict in (Verdict.GONE, Verdict.NOT_MODIFIED):
                url = self.resolve_url(outcome.record.url)
                at = iso(outcome.record.fetched_at)
                if outcome.verdict == Verdict.GONE:
                    db.execute("UPDATE articles SET removed_at = ? WHERE url = ? AND removed_at IS NULL", (at, url))
                db.execute("UPDATE articles SET last_checked_at = ? WHERE url = ?", (at, url))
            if frontier is not None:
                self.frontier.apply(
                    self.connection.conn,
                    frontier,
                    error=outcome.error,
                    fetched=outcome.verdict != Verdict.SKIPPED,
                    discovered=outcome.discovered,
                    new_article=result is not None and result.new_article,
                    new_version=result is not None and result.new_version,
                )
            return result

    def _insert_fetch(self, record: FetchRecord, run_id: int | None) -> None:
        self.db.execute(
            "INSERT INTO fetches (url, final_url, status, bytes, elapsed_ms, error, error_kind, fetched_at,"
            " content_type, encoding, encoding_source, page_hash, purpose, run_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.url,
                record.final_url,
                record.status,
                record.bytes,
                record.elapsed_ms,
                record.error,
                record.error_kind,
                iso(record.fetched_at),
                record.content_type,
                record.encoding,
                record.encoding_source,
                record.page_hash,
                record.purpose,
                run_id,
            ),
        )

    def delivered(self, key: str) -> bool:
        """Tell whether the delivery with this key was already written (the broker may hand one over twice)."""
        return self.db.execute("SELECT 1 FROM deliveries WHERE key = ?", (key,)).fetchone() is not None

    def resolve_url(self, url: str) -> str:
        """Return the canonical article URL that `url` is, or is an alias of."""
        key = canonicalize(url)
        row = self.db.execute("SELECT url FROM url_aliases WHERE alias = ?", (key,)).fetchone()
        return str(row[0]) if row else key

    def _store_article(self, article: Article, page: Page, key: str) -> CaptureResult:
        db = self.db
        url = article.canonical_url
        seen_at = iso(page.fetched_at)
        digest = content_hash(article)
        record = article.to_record()
        row: dict[str, Any] = {
            name: record[name] for name in record if name not in {"canonical_url", "url", "fetched_at"}
        }
        row.update(
            url=url,
            tags=json.dumps(article.tags, ensure_ascii=False),
            field_sources=json.dumps(article.field_sources, ensure_ascii=False),
            warnings=json.dumps(article.warnings, ensure_ascii=False),
            content_hash=digest,
            fetched_url=article.url,
            last_fetched_at=seen_at,
            etag=page.headers.get("etag"),
            last_modified=page.headers.get("last-modified"),
            page_hash=key,
            removed_at=None,
        )
        existing = db.execute(
            "SELECT content_hash, version, parse_status, " + ", ".join(CONTENT_FIELDS) + " FROM articles WHERE url = ?",
            (url,),
        ).fetchone()
        if existing is None:
            row.update(version=1, first_seen_at=seen_at, last_changed_at=seen_at)
            db.table("articles").insert(row)
            self._insert_version(url, 1, seen_at, digest, article, key, list(CONTENT_FIELDS))
            result = CaptureResult(url, new_article=True, version=1, new_version=True)
        else:
            old_hash, version, old_status = existing[0], existing[1], existing[2]
            if article.parse_status != ParseStatus.OK and old_status == ParseStatus.OK:
                # A degraded parse (cut-off page, changed markup) never replaces a good capture.
                db.execute("UPDATE articles SET last_fetched_at = ? WHERE url = ?", (seen_at, url))
                result = CaptureResult(url, version=version)
            elif old_hash != digest:
                old = dict(zip(CONTENT_FIELDS, existing[3:], strict=True))
                changed = [name for name in CONTENT_FIELDS if old[name] != getattr(article, name)]
                version += 1
                row.update(version=version, last_changed_at=seen_at)
                db.table("articles").update(url, row)
                self._insert_version(url, version, seen_at, digest, article, key, changed)
                result = CaptureResult(url, version=version, new_version=True, changed_fields=changed)
            else:
                row.pop("version", None)
                db.table("articles").update(url, {k: v for k, v in row.items() if k not in CONTENT_FIELDS})
                result = CaptureResult(url, version=version)
        # After the article row exists: an alias refers to it (a first capture reached through a redirect,
        # or whose canonical URL differs from the one fetched).
        for alias in {article.url, page.final_url}:
            alias_key = canonicalize(alias)
            if alias_key != url:
                db.execute("INSERT OR IGNORE INTO url_aliases (alias, url) VALUES (?, ?)", (alias_key, url))
        if article.views is not None and (article.parse_status == ParseStatus.OK or existing is None):
            db.execute(
                "INSERT INTO view_counts (url, observed_at, views) VALUES (?, ?, ?)",
                (url, seen_at, article.views),
            )
        return result

    def _insert_version(
        self,
        url: str,
        version: int,
        captured_at: str,
        digest: str,
        article: Article,
        key: str,
        changed: list[str],
    ) -> None:
        self.db.table("article_versions").insert(
            {
                "url": url,
                "version": version,
                "captured_at": captured_at,
                "content_hash": digest,
                "changed_fields": json.dumps(changed),
                **{name: getattr(article, name) for name in CONTENT_FIELDS},
                "body_html": article.body_html,
                "page_hash": key,
            }
        )

    def backup(self, destination: str | Path) -> None:
        """Copy the archive, consistently, while others may be writing (SQLite's online backup API).

        A plain `cp` of archive.db without its -wal file can lose committed pages or copy a
        half-written state; this takes a snapshot of committed data only.
        """
        target = Path(destination)
        if target.exists() or target.is_symlink():
            # A link, even one to a missing file, is refused: following it would write somewhere else.
            raise StoreError(f"Refusing to overwrite {target}; choose a new file for the backup.", path=str(target))
        try:
            with contextlib.closing(sqlite3.connect(str(target))) as copy:
                self.connection.conn.backup(copy, pages=4096)
        except sqlite3.Error as exc:
            with contextlib.suppress(OSError):
                target.unlink()
            raise StoreError(describe(exc, str(target)), path=str(target)) from exc

    # -- reading ---------------------------------------------------------

    def recent_response(self, url: str, *, purpose: Purpose, since: datetime) -> tuple[int, bytes, str] | None:
        """The latest answer (status below 500) fetched for `url` since `since`: (status, body, when)."""
        row = self.db.execute(
            "SELECT f.status, p.hash, f.fetched_at FROM fetches f LEFT JOIN pages p ON p.hash = f.page_hash"
            " WHERE f.url = ? AND f.purpose = ? AND f.fetched_at >= ? AND f.status < 500 AND f.error IS NULL"
            " ORDER BY f.id DESC LIMIT 1",
            (url, purpose, iso(since)),
        ).fetchone()
        if row is None:
            return None
        try:
            body = self.pages.body(row[1]) if row[1] else b""
        except CorruptPage:
            return None  # fetched again rather than read from damaged bytes
        return int(row[0]), body, str(row[2])

    def load_page(self, key: str) -> Page:
        """Return a stored raw page by its hash; CorruptPage if its bytes do not come back exactly."""
        stored = self.pages.load(key)
        encoding = stored.encoding or "utf-8"
        return Page(
            url=stored.url,
            final_url=stored.final_url,
            status=stored.status or 200,
            headers=stored.headers,
            body=stored.body,
            text=stored.body.decode(encoding, errors="replace"),
            encoding=encoding,
            encoding_source=stored.encoding_source or "stored",
            content_type=stored.content_type or "",
            fetched_at=datetime.fromisoformat(stored.fetched_at),
        )

    def captures(self, *, since: datetime | None = None, until: datetime | None = None) -> Iterator[CaptureRow]:
        """Every fetch whose raw page is stored, in capture order, fetched at `since` or later and before `until`.

        Read in batches, so no statement stays open while the caller works (a crawl may be writing).
        """
        high = iso(until) if until else "9999"
        after = (iso(since) if since else "", 0)
        while True:
            rows = self.db.execute(
                "SELECT f.id, f.url, COALESCE(f.final_url, f.url), f.fetched_at, f.status, f.page_hash FROM fetches f"
                " WHERE (f.fetched_at > ? OR (f.fetched_at = ? AND f.id > ?)) AND f.fetched_at < ?"
                " AND f.page_hash IS NOT NULL AND EXISTS (SELECT 1 FROM pages p WHERE p.hash = f.page_hash)"
                " ORDER BY f.fetched_at, f.id LIMIT 500",
                (after[0], after[0], after[1], high),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield CaptureRow(int(row[0]), str(row[1]), str(row[2]), datetime.fromisoformat(row[3]), row[4], row[5])
            after = (rows[-1][3], int(rows[-1][0]))

    def count_captures(self, *, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many fetches `captures` would give."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM fetches f WHERE f.fetched_at >= ? AND f.fetched_at < ?"
                " AND f.page_hash IS NOT NULL AND EXISTS (SELECT 1 FROM pages p WHERE p.hash = f.page_hash)",
                (iso(since) if since else "", iso(until) if until else "9999"),
            ).fetchone()[0]
        )

    def has_capture(self, url: str, fetched_at: datetime, key: str) -> bool:
        """Tell whether the archive has a fetch of `url` (requested or final) at that second with that page."""
        rows = self.db.execute(
            "SELECT url, final_url FROM fetches WHERE fetched_at = ? AND page_hash = ?", (iso(fetched_at), key)
        ).fetchall()
        return any(url in (row[0], row[1]) for row in rows)

    def capture_of(self, url: str, fetched_at: datetime) -> str | None:
        """The stored page of a fetch of `url` (requested or final) at that second, if there is one."""
        row = self.db.execute(
            "SELECT f.page_hash FROM fetches f JOIN pages p ON p.hash = f.page_hash"
            " WHERE f.fetched_at = ? AND (f.url = ? OR f.final_url = ?) LIMIT 1",
            (iso(fetched_at), url, url),
        ).fetchone()
        return str(row[0]) if row else None

    def article_title(self, url: str) -> tuple[str, str | None] | None:
        """(canonical url, title) of the archived article that `url` is, or is an alias of; None if none."""
        row = self.db.execute("SELECT url, title FROM articles WHERE url = ?", (self.resolve_url(url),)).fetchone()
        return (str(row[0]), row[1]) if row else None

    def article_pages(self) -> Iterator[tuple[str, str, str, int]]:
        """Yield (canonical url, fetched url, page hash, version) of every version that has a stored page."""
        yield from self.db.execute(
            "SELECT v.url, a.fetched_url, v.page_hash, v.version FROM article_versions v"
            " JOIN articles a ON a.url = v.url WHERE v.page_hash IS NOT NULL ORDER BY v.url, v.version"
        )

    def article_profile(self, url: str) -> str | None:
        """Return the profile an archived article was parsed with, or None if it was the generic one."""
        row = self.db.execute("SELECT profile FROM articles WHERE url = ?", (url,)).fetchone()
        return str(row[0]) if row and row[0] != "generic" else None

    def replace_extraction(self, url: str, version: int, article: Article, *, latest: bool) -> bool:
        """Overwrite what was extracted from a stored page (after a profile fix), keeping the history.

        Returns whether the extraction differs from what was stored.
        """
        values = {name: getattr(article, name) for name in CONTENT_FIELDS}
        digest = content_hash(article)
        with self.connection.transaction():
            db = self.db
            version_id, *old_values = db.execute(
                "SELECT id, body_html, " + ", ".join(CONTENT_FIELDS) + " FROM article_versions"
                " WHERE url = ? AND version = ?",
                (url, version),
            ).fetchone()
            db.table("article_versions").update(
                version_id, {**values, "body_html": article.body_html, "content_hash": digest}
            )
            if latest:
                record = article.to_record()
                update = {k: record[k] for k in record if k not in {"url", "canonical_url", "fetched_at"}}
                update.update(
                    tags=json.dumps(article.tags, ensure_ascii=False),
                    field_sources=json.dumps(article.field_sources, ensure_ascii=False),
                    warnings=json.dumps(article.warnings, ensure_ascii=False),
                    content_hash=digest,
                )
                db.table("articles").update(url, update)
        return bool(old_values != [article.body_html, *values.values()])
