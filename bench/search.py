"""Search quality and speed: this search against plain unicode61 matching, on a labelled Russian/Kazakh/English corpus.

Run: python bench/search.py [--quick] [--scale N] [--keep DIR]

The corpus is archived as a crawl archives it (scraper.pipeline into a real archive): the BaigeNews fixtures,
the demo site's articles (four of them edited after their first capture, so their old headlines are in an
earlier version only), and the dev pages (fixtures/*-dev; --quick takes only the labelled ones and a few
others). bench/search_queries.toml holds the labelled queries, written as readers type them (other cases of
names, inflected words, ё/е, Kazakh endings, quoted phrases, words an edit removed, English) with the pages
that answer each. Three searches run over the same archive in the same run:

- search: this project's (scraper.search.find): stem-prefix query rewriting over the unicode61 index, ё as е,
  bm25 with the title weighted, then the articles found only in an earlier version;
- baseline: plain unicode61 matching as a stock Datasette does it: Datasette's escape_fts of the words over an
  index of the text as it is, ranked by plain bm25;
- shadow: the alternative design, a stemmed shadow column: every word of the text stored as its stem
  (Snowball russian/english, the Kazakh suffix table) in a second index, queried with the stems of the words
  (quoted phrases against the text as it is).

recall@10 is the share of a query's relevant pages in its first 10 results, averaged over queries; mrr is the
mean of 1/rank of the first relevant page within those 10 (0 if none). Figures are dev figures: the queries
were written while building the search.

Then --scale N articles of the demo site's text (written straight into an archive; a tenth with an earlier
version) measure the time of each labelled query with each design and the size of each index.

Last line: a JSON object with `recall_at_10`, `mrr` (this search), `baseline_recall_at_10`, `baseline_mrr`
(plain unicode61), `queries` (how many), `shadow_recall_at_10`, `shadow_mrr` (the stemmed shadow column),
`by_kind` (per kind of query, per search: `recall_at_10`, `mrr`, `queries`), `corpus_articles`,
`scale_articles`, `latency_ms` (per design: `median`, `p95`, `max`) and `index_mib` (per design).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for folder in (REPO, REPO / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from _search_corpus import DEMO_BASE, build, demo_docs, demo_site, dev_docs, edit_demo, fixture_docs  # noqa: E402
from datasette.utils import escape_fts  # noqa: E402

from scraper.search.analysis import english_stem, is_cyrillic, is_kazakh, kazakh_stem, russian_stem, tokens  # noqa: E402
from scraper.search.find import search  # noqa: E402
from scraper.search.query import Query, Term, parse  # noqa: E402
from scraper.store import Archive  # noqa: E402
from scraper.store.search import Filters  # noqa: E402

QUERIES = REPO / "bench" / "search_queries.toml"
TOP = 10
#: --quick: dev pages taken besides the labelled ones.
QUICK_DISTRACTORS = 40
COLUMNS = ("title", "lead", "body_text")
WEIGHTS = "10.0, 4.0, 1.0"

Ranker = Callable[[sqlite3.Connection, str], list[str]]


# -- the three searches ---------------------------------------------------------------------------------


def this_search(conn: sqlite3.Connection, text: str) -> list[str]:
    found = search(conn, text, Filters(), limit=TOP)
    return [hit.url for hit in found.hits + found.earlier]


def baseline_search(conn: sqlite3.Connection, text: str) -> list[str]:
    match = escape_fts(text)
    if not match.strip():
        return []
    try:
        rows = conn.execute(
            "SELECT a.url FROM baseline_fts f JOIN articles a ON a.rowid = f.rowid"
            " WHERE baseline_fts MATCH ? ORDER BY f.rank LIMIT ?",
            (match, TOP),
        ).fetchall()
    except sqlite3.OperationalError:  # stock escape_fts leaves some input FTS5 refuses; that search finds nothing
        return []
    return [str(row[0]) for row in rows]


def stem(token: str) -> str:
    """The shadow column's form of a folded token."""
    if token.isdigit():
        return token
    if is_cyrillic(token):
        return kazakh_stem(token) if is_kazakh(token) else russian_stem(token)
    return english_stem(token) if token.isascii() else token


