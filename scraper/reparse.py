"""Re-extract archived articles from their stored raw pages, after a profile or parser fix."""

from __future__ import annotations

from dataclasses import dataclass

from scraper.models import Verdict
from scraper.pipeline import assess, choose_profile
from scraper.store import Archive


@dataclass(frozen=True)
class ReparseSummary:
    articles: int
    versions: int
    changed: int


def reparse_archive(archive: Archive) -> ReparseSummary:
    """Parse every stored page of every version again and overwrite what was extracted from it."""
    rows = list(archive.article_pages())
    latest = {url: version for url, _, _, version in rows}
    changed = 0
    for url, fetched_url, key, version in rows:
        page = archive.load_page(key)
        profile = choose_profile(fetched_url, archive.article_profile(url))
        outcome = assess(page, profile)
        if outcome.verdict != Verdict.ARCHIVED or outcome.article is None:
            continue  # the stored extraction stays; a page that once parsed keeps its record
        if archive.replace_extraction(url, version, outcome.article, latest=latest[url] == version):
            changed += 1
    return ReparseSummary(articles=len(latest), versions=len(rows), changed=changed)
