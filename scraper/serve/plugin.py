"""The archive's Datasette plugin: article pages, search, a day facet, compact cells, home guide, safe headers."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

import datasette
import markupsafe
from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import (
    StartupError,
    escape_sqlite,
    parse_metadata,
    path_with_added_args,
    path_with_removed_args,
    tilde_encode,
    urlsafe_components,
)
from datasette.utils.asgi import Response

from scraper import settings
from scraper.serve import search
from scraper.serve.article import (
    MAX_READINGS,
    MAX_VERSIONS,
    REPLAY_URL_ENV,
    build_article,
    check_replay_template,
    replay_link,
)
from scraper.store.search import has_search_index

HERE = Path(__file__).resolve().parent
METADATA_FILE = HERE / "metadata.yaml"
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
#: The database name metadata.yaml describes the archive under (`datasette archive.db`).
ARCHIVE_NAME = "archive"
#: A database with these tables is an archive, whatever its file is called.
ARCHIVE_TABLES = frozenset({"articles", "article_versions", "view_counts", "fetches"})
#: The files served under /-/archive/, with their types; nothing else is reachable there.
STATIC_FILES = {"archive.css": "text/css; charset=utf-8"}
#: How much of an archive each read connection maps into memory (address space, not RAM).
MMAP_BYTES = 1 << 30
#: The longest string or blob a query may build or return (a stored raw page is at most 10 MiB compressed).
MAX_VALUE_BYTES = 16 * 2**20
#: The most one response may carry; larger whole answers get a 413, streamed ones (CSV) are cut here.
MAX_RESPONSE_BYTES = 64 * 2**20
#: The Host header names answered by default: the server is bound to loopback.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
#: Comma-separated host names to answer to instead (Datasette served under a public name).
ALLOWED_HOSTS_ENV = "SCRAPE_SERVE_ALLOWED_HOSTS"
#: The most matches /-/search lists, newest first, over every archive.
SEARCH_ALL_LIMIT = 100
#: The longest search text /-/search takes.
MAX_SEARCH_CHARS = 500
#: Cells that would otherwise show a wall of markup.
HTML_COLUMNS = frozenset({"body_html"})


_Hook = TypeVar("_Hook", bound=Callable[..., Any])


def _hook(function: _Hook) -> _Hook:
    """datasette.hookimpl, keeping the function's type (Datasette ships no type information)."""
    return cast(_Hook, hookimpl(function))


def _hook_last(function: _Hook) -> _Hook:
    """A hook that runs after every other plugin's, Datasette's own included."""
    return cast(_Hook, hookimpl(trylast=True)(function))


@dataclass
class _State:
    """What startup learnt about one Datasette instance's databases."""

    archives: frozenset[str] = frozenset()
    #: Metadata this plugin supplies: the `archive` entry of metadata.yaml under each other archive name.
    supplied: dict[str, Any] = field(default_factory=dict)


# Keyed by the Datasette instance: tests run several in one process, and the plugin module is shared.
_STATES: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()


def _state(ds: Any) -> _State:
    return _STATES.get(ds) or _State()


@cache
def archive_metadata() -> dict[str, Any]:
    """The `archive` database entry of metadata.yaml (tables, facets, canned queries)."""
    parsed = parse_metadata(METADATA_FILE.read_text(encoding="utf-8"))
    return dict(parsed["databases"][ARCHIVE_NAME])


@_hook
def startup(datasette: Any) -> Callable[[], Awaitable[None]]:
    async def find_archives() -> None:
        template = os.environ.get(REPLAY_URL_ENV, "").strip()
        if template:
            try:
                check_replay_template(template)
            except ValueError as exc:
                raise StartupError(f"{exc} ({REPLAY_URL_ENV})") from None
        # Asked before this instance has a state, so this is only what -m (and other plugins) describe.
        described = set((datasette.metadata("databases") or {}).keys())
        archives = set()
        supplied = {}
        for name, database in datasette.databases.items():
            if name.startswith("_") or not set(await database.table_names()) >= ARCHIVE_TABLES:
                continue
            if not database.is_mutable:
                raise StartupError(
                    f"The archive {database.path} is opened immutable (-i); serve it without -i: the crawler "
                    "writes to it while Datasette reads, and an immutable database never sees the new rows "
                    "and can read half-written pages."
                )
            archives.add(name)
            if name not in described:
                # Each name gets its own copy: Datasette adds keys to the canned query dicts it is given.
                supplied[name] = copy.deepcopy(archive_metadata())
        _STATES[datasette] = _State(frozenset(archives), supplied)

    return find_archives


