"""Crawling a site whose robots.txt, feed or sitemap misbehaves: RFC 9309, refused XML, caps, a cached robots.txt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ServedSite, start_site
from .crawling import control, crawl, query, site_log, write_schedule

ARTICLES = 20


@pytest.fixture
def site() -> Iterator[ServedSite]:
    served = start_site("--articles", str(ARTICLES), "--no-hostile", "--crawl-delay", "0")
    yield served
    served.process.terminate()
    served.process.wait(timeout=10)


def article_requests(site: ServedSite) -> int:
    return sum(1 for entry in site_log(site) if str(entry["path"]).rstrip("/").rsplit("_", 1)[-1].isdigit())


def run(site: ServedSite, tmp_path: Path, **settings: object) -> tuple[Path, str]:
    db = tmp_path / "archive.db"
    done = crawl(write_schedule(tmp_path, site, **settings), db)
    return db, done.stderr


def test_robots_404_allows_everything(site: ServedSite, tmp_path: Path) -> None:
    control(site, "mode", robots="404")
    db, _ = run(site, tmp_path)
    assert query(db, "SELECT count(*) FROM articles") == [(ARTICLES,)]


def test_robots_5xx_disallows_the_host_for_the_run(site: ServedSite, tmp_path: Path) -> None:
    control(site, "mode", robots="503")
    db, _ = run(site, tmp_path)
    assert article_requests(site) == 0
    assert query(db, "SELECT count(*) FROM articles") == [(0,)]
    skipped = query(db, "SELECT count(*), min(error) FROM fetches WHERE error_kind = 'robots'")
    assert skipped[0][0] >= 3 and "robots.txt answered HTTP 503: the host is skipped for this run" in skipped[0][1]
    # An unreachable robots.txt is not remembered: the next run asks again.
    control(site, "mode", robots="")
    crawl(write_schedule(tmp_path, site), db)
    assert query(db, "SELECT count(*) FROM articles") == [(ARTICLES,)]


def test_only_the_first_500_kib_of_robots_txt_count(site: ServedSite, tmp_path: Path) -> None:
    control(site, "mode", robots="huge")  # "Disallow: /" comes after 10 MB of comments
    db, _ = run(site, tmp_path)
    assert query(db, "SELECT count(*) FROM articles") == [(ARTICLES,)]


def test_an_absurd_crawl_delay_defers_the_host_with_a_reason(site: ServedSite, tmp_path: Path) -> None:
    control(site, "mode", robots="slow-crawl")
    db, _ = run(site, tmp_path)
    assert article_requests(site) == 0
    reasons = query(db, "SELECT DISTINCT error FROM fetches WHERE error_kind = 'crawl_delay'")
    assert len(reasons) >= 1 and "asks for a Crawl-delay of 3600 s, more than the 30 s" in reasons[0][0]


def test_robots_txt_is_fetched_once_a_day_not_once_a_run(site: ServedSite, tmp_path: Path) -> None:
    db, _ = run(site, tmp_path)
    crawl(write_schedule(tmp_path, site), db)
    robots = [e for e in site_log(site) if e["path"] == "/robots.txt"]
    assert len(robots) == 1
    assert query(db, "SELECT count(*) FROM crawl_runs WHERE status = 'completed'") == [(2,)]


def test_a_feed_with_entities_is_refused_and_discovery_goes_on(site: ServedSite, tmp_path: Path) -> None:
    control(site, "mode", feed="doctype")
    db, _ = run(site, tmp_path)
    assert query(db, "SELECT error_kind FROM fetches WHERE purpose = 'feed'") == [("bad_feed",)]
    assert query(db, "SELECT count(*) FROM articles") == [(ARTICLES,)]  # found through the listing and sitemap


@pytest.mark.parametrize(("mode", "kind"), [("doctype", "bad_sitemap"), ("bomb", "too_large")])
def test_a_hostile_sitemap_is_refused_and_discovery_goes_on(
    site: ServedSite, tmp_path: Path, mode: str, kind: str
) -> None:
    control(site, "mode", sitemap=mode)
    db, _ = run(site, tmp_path)
    assert query(db, "SELECT error_kind FROM fetches WHERE purpose = 'sitemap'") == [(kind,)]
    assert query(db, "SELECT count(*) FROM articles") == [(ARTICLES,)]


def test_a_sitemap_of_a_million_urls_is_capped(site: ServedSite, tmp_path: Path) -> None:
    control(site, "mode", sitemap="million")  # 60,000 URLs in one file; the sitemaps.org limit is 50,000
    db, stderr = run(site, tmp_path, limits={"max_pages": 60})
    assert "capped" in stderr
    queued = query(db, "SELECT count(*) FROM frontier WHERE url LIKE '%/trap/%'")[0][0]
    assert 40_000 < queued <= 50_000
