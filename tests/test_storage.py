"""Raw pages stored by what changed: deltas, keyframes, dictionaries, exact reads, damage, the migration of old archives."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from scraper import settings
from scraper.demosite.site import NewsSite
from scraper.errors import CorruptPage
from scraper.models import Page
from scraper.pipeline import archive_page
from scraper.store import Archive
from scraper.store.pages import Codec

from .conftest import FIXTURES, ROOT
from .storing import PROFILE, T0, bodies, capture, codecs, demo_page, legacy_archive
from .test_store import make_page, seed_html

KILLHOOK = ROOT / "bench" / "killhook.py"


def scrape(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scraper", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def every_page_exact(db: Path, expected: dict[str, bytes]) -> bool:
    """Every stored page, read by a fresh reader, is byte for byte the page that was fetched."""
    with Archive(db) as archive:
        keys = [row[0] for row in archive.db.execute("SELECT hash FROM pages")]
        return sorted(keys) == sorted(expected) and all(archive.pages.body(key) == expected[key] for key in keys)


def test_a_revisit_is_stored_as_a_small_delta_and_read_back_exactly(db_path: Path) -> None:
    pages = capture(db_path, articles=3, rounds=4)
    with Archive(db_path) as archive:
        rows = archive.db.execute("SELECT codec, base, depth, length(body), size FROM pages ORDER BY rowid").fetchall()
        first, revisits = rows[:3], rows[3:]
        assert [row[0] for row in first] == ["zstd"] * 3  # no dictionary yet: a site's first pages stand alone
        assert all(row[0] == "delta" and row[1] and row[2] >= 1 for row in revisits)
        # The counter is all that changed: the delta is a sliver of the page.
        assert all(row[3] < 0.02 * row[4] for row in revisits)
        assert archive.db.execute("SELECT count(*) FROM pages WHERE headers IS NOT NULL").fetchone() == (0,)
        latest = pages[-2]  # the last capture of the second article
        page = archive.load_page(latest.sha256)
        assert page.body == latest.body and page.headers == latest.headers
        assert page.fetched_at == latest.fetched_at and page.status == 200 and page.encoding == latest.encoding
    assert every_page_exact(db_path, bodies(pages))


def test_identical_bytes_are_stored_once(db_path: Path) -> None:
    pages = capture(db_path, articles=2, rounds=5)
    frozen = {page.sha256 for page in pages[1::2]}
    assert len(frozen) == 1  # the frozen counter: five fetches of the same bytes
    with Archive(db_path) as archive:
        assert archive.db.execute("SELECT count(*) FROM pages WHERE hash = ?", (frozen.pop(),)).fetchone() == (1,)
        assert archive.db.execute("SELECT count(*) FROM fetches").fetchone() == (10,)


def test_a_keyframe_comes_before_the_chain_grows_long(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "KEYFRAME_INTERVAL", 4)
    pages = capture(db_path, articles=1, rounds=11, edit_round=None, frozen=False)
    assert [row for row in sqlite3.connect(db_path).execute("SELECT depth FROM pages ORDER BY rowid")] == [
        (0,), (1,), (2,), (3,), (0,), (1,), (2,), (3,), (0,), (1,), (2,)
    ]  # fmt: skip
    assert codecs(db_path) == {"zstd": 3, "delta": 8}
    assert every_page_exact(db_path, bodies(pages))


def first_captures(db: Path, monkeypatch: pytest.MonkeyPatch, count: int) -> list[Page]:
    """`count` demo articles' first fetches, the first nine archived: a site whose dictionary comes at its tenth."""
    monkeypatch.setattr(settings, "DICTIONARY_FIRST_TRAINING", 10)
    site = NewsSite(articles=count, hostile=False, now=T0)
    pages = [demo_page(site, article, T0 + timedelta(minutes=n)) for n, article in enumerate(site.articles)]
    with Archive(db) as archive:
        for page in pages[:9]:
            archive_page(archive, page, PROFILE)
    return pages