def stemmed(text: str | None) -> str:
    return " ".join(stem(token) for _, _, token in tokens(text or ""))


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _shadow_term(term: Term) -> str:
    if term.exact:
        return "{title lead body_text}: " + " + ".join(_quote(token) for token in term.tokens)
    return "{s_title s_lead s_body}: " + " + ".join(_quote(stem(token)) for token in term.tokens)


def shadow_expression(query: Query) -> str:
    groups = ["(" + " OR ".join(f"({_shadow_term(t)})" for t in group) + ")" for group in query.groups]
    match = " AND ".join(groups)
    if query.excluded:
        match = f"({match}) NOT ({' OR '.join(f'({_shadow_term(t)})' for t in query.excluded)})"
    return match


def shadow_search(conn: sqlite3.Connection, text: str) -> list[str]:
    query = parse(text)
    if query.empty:
        return []
    rows = conn.execute(
        "SELECT a.url FROM shadow_fts f JOIN articles a ON a.rowid = f.rowid WHERE shadow_fts MATCH ?"
        f" ORDER BY bm25(shadow_fts, {WEIGHTS}, {WEIGHTS}) LIMIT ?",
        (shadow_expression(query), TOP),
    ).fetchall()
    return [str(row[0]) for row in rows]


def add_alternatives(conn: sqlite3.Connection) -> None:
    """The baseline's index (the text as it is, stock unicode61) and the shadow design's index."""
    conn.execute(
        "CREATE VIRTUAL TABLE baseline_fts USING fts5(title, lead, body_text, content='articles',"
        " tokenize='unicode61 remove_diacritics 2')"
    )
    conn.execute("INSERT INTO baseline_fts (baseline_fts) VALUES ('rebuild')")
    conn.execute(
        "CREATE VIRTUAL TABLE shadow_fts USING fts5(title, lead, body_text, s_title, s_lead, s_body,"
        " content='', tokenize='unicode61 remove_diacritics 2')"
    )
    rows = conn.execute("SELECT rowid, title, lead, body_text FROM articles").fetchall()
    conn.executemany(
        "INSERT INTO shadow_fts (rowid, title, lead, body_text, s_title, s_lead, s_body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (rowid, *(_fold_yo(v) for v in (title, lead, body)), stemmed(title), stemmed(lead), stemmed(body))
            for rowid, title, lead, body in rows
        ],
    )


def _fold_yo(text: str | None) -> str:
    return (text or "").replace("ё", "е").replace("Ё", "Е")


# -- quality -------------------------------------------------------------------------------------------------


def load_queries() -> list[dict[str, Any]]:
    return list(tomllib.loads(QUERIES.read_text(encoding="utf-8"))["query"])


def score(ranked: list[str], relevant: set[str]) -> tuple[float, float]:
    top = ranked[:TOP]
    recall = len(relevant & set(top)) / len(relevant)
    reciprocal = next((1 / rank for rank, url in enumerate(top, 1) if url in relevant), 0.0)
    return recall, reciprocal


def evaluate(
    conn: sqlite3.Connection, queries: list[dict[str, Any]], urls: dict[str, str], rankers: dict[str, Ranker]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]], list[str]]:
    totals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    kinds: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    misses = []
    for query in queries:
        missing = [page for page in query["relevant"] if page not in urls]
        if missing:
            raise SystemExit(f"{QUERIES.name}: {query['text']!r} names pages the corpus lacks: {missing}")
        relevant = {urls[page] for page in query["relevant"]}
        for name, ranker in rankers.items():
            result = score(ranker(conn, query["text"]), relevant)
            totals[name].append(result)
            kinds[query["kind"]][name].append(result)
            if name == "search" and result[0] < 1:
                misses.append(f"{query['text']!r}: recall {result[0]:.2f}")
    summary = {name: _means(results) for name, results in totals.items()}
    by_kind = {kind: {name: _means(results) for name, results in names.items()} for kind, names in kinds.items()}
    return summary, by_kind, misses


