"""The archive: the only module that writes archive.db (schema, migrations, one transaction per page)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from scraper import settings
from scraper.errors import StoreError
from scraper.models import (
    CONTENT_FIELDS,
    Article,
    Discovered,
    FetchRecord,
    FrontierItem,
    FrontierUpdate,
    Page,
    Purpose,
)
from scraper.urls import canonicalize

#: Bumped by every migration; stored in PRAGMA user_version.
SCHEMA_VERSION = 3

_SCHEMA_V1 = """
-- Full-text search (articles_fts) covers what people search: title, lead and body.
-- unicode61 folds case for Cyrillic and Kazakh letters too (ТОКАЕВ = токаев, Ә = ә);
-- its trigger fires only when those columns change, so re-visits that only
-- record a view count do not re-index the body.
CREATE TABLE pages (
    hash TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    final_url TEXT,
    fetched_at TEXT NOT NULL,
    status INTEGER,
    content_type TEXT,
    encoding TEXT,
    encoding_source TEXT,
    headers TEXT,
    size INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE articles (
    url TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    article_id TEXT,
    title TEXT,
    lead TEXT,
    author TEXT,
    published_at TEXT,
    published_raw TEXT,
    published_from TEXT,
    modified_at TEXT,
    views INTEGER,
    photo_credit TEXT,
    source TEXT,
    image_url TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    language TEXT,
    body_text TEXT NOT NULL DEFAULT '',
    body_html TEXT NOT NULL DEFAULT '',
    parse_status TEXT NOT NULL,
    profile TEXT NOT NULL,
    field_sources TEXT NOT NULL DEFAULT '{}',
    warnings TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT NOT NULL,
    version INTEGER NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_fetched_at TEXT NOT NULL,
    last_changed_at TEXT NOT NULL,
    removed_at TEXT,
    fetched_url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    page_hash TEXT REFERENCES pages(hash)
);
CREATE INDEX articles_site_published ON articles(site, published_at);
CREATE INDEX articles_published ON articles(published_at);
CREATE TABLE article_versions (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL REFERENCES articles(url),
    version INTEGER NOT NULL,
    captured_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    changed_fields TEXT NOT NULL,
    title TEXT,
    lead TEXT,
    author TEXT,
    published_at TEXT,
    modified_at TEXT,
    body_text TEXT NOT NULL DEFAULT '',
    body_html TEXT NOT NULL DEFAULT '',
    page_hash TEXT REFERENCES pages(hash),
    UNIQUE (url, version)
);
CREATE TABLE view_counts (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL REFERENCES articles(url),
    observed_at TEXT NOT NULL,
    views INTEGER NOT NULL
);
CREATE INDEX view_counts_url_observed ON view_counts(url, observed_at);
CREATE TABLE fetches (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    final_url TEXT,
    status INTEGER,
    bytes INTEGER NOT NULL DEFAULT 0,
    elapsed_ms INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    error_kind TEXT,
    fetched_at TEXT NOT NULL,
    content_type TEXT,
    encoding TEXT,
    encoding_source TEXT,
    page_hash TEXT,
    purpose TEXT NOT NULL,
    run_id INTEGER
);
CREATE INDEX fetches_url ON fetches(url);
CREATE INDEX fetches_fetched_at ON fetches(fetched_at);
CREATE TABLE url_aliases (
    alias TEXT PRIMARY KEY,
    url TEXT NOT NULL REFERENCES articles(url)
);
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, lead, body_text,
    content="articles",
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, lead, body_text)
    VALUES (new.rowid, new.title, new.lead, new.body_text);
END;
CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, lead, body_text)
    VALUES ('delete', old.rowid, old.title, old.lead, old.body_text);
END;
CREATE TRIGGER articles_au AFTER UPDATE OF title, lead, body_text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, lead, body_text)
    VALUES ('delete', old.rowid, old.title, old.lead, old.body_text);
    INSERT INTO articles_fts (rowid, title, lead, body_text)
    VALUES (new.rowid, new.title, new.lead, new.body_text);
END;
"""


def _migrate_to_1(db: sqlite_utils.Database) -> None:
    # Statement by statement: sqlite3's executescript() would COMMIT the migration's transaction.
    for statement in _statements(_SCHEMA_V1):
        db.execute(statement)


def _statements(script: str) -> list[str]:
    """Split a schema script into statements; a trigger body's inner semicolons stay with it."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        if line.endswith(";") and (not current[0].startswith("CREATE TRIGGER") or line == "END;"):
            statements.append("\n".join(current))
            current = []
    return statements


