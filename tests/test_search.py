"""Search: word forms (Russian, Kazakh, English), ё/е, phrases, ranking, snippets, earlier versions; store, CLI, Datasette.

The archive is built from the BaigeNews fixtures through the real page→archive path, and the seed article is
edited once (its headline loses "новейший", one paragraph changes), so its version 1 is an earlier version.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from datasette.utils.testing import TestClient as DatasetteClient
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper import settings as defaults
from scraper.pipeline import archive_page, choose_profile
from scraper.search.analysis import fold, is_kazakh, kazakh_stem, prefixes, tokens
from scraper.search.find import filters, search
from scraper.search.query import parse, to_match
from scraper.search.snippets import mark, snippet
from scraper.serve import server
from scraper.store import Archive, upgrade
from scraper.store import search as store_search
from scraper.store.search import open_reader

from .commands import one_error_line, run
from .conftest import FIXTURES, ROOT
from .test_store import make_page

SEED_URL = "https://baigenews.kz/gosudarstvennyy-vizit-tokaeva-v-baku-noveyshiy-etap-kazakhstansko-azerbaydzhanskikh-otnosheniy_183924/"
SEED_TITLE = "Государственный визит Токаева в Баку: новейший этап казахстанско-азербайджанских отношений"
ASTANA_URL = "https://baigenews.kz/v-astane-zapustyat-pervuyu-liniyu-lrt-v-2024-godu_181377/"
FETCHED = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)
EDITED = FETCHED + timedelta(days=1)

# -- Kazakh: a word list of forms and the stem each must give ---------------------------------------------------

#: Lemma -> {form: stem}. Every stem must be a prefix of every form of its lemma, so any form finds all others.
KAZAKH_FORMS: dict[str, dict[str, str]] = {
    "қала": {
        "қала": "қала", "қалалар": "қала", "қаланың": "қала", "қалаға": "қала", "қаланы": "қала",
        "қалада": "қала", "қаладан": "қала", "қаламен": "қала", "қаласы": "қала", "қаласында": "қала",
        "қаласының": "қала", "қалаларда": "қала", "қалалардың": "қала", "қаладағы": "қала",
        "қалаларының": "қала", "қаласына": "қала", "қаласын": "қала",
    },
    "Алматы": {
        "Алматыда": "алмат", "Алматыға": "алмат", "Алматының": "алмат", "Алматыдан": "алмат",
        "Алматыны": "алмат", "Алматымен": "алмат", "Алматыдағы": "алмат",
    },
    "Астана": {
        "Астанада": "астана", "Астанаға": "астана", "Астананың": "астана", "Астанадан": "астана",
        "Астананы": "астана", "Астанамен": "астана", "Астанадағы": "астана",
    },
    "облыс": {
        "облыс": "облыс", "облыстар": "облыс", "облыстың": "облыс", "облысқа": "облыс", "облысты": "облыс",
        "облыста": "облыс", "облыстан": "облыс", "облыспен": "облыс", "облысы": "облы", "облысында": "облы",
        "облысының": "облы", "облысындағы": "облы", "облыстарда": "облыс", "облыстардың": "облыс",
    },
    "мектеп": {
        "мектеп": "мекте", "мектептер": "мекте", "мектептің": "мекте", "мектепке": "мекте", "мектепті": "мекте",
        "мектепте": "мекте", "мектептен": "мекте", "мектеппен": "мекте", "мектебі": "мекте",
        "мектебінде": "мекте", "мектебінің": "мекте",
    },
    "Тоқаев": {
        "Тоқаев": "тоқаев", "Тоқаевтың": "тоқаев", "Тоқаевқа": "тоқаев", "Тоқаевты": "тоқаев",
        "Тоқаевпен": "тоқаев", "Тоқаевтан": "тоқаев",
    },
    "Қазақстан": {
        "Қазақстанда": "қазақстан", "Қазақстанның": "қазақстан", "Қазақстанға": "қазақстан",
        "Қазақстаннан": "қазақстан", "Қазақстанды": "қазақстан", "Қазақстанмен": "қазақстан",
        "Қазақстандағы": "қазақстан",
    },
    "құқық": {"құқық": "құқ", "құқығы": "құқ", "құқығын": "құқ", "құқықтары": "құқ", "құқықтың": "құқ"},
    "министрлік": {
        "министрлік": "министрл", "министрлігі": "министрл", "министрлігінің": "министрл",
        "министрліктер": "министрл", "министрлікке": "министрл",
    },
    "президент": {
        "президент": "президент", "президенттің": "президент", "президентке": "президент",
        "президентті": "президент", "президентпен": "президент", "президенттер": "президент",
        "президенті": "президен",
    },
    "жол": {
        "жол": "жол", "жолдар": "жол", "жолдың": "жол", "жолға": "жол", "жолды": "жол", "жолда": "жол",
        "жолдан": "жол", "жолмен": "жол", "жолы": "жол",
    },
    "бала": {"балалар": "бала", "балаларға": "бала", "балалардың": "бала", "балаларын": "бала", "балаларды": "бала"},
    "халық": {"халық": "хал", "халқы": "хал", "халықтың": "хал", "халқымыз": "хал", "халыққа": "хал"},
    "ашылу": {
        "ашылды": "ашыл", "ашылған": "ашыл", "ашылады": "ашыл", "ашылатын": "ашыл", "ашылып": "ашыл",
        "ашылу": "ашыл", "ашылғанын": "ашыл",
    },
    "өткізу": {"өткізді": "өткіз", "өткізген": "өткіз", "өткізеді": "өткіз", "өткізу": "өткіз"},
    "банк": {"банктің": "бан", "банкке": "бан", "банкті": "бан", "банкте": "бан", "банктер": "бан"},
}  # fmt: skip


def test_the_kazakh_word_list_has_over_a_hundred_forms() -> None:
    assert sum(len(forms) for forms in KAZAKH_FORMS.values()) >= 100


@pytest.mark.parametrize("lemma", sorted(KAZAKH_FORMS))
def test_kazakh_forms_give_their_stems(lemma: str) -> None:
    forms = KAZAKH_FORMS[lemma]
    assert {form: kazakh_stem(fold(form)) for form in forms} == forms
    # Whatever form a reader types, its stem starts every other form: each finds them all.
    for stem in forms.values():
        assert all(fold(form).startswith(stem) for form in forms), (lemma, stem)
        assert len(stem) >= 3


def test_kazakh_stripping_keeps_short_stems_whole() -> None:
    # An ending that would leave fewer than three letters stays on: "үй*" or "су*" would match far too much.
    assert kazakh_stem("ел") == "ел"
    assert kazakh_stem("үйде") == "үйде"
    assert kazakh_stem("суы") == "суы"


# -- Russian and English word forms, ё ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("токаев", "токаева"),
        ("токаева", "токаеву"),
        ("выборов", "выборы"),
        ("азербайджанские", "азербайджанских"),
        ("казахстан", "казахстане"),
        ("елка", "елки"),
        ("happy", "happiest"),
        ("deliveries", "delivery"),
    ],
)
def test_a_word_finds_its_other_forms(typed: str, found: str) -> None:
    assert any(found.startswith(prefix) for prefix in prefixes(typed, kazakh=False)), prefixes(typed, kazakh=False)


def test_yo_is_read_as_ye_and_case_does_not_matter() -> None:
    assert fold("ЁЛКА") == fold("Елка") == "елка"
    assert [word for _, _, word in tokens("Ёлка, CAFÉ!")] == ["елка", "cafe"]
    assert is_kazakh("тоқаев") and not is_kazakh("токаев")


def test_short_stems_are_not_prefixes() -> None:
    # "в*" or "на*" would match a large part of the archive: such words are searched as they are.
    assert prefixes("в", kazakh=False) == ()
    assert prefixes("2024", kazakh=False) == ()
    assert parse("на").expression() == '"на"'


# -- reading what readers type -----------------------------------------------------------------------------------

#: Text a search box gets, from readers and from people testing it.
HOSTILE = [
    "",
    " ",
    '"',
    '""',
    '"unbalanced',
    'a "b',
    "*",
    "***",
    "a*",
    "*a",
    ":",
    "title:Токаев",
    "{title}: x",
    "-",
    "--",
    "-Токаев",
    "Токаев -",
    "NEAR",
    "NEAR(Токаев Алиев)",
    "NEAR/2",
    "AND OR NOT",
    "OR",
    "NOT",
    "Токаев OR",
    "(((",
    ")))",
    "^Токаев",
    "Токаев^",
    "a + b",
    "'",
    "'; DROP TABLE articles; --",
    "\x00\x01\x02",
    "\u202eобратно",
    "🙂 эмодзи",
    "ــــ",
    "x" * 10_000,
    "слово " * 2_000,
]


def fts_table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='unicode61 remove_diacritics 2')")
    conn.execute("INSERT INTO t VALUES ('Визит Токаева', 'слово и слово, x a b')")
    return conn


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_any_text_is_a_valid_query(text: str) -> None:
    with closing(fts_table()) as conn:
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (to_match(text),)).fetchall()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_random_text_is_a_valid_query(text: str) -> None:
    with closing(fts_table()) as conn:
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (to_match(text),)).fetchall()


def test_long_text_is_cut_to_a_bounded_query() -> None:
    query = parse("слово " * 2_000)
    assert query.truncated
    assert sum(len(term.tokens) for group in query.groups for term in group) == defaults.SEARCH_MAX_WORDS
    assert parse("x" * 10_000).truncated


def test_empty_and_punctuation_only_queries_are_empty() -> None:
    for text in ("", "   ", "***", '""', "(((", "- -", "AND OR NOT"):
        assert parse(text).empty, text


def test_query_syntax_readers_may_use() -> None:
    assert parse('"визит Токаева"').expression() == '"визит" + "токаева"'
    assert parse("Токаев -Баку").expression() == '("тока"*) NOT ("бак"*)'
    assert parse("Токаев NOT Баку").expression() == parse("Токаев -Баку").expression()
    assert parse("Токаев OR Алиев").expression() == '("тока"* OR "алиев"*)'
    assert parse("Токае*").expression() == '"токае"*'
    assert parse("пресс-службы").expression() == '"пресс" + "служб"*'
    # A query of nothing but words to leave out searches those words instead of failing.
    assert parse("-Баку").expression() == '"бак"*'


def test_marks_cover_the_forms_found() -> None:
    query = parse('Токаев "новейший этап"')
    marked = mark(query, SEED_TITLE)
    assert [marked.text[start:end] for start, end in marked.marks] == ["Токаева", "новейший этап"]
    assert marked.bracketed().startswith("Государственный визит [Токаева] в Баку: [новейший этап]")


def test_a_snippet_is_cut_where_the_words_are() -> None:
    body = " ".join(["Начало текста без нужных слов."] * 30 + ["Здесь Токаев посетил Баку."] + ["Конец."] * 30)
    found = snippet(parse("Токаев Баку"), body)
    assert found.text.startswith("…") and found.text.endswith("…")
    assert [found.text[start:end] for start, end in found.marks] == ["Токаев", "Баку"]
    assert len(found.text) < 400
    # Nothing matched: the start of the text, unmarked.
    assert snippet(parse("Алиев"), "Первый абзац. Второй абзац.").text == "Первый абзац. Второй абзац."


# -- the archive ---------------------------------------------------------------------------------------------------


def fixture_html(path: Path) -> str:
    return path.read_text(encoding="windows-1251" if "1251" in path.name else "utf-8")


def build(db: Path) -> None:
    with Archive(db) as archive:
        for path in sorted((FIXTURES / "baigenews").glob("*.html")):
            record = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            page = make_page(fixture_html(path), url=record["url"], at=FETCHED)
            archive_page(archive, page, choose_profile(record["url"], "baigenews"))
        seed = (FIXTURES / "baigenews" / "seed-tokayev-baku.html").read_text(encoding="utf-8")
        edited = seed.replace("новейший этап казахстанско", "новый этап казахстанско").replace(
            "Политолог подчеркнул важность", "Эксперт подчеркнул важность"
        )
        archive_page(archive, make_page(edited, url=SEED_URL, at=EDITED), choose_profile(SEED_URL, "baigenews"))


@pytest.fixture(scope="module")
def archive_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("search") / "archive.db"
    build(db)
    return db


@pytest.fixture
def conn(archive_file: Path) -> Iterator[sqlite3.Connection]:
    reader = open_reader(archive_file)
    yield reader
    reader.close()


def urls(conn: sqlite3.Connection, text: str, **options: object) -> list[str]:
    return [hit.url for hit in search(conn, text, filters(**options)).hits]  # type: ignore[arg-type]


def test_tokayev_finds_the_seed_whose_title_says_tokayeva(conn: sqlite3.Connection) -> None:
    found = search(conn, "Токаев")
    assert found.hits[0].url == SEED_URL
    assert "[Токаева]" in found.hits[0].title.bracketed()
    assert urls(conn, "ТОКАЕВ") == urls(conn, "токаев") == urls(conn, "Токаева")


def test_an_inflected_adjective_finds_the_seed(conn: sqlite3.Connection) -> None:
    found = search(conn, "азербайджанские")
    assert [hit.url for hit in found.hits] == [SEED_URL]
    assert "[азербайджанских]" in found.hits[0].snippet.bracketed()


def test_a_phrase_in_quotes_finds_only_that_phrase(conn: sqlite3.Connection) -> None:
    assert urls(conn, '"визит Токаева"') == [SEED_URL]
    # The same words, but not next to each other in this form: no article.
    assert urls(conn, '"визит Токаев"') == []
    assert urls(conn, "визит Токаев") == [SEED_URL]


def test_yo_and_ye_find_each_other(conn: sqlite3.Connection) -> None:
    # The seed writes "договорённости" and "ещё"; readers often type е.
    assert urls(conn, "договоренности") == urls(conn, "договорённости") == [SEED_URL]
    assert urls(conn, "еще больший крюк") == [SEED_URL]


def test_kazakh_endings_find_the_kazakh_article(conn: sqlite3.Connection) -> None:
    kazakh = "https://baigenews.kz/kz/toqaev-azerbayzhangha-memlekettik-saparmen-bardy_184215/"
    assert urls(conn, "Тоқаевтың сапары") == [kazakh]
    assert urls(conn, "Әзербайжанға") == [kazakh]


def test_the_title_ranks_above_the_body(conn: sqlite3.Connection) -> None:
    # "Астана" is in one headline ("В Астане запустят…") and deep in the seed's body ("приехал в Астану").
    assert urls(conn, "Астана")[:2] == [ASTANA_URL, SEED_URL]


def test_words_an_edit_removed_are_found_in_the_earlier_version(conn: sqlite3.Connection) -> None:
    found = search(conn, '"новейший этап"')
    assert found.hits == []
    assert [hit.url for hit in found.earlier] == [SEED_URL]
    hit = found.earlier[0]
    assert hit.earlier == 1 and str(hit.removed_at).startswith(EDITED.date().isoformat())
    assert hit.note == f"in version 1, removed on {EDITED.date().isoformat()}"
    assert "[новейший этап]" in hit.title.bracketed()
    # Words still in the current text are not reported again from the old one.
    assert search(conn, "Токаев").earlier == []


def test_filters_narrow_by_site_and_day(conn: sqlite3.Connection) -> None:
    assert urls(conn, "Токаев", site="www.baigenews.kz") == [SEED_URL]
    assert urls(conn, "Токаев", site="https://tengrinews.kz/") == []
    assert urls(conn, "Токаев", since=date(2024, 3, 12), until=date(2024, 3, 12)) == [SEED_URL]
    assert urls(conn, "Токаев", since=date(2024, 3, 13)) == []
    assert urls(conn, "Токаев", since=date.min, until=date.max) == [SEED_URL]


def test_earlier_versions_obey_the_filters(conn: sqlite3.Connection) -> None:
    assert [hit.url for hit in search(conn, '"новейший этап"', filters(site="baigenews.kz")).earlier] == [SEED_URL]
    assert search(conn, '"новейший этап"', filters(site="tengrinews.kz")).earlier == []
    assert search(conn, '"новейший этап"', filters(since=date(2024, 3, 13))).earlier == []


def test_broad_searches_count_to_a_cap_and_rank_the_newest(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "на" is in the four Russian fixtures, the seed's old version too.
    everything = search(conn, "на")
    assert (everything.total.articles, everything.total.more) == (4, False)
    monkeypatch.setattr(defaults, "SEARCH_COUNT_CAP", 2)
    monkeypatch.setattr(defaults, "SEARCH_RANK_WINDOW", 1)
    capped = search(conn, "на", limit=1)
    assert (capped.total.articles, capped.total.more) == (2, True)
    # Only the most recently archived match is ranked; the seed, still matching now, is not an earlier find
    # although the count stopped before reaching it.
    assert [hit.url for hit in capped.hits] == [ASTANA_URL]
    assert capped.earlier == []


def test_an_article_older_than_the_listed_matches_is_asked_of_the_index(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "SEARCH_COUNT_CAP", 0)
    match = parse("на").expression()
    newest = store_search.matches(conn, match, store_search.Filters())
    assert newest.count.more and len(newest.rowids) == 1
    # The seed's old version has the word, the seed is older than the one match listed, and its current text
    # has the word too: the index is asked, and it is no earlier-version find.
    assert store_search.earlier_versions(conn, match, newest, limit=5) == []


def test_the_index_stays_consistent_through_edits_and_reparse(archive_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(archive_file, db)
    with Archive(db) as archive:
        from scraper.reparse import reparse_archive

        reparse_archive(archive)
    with closing(sqlite3.connect(db)) as plain:
        # FTS5's own check, against the text the views give: what the triggers indexed is what is there.
        plain.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)")
        plain.execute("INSERT INTO versions_fts (versions_fts, rank) VALUES ('integrity-check', 1)")
        # Only the earlier version is in versions_fts; any SQLite tool reads the index with plain MATCH.
        assert plain.execute("SELECT count(*) FROM versions_fts_docsize").fetchone()[0] == 1
        assert plain.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'договоренности'"
        ).fetchone() == (1,)


def test_an_old_archive_is_upgraded_and_searched(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(FIXTURES / "archives" / "schema-v1.db", db)
    assert upgrade(db) and not upgrade(db)  # `scrape serve` and `scrape search` do this before reading
    reader = open_reader(db)
    try:
        assert [hit.url for hit in search(reader, "договоренности").hits] == [SEED_URL]
    finally:
        reader.close()


# -- the command line --------------------------------------------------------------------------------------------


def test_scrape_search_prints_hits_with_snippets(archive_file: Path) -> None:
    result = run("search", "Токаев", "--db", str(archive_file))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "1. Государственный визит [Токаева] в Баку: новый этап казахстанско-азербайджанских отношений"
    assert lines[1] == f"   baigenews.kz · 2024-03-12 · {SEED_URL}"
    assert "[Токаев]" in lines[2]
    assert result.stderr.strip() == "1 article matches; 1 shown."


def test_scrape_search_json(archive_file: Path) -> None:
    result = run("search", "азербайджанские", "--db", str(archive_file), "--json")
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert [hit["url"] for hit in found["hits"]] == [SEED_URL]
    hit = found["hits"][0]
    assert [hit["snippet"][start:end] for start, end in hit["snippet_marks"]] == ["азербайджанских"] * len(
        hit["snippet_marks"]
    )
    assert found["earlier_versions"] == []


def test_scrape_search_marks_finds_in_earlier_versions(archive_file: Path) -> None:
    result = run("search", '"новейший этап"', "--db", str(archive_file))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "Only in an earlier version:"
    assert f"   in version 1, removed on {EDITED.date().isoformat()}" in result.stdout.splitlines()
    assert result.stderr.strip() == "0 articles match; 0 shown, and 1 found only in an earlier version."


def test_scrape_search_filters_and_limit(archive_file: Path) -> None:
    result = run("search", "Казахстан", "--db", str(archive_file), "--limit", "1", "--since", "2024-01-01")
    assert result.exit_code == 0
    assert sum(1 for line in result.stdout.splitlines() if line[:1].isdigit()) == 1
    bad = run("search", "Казахстан", "--db", str(archive_file), "--since", "yesterday")
    assert bad.exit_code == 2
    assert run("search", "Токаев", "--db", str(archive_file), "--until", "9999-12-31").exit_code == 0


def test_scrape_search_of_nothing(archive_file: Path) -> None:
    result = run("search", '"', "--db", str(archive_file))
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.strip() == "Nothing to search for: the query has no words."


def test_scrape_search_without_an_archive(tmp_path: Path) -> None:
    result = run("search", "Токаев", "--db", str(tmp_path / "none.db"))
    assert result.exit_code == 1
    assert one_error_line(result) == (
        f"Error: There is no archive at {tmp_path / 'none.db'}; run `scrape crawl` or `scrape url` first."
    )


# -- Datasette -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(archive_file: Path) -> DatasetteClient:
    return DatasetteClient(server.build(archive_file))


def table_urls(client: DatasetteClient, text: str) -> list[str]:
    response = client.get("/archive/articles.json?_shape=array&_col=title&_search=" + quote(text))
    assert response.status == 200, response.text[:300]
    return [row["url"] for row in response.json]


def test_the_articles_search_box_finds_word_forms(client: DatasetteClient) -> None:
    assert table_urls(client, "Токаев") == [SEED_URL]
    assert table_urls(client, "азербайджанские") == [SEED_URL]
    assert table_urls(client, '"визит Токаева"') == [SEED_URL]
    assert table_urls(client, '"визит Токаев"') == []


def test_the_articles_table_shows_marked_snippets(client: DatasetteClient) -> None:
    html = client.get("/archive/articles?_search=" + quote("азербайджанские")).text
    assert '<span class="archive-snippet">' in html
    assert "<mark>азербайджанских</mark>" in html
    assert "Rank them by relevance" in html


def test_the_search_page_ranks_marks_and_finds_earlier_versions(client: DatasetteClient) -> None:
    html = client.get("/archive/-/search?q=" + quote("Токаев")).text
    assert "<mark>Токаева</mark>" in html and "<mark>Токаев</mark>" in html
    old = client.get("/archive/-/search.json?q=" + quote('"новейший этап"')).json
    assert old["hits"] == []
    assert [hit["note"] for hit in old["earlier_versions"]] == [f"in version 1, removed on {EDITED.date()}"]
    page_html = client.get("/archive/-/search?q=" + quote('"новейший этап"')).text
    assert "Only in an earlier version" in page_html and "<mark>новейший этап</mark>" in page_html


def test_a_broad_table_search_lists_the_newest_matches_without_counting(
    client: DatasetteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "на" is in every Russian fixture: a common word, for a limit of one.
    assert len(table_urls(client, "на")) == 4
    monkeypatch.setattr(defaults, "SEARCH_TABLE_FACET_LIMIT", 1)
    found = client.get("/archive/articles.json?_search=" + quote("на")).json
    assert found["filtered_table_rows_count"] is None and found["facet_results"] == {}
    assert len(found["rows"]) == 1
    html = client.get("/archive/articles?_search=" + quote("на")).text
    assert "More than 1 article match" in html


@pytest.mark.parametrize(
    "args",
    ["since=9999-12-31&until=9999-12-31", "since=0001-01-01", "until=2024-02-30", "site=%00&since=x", "_size=-5"],
)
def test_odd_filters_give_a_page_not_an_error(client: DatasetteClient, args: str) -> None:
    response = client.get(f"/archive/-/search?q=Токаев&{args}")
    assert response.status == 200 and "Traceback" not in response.text


# Those a URL can carry (httpx, like browsers and servers, refuses URLs over 64 KiB).
@pytest.mark.parametrize("text", [text for text in HOSTILE if len(quote(text)) < 60_000])
def test_no_query_gives_an_error_page(client: DatasetteClient, text: str) -> None:
    for path in ("/archive/articles?_search=", "/archive/articles.json?_search=", "/archive/-/search?q="):
        response = client.get(path + quote(text))
        assert response.status == 200, (path, text[:40], response.text[:300])
        assert "Traceback" not in response.text


# -- the documentation -------------------------------------------------------------------------------------------

DOCS = (ROOT / "docs" / "search.md").read_text(encoding="utf-8")


def test_the_documented_queries_mean_what_the_docs_say() -> None:
    rows = re.findall(r"^\| `(.+?)`(?: or `.+?`)? \| .+? \| `(.+)` \|$", DOCS, re.MULTILINE)
    assert len(rows) >= 10
    for typed, expression in rows:
        assert parse(typed).expression() == expression, typed


def test_every_search_option_is_documented() -> None:
    from scraper.cli import search_command

    for option in search_command.params:
        for name in getattr(option, "opts", []):
            if name.startswith("--"):
                assert f"`{name}`" in DOCS, name