def _means(results: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "recall_at_10": round(statistics.fmean(r for r, _ in results), 3),
        "mrr": round(statistics.fmean(m for _, m in results), 3),
        "queries": len(results),
    }


# -- speed at scale --------------------------------------------------------------------------------------------


def synthesize(path: Path, articles: int) -> None:
    """An archive of the demo site's first `articles` articles (text only, no pages), a tenth with an earlier
    version whose headline said more; written with SQL, as bench/serve.py writes its archive."""
    Archive(path).close()
    site = demo_site(articles)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        for article in site.articles:
            url = DEMO_BASE + article.path
            body = "\n\n".join(article.paragraphs)
            edited = article.number % 10 == 3
            conn.execute(
                "INSERT INTO articles (url, site, title, lead, body_text, parse_status, profile, content_hash,"
                " version, first_seen_at, last_fetched_at, last_changed_at, fetched_url, language, published_at)"
                " VALUES (?, 'demo.test', ?, ?, ?, 'ok', 'generic', ?, ?, '2024', '2024', '2024', ?, ?, ?)",
                (
                    url,
                    article.title,
                    article.lead,
                    body,
                    f"{article.id:064x}",
                    2 if edited else 1,
                    url,
                    article.lang,
                    article.published.isoformat(),
                ),
            )
            titles = [f"{article.title} (черновик)", article.title] if edited else [article.title]
            conn.executemany(
                "INSERT INTO article_versions (url, version, captured_at, content_hash, changed_fields, title,"
                " lead, body_text) VALUES (?, ?, '2024', ?, '[]', ?, ?, ?)",
                [(url, n, f"{article.id:060x}{n:04x}", title, article.lead, body) for n, title in enumerate(titles, 1)],
            )
        conn.execute("COMMIT")


def index_mib(conn: sqlite3.Connection, prefix: str) -> float:
    size = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE ?", (prefix + "%",)).fetchone()[0]
    return round((size or 0) / 2**20, 1)


def timings(
    conn: sqlite3.Connection, texts: list[str], runner: Callable[[str], object], repeat: int
) -> dict[str, float]:
    found = []
    for text in texts:
        runner(text)  # warm
        for _ in range(repeat):
            started = time.perf_counter()
            runner(text)
            found.append((time.perf_counter() - started) * 1000)
    found.sort()
    return {
        "median": round(statistics.median(found), 2),
        "p95": round(found[min(len(found) - 1, round(0.95 * (len(found) - 1)))], 2),
        "max": round(found[-1], 2),
    }


def scale_run(folder: Path, articles: int, texts: list[str], repeat: int) -> tuple[dict[str, Any], dict[str, Any]]:
    path = folder / "scale.db"
    synthesize(path, articles)
    with closing(sqlite3.connect(path)) as conn:
        started = time.perf_counter()
        add_alternatives(conn)
        conn.commit()
        print(
            f"scale: {articles:,} articles; alternative indexes built in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        sizes = {
            "search (articles_fts + versions_fts)": round(
                index_mib(conn, "articles_fts") + index_mib(conn, "versions_fts"), 1
            ),
            "baseline": index_mib(conn, "baseline_fts"),
            "shadow": index_mib(conn, "shadow_fts"),
        }
        latency = {
            "search": timings(conn, texts, lambda t: _prefix_page(conn, t), repeat),
            "baseline": timings(conn, texts, lambda t: _baseline_page(conn, t), repeat),
            "shadow": timings(conn, texts, lambda t: _shadow_page(conn, t), repeat),
            "search, whole": timings(conn, texts, lambda t: search(conn, t, Filters(), limit=20), repeat),
        }
    return latency, sizes


def _page(conn: sqlite3.Connection, table: str, rank: str, match: str) -> None:
    """What a search page asks an index for: the best 20 and the count."""
    conn.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY {rank} LIMIT 20", (match,)).fetchall()
    conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (match,)).fetchall()


def _prefix_page(conn: sqlite3.Connection, text: str) -> None:
    query = parse(text)
    if not query.empty:
        _page(conn, "articles_fts", f"bm25(articles_fts, {WEIGHTS})", query.expression())