_SCHEMA_V2 = """
-- The crawl frontier: what each schedule still has to fetch, so a killed crawl resumes.
CREATE TABLE frontier (
    schedule TEXT NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    depth INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    due_at TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    discovered_at TEXT NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (schedule, url)
);
CREATE INDEX frontier_due ON frontier(schedule, state, priority, due_at);
CREATE TABLE crawl_runs (
    id INTEGER PRIMARY KEY,
    schedule TEXT NOT NULL,
    trigger TEXT NOT NULL,
    scheduled_for TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    pages_fetched INTEGER NOT NULL DEFAULT 0,
    new_articles INTEGER NOT NULL DEFAULT 0,
    new_versions INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    pid INTEGER
);
CREATE INDEX crawl_runs_schedule ON crawl_runs(schedule, started_at);
ALTER TABLE articles ADD COLUMN last_checked_at TEXT
"""


def _migrate_to_2(db: sqlite_utils.Database) -> None:
    for statement in _statements(_SCHEMA_V2 + ";"):
        db.execute(statement)


# Indexes for browsing: the articles facets, the view-growth query and pages, and failed fetches
# (measured with bench/serve.py on 20,000 articles and 1.2 million fetches).
_SCHEMA_V3 = """
CREATE INDEX articles_author ON articles(author);
CREATE INDEX articles_source ON articles(source);
CREATE INDEX articles_language ON articles(language);
CREATE INDEX view_counts_observed ON view_counts(observed_at);
CREATE INDEX fetches_failed ON fetches(url, status, error_kind, fetched_at, error)
    WHERE error IS NOT NULL OR status >= 400;
"""


def _migrate_to_3(db: sqlite_utils.Database) -> None:
    for statement in _statements(_SCHEMA_V3):
        db.execute(statement)


#: version -> the step that brings the schema from version-1 to version, run in one transaction.
MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    3: _migrate_to_3,
}
#: Frontier kinds in the order they are fetched: discovery first, then new articles, then re-visits.
PRIORITIES = {Purpose.FEED: 1, Purpose.SITEMAP: 2, Purpose.LISTING: 3, Purpose.ARTICLE: 4, Purpose.REVISIT: 5}


@dataclass(frozen=True)
class CaptureResult:
    """What archiving one page changed."""

    url: str
    new_article: bool = False
    version: int | None = None
    new_version: bool = False
    changed_fields: list[str] = field(default_factory=list)
    view_recorded: bool = False


