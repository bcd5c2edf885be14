"""Publication dates: visible dates in ten languages, numeric order by language, relative forms, and the choice."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.dates import is_relative_line, month_number, parse_clock, parse_date
from scraper.models import DateCandidate, DateRole, Origin
from scraper.normalize import normalize
from scraper.parse import parse_html
from scraper.parse.header import header_zone
from scraper.parse.pagedates import is_elsewhere, label_role, script_dates, url_dates, visible_dates
from scraper.profiles import GENERIC_PROFILE, get_profile
from scraper.pubdate import settle_dates

ALMATY = ZoneInfo("Asia/Almaty")
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2024, 11, 20, 6, 30, tzinfo=UTC)  # 11:30 in Almaty


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Russian, Kazakh, Ukrainian
        ("12 марта 2024, 13:45", "2024-03-12T13:45:00+00:00"),
        ("2024 жылғы 12 наурыз, 15:30", "2024-03-12T15:30:00+00:00"),
        ("5 желтоқсанда 2023", "2023-12-05T00:00:00+00:00"),
        ("22 квітня 2024, 11:40", "2024-04-22T11:40:00+00:00"),
        ("3 листопада 2023 р.", "2023-11-03T00:00:00+00:00"),
        # English, German, French
        ("March 12, 2024 at 1:45 p.m.", "2024-03-12T13:45:00+00:00"),
        ("12th March 2024", "2024-03-12T00:00:00+00:00"),
        ("Mittwoch, 12. März 2024, 11:17 Uhr", "2024-03-12T11:17:00+00:00"),
        ("12 mars 2024 à 13h45", "2024-03-12T13:45:00+00:00"),
        ("1er février 2024", "2024-02-01T00:00:00+00:00"),
        # Spanish, Italian, Portuguese, Turkish
        ("miércoles, 4 de mayo de 2022 07:59 hs", "2022-05-04T07:59:00+00:00"),
        ("12 marzo 2024 ore 13:45", "2024-03-12T13:45:00+00:00"),
        ("12 de março de 2024", "2024-03-12T00:00:00+00:00"),
        ("12 Mart 2024 13:45", "2024-03-12T13:45:00+00:00"),
        ("3 Kasım 2023", "2023-11-03T00:00:00+00:00"),
        # Numeric and machine forms
        ("2020. 08. 18. 21:35", "2020-08-18T21:35:00+00:00"),
        ("2024年3月12日", "2024-03-12T00:00:00+00:00"),
        ("20201123T11:02:35Z", "2020-11-23T11:02:35+00:00"),
        ("2022-1-26T14:32:06+02:00", "2022-01-26T14:32:06+02:00"),
    ],
)
def test_visible_dates_in_ten_languages(text: str, expected: str) -> None:
    parsed = parse_date(text, zone=UTC_ZONE, now=NOW, keep_offset=True)
    assert parsed is not None
    assert parsed.value.isoformat() == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "2024-03-12"),
        ("en-US", "2024-03-12"),
        ("en-GB", "2024-12-03"),
        ("de", "2024-12-03"),
        (None, "2024-12-03"),
    ],
)
def test_numeric_dates_are_ordered_by_the_page_language(language: str | None, expected: str) -> None:
    parsed = parse_date("03/12/2024", zone=UTC_ZONE, now=NOW, language=language)
    assert parsed is not None
    assert parsed.value.date().isoformat() == expected


def test_a_day_over_twelve_decides_the_order_whatever_the_language() -> None:
    for language in ("en", "de"):
        parsed = parse_date("13/03/2024", zone=UTC_ZONE, now=NOW, language=language)
        assert parsed is not None and parsed.value.date().isoformat() == "2024-03-13"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("сегодня в 17:04", "2024-11-20T17:04:00+05:00"),
        ("Бүгін, 09:10", "2024-11-20T09:10:00+05:00"),
        ("сьогодні о 09:10", "2024-11-20T09:10:00+05:00"),
        ("вчора, 21:05", "2024-11-19T21:05:00+05:00"),
        ("gestern um 21:05", "2024-11-19T21:05:00+05:00"),
        ("hier à 21h05", "2024-11-19T21:05:00+05:00"),
        ("ayer 21:05", "2024-11-19T21:05:00+05:00"),
        ("ieri alle 21:05", "2024-11-19T21:05:00+05:00"),
        ("ontem às 21:05", "2024-11-19T21:05:00+05:00"),
        ("dün 21:05", "2024-11-19T21:05:00+05:00"),
        ("2 часа назад", "2024-11-20T09:30:00+05:00"),
        ("2 сағат бұрын", "2024-11-20T09:30:00+05:00"),
        ("2 години тому", "2024-11-20T09:30:00+05:00"),
        ("vor 2 Stunden", "2024-11-20T09:30:00+05:00"),
        ("il y a 2 heures", "2024-11-20T09:30:00+05:00"),
        ("hace 2 horas", "2024-11-20T09:30:00+05:00"),
        ("2 ore fa", "2024-11-20T09:30:00+05:00"),
        ("há 2 horas", "2024-11-20T09:30:00+05:00"),
        ("2 saat önce", "2024-11-20T09:30:00+05:00"),
        ("3 days ago", "2024-11-17T00:00:00+05:00"),
    ],
)
def test_relative_dates_are_anchored_to_the_fetch_time_in_the_site_zone(text: str, expected: str) -> None:
    parsed = parse_date(text, zone=ALMATY, now=NOW)
    assert parsed is not None
    assert parsed.relative
    assert parsed.value.isoformat() == expected


def test_words_that_only_look_relative_are_no_date_in_text_not_known_to_be_one() -> None:
    # "hier" is French for yesterday and German for here; "Heute Morgen" is a blog post's title.
    for text in ("Sie sind hier:", "Hier Hotels buchen", "Heute Morgen…", "Today's top stories"):
        assert parse_date(text, zone=UTC_ZONE, now=NOW, strict=True) is None
    assert parse_date("hier à 17:04", zone=UTC_ZONE, now=NOW, strict=True) is not None


@pytest.mark.parametrize(
    ("text", "relative_line"),
    [
        ("2 часа назад", True),
        ("Вчера, 21:05", True),
        ("Сегодня в 13:45", True),
        ("Обновлено 2 часа назад", True),
        ("3 сағат бұрын", True),
        ("Сьогодні о 13:45", True),
        ("vor 2 Stunden", True),
        ("1 day ago", True),
        ("Он уехал 2 часа назад", False),  # a sentence
        ("Вчера в Алматы", False),  # no time: not a date
        ("Назад", False),  # "back", a link
        ("12 марта 2024, 13:45", False),  # the same on every visit
        ("Heute erreichbar: 9:00 - 18:00 Uhr", False),
    ],
)
def test_a_line_that_is_only_a_relative_date(text: str, relative_line: bool) -> None:
    assert is_relative_line(text) is relative_line


def test_three_letter_latin_months_need_a_year_in_free_text() -> None:
    # "1 out of 5", "set 2", "may 3": words first; with a year they are dates.
    for text in ("1 out of 5 stars", "Set 2 of 10", "you may 3 times"):
        assert parse_date(text, zone=UTC_ZONE, now=NOW, strict=True) is None
    assert parse_date("12 Mar 2024", zone=UTC_ZONE, now=NOW, strict=True) is not None
    assert parse_date("12 Марта", zone=UTC_ZONE, now=NOW, strict=True) is not None


def test_month_words_of_every_language_name_their_month() -> None:
    for word, month in [("наурыздың", 3), ("березня", 3), ("März", 3), ("março", 3), ("Mart", 3), ("luglio", 7)]:
        assert month_number(word) == month


def test_a_bare_time_is_today_in_the_site_zone() -> None:
    parsed = parse_clock("17:04", zone=ALMATY, now=NOW)
    assert parsed is not None
    assert parsed.value.isoformat() == "2024-11-20T17:04:00+05:00"
    assert parse_clock("17:04 — новости", zone=ALMATY, now=NOW) is None


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Опубликовано:", DateRole.PUBLISHED),
        ("Erschienen am", DateRole.PUBLISHED),
        ("Обновлено", DateRole.UPDATED),
        ("Published 2 May · Updated", DateRole.UPDATED),
        ("Jil Schuller,", DateRole.PLACED),
    ],
)
def test_labels_before_a_date_say_which_date_it_is(text: str, role: DateRole) -> None:
    assert label_role(text) is role


def _settle(
    published: list[DateCandidate], *, zone: ZoneInfo = ALMATY, known: bool = True
) -> tuple[str | None, list[str]]:
    warnings: list[str] = []
    settled = settle_dates(
        published, [], zone=zone, known_zone=known, now=NOW.astimezone(zone), language="ru", warnings=warnings
    )
    return settled.published_at, warnings


def test_utc_written_with_a_local_label_gives_way_to_the_page_with_a_warning() -> None:
    # The CMS wrote 08:45 UTC as 08:45+05:00; the page shows the local 13:45.
    published, warnings = _settle(
        [
            DateCandidate("2024-03-12T08:45:00+05:00", Origin.META, "<meta article:published_time>"),
            DateCandidate("12 марта 2024, 13:45", Origin.HEADER, "the header line", DateRole.PLACED),
        ]
    )
    assert published == "2024-03-12T13:45:00+05:00"
    assert any("UTC with a local label" in warning for warning in warnings)


def test_a_right_utc_instant_keeps_the_metadata() -> None:
    published, warnings = _settle(
        [
            DateCandidate("2024-03-12T08:45:00Z", Origin.META, "<meta article:published_time>"),
            DateCandidate("12 марта 2024, 13:45", Origin.HEADER, "the header line", DateRole.PLACED),
        ]
    )
    assert published == "2024-03-12T13:45:00+05:00"
    assert warnings == []


def test_a_site_of_unknown_zone_gets_the_offset_its_clock_shows() -> None:
    published, _ = _settle(
        [
            DateCandidate("2023-11-09T02:11:03+00:00", Origin.JSONLD, "JSON-LD datePublished"),
            DateCandidate("Nov 8, 2023 7:11 PM", Origin.HEADER, "the header line", DateRole.PLACED),
        ],
        zone=UTC_ZONE,
        known=False,
    )
    assert published == "2023-11-08T19:11:03-07:00"


def test_a_day_only_machine_date_takes_the_time_the_page_shows() -> None:
    published, _ = _settle(
        [
            DateCandidate("2024-03-12", Origin.META, "<meta date>"),
            DateCandidate("12 марта 2024, 13:45", Origin.HEADER, "the header line", DateRole.PLACED),
        ]
    )
    assert published == "2024-03-12T13:45:00+05:00"


def test_metadata_outvotes_a_lone_disagreeing_field() -> None:
    published, _ = _settle(
        [
            DateCandidate("2022-01-04T07:29:00Z", Origin.JSONLD, "JSON-LD datePublished"),
            DateCandidate("2022-01-06T08:29:34+01:00", Origin.META, "<meta article:published_time>"),
            DateCandidate("2022-01-06", Origin.META, "<meta date>"),
        ]
    )
    assert published is not None and published.startswith("2022-01-06")


def test_update_dates_and_future_dates_are_passed_over() -> None:
    published, warnings = _settle(
        [
            DateCandidate("2030-01-01T00:00:00Z", Origin.META, "<meta article:published_time>"),
            DateCandidate("Обновлено 20 ноября 2024, 10:00", Origin.VISIBLE, "span.date", DateRole.UPDATED),
            DateCandidate("19 ноября 2024, 18:00", Origin.HEADER, "the header line", DateRole.PLACED),
        ]
    )
    assert published == "2024-11-19T18:00:00+05:00"
    assert any("in the future" in warning for warning in warnings)


HEADER_PAGE = """<html lang="fr"><head><title>Le titre de l'article ici</title></head><body>
<div class="topbar"><span class="current-date">mercredi 20 novembre 2024</span></div>
<article><h1>Le titre de l'article ici</h1>
<p class="meta">Publié le 18 novembre 2024 à 10h05 · Mis à jour le 19 novembre 2024</p>
<p>Un premier paragraphe assez long pour que la zone d'en-tête s'arrête ici, avec des mots et encore des mots, et une date
du 2 janvier 2020 qui n'est qu'un fait rapporté.</p></article>
<aside class="sidebar"><ul><li><a href="/a">Autre article</a> <time datetime="2024-11-19T08:00">19/11/2024</time></li></ul></aside>
<section class="comments"><time datetime="2024-11-20T09:00:00Z" pubdate>hier</time></section>
</body></html>"""


def test_the_header_line_comes_first_and_other_items_dates_never() -> None:
    tree = LexborHTMLParser(HEADER_PAGE)
    zone = header_zone(tree.root, ["Le titre de l'article ici"])
    assert tree.root is not None
    found = visible_dates(tree.root, zone.headline, zone.texts, "fr")
    assert found[0].raw.startswith("Publié le 18 novembre 2024")
    assert found[0].role is DateRole.PUBLISHED
    raws = " | ".join(candidate.raw for candidate in found)
    assert "2024-11-19T08:00" not in raws  # the sidebar's
    assert "2024-11-20T09:00:00Z" not in raws  # a comment's
    record = normalize(
        parse_html(HEADER_PAGE, GENERIC_PROFILE), url="https://example.org/a", profile=GENERIC_PROFILE, fetched_at=NOW
    )
    assert record.published_at == "2024-11-18T10:05:00+00:00"
    assert record.published_from == "header"


COUNTRY_PAGE = """<html lang="ru"><head><title>Снегопад в городе</title>{meta}</head><body><article>
<h1>Снегопад в городе</h1><div class="meta"><span>12 марта 2024, 13:45</span></div>
<p>Текст новости о снегопаде, который парализовал движение в городе утром.</p></article></body></html>"""


@pytest.mark.parametrize(
    ("footer", "expected"),
    [
        ("<p>Опубликовано: 14.03.2024 09:10</p>", "2024-03-14T09:10:00+05:00"),
        ("", None),
    ],
)
def test_a_date_that_a_short_paragraph_mentions_is_not_the_header_date(footer: str, expected: str | None) -> None:
    # Paragraphs this short do not end the header zone: the sentence's date is a date it mentions.
    page = (
        "<html lang='ru'><body><article><h1>Приговор вынесен по делу</h1>"
        "<p>Суд в Алматы вынес приговор по делу, возбуждённому ещё 12 марта 2023 года, сообщает пресс-служба.</p>"
        "<p>Подсудимый признал вину частично, его защита намерена обжаловать решение в течение месяца.</p>"
        f"{footer}</article></body></html>"
    )
    url = "https://example.kz/news/1"
    record = normalize(parse_html(page, GENERIC_PROFILE), url=url, profile=GENERIC_PROFILE, fetched_at=NOW)
    assert record.published_at == expected


@pytest.mark.parametrize(
    ("url", "meta", "expected"),
    [
        # A time printed without an offset is in the site's country's zone, when the host names a country of one zone.
        ("https://news.example.ru/a/1", "", "2024-03-12T13:45:00+03:00"),
        ("https://news.example.kz/a/1", "", "2024-03-12T13:45:00+05:00"),
        ("https://news.example.com.ua/a/1", "", "2024-03-12T13:45:00+02:00"),
        ("https://новости.рф/a/1", "", "2024-03-12T13:45:00+03:00"),
        # A generic ending says nothing about the zone: the time is read as UTC, as before.
        ("https://news.example.com/a/1", "", "2024-03-12T13:45:00+00:00"),
        # The page's own offset always wins over the guess.
        (
            "https://news.example.ru/a/1",
            '<meta property="article:published_time" content="2024-03-12T08:45:00+00:00">',
            "2024-03-12T13:45:00+05:00",
        ),
    ],
)
def test_a_site_without_a_zone_prints_its_country_time(url: str, meta: str, expected: str) -> None:
    page = COUNTRY_PAGE.format(meta=meta)
    record = normalize(parse_html(page, GENERIC_PROFILE), url=url, profile=GENERIC_PROFILE, fetched_at=NOW)
    assert record.published_at == expected
    assert record.fetched_at.endswith("+00:00")  # the record's own clock stays UTC


DATELINE_PAGE = """<html lang="de"><head><title>Trauern digital</title></head><body><article><h1>Trauern digital</h1>
<p>{first}</p><p>Die Online-Andacht findet seit Jahren statt und will das Angebot der Gemeinden ergänzen.</p>
</article></body></html>"""
_LONG = " Traditionell gedenken die Gemeinden an diesem Sonntag ihrer Verstorbenen, in diesem Jahr auch online."


@pytest.mark.parametrize(
    ("first", "published", "shown"),
    [
        # Nothing else dates the page: a paragraph opening with a dateline does.
        ("Karlsruhe, (12.11.2021)." + _LONG, "2021-11-12T00:00:00+00:00", "Karlsruhe, (12.11.2021)"),
        ("BERLIN (dpa) – 12. November 2021, 13:45 Uhr –" + _LONG, "2021-11-12T13:45:00+00:00", None),
        # A sentence that happens to name a date early on is no dateline.
        ("Der Ministerrat hat am 5. September 2017 beschlossen." + _LONG, None, None),
    ],
)
def test_a_dateline_opening_the_first_paragraph_dates_the_page(
    first: str, published: str | None, shown: str | None
) -> None:
    html = DATELINE_PAGE.format(first=first)
    record = normalize(
        parse_html(html, GENERIC_PROFILE), url="https://example.org/a", profile=GENERIC_PROFILE, fetched_at=NOW
    )
    assert record.published_at == published
    if shown:
        assert record.published_raw == shown


def test_dates_in_the_address_and_in_script_data() -> None:
    assert [c.raw for c in url_dates(["https://example.org/2024/03/12/slug/", "https://example.org/20240312-x"])] == [
        "2024-03-12"
    ]
    assert url_dates(["https://example.org/news/183924/"]) == []
    html = '<script>var page = {"publishDate": "2022-02-08T14:00:00", "views": 5};</script>'
    assert [c.raw for c in script_dates(html)] == ["2022-02-08T14:00:00"]


def test_profile_dates_read_year_less_text_and_keep_the_published_raw() -> None:
    html = """<html><head><meta property="article:published_time" content="2024-03-12T13:45:00+05:00"></head>
    <body><article class="news-detail"><h1 class="news-detail__title">Заголовок новости дня</h1>
    <div class="news-detail__top"><span class="news-detail__date">12 Марта, 13:45</span></div>
    <div class="news-detail__body"><p>Текст новости.</p></div></article></body></html>"""
    profile = get_profile("baigenews")
    record = normalize(parse_html(html, profile), url="https://baigenews.kz/x_1/", profile=profile, fetched_at=NOW)
    assert record.published_at == "2024-03-12T13:45:00+05:00"
    assert record.published_raw == "12 Марта, 13:45"


def test_a_year_less_header_date_still_catches_utc_with_a_local_label() -> None:
    published, warnings = _settle(
        [
            DateCandidate("2024-03-12T08:45:00+05:00", Origin.META, "<meta article:published_time>"),
            DateCandidate("12 Марта, 13:45", Origin.VISIBLE, "profile selector .date", DateRole.PUBLISHED),
        ]
    )
    assert published == "2024-03-12T13:45:00+05:00"
    assert any("UTC with a local label" in warning for warning in warnings)


def test_a_date_line_that_ends_with_an_update_is_dated_by_its_first_words() -> None:
    parsed = parse_date("January 13, 2020 / 1:39 PM / Updated 2 minutes ago", zone=UTC_ZONE, now=NOW, strict=True)
    assert parsed is not None
    assert parsed.value.isoformat() == "2020-01-13T13:39:00+00:00"
    assert not parsed.relative


def test_a_bare_time_where_a_date_is_expected_is_today() -> None:
    parsed = parse_date("17:04", zone=ALMATY, now=NOW)
    assert parsed is not None and parsed.value.isoformat() == "2024-11-20T17:04:00+05:00"
    assert parse_date("17:04", zone=ALMATY, now=NOW, strict=True) is None


@pytest.mark.parametrize(
    ("wrapper", "elsewhere"),
    [
        ("<div class='sidebar'>", True),
        ("<div class='ad-slot'>", True),
        ("<div class='ads'>", True),
        # Words that only start like "ad" name no advertisement.
        ("<div class='post-wrapper advads-stop-injection'>", False),
        ("<div class='address-block'>", False),
    ],
)
def test_what_sits_elsewhere_than_the_article(wrapper: str, elsewhere: bool) -> None:
    html = (
        f"<html><body><div><h1>Headline of the article</h1>{wrapper}<span id='x'>184</span></div></div></body></html>"
    )
    tree = LexborHTMLParser(html)
    node = tree.css_first("#x")
    assert node is not None
    assert is_elsewhere(node, tree.css_first("h1")) is elsewhere
