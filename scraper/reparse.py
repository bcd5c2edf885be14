"""Re-extract archived articles from their stored raw pages, after a profile or parser fix."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from scraper.errors import CorruptPage
from scraper.models import Verdict
from scraper.pipeline import assess, choose_profile
from scraper.store import Archive


@dataclass(frozen=True)
class ReparseSummary:
    articles: int
    versions: int
    changed: int
    #: Versions whose stored page could not be rebuilt exactly (their extraction is kept): (hash, why).
    damaged: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False


def reparse_archive(
    archive: Archive,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> ReparseSummary:
    """Parse every stored page of every version again and overwrite what was extracted from it.

    Each version is written in its own transaction, so stopping (`stop` set, or Ctrl-C) keeps what was done.
    """
    archive.pages.scanning()
    rows = list(archive.article_pages())
    latest = {url: version for url, _, _, version in rows}
    changed = 0
    damaged: list[tuple[str, str]] = []
    for done, (url, fetched_url, key, version) in enumerate(rows, 1):
        if stop is not None and stop.is_set():
            return ReparseSummary(len(latest), done - 1, changed, damaged, interrupted=True)
        try:
            page = archive.load_page(key)
        except CorruptPage as exc:
            damaged.append((key, str(exc)))
            continue
        profile = choose_profile(fetched_url, archive.article_profile(url))
        outcome = assess(page, profile)
        if outcome.verdict == Verdict.ARCHIVED and outcome.article is not None:
            # Otherwise the stored extraction stays: a page that once parsed keeps its record.
            changed += archive.replace_extraction(url, version, outcome.article, latest=latest[url] == version)
        if on_progress is not None and (done % 100 == 0 or done == len(rows)):
            on_progress(done, len(rows))
    return ReparseSummary(len(latest), len(rows), changed, damaged)
