"""The small typed values passed between stages: Page (fetched), RawArticle (parsed), Article (normalized)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple

from scraper.errors import ErrorKind


class Purpose(StrEnum):
    """Why a URL is fetched: the kind of a frontier entry and the `purpose` of a ledger row."""

    ROBOTS = "robots"
    FEED = "feed"
    SITEMAP = "sitemap"
    LISTING = "listing"
    ARTICLE = "article"
    REVISIT = "revisit"

    @property
    def is_article(self) -> bool:
        """Tell whether a page fetched for this purpose is archived as an article."""
        return self in (Purpose.ARTICLE, Purpose.REVISIT)


class Origin(StrEnum):
    """Where a field's value came from (`field_sources`, `published_from`)."""

    PROFILE = "profile"
    JSONLD = "jsonld"
    META = "meta"
    DOM = "dom"
    VISIBLE = "visible"
    #: A <time datetime> element in the article.
    TIME = "time"
    #: The article's header zone (between the headline and the body) read by generic rules.
    HEADER = "header"
    #: Data in the page's scripts ("publishDate": "...") outside JSON-LD.
    SCRIPT = "script"
    URL = "url"
    #: A year-less visible date whose year was inferred from the fetch time.
    INFERRED = "inferred"


class ParseStatus(StrEnum):
    """How complete a parsed article is."""

    #: A title and body text.
    OK = "ok"
    #: A title but no text (a video, a paywall), or a page cut off before its end.
    PARTIAL = "partial"
    #: No title: not taken for an article.
    EMPTY = "empty"


