"""Search in Datasette: the archive's `escape_fts`, snippets in the articles table, and the search page."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode

import markupsafe
from datasette.utils import sqlite_timelimit, tilde_encode
from datasette.utils.asgi import Response

from scraper import settings
from scraper.errors import StoreError
from scraper.search.find import Results, filters, search
from scraper.search.query import Query, parse, to_match
from scraper.search.snippets import Marked, mark, snippet
from scraper.store.search import Reader, newest_floor, newest_window

#: The columns the articles table shows under a search, unless the reader picks others (`_col`, `_nocol`):
#: what tells whether a row answers the search. A page of all 33 columns takes three times as long to render.
TABLE_SEARCH_COLUMNS = ("title", "site", "published_at", "author", "views", "lead", "body_text")
#: The search page's path under a database.
SEARCH_PATH = "-/search"
#: How long one search may run before it is stopped (Datasette's own queries have sql_time_limit_ms).
TIME_LIMIT_MS = 2000


@dataclass(frozen=True)
class TableSearch:
    """A search of an archive's articles table: the reader's query and, when more than
    settings.SEARCH_TABLE_FACET_LIMIT articles match, the rowid above which the newest that many lie."""

    query: Query
    floor: int | None = None

    @property
    def broad(self) -> bool:
        return self.floor is not None


#: The search of the articles table page being served, if any: render_cell has no request to ask.
SEARCHING: contextvars.ContextVar[TableSearch | None] = contextvars.ContextVar("archive_table_search", default=None)


def escape_fts(text: object) -> str:
    """Datasette's `escape_fts(:search)` for an archive: the reader's words with their forms, never an error."""
    return to_match(text)


async def table_search(scope: dict[str, Any], datasette: Any, archives: frozenset[str]) -> TableSearch | None:
    """The search of a request for an archive's articles table (`/archive/articles?_search=…`, HTML or JSON).

    Datasette's table search reads every matching row, for the rows, the count and each facet: for a common
    word on a large archive, seconds. A search matching more than settings.SEARCH_TABLE_FACET_LIMIT articles
    is therefore kept to the newest that many (`filters`), and counted and faceted not at all: `_nocount` and
    `_nofacet` are added to the request. Unless the reader chose otherwise, the HTML table shows
    TABLE_SEARCH_COLUMNS, SEARCH_DEFAULT_LIMIT rows a page.
    """
    parts = str(scope.get("path", "")).strip("/").split("/")
    if len(parts) != 2 or parts[0] not in archives or parts[1] not in ("articles", "articles.json"):
        return None
    raw = scope.get("query_string", b"").decode("latin-1")
    args = parse_qs(raw)
    if (args.get("_searchmode") or [""])[0] == "raw":
        return None
    query = parse((args.get("_search") or [""])[0])
    if query.empty:
        return None
    match = query.expression()
    window = settings.SEARCH_TABLE_FACET_LIMIT
    try:
        floor = await datasette.get_database(parts[0]).execute_fn(lambda conn: newest_floor(conn, match, window))
    except StoreError:
        return None  # Datasette's own query meets the same problem and says so
    added = [] if floor is None else [("_nofacet", "1"), ("_nocount", "1")]
    if parts[1] == "articles" and not any(key in args for key in ("_col", "_nocol")):
        added += [("_col", column) for column in TABLE_SEARCH_COLUMNS]
    if parts[1] == "articles" and "_size" not in args:
        # A page of search results is as long as the search page's and `scrape search`'s.
        added.append(("_size", str(settings.SEARCH_DEFAULT_LIMIT)))
    if added:
        scope["query_string"] = (raw + ("&" if raw else "") + urlencode(added)).encode("latin-1")
    return TableSearch(query, floor)


def window_filter(searching: TableSearch | None) -> tuple[list[str], dict[str, Any], list[str]]:
    """The where clause that keeps a broad table search to its newest matches, its values, and its description.

    It is listed before Datasette's own search clause, so SQLite walks these few rowids and tests each against
    the full match, rather than the other way round.
    """
    if searching is None or searching.floor is None:
        return [], {}, []
    clause, values = newest_window(searching.query.expression(), searching.floor)
    limit = settings.SEARCH_TABLE_FACET_LIMIT
    return [clause], values, [f"among the {limit:,} most recently archived of the matches"]


def marked_html(marked: Marked) -> markupsafe.Markup:
    """Text with its matched parts in <mark>, everything escaped."""
    return markupsafe.Markup("").join(
        markupsafe.Markup("<mark>{}</mark>").format(piece) if hit else markupsafe.escape(piece)
        for piece, hit in marked.segments()
    )


def table_cell(searching: TableSearch, column: str, value: Any) -> markupsafe.Markup | None:
    """A cell of the articles table under a search: the body as its best snippet, with the words marked."""
    if column == "body_text" and isinstance(value, str):
        found = snippet(searching.query, value)
        return markupsafe.Markup('<span class="archive-snippet">{}</span>').format(marked_html(found))
    if column == "lead" and isinstance(value, str):
        return marked_html(mark(searching.query, value))
    return None


def title_html(searching: TableSearch | None, title: str) -> markupsafe.Markup:
    return marked_html(mark(searching.query, title)) if searching is not None else markupsafe.escape(title)


def search_url(ds: Any, database: str, **args: str) -> str:
    """The search page of `database`, with its query string."""
    query = urlencode({key: value for key, value in args.items() if value})
    return str(ds.urls.database(database)) + "/" + SEARCH_PATH + (f"?{query}" if query else "")


def _day(text: str | None) -> tuple[date | None, str | None]:
    """A YYYY-MM-DD filter value, or a sentence saying why it was left out."""
    if not text:
        return None, None
    try:
        return date.fromisoformat(text.strip()), None
    except ValueError:
        return None, f"{text[:40]!r} is not a date like 2024-03-12, so it was left out."


def _size(text: str | None) -> int:
    try:
        return max(1, min(int(text or settings.SEARCH_DEFAULT_LIMIT), settings.SEARCH_MAX_LIMIT))
    except ValueError:
        return settings.SEARCH_DEFAULT_LIMIT


async def search_page(request: Any, datasette: Any, database: str) -> Response:
    """`/<archive>/-/search?q=…&site=…&since=…&until=…&_size=…` as HTML, or as JSON with `.json`."""
    args = request.args
    text = args.get("q") or ""
    since, since_problem = _day(args.get("since"))
    until, until_problem = _day(args.get("until"))
    chosen = filters(args.get("site"), since, until)
    limit = _size(args.get("_size"))
    problems = [problem for problem in (since_problem, until_problem) if problem]
    results: Results | None = None
    db = datasette.get_database(database)

    def run(conn: Reader) -> Results:
        with sqlite_timelimit(conn, TIME_LIMIT_MS):
            return search(conn, text, chosen, limit=limit)

    try:
        results = await db.execute_fn(run)
    except StoreError as exc:
        interrupted = "interrupt" in str(exc).lower()
        problems.append(
            "The search took too long and was stopped; add a word or a filter."
            if interrupted
            else f"The search failed: {exc}"
        )
    if request.url_vars.get("format") == "json":
        record = results.to_record() if results else {"query": text, "hits": [], "earlier_versions": []}
        return Response.json({**record, "problems": problems})
    page = await datasette.render_template(
        "archive_search_page.html",
        {
            "database": database,
            "q": text,
            "site": chosen.site or "",
            "since": chosen.since or "",
            "until": chosen.until or "",
            "results": results,
            "problems": problems,
            "max_words": settings.SEARCH_MAX_WORDS,
            "rank_window": settings.SEARCH_RANK_WINDOW,
            "marked": marked_html,
            "article_url": lambda url: datasette.urls.row(database, "articles", tilde_encode(url)),
            "json_url": request.path + ".json" + (f"?{request.query_string}" if request.query_string else ""),
            "table_url": datasette.urls.table(database, "articles") + "?" + urlencode({"_search": text}),
        },
        request=request,
        view_name="archive_search",
    )
    return Response.html(page)