def content_hash(article: Article) -> str:
    """Hash the fields whose change makes a new version (never the view counter)."""
    payload = json.dumps([getattr(article, name) for name in CONTENT_FIELDS], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def _stamp(value: datetime) -> str:
    """A frontier time: UTC with milliseconds, one fixed width so the strings sort as the times do."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _exists(path: str) -> bool:
    try:
        return Path(path).exists()
    except OSError:  # a folder on the way we may not enter
        return False


def _describe(exc: sqlite3.Error, path: str) -> str:
    message = str(exc)
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return f"The archive {path} is read-only: check the permissions of the file and of its folder."
    if "disk is full" in lowered or "database or disk is full" in lowered:
        return (
            f"The archive {path} cannot grow: the disk is full. "
            "Nothing was half-written; free some space and run again."
        )
    if "unable to open" in lowered and _exists(path):
        # SQLite could not create the -wal/-shm files beside the archive: its folder is read-only.
        return f"The archive {path} is read-only: check the permissions of the file and of its folder."
    if "unable to open" in lowered:
        return f"Cannot open the archive {path}: the folder does not exist or is not writable."
    if "not a database" in lowered or "malformed" in lowered:
        return f"The archive {path} is corrupt ({message}). Restore it from a backup (see `scrape backup`)."
    if "locked" in lowered or "busy" in lowered:
        return f"The archive {path} is locked by another writer (waited up to {settings.BUSY_TIMEOUT_S:g} s)."
    return f"The archive {path} failed: {message}."


class Archive:
    """An open archive.db. Writers get WAL, a busy timeout and one IMMEDIATE transaction per page."""

    def __init__(self, path: str | Path, *, check: bool = True) -> None:
        self.path = str(path)
        try:
            # The crawler writes from one worker thread (so zlib and SQLite, which release the GIL,
            # overlap its network I/O); every call is still made by one thread at a time.
            conn = sqlite3.connect(
                self.path, timeout=settings.BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, self.path), path=self.path) from exc
        self.db = sqlite_utils.Database(conn)
        # Fault injection for the kill harness (bench/faults.py): die by SIGKILL inside the N-th commit.
        self._kill_at = int(os.environ.get(settings.KILL_IN_COMMIT_ENV, "0") or 0)
        self._commits = 0
        try:
            self._prepare(check)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(_describe(exc, self.path), path=self.path) from exc

    def _prepare(self, check: bool) -> None:
        conn = self.db.conn
        conn.execute(f"PRAGMA busy_timeout = {int(settings.BUSY_TIMEOUT_S * 1000)}")
        if check:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise StoreError(
                    f"The archive {self.path} is corrupt ({verdict}); it was not written to. "
                    "Restore it from a backup (see `scrape backup`).",
                    path=self.path,
                )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._switch_to_wal()
        # NORMAL is durable across application crashes in WAL mode; see the README's reliability section.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Take and drop the write lock once, so a read-only file or folder is reported now,
        # before anything is fetched, not at the first page.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        self.migrate()

    def _switch_to_wal(self) -> None:
        # Changing the journal mode needs the file to itself and SQLite does not wait for that
        # with the busy handler, so a second process opening a new archive retries here.
        deadline = time.monotonic() + settings.BUSY_TIMEOUT_S
        while True:
            try:
                self.db.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01 + random.random() * 0.04)

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite when the last one closes)."""
        self.db.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction, taken with BEGIN IMMEDIATE so it never fails half-way on a lock."""
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, self.path), path=self.path) from exc
        try:
            yield self.db
            self._commits += 1
            if self._kill_at and self._commits == self._kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # everything written, nothing committed
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(_describe(exc, self.path), path=self.path) from exc
            raise

    @property
    def schema_version(self) -> int:
        return int(self.db.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Bring the schema up to SCHEMA_VERSION, each step in one transaction with its user_version."""
        while self.schema_version < SCHEMA_VERSION:
            with self.transaction() as db:
                # Read again under the write lock: another process may have migrated meanwhile.
                current = self.schema_version
                if current < SCHEMA_VERSION:
                    MIGRATIONS[current + 1](db)
                    db.execute(f"PRAGMA user_version = {current + 1}")
        if self.schema_version > SCHEMA_VERSION:
            raise StoreError(
                f"The archive {self.path} was written by a newer version of this program "
                f"(schema {self.schema_version}, this one knows {SCHEMA_VERSION}); upgrade the program.",
                path=self.path,
            )

    # -- writing ---------------------------------------------------------

    def _insert_page(self, db: sqlite_utils.Database, page: Page) -> str:
        key = page.sha256
        db.execute(
            "INSERT OR IGNORE INTO pages (hash, url, final_url, fetched_at, status, content_type, encoding,"
            " encoding_source, headers, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                page.url,
                page.final_url,
                _iso(page.fetched_at),
                page.status,
                page.content_type,
                page.encoding,
                page.encoding_source,
                json.dumps(page.headers, ensure_ascii=False),
                len(page.body),
                zlib.compress(page.body, settings.PAGE_COMPRESSION_LEVEL),
            ),
        )
        return key

    def _insert_fetch(self, db: sqlite_utils.Database, record: FetchRecord, run_id: int | None) -> None:
        db.execute(
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
                _iso(record.fetched_at),
                record.content_type,
                record.encoding,
                record.encoding_source,
                record.page_hash,
                record.purpose,
                run_id,
            ),
        )

    def record_fetch(
        self,
        record: FetchRecord,
        *,
        page: Page | None = None,
        run_id: int | None = None,
        gone: bool = False,
        not_modified: bool = False,
        frontier: FrontierUpdate | None = None,
    ) -> None:
        """Write a ledger row for a fetch that archived no article (a failure, a listing, a feed, a 304).

        With `gone` (a 404 or 410), an archived article at that URL is marked removed, keeping its versions;
        with `not_modified` (a 304) only its check time moves. A frontier update goes in the same transaction.
        """
        with self.transaction() as db:
            if page is not None and record.page_hash:
                self._insert_page(db, page)
            self._insert_fetch(db, record, run_id)
            if gone or not_modified:
                url = self.resolve_url(record.url)
                at = _iso(record.fetched_at)
                if gone:
                    db.execute("UPDATE articles SET removed_at = ? WHERE url = ? AND removed_at IS NULL", (at, url))
                db.execute("UPDATE articles SET last_checked_at = ? WHERE url = ?", (at, url))
            if frontier is not None:
                self._update_frontier(db, frontier, failed=frontier.state == "failed")

    def resolve_url(self, url: str) -> str:
        """Return the canonical article URL that `url` is, or is an alias of."""
        key = canonicalize(url)
        row = self.db.execute("SELECT url FROM url_aliases WHERE alias = ?", (key,)).fetchone()
        return str(row[0]) if row else key

    def record_capture(
        self,
        record: FetchRecord,
        page: Page,
        article: Article,
        *,
        run_id: int | None = None,
        frontier: FrontierUpdate | None = None,
    ) -> CaptureResult:
        """Archive one parsed page: raw page, fetch row, article, version and view count, all or nothing."""
        with self.transaction() as db:
            key = self._insert_page(db, page)
            self._insert_fetch(db, record, run_id)
            result = self._store_article(db, article, page, key)
            if frontier is not None:
                self._update_frontier(db, frontier, capture=result)
            return result

    def _store_article(self, db: sqlite_utils.Database, article: Article, page: Page, key: str) -> CaptureResult:
        url = article.canonical_url
        seen_at = _iso(page.fetched_at)
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
        for alias in {article.url, page.final_url}:
            alias_key = canonicalize(alias)
            if alias_key != url:
                db.execute("INSERT OR IGNORE INTO url_aliases (alias, url) VALUES (?, ?)", (alias_key, url))
        existing = db.execute(
            "SELECT content_hash, version, parse_status, " + ", ".join(CONTENT_FIELDS) + " FROM articles WHERE url = ?",
            (url,),
        ).fetchone()
        view_recorded = False
        if existing is None:
            row.update(version=1, first_seen_at=seen_at, last_changed_at=seen_at)
            db.table("articles").insert(row)
            self._insert_version(db, url, 1, seen_at, digest, article, key, list(CONTENT_FIELDS))
            result = CaptureResult(url, new_article=True, version=1, new_version=True)
        else:
            old_hash, version, old_status = existing[0], existing[1], existing[2]
            if article.parse_status != "ok" and old_status == "ok":
                # A degraded parse (cut-off page, changed markup) never replaces a good capture.
                db.execute("UPDATE articles SET last_fetched_at = ? WHERE url = ?", (seen_at, url))
                result = CaptureResult(url, version=version)
            elif old_hash != digest:
                old = dict(zip(CONTENT_FIELDS, existing[3:], strict=True))
                changed = [name for name in CONTENT_FIELDS if old[name] != getattr(article, name)]
                version += 1
                row.update(version=version, last_changed_at=seen_at)
                db.table("articles").update(url, row)
                self._insert_version(db, url, version, seen_at, digest, article, key, changed)
                result = CaptureResult(url, version=version, new_version=True, changed_fields=changed)
            else:
                row.pop("version", None)
                db.table("articles").update(url, {k: v for k, v in row.items() if k not in CONTENT_FIELDS})
                result = CaptureResult(url, version=version)
        if article.views is not None and (article.parse_status == "ok" or existing is None):
            db.execute(
                "INSERT INTO view_counts (url, observed_at, views) VALUES (?, ?, ?)",
                (url, seen_at, article.views),
            )
            view_recorded = True
        return replace(result, view_recorded=view_recorded)

    def _insert_version(
        self,
        db: sqlite_utils.Database,
        url: str,
        version: int,
        captured_at: str,
        digest: str,
        article: Article,
        key: str,
        changed: list[str],
    ) -> None:
        db.table("article_versions").insert(
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
        if target.exists():
            raise StoreError(f"Refusing to overwrite {target}; choose a new file for the backup.", path=str(target))
        try:
            with contextlib.closing(sqlite3.connect(str(target))) as copy:
                self.db.conn.backup(copy, pages=4096)
        except sqlite3.Error as exc:
            with contextlib.suppress(OSError):
                target.unlink()
            raise StoreError(_describe(exc, str(target)), path=str(target)) from exc

    # -- the crawl frontier and runs ---------------------------------------

    def start_run(self, schedule: str, *, trigger: str = "manual", scheduled_for: datetime | None = None) -> int:
        """Open a crawl_runs row; runs of this schedule left 'running' by a killed process become 'interrupted'."""
        with self.transaction() as db:
            db.execute(
                "UPDATE crawl_runs SET status = 'interrupted', ended_at = COALESCE(ended_at, ?),"
                " message = COALESCE(message, 'the process stopped before the run ended')"
                " WHERE schedule = ? AND status = 'running'",
                (_now(), schedule),
            )
            cursor = db.execute(
                "INSERT INTO crawl_runs (schedule, trigger, scheduled_for, started_at, status, pid)"
                " VALUES (?, ?, ?, ?, 'running', ?)",
                (schedule, trigger, _iso(scheduled_for) if scheduled_for else None, _now(), os.getpid()),
            )
            # A killed run's claimed URLs go back in the queue; they were never archived.
            db.execute("UPDATE frontier SET state = 'queued' WHERE schedule = ? AND state = 'in_flight'", (schedule,))
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, message: str | None = None) -> dict[str, Any]:
        """Close a run and return its row; finished frontier entries of the schedule are cleared."""
        with self.transaction() as db:
            db.execute(
                "UPDATE crawl_runs SET status = ?, ended_at = ?, message = ? WHERE id = ?",
                (status, _now(), message, run_id),
            )
            schedule = db.execute("SELECT schedule FROM crawl_runs WHERE id = ?", (run_id,)).fetchone()[0]
            db.execute("DELETE FROM frontier WHERE schedule = ? AND state IN ('done', 'failed')", (schedule,))
            db.execute("UPDATE frontier SET state = 'queued' WHERE schedule = ? AND state = 'in_flight'", (schedule,))
        return self.run(run_id)

    def run(self, run_id: int) -> dict[str, Any]:
        """A crawl_runs row as a dict."""
        cursor = self.db.execute("SELECT * FROM crawl_runs WHERE id = ?", (run_id,))
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))

    def seed(self, schedule: str, entries: list[Discovered], *, run_id: int) -> int:
        """Queue start URLs and re-visits for this run (again, if an earlier run finished them)."""
        now = _stamp(datetime.now(UTC))
        with self.transaction() as db:
            before = db.conn.total_changes
            for entry in entries:
                db.execute(
                    "INSERT INTO frontier (schedule, url, kind, depth, state, priority, due_at, tries,"
                    " discovered_at, run_id) VALUES (?, ?, ?, ?, 'queued', ?, ?, 0, ?, ?)"
                    " ON CONFLICT (schedule, url) DO UPDATE SET state = 'queued', due_at = excluded.due_at,"
                    " tries = 0, kind = excluded.kind, depth = excluded.depth, priority = excluded.priority"
                    " WHERE frontier.state IN ('done', 'failed')",
                    (schedule, entry.url, entry.kind, entry.depth, PRIORITIES[entry.kind], now, now, run_id),
                )
            return db.conn.total_changes - before

    def claim(self, schedule: str, *, limit: int, now: datetime) -> list[FrontierItem]:
        """Take up to `limit` due URLs (discovery first) and mark them in flight."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT f.url, f.kind, f.depth, f.tries, a.etag, a.last_modified FROM frontier f"
                " LEFT JOIN articles a ON a.url = f.url AND f.kind = 'revisit'"
                " WHERE f.schedule = ? AND f.state = 'queued' AND f.due_at <= ?"
                " ORDER BY f.priority, f.due_at LIMIT ?",
                (schedule, _stamp(now), limit),
            ).fetchall()
            db.conn.executemany(
                "UPDATE frontier SET state = 'in_flight' WHERE schedule = ? AND url = ?",
                [(schedule, row[0]) for row in rows],
            )
        return [FrontierItem(schedule, *row) for row in rows]

    def recent_response(self, url: str, *, purpose: Purpose, since: datetime) -> tuple[int, bytes, str] | None:
        """The latest answer (status below 500) fetched for `url` since `since`: (status, body, when)."""
        row = self.db.execute(
            "SELECT f.status, p.body, f.fetched_at FROM fetches f LEFT JOIN pages p ON p.hash = f.page_hash"
            " WHERE f.url = ? AND f.purpose = ? AND f.fetched_at >= ? AND f.status < 500 AND f.error IS NULL"
            " ORDER BY f.id DESC LIMIT 1",
            (url, purpose, _iso(since)),
        ).fetchone()
        if row is None:
            return None
        return int(row[0]), zlib.decompress(row[1]) if row[1] else b"", str(row[2])

    def next_due(self, schedule: str) -> datetime | None:
        """When the earliest queued URL of the schedule becomes due, or None if none is queued."""
        row = self.db.execute(
            "SELECT min(due_at) FROM frontier WHERE schedule = ? AND state = 'queued'", (schedule,)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def due_revisits(
        self, sites: list[str], *, now: datetime, interval: Callable[[timedelta], timedelta | None]
    ) -> list[str]:
        """Archived, not removed articles of these sites whose re-visit interval (by age) has passed."""
        if not sites:
            return []
        marks = ", ".join("?" for _ in sites)
        rows = self.db.execute(
            "SELECT url, COALESCE(published_at, first_seen_at), MAX(last_fetched_at, COALESCE(last_checked_at, ''))"
            f" FROM articles WHERE site IN ({marks}) AND removed_at IS NULL",
            sites,
        )
        due = []
        for url, born, last in rows:
            every = interval(now - datetime.fromisoformat(born))
            if every is not None and now - datetime.fromisoformat(last) >= every:
                due.append(str(url))
        return due

    def _update_frontier(
        self,
        db: sqlite_utils.Database,
        update: FrontierUpdate,
        *,
        failed: bool = False,
        capture: CaptureResult | None = None,
    ) -> None:
        item = update.item
        fetched = update.fetched
        due = _stamp(update.due_at or datetime.now(UTC))
        tries = item.tries + 1 if fetched else item.tries
        db.execute(
            "UPDATE frontier SET state = ?, due_at = ?, tries = ?, last_error = ? WHERE schedule = ? AND url = ?",
            (update.state, due, tries, update.error, item.schedule, item.url),
        )
        if update.discovered:
            self._queue_discovered(db, item.schedule, update.discovered, update.run_id)
        db.execute(
            "UPDATE crawl_runs SET pages_fetched = pages_fetched + ?, new_articles = new_articles + ?,"
            " new_versions = new_versions + ?, errors = errors + ? WHERE id = ?",
            (
                1 if fetched else 0,
                1 if capture is not None and capture.new_article else 0,
                1 if capture is not None and capture.new_version and not capture.new_article else 0,
                1 if failed else 0,
                update.run_id,
            ),
        )

    def _queue_discovered(
        self, db: sqlite_utils.Database, schedule: str, found: tuple[Discovered, ...], run_id: int
    ) -> None:
        """Queue discovered URLs not yet in the frontier; an archived article is re-visited only if its
        sitemap lastmod is newer than its last fetch (a URL already archived is never fetched as new)."""
        now = _stamp(datetime.now(UTC))
        articles = [d for d in found if d.kind == "article"]
        archived: dict[str, str] = {}
        for start in range(0, len(articles), 500):
            chunk = [d.url for d in articles[start : start + 500]]
            marks = ", ".join("?" for _ in chunk)
            for url, last in db.execute(
                f"SELECT url, last_fetched_at FROM articles WHERE url IN ({marks})"
                f" UNION ALL SELECT a.alias, b.last_fetched_at FROM url_aliases a JOIN articles b ON b.url = a.url"
                f" WHERE a.alias IN ({marks})",
                chunk + chunk,
            ):
                archived[url] = last
        rows = []
        for entry in found:
            kind = entry.kind
            if entry.url in archived:
                if not (entry.lastmod and entry.lastmod > archived[entry.url]):
                    continue
                kind = Purpose.REVISIT
            rows.append((schedule, entry.url, kind, entry.depth, PRIORITIES[kind], now, now, run_id))
        db.conn.executemany(
            "INSERT OR IGNORE INTO frontier (schedule, url, kind, depth, state, priority, due_at, tries,"
            " discovered_at, run_id) VALUES (?, ?, ?, ?, 'queued', ?, ?, 0, ?, ?)",
            rows,
        )

    # -- reading ---------------------------------------------------------

    def load_page(self, key: str) -> Page:
        """Return a stored raw page by its hash."""
        row = self.db.execute(
            "SELECT url, final_url, fetched_at, status, content_type, encoding, encoding_source,"
            " headers, body FROM pages WHERE hash = ?",
            (key,),
        ).fetchone()
        if row is None:
            raise StoreError(f"The archive {self.path} has no stored page {key}.", path=self.path)
        body = zlib.decompress(row[8])
        return Page(
            url=row[0],
            final_url=row[1] or row[0],
            status=row[3] or 200,
            headers=json.loads(row[7] or "{}"),
            body=body,
            text=body.decode(row[5] or "utf-8", errors="replace"),
            encoding=row[5] or "utf-8",
            encoding_source=row[6] or "stored",
            content_type=row[4] or "",
            fetched_at=datetime.fromisoformat(row[2]),
        )

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
        with self.transaction() as db:
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
