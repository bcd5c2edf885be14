"""The archive's schema: the tables as SQL, and the migrations that bring an older archive up to date."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

#: Bumped by every migration; stored in PRAGMA user_version.
SCHEMA_VERSION = 7

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


def _folded(prefix: str = "") -> str:
    """The searched columns of a row, as the search index holds them: ё as е (unicode61 folds case, not ё)."""
    return ", ".join(
        f"replace(replace({prefix}{name}, 'ё', 'е'), 'Ё', 'Е') AS {name}" for name in ("title", "lead", "body_text")
    )


#: The columns the search index covers, in the order of the bm25 weights below.
SEARCH_COLUMNS = "title, lead, body_text"
#: bm25 weights of title, lead and body: a word in the headline says more about an article than one deep in
#: its body. Stored as each index's default rank, so `ORDER BY rank` in any SQLite tool ranks the same way.
SEARCH_WEIGHTS = "10.0, 4.0, 1.0"
SEARCH_RANK = f"bm25({SEARCH_WEIGHTS})"

# Search (see docs/search.md). Each index reads its text through a view that folds ё to е (the one place that
# says what is indexed): FTS5's own 'rebuild' and 'integrity-check' see what the triggers index, and the
# tokenizer stays stock unicode61; word forms are matched by rewriting the query (scraper/search/query.py).
# versions_fts covers the versions an article has moved on from (each but its latest), so text that an edit
# removed can still be found: a version is indexed when the next one is captured. Whether a version is in
# versions_fts is whether FTS5 keeps its size (versions_fts_docsize), so no trigger removes what was not there.
# The old text is taken out of an index BEFORE a change, through the view, while the row still holds it.
_SCHEMA_V5 = f"""
DROP TRIGGER articles_ai;
DROP TRIGGER articles_ad;
DROP TRIGGER articles_au;
DROP TABLE articles_fts;
CREATE VIEW search_articles AS
    SELECT rowid AS rowid, {_folded()} FROM articles;
CREATE VIRTUAL TABLE articles_fts USING fts5(
    {SEARCH_COLUMNS},
    content="search_articles",
    tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO articles_fts (articles_fts, rank) VALUES ('rank', '{SEARCH_RANK}');
INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, {SEARCH_COLUMNS})
    SELECT rowid, {SEARCH_COLUMNS} FROM search_articles WHERE rowid = new.rowid;
END;
CREATE TRIGGER articles_bd BEFORE DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, {SEARCH_COLUMNS})
    SELECT 'delete', rowid, {SEARCH_COLUMNS} FROM search_articles WHERE rowid = old.rowid;
END;
CREATE TRIGGER articles_bu BEFORE UPDATE OF title, lead, body_text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, {SEARCH_COLUMNS})
    SELECT 'delete', rowid, {SEARCH_COLUMNS} FROM search_articles WHERE rowid = old.rowid;
END;
CREATE TRIGGER articles_au AFTER UPDATE OF title, lead, body_text ON articles BEGIN
    INSERT INTO articles_fts (rowid, {SEARCH_COLUMNS})
    SELECT rowid, {SEARCH_COLUMNS} FROM search_articles WHERE rowid = new.rowid;
END;
CREATE VIEW search_versions AS
    SELECT id, url, version, {_folded()} FROM article_versions;
CREATE VIEW search_earlier_versions AS
    SELECT id, {SEARCH_COLUMNS} FROM search_versions v
    WHERE EXISTS (SELECT 1 FROM article_versions later WHERE later.url = v.url AND later.version > v.version);
