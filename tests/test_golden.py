"""Golden fixtures: every fixtures/baigenews/*.html parses to exactly the record in the .json beside it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from scraper.charset import decode
from scraper.models import RECORD_FIELDS
from scraper.pipeline import choose_profile, parse_page, saved_page

from .conftest import FIXTURES

PAGES = sorted((FIXTURES / "baigenews").glob("*.html"))
#: Site chrome that must never reach an article's text.
CHROME = (
    "Подпишитесь на наш",
    "Telegram-канал",
    "узнавайте новости первыми",
    "Telegram-арнаға",
    "Наверх",
    "Жоғары",
    "Поделиться",
    "Бөлісу",
    "WhatsApp",
    "Читайте также",
    "Сондай-ақ оқыңыз",
    "Реклама",
    "Все права защищены",
    "АВТОР",
)


def parse_fixture(path: Path, url: str, fetched_at: str) -> dict[str, object]:
    page = saved_page(path.read_bytes(), url, datetime.fromisoformat(fetched_at))
    return parse_page(page, choose_profile(url, "baigenews")).to_record()


def test_there_are_golden_pages() -> None:
    assert len(PAGES) >= 5


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_page_matches_golden_record(path: Path) -> None:
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert list(expected) == list(RECORD_FIELDS)
    record = parse_fixture(path, expected["url"], expected["fetched_at"])
    assert record == expected


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_no_site_chrome_in_text(path: Path) -> None:
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    record = parse_fixture(path, expected["url"], expected["fetched_at"])
    for text in (record["body_text"], record["body_html"], record["lead"], record["title"]):
        assert isinstance(text, str)
        for chrome in CHROME:
            assert chrome not in text
    assert "<script" not in str(record["body_html"])
    assert record["parse_status"] == "ok"


def test_seed_article_is_archived_verbatim() -> None:
    """The seed page's body is every paragraph of the visible text, in order, and nothing else."""
    seed = (FIXTURES / "baigenews" / "seed-tokayev-baku.txt").read_text(encoding="utf-8")
    lines = seed.split("\n")
    start = lines.index("Фото: akorda.kz") + 1
    paragraphs = [line for line in lines[start:] if line.strip()]
    paragraphs[-1] = paragraphs[-1].removesuffix("Наверх")
    # The seed has a non-breaking space ("Загульба".\u00a0Лидеры); text fields keep plain spaces.
    paragraphs = [" ".join(p.split()) for p in paragraphs if p.strip()]
    path = FIXTURES / "baigenews" / "seed-tokayev-baku.html"
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    record = parse_fixture(path, expected["url"], expected["fetched_at"])
    assert record["title"] == lines[0]
    assert record["body_text"] == "\n\n".join(paragraphs)
    assert record["views"] == 2329
    assert record["photo_credit"] == "akorda.kz"
    assert record["source"] == "akorda.kz"
    assert record["author"] is None  # the page shows only the label АВТОР
    assert record["published_raw"] == "12 Марта, 13:45"
    assert record["published_at"] == "2024-03-12T13:45:00+05:00"
    assert record["article_id"] == "183924"
    assert record["canonical_url"] == (
        "https://baigenews.kz/gosudarstvennyy-vizit-tokaeva-v-baku-noveyshiy-etap-"
        "kazakhstansko-azerbaydzhanskikh-otnosheniy_183924/"
    )


def test_year_is_inferred_when_no_metadata_has_one() -> None:
    path = FIXTURES / "baigenews" / "no-year-almaty-snow.html"
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    record = parse_fixture(path, expected["url"], expected["fetched_at"])
    assert record["published_from"] == "inferred"
    # Fetched in January 2025, "28 Февраля" is the most recent 28 February before it,
    # when Almaty was still on UTC+6.
    assert record["published_at"] == "2024-02-28T22:10:00+06:00"


def test_windows_1251_page_decodes_from_meta_charset() -> None:
    body = (FIXTURES / "baigenews" / "windows-1251-astana-tram.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text, encoding, source = decode(body, "text/html")
    assert (encoding, source) == ("windows-1251", "meta")
    assert "В Астане запустят первую линию LRT" in text
    assert "Қаз" in text or "&#1178;аз" in text