@dataclass(frozen=True)
class Page:
    """One HTTP response (or a saved file), its body already decompressed and decoded."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    text: str
    encoding: str
    #: Where the encoding came from: bom, header, meta, detected, default; header+redecoded or meta+redecoded
    #: when the bytes contradicted the declared label.
    encoding_source: str
    content_type: str
    fetched_at: datetime
    elapsed_ms: int = 0

    @cached_property
    def sha256(self) -> str:
        """The key of the raw page in the archive: the SHA-256 of the decompressed body."""
        return hashlib.sha256(self.body).hexdigest()

    @property
    def is_html(self) -> bool:
        """Tell whether the response claims to be (X)HTML, or names no type at all."""
        return self.content_type in {"", "text/html", "application/xhtml+xml"}


@dataclass(frozen=True)
class FetchRecord:
    """One row of the fetch ledger: every request, whatever became of it."""

    url: str
    fetched_at: datetime
    final_url: str | None = None
    status: int | None = None
    bytes: int = 0
    elapsed_ms: int = 0
    error: str | None = None
    error_kind: ErrorKind | None = None
    content_type: str | None = None
    encoding: str | None = None
    encoding_source: str | None = None
    page_hash: str | None = None
    purpose: Purpose = Purpose.ARTICLE


class BodyPart(NamedTuple):
    """One block of an article body: cleaned plain text to be shown under `tag`, or (tag "") markup to sanitize.

    `safe` markup was written by the parser from escaped text and bare inline tags, exactly as the
    sanitizer would write it, and is used as it is.
    """

    tag: str
    content: str
    safe: bool = False


class DateRole(StrEnum):
    """What a page says one of its dates is."""

    PUBLISHED = "published"
    UPDATED = "updated"
    #: Nothing says: only its place on the page (after the headline, in a date element) tells.
    PLACED = "placed"


class DateCandidate(NamedTuple):
    """A date string found in a page, with where it was found."""

    raw: str
    origin: Origin
    #: Exactly where: the <meta> key, the JSON-LD key, the element or rule (for --explain).
    detail: str = ""
    #: What the page says the date is.
    role: DateRole = DateRole.PUBLISHED


@dataclass
class RawArticle:
    """Strings pulled out of a page, before any normalization."""

    title: str | None = None
    lead: str | None = None
    author: str | None = None
    published: list[DateCandidate] = field(default_factory=list)
    modified: list[DateCandidate] = field(default_factory=list)
    views_raw: str | None = None
    photo_credit: str | None = None
    source: str | None = None
    image_url: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_href: str | None = None
    #: Already cleaned with text.clean_text, in order, none empty.
    body_paragraphs: list[str] = field(default_factory=list)
    #: The body as HTML blocks, in order; sanitize.render_body() turns them into body_html.
    body_parts: list[BodyPart] = field(default_factory=list)
    #: Problems met while reading (e.g. bidi controls removed), carried into the record's warnings.
    warnings: list[str] = field(default_factory=list)
    #: field name -> where its value came from.
    field_sources: dict[str, Origin] = field(default_factory=dict)
    profile: str = "generic"


#: The order of fields in a printed record, and the columns of `articles`.
RECORD_FIELDS = (
    "url",
    "canonical_url",
    "site",
    "article_id",
    "title",
    "lead",
    "author",
    "published_at",
    "published_raw",
    "published_from",
    "modified_at",
    "views",
    "photo_credit",
    "source",
    "image_url",
    "tags",
    "language",
    "body_text",
    "body_html",
    "parse_status",
    "profile",
    "field_sources",
    "warnings",
    "fetched_at",
)

#: The fields whose change makes a new version; the view counter is not one of them.
CONTENT_FIELDS = ("title", "lead", "body_text", "author", "published_at", "modified_at")


@dataclass
class Article:
    """A normalized article record: what `scrape url` prints and `articles` stores."""

    url: str
    canonical_url: str
    site: str
    article_id: str | None = None
    title: str | None = None
    lead: str | None = None
    author: str | None = None
    published_at: str | None = None
    published_raw: str | None = None
    published_from: Origin | None = None
    modified_at: str | None = None
    views: int | None = None
    photo_credit: str | None = None
    source: str | None = None
    image_url: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    body_text: str = ""
    body_html: str = ""
    parse_status: ParseStatus = ParseStatus.OK
    profile: str = "generic"
    field_sources: dict[str, Origin] = field(default_factory=dict)
    #: Values that were present but unusable (a date of 25:99, a negative counter), kept for the reader.
    warnings: list[str] = field(default_factory=list)
    fetched_at: str = ""

    def to_record(self) -> dict[str, Any]:
        """Return the record as a plain dict in RECORD_FIELDS order (lists and dicts are copies)."""
        record = {name: getattr(self, name) for name in RECORD_FIELDS}
        record.update(tags=list(self.tags), warnings=list(self.warnings), field_sources=dict(self.field_sources))
        return record


@dataclass(frozen=True)
class Discovered:
    """A URL found on a listing page, feed or sitemap, to be queued in the frontier."""

    url: str
    kind: Purpose
    depth: int = 0
    #: A sitemap's lastmod, so an archived article that changed since its last fetch is re-visited now.
    lastmod: str | None = None


@dataclass(frozen=True)
class FrontierItem:
    """A URL claimed from the frontier for fetching."""

    schedule: str
    url: str
    kind: Purpose
    depth: int
    tries: int
    etag: str | None = None
    last_modified: str | None = None


class FrontierState(StrEnum):
    """Where a frontier URL stands."""

    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    #: Given up after its tries; kept so that finding the link again does not queue it at once.
    FAILED = "failed"


class RunStatus(StrEnum):
    """How a crawl run ended (or that it still runs)."""

    RUNNING = "running"
    COMPLETED = "completed"
    CAPPED = "capped"
    INTERRUPTED = "interrupted"
    TIMEOUT = "timeout"
    FAILED = "failed"


@dataclass(frozen=True)
class FrontierUpdate:
    """What becomes of a frontier URL, written in the same transaction as its fetch row."""

    item: FrontierItem
    state: FrontierState
    run_id: int
    #: When a queued URL (a retry) falls due.
    due_at: datetime | None = None


class Verdict(StrEnum):
    """What became of one URL, decided by the pipeline and acted on by its caller."""

    #: A parsed article was archived (new, a new version, or the same again).
    ARCHIVED = "archived"
    #: A listing, feed or sitemap was read for links.
    DISCOVERED = "discovered"
    #: A re-visit answered 304 Not Modified.
    NOT_MODIFIED = "not_modified"
    #: 404 or 410: an archived article at that URL is marked removed.
    GONE = "gone"
    #: A transient failure (a timeout, a 503): worth trying again.
    RETRY = "retry"
    #: A failure that trying again now would not mend.
    FAILED = "failed"
    #: Not requested at all (robots.txt, a Crawl-delay too long).
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    """One URL's result: the ledger row, and whatever else is to be stored with it in one transaction."""

    verdict: Verdict
    record: FetchRecord
    #: The raw response to keep (an article, or a page that failed to parse, for `reparse`).
    page: Page | None = None
    article: Article | None = None
    #: Links found on a listing, feed or sitemap.
    discovered: tuple[Discovered, ...] = ()
    #: Seconds the server asked us to wait before trying again (Retry-After).
    retry_after: float | None = None

    @property
    def error(self) -> str | None:
        return self.record.error
