"""The demo news site: generated BaigeNews-style articles, listings, RSS, sitemaps, robots.txt, hostile articles."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from zoneinfo import ZoneInfo

from scraper.demosite.corpus import (
    AUTHORS,
    CITIES,
    HEADLINES_KK,
    HEADLINES_RU,
    SENTENCES_KK,
    SENTENCES_RU,
    SOURCES,
)
from scraper.demosite.markup import SECTIONS, SECTIONS_KK, ArticlePage, article_html, listing_html
from scraper.demosite.poison import PoisonPages
from scraper.demosite.server import Request, Response, _bomb, _head

ALMATY = ZoneInfo("Asia/Almaty")
FIRST_ID = 190_000
PAGE_SIZE = 20
SITEMAP_SIZE = 500
_RUSSIAN_MONTHS = (
    "Января",
    "Февраля",
    "Марта",
    "Апреля",
    "Мая",
    "Июня",
    "Июля",
    "Августа",
    "Сентября",
    "Октября",
    "Ноября",
    "Декабря",
)
_KAZAKH_MONTHS = (
    "қаңтар",
    "ақпан",
    "наурыз",
    "сәуір",
    "мамыр",
    "маусым",
    "шілде",
    "тамыз",
    "қыркүйек",
    "қазан",
    "қараша",
    "желтоқсан",
)
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "-",
            "y",
            "-",
            "e",
            "yu",
            "ya",
            "a",
            "g",
            "q",
            "n",
            "o",
            "u",
            "u",
            "h",
            "i",
        ],
        strict=True,
    )
)

#: What the hostile articles do; the number is the article's position among the articles (0 = newest).
HOSTILE = {
    3: "retry_after",  # 429 with Retry-After: 1 on the first request, then the page
    5: "flaky",  # 503 twice, then the page
    7: "slow",  # 1.5 s before the answer
    11: "redirect_loop",  # 302 to itself via a second URL, forever
    13: "huge",  # a 12 MB body
    17: "bomb",  # a gzip bomb (16 MB once inflated, over the 10 MB cap)
    19: "reset_once",  # connection reset mid-body on the first request, then the page
    23: "windows_1251",  # served as windows-1251 with the charset only in <meta>
    29: "truncated",  # always fewer bytes than Content-Length
}
#: Hostile behaviours that end in an archived article (after retries); the rest end in a recorded failure.
RECOVERS = frozenset({"retry_after", "flaky", "slow", "reset_once", "windows_1251"})


def slugify(title: str) -> str:
    """A Latin URL slug of a Russian or Kazakh title, as BaigeNews builds them."""
    out = []
    for char in title.lower():
        if char in _TRANSLIT:
            out.append(_TRANSLIT[char].strip("-"))
        elif char.isascii() and char.isalnum():
            out.append(char)
        else:
            out.append("-")
    return "-".join(part for part in "".join(out).split("-") if part)[:80]


def visible_date(when: datetime, lang: str) -> str:
    local = when.astimezone(ALMATY)
    months = _KAZAKH_MONTHS if lang == "kk" else _RUSSIAN_MONTHS
    return f"{local.day} {months[local.month - 1]}, {local:%H:%M}"


@dataclass
class Article:
    """One generated article and its mutable state on the server."""

    number: int
    id: int
    lang: str
    section: tuple[str, str]
    title: str
    lead: str
    paragraphs: list[str]
    published: datetime
    author: str
    source: str | None
    base_views: int
    behaviour: str | None = None
    visits: int = 0
    edits: list[str] = field(default_factory=list)
    title_override: str | None = None
    removed_status: int | None = None
    views_frozen: bool = False

    @property
    def path(self) -> str:
        prefix = "/kz" if self.lang == "kk" else ""
        return f"{prefix}/{slugify(self.title)}_{self.id}/"

    @property
    def views(self) -> int:
        return self.base_views + (0 if self.views_frozen else self.visits * 3)


class NewsSite:
    """Every page of the demo site, computed from a seed; article state changes as tests ask."""

    def __init__(
        self,
        *,
        articles: int = 60,
        hostile: bool = True,
        crawl_delay: float | None = 0.05,
        now: datetime | None = None,
        seed: int = 2024,
        fault_rate: float = 0.0,
        poison: bool = False,
    ) -> None:
        self.started = now or datetime.now(UTC).replace(microsecond=0)
        self.crawl_delay = crawl_delay
        #: The share of article requests answered with a random transient fault (throughput under faults).
        self.fault_rate = fault_rate
        self._faults = random.Random(seed)
        self.faults_injected: dict[str, int] = {}
        self.articles = [self._make(number, seed, hostile) for number in range(articles)]
        self.by_id = {article.id: article for article in self.articles}
        self.log: list[dict[str, object]] = []
        self.flaky_counts: dict[int, int] = {}
        #: Misbehaviours switched on by tests: robots (404, 503, huge, slow-crawl), feed (doctype),
        #: sitemap (doctype, bomb, million).
        self.modes: dict[str, str] = {}
        # Built once here, so serving them never stalls the server (its request log is a clock for tests).
        self._huge = b"<html><body><p>" + b"x" * (12 * 1024 * 1024) + b"</p>" if hostile else b""
        self._bomb = _bomb(16 * 1024 * 1024, "gzip") if hostile else b""
        #: Poison pills (pages, links, redirects that once stopped crawls), linked from the first listing page.
        self.poison = (
            PoisonPages(lambda n: self._make(n, seed=7, hostile=False), self.render_article, self.by_id, articles)
            if poison
            else None
        )

    def _make(self, number: int, seed: int, hostile: bool) -> Article:
        rng = random.Random(seed * 100_003 + number)
        lang = "kk" if number % 7 == 4 else "ru"
        headlines, sentences = (HEADLINES_KK, SENTENCES_KK) if lang == "kk" else (HEADLINES_RU, SENTENCES_RU)
        sections = SECTIONS_KK if lang == "kk" else SECTIONS
        headline = headlines[number % len(headlines)]
        if number >= len(headlines):
            headline = f"{headline}: {CITIES[number % len(CITIES)]}, выпуск {number // len(headlines) + 1}"
        paragraphs = [
            " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(4, 8))
        ]
        return Article(
            number=number,
            id=FIRST_ID + number * 7 + 3,
            lang=lang,
            section=sections[number % len(sections)],
            title=headline,
            lead=" ".join(rng.choice(sentences) for _ in range(2)),
            paragraphs=paragraphs,
            published=self.started - timedelta(minutes=47 * number + 5),
            author=rng.choice(AUTHORS),
            source=rng.choice(SOURCES),
            base_views=rng.randint(50, 30_000),
            behaviour=HOSTILE.get(number) if hostile else None,
        )

    # -- pages -------------------------------------------------------------

    def _article_page(self, article: Article, base: str) -> ArticlePage:
        paragraphs = [escape(p) for p in article.paragraphs] + [escape(p) for p in article.edits]
        related = [
            (other.title, base + other.path, visible_date(other.published, other.lang))
            for other in self.articles[article.number + 1 : article.number + 5]
        ]
        published_iso = article.published.astimezone(ALMATY).isoformat()
        return ArticlePage(
            url=base + article.path,
            title=article.title_override or article.title,
            lead=escape(article.lead),
            paragraphs=paragraphs,
            date_visible=visible_date(article.published, article.lang),
            views_text=_views_text(article.views, article.number),
            published_iso=published_iso,
            author=article.author,
            source=article.source,
            photo_credit=article.source or "BaigeNews.kz",
            image=f"/upload/iblock/{article.id % 997:03d}/{article.id}.jpg",
            tags=[article.section[1], CITIES[article.number % len(CITIES)]],
            section=article.section,
            lang=article.lang,
            charset="windows-1251" if article.behaviour == "windows_1251" else "utf-8",
            related=related,
            read_also_after=1 if related else None,
            ad_after=2,
            base=base,
        )

    def render_article(self, article: Article, base: str) -> bytes:
        page = self._article_page(article, base)
        return article_html(page).encode(page.charset, "xmlcharrefreplace")

    def visible_articles(self) -> list[Article]:
        return [a for a in self.articles if a.removed_status is None]

    def listing(self, base: str, path: str, page: int, section: str | None) -> Response:
        items = [a for a in self.visible_articles() if section is None or a.section[0] == section]
        pages = max(1, (len(items) + PAGE_SIZE - 1) // PAGE_SIZE)
        if page < 1 or page > pages:
            return Response(404, b"<h1>404</h1>", {"Content-Type": "text/html; charset=utf-8"})
        chunk = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        links = []
        for article in chunk:
            url = base + article.path
            # Social links carry tracking parameters; the archive must see one article.
            if article.number % 5 == 1:
                url += "?utm_source=telegram&utm_medium=social&utm_campaign=feed"
            links.append((article.title_override or article.title, url, visible_date(article.published, article.lang)))
        if self.poison is not None and section is None and page == 1:
            links += [
                ("Спецпроект", pill.path if "://" in pill.path else base + pill.path, "")
                for pill in self.poison.pills(base)
            ]
        next_url = f"{base}{path}?page={page + 1}" if page < pages else None
        prev_url = f"{base}{path}?page={page - 1}" if page > 1 else None
        title = "Новости" if section is None else dict(SECTIONS + SECTIONS_KK).get(section, section)
        return Response.html(listing_html(title, links, base=base, next_url=next_url, prev_url=prev_url))

    def rss(self, base: str) -> Response:
        if self.modes.get("feed") == "doctype":
            # A billion-laughs feed: it must be refused, not expanded.
            laughs = (
                b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                b'<rss version="2.0"><channel><title>&b;</title></channel></rss>'
            )
            return Response(200, laughs, {"Content-Type": "application/rss+xml"})
        items = []
        feed_only = self.poison.feed_items() if self.poison is not None else []
        for article in [*self.visible_articles()[:50], *feed_only]:
            link = base + (self.poison.feed_path(article) if article in feed_only and self.poison else article.path)
            items.append(
                "<item>"
                f"<title>{escape(article.title_override or article.title)}</title>"
                f"<link>{escape(link)}</link>"
                f'<guid isPermaLink="true">{escape(link)}</guid>'
                f"<pubDate>{format_datetime(article.published)}</pubDate>"
                f"<description>{escape(article.lead)}</description>"
                "</item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>BaigeNews.kz</title><link>{base}/</link><description>Новости Казахстана</description>"
            + "".join(items)
            + "</channel></rss>"
        )
        return Response(200, body.encode(), {"Content-Type": "application/rss+xml; charset=utf-8"})

    def sitemap_index(self, base: str) -> Response:
        mode = self.modes.get("sitemap")
        if mode == "doctype":
            external = (
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><urlset>&e;</urlset>'
            )
            return Response(200, external, {"Content-Type": "application/xml"})
        if mode == "bomb":
            return Response(
                200, _bomb(64 * 1024 * 1024, "gzip"), {"Content-Type": "application/xml", "Content-Encoding": "gzip"}
            )
        if mode == "million":
            urls = "".join(f"<url><loc>{base}/trap/{n}_{n}/</loc></url>" for n in range(60_000))
            listing = (
                f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            )
            return Response(200, listing.encode(), {"Content-Type": "application/xml"})
        count = (len(self.articles) + SITEMAP_SIZE - 1) // SITEMAP_SIZE
        parts = "".join(
            f"<sitemap><loc>{base}/sitemap-articles-{n}.xml</loc>"
            f"<lastmod>{self.started.date().isoformat()}</lastmod></sitemap>"
            for n in range(1, count + 1)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{parts}</sitemapindex>'
        )
        return Response(200, body.encode(), {"Content-Type": "application/xml"})

    def sitemap(self, base: str, number: int) -> Response:
        chunk = self.visible_articles()[(number - 1) * SITEMAP_SIZE : number * SITEMAP_SIZE]
        if not chunk:
            return Response(404, b"not found", {"Content-Type": "text/plain"})
        parts = "".join(
            f"<url><loc>{escape(base + a.path)}</loc><lastmod>{a.published.isoformat()}</lastmod></url>" for a in chunk
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{parts}</urlset>'
        )
        return Response(200, body.encode(), {"Content-Type": "application/xml"})

    def robots(self, base: str) -> Response:
        mode = self.modes.get("robots")
        if mode == "404":
            return Response(404, b"no robots here", {"Content-Type": "text/plain"})
        if mode == "503":
            return Response(503, b"busy", {"Content-Type": "text/plain"})
        if mode == "huge":
            # 10 MB: the rules that matter come after the 500 KiB a crawler must read.
            filler = b"# " + b"x" * 1000 + b"\n"
            body = b"User-agent: *\nAllow: /\n" + filler * 10_000 + b"User-agent: *\nDisallow: /\n"
            return Response(200, body, {"Content-Type": "text/plain"})
        if mode == "slow-crawl":
            return Response(200, b"User-agent: *\nCrawl-delay: 3600\n", {"Content-Type": "text/plain"})
        lines = ["User-agent: *", "Disallow: /search/", "Disallow: /private/", "Allow: /"]
        if self.crawl_delay:
            lines.append(f"Crawl-delay: {self.crawl_delay:g}")
        lines.append(f"Sitemap: {base}/sitemap.xml")
        return Response(200, ("\n".join(lines) + "\n").encode(), {"Content-Type": "text/plain"})

    # -- serving -----------------------------------------------------------

    async def handle(self, request: Request, writer: asyncio.StreamWriter) -> Response | None:
        host = request.headers.get("host", "127.0.0.1")
        base = f"http://{host}"
        path = request.path
        self.log.append(
            {
                "at": time.time(),
                "path": request.target,
                "if_none_match": request.headers.get("if-none-match"),
                "user_agent": request.headers.get("user-agent"),
            }
        )
        if path.startswith("/_control/"):
            return self.control(path, request.query, base)
        if path == "/robots.txt":
            return self.robots(base)
        if path == "/sitemap.xml":
            return self.sitemap_index(base)
        if path.startswith("/sitemap-articles-") and path.endswith(".xml"):
            return self.sitemap(base, int(path.removeprefix("/sitemap-articles-").removesuffix(".xml") or 0))
        if path == "/news/rss/":
            return self.rss(base)
        page = int(request.query.get("page", "1") or 1) if request.query.get("page", "1").isdigit() else 0
        if path in ("/", "/news/"):
            return self.listing(base, "/news/", page, None)
        section = path.strip("/")
        if section in {slug for slug, _ in SECTIONS}:
            return self.listing(base, path, page, section)
        if path.endswith("-amp/"):
            # The "AMP" twin of a looping article redirects straight back to it.
            looping = self.by_id.get(_article_id(path.removesuffix("-amp/") + "/") or 0)
            if looping is not None and looping.behaviour == "redirect_loop":
                return Response(302, b"", {"Location": base + looping.path})
        if self.poison is not None and (poisoned := self.poison.handle(path, base)) is not None:
            return poisoned
        article_id = _article_id(path)
        article = self.by_id.get(article_id) if article_id else None
        if article is None or article.path != path:
            return Response(404, b"<h1>404</h1>", {"Content-Type": "text/html; charset=utf-8"})
        return await self.serve_article(article, base, request, writer)

    async def serve_article(
        self, article: Article, base: str, request: Request, writer: asyncio.StreamWriter
    ) -> Response | None:
        if article.removed_status:
            return Response(article.removed_status, b"<h1>Gone</h1>", {"Content-Type": "text/html; charset=utf-8"})
        if self.fault_rate and article.behaviour is None and self._faults.random() < self.fault_rate:
            return await self._transient_fault(article, base, writer)
        behaviour = article.behaviour
        seen = self.flaky_counts[article.id] = self.flaky_counts.get(article.id, 0) + 1
        if behaviour == "retry_after" and seen == 1:
            return Response(429, b"slow down", {"Content-Type": "text/plain", "Retry-After": "1"})
        if behaviour == "flaky" and seen <= 2:
            return Response(503, b"busy", {"Content-Type": "text/plain"})
        if behaviour == "slow":
            await asyncio.sleep(1.5)
        if behaviour == "redirect_loop":
            return Response(302, b"", {"Location": base + article.path.rstrip("/") + "-amp/"})
        if behaviour == "huge":
            return Response(200, self._huge, {"Content-Type": "text/html"})
        if behaviour == "bomb":
            return Response(200, self._bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip"})
        article.visits += 1
        body = self.render_article(article, base)
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(304, b"", {"ETag": etag})
        content_type = "text/html" if behaviour == "windows_1251" else "text/html; charset=utf-8"
        headers = {
            "Content-Type": content_type,
            "ETag": etag,
            "Last-Modified": format_datetime(article.published, usegmt=True),
        }
        if behaviour == "truncated" or (behaviour == "reset_once" and seen == 1):
            writer.write(_head(200, {**headers, "Content-Length": str(len(body))}))
            writer.write(body[: len(body) // 2])
            await writer.drain()
            writer.transport.abort()
            return None
        return Response(200, body, headers)

    async def _transient_fault(self, article: Article, base: str, writer: asyncio.StreamWriter) -> Response | None:
        """One of the faults a busy news site shows now and then; a retry later gets the page."""
        kind = self._faults.choice(["http_500", "http_503", "http_429", "reset", "truncated", "stall"])
        self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1
        if kind == "http_500":
            return Response(500, b"internal error", {"Content-Type": "text/plain"})
        if kind == "http_503":
            return Response(503, b"busy", {"Content-Type": "text/plain"})
        if kind == "http_429":
            return Response(429, b"slow down", {"Content-Type": "text/plain", "Retry-After": "0"})
        if kind == "stall":
            await asyncio.sleep(30)  # longer than any sane fetch timeout
            return Response(504, b"late", {"Content-Type": "text/plain"})
        body = self.render_article(article, base)
        writer.write(_head(200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body))}))
        writer.write(body[: len(body) // 3])
        await writer.drain()
        if kind == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()
        return None

    def control(self, path: str, query: dict[str, str], base: str = "") -> Response:
        """Test hooks: edit, remove or freeze an article, read the request log."""
        parts = path.strip("/").split("/")
        action = parts[1] if len(parts) > 1 else ""
        if action == "faults":
            return Response(200, json.dumps(self.faults_injected).encode(), {"Content-Type": "application/json"})
        if action == "poison":
            pills = [vars(pill) for pill in self.poison.pills(base)] if self.poison is not None else []
            return Response(200, json.dumps(pills).encode(), {"Content-Type": "application/json"})
        if action == "log":
            return Response(200, json.dumps(self.log).encode(), {"Content-Type": "application/json"})
        if action == "mode":
            self.modes.update(query)
            return Response(200, b"ok", {"Content-Type": "text/plain"})
        if action == "articles":
            data = [
                {
                    "id": a.id,
                    "path": a.path,
                    "behaviour": a.behaviour,
                    "title": a.title_override or a.title,
                    "lang": a.lang,
                }
                for a in self.articles
            ]
            return Response(200, json.dumps(data, ensure_ascii=False).encode(), {"Content-Type": "application/json"})
        article = self.by_id.get(int(parts[2])) if len(parts) > 2 and parts[2].isdigit() else None
        if article is None:
            return Response(404, b"no such article", {"Content-Type": "text/plain"})
        if action == "edit":
            if "title" in query:
                article.title_override = query["title"]
            if "paragraph" in query:
                article.edits.append(query["paragraph"])
        elif action == "remove":
            article.removed_status = int(query.get("status", "404"))
        elif action == "restore":
            article.removed_status = None
        elif action == "freeze":
            article.views_frozen = True
        else:
            return Response(404, b"no such control", {"Content-Type": "text/plain"})
        return Response(200, b"ok", {"Content-Type": "text/plain"})


def _article_id(path: str) -> int | None:
    tail = path.rstrip("/").rsplit("_", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def _views_text(views: int, number: int) -> str:
    """The counter in the forms the site prints, varying by article."""
    if views >= 10_000 and number % 3 == 0:
        return f"{views / 1000:.1f}K".replace(".", ",")
    if views >= 1_000 and number % 3 == 1:
        return f"{views:,}".replace(",", " ")
    return str(views)
