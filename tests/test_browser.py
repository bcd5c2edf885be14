"""The archive in a real browser: `scrape serve` driven through Debian's headless Chromium with Playwright.

Playwright only drives /usr/bin/chromium (`executable_path`); its own browser download is never used.
Screenshots of every page land in pytest's temporary folder (`screenshots*`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from datasette.utils import tilde_encode

from .test_serve import (
    EDITED,
    EDITED_PARAGRAPH,
    EDITED_TITLE,
    Served,
    article_url,
    built_archive,
    containing,
    copy_archive,
    rows,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
CANNED_QUERIES = (
    "most_viewed_7d",
    "fastest_growing",
    "edited_after_publication",
    "removed_articles",
    "extraction_health",
    "failed_fetches",
)
#: Hostile markup points here; any request to it means something loaded or ran that should not have.
CANARY = "canary.test"
HOSTILE_URL = f"http://{CANARY}/news/zloy-material_666/"
HOSTILE_TITLE = 'Злой материал <script>alert("title")</script><img src=x onerror=alert("title-img")>'
HOSTILE_HTML = f"""
<p>Первый абзац злого материала.</p>
<script>alert("body")</script>
<img src="http://{CANARY}/pixel.png" alt="пиксель" onerror="alert('img')">
<p onclick="alert('p')" style="background:url(http://{CANARY}/bg.png)">Второй абзац.</p>
<a href="javascript:alert('link')">ссылка</a> <a href="http://{CANARY}/ok">обычная ссылка</a>
<iframe src="http://{CANARY}/frame"></iframe>
<svg onload="alert('svg')"><circle r="5"/></svg>
<object data="http://{CANARY}/object"></object>
<form action="http://{CANARY}/form"><input autofocus onfocus="alert('focus')"></form>
<meta http-equiv="refresh" content="0;url=http://{CANARY}/refresh">
<base href="http://{CANARY}/">
<link rel="stylesheet" href="http://{CANARY}/style.css">
<style>@import url(http://{CANARY}/import.css);</style>
<details open ontoggle="alert('toggle')"><summary>x</summary></details>
"""
HOSTILE_TEXT = '<script>alert("text")</script>\n\n<img src=x onerror=alert("text-img")>'


#: The payload corpus (OWASP XSS filter evasion, html5sec): every one is stored as the title, lead,
#: author and body of an article of its own; no page may run any of them or fetch from the canary.
XSS_PAYLOADS = [
    "<script>alert('X{n}')</script>",
    "<img src=x onerror=alert('X{n}')>",
    "<svg onload=alert('X{n}')>",
    "<svg/onload=alert('X{n}')>",
    "<body onload=alert('X{n}')>",
    "<body onpageshow=alert('X{n}')>",
    "<iframe src=\"javascript:alert('X{n}')\"></iframe>",
    "<iframe srcdoc=\"<script>alert('X{n}')</script>\"></iframe>",
    "<iframe src=http://{canary}/frame{n}></iframe>",
    "<a href=\"javascript:alert('X{n}')\">x</a>",
    "<a href=\"JaVaScRiPt:alert('X{n}')\">x</a>",
    "<a href=\"&#106;avascript:alert('X{n}')\">x</a>",
    "<a href=\"jav&#x09;ascript:alert('X{n}')\">x</a>",
    "<a href=\"data:text/html,<script>alert('X{n}')</script>\">x</a>",
    '<img src="x" onerror="&#97;lert(\'X{n}\')">',
    "<img src=x:alert('X{n}') onerror=eval(src)>",
    "<svg><script>alert('X{n}')</script></svg>",
    "<svg><animate onbegin=alert('X{n}') attributeName=x dur=1s>",
    "<svg><a xlink:href=\"javascript:alert('X{n}')\"><text x=20 y=20>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('X{n}')>",
    "<details open ontoggle=alert('X{n}')>",
    "<input autofocus onfocus=alert('X{n}')>",
    "<select autofocus onfocus=alert('X{n}')></select>",
    "<textarea autofocus onfocus=alert('X{n}')></textarea>",
    "<video><source onerror=alert('X{n}')></video>",
    "<audio src=x onerror=alert('X{n}')></audio>",
    "<object data=\"javascript:alert('X{n}')\"></object>",
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    "<embed src=\"javascript:alert('X{n}')\">",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'X{n}\')">',
    "<form><button formaction=javascript:alert('X{n}')>x</button></form>",
    "<isindex action=javascript:alert('X{n}') type=image>",
    "<div style=\"background:url(javascript:alert('X{n}'))\">x</div>",
    '<div style="background:url(http://{canary}/bg{n}.png)">x</div>',
    "<style>@import 'http://{canary}/x{n}.css';</style>",
    "<link rel=stylesheet href=http://{canary}/x{n}.css>",
    '<base href="http://{canary}/">',
    '<img src="http://{canary}/pixel{n}.gif">',
    '<img srcset="http://{canary}/a{n}.png 1x">',
    "<picture><source srcset=http://{canary}/b{n}.png><img src=x></picture>",
    "\"><script>alert('X{n}')</script>",
    "'><img src=x onerror=alert('X{n}')>",
    "</title><script>alert('X{n}')</script>",
    "</textarea><script>alert('X{n}')</script>",
    "<scr<script>ipt>alert('X{n}')</scr</script>ipt>",
    "<<script>alert('X{n}')//<</script>",
    '<img """><script>alert(\'X{n}\')</script>">',
    "<marquee onstart=alert('X{n}')>x</marquee>",
    "<table background=\"javascript:alert('X{n}')\"><tr><td>x</td></tr></table>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert('X{n}')>\"></p></noscript>",
    "<xmp><p title=\"</xmp><svg onload=alert('X{n}')>\"></p></xmp>",
    "{{{{constructor.constructor('alert(\"X{n}\")')()}}}}",
    "<a href=# onclick=alert('X{n}')>click</a>",
    "javascript:alert('X{n}')",
]


def insert_payload_articles(db: Path) -> None:
    """One article per payload, the payload in every text field and in the body HTML."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    with closing(sqlite3.connect(db)) as conn, conn:
        for number, template in enumerate(XSS_PAYLOADS):
            payload = template.format(n=number, canary=CANARY)
            url = f"http://{CANARY}/xss/payload_{number}/"
            values = {
                "url": url,
                "site": CANARY,
                "article_id": str(number),
                "title": f"XSSPAYLOAD {number} {payload}",
                "lead": payload,
                "author": payload,
                "published_at": now,
                "published_raw": payload,
                "published_from": "meta",
                "views": number,
                "photo_credit": payload,
                "source": payload,
                "image_url": payload,
                "tags": json.dumps([payload]),
                "language": payload,
                "body_text": f"XSSPAYLOAD {payload}",
                "body_html": payload,
                "parse_status": "ok",
                "profile": "generic",
                "field_sources": "{}",
                "warnings": json.dumps([payload]),
                "content_hash": f"{number:064d}",
                "version": 1,
                "first_seen_at": now,
                "last_fetched_at": now,
                "last_changed_at": now,
                "fetched_url": payload,
            }
            conn.execute(
                f"INSERT INTO articles ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
                list(values.values()),
            )
            conn.execute(
                "INSERT INTO article_versions (url, version, captured_at, content_hash, changed_fields, title, lead,"
                " author, body_text, body_html) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
                (url, now, f"{number:064d}", json.dumps([payload]), payload, payload, payload, payload, payload),
            )
            conn.execute("INSERT INTO view_counts (url, observed_at, views) VALUES (?, ?, ?)", (url, now, number))


def insert_hostile_article(db: Path) -> None:
    """Write a hostile article straight into the archive, as if the sanitizer had let it all through."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    common = {
        "lead": '<img src=x onerror=alert("lead")>',
        "author": '<svg onload=alert("author")>',
        "published_at": now,
        "modified_at": None,
        "body_text": HOSTILE_TEXT,
        "body_html": HOSTILE_HTML,
    }
    article = {
        **common,
        "url": HOSTILE_URL,
        "site": CANARY,
        "article_id": "666",
        "title": HOSTILE_TITLE,
        "published_raw": '<script>alert("raw")</script>',
        "published_from": "meta",
        "views": 666,
        "photo_credit": '<script>alert("credit")</script>',
        "source": 'javascript:alert("source")',
        "image_url": 'javascript:alert("image")',
        "tags": json.dumps(['<script>alert("tag")</script>']),
        "language": '"><script>alert("lang")</script>',
        "parse_status": "ok",
        "profile": "generic",
        "field_sources": json.dumps({"title": '<script>alert("fs")</script>'}),
        "warnings": json.dumps(['<img src=x onerror=alert("warning")>']),
        "content_hash": "0" * 64,
        "version": 2,
        "first_seen_at": now,
        "last_fetched_at": now,
        "last_changed_at": now,
        "fetched_url": 'javascript:alert("fetched")',
    }
    versions = [
        {
            **common,
            "url": HOSTILE_URL,
            "version": 1,
            "title": 'Старый <script>alert("v1")</script>',
            "body_text": "Было.",
        },
        {**common, "url": HOSTILE_URL, "version": 2, "title": HOSTILE_TITLE},
    ]
    with closing(sqlite3.connect(db)) as conn, conn:
        columns = ", ".join(article)
        conn.execute(
            f"INSERT INTO articles ({columns}) VALUES ({', '.join('?' for _ in article)})", list(article.values())
        )
        for version in versions:
            version.update(
                captured_at=now,
                content_hash=str(version["version"]) * 64,
                changed_fields=json.dumps(["title", "body_text", '<script>alert("field")</script>']),
            )
            names = ", ".join(version)
            conn.execute(
                f"INSERT INTO article_versions ({names}) VALUES ({', '.join('?' for _ in version)})",
                list(version.values()),
            )
        conn.executemany(
            "INSERT INTO view_counts (url, observed_at, views) VALUES (?, ?, ?)",
            [(HOSTILE_URL, "2024-01-01T00:00:00+00:00", 1), (HOSTILE_URL, now, 666)],
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's crawled archive (read only here; the server gets a copy)."""
    return built_archive(tmp_path_factory)


@pytest.fixture(scope="module")
def served(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("browser")
    db = copy_archive(built, folder / "archive.db")
    insert_hostile_article(db)
    insert_payload_articles(db)
    server = Served(db, folder / "serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; run scripts/install-system-deps (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A browser page that records dialogs, requests to other hosts, CSP refusals and page errors."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        # Every request passes here first: the loopback server's go on, anything else is recorded and refused.
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.page.on("dialog", self._dialog)
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, url: str, shot: Path | None) -> Any:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, url
        self.page.wait_for_load_state("load")
        if shot is not None:
            self.page.screenshot(path=str(shot), full_page=True)
        return self.page

    def csp_refusals(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text]


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    page = Watched(browser)
    yield page
    page.context.close()


def test_articles_table_loads(served: Served, watched: Watched, shots: Path) -> None:
    page = watched.open(served.url("/archive/articles"), shots / "articles.png")
    assert page.locator("table.rows-and-columns tbody tr").count() >= 10
    assert "sorted by published_at descending" in page.inner_text("h3")
    assert page.locator(".facet-info").count() >= 5
    # Datasette's own scripts ran under the Content-Security-Policy: the column menus and the facet flag.
    assert page.locator("th .dropdown-menu-icon").count() > 0
    assert page.evaluate("typeof DATASETTE_ALLOW_FACET") == "boolean"
    assert watched.csp_refusals() == [] and watched.errors == []


def test_cyrillic_search_finds_rows(served: Served, watched: Watched, shots: Path, built: Path) -> None:
    page = watched.open(served.url("/archive/articles"), shots / "before-search.png")
    page.fill("input#_search", "ТОКАЕВ")
    page.press("input#_search", "Enter")
    page.wait_for_load_state("load")
    page.screenshot(path=str(shots / "search-tokaev.png"), full_page=True)
    assert "_search=" in page.url
    titles = page.locator("table.rows-and-columns td.col-title").all_inner_texts()
    assert len(titles) == len(containing(built, "токаев")) > 0
    assert any("Токаев" in title for title in titles)


def test_an_inflected_word_in_the_search_box_shows_the_article_with_a_marked_snippet(
    served: Served, watched: Watched, shots: Path, built: Path
) -> None:
    # The edited article's new paragraph says "…новым абзацем."; a reader types the plural, "абзацы".
    assert "абзацем" in EDITED_PARAGRAPH
    page = watched.open(served.url("/archive/articles"), None)
    page.fill("input#_search", "абзацы")
    page.press("input#_search", "Enter")
    page.wait_for_load_state("load")
    page.screenshot(path=str(shots / "search-inflected.png"), full_page=True)
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 1
    assert rows.locator("td.col-title").inner_text() == EDITED_TITLE
    assert rows.locator("td.col-body_text mark").all_inner_texts() == ["абзацем"]
    # Marked visibly: the <mark> has a background of its own.
    background = page.evaluate("getComputedStyle(document.querySelector('td.col-body_text mark')).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    # From there, the search page: the same article, ranked, with its snippet marked.
    page.click("p.archive-search-link a")
    page.wait_for_load_state("load")
    page.screenshot(path=str(shots / "search-page.png"), full_page=True)
    assert page.locator("a.archive-hit-title").all_inner_texts() == [EDITED_TITLE]
    assert page.locator(".archive-hits .archive-snippet mark").all_inner_texts() == ["абзацем"]
    assert watched.csp_refusals() == [] and watched.errors == []


def test_the_search_page_finds_a_headline_an_edit_replaced(
    served: Served, watched: Watched, shots: Path, built: Path
) -> None:
    url = article_url(built, EDITED)
    original = rows(built, "SELECT title FROM article_versions WHERE url = ? AND version = 1", url)[0]["title"]
    page = watched.open(served.url("/archive/-/search?q=" + quote(f'"{original}"')), shots / "search-earlier.png")
    assert page.locator(".archive-hits-earlier a.archive-hit-title").all_inner_texts() == [original]
    note = page.locator(".archive-hits-earlier .archive-hit-note").inner_text()
    changed = rows(built, "SELECT captured_at FROM article_versions WHERE url = ? AND version = 2", url)[0]
    assert note == f"in version 1, removed on {changed['captured_at'][:10]}"
    assert watched.csp_refusals() == [] and watched.errors == []


def test_article_page_shows_the_article(served: Served, watched: Watched, shots: Path, built: Path) -> None:
    url = article_url(built, EDITED)
    stored = rows(built, "SELECT * FROM articles WHERE url = ?", url)[0]
    original = rows(built, "SELECT title FROM article_versions WHERE url = ? AND version = 1", url)[0]["title"]
    readings = len(rows(built, "SELECT id FROM view_counts WHERE url = ?", url))
    # From the table, as a reader gets there: the title links to the article.
    page = watched.open(served.url("/archive/articles"), shots / "articles-before-click.png")
    page.click(f"a.archive-title-link:text-is('{EDITED_TITLE}')")
    page.wait_for_load_state("load")
    page.screenshot(path=str(shots / "article.png"), full_page=True)
    assert urlsplit(page.url).path == f"/archive/articles/{tilde_encode(url)}"
    assert page.inner_text("h1.archive-title") == EDITED_TITLE
    body = page.locator(".archive-body p").all_inner_texts()
    assert len(body) >= 3 and EDITED_PARAGRAPH in body
    assert page.get_attribute("a.archive-source-link", "href") == url
    assert page.inner_text(".archive-photo-credit") == stored["photo_credit"]
    chart = page.locator("svg.view-chart")
    assert chart.get_attribute("data-readings") == str(readings)
    points = page.get_attribute("svg.view-chart polyline", "points") or ""
    assert len(points.split()) == readings
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 50  # drawn, not just present
    assert page.locator("svg.view-chart circle").count() == readings
    title_change = page.locator('[data-version="2"] [data-field="title"]')
    assert title_change.locator("del").inner_text() == original
    assert title_change.locator("ins").inner_text() == EDITED_TITLE
    assert EDITED_PARAGRAPH in page.locator('[data-version="2"] [data-field="body_text"] ins').all_inner_texts()
    assert watched.csp_refusals() == [] and watched.errors == []


def test_hostile_article_runs_no_script(served: Served, watched: Watched, shots: Path) -> None:
    row_path = f"/archive/articles/{tilde_encode(HOSTILE_URL)}"
    pages = {
        "hostile-article.png": row_path,
        "hostile-table.png": "/archive/articles",
        "hostile-search.png": "/archive/articles?_search=" + quote("ЗЛОЙ"),
        "hostile-search-page.png": "/archive/-/search?q=" + quote("ЗЛОЙ"),
        "hostile-edits.png": "/archive/edited_after_publication",
        "hostile-versions.png": "/archive/article_versions",
        "hostile-row.png": "/archive/article_versions/" + tilde_encode(str(_version_id(served, 2))),
        "hostile-row-json.png": f"{row_path}.json",
    }
    for shot, path in pages.items():
        page = watched.open(served.url(path), shots / shot)
        # Give anything that would fire on its own (onerror, onload, autofocus, a refresh) time to do so.
        page.wait_for_timeout(300)
        assert page.url == served.url(path), f"{path} navigated away to {page.url}"
        assert watched.dialogs == [], path
        assert watched.foreign == [], path
        assert not page.evaluate(
            "[...document.querySelectorAll('*')].some(el => [...el.attributes].some(a => a.name.startsWith('on')))"
        ), path
        assert page.locator('a[href^="javascript:"], iframe, object, embed, base, meta[http-equiv]').count() == 0, path
        scripts = page.eval_on_selector_all("script", "all => all.map(s => s.textContent)")
        assert not any("alert" in script for script in scripts), path
    search = watched.open(served.url(pages["hostile-search.png"]), shots / "hostile-search-again.png")
    assert HOSTILE_TITLE in search.locator("td.col-title").all_inner_texts()  # found, and shown as text
    page = watched.open(served.url(row_path), shots / "hostile-article-again.png")
    assert page.inner_text("h1.archive-title") == HOSTILE_TITLE  # shown as text, exactly
    assert "Первый абзац злого материала." in page.locator(".archive-body").inner_text()
    assert page.get_attribute(".archive-body a.archived-image", "href") == f"http://{CANARY}/pixel.png"
    assert watched.dialogs == []
    assert watched.foreign == []
    assert watched.csp_refusals() == []


def _version_id(served: Served, version: int) -> int:
    data = httpx.get(
        served.url("/archive/article_versions.json"),
        params={"url": HOSTILE_URL, "version": str(version), "_shape": "array"},
    ).json()
    return int(data[0]["id"])


def test_home_database_and_canned_query_pages(served: Served, watched: Watched, shots: Path) -> None:
    watched.open(served.url("/"), shots / "home.png")
    watched.open(served.url("/archive"), shots / "database.png")
    for name in CANNED_QUERIES:
        page = watched.open(served.url(f"/archive/{name}"), shots / f"{name}.png")
        assert page.locator("table.rows-and-columns tbody tr").count() >= 1, name
    assert watched.csp_refusals() == [] and watched.errors == []
    assert watched.dialogs == [] and watched.foreign == []


def test_the_xss_corpus_runs_nothing_anywhere(served: Served, watched: Watched, shots: Path) -> None:
    assert len(XSS_PAYLOADS) >= 50
    pages = [
        "/archive/articles?_size=100&_sort_desc=views",
        "/archive/articles?_search=XSSPAYLOAD&_size=100",
        "/archive/-/search?q=XSSPAYLOAD&_size=100",
        "/archive/article_versions?_size=100",
        "/archive/edited_after_publication",
        "/archive/most_viewed_7d",
    ]
    pages += [
        f"/archive/articles/{tilde_encode(f'http://{CANARY}/xss/payload_{n}/')}" for n in range(len(XSS_PAYLOADS))
    ]
    for index, path in enumerate(pages):
        # Screenshots of the lists and a few article pages; the rest are only checked.
        page = watched.open(served.url(path), shots / f"xss-{index:02d}.png" if index < 8 else None)
        assert page.url == served.url(path), f"{path} navigated away to {page.url}"
        assert not page.evaluate(
            "[...document.querySelectorAll('*')].some(el => [...el.attributes].some(a => a.name.startsWith('on')))"
        ), path
        assert page.locator('a[href^="javascript:" i], iframe, object, embed, base, meta[http-equiv]').count() == 0, (
            path
        )
    watched.page.wait_for_timeout(300)  # anything that fires on its own has had its chance
    assert watched.dialogs == []
    assert watched.foreign == []
    table = watched.open(served.url(pages[1]), shots / "xss-search-again.png")
    assert table.locator("td.col-title").count() == len(XSS_PAYLOADS)  # every payload found, shown as text
