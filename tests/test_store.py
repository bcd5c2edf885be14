"""The archive: pinned schema, versions only on content change, view observations, aliases, FTS, reparse."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scraper.errors import StoreError
from scraper.models import Page, Verdict
from scraper.pipeline import archive_page, choose_profile
from scraper.reparse import reparse_archive
from scraper.store import SCHEMA_VERSION, Archive

from .conftest import FIXTURES

SEED = FIXTURES / "baigenews" / "seed-tokayev-baku.html"
SEED_URL = "https://baigenews.kz/gosudarstvennyy-vizit-tokaeva-v-baku-noveyshiy-etap-kazakhstansko-azerbaydzhanskikh-otnosheniy_183924/"
T0 = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)

EXPECTED_SCHEMA = """\
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
, codec TEXT NOT NULL DEFAULT 'zlib', base TEXT, depth INTEGER NOT NULL DEFAULT 0, dictionary INTEGER, site TEXT);
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
, last_checked_at TEXT);
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
, request TEXT);
CREATE INDEX crawl_runs_schedule ON crawl_runs(schedule, started_at);
CREATE INDEX articles_author ON articles(author);
CREATE INDEX articles_source ON articles(source);
CREATE INDEX articles_language ON articles(language);
CREATE INDEX view_counts_observed ON view_counts(observed_at);
CREATE INDEX fetches_failed ON fetches(url, status, error_kind, fetched_at, error)
    WHERE error IS NOT NULL OR status >= 400;
CREATE TABLE deliveries (
    key TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
);
CREATE VIEW search_articles AS
    SELECT rowid AS rowid, replace(replace(title, 'ё', 'е'), 'Ё', 'Е') AS title, replace(replace(lead, 'ё', 'е'), 'Ё', 'Е') AS lead, replace(replace(body_text, 'ё', 'е'), 'Ё', 'Е') AS body_text FROM articles;
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, lead, body_text,
    content="search_articles",
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TABLE 'articles_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE 'articles_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE 'articles_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE 'articles_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, lead, body_text)
    SELECT rowid, title, lead, body_text FROM search_articles WHERE rowid = new.rowid;
END;
CREATE TRIGGER articles_bd BEFORE DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, lead, body_text)
    SELECT 'delete', rowid, title, lead, body_text FROM search_articles WHERE rowid = old.rowid;
END;
CREATE TRIGGER articles_bu BEFORE UPDATE OF title, lead, body_text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, lead, body_text)
    SELECT 'delete', rowid, title, lead, body_text FROM search_articles WHERE rowid = old.rowid;
END;
CREATE TRIGGER articles_au AFTER UPDATE OF title, lead, body_text ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, lead, body_text)
    SELECT rowid, title, lead, body_text FROM search_articles WHERE rowid = new.rowid;
END;
CREATE VIEW search_versions AS
    SELECT id, url, version, replace(replace(title, 'ё', 'е'), 'Ё', 'Е') AS title, replace(replace(lead, 'ё', 'е'), 'Ё', 'Е') AS lead, replace(replace(body_text, 'ё', 'е'), 'Ё', 'Е') AS body_text FROM article_versions;
CREATE VIEW search_earlier_versions AS
    SELECT id, title, lead, body_text FROM search_versions v
    WHERE EXISTS (SELECT 1 FROM article_versions later WHERE later.url = v.url AND later.version > v.version);
