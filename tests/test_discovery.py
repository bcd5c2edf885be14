"""Discovery by the schedule's patterns: feed items are articles whatever their URLs; a pattern that matches
nothing says so in the run summary and the log, instead of silently archiving nothing."""

from __future__ import annotations

from pathlib import Path

from .conftest import ServedSite, start_site
from .crawling import crawl, query, site_articles, write_schedule


def test_a_pattern_matching_no_link_is_reported_and_feed_items_are_archived_anyway(tmp_path: Path) -> None:
    site: ServedSite = start_site("--articles", "8", "--no-hostile", "--crawl-delay", "0")
    try:
        # The site changed its URLs (or the pattern is wrong): listings and sitemaps offer no link it matches.
        schedule = write_schedule(tmp_path, site, article_url=r"/news/\d+\.html$")
        done = crawl(schedule, tmp_path / "archive.db")
        listed = {str(article["id"]) for article in site_articles(site)}
    finally:
        site.process.terminate()
        site.process.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    assert "article_url '/news/\\\\d+\\\\.html$' matched none of the" in done.stderr
    assert "links the listings and sitemaps offered; check the pattern in" in done.stderr
    assert "WARNING scraper.crawl" in done.stderr  # the log says it too
    message = query(tmp_path / "archive.db", "SELECT message FROM crawl_runs")[0][0]
    assert "matched none of the" in message
    # The feed lists every article of this small site: all of them are archived through it.
    assert {row[0] for row in query(tmp_path / "archive.db", "SELECT article_id FROM articles")} == listed
