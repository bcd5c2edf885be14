"""The scheduler: fire times against fixed clocks (never by sleeping), and the real service process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from scraper.config import Trigger
from scraper.scheduler import fire_times, missed_run

from .conftest import ROOT, ServedSite, start_site
from .crawling import assert_archive_consistent, query, write_schedule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_cron_in_almaty_follows_the_2024_03_01_change_to_utc_plus_5() -> None:
    times = fire_times(Trigger(cron="0 9 * * *", timezone="Asia/Almaty"), after=utc(2024, 2, 28, 12), count=3)
    assert [t.isoformat() for t in times] == [
        "2024-02-29T09:00:00+06:00",
        "2024-03-01T09:00:00+05:00",
        "2024-03-02T09:00:00+05:00",
    ]
    assert [t.astimezone(UTC).hour for t in times] == [3, 4, 4]


def test_cron_across_the_almaty_repeated_hour_keeps_a_steady_pace() -> None:
    # At 00:00 on 1 March 2024 Almaty's clocks went back to 23:00: the half-hours stay 30 minutes apart.
    times = fire_times(Trigger(cron="*/30 * * * *", timezone="Asia/Almaty"), after=utc(2024, 2, 29, 17, 10), count=6)
    # Subtract in UTC: Python subtracts two datetimes of one zone by their wall clocks.
    gaps = {(b.astimezone(UTC) - a.astimezone(UTC)).total_seconds() for a, b in pairwise(times)}
    assert gaps == {1800.0}
    assert times[0].isoformat() == "2024-02-29T23:30:00+06:00"
    assert times[-1].isoformat() == "2024-03-01T01:00:00+05:00"


def test_cron_across_dst_in_berlin() -> None:
    times = fire_times(Trigger(cron="0 9 * * *", timezone="Europe/Berlin"), after=utc(2024, 3, 30, 0), count=2)
    assert [t.astimezone(UTC).hour for t in times] == [8, 7]  # 09:00 CET, then 09:00 CEST


def test_interval_across_dst_is_exact_in_real_time() -> None:
    trigger = Trigger(interval=timedelta(hours=1), timezone="Europe/Berlin")
    times = fire_times(trigger, after=utc(2024, 3, 31, 0, 30), count=4)
    assert {(b.astimezone(UTC) - a.astimezone(UTC)).total_seconds() for a, b in pairwise(times)} == {3600.0}


def test_every_15_minutes() -> None:
    times = fire_times(Trigger(cron="*/15 * * * *"), after=utc(2024, 5, 1, 10, 7), count=3)
    assert [t.strftime("%H:%M") for t in times] == ["10:15", "10:30", "10:45"]


@pytest.mark.parametrize(
    ("trigger", "last_run", "now", "owed"),
    [
        (Trigger(interval=timedelta(hours=1)), None, utc(2024, 5, 1, 12), True),
        (Trigger(interval=timedelta(hours=1)), utc(2024, 5, 1, 9), utc(2024, 5, 1, 12), True),  # down 3 h: one run
        (Trigger(interval=timedelta(hours=1)), utc(2024, 5, 1, 11, 30), utc(2024, 5, 1, 12), False),
        (Trigger(cron="0 * * * *"), utc(2024, 5, 1, 10, 30), utc(2024, 5, 1, 11, 5), True),
        (Trigger(cron="0 * * * *"), utc(2024, 5, 1, 10, 30), utc(2024, 5, 1, 10, 59), False),
        (Trigger(cron="0 9 * * *", timezone="Asia/Almaty"), utc(2024, 3, 1, 3, 30), utc(2024, 3, 1, 3, 59), False),
        (Trigger(cron="0 9 * * *", timezone="Asia/Almaty"), utc(2024, 3, 1, 3, 30), utc(2024, 3, 1, 4, 0), True),
    ],
)
def test_missed_runs_are_owed_once(trigger: Trigger, last_run: datetime | None, now: datetime, owed: bool) -> None:
    assert missed_run(trigger, last_run=last_run, now=now) is owed


# -- the service, for real --------------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[ServedSite]:
    served = start_site("--articles", "20", "--no-hostile", "--crawl-delay", "0")
    yield served
    served.process.terminate()
    served.process.wait(timeout=10)


def start_service(directory: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scraper", "schedule", "run", "--schedules", str(directory), "--db", str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(check: object, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:  # the archive may not exist yet
            pass
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the service")


def runs(db: Path, schedule: str, status: str = "completed") -> int:
    return int(query(db, "SELECT count(*) FROM crawl_runs WHERE schedule = ? AND status = ?", schedule, status)[0][0])


def interval(path: Path, seconds: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f'[trigger]\ninterval = "{seconds}"\n', encoding="utf-8")


def test_service_runs_survives_reloads_and_stops_cleanly(site: ServedSite, tmp_path: Path) -> None:
    directory = tmp_path / "schedules"
    directory.mkdir()
    db = tmp_path / "archive.db"
    interval(write_schedule(directory, site, name="steady"), "2s")
    # A schedule whose site is down: every run fails its fetches, the service carries on.
    failing = write_schedule(directory, site, name="failing")
    failing.write_text(failing.read_text().replace(site.base, "http://127.0.0.1:9"), encoding="utf-8")
    interval(failing, "2s")
    (directory / "broken.toml").write_text('listings = ["http://x.kz/"]\nbogus = 1\n', encoding="utf-8")
    service = start_service(directory, db)
    try:
        wait_until(lambda: runs(db, "steady") >= 2 and runs(db, "failing") >= 1)
        # A second scheduler on the same archive is refused.
        second = subprocess.run(
            [sys.executable, "-m", "scraper", "schedule", "run", "--schedules", str(directory), "--db", str(db)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 1 and "already runs for" in second.stderr
        # SIGHUP re-reads the folder: a new schedule starts running.
        interval(write_schedule(directory, site, name="added"), "2s")
        service.send_signal(signal.SIGHUP)
        wait_until(lambda: runs(db, "added") >= 1)
        assert query(db, "SELECT count(*) FROM crawl_runs WHERE scheduled_for IS NULL") == [(0,)]
    finally:
        service.send_signal(signal.SIGTERM)
        _, stderr = service.communicate(timeout=60)
    assert service.returncode == 0, stderr
    assert "broken.toml: key 'bogus' is not a schedule setting" in stderr
    assert "scheduler stopped" in stderr
    assert query(db, "SELECT count(*) FROM crawl_runs WHERE status = 'running'") == [(0,)]
    # The steady schedule archived the site once, however many runs it took.
    assert query(db, "SELECT count(*) FROM articles") == [(20,)]
    assert query(db, "SELECT count(*) FROM article_versions") == [(20,)]
    assert_archive_consistent(db)


def test_a_missed_run_runs_once_at_start(site: ServedSite, tmp_path: Path) -> None:
    directory = tmp_path / "schedules"
    directory.mkdir()
    db = tmp_path / "archive.db"
    interval(write_schedule(directory, site, name="hourly"), "1h")
    # The service has been down for three hours since this schedule's last run.
    from scraper.store import Archive

    with Archive(db) as archive:
        three_hours_ago = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
        archive.db.execute(
            "INSERT INTO crawl_runs (schedule, trigger, started_at, ended_at, status) VALUES (?, 'schedule', ?, ?, 'completed')",
            ["hourly", three_hours_ago, three_hours_ago],
        )
    service = start_service(directory, db)
    try:
        wait_until(lambda: runs(db, "hourly") >= 2)
        time.sleep(2)  # no second catch-up, no burst of three
        assert runs(db, "hourly") == 2
    finally:
        service.send_signal(signal.SIGTERM)
        service.communicate(timeout=60)
    assert service.returncode == 0


def test_kill_9_of_the_service_then_restart_resumes_without_duplicates(tmp_path: Path) -> None:
    served = start_site("--articles", "40", "--no-hostile", "--crawl-delay", "0")
    try:
        directory = tmp_path / "schedules"
        directory.mkdir()
        db = tmp_path / "archive.db"
        interval(write_schedule(directory, served, name="news", politeness={"delay": 0.05}), "1h")
        service = start_service(directory, db)
        wait_until(lambda: query(db, "SELECT count(*) FROM articles")[0][0] >= 8)
        os.kill(service.pid, signal.SIGKILL)
        service.wait()
        assert runs(db, "news", "running") == 1
        service = start_service(directory, db)
        try:
            wait_until(lambda: runs(db, "news") >= 1, deadline=60)
        finally:
            service.send_signal(signal.SIGTERM)
            service.communicate(timeout=60)
        assert runs(db, "news", "interrupted") == 1
        assert query(db, "SELECT count(*), count(DISTINCT url) FROM articles") == [(40, 40)]
        assert query(db, "SELECT count(*) FROM article_versions") == [(40,)]
        assert_archive_consistent(db)
    finally:
        served.process.terminate()
        served.process.wait(timeout=10)


def test_schedule_check_and_list(tmp_path: Path) -> None:
    directory = tmp_path / "schedules"
    directory.mkdir()
    (directory / "good.toml").write_text('listings = ["https://baigenews.kz/news/"]\n[trigger]\ncron = "0 * * * *"\n')
    (directory / "bad.toml").write_text('listings = ["https://baigenews.kz/news/"]\n[trigger]\ncron = "61 * * * *"\n')
    check = subprocess.run(
        [sys.executable, "-m", "scraper", "schedule", "check", "--schedules", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 1
    assert (
        f"Error: Schedule {directory / 'bad.toml'}: key 'trigger.cron' is not a valid cron expression" in check.stderr
    )
    assert "1 schedules OK, 1 broken." in check.stderr
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "scraper",
            "schedule",
            "list",
            "--schedules",
            str(directory),
            "--db",
            str(tmp_path / "a.db"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "good  (" in listing.stdout and "trigger: cron '0 * * * *' (UTC)" in listing.stdout
    assert listing.stdout.count(":00+00:00") == 3 and "last:    never run" in listing.stdout
