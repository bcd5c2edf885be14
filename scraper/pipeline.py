"""One URL from fetch to archive: fetch, parse, normalize, store; every outcome gets a ledger row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from scraper.errors import ErrorKind, FetchError, HTTPStatusError, ParseError
from scraper.fetch import Fetcher
from scraper.guard import not_an_article, refusal_reason
from scraper.models import Article, FetchRecord, Page, ParseStatus, Purpose
from scraper.normalize import normalize
from scraper.parse import parse_html
from scraper.profiles import Profile, get_profile, profile_for_url
from scraper.store import Archive, CaptureResult

#: Statuses that say the article is gone for good, so a stored one is marked removed.
GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class Scraped:
    """A successfully archived page."""

    article: Article
    capture: CaptureResult


def choose_profile(url: str, name: str | None) -> Profile:
    """Return the profile called `name`, or the one whose hosts match the URL."""
    return get_profile(name) if name else profile_for_url(url)


def ledger_row(
    page: Page, *, purpose: Purpose = Purpose.ARTICLE, error: str | None = None, kind: ErrorKind | None = None
) -> FetchRecord:
    """The fetch ledger row of a response that arrived."""
    return FetchRecord(
        url=page.url,
        fetched_at=page.fetched_at,
        final_url=page.final_url,
        status=page.status,
        bytes=len(page.body),
        elapsed_ms=page.elapsed_ms,
        error=error,
        error_kind=kind,
        content_type=page.content_type,
        encoding=page.encoding,
        encoding_source=page.encoding_source,
        page_hash=page.sha256 if page.body else None,
        purpose=purpose,
    )


def failure_row(url: str, exc: FetchError, *, purpose: Purpose = Purpose.ARTICLE) -> FetchRecord:
    """The fetch ledger row of a request that got no usable response."""
    return FetchRecord(
        url=url,
        fetched_at=datetime.now(UTC),
        status=exc.status,
        error=str(exc),
        error_kind=exc.kind,
        purpose=purpose,
    )


def is_cut_off(text: str) -> bool:
    """Tell whether an HTML document ends before its closing </body> and </html> tags."""
    tail = text[-4096:].lower()
    return "</html" not in tail and "</body" not in tail


def parse_page(page: Page, profile: Profile) -> Article:
    """Parse and normalize a fetched page; ParseError if it holds no article at all."""
    if not page.is_html:
        raise ParseError(
            f"{page.final_url} is {page.content_type}, not an HTML page.", url=page.url, kind=ErrorKind.NOT_HTML
        )
    if not page.text.strip():
        raise ParseError(f"{page.final_url} returned an empty page.", url=page.url, kind=ErrorKind.EMPTY_BODY)
    if reason := refusal_reason(page.text):
        raise ParseError(f"Refused to parse {page.final_url}: {reason}.", url=page.url, kind=ErrorKind.HOSTILE_HTML)
    article = normalize(parse_html(page.text, profile), url=page.url, profile=profile, fetched_at=page.fetched_at)
    verdict = not_an_article(article.title, article.body_text)
    if verdict == "blocked":
        raise ParseError(
            f"{page.final_url} is a block page (a captcha or an access check), not the article.",
            url=page.url,
            kind=ErrorKind.BLOCKED,
        )
    if verdict == "soft404":
        raise ParseError(
            f'{page.final_url} is a "not found" page served with HTTP {page.status}.',
            url=page.url,
            kind=ErrorKind.SOFT404,
        )
    if article.parse_status == "ok" and is_cut_off(page.text):
        # The response was complete but the document stops mid-page: never let it replace a good capture.
        article.parse_status = ParseStatus.PARTIAL
        article.warnings.append("page: the HTML stops before </body> and </html>; the text may be cut off")
    if article.parse_status == "empty":
        raise ParseError(f"No article found at {page.final_url}: the page has no title.", url=page.url)
    return article


def archive_page(archive: Archive, page: Page, profile: Profile, *, run_id: int | None = None) -> Scraped:
    """Archive an already fetched page, writing a ledger row whatever happens."""
    if page.status >= 400:
        error = HTTPStatusError(url=page.url, final_url=page.final_url, status=page.status)
        archive.record_fetch(
            ledger_row(page, error=str(error), kind=ErrorKind.HTTP_STATUS),
            run_id=run_id,
            gone=page.status in GONE_STATUSES,
        )
        raise error
    try:
        article = parse_page(page, profile)
    except ParseError as exc:
        archive.record_fetch(ledger_row(page, error=str(exc), kind=exc.kind), page=page, run_id=run_id)
        raise
    capture = archive.record_capture(ledger_row(page), page, article, run_id=run_id)
    return Scraped(article, capture)


async def scrape_url(
    url: str, *, fetcher: Fetcher, archive: Archive, profile: Profile, run_id: int | None = None
) -> Scraped:
    """Fetch `url` and archive it; raises FetchError or ParseError after writing the ledger row."""
    try:
        page = await fetcher.fetch(url)
    except FetchError as exc:
        archive.record_fetch(failure_row(url, exc), run_id=run_id)
        raise
    return archive_page(archive, page, profile, run_id=run_id)
