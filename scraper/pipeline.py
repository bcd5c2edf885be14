"""One URL's fetched response to its Outcome (parse, normalize, or read for links), the one path for every caller.

`scrape url`, the crawler and `reparse` all go through `assess`: it never raises, so whatever goes wrong with
one page (a bug, a pathological page) becomes that page's failure, recorded in the ledger, and the caller
moves on. The store writes an Outcome in one transaction (`Archive.record`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scraper import settings
from scraper.charset import decode
from scraper.errors import ContentError, ErrorKind, FetchError, HTTPStatusError, ParseError, StoreError
from scraper.fetch import Fetcher
from scraper.guard import not_an_article, refusal_reason
from scraper.models import (
    Article,
    Discovered,
    FetchRecord,
    FrontierUpdate,
    Outcome,
    Page,
    ParseStatus,
    Purpose,
    Verdict,
)
from scraper.normalize import normalize
from scraper.parse import parse_html
from scraper.profiles import Profile, get_profile, profile_for_url
from scraper.store import Archive, CaptureResult

log = logging.getLogger("scraper.pipeline")

#: Statuses that say the article is gone for good, so a stored one is marked removed.
GONE_STATUSES = frozenset({404, 410})

#: Reads a listing, feed or sitemap for links; raises ContentError for one it cannot read.
Discover = Callable[[Page], tuple[Discovered, ...]]


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


def failure(
    url: str, message: str, kind: ErrorKind, *, purpose: Purpose, status: int | None = None, retry: bool = False
) -> Outcome:
    """The outcome of a URL that got no usable response (or was not requested: SKIPPED kinds)."""
    verdict = Verdict.RETRY if retry else Verdict.FAILED
    if kind in (ErrorKind.ROBOTS, ErrorKind.CRAWL_DELAY):
        verdict = Verdict.SKIPPED
    record = FetchRecord(
        url=url, fetched_at=datetime.now(UTC), status=status, error=message, error_kind=kind, purpose=purpose
    )
    return Outcome(verdict, record)


def fetch_failed(url: str, exc: FetchError, *, purpose: Purpose = Purpose.ARTICLE) -> Outcome:
    """The outcome of a fetch that raised: worth a retry when the failure is transient."""
    return failure(url, str(exc), exc.kind, purpose=purpose, status=exc.status, retry=exc.kind in settings.RETRY_KINDS)


def is_cut_off(text: str) -> bool:
    """Tell whether an HTML document ends before its closing </body> and </html> tags."""
    tail = text[-4096:].lower()
    return "</html" not in tail and "</body" not in tail


def parse_page(page: Page, profile: Profile) -> Article:
    """Parse and normalize a fetched page; ParseError if it holds no article at all."""
    url, shown = page.url, page.final_url
    if not page.is_html:
        raise ParseError(f"{shown} is {page.content_type}, not an HTML page.", url=url, kind=ErrorKind.NOT_HTML)
    if not page.text.strip():
        raise ParseError(f"{shown} returned an empty page.", url=url, kind=ErrorKind.EMPTY_BODY)
    if reason := refusal_reason(page.text):
        raise ParseError(f"Refused to parse {shown}: {reason}.", url=url, kind=ErrorKind.HOSTILE_HTML)
    article = normalize(parse_html(page.text, profile), url=url, profile=profile, fetched_at=page.fetched_at)
    verdict = not_an_article(article.title, article.body_text)
    if verdict == "blocked":
        message = f"{shown} is a block page (a captcha or an access check), not the article."
        raise ParseError(message, url=url, kind=ErrorKind.BLOCKED)
    if verdict == "soft404":
        message = f'{shown} is a "not found" page served with HTTP {page.status}.'
        raise ParseError(message, url=url, kind=ErrorKind.SOFT404)
    if article.parse_status == ParseStatus.OK and is_cut_off(page.text):
        # The response was complete but the document stops mid-page: never let it replace a good capture.
        article.parse_status = ParseStatus.PARTIAL
        article.warnings.append("page: the HTML stops before </body> and </html>; the text may be cut off")
    if article.parse_status == ParseStatus.EMPTY:
        raise ParseError(f"No article found at {shown}: the page has no title.", url=url)
    return article


def saved_page(body: bytes, url: str, fetched_at: datetime) -> Page:
    """A page saved to a file, as if just fetched from `url` at `fetched_at` (decoded as a response would be).

    A `fetched_at` without a zone is taken as UTC.
    """
    text, encoding, source = decode(body, None)
    fetched_at = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers={},
        body=body,
        text=text,
        encoding=encoding,
        encoding_source=source,
        content_type="text/html",
        fetched_at=fetched_at,
    )


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Read a Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _assess(page: Page, profile: Profile, purpose: Purpose, discover: Discover | None) -> Outcome:
    if page.status in settings.RETRY_STATUSES:
        error = HTTPStatusError(url=page.url, final_url=page.final_url, status=page.status)
        wait = retry_after_seconds(page.headers.get("retry-after"), datetime.now(UTC))
        row = ledger_row(page, purpose=purpose, error=str(error), kind=error.kind)
        return Outcome(Verdict.RETRY, row, retry_after=wait)
    if page.status == 304:
        return Outcome(Verdict.NOT_MODIFIED, ledger_row(page, purpose=purpose))
    if page.status >= 400:
        error = HTTPStatusError(url=page.url, final_url=page.final_url, status=page.status)
        row = ledger_row(page, purpose=purpose, error=str(error), kind=error.kind)
        gone = page.status in GONE_STATUSES and purpose.is_article
        return Outcome(Verdict.GONE if gone else Verdict.FAILED, row)
    if not purpose.is_article:
        if discover is None:
            raise ValueError(f"a {purpose} page needs a link reader")
        try:
            found = discover(page)
        except ContentError as exc:
            kind = ErrorKind.BAD_FEED if purpose == Purpose.FEED else ErrorKind.BAD_SITEMAP
            row = ledger_row(page, purpose=purpose, error=f"{page.final_url}: {exc}", kind=kind)
            return Outcome(Verdict.FAILED, row)
        return Outcome(Verdict.DISCOVERED, ledger_row(page, purpose=purpose), discovered=found)
    try:
        article = parse_page(page, profile)
    except ParseError as exc:
        # The raw page is kept: a profile fix and `reparse` may still read it.
        return Outcome(Verdict.FAILED, ledger_row(page, purpose=purpose, error=str(exc), kind=exc.kind), page=page)
    return Outcome(Verdict.ARCHIVED, ledger_row(page, purpose=purpose), page=page, article=article)


def assess(
    page: Page, profile: Profile, *, purpose: Purpose = Purpose.ARTICLE, discover: Discover | None = None
) -> Outcome:
    """Decide what a fetched response is: an article to archive, links, a removal, a failure. Never raises.

    Any unexpected error while reading the page (a bug, a pathological page) is this page's failure
    (ErrorKind.INTERNAL, worth a retry in case it was transient), logged with the URL; the caller goes on.
    """
    try:
        return _assess(page, profile, purpose, discover)
    except Exception as exc:
        log.exception("processing %s failed", page.url)
        message = f"Processing {page.final_url} failed ({type(exc).__name__}: {str(exc)[:200] or 'no message'})."
        return Outcome(Verdict.RETRY, ledger_row(page, purpose=purpose, error=message, kind=ErrorKind.INTERNAL))


#: The crawler's frontier decision for an outcome (a retry, done, given up), written in the same transaction.
Settle = Callable[[Outcome], FrontierUpdate | None]


def write(
    archive: Archive,
    outcome: Outcome,
    *,
    run_id: int | None = None,
    settle: Settle | None = None,
    key: str | None = None,
) -> tuple[Outcome, CaptureResult | None]:
    """Write an outcome to the archive in one transaction; return it (or what replaced it) and what it changed.

    StoreError when the archive cannot be written. Any other error while writing this one page (a value SQLite
    refuses, a bug) rolls that transaction back and is written instead as the page's failure (INTERNAL, to retry).
    `key` marks a distributed delivery as written, in the same transaction (`Archive.delivered`).
    """
    try:
        return outcome, archive.record(outcome, run_id=run_id, frontier=settle(outcome) if settle else None, key=key)
    except StoreError:
        raise
    except Exception as exc:
        url, purpose = outcome.record.url, outcome.record.purpose
        log.exception("archiving %s failed", url)
        message = f"Archiving {url} failed ({type(exc).__name__}: {str(exc)[:200] or 'no message'})."
        fallback = failure(url, message, ErrorKind.INTERNAL, purpose=purpose, retry=True)
        frontier = settle(fallback) if settle else None
        return fallback, archive.record(fallback, run_id=run_id, frontier=frontier, key=key)


def archive_page(
    archive: Archive, page: Page, profile: Profile, *, run_id: int | None = None
) -> tuple[Outcome, CaptureResult | None]:
    """Take a fetched article page to the archive: assess it and write the outcome, whatever it is."""
    return write(archive, assess(page, profile), run_id=run_id)


async def scrape_url(
    url: str, *, fetcher: Fetcher, archive: Archive, profile: Profile
) -> tuple[Outcome, CaptureResult | None]:
    """Fetch `url`, assess it and write the outcome (whatever it is) to the archive.

    StoreError if the archive cannot be written; any other failure is in the outcome and its ledger row.
    """
    try:
        page = await fetcher.fetch(url)
    except FetchError as exc:
        return write(archive, fetch_failed(url, exc))
    return archive_page(archive, page, profile)