@_hook
def get_metadata(datasette: Any, key: str | None, database: str | None, table: str | None) -> dict[str, Any] | None:
    state = _STATES.get(datasette)
    if state is None or not state.supplied:
        return None
    # A new outer dict each call: Datasette merges other sources into what it is given.
    return {"databases": dict(state.supplied)}


# Last, so the archive's escape_fts replaces the one Datasette's own prepare_connection registers.
@_hook_last
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    # Datasette's connections only read. Mapped, the pages of a large archive come from the OS page cache without
    # a system call each: a search that counts and facets 8,000 matching rows takes a third less time. A reader
    # never sees the file shrink under it: in WAL mode a checkpoint cannot cut pages an open snapshot still uses.
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    # No value a query builds may exceed this (zeroblob(10^9), a long replace()): it fails at once instead of taking
    # a gigabyte of memory.
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    # SQLite's time limit is checked between steps of a query, and printf('%.*c', 500000000, 'x') is one step
    # that runs for seconds (SQLite 3.40 repeats the character one by one even after the length limit is hit):
    # printf and format refuse widths and precisions no value could hold.
    for name in ("printf", "format"):
        conn.create_function(name, -1, bounded_printf, deterministic=True)
    # The search box of an archive's tables (`?_search=`) reads words with their forms, ё as е, phrases in
    # quotes, and never fails on what a reader types: Datasette's table search calls escape_fts(:search).
    if has_search_index(conn):
        conn.create_function("escape_fts", 1, search.escape_fts, deterministic=True)


#: One %-directive of printf: flags, width (digits or *), precision (digits or *), conversion.
_DIRECTIVE = re.compile(r"%[-+ 0#,!]*(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])")
_formatters = threading.local()


def bounded_printf(form: Any, *args: Any) -> Any:
    """SQLite's printf(), refusing a width or precision larger than any value may be (MAX_VALUE_BYTES)."""
    if not isinstance(form, str):
        return None
    position = 0
    for width, precision, conversion in _DIRECTIVE.findall(form):
        for size in (width, precision):
            if size == "*":
                given = args[position] if position < len(args) else 0
                position += 1
                size = str(given) if isinstance(given, int) else "0"
            if size and int(size.lstrip("-") or 0) > MAX_VALUE_BYTES:
                raise ValueError(f"printf: a width or precision over {MAX_VALUE_BYTES} is refused")
        position += conversion != "%"
    helper = getattr(_formatters, "connection", None)
    if helper is None:
        # SQLite's own printf, on a connection of this thread that has no override.
        helper = _formatters.connection = sqlite3.connect(":memory:")
        helper.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    marks = "".join(", ?" for _ in args)
    return helper.execute(f"SELECT printf(?{marks})", (form, *args)).fetchone()[0]