CREATE VIRTUAL TABLE versions_fts USING fts5(
    {SEARCH_COLUMNS},
    content="search_earlier_versions",
    content_rowid="id",
    tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO versions_fts (versions_fts, rank) VALUES ('rank', '{SEARCH_RANK}');
INSERT INTO versions_fts (versions_fts) VALUES ('rebuild');
CREATE TRIGGER versions_ai AFTER INSERT ON article_versions BEGIN
    INSERT INTO versions_fts (rowid, {SEARCH_COLUMNS})
    SELECT id, {SEARCH_COLUMNS} FROM search_versions v
    WHERE v.url = new.url AND v.version < new.version
        AND NOT EXISTS (SELECT 1 FROM versions_fts_docsize d WHERE d.id = v.id);
END;
CREATE TRIGGER versions_bd BEFORE DELETE ON article_versions
WHEN EXISTS (SELECT 1 FROM versions_fts_docsize d WHERE d.id = old.id) BEGIN
    INSERT INTO versions_fts (versions_fts, rowid, {SEARCH_COLUMNS})
    SELECT 'delete', id, {SEARCH_COLUMNS} FROM search_versions WHERE id = old.id;
END;
CREATE TRIGGER versions_bu BEFORE UPDATE OF title, lead, body_text ON article_versions
WHEN EXISTS (SELECT 1 FROM versions_fts_docsize d WHERE d.id = old.id) BEGIN
    INSERT INTO versions_fts (versions_fts, rowid, {SEARCH_COLUMNS})
    SELECT 'delete', id, {SEARCH_COLUMNS} FROM search_versions WHERE id = old.id;
END;
CREATE TRIGGER versions_au AFTER UPDATE OF title, lead, body_text ON article_versions
WHEN EXISTS (SELECT 1 FROM article_versions later WHERE later.url = new.url AND later.version > new.version) BEGIN
    INSERT INTO versions_fts (rowid, {SEARCH_COLUMNS})
    SELECT id, {SEARCH_COLUMNS} FROM search_versions WHERE id = new.id;
END;
"""


def _migrate_to_5(db: sqlite3.Connection) -> None:
    for statement in _statements(_SCHEMA_V5):
        db.execute(statement)


# Raw pages stored by what changed (scraper/store/pages.py). Rows written before keep codec 'zlib' and stay
# readable; `scrape storage migrate` re-encodes them in resumable batches.
_SCHEMA_V6 = """
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


def _migrate_to_6(db: sqlite3.Connection) -> None:
    for statement in _statements(_SCHEMA_V6):
        db.execute(statement)


def _origin(url: str) -> str:
    """The scheme, host and port of a URL ("https://www.site.kz:8080"): what failed_fetches groups by."""
    slash = f"instr(substr({url}, 9), '/')"
    return f"CASE WHEN {slash} > 0 THEN substr({url}, 1, 7 + {slash}) ELSE {url} END"


def _failed(row: str = "") -> str:
    """A fetch that got no usable answer: the condition of the partial index fetches_failed."""
    prefix = f"{row}." if row else ""
    return f"({prefix}error IS NOT NULL OR {prefix}status >= 400)"


def _failure_groups(where: str = "") -> str:
    """Failed fetches counted by origin, status and kind, with the latest: the rows of fetch_failures."""
    return f"""INSERT INTO fetch_failures (origin, status, error_kind, failures, last_at, last_id)
    SELECT {_origin("url")} AS origin, status, error_kind, count(*), max(fetched_at), id
    FROM fetches WHERE {_failed()}{where}
    GROUP BY origin, status, error_kind"""


def _refresh_failures(row: str) -> str:
    """Count the failure group of `row` (old or new, in a trigger) again from the ledger."""
    key = f"origin = {_origin(f'{row}.url')} AND status IS {row}.status AND error_kind IS {row}.error_kind"
    # The URLs of one origin all begin with it, so a range of the index fetches_failed holds the group.
    group = (
        f" AND url BETWEEN {_origin(f'{row}.url')} AND {_origin(f'{row}.url')} || char(1114111)"
        f" AND {_origin('url')} = {_origin(f'{row}.url')}"
        f" AND status IS {row}.status AND error_kind IS {row}.error_kind"
    )
    return f"""    DELETE FROM fetch_failures WHERE {key};
    {_failure_groups(group)};"""


#: The flags the extraction_health report counts, of an articles row: missing date, views, author, body; partial.
_HEALTH = ("no_date", "no_views", "no_author", "no_body", "partial")


def _health_flags(row: str) -> list[str]:
    return [
        f"{row}.published_at IS NULL",
        f"{row}.views IS NULL",
        f"coalesce({row}.author, '') = ''",
        f"{row}.body_text = ''",
        f"{row}.parse_status != 'ok'",
    ]


def _count_health(row: str, sign: str) -> str:
    """Add (sign "+") or take away (sign "-") an articles row in article_health."""
    values = ", ".join(f"{sign}({flag})" for flag in _health_flags(row))
    sums = ", ".join(f"{name} = {name} + excluded.{name}" for name in ("articles", *_HEALTH))
    return f"""    INSERT INTO article_health (site, day, articles, {", ".join(_HEALTH)})
    VALUES ({row}.site, substr({row}.first_seen_at, 1, 10), {sign}1, {values})
    ON CONFLICT (site, day) DO UPDATE SET {sums};"""


def _drop_empty_health(row: str) -> str:
    return (
        f"    DELETE FROM article_health"
        f" WHERE site = {row}.site AND day = substr({row}.first_seen_at, 1, 10) AND articles = 0;"
    )


_HEALTH_SUMS = ", ".join(f"sum({flag})" for flag in _health_flags("articles"))
_HEALTH_CHANGED = " OR ".join(
    [
        "old.site IS NOT new.site",
        "substr(old.first_seen_at, 1, 10) IS NOT substr(new.first_seen_at, 1, 10)",
        *(f"({a}) IS NOT ({b})" for a, b in zip(_health_flags("old"), _health_flags("new"), strict=True)),
    ]
)

#: The start of the window of the fastest_growing report: a day ago, as view_counts.observed_at is written.
_DAY_AGO = "strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 day')"

# Summaries for the whole-archive reports, kept by triggers as the archive is written, so that a report reads a
# few hundred rows instead of every failed fetch, every article or a day of readings spread over the whole table
# (measured with bench/serve.py on 100,000 articles). fetch_failures: failed fetches counted by origin, status
# and kind, with the latest (the crawler never changes a fetch row; a change or a removal counts its group again
# from the ledger). article_health: articles counted by site and day of first capture, with the flags the report
# shows; its update trigger fires only when a flag or the group changes, not on each re-visit's view count.
# recent_view_counts: a copy of the readings of the last day (fastest_growing's window), by article; each new
# reading drops those that have left the window, so the table holds a day of readings at most.
_SCHEMA_V7 = f"""
CREATE TABLE fetch_failures (
    origin TEXT NOT NULL,
    status INTEGER,
    error_kind TEXT,
    failures INTEGER NOT NULL,
    last_at TEXT NOT NULL,
    last_id INTEGER NOT NULL
);
CREATE INDEX fetch_failures_key ON fetch_failures(origin, status, error_kind);
{_failure_groups()};
CREATE TRIGGER fetches_failures_ai AFTER INSERT ON fetches WHEN {_failed("new")} BEGIN
    INSERT INTO fetch_failures (origin, status, error_kind, failures, last_at, last_id)
    SELECT {_origin("new.url")}, new.status, new.error_kind, 0, new.fetched_at, new.id
    WHERE NOT EXISTS (
        SELECT 1 FROM fetch_failures
        WHERE origin = {_origin("new.url")} AND status IS new.status AND error_kind IS new.error_kind
    );
    UPDATE fetch_failures SET
        failures = failures + 1,
        last_id = CASE WHEN new.fetched_at >= last_at THEN new.id ELSE last_id END,
        last_at = max(last_at, new.fetched_at)
    WHERE origin = {_origin("new.url")} AND status IS new.status AND error_kind IS new.error_kind;
END;
CREATE TRIGGER fetches_failures_ad AFTER DELETE ON fetches WHEN {_failed("old")} BEGIN
{_refresh_failures("old")}
END;
CREATE TRIGGER fetches_failures_au AFTER UPDATE OF url, status, error, error_kind, fetched_at ON fetches
WHEN {_failed("old")} OR {_failed("new")} BEGIN
{_refresh_failures("old")}
{_refresh_failures("new")}
END;
CREATE TABLE recent_view_counts (
    url TEXT NOT NULL,
    id INTEGER NOT NULL,
    observed_at TEXT NOT NULL,
    views INTEGER NOT NULL,
    PRIMARY KEY (url, id)
) WITHOUT ROWID;
CREATE INDEX recent_view_counts_observed ON recent_view_counts(observed_at);
INSERT INTO recent_view_counts (url, id, observed_at, views)
    SELECT url, id, observed_at, views FROM view_counts WHERE observed_at >= {_DAY_AGO};
CREATE TRIGGER view_counts_recent_ai AFTER INSERT ON view_counts BEGIN
    DELETE FROM recent_view_counts WHERE observed_at < {_DAY_AGO};
    INSERT INTO recent_view_counts (url, id, observed_at, views)
    SELECT new.url, new.id, new.observed_at, new.views WHERE new.observed_at >= {_DAY_AGO};
END;
CREATE TRIGGER view_counts_recent_ad AFTER DELETE ON view_counts BEGIN
    DELETE FROM recent_view_counts WHERE url = old.url AND id = old.id;
END;
CREATE TRIGGER view_counts_recent_au AFTER UPDATE ON view_counts BEGIN
    DELETE FROM recent_view_counts WHERE url = old.url AND id = old.id;
    INSERT INTO recent_view_counts (url, id, observed_at, views)
    SELECT new.url, new.id, new.observed_at, new.views WHERE new.observed_at >= {_DAY_AGO};
END;
CREATE TABLE article_health (
    site TEXT NOT NULL,
    day TEXT NOT NULL,
    articles INTEGER NOT NULL,
    {", ".join(f"{name} INTEGER NOT NULL" for name in _HEALTH)},
    PRIMARY KEY (site, day)
) WITHOUT ROWID;
INSERT INTO article_health (site, day, articles, {", ".join(_HEALTH)})
    SELECT site, substr(first_seen_at, 1, 10) AS day, count(*), {_HEALTH_SUMS}
    FROM articles GROUP BY site, day;
CREATE TRIGGER articles_health_ai AFTER INSERT ON articles BEGIN
{_count_health("new", "+")}
END;
CREATE TRIGGER articles_health_ad AFTER DELETE ON articles BEGIN
{_count_health("old", "-")}
{_drop_empty_health("old")}
END;
CREATE TRIGGER articles_health_au AFTER UPDATE ON articles WHEN {_HEALTH_CHANGED} BEGIN
{_count_health("old", "-")}
{_count_health("new", "+")}
{_drop_empty_health("old")}
END;
"""


def _migrate_to_7(db: sqlite3.Connection) -> None:
    for statement in _statements(_SCHEMA_V7):
        db.execute(statement)


#: version -> the step that brings the schema from version-1 to version, run in one transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    3: _migrate_to_3,
    4: _migrate_to_4,
    5: _migrate_to_5,
    6: _migrate_to_6,
    7: _migrate_to_7,
}