def _baseline_page(conn: sqlite3.Connection, text: str) -> None:
    match = escape_fts(text)
    if match.strip():
        with suppress(sqlite3.OperationalError):  # stock escape_fts leaves input FTS5 refuses: nothing found
            _page(conn, "baseline_fts", "rank", match)


def _shadow_page(conn: sqlite3.Connection, text: str) -> None:
    query = parse(text)
    if not query.empty:
        _page(conn, "shadow_fts", f"bm25(shadow_fts, {WEIGHTS}, {WEIGHTS})", shadow_expression(query))


# -- main ----------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small corpus and scale (seconds), for the test suite")
    parser.add_argument("--scale", type=int, help="synthetic articles for the speed part (default 20,000; quick 1,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each query at scale")
    parser.add_argument("--keep", type=Path, help="build the archives in this folder and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-search-"))
    folder.mkdir(parents=True, exist_ok=True)
    queries = load_queries()
    labelled = {page for query in queries for page in query["relevant"]}
    site = demo_site()
    docs = [*fixture_docs(), *demo_docs(site)]
    if args.quick:
        dev = list(dev_docs())
        docs += [doc for doc in dev if doc.id in labelled] + [doc for doc in dev if doc.id not in labelled][
            :QUICK_DISTRACTORS
        ]
    else:
        docs += list(dev_docs())
    path = folder / "corpus.db"
    for leftover in (path, folder / "scale.db"):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    with Archive(path) as archive:
        urls = build(archive, docs)
        edit_demo(archive, site)
    print(
        f"corpus: {len(urls)} articles archived from {len(docs)} pages in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    rankers: dict[str, Ranker] = {"search": this_search, "baseline": baseline_search, "shadow": shadow_search}
    with closing(sqlite3.connect(path)) as conn:
        add_alternatives(conn)
        conn.commit()
        summary, by_kind, misses = evaluate(conn, queries, urls, rankers)
    print(f"\n{'queries':24}{'n':>4}" + "".join(f"{name + ' R@10':>16}{'MRR':>7}" for name in rankers))
    for kind, names in sorted(by_kind.items()):
        print(
            f"{kind:24}{names['search']['queries']:>4}"
            + "".join(f"{names[n]['recall_at_10']:>16.3f}{names[n]['mrr']:>7.3f}" for n in rankers)
        )
    print(
        f"{'all (dev)':24}{len(queries):>4}"
        + "".join(f"{summary[n]['recall_at_10']:>16.3f}{summary[n]['mrr']:>7.3f}" for n in rankers)
    )
    for miss in misses:
        print(f"  search missed part of {miss}", file=sys.stderr)
    scale = args.scale or (1_000 if args.quick else 20_000)
    texts = [query["text"] for query in queries]
    latency, sizes = scale_run(folder, scale, texts, 1 if args.quick else args.repeat)
    print(f"\nat {scale:,} articles, each labelled query:")
    print(f"{'design':14}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}{'index MiB':>11}")
    size_of = dict(zip(("search", "baseline", "shadow"), sizes.values(), strict=True))
    for name, row in latency.items():
        print(f"{name:14}{row['median']:>11}{row['p95']:>9}{row['max']:>9}{size_of.get(name, ''):>11}")
    print("(search, baseline, shadow: the best 20 by bm25 and the count, from each index; search, whole: the")
    print(" library's whole search: count cap, rank window, earlier versions and snippets)")
    figures = {
        "recall_at_10": summary["search"]["recall_at_10"],
        "mrr": summary["search"]["mrr"],
        "baseline_recall_at_10": summary["baseline"]["recall_at_10"],
        "baseline_mrr": summary["baseline"]["mrr"],
        "queries": len(queries),
        "shadow_recall_at_10": summary["shadow"]["recall_at_10"],
        "shadow_mrr": summary["shadow"]["mrr"],
        "by_kind": by_kind,
        "corpus_articles": len(urls),
        "scale_articles": scale,
        "latency_ms": latency,
        "index_mib": sizes,
    }
    print(json.dumps(figures, ensure_ascii=False))
    if not args.keep:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