class DayFacet(Facet):  # type: ignore[misc]  # Datasette ships no types
    """Facet `{"day": column}`: the calendar day an ISO time was written in (its first ten characters), newest first.

    Unlike Datasette's date facet it does not convert to UTC, so an article published at 01:00 in Almaty
    counts on the day its site printed.
    """

    type = "day"

    async def suggest(self) -> list[dict[str, Any]]:
        return []

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        args = dict(self.get_querystring_pairs())
        size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            quoted = escape_sqlite(column)
            sql = (
                f"select substr({quoted}, 1, 10) as value, count(*) as count from ({self.sql})"
                f" where {quoted} glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"
                f" group by value order by value desc limit {size + 1}"
            )
            try:
                rows = await self.ds.execute(
                    self.database,
                    sql,
                    self.params,
                    truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(column)
                continue
            key = f"{column}__startswith"
            values = []
            for row in rows.rows[:size]:
                selected = args.get(key) == row["value"]
                path = (
                    path_with_removed_args(self.request, {key: row["value"]})
                    if selected
                    else path_with_added_args(self.request, {key: row["value"]})
                )
                values.append(
                    {
                        "value": row["value"],
                        "label": row["value"],
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(self.request, path),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": values,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": path_with_removed_args(self.request, {"_facet_day": column}),
                    "truncated": len(rows.rows) > size,
                }
            )
        return results, timed_out


def _hook_first(function: _Hook) -> _Hook:
    """A hook that runs before every other plugin's, Datasette's own included."""
    return cast(_Hook, hookimpl(tryfirst=True)(function))


# First, so its clause comes before Datasette's search clause in the table query (SQLite walks the first).
@_hook_first
def filters_from_request(request: Any, database: str, table: str, datasette: Any) -> Any:
    if table != "articles" or database not in _state(datasette).archives:
        return None
    clauses, params, descriptions = search.window_filter(search.SEARCHING.get())
    return FilterArguments(clauses, params, descriptions) if clauses else None


@_hook
def register_facet_classes() -> list[type]:
    return [DayFacet]


@_hook
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    # Called for every cell of every page: leave as fast as possible when it is not ours.
    if column == "title":
        if not isinstance(value, str) or database not in _state(datasette).archives:
            return None
        # sqlite3.Row: `in` would test its values, keys() are its column names.
        columns = row.keys()
        if table not in ("articles", None) or "url" not in columns or not isinstance(row["url"], str):
            return None
        # A title links to its article page, in the table and in canned query results alike; under a search
        # of the articles table its searched words are marked.
        href = datasette.urls.row(database, "articles", tilde_encode(row["url"]))
        shown = search.title_html(search.SEARCHING.get() if table == "articles" else None, value)
        return markupsafe.Markup('<a class="archive-title-link" href="{}">{}</a>').format(href, shown)
    if column in HTML_COLUMNS and isinstance(value, str) and database in _state(datasette).archives:
        return f"{len(value):,} characters of sanitized HTML (rendered on the article page)"
    searching = search.SEARCHING.get()
    if searching is not None and table == "articles":
        return search.table_cell(searching, column, value)
    return None


@_hook
def extra_template_vars(
    template: str, database: str | None, table: str | None, view_name: str, request: Any, datasette: Any
) -> Callable[[], Awaitable[dict[str, Any]]] | None:
    if view_name == "index":
        return lambda: _guide(datasette, request)
    if view_name == "row" and table == "articles" and database in _state(datasette).archives:
        return lambda: _article(datasette, database, request)
    if view_name == "table" and table == "articles" and database in _state(datasette).archives and request:
        text = request.args.get("_search") or ""
        return lambda: _table_search(datasette, database, text)
    return None


async def _table_search(ds: Any, database: str, text: str) -> dict[str, Any]:
    """For the articles table: the search page of the same words (ranked, with snippets and earlier versions),
    and whether this search matched too many articles to count and facet here."""
    searching = search.SEARCHING.get()
    return {
        "archive_search_url": search.search_url(ds, database, q=text),
        "archive_search_text": text,
        "archive_search_broad": searching is not None and searching.broad,
        "archive_search_limit": settings.SEARCH_TABLE_FACET_LIMIT,
    }


async def _guide(ds: Any, request: Any) -> dict[str, Any]:
    """For the home page: each archive's tables and canned queries, with their descriptions."""
    guide = []
    actor = request.actor if request else None
    for name in sorted(_state(ds).archives):
        tables = ds.metadata("tables", database=name) or {}
        queries = await ds.get_canned_queries(name, actor)
        guide.append(
            {
                "name": name,
                "url": ds.urls.database(name),
                "search_url": search.search_url(ds, name),
                "tables": [
                    {"name": table, "url": ds.urls.table(name, table), "description": meta.get("description", "")}
                    for table, meta in tables.items()
                    if not meta.get("hidden")
                ],
                "queries": [
                    {**query, "url": ds.urls.query(name, key), "title": query.get("title", key)}
                    for key, query in queries.items()
                ],
            }
        )
    return {"archive_guide": guide}


async def _article(ds: Any, database: str, request: Any) -> dict[str, Any]:
    """For an `articles` row page: the article, its versions and its view readings."""
    db = ds.get_database(database)
    url = urlsafe_components(request.url_vars["pks"])[0]
    found = await db.execute("select * from articles where url = ?", [url])
    row = found.first()
    if row is None:
        return {}
    total = (await db.execute("select count(*) from article_versions where url = ?", [url])).single_value()
    # One more than shown, so the oldest shown version has its "before".
    version_rows = list(
        (
            await db.execute(
                "select * from article_versions where url = ? order by version desc limit ?", [url, MAX_VERSIONS + 1]
            )
        ).rows
    )
    version_rows.reverse()
    readings = [
        (r[0], r[1])
        for r in (
            await db.execute(
                "select observed_at, views from view_counts where url = ? order by observed_at desc limit ?",
                [url, MAX_READINGS],
            )
        ).rows
    ]
    readings.reverse()
    page = build_article(row, version_rows, readings, versions_total=int(total or 0))
    return {
        "archive_article": page,
        "archive_version_urls": {
            v.version: ds.urls.row(database, "article_versions", tilde_encode(str(v.id))) for v in page.versions
        },
        "archive_replay_urls": await _replay_urls(db, version_rows),
    }


async def _replay_urls(db: Any, version_rows: list[Any]) -> dict[int, str]:
    """Each version's link to its capture replayed, when a replay URL template is configured (REPLAY_URL_ENV)."""
    template = os.environ.get(REPLAY_URL_ENV, "").strip()
    keys = [r["page_hash"] for r in version_rows if r["page_hash"]]
    if not template or not keys:
        return {}
    marks = ", ".join("?" for _ in keys)
    found = await db.execute(f"select hash, coalesce(final_url, url) from pages where hash in ({marks})", keys)
    urls = {r[0]: r[1] for r in found.rows}
    links = {}
    for r in version_rows:
        url = urls.get(r["page_hash"])
        link = replay_link(template, url, r["captured_at"]) if url else None
        if link:
            links[int(r["version"])] = link
    return links


@_hook
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.path("/-/archive/archive.css")]