CREATE VIRTUAL TABLE versions_fts USING fts5(
    title, lead, body_text,
    content="search_earlier_versions",
    content_rowid="id",
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TABLE 'versions_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE 'versions_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE 'versions_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE 'versions_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TRIGGER versions_ai AFTER INSERT ON article_versions BEGIN
    INSERT INTO versions_fts (rowid, title, lead, body_text)
    SELECT id, title, lead, body_text FROM search_versions v
    WHERE v.url = new.url AND v.version < new.version
        AND NOT EXISTS (SELECT 1 FROM versions_fts_docsize d WHERE d.id = v.id);
END;
CREATE TRIGGER versions_bd BEFORE DELETE ON article_versions
WHEN EXISTS (SELECT 1 FROM versions_fts_docsize d WHERE d.id = old.id) BEGIN
    INSERT INTO versions_fts (versions_fts, rowid, title, lead, body_text)
    SELECT 'delete', id, title, lead, body_text FROM search_versions WHERE id = old.id;
END;
CREATE TRIGGER versions_bu BEFORE UPDATE OF title, lead, body_text ON article_versions
WHEN EXISTS (SELECT 1 FROM versions_fts_docsize d WHERE d.id = old.id) BEGIN
    INSERT INTO versions_fts (versions_fts, rowid, title, lead, body_text)
    SELECT 'delete', id, title, lead, body_text FROM search_versions WHERE id = old.id;
END;
CREATE TRIGGER versions_au AFTER UPDATE OF title, lead, body_text ON article_versions
WHEN EXISTS (SELECT 1 FROM article_versions later WHERE later.url = new.url AND later.version > new.version) BEGIN
    INSERT INTO versions_fts (rowid, title, lead, body_text)
    SELECT id, title, lead, body_text FROM search_versions WHERE id = new.id;
END;
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
CREATE TABLE fetch_failures (
    origin TEXT NOT NULL,
    status INTEGER,
    error_kind TEXT,
    failures INTEGER NOT NULL,
    last_at TEXT NOT NULL,
    last_id INTEGER NOT NULL
);
CREATE INDEX fetch_failures_key ON fetch_failures(origin, status, error_kind);
CREATE TRIGGER fetches_failures_ai AFTER INSERT ON fetches WHEN (new.error IS NOT NULL OR new.status >= 400) BEGIN
    INSERT INTO fetch_failures (origin, status, error_kind, failures, last_at, last_id)
    SELECT CASE WHEN instr(substr(new.url, 9), '/') > 0 THEN substr(new.url, 1, 7 + instr(substr(new.url, 9), '/')) ELSE new.url END, new.status, new.error_kind, 0, new.fetched_at, new.id
    WHERE NOT EXISTS (
        SELECT 1 FROM fetch_failures
        WHERE origin = CASE WHEN instr(substr(new.url, 9), '/') > 0 THEN substr(new.url, 1, 7 + instr(substr(new.url, 9), '/')) ELSE new.url END AND status IS new.status AND error_kind IS new.error_kind
    );
    UPDATE fetch_failures SET
        failures = failures + 1,
        last_id = CASE WHEN new.fetched_at >= last_at THEN new.id ELSE last_id END,
        last_at = max(last_at, new.fetched_at)
    WHERE origin = CASE WHEN instr(substr(new.url, 9), '/') > 0 THEN substr(new.url, 1, 7 + instr(substr(new.url, 9), '/')) ELSE new.url END AND status IS new.status AND error_kind IS new.error_kind;
END;
CREATE TRIGGER fetches_failures_ad AFTER DELETE ON fetches WHEN (old.error IS NOT NULL OR old.status >= 400) BEGIN
    DELETE FROM fetch_failures WHERE origin = CASE WHEN instr(substr(old.url, 9), '/') > 0 THEN substr(old.url, 1, 7 + instr(substr(old.url, 9), '/')) ELSE old.url END AND status IS old.status AND error_kind IS old.error_kind;
    INSERT INTO fetch_failures (origin, status, error_kind, failures, last_at, last_id)
    SELECT CASE WHEN instr(substr(url, 9), '/') > 0 THEN substr(url, 1, 7 + instr(substr(url, 9), '/')) ELSE url END AS origin, status, error_kind, count(*), max(fetched_at), id
    FROM fetches WHERE (error IS NOT NULL OR status >= 400) AND url BETWEEN CASE WHEN instr(substr(old.url, 9), '/') > 0 THEN substr(old.url, 1, 7 + instr(substr(old.url, 9), '/')) ELSE old.url END AND CASE WHEN instr(substr(old.url, 9), '/') > 0 THEN substr(old.url, 1, 7 + instr(substr(old.url, 9), '/')) ELSE old.url END || char(1114111) AND CASE WHEN instr(substr(url, 9), '/') > 0 THEN substr(url, 1, 7 + instr(substr(url, 9), '/')) ELSE url END = CASE WHEN instr(substr(old.url, 9), '/') > 0 THEN substr(old.url, 1, 7 + instr(substr(old.url, 9), '/')) ELSE old.url END AND status IS old.status AND error_kind IS old.error_kind
    GROUP BY origin, status, error_kind;
END;
CREATE TRIGGER fetches_failures_au AFTER UPDATE OF url, status, error, error_kind, fetched_at ON fetches
WHEN (old.error IS NOT NULL OR old.status >= 400) OR (new.error IS NOT NULL OR new.status >= 400) BEGIN
    DELETE FROM fetch_failures WHERE origin = CASE WHEN instr(substr(old.url, 9), '/') > 0 THEN substr(old.url, 1, 7 + instr(substr(old.url, 9), '/')) ELSE old.url END AND status IS old.status AND error_kind IS old.error_kind;
    INSERT INTO fetch_failures (origin, status, error_kind, failures, last_at, last_id)
    SELECT CASE WHEN instr(substr(url, 9), '/') > 0 THEN substr(url, 1, 7 + instr(substr(url, 9), '/')) ELSE url END AS origin, status, error_kind, count(*), max(fetched_at), id
    FROM fetches WHERE (error IS NOT NULL OR status >= 400) AND url BETWEEN CASE WHEN instr(substr(old.url, 9), '/') > 0 THEN substr(old.url, 1, 7 + instr(substr(old.url, 9), '/')) ELSE old.url END AND CASE WHEN instr(substr(old.url, 9), '/') > 0 THEN substr(old.url, 1, 7 + instr(substr(old.url, 9), '/')) ELSE old.url END || char(1114111) AND CASE WHEN instr(substr(url, 9), '/') > 0 THEN substr(url, 1, 7 + instr(substr(url, 9), '/')) ELSE url END = CASE WHEN instr(substr(old.url, 9), '/') > 0 THEN substr(old.url, 1, 7 + instr(substr(old.url, 9), '/')) ELSE old.url END AND status IS old.status AND error_kind IS old.error_kind
    GROUP BY origin, status, error_kind;
    DELETE FROM fetch_failures WHERE origin = CASE WHEN instr(substr(new.url, 9), '/') > 0 THEN substr(new.url, 1, 7 + instr(substr(new.url, 9), '/')) ELSE new.url END AND status IS new.status AND error_kind IS new.error_kind;
    INSERT INTO fetch_failures (origin, status, error_kind, failures, last_at, last_id)
    SELECT CASE WHEN instr(substr(url, 9), '/') > 0 THEN substr(url, 1, 7 + instr(substr(url, 9), '/')) ELSE url END AS origin, status, error_kind, count(*), max(fetched_at), id
    FROM fetches WHERE (error IS NOT NULL OR status >= 400) AND url BETWEEN CASE WHEN instr(substr(new.url, 9), '/') > 0 THEN substr(new.url, 1, 7 + instr(substr(new.url, 9), '/')) ELSE new.url END AND CASE WHEN instr(substr(new.url, 9), '/') > 0 THEN substr(new.url, 1, 7 + instr(substr(new.url, 9), '/')) ELSE new.url END || char(1114111) AND CASE WHEN instr(substr(url, 9), '/') > 0 THEN substr(url, 1, 7 + instr(substr(url, 9), '/')) ELSE url END = CASE WHEN instr(substr(new.url, 9), '/') > 0 THEN substr(new.url, 1, 7 + instr(substr(new.url, 9), '/')) ELSE new.url END AND status IS new.status AND error_kind IS new.error_kind
    GROUP BY origin, status, error_kind;
END;
CREATE TABLE recent_view_counts (
    url TEXT NOT NULL,
    id INTEGER NOT NULL,
    observed_at TEXT NOT NULL,
    views INTEGER NOT NULL,
    PRIMARY KEY (url, id)
) WITHOUT ROWID;
CREATE INDEX recent_view_counts_observed ON recent_view_counts(observed_at);
CREATE TRIGGER view_counts_recent_ai AFTER INSERT ON view_counts BEGIN
    DELETE FROM recent_view_counts WHERE observed_at < strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 day');
    INSERT INTO recent_view_counts (url, id, observed_at, views)
    SELECT new.url, new.id, new.observed_at, new.views WHERE new.observed_at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 day');
END;
CREATE TRIGGER view_counts_recent_ad AFTER DELETE ON view_counts BEGIN
    DELETE FROM recent_view_counts WHERE url = old.url AND id = old.id;
END;
CREATE TRIGGER view_counts_recent_au AFTER UPDATE ON view_counts BEGIN
    DELETE FROM recent_view_counts WHERE url = old.url AND id = old.id;
    INSERT INTO recent_view_counts (url, id, observed_at, views)
    SELECT new.url, new.id, new.observed_at, new.views WHERE new.observed_at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 day');
END;
CREATE TABLE article_health (
    site TEXT NOT NULL,
    day TEXT NOT NULL,
    articles INTEGER NOT NULL,
    no_date INTEGER NOT NULL, no_views INTEGER NOT NULL, no_author INTEGER NOT NULL, no_body INTEGER NOT NULL, partial INTEGER NOT NULL,
    PRIMARY KEY (site, day)
) WITHOUT ROWID;
CREATE TRIGGER articles_health_ai AFTER INSERT ON articles BEGIN
    INSERT INTO article_health (site, day, articles, no_date, no_views, no_author, no_body, partial)
    VALUES (new.site, substr(new.first_seen_at, 1, 10), +1, +(new.published_at IS NULL), +(new.views IS NULL), +(coalesce(new.author, '') = ''), +(new.body_text = ''), +(new.parse_status != 'ok'))
    ON CONFLICT (site, day) DO UPDATE SET articles = articles + excluded.articles, no_date = no_date + excluded.no_date, no_views = no_views + excluded.no_views, no_author = no_author + excluded.no_author, no_body = no_body + excluded.no_body, partial = partial + excluded.partial;
END;
CREATE TRIGGER articles_health_ad AFTER DELETE ON articles BEGIN
    INSERT INTO article_health (site, day, articles, no_date, no_views, no_author, no_body, partial)
    VALUES (old.site, substr(old.first_seen_at, 1, 10), -1, -(old.published_at IS NULL), -(old.views IS NULL), -(coalesce(old.author, '') = ''), -(old.body_text = ''), -(old.parse_status != 'ok'))
    ON CONFLICT (site, day) DO UPDATE SET articles = articles + excluded.articles, no_date = no_date + excluded.no_date, no_views = no_views + excluded.no_views, no_author = no_author + excluded.no_author, no_body = no_body + excluded.no_body, partial = partial + excluded.partial;
    DELETE FROM article_health WHERE site = old.site AND day = substr(old.first_seen_at, 1, 10) AND articles = 0;
END;
CREATE TRIGGER articles_health_au AFTER UPDATE ON articles WHEN old.site IS NOT new.site OR substr(old.first_seen_at, 1, 10) IS NOT substr(new.first_seen_at, 1, 10) OR (old.published_at IS NULL) IS NOT (new.published_at IS NULL) OR (old.views IS NULL) IS NOT (new.views IS NULL) OR (coalesce(old.author, '') = '') IS NOT (coalesce(new.author, '') = '') OR (old.body_text = '') IS NOT (new.body_text = '') OR (old.parse_status != 'ok') IS NOT (new.parse_status != 'ok') BEGIN
    INSERT INTO article_health (site, day, articles, no_date, no_views, no_author, no_body, partial)
    VALUES (old.site, substr(old.first_seen_at, 1, 10), -1, -(old.published_at IS NULL), -(old.views IS NULL), -(coalesce(old.author, '') = ''), -(old.body_text = ''), -(old.parse_status != 'ok'))
    ON CONFLICT (site, day) DO UPDATE SET articles = articles + excluded.articles, no_date = no_date + excluded.no_date, no_views = no_views + excluded.no_views, no_author = no_author + excluded.no_author, no_body = no_body + excluded.no_body, partial = partial + excluded.partial;
    INSERT INTO article_health (site, day, articles, no_date, no_views, no_author, no_body, partial)
    VALUES (new.site, substr(new.first_seen_at, 1, 10), +1, +(new.published_at IS NULL), +(new.views IS NULL), +(coalesce(new.author, '') = ''), +(new.body_text = ''), +(new.parse_status != 'ok'))
    ON CONFLICT (site, day) DO UPDATE SET articles = articles + excluded.articles, no_date = no_date + excluded.no_date, no_views = no_views + excluded.no_views, no_author = no_author + excluded.no_author, no_body = no_body + excluded.no_body, partial = partial + excluded.partial;
    DELETE FROM article_health WHERE site = old.site AND day = substr(old.first_seen_at, 1, 10) AND articles = 0;
END;"""


def make_page(html: str, *, url: str = SEED_URL, at: datetime = T0, status: int = 200) -> Page:
    return Page(
        url=url,
        final_url=url,
        status=status,
        headers={"etag": '"v1"'},
        body=html.encode("utf-8"),
        text=html,
        encoding="utf-8",
        encoding_source="header",
        content_type="text/html",
        fetched_at=at,
    )


def seed_html() -> str:
    return SEED.read_text(encoding="utf-8")


def store(archive: Archive, html: str, **kwargs: object) -> object:
    page = make_page(html, **kwargs)  # type: ignore[arg-type]
    return archive_page(archive, page, choose_profile(page.url, "baigenews"))[1]


def rows(archive: Archive, sql: str) -> list[tuple[object, ...]]:
    return list(archive.db.execute(sql).fetchall())


def test_schema_is_pinned(db_path: Path) -> None:
    with Archive(db_path) as archive:
        assert archive.db.schema == EXPECTED_SCHEMA
        assert archive.schema_version == SCHEMA_VERSION
        assert archive.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert archive.db.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 30000


def test_rescraping_unchanged_article_adds_a_view_observation_not_a_version(db_path: Path) -> None:
    with Archive(db_path) as archive:
        first = store(archive, seed_html())
        html = seed_html().replace(">2329<", ">2410<")
        second = store(archive, html, at=T0 + timedelta(hours=1))
        assert first.new_article and first.version == 1
        assert not second.new_article and not second.new_version and second.version == 1
        assert rows(archive, "SELECT version FROM article_versions") == [(1,)]
        assert rows(archive, "SELECT views FROM view_counts ORDER BY observed_at") == [(2329,), (2410,)]
        assert rows(archive, "SELECT views, version FROM articles") == [(2410, 1)]
        assert rows(archive, "SELECT count(*) FROM fetches") == [(2,)]


def test_changed_content_makes_a_new_version_naming_the_fields(db_path: Path) -> None:
    with Archive(db_path) as archive:
        store(archive, seed_html())
        html = seed_html().replace("Политолог подчеркнул важность", "Эксперт подчеркнул важность")
        html = html.replace("новейший этап казахстанско", "новый этап казахстанско")
        result = store(archive, html, at=T0 + timedelta(hours=2))
        assert result.new_version and result.version == 2
        assert set(result.changed_fields) == {"title", "body_text"}
        versions = rows(archive, "SELECT version, changed_fields, title FROM article_versions ORDER BY version")
        assert versions[1][0] == 2 and json.loads(str(versions[1][1])) == ["title", "body_text"]
        assert "новый этап" in str(versions[1][2]) and "новейший этап" in str(versions[0][2])
        assert rows(archive, "SELECT version FROM articles") == [(2,)]
        # The raw page of each version is kept.
        assert rows(archive, "SELECT count(*) FROM pages") == [(2,)]


def test_tracking_parameters_do_not_make_a_second_article(db_path: Path) -> None:
    with Archive(db_path) as archive:
        store(archive, seed_html(), url=SEED_URL + "?utm_source=telegram")
        store(archive, seed_html(), url=SEED_URL.replace("https://", "https://WWW.") + "#comments")
        assert rows(archive, "SELECT count(*) FROM articles") == [(1,)]
        aliases = {row[0] for row in rows(archive, "SELECT alias FROM url_aliases")}
        assert aliases == {SEED_URL.replace("https://", "https://www.")}


def test_a_partial_parse_never_replaces_a_good_capture(db_path: Path) -> None:
    with Archive(db_path) as archive:
        store(archive, seed_html())
        cut = seed_html()[: len(seed_html()) // 2]
        result = store(archive, cut, at=T0 + timedelta(hours=1))
        assert not result.new_version
        assert rows(archive, "SELECT count(*) FROM article_versions") == [(1,)]
        assert rows(archive, "SELECT parse_status FROM articles") == [("ok",)]


def test_full_text_search_finds_cyrillic_and_kazakh_in_any_case(db_path: Path) -> None:
    with Archive(db_path) as archive:
        store(archive, seed_html())
        kazakh = (FIXTURES / "baigenews" / "kazakh-tokayev-visit.html").read_text(encoding="utf-8")
        store(
            archive,
            kazakh,
            url="https://baigenews.kz/kz/toqaev-azerbayzhangha-memlekettik-saparmen-bardy_184215/",
        )

        def search(term: str) -> int:
            sql = "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?"
            return int(archive.db.execute(sql, (term,)).fetchone()[0])

        assert search("ТОКАЕВ") == search("токаев") == 1
        assert search("Әзербайжан") == search("әзербайжан") == search("ӘЗЕРБАЙЖАН") == 1
        assert search("қазақстан") == 1
        assert search("Мемлекет") == 1
        assert search("токаев*") == 1


def test_404_after_a_good_capture_marks_the_article_removed(db_path: Path) -> None:
    with Archive(db_path) as archive:
        store(archive, seed_html())
        page = make_page("<h1>Not found</h1>", status=404, at=T0 + timedelta(days=1))
        outcome, capture = archive_page(archive, page, choose_profile(page.url, "baigenews"))
        assert (outcome.verdict, capture) == (Verdict.GONE, None)
        assert outcome.error is not None and "answered HTTP 404" in outcome.error
        removed = rows(archive, "SELECT removed_at FROM articles")
        assert removed == [("2024-03-13T10:00:00+00:00",)]
        assert rows(archive, "SELECT count(*) FROM article_versions") == [(1,)]


def test_reparse_rebuilds_from_stored_pages(db_path: Path) -> None:
    with Archive(db_path) as archive:
        store(archive, seed_html())
        archive.db.execute("UPDATE articles SET title = 'broken', views = NULL")
        archive.db.execute("UPDATE article_versions SET title = 'broken'")
        summary = reparse_archive(archive)
        assert (summary.articles, summary.versions, summary.changed) == (1, 1, 1)
        title, views = rows(archive, "SELECT title, views FROM articles")[0]
        assert str(title).startswith("Государственный визит Токаева")
        assert views == 2329
        assert rows(archive, "SELECT title FROM article_versions")[0][0] == title


def test_corrupt_archive_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    Archive(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(StoreError, match="corrupt"):
        Archive(path)
    assert path.read_bytes() == before


def test_unopenable_path_gives_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=str(blocker)):
        Archive(blocker / "archive.db")


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    Archive(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer version"):
        Archive(db_path)


def test_one_transaction_per_page(db_path: Path) -> None:
    """A failure inside the capture leaves no page or article row behind: the page's failure is written instead."""
    with Archive(db_path) as archive:
        archive.db.execute("CREATE TRIGGER boom BEFORE INSERT ON view_counts BEGIN SELECT RAISE(ABORT, 'boom'); END")
        assert store(archive, seed_html()) is None
        for table in ("pages", "articles", "article_versions", "view_counts"):
            assert rows(archive, f"SELECT count(*) FROM {table}") == [(0,)], table
        [(kind, error)] = rows(archive, "SELECT error_kind, error FROM fetches")
        assert kind == "internal" and "IntegrityError: boom" in str(error)
