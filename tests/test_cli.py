"""The `scrape` commands, run in-process against the loopback fixture server, asserting exit codes and text."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import cli

from .commands import one_error_line, run
from .conftest import FIXTURES, ROOT, ServedSite

SEED = "files/baigenews/seed-tokayev-baku.html"


def table_count(db: Path, table: str, where: str = "1") -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


def assert_consistent(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = conn.execute(
            "SELECT count(*) FROM article_versions v LEFT JOIN articles a ON a.url = v.url WHERE a.url IS NULL"
        ).fetchone()[0]
        assert orphans == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_url_archives_and_prints_the_record(fixture_site: ServedSite, db_path: Path) -> None:
    url = fixture_site.url(SEED) + "?utm_source=telegram"
    result = run("url", url, "--db", str(db_path), "--profile", "baigenews")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    record = json.loads(result.stdout)
    golden = json.loads((FIXTURES / SEED.removeprefix("files/")).with_suffix(".json").read_text(encoding="utf-8"))
    assert record["url"] == url
    assert record["canonical_url"] == fixture_site.url(SEED)
    for field in (
        "title",
        "lead",
        "author",
        "published_at",
        "views",
        "photo_credit",
        "source",
        "tags",
        "body_text",
    ):
        assert record[field] == golden[field], field
    assert table_count(db_path, "articles") == 1
    assert table_count(db_path, "article_versions") == 1
    assert table_count(db_path, "view_counts") == 1
    assert table_count(db_path, "fetches", "status = 200 AND error IS NULL") == 1
    assert table_count(db_path, "pages") == 1
    assert_consistent(db_path)


def test_rescrape_adds_an_observation_and_no_version(fixture_site: ServedSite, db_path: Path) -> None:
    url = fixture_site.url(SEED)
    for _ in range(2):
        assert run("url", url, "--db", str(db_path), "--profile", "baigenews").exit_code == 0
    assert table_count(db_path, "article_versions") == 1
    assert table_count(db_path, "view_counts") == 2


def test_windows_1251_page_over_http(fixture_site: ServedSite, db_path: Path) -> None:
    result = run(
        "url",
        fixture_site.url("files/baigenews/windows-1251-astana-tram.html"),
        "--db",
        str(db_path),
        "--profile",
        "baigenews",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["title"] == "В Астане запустят первую линию LRT: что известно о сроках"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT encoding, encoding_source FROM fetches").fetchone() == (
            "windows-1251",
            "meta",
        )


def test_one_failure_among_several_urls_exits_1(fixture_site: ServedSite, db_path: Path) -> None:
    result = run(
        "url",
        fixture_site.url(SEED),
        fixture_site.url("_fault/status/404"),
        "--db",
        str(db_path),
        "--profile",
        "baigenews",
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["article_id"] is None
    assert "answered HTTP 404" in one_error_line(result)
    assert table_count(db_path, "articles") == 1
    assert table_count(db_path, "fetches") == 2


@pytest.mark.parametrize(
    ("path", "message", "kind"),
    [
        ("_fault/status/404", "answered HTTP 404", "http_status"),
        ("_fault/status/410", "answered HTTP 410", "http_status"),
        ("_fault/status/500", "answered HTTP 500", "http_status"),
        ("_fault/delay?s=5", "took longer than the 1 s allowed", "timeout"),
        ("_fault/loop/a", "redirects in a loop", "redirect_loop"),
        ("_fault/chain/15", "redirected more than 10 times", "too_many_redirects"),
        ("_fault/type?ct=application/pdf", "is application/pdf, not an HTML page", "not_html"),
        ("_fault/empty", "returned an empty page", "empty_body"),
        ("_fault/truncated", "without sending complete message body", "truncated"),
        ("_fault/reset", "was reset", "connection_reset"),
        ("_fault/garbage", "No article found", "no_article"),
        ("files/bad/no-fields.html", "No article found", "no_article"),
    ],
)
def test_bad_input_gives_one_sentence_and_a_ledger_row(
    fixture_site: ServedSite, db_path: Path, path: str, message: str, kind: str
) -> None:
    result = run("url", fixture_site.url(path), "--db", str(db_path), "--timeout", "1")
    assert result.exit_code == 1
    assert message in one_error_line(result)
    assert result.stdout == ""
    assert table_count(db_path, "fetches", f"error_kind = '{kind}' AND error IS NOT NULL") == 1
    assert table_count(db_path, "articles") == 0
    assert_consistent(db_path)


def test_connection_refused(db_path: Path) -> None:
    result = run("url", f"http://127.0.0.1:{closed_port()}/news/", "--db", str(db_path))
    assert result.exit_code == 1
    assert "Could not connect to" in one_error_line(result)
    assert table_count(db_path, "fetches", "error_kind = 'connect_error'") == 1


def test_cut_off_html_is_kept_as_partial_and_reported(fixture_site: ServedSite, db_path: Path) -> None:
    result = run(
        "url",
        fixture_site.url("files/bad/cut-off-article.html"),
        "--db",
        str(db_path),
        "--profile",
        "baigenews",
    )
    assert result.exit_code == 1
    assert "gave only a partial article" in one_error_line(result)
    assert json.loads(result.stdout)["parse_status"] == "partial"
    assert table_count(db_path, "articles", "parse_status = 'partial'") == 1
    assert_consistent(db_path)


@pytest.mark.parametrize(
    "url", ["ftp://baigenews.kz/x", "file:///etc/passwd", "gopher://x/", "not a url", "//baigenews.kz/"]
)
def test_other_schemes_are_usage_errors(db_path: Path, url: str) -> None:
    result = run("url", url, "--db", str(db_path))
    assert result.exit_code == 2
    assert "only http and https URLs are supported" in one_error_line(result)
    assert not db_path.exists()


def test_loopback_is_refused_unless_allowed(
    fixture_site: ServedSite, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCRAPE_ALLOW_PRIVATE")
    result = run("url", fixture_site.url(SEED), "--db", str(db_path))
    assert result.exit_code == 1
    assert "it is a loopback address" in one_error_line(result)
    assert table_count(db_path, "fetches", "error_kind = 'blocked_address'") == 1
    assert (
        run("url", fixture_site.url(SEED), "--db", str(db_path), "--allow-private", "--profile", "baigenews").exit_code
        == 0
    )


def test_unwritable_db_path(fixture_site: ServedSite, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = run("url", fixture_site.url(SEED), "--db", str(blocker / "archive.db"))
    assert result.exit_code == 1
    line = one_error_line(result)
    assert str(blocker / "archive.db") in line and "Cannot open the archive" in line


def test_unknown_profile_is_a_usage_error(db_path: Path) -> None:
    result = run("url", "https://baigenews.kz/x_1/", "--db", str(db_path), "--profile", "nope")
    assert result.exit_code == 2
    assert "There is no profile called 'nope'; the known profiles are baigenews, generic." in one_error_line(result)


def test_parse_prints_the_golden_record_from_stdin() -> None:
    golden = json.loads((FIXTURES / SEED.removeprefix("files/")).with_suffix(".json").read_text(encoding="utf-8"))
    result = CliRunner().invoke(
        cli,
        ["parse", "-", "--url", golden["url"], "--fetched-at", golden["fetched_at"]],
        input=(FIXTURES / SEED.removeprefix("files/")).read_bytes(),
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == golden


def test_parse_missing_file_is_a_usage_error() -> None:
    result = run("parse", "no-such-page.html", "--url", "https://baigenews.kz/x_1/")
    assert result.exit_code == 2
    assert "'no-such-page.html': No such file or directory" in result.stderr


def test_parse_page_without_article(tmp_path: Path) -> None:
    result = run("parse", str(FIXTURES / "bad" / "no-fields.html"), "--url", "https://example.com/a")
    assert result.exit_code == 1
    assert "No article found at https://example.com/a" in one_error_line(result)


def test_reparse_command(fixture_site: ServedSite, db_path: Path) -> None:
    assert run("url", fixture_site.url(SEED), "--db", str(db_path), "--profile", "baigenews").exit_code == 0
    result = run("reparse", "--db", str(db_path))
    assert result.exit_code == 0
    assert result.stderr == "Re-parsed 1 stored pages of 1 articles; 0 extractions changed.\n"
    assert run("reparse", "--db", str(db_path.with_name("none.db"))).exit_code == 1


def test_python_dash_m_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scraper", "--help"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0
    assert "Usage: python -m scraper" in done.stdout or "Usage: " in done.stdout
