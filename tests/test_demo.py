"""The demo from anywhere: `scrape demo --no-serve` in an empty folder outside the checkout builds an archive that
shows view histories, versions, a removal and failed fetches."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from .conftest import ROOT
from .crawling import assert_archive_consistent, query


def scrape(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scraper", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    folder = tmp_path_factory.mktemp("empty")
    assert not folder.resolve().is_relative_to(ROOT)
    done = scrape(folder, "demo", "--no-serve")
    yield folder, done


def test_the_demo_writes_archive_db_in_the_current_folder(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, done = demo
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # messages go to stderr
    names = {path.name for path in folder.iterdir()}
    assert "archive.db" in names and all(name.startswith("archive.db") for name in names), names  # -wal, a lock
    assert "in 6 rounds" in done.stderr and "round 6 at " in done.stderr
    assert_archive_consistent(folder / "archive.db")


def test_the_demo_archive_shows_view_histories(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    db = demo[0] / "archive.db"
    readings: dict[str, list[tuple[datetime, int]]] = {}
    for url, observed, views in query(db, "SELECT url, observed_at, views FROM view_counts ORDER BY url, observed_at"):
        readings.setdefault(url, []).append((datetime.fromisoformat(observed), views))
    charted = {url: series for url, series in readings.items() if len(series) >= 5}
    assert len(charted) >= 10
    for series in charted.values():
        # Readings on the simulated clock: about an hour apart, a counter that only grows.
        assert all(timedelta(minutes=50) <= b[0] - a[0] <= timedelta(minutes=70) for a, b in pairwise(series))
        assert all(a[1] < b[1] for a, b in pairwise(series))
    # The clock ended in the present: nothing is dated in the future, the last round only minutes ago.
    last = max(datetime.fromisoformat(at) for (at,) in query(db, "SELECT started_at FROM crawl_runs"))
    assert timedelta(0) <= datetime.now(UTC) - last <= timedelta(minutes=30)
    runs = query(db, "SELECT status, count(*) FROM crawl_runs GROUP BY status")
    assert runs == [("completed", 6)]


def test_the_demo_archive_shows_edits_a_removal_and_failures(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    db = demo[0] / "archive.db"
    edited = query(
        db,
        "SELECT url, max(version) FROM article_versions GROUP BY url HAVING max(version) > 1 ORDER BY url",
    )
    assert len(edited) >= 2 and max(version for _, version in edited) >= 3
    changes = [
        json.loads(fields) for (fields,) in query(db, "SELECT changed_fields FROM article_versions WHERE version > 1")
    ]
    assert ["title", "body_text"] in changes and ["body_text"] in changes
    removed = query(db, "SELECT url FROM articles WHERE removed_at IS NOT NULL")
    assert len(removed) == 1
    assert query(db, "SELECT status FROM fetches WHERE url = ? ORDER BY id DESC LIMIT 1", removed[0][0]) == [(410,)]
    failed = query(db, "SELECT DISTINCT error_kind FROM fetches WHERE error_kind IS NOT NULL")
    assert {"too_large", "truncated", "redirect_loop"} <= {kind for (kind,) in failed}


def test_the_demo_never_overwrites_an_archive(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder = demo[0]
    before = (folder / "archive.db").stat().st_mtime_ns
    again = scrape(folder, "demo", "--no-serve")
    assert again.returncode == 1
    assert again.stderr.startswith("Error: archive.db already exists; the demo builds a new archive")
    assert again.stderr.count("\n") == 1
    assert (folder / "archive.db").stat().st_mtime_ns == before