async def _static(request: Any) -> Any:
    name = request.url_vars["name"]
    return Response(
        (STATIC_DIR / name).read_text(encoding="utf-8"),
        content_type=STATIC_FILES[name],
        headers={"cache-control": "max-age=3600"},
    )


async def _search_page(request: Any, datasette: Any) -> Any:
    database = request.url_vars["database"]
    if database not in _state(datasette).archives:
        return Response.text(f"{database} is not an archive.", status=404)
    return await search.search_page(request, datasette, database)


async def _search_all(request: Any, datasette: Any) -> Any:
    """/-/search?q=: one full-text search over every archive served (the shards of the distributed writer)."""
    text = request.args.get("q", "").strip()[:MAX_SEARCH_CHARS]
    results: list[dict[str, Any]] = []
    archives: list[dict[str, Any]] = []
    timed_out: list[str] = []
    if text:
        for name in sorted(_state(datasette).archives):
            articles = (datasette.metadata("tables", database=name) or {}).get("articles") or {}
            fts = escape_sqlite(articles.get("fts_table") or "articles_fts")
            key = escape_sqlite(articles.get("fts_pk") or "rowid")
            matching = f"select rowid from {fts} where {fts} match :q"
            # The archive's own reading of the words (forms, ё as е, phrases), as on every search page.
            params = {"q": search.escape_fts(text), "n": SEARCH_ALL_LIMIT}
            db = datasette.get_database(name)
            try:
                total = (await db.execute(f"select count(*) from ({matching})", params)).single_value()
                found = await db.execute(
                    f"select url, title, site, published_at from articles where {key} in ({matching})"
                    " order by published_at desc limit :n",
                    params,
                )
            except QueryInterrupted:
                timed_out.append(name)
                continue
            table_url = datasette.urls.table(name, "articles") + "?" + urlencode({"_search": text})
            archives.append({"name": name, "count": int(total or 0), "url": table_url})
            for row in found.rows:
                href = datasette.urls.row(name, "articles", tilde_encode(row["url"]))
                results.append({**dict(row), "archive": name, "href": href})
    results.sort(key=lambda row: row["published_at"] or "", reverse=True)
    context = {
        "q": text,
        "results": results[:SEARCH_ALL_LIMIT],
        "archives": archives,
        "total": sum(a["count"] for a in archives),
        "timed_out": timed_out,
    }
    return Response.html(await datasette.render_template("archive_search.html", context, request=request))


@_hook
def register_routes() -> list[tuple[str, Callable[..., Awaitable[Any]]]]:
    names = "|".join(re.escape(name) for name in STATIC_FILES)
    return [
        (rf"^/-/archive/(?P<name>{names})$", _static),
        (r"^/-/search$", _search_all),
        (rf"^/(?P<database>[^/]+)/{search.SEARCH_PATH}(?:\.(?P<format>json))?$", _search_page),
    ]


