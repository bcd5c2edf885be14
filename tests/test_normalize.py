"""Pure normalization rules: dates, view counters, text, URLs, charsets, sanitizing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.charset import decode
from scraper.dates import infer_year, parse_date
from scraper.errors import BadDate
from scraper.evaluation import iter_dev_set
from scraper.models import BodyPart, DateCandidate, RawArticle
from scraper.normalize import normalize, normalize_language, parse_views
from scraper.parse.blocks import split_blocks
from scraper.profiles import get_profile
from scraper.sanitize import sanitize_html
from scraper.text import clean_text
from scraper.urls import canonicalize, join

from .conftest import FIXTURES

ALMATY = ZoneInfo("Asia/Almaty")
NOW = datetime(2024, 11, 20, 6, 30, tzinfo=UTC)  # 11:30 in Almaty


@pytest.mark.parametrize(
    ("text", "expected", "has_year"),
    [
        ("12 Марта, 13:45", "2024-03-12T13:45:00+05:00", False),
        ("12 марта, 13:45", "2024-03-12T13:45:00+05:00", False),
        ("12 МАРТА 2024, 13:45", "2024-03-12T13:45:00+05:00", True),
        ("12 марта 2024 г. в 13:45", "2024-03-12T13:45:00+05:00", True),
        ("12 наурыз, 15:30", "2024-03-12T15:30:00+05:00", False),
        ("2024 жылғы 12 наурыз 15:30", "2024-03-12T15:30:00+05:00", True),
        ("1 қыркүйек 2023", "2023-09-01T00:00:00+06:00", True),
        ("5 желтоқсан 2023, 09:00", "2023-12-05T09:00:00+06:00", True),
        ("15 мая 2023 в 10:00", "2023-05-15T10:00:00+06:00", True),
        ("3 мамыр 2023", "2023-05-03T00:00:00+06:00", True),
        ("March 12, 2024 1:45 PM", "2024-03-12T13:45:00+05:00", True),
        ("12 March 2024", "2024-03-12T00:00:00+05:00", True),
        ("Tue, 12 Mar 2024 08:45", "2024-03-12T08:45:00+05:00", True),
        ("12.03.2024 13:45", "2024-03-12T13:45:00+05:00", True),
        ("2024-03-12T08:45:00Z", "2024-03-12T13:45:00+05:00", True),
        ("2024-02-12T13:45:00", "2024-02-12T13:45:00+06:00", True),
        ("2024-02-29T23:30:00+06:00", "2024-02-29T23:30:00+06:00", True),
        ("2024-03-01T00:30:00+06:00", "2024-02-29T23:30:00+05:00", True),
        ("Сегодня, 09:10", "2024-11-20T09:10:00+05:00", True),
        ("сегодня в 09:10", "2024-11-20T09:10:00+05:00", True),
        ("Вчера, 21:05", "2024-11-19T21:05:00+05:00", True),
        ("Бүгін, 09:10", "2024-11-20T09:10:00+05:00", True),
        ("Кеше 21:05", "2024-11-19T21:05:00+05:00", True),
        ("Today at 9:10", "2024-11-20T09:10:00+05:00", True),
        ("Yesterday, 21:05", "2024-11-19T21:05:00+05:00", True),
        ("5 минут назад", "2024-11-20T11:25:00+05:00", True),
        ("2 часа назад", "2024-11-20T09:30:00+05:00", True),
        ("3 hours ago", "2024-11-20T08:30:00+05:00", True),
    ],
)
def test_dates(text: str, expected: str, has_year: bool) -> None:
    parsed = parse_date(text, zone=ALMATY, now=NOW)
    assert parsed is not None
    assert parsed.value.isoformat() == expected
    assert parsed.has_year is has_year


@pytest.mark.parametrize("text", ["12 марта, 25:99", "31 февраля 2024", "2024-13-45"])
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(BadDate):
        parse_date(text, zone=ALMATY, now=NOW)


@pytest.mark.parametrize("text", ["", "АВТОР", "2329", "no date here"])
def test_text_without_a_date(text: str) -> None:
    assert parse_date(text, zone=ALMATY, now=NOW) is None


def test_missing_year_is_the_latest_date_not_after_the_fetch() -> None:
    fetched = datetime(2025, 1, 10, 6, 0, tzinfo=UTC)
    parsed = parse_date("28 Февраля, 22:10", zone=ALMATY, now=fetched)
    assert parsed is not None and not parsed.has_year
    assert infer_year(parsed, now=fetched).isoformat() == "2024-02-28T22:10:00+06:00"
    parsed = parse_date("9 января, 10:00", zone=ALMATY, now=fetched)
    assert parsed is not None
    assert infer_year(parsed, now=fetched).isoformat() == "2025-01-09T10:00:00+05:00"


def test_missing_year_is_the_sites_year_on_new_years_night() -> None:
    # 20:00 UTC on 31 December is already 01:00 on 1 January in Almaty: a page dated
    # "1 января, 00:30" then was published this (local) year, not a year ago.
    raw = RawArticle(title="t", published=[DateCandidate("1 января, 00:30", "visible")])
    fetched = datetime(2024, 12, 31, 20, 0, tzinfo=UTC)
    article = normalize(raw, url="https://baigenews.kz/a_1/", profile=get_profile("baigenews"), fetched_at=fetched)
    assert (article.published_at, article.published_from) == ("2025-01-01T00:30:00+05:00", "inferred")


def test_missing_year_prefers_a_year_from_metadata() -> None:
    parsed = parse_date("30 декабря, 23:00", zone=ALMATY, now=NOW)
    assert parsed is not None
    hint = datetime(2023, 1, 2, 10, 0, tzinfo=ALMATY)
    assert infer_year(parsed, now=NOW, hint=hint).isoformat() == "2022-12-30T23:00:00+06:00"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2329", 2329),
        ("2 329", 2329),
        ("2\u00a0329", 2329),
        ("2,329", 2329),
        ("1.234.567", 1234567),
        ("12,5K", 12500),
        ("12,5К", 12500),
        ("1.2 тыс.", 1200),
        ("1,2 тыс", 1200),
        ("1,2 млн", 1200000),
        ("3 мың", 3000),
        ("👁 987 просмотров", 987),
        ("Просмотры: 45", 45),
        ("", None),
        ("нет", None),
        ("-5", None),
    ],
)
def test_views(raw: str, expected: int | None) -> None:
    assert parse_views(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Токаев\u00a0и\u202fАлиев  ", "Токаев и Алиев"),
        ("со\u00adтруд\u00adни\u00adчество", "сотрудничество"),
        ("a\u200bb\u200dc\ufeff", "abc"),
        ("AT&amp;T &laquo;Казахстан&raquo;", "AT&T «Казахстан»"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("tab\there\x00\x07", "tab here"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_keeps_paragraphs() -> None:
    assert clean_text("a  \r\n\r\n\r\n\r\n  b\nc", multiline=True) == "a\n\nb\nc"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://WWW.BaigeNews.KZ:443/news/x_183924/?utm_source=tg&utm_medium=social&fbclid=1#comments",
            "https://www.baigenews.kz/news/x_183924/",
        ),
        ("https://baigenews.kz/a/?page=2&gclid=x&yclid=y&_openstat=z", "https://baigenews.kz/a/?page=2"),
        ("http://example.com", "http://example.com/"),
        ("https://example.com/a b/", "https://example.com/a%20b/"),
        (
            "https://example.com/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8",
            "https://example.com/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8",
        ),
        ("https://example.com/новости", "https://example.com/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"),
        ("https://пример.kz/", "https://xn--e1afmkfd.kz/"),
    ],
)
def test_canonical_urls(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize("href", ["javascript:alert(1)", "mailto:a@b.kz", "#top", "", "tel:+7700", "http://[::1"])
def test_hostile_links_are_skipped(href: str) -> None:
    assert join("https://baigenews.kz/a/", href) is None


def test_languages() -> None:
    assert normalize_language("ru-RU") == "ru"
    assert normalize_language("kz") == "kk"
    assert normalize_language("kk_KZ") == "kk"
    assert normalize_language("???") is None


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "source"),
    [
        ("Привет".encode(), "text/html; charset=utf-8", "utf-8", "header"),
        (b"\xef\xbb\xbf" + "Привет".encode(), "text/html; charset=windows-1251", "utf-8", "bom"),
        ('<meta charset="windows-1251">Привет, мир'.encode("cp1251"), "text/html", "windows-1251", "meta"),
        (
            "Государственный визит Токаева в Баку".encode("cp1251"),
            "text/html; charset=utf-8",
            "windows-1251",
            "header+redecoded",
        ),
        (
            "Государственный визит Токаева в Баку".encode("koi8-r"),
            "text/html; charset=utf-8",
            "koi8-r",
            "header+redecoded",
        ),
        (
            "Государственный визит Токаева в Баку".encode(),
            "text/html; charset=iso-8859-1",
            "utf-8",
            "header+redecoded",
        ),
        # A template still declaring its old charset over UTF-8 text: "sanciÃ³n", "bÄdzie" otherwise.
        (
            '<meta charset="iso-8859-15"><title>La revancha tras su sanción</title>'.encode(),
            "text/html",
            "utf-8",
            "meta+redecoded",
        ),
        ('<meta charset="windows-1250">Nowym prezesem będzie Paweł'.encode(), None, "utf-8", "meta+redecoded"),
        ('<meta charset="windows-1251">Государственный визит'.encode(), None, "utf-8", "meta+redecoded"),
        # Text really in the declared legacy encoding is never valid UTF-8, and keeps its label.
        ('<meta charset="iso-8859-15">La revancha tras su sanción'.encode("iso-8859-15"), None, "iso8859-15", "meta"),
        (b"plain ascii", None, "utf-8", "default"),
    ],
)
def test_charsets(body: bytes, content_type: str | None, encoding: str, source: str) -> None:
    text, used, where = decode(body, content_type)
    assert (used, where) == (encoding, source)
    assert "\ufffd" not in text
    assert "Ð" not in text


def test_sanitizer_keeps_structure_and_removes_everything_active() -> None:
    dirty = (
        '<h2 onclick="x()">Заголовок</h2><p style="color:red">Текст <a href="javascript:alert(1)">j</a> '
        '<a href="/news/1/">rel</a><img src="x.jpg" onerror="alert(1)"></p><script>alert(1)</script>'
        '<iframe srcdoc="<script>alert(1)</script>"></iframe><svg onload="alert(1)"></svg>'
        '<blockquote><em>цитата</em></blockquote><ul><li>один</li></ul><a href="data:text/html,x">d</a>'
    )
    clean = sanitize_html(dirty, base_url="https://baigenews.kz/a/")
    for bad in ("script", "onerror", "onclick", "javascript:", "iframe", "svg", "style", "data:text"):
        assert bad not in clean
    assert '<a href="https://baigenews.kz/news/1/"' in clean
    assert "<h2>Заголовок</h2>" in clean
    assert "<blockquote><em>цитата</em></blockquote>" in clean
    assert '<img src="https://baigenews.kz/a/x.jpg">' in clean


def _blocks_written_by_the_parser(html: str) -> list[tuple[str, str]]:
    """(markup the parser wrote, the source HTML) for every paragraph-like block of a page."""
    tree = LexborHTMLParser(html)
    pairs = []
    for node in tree.css("p, h2, h3, h4, h5, h6"):
        _, parts = split_blocks_of(node)
        for part in parts:
            if part.safe:
                pairs.append((part.content, node.html or ""))
    return pairs


def split_blocks_of(node: LexborNode) -> tuple[list[str], list[BodyPart]]:
    # A lone block is read as the only child of a container, as the parser reads a body.
    wrapper = LexborHTMLParser(f"<div>{node.html}</div>").css_first("div")
    assert wrapper is not None
    return split_blocks(wrapper)


def test_markup_the_parser_writes_is_what_nh3_would_return() -> None:
    # The parser writes simple blocks (text, <b>/<strong>/<i>/<em>, <br>) itself instead of calling
    # nh3: on every such block of the real pages and the fixtures the two must agree byte for byte.
    pages = [(page.id, page.html) for page in iter_dev_set(FIXTURES / "extraction-dev")]
    for path in sorted((FIXTURES / "baigenews").glob("*.html")):
        pages.append((path.name, decode(path.read_bytes(), "text/html")[0]))
    checked = 0
    for name, html in pages:
        for written, source in _blocks_written_by_the_parser(html):
            assert written == sanitize_html(source), name
            checked += 1
    assert checked > 300  # 392 when written
    tricky = '<p class="lead">a &amp; b &lt;c&gt;\u00a0d "e" \'f\'<!-- x --><b>g<i>h</i></b><br>i</p>'
    assert [w for w, _ in _blocks_written_by_the_parser(tricky)] == [sanitize_html(tricky)]
    # Anything else (links, attributes that matter, control characters) still goes through nh3.
    for other in ('<p>a <a href="/x">link</a></p>', "<p>a<img src=x></p>", "<p>a\x01b <b>c</b></p>"):
        assert _blocks_written_by_the_parser(other) == []
    # Inline content straight inside a container becomes a paragraph written the same way.
    container = LexborHTMLParser("<div>a &amp; <b>b</b>\u00a0c<br>d</div>").css_first("div")
    assert container is not None
    _, parts = split_blocks(container)
    assert parts == [BodyPart("", sanitize_html("<p>a &amp; <b>b</b>\u00a0c</p>"), safe=True), BodyPart("p", "d")]
