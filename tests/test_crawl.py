"""Crawling the local news site over real sockets: discovery, politeness, faults, re-visits, kill -9, signals."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from scraper.demosite.site import RECOVERS

from .conftest import ROOT, ServedSite, start_site
from .crawling import (
    assert_archive_consistent,
    control,
    crawl,
    query,
    send_times,
    site_articles,
    site_log,
    write_schedule,
)


@pytest.fixture
def site() -> Iterator[ServedSite]:
    served = start_site("--articles", "60")
    yield served
    served.process.terminate()
    served.process.wait(timeout=10)


def expected_ids(site: ServedSite) -> tuple[set[str], set[str]]:
    """Ids of the articles that must be archived, and of the hostile ones that must fail."""
    good, bad = set(), set()
    for article in site_articles(site):
        behaviour = article["behaviour"]
        (good if behaviour is None or behaviour in RECOVERS else bad).add(str(article["id"]))
    return good, bad


def archived_ids(db: Path) -> list[str]:
    return [row[0] for row in query(db, "SELECT article_id FROM articles")]


def requests_to(site: ServedSite, fragment: str) -> list[dict[str, object]]:
    return [entry for entry in site_log(site) if fragment in str(entry["path"])]


def test_full_crawl_archives_every_article_exactly_once(site: ServedSite, tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, site)
    db = tmp_path / "archive.db"
    done = crawl(schedule, db)
    good, bad = expected_ids(site)
    assert done.returncode == 1, done.stderr  # the hostile articles fail, and say so
    assert f"{len(good)} new articles, 0 new versions, {len(bad)} failed" in done.stderr
    ids = archived_ids(db)
    assert Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == good
    assert query(db, "SELECT count(*) FROM article_versions") == [(len(good),)]
    assert query(db, "SELECT status FROM crawl_runs") == [("completed",)]
    # What was done is cleared; the URLs given up stay (for a day), so finding them again does not queue them.
    assert query(db, "SELECT state, count(*) FROM frontier GROUP BY state") == [("failed", len(bad))]
    # Links with utm_* parameters lead to the same articles, fetched once each.
    article_fetches = query(
        db,
        "SELECT url, count(*) FROM fetches WHERE purpose = 'article' AND status = 200 GROUP BY url HAVING count(*) > 1",
    )
    assert article_fetches == []
    assert all("utm_" not in str(row[0]) for row in query(db, "SELECT url FROM fetches"))
    assert_archive_consistent(db)


def test_hostile_articles(site: ServedSite, tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, site)
    db = tmp_path / "archive.db"
    crawl(schedule, db)
    by_behaviour = {a["behaviour"]: a for a in site_articles(site) if a["behaviour"]}

    def kinds(article: dict[str, object]) -> list[object]:
        return [
            row[0]
            for row in query(db, "SELECT error_kind FROM fetches WHERE url LIKE ? ORDER BY id", f"%{article['id']}/")
        ]

    # 429 with Retry-After: 1, then the page, no sooner than a second later. Load cannot shrink this gap: the
    # server stamps the 429 before sending it, and the crawler waits its second after receiving it.
    hits = requests_to(site, str(by_behaviour["retry_after"]["id"]))
    assert len(hits) == 2 and float(hits[1]["at"]) - float(hits[0]["at"]) >= 0.95  # type: ignore[arg-type]
    assert kinds(by_behaviour["retry_after"]) == ["http_status", None]
    # 503 twice, then it recovers on the third try.
    assert kinds(by_behaviour["flaky"]) == ["http_status", "http_status", None]
    assert kinds(by_behaviour["reset_once"])[-1] is None and len(kinds(by_behaviour["reset_once"])) == 2
    assert kinds(by_behaviour["slow"]) == [None]
    # Permanent failures: a bounded number of tries, each in the ledger, then the crawl goes on.
    assert kinds(by_behaviour["truncated"]) == ["truncated"] * 3
    assert kinds(by_behaviour["huge"]) == ["too_large"]
    assert kinds(by_behaviour["bomb"]) == ["too_large"]
    assert "redirect_loop" in kinds(by_behaviour["redirect_loop"])
    # The windows-1251 page comes out readable.
    title = query(db, "SELECT title FROM articles WHERE article_id = ?", str(by_behaviour["windows_1251"]["id"]))
    assert title == [(by_behaviour["windows_1251"]["title"],)]
    assert query(
        db,
        "SELECT encoding FROM fetches WHERE url LIKE ? AND status = 200",
        f"%{by_behaviour['windows_1251']['id']}/",
    ) == [("windows-1251",)]


def test_robots_txt_is_obeyed(site: ServedSite, tmp_path: Path) -> None:
    # Follow every link of the listings, so the crawler meets the /search/ link robots.txt disallows.
    schedule = write_schedule(tmp_path, site, follow=".", limits={"max_depth": 1})
    db = tmp_path / "archive.db"
    done = crawl(schedule, db, verbose=True)
    assert requests_to(site, "/search/") == []
    assert query(db, "SELECT count(*) FROM fetches WHERE error_kind = 'robots' AND url LIKE '%/search/%'")[0][0] >= 1
    assert len(requests_to(site, "/robots.txt")) == 1
    # Crawl-delay: 0.05 in robots.txt spaces the requests to the host even though the schedule asks for 0.
    # Checked on the send times the crawler decided (its own clock, from its debug log): the times a
    # server sees also carry each request's latency, which a loaded machine stretches unevenly.
    decided = send_times(done.stderr, site.base)
    fetched = query(db, "SELECT count(*) FROM fetches WHERE error_kind IS NOT 'robots'")[0][0]
    assert len(decided) >= fetched > 10  # robots.txt included: it goes through the gate first
    # After robots.txt (sent under the schedule's delay, 0) every request holds the next one 0.05 s back ...
    assert all(after - sent >= 0.05 - 1e-9 for sent, after in decided[1:])
    # ... and each one went out no sooner than the one before allowed (asyncio's timers may fire up to the
    # clock's resolution early).
    assert all(b[0] >= a[1] - 1e-6 for a, b in itertools.pairwise(decided))


def test_recrawl_records_views_versions_and_removals(site: ServedSite, tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, site)
    db = tmp_path / "archive.db"
    crawl(schedule, db)
    normal = [a for a in site_articles(site) if a["behaviour"] is None]
    edited, removed = normal[0], normal[1]
    control(
        site,
        f"edit/{edited['id']}",
        title="Исправленный заголовок",
        paragraph="Дополнено: новые подробности.",
    )
    control(site, f"remove/{removed['id']}", status="410")
    time.sleep(1.1)  # re-visits are due after a second in the test schedule
    second = crawl(schedule, db)
    assert " 0 new articles, 1 new versions" in second.stderr, second.stderr
    versions = query(
        db,
        "SELECT version, title, changed_fields FROM article_versions WHERE url LIKE ? ORDER BY version",
        f"%{edited['id']}/",
    )
    assert [v[0] for v in versions] == [1, 2]
    assert versions[1][1] == "Исправленный заголовок" and versions[1][2] == '["title", "body_text"]'
    body = query(db, "SELECT body_text FROM articles WHERE url LIKE ?", f"%{edited['id']}/")[0][0]
    assert body.endswith("Дополнено: новые подробности.")
    # The view counter became a time series; it made no versions.
    series = query(db, "SELECT views FROM view_counts WHERE url LIKE ? ORDER BY observed_at", f"%{normal[2]['id']}/")
    assert len(series) == 2 and series[1][0] > series[0][0]
    assert query(db, "SELECT count(*) FROM article_versions WHERE url LIKE ?", f"%{normal[2]['id']}/") == [(1,)]
    # Gone after a good capture: marked removed, versions kept.
    removed_row = query(db, "SELECT removed_at FROM articles WHERE url LIKE ?", f"%{removed['id']}/")
    assert removed_row[0][0] is not None
    assert query(db, "SELECT count(*) FROM article_versions WHERE url LIKE ?", f"%{removed['id']}/") == [(1,)]
    assert_archive_consistent(db)


def test_unchanged_revisit_answered_304_writes_nothing_new(site: ServedSite, tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, site)
    db = tmp_path / "archive.db"
    article = next(a for a in site_articles(site) if a["behaviour"] is None)
    control(site, f"freeze/{article['id']}")  # its HTML (views included) stops changing
    crawl(schedule, db)
    before = query(db, "SELECT views, last_fetched_at FROM articles WHERE url LIKE ?", f"%{article['id']}/")
    time.sleep(1.1)
    crawl(schedule, db)
    revisit = requests_to(site, f"_{article['id']}/")[-1]
    assert revisit["if_none_match"]
    assert query(db, "SELECT status FROM fetches WHERE url LIKE ? ORDER BY id DESC LIMIT 1", f"%{article['id']}/") == [
        (304,)
    ]
    assert query(db, "SELECT count(*) FROM view_counts WHERE url LIKE ?", f"%{article['id']}/") == [(1,)]
    assert query(db, "SELECT views, last_fetched_at FROM articles WHERE url LIKE ?", f"%{article['id']}/") == before


def test_page_cap_leaves_the_rest_for_the_next_run(site: ServedSite, tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, site)
    db = tmp_path / "archive.db"
    first = crawl(schedule, db, "--max-pages", "10")
    assert "capped" in first.stderr and "10 pages fetched" in first.stderr
    assert query(db, "SELECT count(*) FROM frontier WHERE state = 'queued'")[0][0] > 0
    crawl(schedule, db)
    good, _ = expected_ids(site)
    assert set(archived_ids(db)) == good


def _crawl_process(schedule: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scraper", "crawl", str(schedule), "--db", str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_articles(db: Path, count: int, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if query(db, "SELECT count(*) FROM articles")[0][0] >= count:
                return
        except Exception:  # the file or table may not exist yet
            pass
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} articles after {deadline} s")


@pytest.mark.parametrize("after", [3, 20, 40])
def test_kill_9_then_resume_loses_and_duplicates_nothing(site: ServedSite, tmp_path: Path, after: int) -> None:
    schedule = write_schedule(tmp_path, site, politeness={"delay": 0.02})
    db = tmp_path / "archive.db"
    process = _crawl_process(schedule, db)
    _wait_for_articles(db, after)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert_archive_consistent(db)
    crawl(schedule, db)
    good, _ = expected_ids(site)
    ids = archived_ids(db)
    assert len(ids) == len(set(ids)) and set(ids) == good
    assert query(db, "SELECT count(*) FROM article_versions") == [(len(good),)]
    statuses = [row[0] for row in query(db, "SELECT status FROM crawl_runs ORDER BY id")]
    assert statuses == ["interrupted", "completed"]
    assert_archive_consistent(db)


def test_sigterm_stops_cleanly_and_the_next_run_resumes(site: ServedSite, tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, site, politeness={"delay": 0.05})
    db = tmp_path / "archive.db"
    process = _crawl_process(schedule, db)
    _wait_for_articles(db, 5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "interrupted" in stderr
    assert query(db, "SELECT status FROM crawl_runs") == [("interrupted",)]
    assert query(db, "SELECT count(*) FROM frontier WHERE state = 'in_flight'") == [(0,)]
    assert_archive_consistent(db)
    crawl(schedule, db)
    good, _ = expected_ids(site)
    assert set(archived_ids(db)) == good


def test_two_crawls_of_different_sites_into_one_archive(tmp_path: Path) -> None:
    first, second = start_site("--articles", "30"), start_site("--articles", "30", "--no-hostile")
    try:
        db = tmp_path / "archive.db"
        a = _crawl_process(write_schedule(tmp_path, first, name="one"), db)
        b = _crawl_process(write_schedule(tmp_path, second, name="two"), db)
        a.communicate(timeout=120)
        b_out = b.communicate(timeout=120)
        assert b.returncode == 0, b_out
        good_one, _ = expected_ids(first)
        assert query(db, "SELECT count(*) FROM articles") == [(len(good_one) + 30,)]
        assert sorted(row[0] for row in query(db, "SELECT schedule FROM crawl_runs")) == ["one", "two"]
        assert_archive_consistent(db)
    finally:
        for served in (first, second):
            served.process.terminate()
            served.process.wait(timeout=10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = [", "is not valid TOML"),
        ('listings = ["http://x.kz/"]\nbogus = 1', "key 'bogus' is not a schedule setting"),
        ('listings = ["ftp://x.kz/"]', "key 'listings' has a URL that cannot be crawled"),
        (
            'listings = ["http://127.0.0.1/news/"]',
            "key 'listings' points at 127.0.0.1 and it is a loopback address",
        ),
        (
            'listings = ["http://x.kz/"]\n[limits]\nmax_pages = 0',
            "key 'limits.max_pages' must be an integer from 1 to 10,000,000 (got 0)",
        ),
        (
            'listings = ["http://x.kz/"]\n[trigger]\ncron = "61 * * * *"',
            "key 'trigger.cron' is not a valid cron expression",
        ),
        (
            'listings = ["http://x.kz/"]\n[trigger]\ninterval = 0',
            "key 'trigger.interval' must be longer than zero",
        ),
        (
            'listings = ["http://x.kz/"]\n[trigger]\ntimezone = "Mars/Olympus"',
            "key 'trigger.timezone' names no known time zone",
        ),
        ('listings = ["http://x.kz/"]\nprofile = "nope"', "key 'profile' There is no profile called 'nope'"),
        ('name = "x"', "key 'listings' is missing"),
    ],
)
def test_a_broken_schedule_is_one_sentence_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text + "\n", encoding="utf-8")
    done = crawl(path, tmp_path / "archive.db")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: Schedule {path}") and message in lines[0], done.stderr
