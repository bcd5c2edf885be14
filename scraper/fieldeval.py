"""Field metrics (publication day and instant, authors, title) and the loaders of the three field dev sets."""

from __future__ import annotations

import gzip
import json
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from scraper.models import Article
from scraper.normalize import normalize
from scraper.parse import parse_html
from scraper.pipeline import saved_page
from scraper.profiles import GENERIC_PROFILE

#: Given to pages read without their address (htmldate's benchmark gives none), so no date can come from it.
NO_URL = "https://page.invalid/"
#: An instant is right when it is this close to the reference.
INSTANT_SLACK_SECONDS = 60


class DevPage(NamedTuple):
    """One page of a field dev set, with what a reader sees on it (None where the set says nothing)."""

    id: str
    url: str
    body: bytes
    #: The publication day, YYYY-MM-DD.
    day: str | None
    #: The publication instant, ISO 8601 (with its offset when the set gives one).
    published: str | None = None
    title: str | None = None
    authors: tuple[str, ...] | None = None
    #: When the page was fetched (the metadata set records it; relative dates are read against it).
    fetched_at: datetime | None = None


def _truth(path: Path) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((path / "truth.json").read_text(encoding="utf-8"))
    return data


def _html(path: Path, page_id: str) -> bytes:
    return gzip.decompress((path / "html" / f"{page_id}.html.gz").read_bytes())


def _text(value: Any) -> str | None:
    # The sets write a missing value as null, "" or NaN.
    if isinstance(value, float) and math.isnan(value):
        return None
    return value if isinstance(value, str) and value else None


def load_date_dev(path: str | Path) -> list[DevPage]:
    """htmldate's benchmark pages: the reference is the publication day (None for a page without one)."""
    root = Path(path)
    return [
        DevPage(page_id, NO_URL, _html(root, page_id), _text(item.get("date")))
        for page_id, item in sorted(_truth(root).items())
    ]


def load_metadata_dev(path: str | Path) -> list[DevPage]:
    """Fundus' hand-checked pages: title, authors, the publication instant, and the crawl time."""
    root = Path(path)
    pages = []
    for page_id, item in sorted(_truth(root).items()):
        published = _text(item.get("published"))
        crawled = datetime.fromisoformat(item["crawl_date"])
        pages.append(
            DevPage(
                page_id,
                item["url"],
                _html(root, page_id),
                published[:10] if published else None,
                published,
                _text(item.get("title")),
                tuple(item.get("authors") or ()),
                crawled if crawled.tzinfo else crawled.replace(tzinfo=UTC),
            )
        )
    return pages


def load_snippets_dev(path: str | Path) -> list[DevPage]:
    """trafilatura's benchmark pages that carry a reference date (the others say nothing about dates)."""
    root = Path(path)
    pages = []
    for page_id, item in sorted(_truth(root).items()):
        day = _text(item.get("date"))
        if day is None:
            continue
        url = item.get("url", "")
        pages.append(
            DevPage(
                page_id,
                url if url.startswith(("http://", "https://")) else NO_URL,
                _html(root, page_id),
                day[:10],
                title=_text(item.get("title")),
            )
        )
    return pages


def read_page(page: DevPage, *, now: datetime) -> Article:
    """Read a dev page as `scrape parse --profile generic` would: decode, parse, normalize."""
    fetched = page.fetched_at or now
    text = saved_page(page.body, page.url, fetched).text
    return normalize(parse_html(text, GENERIC_PROFILE), url=page.url, profile=GENERIC_PROFILE, fetched_at=fetched)


@dataclass
class DayScore:
    """htmldate's scoring of predicted days: a hit is the reference day, a miss is no prediction."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    #: No reference and no prediction.
    true_negatives: int = 0

    def add(self, reference: str | None, predicted: str | None) -> None:
        """Count one page."""
        if predicted is None:
            if reference is None:
                self.true_negatives += 1
            else:
                self.false_negatives += 1
        elif predicted == reference:
            self.true_positives += 1
        else:
            self.false_positives += 1

    @property
    def pages(self) -> int:
        """How many pages were counted."""
        return self.true_positives + self.false_positives + self.false_negatives + self.true_negatives

    @property
    def accuracy(self) -> float:
        """Right answers (a right day, or rightly none) over all pages."""
        return (self.true_positives + self.true_negatives) / self.pages if self.pages else 0.0

    @property
    def precision(self) -> float:
        """Right days over the days predicted."""
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        """Right days over the pages that have one and got a prediction or none."""
        relevant = self.true_positives + self.false_negatives
        return self.true_positives / relevant if relevant else 0.0


def score_days(pairs: Iterable[tuple[str | None, str | None]]) -> DayScore:
    """Score (reference day, predicted day) pairs the way htmldate's benchmark does."""
    score = DayScore()
    for reference, predicted in pairs:
        score.add(reference, predicted)
    return score


def day_of(value: str | None) -> str | None:
    """The calendar day of an ISO 8601 value, as written (in its own offset)."""
    return value[:10] if value else None


def same_instant(reference: str, predicted: str | None) -> bool:
    """Tell whether two ISO 8601 instants are within a minute; a reference without offset is wall-clock time."""
    if not predicted:
        return False
    want, got = datetime.fromisoformat(reference), datetime.fromisoformat(predicted)
    if want.tzinfo is None:
        got = got.replace(tzinfo=None)
    elif got.tzinfo is None:
        return False
    return abs((want - got).total_seconds()) <= INSTANT_SLACK_SECONDS


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def same_title(reference: str | None, predicted: str | None) -> bool:
    """Tell whether two titles are the same text (case, spacing and Unicode forms aside)."""
    return bool(reference and predicted) and _folded(reference or "") == _folded(predicted or "")


def same_authors(reference: Iterable[str], predicted: Iterable[str]) -> bool:
    """Tell whether two author lists name the same people (order, case and spacing aside)."""
    return {_folded(name) for name in reference} == {_folded(name) for name in predicted if name.strip()}
