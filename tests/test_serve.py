"""Datasette on the archive: metadata, search, facets, canned queries, article pages, read-only serving under writes.

One archive is built per session from the local demo site (crawled twice, with an article edited and one
removed in between) and copied for each module that needs it; test_browser.py uses the same helpers.
"""

from __future__ import annotations

import asyncio
import re
import runpy
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from datasette.utils import tilde_encode
from datasette.utils.testing import TestClient as DatasetteClient

from scraper.demosite.site import FIRST_ID
from scraper.serve import plugin, server
from scraper.serve.article import FieldChange, field_change, http_link, safe_body
from scraper.serve.chart import view_chart
from scraper.store import upgrade

from .conftest import ROOT, start_site
from .crawling import control, crawl, site_articles, write_schedule

EDITED_TITLE = "Исправлено: заголовок после публикации"
EDITED_PARAGRAPH = "Редакция дополнила материал новым абзацем."
#: The demo site's articles by position: 2 is edited and 1 removed between the crawls; 4 is in Kazakh.
EDITED, REMOVED, KAZAKH = 2, 1, 4
TOKEN = re.compile(r"\w+")

_built: dict[str, Path] = {}


# -- the shared archive -------------------------------------------------------------


def built_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Crawl the demo site into an archive once per session: two runs, an edit and a removal between them."""
    if "path" in _built:
        return _built["path"]
    folder = tmp_path_factory.mktemp("built-archive")
    # 12 articles: few enough to crawl in seconds, with the hostile ones that fail (429, 503, a redirect loop).
    site = start_site("--articles", "12", "--crawl-delay", "0")
    try:
        schedule = write_schedule(folder, site)
        db = folder / "archive.db"
        first = crawl(schedule, db)
        assert "new articles" in first.stderr, first.stderr
        on_site = site_articles(site)  # in position order
        control(site, f"edit/{on_site[EDITED]['id']}", title=EDITED_TITLE, paragraph=EDITED_PARAGRAPH)
        control(site, f"remove/{on_site[REMOVED]['id']}", status="404")
        time.sleep(1.1)  # the test schedule re-visits articles a second after their last visit
        second = crawl(schedule, db)
        assert "new versions" in second.stderr, second.stderr
    finally:
        site.process.terminate()
        site.process.wait(timeout=10)
    _built["path"] = db
    return db


def copy_archive(source: Path, target: Path) -> Path:
    """A consistent copy (SQLite's backup API), so a module can change its own."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    with closing(sqlite3.connect(target)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    return target


def rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]


