"""The project's exception hierarchy; every message says what failed, where, and how to fix it.

ScrapeError
├── UsageError            bad input from the user: a URL with another scheme, an unknown profile
├── FetchError            a request that produced no usable response (has .url and .kind)
│   ├── BlockedURLError   refused before connecting: scheme, private address, URL too long
│   └── HTTPStatusError   the server answered with an error status (has .status)
├── ParseError            a page with no article in it (has .url)
├── ConfigError           a broken schedule or profile file (has .path and .key)
└── StoreError            the archive cannot be opened or written (has .path)
"""

from __future__ import annotations


class ScrapeError(Exception):
    """Base class of every error the library raises on purpose."""


class UsageError(ScrapeError):
    """The user asked for something that cannot be done as asked."""


class FetchError(ScrapeError):
    """A fetch that failed; `kind` is a short closed-set code stored in the fetch ledger."""

    def __init__(self, message: str, *, url: str, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.kind = kind
        self.status = status


class BlockedURLError(FetchError):
    """A URL refused before any connection was made."""


class HTTPStatusError(FetchError):
    """The server answered, but with a status that carries no article."""


class ParseError(ScrapeError):
    """A fetched page in which no article could be found; `kind` is its ledger code."""

    def __init__(self, message: str, *, url: str, kind: str = "no_article") -> None:
        super().__init__(message)
        self.url = url
        self.kind = kind


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