@cache
def _inline_script_hashes() -> tuple[str, ...]:
    """CSP hashes of the inline scripts in Datasette's templates and ours, so exactly those may run.

    Datasette 0.65 writes a few fixed inline scripts (closing menus, the SQL editor, one flag on table pages);
    an injected script or event handler matches none of the hashes and the browser refuses it.
    """
    folders = [Path(datasette.__file__).resolve().parent / "templates", TEMPLATES_DIR]
    found: set[str] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.html")):
            text = path.read_text(encoding="utf-8")
            for body in re.findall(r"<script(?:\s+type=\"module\")?>(.*?)</script>", text, re.DOTALL):
                variants = [body]
                if "{{" in body or "{%" in body:
                    # The table page's one templated script says whether facets may be added: true or false.
                    flag = re.compile(r"\{\{\s*datasette_allow_facet\s*\}\}")
                    variants = [flag.sub(value, body) for value in ("true", "false")]
                for variant in variants:
                    if "{{" in variant or "{%" in variant:
                        continue  # a script we cannot know in advance is refused rather than guessed
                    digest = base64.b64encode(hashlib.sha256(variant.encode("utf-8")).digest()).decode("ascii")
                    found.add(f"'sha256-{digest}'")
    return tuple(sorted(found))


@cache
def security_headers() -> tuple[tuple[bytes, bytes], ...]:
    """Headers on every response: what a page may load and run (defence in depth behind sanitizing)."""
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' " + " ".join(_inline_script_hashes()),
            # Datasette's templates style with inline <style> and style="" attributes.
            "style-src 'self' 'unsafe-inline'",
            # Article images are shown as links, so the archive never calls the news sites (or a tracker).
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return (
        (b"content-security-policy", policy.encode("ascii")),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    )


def allowed_hosts() -> frozenset[str]:
    """The host names a request may name in its Host header: loopback names, or SCRAPE_SERVE_ALLOWED_HOSTS.

    A page the user visits can make their browser send requests to 127.0.0.1; with DNS rebinding it can even
    read the answers, under its own host name. Answering only to the names the server is meant to be reached
    by closes that (Datasette behind a public name: list the name in SCRAPE_SERVE_ALLOWED_HOSTS).
    """
    configured = os.environ.get(ALLOWED_HOSTS_ENV, "")
    names = {name.strip().lower() for name in configured.split(",") if name.strip()}
    return frozenset(names or LOOPBACK_HOSTS)


def _host_name(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = str(value.decode("latin-1")).strip().lower()
            if host.startswith("["):
                return host[: host.find("]") + 1]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


async def _refuse(send: Any, status: int, text: str) -> None:
    body = text.encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + list(security_headers())})
    await send({"type": "http.response.body", "body": body})


@_hook
def asgi_wrapper(datasette: Any) -> Callable[[Any], Any]:
    def wrap(app: Any) -> Any:
        async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            host = _host_name(scope)
            if host not in allowed_hosts():
                await _refuse(send, 421, f"This archive does not answer to the host name {host!r}.\n")
                return
            extra = security_headers()
            names = {name for name, _ in extra}
            searching = await search.table_search(scope, datasette, _state(datasette).archives)
            held: dict[str, Any] | None = None
            sent = 0
            done = False

            async def capped_send(message: dict[str, Any]) -> None:
                # The response start is held back until the first body chunk: a whole answer over the cap is
                # replaced by an error, a streamed one is cut at the cap.
                nonlocal held, sent, done
                if done:
                    return
                if message["type"] == "http.response.start":
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                    held = {**message, "headers": headers + list(extra)}
                    return
                if message["type"] == "http.response.body":
                    sent += len(message.get("body", b""))
                    if held is not None:
                        start, held = held, None
                        if sent > MAX_RESPONSE_BYTES and not message.get("more_body"):
                            done = True
                            await _refuse(
                                send,
                                413,
                                f"The answer would be larger than {MAX_RESPONSE_BYTES // 2**20} MiB; "
                                "ask for fewer rows or shorter values.\n",
                            )
                            return
                        await send(start)
                    if sent > MAX_RESPONSE_BYTES:
                        done = True
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                        return
                await send(message)

            token = search.SEARCHING.set(searching)
            try:
                await app(scope, receive, capped_send)
            finally:
                search.SEARCHING.reset(token)

        return guarded

    return wrap
