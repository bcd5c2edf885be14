"""The exception hierarchy and the closed set of ledger error codes; messages say what failed, where, how to fix.

ScrapeError
├── UsageError            bad input from the user: a URL with another scheme, an unknown profile, a bad number
├── FetchError            a request that produced no usable response (has .url and .kind)
│   ├── BlockedURLError   refused before connecting: scheme, private address, malformed URL, URL too long
│   └── HTTPStatusError   the server answered with an error status (has .status)
├── ParseError            a page with no article in it (has .url and .kind)
├── ContentError          content of a fetched page that cannot be read safely (caught by the stage that reads it)
│   ├── FeedError         an RSS/Atom feed refused or unreadable
│   ├── SitemapError      a sitemap refused or unreadable
│   ├── BodyTooLarge      a body that inflates past the size cap
│   ├── CorruptEncoding   a body that is not valid data in its Content-Encoding
│   └── BadDate           text that looks like a date but cannot be one (25:99, 31 February)
├── ConfigError           a broken schedule or profile file (has .path and .key)
├── StoreError            the archive cannot be opened or written (has .path)
│   └── NotAnArchive      a SQLite file of another application, refused
├── CorruptPage           a stored raw page whose bytes do not come back exactly (has .path): not the archive
├── ArchiveFileError      a WARC or WACZ file that cannot be read or written (has .path)
├── BrokerError           the broker (Redis) of the distributed mode cannot be reached or used
└── LockedError           another process already holds a lock (has .path)
    ├── SchedulerLocked   another scheduler serves this archive (or this broker)
    ├── CrawlLocked       another crawl of this schedule writes to this archive
    └── WriterLocked      another writer serves this broker's archives
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """The closed set of codes stored in `fetches.error_kind`: what became of a request."""

    # Refused before any connection.
    BAD_URL = "bad_url"
    BLOCKED_SCHEME = "blocked_scheme"
    BLOCKED_ADDRESS = "blocked_address"
    DNS_ERROR = "dns_error"
    # No usable response.
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    CONNECTION_RESET = "connection_reset"
    TRUNCATED = "truncated"
    PROTOCOL_ERROR = "protocol_error"
    HTTP_ERROR = "http_error"
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    TOO_LARGE = "too_large"
    BAD_ENCODING = "bad_encoding"
    # A response that carries no article.
    HTTP_STATUS = "http_status"
    NOT_HTML = "not_html"
    EMPTY_BODY = "empty_body"
    HOSTILE_HTML = "hostile_html"
    BLOCKED = "blocked"
    SOFT404 = "soft404"
    NO_ARTICLE = "no_article"
    BAD_FEED = "bad_feed"
    BAD_SITEMAP = "bad_sitemap"
    # Not requested at all.
    ROBOTS = "robots"
    CRAWL_DELAY = "crawl_delay"
    # Anything else that went wrong with this one URL (a bug, a pathological page): the URL fails alone.
    INTERNAL = "internal"


class ScrapeError(Exception):
    """Base class of every error the library raises on purpose."""


class UsageError(ScrapeError):
    """The user asked for something that cannot be done as asked."""


class FetchError(ScrapeError):
    """A fetch that failed; `kind` is the code stored in the fetch ledger."""

    def __init__(self, message: str, *, url: str, kind: ErrorKind, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.kind = kind
        self.status = status


class BlockedURLError(FetchError):
    """A URL refused before any connection was made."""


class HTTPStatusError(FetchError):
    """The server answered, but with a status that carries no article."""

    def __init__(self, *, url: str, final_url: str, status: int) -> None:
        super().__init__(f"{final_url} answered HTTP {status}.", url=url, kind=ErrorKind.HTTP_STATUS, status=status)


class ParseError(ScrapeError):
    """A fetched page in which no article could be found; `kind` is its ledger code."""

    def __init__(self, message: str, *, url: str, kind: ErrorKind = ErrorKind.NO_ARTICLE) -> None:
        super().__init__(message)
        self.url = url
        self.kind = kind


class ContentError(ScrapeError, ValueError):
    """Content that cannot be read safely; the stage reading it turns it into a ledger row or a warning."""


class FeedError(ContentError):
    """A feed that cannot be read safely."""


class SitemapError(ContentError):
    """A sitemap that cannot be read safely."""


class BodyTooLarge(ContentError):
    """The decompressed body would exceed the cap."""


class CorruptEncoding(ContentError):
    """The body is not valid data in its declared Content-Encoding."""


class BadDate(ContentError):
    """Text that looks like a date but cannot be one (25:99, 31 February)."""


class ConfigError(ScrapeError):
    """A schedule or profile file that cannot be used."""

    def __init__(self, message: str, *, path: str, key: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.key = key


class StoreError(ScrapeError):
    """The archive cannot be opened, checked or written."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class NotAnArchive(StoreError):
    """A SQLite file that belongs to another application: never written to."""

    def __init__(self, *, path: str, tables: list[str]) -> None:
        shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        super().__init__(
            f"{path} is a SQLite file of another application (tables: {shown}), not an archive; "
            "it was not changed. Choose another --db.",
            path=path,
        )


class CorruptPage(ScrapeError):
    """A stored raw page that cannot be rebuilt bit-exact (damaged bytes, a lost base): that page, not the archive."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class ArchiveFileError(ScrapeError):
    """A WARC or WACZ file that cannot be read or written as asked."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class BrokerError(ScrapeError):
    """The broker of the distributed mode (Redis) cannot be reached, refused a command, or is not installed."""


class LockedError(ScrapeError):
    """A lock that another process holds."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class SchedulerLocked(LockedError):
    """Another scheduler already serves this archive."""


class CrawlLocked(LockedError):
    """Another crawl of the same schedule is writing to this archive."""


class WriterLocked(LockedError):
    """Another writer already writes the archives of this broker."""