def test_a_site_dictionary_is_trained_and_its_first_pages_recompressed(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = first_captures(db_path, monkeypatch, 12)
    with Archive(db_path) as archive:
        assert archive.db.execute("SELECT count(*) FROM page_dictionaries").fetchone() == (0,)
        plain = archive.db.execute("SELECT sum(length(body)) FROM pages").fetchone()[0]
        for page in pages[9:]:
            archive_page(archive, page, PROFILE)
        trained = archive.db.execute("SELECT site, keyframes, samples FROM page_dictionaries").fetchall()
        assert trained == [("127.0.0.1:8765", 10, 9)]
        # Every whole page now uses the dictionary, the first nine re-encoded with it, and they shrank.
        assert codecs(db_path) == {"dict": 12}
        assert archive.db.execute("SELECT sum(length(body)) FROM pages WHERE rowid <= 9").fetchone()[0] < plain / 2
    assert every_page_exact(db_path, bodies(pages))


def test_a_dictionary_trained_in_a_rolled_back_capture_is_forgotten(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = first_captures(db_path, monkeypatch, 13)
    with Archive(db_path) as archive:
        archive.db.execute("CREATE TRIGGER boom BEFORE INSERT ON view_counts BEGIN SELECT RAISE(ABORT, 'boom'); END")
        archive_page(archive, pages[9], PROFILE)  # trains a dictionary, then the whole capture is rolled back
        archive.db.execute("DROP TRIGGER boom")
        assert archive.db.execute("SELECT count(*) FROM page_dictionaries").fetchone() == (0,)
        for page in pages[10:]:
            archive_page(archive, page, PROFILE)
        # Trained again, under the same id the rolled-back one had: every keyframe names a dictionary that exists
        # and decodes with it.
        assert archive.db.execute("SELECT id, samples FROM page_dictionaries").fetchall() == [(1, 9)]
        assert codecs(db_path) == {"dict": 12}
    stored = bodies(pages)
    del stored[pages[9].sha256]
    assert every_page_exact(db_path, stored)


def test_a_damaged_page_is_named_and_the_others_still_read(db_path: Path) -> None:
    pages = capture(db_path, articles=2, rounds=3, edit_round=None, frozen=False)
    victim = pages[1].sha256  # the second article's first capture, the base of its later ones
    with sqlite3.connect(db_path) as conn:
        body = conn.execute("SELECT body FROM pages WHERE hash = ?", (victim,)).fetchone()[0]
        conn.execute("UPDATE pages SET body = ? WHERE hash = ?", (body[:-40] + bytes(40), victim))
    with Archive(db_path) as archive:
        with pytest.raises(CorruptPage, match=victim):
            archive.pages.body(victim)
        assert archive.pages.body(pages[0].sha256) == pages[0].body
        summary = archive.pages.check()
        damaged = {key for key, _ in summary.damaged}
        # The page and the deltas built on it cannot come back; the other article's pages all do.
        assert damaged == {victim, pages[3].sha256, pages[5].sha256} and summary.checked == 6
        # A new capture of the damaged URL does not build on the damage: it is stored whole.
        site = NewsSite(articles=3, hostile=False, now=T0)
        site.articles[2].visits = 10
        fresh = demo_page(site, site.articles[2], T0 + timedelta(hours=9))
        archive_page(archive, fresh, PROFILE)
        assert archive.db.execute("SELECT codec FROM pages WHERE hash = ?", (fresh.sha256,)).fetchone() == ("zstd",)
        assert archive.pages.body(fresh.sha256) == fresh.body
    done = scrape("storage", "check", "--db", str(db_path))
    assert done.returncode == 1 and f"page {victim}" in done.stderr and "7 pages checked, 3 damaged." in done.stderr


def test_a_rolled_back_capture_is_never_the_base_of_the_next(db_path: Path) -> None:
    site = NewsSite(articles=2, hostile=False, now=T0)
    article = site.articles[1]
    first, second, third = (demo_page(site, article, T0 + timedelta(hours=n)) for n in range(3))
    with Archive(db_path) as archive:
        archive_page(archive, first, PROFILE)
        archive.db.execute("CREATE TRIGGER boom BEFORE INSERT ON view_counts BEGIN SELECT RAISE(ABORT, 'boom'); END")
        archive_page(archive, second, PROFILE)  # written, then rolled back: the page's failure is written instead
        archive.db.execute("DROP TRIGGER boom")
        archive_page(archive, third, PROFILE)
        assert archive.db.execute("SELECT base FROM pages WHERE hash = ?", (third.sha256,)).fetchone() == (
            first.sha256,
        )
    assert every_page_exact(db_path, bodies([first, third]))


def test_stats_show_pages_by_codec(db_path: Path) -> None:
    capture(db_path, articles=2, rounds=2, edit_round=None)
    done = scrape("storage", "stats", "--db", str(db_path))
    figures = json.loads(done.stdout)
    assert done.returncode == 0 and figures["codecs"]["zstd"]["pages"] == 2 and figures["codecs"]["delta"]["pages"] == 1
    assert figures["codecs"]["delta"]["stored_bytes"] < figures["codecs"]["delta"]["page_bytes"] / 50


# -- the migration of archives written before schema 6 ------------------------------------------------------


def old_pages(count: int = 12) -> list[Page]:
    site = NewsSite(articles=4, hostile=False, now=T0)
    return [demo_page(site, site.articles[1 + n % 3], T0 + timedelta(hours=n)) for n in range(count)]


def test_an_old_archive_reads_before_and_after_its_pages_are_migrated(db_path: Path) -> None:
    pages = old_pages()
    legacy_archive(db_path, pages)
    assert every_page_exact(db_path, bodies(pages))  # opening it upgraded the schema; the zlib pages still read
    assert codecs(db_path) == {"zlib": 12}
    progress: list[tuple[int, int]] = []
    with Archive(db_path) as archive:
        summary = archive.pages.migrate(batch=5, on_progress=lambda done, total: progress.append((done, total)))
        page = archive.load_page(pages[4].sha256)
        assert page.headers == pages[4].headers  # the headers moved into the frame, unchanged
    assert progress == [(5, 12), (10, 12), (12, 12)]
    assert (summary.converted, summary.remaining, summary.damaged, summary.interrupted) == (12, 0, [], False)
    assert codecs(db_path) == {"zstd": 3, "delta": 9}
    assert every_page_exact(db_path, bodies(pages))
    assert scrape("storage", "migrate", "--db", str(db_path)).stderr.strip() == (
        "Re-encoded 0 pages; 0 left in the old format."
    )


def test_the_schema_1_fixture_migrates(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    shutil.copy(FIXTURES / "archives" / "schema-v1.db", path)
    done = scrape("storage", "migrate", "--db", str(path))
    assert done.returncode == 0 and "Re-encoded 1 pages" in done.stderr
    assert scrape("storage", "check", "--db", str(path)).stderr.strip() == "1 pages checked, 0 damaged."
    assert scrape("reparse", "--db", str(path)).returncode == 0


@pytest.mark.parametrize("commit", [1, 2, 3])
def test_a_migration_killed_inside_a_commit_loses_nothing_and_resumes(db_path: Path, commit: int) -> None:
    pages = old_pages()
    legacy_archive(db_path, pages)
    Archive(db_path).close()  # the schema upgrade commits first; the kills below land in page batches
    killed = subprocess.run(
        [sys.executable, str(KILLHOOK), str(commit), "storage", "migrate", "--db", str(db_path), "--batch", "4"],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9
    assert sqlite3.connect(db_path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # The batch being committed is gone whole, the ones before it are kept: every page still reads exactly.
    assert codecs(db_path).get("zlib") == 12 - 4 * (commit - 1)
    assert every_page_exact(db_path, bodies(pages))
    assert scrape("storage", "migrate", "--db", str(db_path), "--batch", "4").returncode == 0
    assert "zlib" not in codecs(db_path)
    assert every_page_exact(db_path, bodies(pages))


def test_ctrl_c_stops_the_migration_after_its_batch(db_path: Path) -> None:
    pages = old_pages()
    legacy_archive(db_path, pages)
    Archive(db_path).close()
    stopped = subprocess.run(
        [sys.executable, str(KILLHOOK), "2", "storage", "migrate", "--db", str(db_path), "--batch", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "KILLHOOK_SIGNAL": "INT"},
    )
    assert stopped.returncode == 1
    assert "Interrupted: Re-encoded 8 pages; 4 left in the old format" in stopped.stderr
    assert codecs(db_path).get("zlib") == 4
    assert every_page_exact(db_path, bodies(pages))


def test_a_stop_request_ends_the_migration_cleanly(db_path: Path) -> None:
    pages = old_pages()
    legacy_archive(db_path, pages)
    stop = threading.Event()
    with Archive(db_path) as archive:
        summary = archive.pages.migrate(
            batch=3, on_progress=lambda done, total: stop.set() if done >= 6 else None, stop=stop
        )
    assert summary.interrupted and summary.converted == 6 and summary.remaining == 6
    assert every_page_exact(db_path, bodies(pages))


def test_progress_is_a_bar_on_a_terminal(db_path: Path) -> None:
    capture(db_path, articles=2, rounds=2, edit_round=None, frozen=False)
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "scraper", "storage", "check", "--db", str(db_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=120,
            check=False,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    text = shown.decode("utf-8", errors="replace")
    assert done.returncode == 0
    # done/total, the rate, then the summary line.
    assert re.search(r"Checking pages +\[#+\] +4/4 +[\d,]+/s", text) and "4 pages checked, 0 damaged." in text


def test_reparse_keeps_going_past_a_damaged_page(db_path: Path) -> None:
    with Archive(db_path) as archive:
        archive_page(archive, make_page(seed_html()), PROFILE)
        archive.db.execute("UPDATE pages SET body = zeroblob(50)")
    done = scrape("reparse", "--db", str(db_path))
    assert done.returncode == 1 and "kept the old extraction of page" in done.stderr
    assert "Re-parsed 1 stored pages of 1 articles; 0 extractions changed." in done.stderr


def test_the_storage_bench_quick_run_meets_the_floors() -> None:
    """bench/storage.py --quick: every capture rebuilt bit-exact, revisits under 2% of a page, a tenth of WARC.gz."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "storage.py"), "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["exact"] is True and figures["captures"] > figures["pages_stored"] > 0
    assert figures["revisit_ratio"] <= 0.02 and figures["ratio_vs_warc_gz"] <= 0.10


def test_the_storage_page_states_what_the_code_does() -> None:
    text = " ".join((ROOT / "docs" / "storage.md").read_text(encoding="utf-8").split())
    for codec in Codec:
        assert f"| `{codec}` |" in text
    assert f"shorter than `KEYFRAME_INTERVAL` ({settings.KEYFRAME_INTERVAL}, `scraper/settings.py`)" in text
    assert f"trained on its latest {settings.DICTIONARY_SAMPLES} keyframes" in text
    assert f"first at its {settings.DICTIONARY_FIRST_TRAINING}th keyframe" in text
    assert f"(at most every {settings.DICTIONARY_RETRAIN_MAX:,})" in text
    for command in (
        "scrape storage migrate",
        "scrape storage check",
        "scrape storage stats",
        "scrape export",
        "scrape import",
    ):
        assert command in text
