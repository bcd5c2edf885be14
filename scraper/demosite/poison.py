"""Poison pills for the demo site: ordinary-looking pages, links and redirects that once stopped crawls for good.

Served only with `scrape demo-site --poison`. The first listing page links to each; some lead to articles that
must be archived (a first capture through a redirect, under a differing canonical, behind a link carrying
credentials), the others must end as recorded failures without stopping the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scraper.demosite.server import Response

#: The demo site's article (scraper.demosite.site.Article, which imports this module).
Article = Any

#: Written into links and cookies; must never appear anywhere in an archive.
SECRET_PASSWORD = "s3cretpw"
SECRET_COOKIE = "s3cretcookie"
#: A link whose path makes a backtracking regex like ^/([a-z0-9]+-?)+_\d+/$ run for hours (it never matches).
SLOW_REGEX_PATH = "/" + "a" * 48 + "_x/"
#: Nested JSON-LD deep enough to raise RecursionError in a JSON parser called from a deep stack.
NESTED_JSONLD = "[" * 990 + "]" * 990
#: Articles first reached through a redirect, and under a canonical that differs from the fetched URL.
REDIRECTED = 3
CANONICAL_TWINS = 2


@dataclass(frozen=True)
class Pill:
    """One poison link: where the listing points, and what the crawl must make of it."""

    path: str
    #: archived (an article at `article`), failed (a recorded failure), or ignored (never fetched at all).
    expect: str
    what: str
    article: str | None = None


class PoisonPages:
    """The poison routes of one demo site, and the hidden articles some of them lead to."""

    def __init__(
        self,
        make: Callable[[int], Article],
        render: Callable[[Article, str], bytes],
        by_id: dict[int, Article],
        first_number: int,
    ) -> None:
        """`make` builds the site's article of a number, `render` its page; hidden articles join `by_id`."""
        self.render = render
        self.by_id = by_id
        self.hidden: list[Article] = [make(first_number + offset) for offset in range(REDIRECTED + CANONICAL_TWINS + 3)]
        for article in self.hidden:
            by_id[article.id] = article
        self._redirected = self.hidden[:REDIRECTED]
        self._twins = self.hidden[REDIRECTED : REDIRECTED + CANONICAL_TWINS]
        self._credentialed, self._nested, self._feed_only = self.hidden[REDIRECTED + CANONICAL_TWINS :]

    def pills(self, base: str) -> list[Pill]:
        """Every poison link, as the first listing page offers it."""
        host = base.removeprefix("http://")
        found = [Pill(f"/go_{a.id}/", "archived", "a first capture through a 301", a.path) for a in self._redirected]
        found += [
            Pill(f"/amp-{_tail(a)}/", "archived", "a first capture whose canonical differs", a.path)
            for a in self._twins
        ]
        found += [
            Pill(
                f"http://reader:{SECRET_PASSWORD}@{host}{self._credentialed.path}",
                "archived",
                "a link with credentials",
                self._credentialed.path,
            ),
            Pill(f"/deep-{_tail(self._nested)}/", "archived", "nested JSON-LD", self._nested.path),
            Pill("/badport_1/", "failed", "a redirect to a port out of range"),
            Pill("/chain-hop_1/", "failed", "an endless redirect chain"),
            Pill("/report_2/", "failed", "a PDF at an article URL"),
            Pill(SLOW_REGEX_PATH, "ignored", "a link that makes a backtracking regex run for hours"),
            # Browsers (and urllib) drop tabs and newlines from links: this one leads to /tab_3/, a 404.
            Pill("/tab\t_3/", "failed", "a link with control characters"),
        ]
        return found

    def feed_items(self) -> list[Article]:
        """Articles the RSS feed lists under a URL that no article pattern expects."""
        return [self._feed_only]

    def feed_path(self, article: Article) -> str:
        return f"/special/{article.id}.html"

    def handle(self, path: str, base: str) -> Response | None:
        """The response of a poison route, or None if `path` is not one."""
        if path.startswith("/go_"):
            article = self.by_id.get(_number(path))
            if article is not None:
                return Response(301, b"", {"Location": base + article.path})
        if path.startswith("/amp-"):
            article = self.by_id.get(_number(path))
            if article is not None:
                # The same page as the article's own URL: its canonical link names that URL.
                return self._article(article, base)
        if path.startswith("/deep-"):
            article = self.by_id.get(_number(path))
            if article is not None:
                body = self.render(article, base)
                script = f'<script type="application/ld+json">{NESTED_JSONLD}</script></head>'.encode()
                return Response(200, body.replace(b"</head>", script, 1), self._headers())
        if path.startswith("/badport_"):
            return Response(301, b"", {"Location": "http://127.0.0.1:99999/x_1/"})
        if path.startswith("/chain-hop_"):
            return Response(302, b"", {"Location": f"{base}/chain-hop_{_number(path) + 1}/"})
        if path.startswith("/report_"):
            return Response(
                200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", {"Content-Type": "application/pdf"}
            )
        if path.startswith("/special/") and path.endswith(".html"):
            article = self.by_id.get(int(path.removeprefix("/special/").removesuffix(".html") or 0))
            if article is not None:
                return self._article(article, base)
        article = self.by_id.get(_number(path) or 0)
        if article is not None and article in self.hidden and path == article.path:
            return self._article(article, base)
        return None

    def _article(self, article: Article, base: str) -> Response:
        return Response(200, self.render(article, base), self._headers())

    def _headers(self) -> dict[str, str]:
        # A session cookie as many sites set one: a secret that must never be stored.
        return {"Content-Type": "text/html; charset=utf-8", "Set-Cookie": f"session={SECRET_COOKIE}; HttpOnly"}


def _tail(article: Article) -> str:
    """The last segment of an article's path (no /kz/ prefix): what the poison routes are built on."""
    return str(article.path).rstrip("/").rsplit("/", 1)[-1]


def _number(path: str) -> int:
    tail = path.rstrip("/").rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0