def article_url(db: Path, number: int) -> str:
    """The canonical URL of the demo site's article at this position (its id is FIRST_ID + 7 * number + 3)."""
    found = rows(db, "SELECT url FROM articles WHERE article_id = ?", str(FIRST_ID + number * 7 + 3))
    assert found, f"article {number} is not archived"
    return str(found[0]["url"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A real `scrape serve` process on a free loopback port."""

    def __init__(self, db: Path, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scraper", "serve", "--db", str(db), "--port", str(self.port)],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base}/-/versions.json", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"scrape serve did not start: {log.read_text()}")
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_archive(built_archive(tmp_path_factory), tmp_path_factory.mktemp("serve") / "archive.db")


@pytest.fixture(scope="module")
def client(archive: Path) -> DatasetteClient:
    return DatasetteClient(server.build(archive))


def get_json(client: DatasetteClient, path: str) -> Any:
    response = client.get(path)
    assert response.status == 200, response.text[:500]
    return response.json


def query_rows(client: DatasetteClient, name: str) -> list[dict[str, Any]]:
    return list(get_json(client, f"/archive/{name}.json?_shape=array"))


# -- the archive the tests read --------------------------------------------------------


def test_the_built_archive_has_what_the_queries_need(archive: Path) -> None:
    assert rows(archive, "SELECT count(*) AS n FROM articles")[0]["n"] >= 9
    assert rows(archive, "SELECT count(DISTINCT language) AS n FROM articles")[0]["n"] == 2
    edited = rows(archive, "SELECT version, title FROM articles WHERE url = ?", article_url(archive, EDITED))
    assert edited == [{"version": 2, "title": EDITED_TITLE}]
    assert rows(
        archive, "SELECT removed_at IS NOT NULL AS gone FROM articles WHERE url = ?", article_url(archive, REMOVED)
    ) == [{"gone": 1}]
    assert (
        rows(archive, "SELECT min(n) AS least FROM (SELECT count(*) AS n FROM view_counts GROUP BY url)")[0]["least"]
        >= 1
    )


# -- serving ---------------------------------------------------------------------------


def test_scrape_serve_runs_the_documented_datasette_command() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "scraper", "serve", "--db", "archive.db", "--show-command"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.strip()
    assert shlex.split(shown) == ["datasette", *server.datasette_args("archive.db")]
    assert "-i" not in shlex.split(shown) and "--immutable" not in shown
    # The documented plain command (from a checkout) is the same line with the package's paths relative.
    section = (ROOT / "docs" / "browsing.md").read_text(encoding="utf-8")
    documented = re.search(r"```bash\n(datasette serve .*?)\n```", section, re.DOTALL)
    assert documented is not None
    assert shlex.split(documented.group(1).replace("\\\n", " ")) == [
        "datasette",
        *server.datasette_args("archive.db", root=ROOT),
    ]


def test_serve_refuses_what_is_not_an_archive(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "scraper", "serve", "--db", str(tmp_path / "none.db")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"Error: There is no archive at {tmp_path / 'none.db'}; run `scrape crawl` or `scrape url` first."
    )


def test_an_immutable_archive_is_refused(archive: Path) -> None:
    from datasette.app import Datasette
    from datasette.utils import StartupError

    ds = Datasette(immutables=[str(archive)], plugins_dir=str(server.PLUGINS_DIR))
    with pytest.raises(StartupError, match=r"opened immutable \(-i\)"):
        DatasetteClient(ds).get("/")


def test_served_read_only_with_safe_headers(client: DatasetteClient) -> None:
    database = client.ds.databases["archive"]
    assert database.is_mutable  # re-read as the crawler writes (never -i)
    # Every read connection is opened with mode=ro: even a statement that got past Datasette could not write.
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(database.execute("INSERT INTO url_aliases (alias, url) VALUES ('x', 'y')"))
    response = client.get("/archive.json?sql=" + quote("delete from articles"))
    assert response.status == 400
    page = client.get("/archive/articles")
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data:" in policy and "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_wheel_ships_every_file_the_package_reads(tmp_path: Path) -> None:
    # The wheel as it is built (hatchling, no network), not the configuration that says what goes in it.
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "--target", "wheel", "--directory", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    package = ROOT / "scraper"
    needed = [
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    assert "scraper/serve/metadata.yaml" in needed and "scraper/demosite/demo.toml" in needed
    assert not [name for name in needed if name not in shipped]


def test_the_plugins_dir_file_registers_every_hook() -> None:
    hooks = {name for name, value in vars(plugin).items() if hasattr(value, "datasette_impl")}
    loaded = runpy.run_path(str(server.PLUGINS_DIR / "archive_plugin.py"))
    assert hooks and {name for name in loaded if hasattr(loaded[name], "datasette_impl")} == hooks


def test_every_table_and_column_is_described(archive: Path, client: DatasetteClient) -> None:
    tables = get_json(client, "/archive.json")["tables"]
    described = plugin.archive_metadata()["tables"]
    for table in tables:
        name = table["name"]
        if name.startswith(("articles_fts", "versions_fts")):
            assert table["hidden"]  # the full-text indexes are an implementation detail
            continue
        assert described.get(name, {}).get("description"), f"table {name} has no description"
        columns = [row["name"] for row in rows(archive, f"PRAGMA table_info({name})")]
        missing = [column for column in columns if column not in described[name].get("columns", {})]
        assert not missing, f"{name}: columns without a description in scraper/serve/metadata.yaml: {missing}"
    for view in get_json(client, "/archive.json")["views"]:
        assert described.get(view["name"], {}).get("description"), f"view {view['name']} has no description"
    hidden = {table["name"] for table in tables if table["hidden"]}
    assert {"pages", "frontier", "url_aliases"} <= hidden
    assert {"articles", "article_versions", "view_counts", "fetches", "crawl_runs"}.isdisjoint(hidden)


def test_home_page_explains_the_archive(client: DatasetteClient) -> None:
    home = client.get("/").text
    assert "What is in" in home
    for name in ("most_viewed_7d", "fastest_growing", "edited_after_publication", "removed_articles"):
        assert f'href="/archive/{name}"' in home
    assert "One row per article" in home


def test_an_archive_under_another_name_is_described_the_same(archive: Path, tmp_path: Path) -> None:
    renamed = copy_archive(archive, tmp_path / "demo.db")
    other = DatasetteClient(server.build(renamed))
    data = other.get("/demo/articles.json?_size=1").json
    assert data["human_description_en"] == "sorted by published_at descending"
    assert {"site", "author", "source", "language", "published_at"} <= set(data["facet_results"])
    assert other.get("/demo/removed_articles.json?_shape=array").status == 200


def test_a_folder_of_archives_is_served_with_one_search_over_all(archive: Path, tmp_path: Path) -> None:
    """`scrape serve --archives DIR`: every shard of the distributed writer, described alike, searched at once."""
    folder = tmp_path / "archives"
    folder.mkdir()
    copy_archive(archive, folder / "127.0.0.1_8001.db")
    copy_archive(archive, folder / "127.0.0.1_8002.db")
    with closing(sqlite3.connect(folder / "notes.db")) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")  # not an archive: left out
    served = server.archives_in(folder)
    assert [path.name for path in served] == ["127.0.0.1_8001.db", "127.0.0.1_8002.db"]
    both = DatasetteClient(server.build(served))
    title = rows(archive, "SELECT title FROM articles WHERE title IS NOT NULL ORDER BY published_at DESC LIMIT 1")
    word = max(TOKEN.findall(title[0]["title"]), key=len)
    page = both.get("/-/search?q=" + quote(word))
    assert page.status == 200 and "unsafe-inline" not in page.headers["content-security-policy"].split(";")[1]
    expected = len(containing(archive, word))
    assert f"{expected * 2:,} articles match in 2 archives" in page.text
    for shard in ("127.0.0.1_8001", "127.0.0.1_8002"):
        path = both.ds.urls.database(shard)  # Datasette writes the dots of a name as ~2E
        assert f'href="{path}/articles/' in page.text
        assert f"{path}/articles?_search=" in page.text
        # Each shard has the archive's metadata and canned queries.
        assert both.get(f"{path}/removed_articles.json?_shape=array").status == 200
        assert both.get(f"{path}/articles.json?_size=1").json["human_description_en"] == (
            "sorted by published_at descending"
        )
    assert 'action="/-/search"' in both.get("/").text
    assert "0 articles match in 2 archives" in both.get("/-/search?q=" + quote('"unbalanced zzzqqq')).text


def test_serve_takes_a_folder_or_a_file_not_both(tmp_path: Path) -> None:
    both = subprocess.run(
        [sys.executable, "-m", "scraper", "serve", "--db", "a.db", "--archives", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert both.returncode == 2 and "Give --db or --archives, not both." in both.stderr
    empty = subprocess.run(
        [sys.executable, "-m", "scraper", "serve", "--archives", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert empty.returncode == 1 and "holds no archive" in empty.stderr


# -- the articles table ------------------------------------------------------------------


def test_articles_open_newest_first_with_facets(archive: Path, client: DatasetteClient) -> None:
    data = get_json(client, "/archive/articles.json?_size=max&_shape=objects")
    assert data["human_description_en"] == "sorted by published_at descending"
    published = [row["published_at"] for row in data["rows"]]
    # ISO strings of one site share an offset, so they sort as the times do.
    assert published == sorted(published, reverse=True)
    stored = rows(archive, "SELECT site, author, source, language, published_at FROM articles")
    facets = data["facet_results"]
    for column in ("site", "author", "source", "language"):
        expected = Counter(row[column] for row in stored if row[column] is not None)
        got = {item["value"]: item["count"] for item in facets[column]["results"]}
        assert got == dict(expected), column
    days = Counter(row["published_at"][:10] for row in stored if row["published_at"])
    day_facet = facets["published_at"]
    assert day_facet["type"] == "day"
    assert [(item["value"], item["count"]) for item in day_facet["results"]] == sorted(days.items(), reverse=True)
    # Choosing a day keeps that day's articles only.
    first_day = day_facet["results"][0]
    toggle = urlsplit(first_day["toggle_url"])
    assert f"published_at__startswith={first_day['value']}" in toggle.query
    chosen = get_json(client, f"{toggle.path}?{toggle.query}")
    assert chosen["filtered_table_rows_count"] == first_day["count"]


def search(client: DatasetteClient, term: str) -> set[str]:
    data = get_json(client, "/archive/articles.json?_shape=array&_size=max&_col=title&_search=" + quote(term))
    return {row["url"] for row in data}


def containing(archive: Path, word: str) -> set[str]:
    """Articles whose title, lead or body has `word` as a whole word, in any case."""
    wanted = word.casefold()
    found = set()
    for row in rows(archive, "SELECT url, title, lead, body_text FROM articles"):
        text = " ".join(value or "" for value in (row["title"], row["lead"], row["body_text"]))
        if wanted in {token.casefold() for token in TOKEN.findall(text)}:
            found.add(row["url"])
    return found


def test_search_finds_russian_in_any_case(archive: Path, client: DatasetteClient) -> None:
    expected = containing(archive, "токаев")
    assert expected
    assert search(client, "ТОКАЕВ") == search(client, "токаев") == search(client, "Токаев") == expected


def test_search_finds_kazakh_in_any_case(archive: Path, client: DatasetteClient) -> None:
    kazakh = rows(archive, "SELECT url, title, body_text FROM articles WHERE url = ?", article_url(archive, KAZAKH))[0]
    words = [w for w in TOKEN.findall(kazakh["title"] + " " + kazakh["body_text"]) if set(w.lower()) & set("әүқ")]
    assert words, kazakh
    word = max(words, key=len)
    expected = containing(archive, word)
    assert kazakh["url"] in expected
    assert search(client, word.upper()) == search(client, word.lower()) == expected


def test_titles_link_to_article_pages(archive: Path, client: DatasetteClient) -> None:
    url = article_url(archive, EDITED)
    html = client.get("/archive/articles").text
    assert f'href="/archive/articles/{tilde_encode(url)}">{EDITED_TITLE}</a>' in html


# -- canned queries ----------------------------------------------------------------------


def test_most_viewed_in_the_last_7_days(archive: Path, client: DatasetteClient) -> None:
    since = datetime.now(UTC) - timedelta(days=7)
    stored = rows(archive, "SELECT url, views, published_at FROM articles WHERE views IS NOT NULL")
    recent = [row for row in stored if datetime.fromisoformat(row["published_at"]) >= since]
    got = query_rows(client, "most_viewed_7d")
    assert {row["url"] for row in got} == {row["url"] for row in recent}
    assert [row["views"] for row in got] == sorted((row["views"] for row in recent), reverse=True)
    first = {row["url"]: row["views"] for row in rows(archive, "SELECT url, views FROM view_counts ORDER BY id DESC")}
    for row in got:
        assert row["gained_since_first_seen"] == row["views"] - first[row["url"]]


def test_fastest_growing_view_counts(archive: Path, client: DatasetteClient) -> None:
    readings: dict[str, list[dict[str, Any]]] = {}
    for row in rows(archive, "SELECT url, observed_at, views FROM view_counts ORDER BY id"):
        readings.setdefault(row["url"], []).append(row)
    expected = {}
    for url, seen in readings.items():
        hours = (
            datetime.fromisoformat(seen[-1]["observed_at"]) - datetime.fromisoformat(seen[0]["observed_at"])
        ).total_seconds() / 3600
        if len(seen) > 1 and hours > 0:
            gained = seen[-1]["views"] - seen[0]["views"]
            expected[url] = (gained, round(gained / hours, 1))
    assert len(expected) >= 5  # every article still online was read twice
    got = query_rows(client, "fastest_growing")
    assert {row["url"]: (row["gained"], row["views_per_hour"]) for row in got} == expected
    rates = [row["views_per_hour"] for row in got]
    assert rates == sorted(rates, reverse=True)


def test_edited_after_publication(archive: Path, client: DatasetteClient) -> None:
    url = article_url(archive, EDITED)
    original = rows(archive, "SELECT title, body_text FROM article_versions WHERE url = ? AND version = 1", url)[0]
    latest = rows(archive, "SELECT body_text, captured_at FROM article_versions WHERE url = ? AND version = 2", url)[0]
    got = query_rows(client, "edited_after_publication")
    assert [(row["url"], row["field"], row["version"], row["changed_at"]) for row in got] == [
        (url, "body_text", 2, latest["captured_at"]),
        (url, "title", 2, latest["captured_at"]),
    ]
    body, title = got
    assert (title["before"], title["after"]) == (original["title"], EDITED_TITLE)
    assert (body["before"], body["after"]) == (
        f"{len(original['body_text'])} characters",
        f"{len(latest['body_text'])} characters",
    )


def test_removed_articles(archive: Path, client: DatasetteClient) -> None:
    got = query_rows(client, "removed_articles")
    assert [row["url"] for row in got] == [article_url(archive, REMOVED)]
    assert got[0]["removed_at"]


def test_extraction_health(archive: Path, client: DatasetteClient) -> None:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows(archive, "SELECT * FROM articles"):
        groups.setdefault((row["site"], row["first_seen_at"][:10]), []).append(row)

    def share(items: list[dict[str, Any]], missing: Any) -> float:
        return round(100.0 * sum(1 for item in items if missing(item)) / len(items), 1)

    expected = [
        {
            "site": site,
            "day": day,
            "articles": len(items),
            "no_date_pct": share(items, lambda r: r["published_at"] is None),
            "no_views_pct": share(items, lambda r: r["views"] is None),
            "no_author_pct": share(items, lambda r: not r["author"]),
            "no_body_pct": share(items, lambda r: r["body_text"] == ""),
            "partial_pct": share(items, lambda r: r["parse_status"] != "ok"),
        }
        for (site, day), items in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0]), reverse=True)
    ]
    assert query_rows(client, "extraction_health") == expected


def test_failed_fetches_by_site_and_status(archive: Path, client: DatasetteClient) -> None:
    failed = rows(
        archive,
        "SELECT url, status, error_kind FROM fetches WHERE error IS NOT NULL OR status >= 400",
    )
    expected = Counter(
        ((urlsplit(row["url"]).hostname or "").removeprefix("www."), row["status"], row["error_kind"]) for row in failed
    )
    # The demo's hostile articles: a 429 then a page, 503 twice, a redirect loop; the removed article's 404.
    assert {(status, kind) for _, status, kind in expected} >= {
        (429, "http_status"),
        (503, "http_status"),
        (None, "redirect_loop"),
    }
    got = query_rows(client, "failed_fetches")
    assert {(row["site"], row["status"], row["error_kind"]): row["failures"] for row in got} == dict(expected)
    counts = [row["failures"] for row in got]
    assert counts == sorted(counts, reverse=True)


def report_summaries(db: Path) -> tuple[dict[Any, Any], dict[Any, Any], list[Any]]:
    """fetch_failures, article_health and recent_view_counts as the archive keeps them."""
    failures = {}
    for row in rows(
        db,
        "SELECT s.*, f.url, f.status AS f_status, f.error_kind AS f_kind, f.fetched_at FROM"
        " fetch_failures s JOIN fetches f ON f.id = s.last_id",
    ):
        # The latest failure named is one of its group's, made at the group's latest time.
        assert (row["f_status"], row["f_kind"], row["fetched_at"]) == (row["status"], row["error_kind"], row["last_at"])
        assert row["url"].startswith(row["origin"])
        failures[(row["origin"], row["status"], row["error_kind"])] = (row["failures"], row["last_at"])
    health = {
        (row["site"], row["day"]): tuple(row[name] for name in HEALTH_COUNTS)
        for row in rows(db, "SELECT * FROM article_health")
    }
    recent = rows(db, "SELECT id, url, observed_at, views FROM recent_view_counts ORDER BY id")
    return failures, health, recent


HEALTH_COUNTS = ("articles", "no_date", "no_views", "no_author", "no_body", "partial")


def report_computed(db: Path) -> tuple[dict[Any, Any], dict[Any, Any], list[Any]]:
    """The same computed from every fetch, every article and every reading."""
    failures: dict[Any, tuple[int, str]] = {}
    for row in rows(db, "SELECT url, status, error, error_kind, fetched_at FROM fetches"):
        if row["error"] is None and (row["status"] or 0) < 400:
            continue
        parts = urlsplit(row["url"])
        key = (f"{parts.scheme}://{parts.netloc}", row["status"], row["error_kind"])
        count, last = failures.get(key, (0, ""))
        failures[key] = (count + 1, max(last, row["fetched_at"]))
    health: dict[Any, tuple[int, ...]] = {}
    for row in rows(db, "SELECT * FROM articles"):
        key = (row["site"], row["first_seen_at"][:10])
        flags = (
            1,
            row["published_at"] is None,
            row["views"] is None,
            not row["author"],
            row["body_text"] == "",
            row["parse_status"] != "ok",
        )
        health[key] = tuple(a + int(b) for a, b in zip(health.get(key, (0,) * 6), flags, strict=True))
    day_ago = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    recent = rows(db, "SELECT id, url, observed_at, views FROM view_counts WHERE observed_at >= ? ORDER BY id", day_ago)
    return failures, health, recent


def test_report_summaries_follow_every_write_and_the_upgrade(archive: Path, tmp_path: Path) -> None:
    db = copy_archive(archive, tmp_path / "archive.db")
    summaries = report_summaries(db)
    assert summaries == report_computed(db)
    failures, health, recent = summaries
    # The crawl's failures (429, 503, a redirect loop, the removed article's 404) and its articles are there.
    assert {(status, kind) for _, status, kind in failures} >= {(429, "http_status"), (404, "http_status")}
    assert sum(counts[0] for counts in health.values()) == len(rows(db, "SELECT url FROM articles"))
    assert len(recent) == len(rows(db, "SELECT id FROM view_counts")) > 0  # the crawl read them all just now
    # Changes the crawler never makes keep them right too: fields emptied, an article moved to another day and
    # one deleted; a failure deleted, one turned into a success, a success into a failure.
    with closing(sqlite3.connect(db)) as conn, conn:
        urls = [row[0] for row in conn.execute("SELECT url FROM articles ORDER BY url")]
        conn.execute(
            "UPDATE articles SET author = '', views = NULL, parse_status = 'partial' WHERE url = ?", (urls[0],)
        )
        conn.execute("UPDATE articles SET first_seen_at = '2001-02-03T04:05:06+00:00' WHERE url = ?", (urls[1],))
        conn.execute("UPDATE articles SET body_text = '', published_at = NULL WHERE url = ?", (urls[2],))
        conn.execute("DELETE FROM url_aliases WHERE url = ?", (urls[3],))
        conn.execute("DELETE FROM view_counts WHERE url = ?", (urls[3],))
        conn.execute("UPDATE view_counts SET views = views + 1 WHERE url = ?", (urls[4],))
        conn.execute(
            "INSERT INTO view_counts (url, observed_at, views) VALUES (?, '2001-02-03T04:05:06+00:00', 1),"
            " (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 2)",
            (urls[5], urls[5]),
        )
        conn.execute("UPDATE view_counts SET observed_at = '2001-02-03T04:05:06+00:00' WHERE url = ?", (urls[6],))
        conn.execute("DELETE FROM articles WHERE url = ?", (urls[3],))
        failed = [row[0] for row in conn.execute("SELECT id FROM fetches WHERE error_kind IS NOT NULL ORDER BY id")]
        conn.execute("DELETE FROM fetches WHERE id = ?", (failed[0],))
        conn.execute("UPDATE fetches SET status = 200, error = NULL, error_kind = NULL WHERE id = ?", (failed[-1],))
        conn.execute(
            "UPDATE fetches SET status = 500, error = 'answered HTTP 500.', error_kind = 'http_status'"
            " WHERE id = (SELECT min(id) FROM fetches WHERE error IS NULL AND status < 400)"
        )
    changed = report_summaries(db)
    assert changed == report_computed(db) and changed != summaries
    # An archive written before the summaries gets them on its upgrade, counted from what it holds.
    with closing(sqlite3.connect(db)) as conn, conn:
        for kind, name in conn.execute(
            "SELECT type, name FROM sqlite_master WHERE tbl_name IN ('fetch_failures', 'article_health',"
            " 'recent_view_counts') OR name GLOB '*_health_*' OR name GLOB '*s_failures_*' OR name GLOB '*_recent_*'"
            " ORDER BY type = 'table'"
        ).fetchall():
            if kind != "index":
                conn.execute(f"DROP {kind.upper()} {name}")
        conn.execute("PRAGMA user_version = 6")
    with closing(sqlite3.connect(db)) as conn:
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'fetch_failures'").fetchall()
    assert upgrade(db)
    assert report_summaries(db) == changed


def test_canned_query_pages_render(client: DatasetteClient) -> None:
    for name in (
        "most_viewed_7d",
        "fastest_growing",
        "edited_after_publication",
        "removed_articles",
        "extraction_health",
        "failed_fetches",
    ):
        response = client.get(f"/archive/{name}")
        assert response.status == 200, name
        assert "<table" in response.text, name


# -- the article page ----------------------------------------------------------------------


def test_article_page_shows_the_article_its_chart_and_versions(archive: Path, client: DatasetteClient) -> None:
    url = article_url(archive, EDITED)
    html = client.get(f"/archive/articles/{tilde_encode(url)}").text
    stored = rows(archive, "SELECT * FROM articles WHERE url = ?", url)[0]
    readings = rows(archive, "SELECT views FROM view_counts WHERE url = ?", url)
    assert f'<h1 class="archive-title">{EDITED_TITLE}</h1>' in html
    assert f'class="archive-source-link" href="{url}"' in html
    assert f'<dd class="archive-photo-credit">{stored["photo_credit"]}</dd>' in html
    assert f"<p>{EDITED_PARAGRAPH}</p>" in html
    assert f'data-readings="{len(readings)}"' in html and "<polyline" in html
    version_2 = html.split('data-version="2"', 1)[1].split('data-version="1"', 1)[0]
    assert f"<ins>{EDITED_TITLE}</ins>" in version_2
    assert f"<ins>{EDITED_PARAGRAPH}</ins>" in version_2


def test_canned_query_titles_link_to_articles(archive: Path, client: DatasetteClient) -> None:
    url = article_url(archive, EDITED)
    html = client.get("/archive/edited_after_publication").text
    assert f'<a class="archive-title-link" href="/archive/articles/{tilde_encode(url)}">{EDITED_TITLE}</a>' in html


def test_raw_pages_show_as_sizes(client: DatasetteClient) -> None:
    html = client.get("/archive/pages?_size=5").text
    assert html.count("&lt;Binary:&nbsp;") == 5


def test_body_images_become_links_and_nothing_else_survives() -> None:
    body = safe_body(
        '<p>a</p><img src="/img/1.jpg" alt="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">'
        '<img src="javascript:alert(2)" alt="x"><img src="https://cdn.example/2.png">',
        "https://site.kz/news/a_1/",
    )
    assert body == (
        "<p>a</p>"
        '<a class="archived-image" href="https://site.kz/img/1.jpg" rel="noopener noreferrer nofollow">'
        '[image: "&gt;&lt;script&gt;alert(1)&lt;/script&gt;]</a>'
        '<span class="archived-image">[image: x]</span>'
        '<a class="archived-image" href="https://cdn.example/2.png" rel="noopener noreferrer nofollow">[image]</a>'
    )
    assert http_link("javascript:alert(1)") is None and http_link(" https://a.kz/x ") == "https://a.kz/x"


def test_view_chart_layout() -> None:
    assert view_chart([]) is None
    single = view_chart([("2024-03-01T10:00:00+00:00", 5)])
    assert single is not None and len(single.points) == 1
    assert (single.points[0].x, single.points[0].y) == (
        (single.left + single.right) / 2,
        (single.top + single.bottom) / 2,
    )
    start = datetime(2024, 3, 1, tzinfo=UTC)
    many = view_chart([((start + timedelta(minutes=i)).isoformat(), i) for i in range(1000)])
    assert many is not None and many.readings == 1000 and len(many.points) == 400 and many.dots == ()
    assert (many.points[0].views, many.points[-1].views) == (0, 999)  # first and latest kept
    assert (many.points[0].x, many.points[0].y, many.points[-1].x, many.points[-1].y) == (
        many.left,
        many.bottom,
        many.right,
        many.top,
    )


def test_body_changes_are_paragraphs_removed_and_added() -> None:
    change = field_change("body_text", "Один.\n\nДва.\n\nТри.", "Один.\n\nДва, исправлено.\n\nТри.\n\nЧетыре.")
    assert (change.removed, change.added) == (("Два.",), ("Два, исправлено.", "Четыре."))
    assert field_change("title", "Старый", "Новый") == FieldChange("title", "Старый", "Новый")


def test_only_the_sanitized_body_is_unescaped() -> None:
    templates = list(server.TEMPLATES_DIR.glob("*.html"))
    unescaped = [
        (path.name, line.strip()) for path in templates for line in path.read_text().splitlines() if "|safe" in line
    ]
    assert unescaped == [("_archive_article.html", "{{ a.body_html|safe }}")]


# -- a crawler writing while Datasette reads -------------------------------------------------

WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from scraper.models import Article, FetchRecord, Outcome, Page, Verdict
from scraper.store import Archive

archive = Archive(sys.argv[1])
stop = Path(sys.argv[2])
count = 0
while not stop.exists():
    now = datetime.now(UTC)
    url = f"http://writer.test/news/item_{count}/"
    body = f"<html><p>Параграф {count}</p></html>".encode()
    page = Page(url=url, final_url=url, status=200, headers={}, body=body, text=body.decode(), encoding="utf-8",
                encoding_source="header", content_type="text/html", fetched_at=now)
    article = Article(url=url, canonical_url=url, site="writer.test", title=f"Новость писателя {count}",
                      body_text=f"Параграф {count}", body_html=f"<p>Параграф {count}</p>", views=count,
                      published_at=now.isoformat(), parse_status="ok")
    record = FetchRecord(url=url, fetched_at=now, status=200, page_hash=page.sha256)
    archive.record(Outcome(Verdict.ARCHIVED, record, page=page, article=article))
    count += 1
archive.close()
print(count)
"""


def test_datasette_keeps_answering_while_a_crawler_writes(archive: Path, tmp_path: Path) -> None:
    db = copy_archive(archive, tmp_path / "archive.db")
    served = Served(db, tmp_path / "serve.log")
    stop = tmp_path / "stop"
    try:
        # The writer writes until told to stop, and the reader makes a fixed number of requests meanwhile:
        # no count of work done in so many seconds, which a loaded machine would shrink.
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(stop)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        paths = [
            "/archive/articles",
            "/archive/articles.json?_search=" + quote("писателя"),
            "/archive/fastest_growing",
            "/archive/most_viewed_7d.json",
            "/archive/extraction_health",
            "/archive/view_counts.json?_sort_desc=id",
        ]
        with httpx.Client(timeout=60) as http:

            def rows_written() -> int:
                answer = http.get(served.url("/archive/articles.json?site=writer.test&_size=0")).json()
                return int(answer["filtered_table_rows_count"])

            while (before := rows_written()) == 0:
                assert writer.poll() is None, writer.communicate()[1]
                time.sleep(0.05)
            for _ in range(4):
                for path in paths:
                    response = http.get(served.url(path))
                    assert response.status_code == 200, (path, response.text[:300])
                    assert "locked" not in response.text.lower(), path
            during = rows_written()
            stop.touch()
            out, err = writer.communicate(timeout=60)
            assert writer.returncode == 0, err
            written = int(out)
            # Rows kept arriving while Datasette answered, and none is missing: not a cached snapshot.
            assert before < during <= written
            assert rows_written() == written
    finally:
        stop.touch()
        served.stop()
    assert "database is locked" not in served.log.read_text()
