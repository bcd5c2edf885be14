"""The archive under faults: old schemas, interrupted migrations, a full disk, read-only files, backups mid-write."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import scraper.store.schema as store
from scraper.config import load_schedule
from scraper.crawl.engine import Crawler
from scraper.errors import StoreError
from scraper.store import SCHEMA_VERSION, Archive

from .conftest import FIXTURES, ROOT, ServedSite, start_site
from .crawling import assert_archive_consistent, query, write_schedule

OLD_ARCHIVE = FIXTURES / "archives" / "schema-v1.db"


def test_an_old_archive_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    shutil.copy(OLD_ARCHIVE, path)
    assert query(path, "PRAGMA user_version") == [(1,)]
    with Archive(path) as archive:
        assert archive.schema_version == SCHEMA_VERSION
        tables = set(archive.db.table_names())
        assert {"frontier", "crawl_runs"} <= tables
        assert "last_checked_at" in archive.db["articles"].columns_dict
    assert query(path, "SELECT article_id, version FROM articles") == [("183924", 1)]
    assert query(path, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'ТОКАЕВ'") == [(1,)]
    assert_archive_consistent(path)


def test_an_interrupted_migration_leaves_the_old_schema_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "archive.db"
    shutil.copy(OLD_ARCHIVE, path)
    real_step = store.MIGRATIONS[2]

    def crash_half_way(db: object) -> None:
        real_step(db)  # type: ignore[arg-type]
        raise KeyboardInterrupt("the process is stopped in the middle of the migration")

    monkeypatch.setitem(store.MIGRATIONS, 2, crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        Archive(path)
    assert query(path, "PRAGMA user_version") == [(1,)]
    assert query(path, "SELECT name FROM sqlite_master WHERE name IN ('frontier', 'crawl_runs')") == []
    assert "last_checked_at" not in [row[1] for row in query(path, "PRAGMA table_info(articles)")]
    monkeypatch.setitem(store.MIGRATIONS, 2, real_step)
    with Archive(path) as archive:
        assert archive.schema_version == SCHEMA_VERSION


@pytest.fixture
def site() -> object:
    served = start_site("--articles", "30", "--no-hostile", "--crawl-delay", "0")
    yield served
    served.process.terminate()
    served.process.wait(timeout=10)


def test_a_full_disk_stops_the_crawl_with_a_clear_error_and_the_next_run_resumes(
    site: ServedSite, tmp_path: Path
) -> None:
    schedule = load_schedule(write_schedule(tmp_path, site))
    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        pages = archive.db.execute("PRAGMA page_count").fetchone()[0]
        # The archive may grow by a few pages only: the disk is "full" after a handful of articles.
        archive.db.execute(f"PRAGMA max_page_count = {pages + 150}")
        with pytest.raises(StoreError) as caught:
            asyncio.run(Crawler(schedule, archive).run())
    assert str(path) in str(caught.value) and "disk is full" in str(caught.value)
    assert_archive_consistent(path)
    stored = query(path, "SELECT count(*) FROM articles")[0][0]
    assert 0 < stored < 30
    with Archive(path) as archive:
        summary = asyncio.run(Crawler(schedule, archive).run())
    assert summary.status == "completed"
    assert query(path, "SELECT count(*), count(DISTINCT url) FROM articles") == [(30, 30)]
    assert query(path, "SELECT count(*) FROM article_versions") == [(30,)]
    assert_archive_consistent(path)


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv (util-linux) to drop root")
def test_a_read_only_archive_is_refused_before_fetching(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "archive.db"
    shutil.copy(OLD_ARCHIVE, path)
    for reachable in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
        os.chmod(reachable, 0o755)  # pytest's folders are private to their owner
    os.chmod(folder, 0o555)
    os.chmod(path, 0o444)
    before = path.read_bytes()
    command = [sys.executable, "-m", "scraper", "url", "http://127.0.0.1:9/never", "--db", str(path)]
    if os.geteuid() == 0:
        # Root ignores file permissions; the command runs as nobody, as a real user would meet them.
        if not all(folder.stat().st_mode & stat.S_IXOTH for folder in ROOT.resolve().parents):
            pytest.skip(
                f"{ROOT} is inside a folder other users cannot enter, so an unprivileged user cannot run the checkout"
            )
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: The archive {path} is read-only: check the permissions of the file and of its folder."
    )
    assert path.read_bytes() == before


def test_backup_while_a_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    shutil.copy(OLD_ARCHIVE, path)
    Archive(path).close()
    stop = threading.Event()

    def writer() -> None:
        with Archive(path) as archive:
            number = 0
            while not stop.is_set():
                number += 1
                with archive.connection.transaction() as db:
                    db.execute(
                        "INSERT INTO crawl_runs (schedule, trigger, started_at, status) VALUES ('w', 'manual', ?, 'running')",
                        (str(number),),
                    )

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        backups = []
        for index in range(3):
            target = tmp_path / f"backup-{index}.db"
            done = subprocess.run(
                [sys.executable, "-m", "scraper", "backup", str(target), "--db", str(path)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            backups.append(target)
    finally:
        stop.set()
        thread.join()
    for target in backups:
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("SELECT count(*) FROM articles").fetchone() == (1,)
    assert (
        subprocess.run(
            [sys.executable, "-m", "scraper", "backup", str(backups[0]), "--db", str(path)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        ).returncode
        == 1
    )
