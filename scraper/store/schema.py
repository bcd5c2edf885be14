"""The archive's schema: the tables as SQL, and the migrations that bring an older archive up to date."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

#: Bumped by every migration; stored in PRAGMA user_version.
SCHEMA_VERSION = 5

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


def _migrate_to_1(db: sqlite3.Connection) -> None:
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


def _migrate_to_2(db: sqlite3.Connection) -> None:
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


def _migrate_to_3(db: sqlite3.Connection) -> None:
    for statement in _statements(_SCHEMA_V3):
        db.execute(statement)


# What the distributed writer has written, by the key of each delivery (the fetch job it answers): a delivery
# the broker hands over twice (a writer killed before acknowledging it) is written once. A run started by the
# writer names the run request it answers, so a request handed over again after its run ended is not run twice.
_SCHEMA_V4 = """
CREATE TABLE deliveries (
    key TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
);
ALTER TABLE crawl_runs ADD COLUMN request TEXT;
"""


def _migrate_to_4(db: sqlite3.Connection) -> None:
    for statement in _statements(_SCHEMA_V4):
        db.execute(statement)


# Raw pages stored by what changed (scraper/store/pages.py). Rows written before keep codec 'zlib' and stay
# readable; `scrape storage migrate` re-encodes them in resumable batches.
_SCHEMA_V5 = """
ALTER TABLE pages ADD COLUMN codec TEXT NOT NULL DEFAULT 'zlib';
ALTER TABLE pages ADD COLUMN base TEXT;
ALTER TABLE pages ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pages ADD COLUMN dictionary INTEGER;
ALTER TABLE pages ADD COLUMN site TEXT;
CREATE INDEX pages_keyframes ON pages(site) WHERE codec IN ('zstd', 'dict');
CREATE TABLE page_dictionaries (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    trained_at TEXT NOT NULL,
    keyframes INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    dictionary BLOB NOT NULL
);
CREATE INDEX page_dictionaries_site ON page_dictionaries(site, id);
"""


def _migrate_to_5(db: sqlite3.Connection) -> None:
    for statement in _statements(_SCHEMA_V5):
        db.execute(statement)


#: version -> the step that brings the schema from version-1 to version, run in one transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    3: _migrate_to_3,
    4: _migrate_to_4,
    5: _migrate_to_5,
}
