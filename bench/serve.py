"""Latency of `scrape serve` on a large archive: the articles page, searches, the search page, every canned query.

Run: python bench/serve.py [--articles 20000] [--days 60] [--requests 20] [--keep DIR].
The archive is generated directly with SQL into the real schema (scraper.store.Archive creates it), not
crawled: crawling 20,000 pages would take far longer than the measurement. Each article gets the view-counter
readings and fetch rows the default re-visit schedule would have made over its age (hourly in its first day,
every 6 hours in its first week, daily in its first month), 5 % of fetches fail, 10 % of articles have later
versions, 1 % are removed. No raw pages are stored (page_hash stays empty); no query reads them.
Then `scrape serve` runs on a free loopback port and each page is requested as a browser would (HTML, one
request at a time, after a warm-up), and a few as JSON: first on the archive as store.py makes it, then again
after adding the two indexes proposed for store.py (INDEXES below; --no-indexes skips that second round).
The last line is a JSON object of the figures. Floor: every p95 under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
from datasette.utils import tilde_encode

from scraper.demosite.corpus import AUTHORS, CITIES, HEADLINES_KK, HEADLINES_RU, SENTENCES_KK, SENTENCES_RU, SOURCES
from scraper.store import Archive

ROOT = Path(__file__).resolve().parent.parent

SITES = ("baigenews.kz", "tengrinews.kz", "kazinform.kz", "zakon.kz")
FLOOR_MS = 300.0
#: The default re-visit steps: (age below, interval).
REVISITS = (
    (timedelta(days=1), timedelta(hours=1)),
    (timedelta(days=7), timedelta(hours=6)),
    (timedelta(days=30), timedelta(days=1)),
)
#: Indexes proposed for store.py's schema; the bench measures with and without them.
INDEXES = (
    # The articles page's facets: each one counts a column over the whole table, a covering index scan with these.
    "CREATE INDEX articles_author ON articles(author)",
    "CREATE INDEX articles_source ON articles(source)",
    "CREATE INDEX articles_language ON articles(language)",
    # fastest_growing: the last day's readings by time, instead of walking every reading of every article.
    "CREATE INDEX view_counts_observed ON view_counts(observed_at)",
    # failed_fetches: only the failed rows (a few percent), with every column the query needs.
    "CREATE INDEX fetches_failed ON fetches(url, status, error_kind, fetched_at, error)"
    " WHERE error IS NOT NULL OR status >= 400",
)
FAILURES = (
    (404, "http_status", "answered HTTP 404."),
    (429, "http_status", "answered HTTP 429."),
    (503, "http_status", "answered HTTP 503."),
    (None, "timeout", "timed out after 60 s."),
    (None, "connect_error", "refused the connection."),
    (None, "truncated", "broke the HTTP exchange."),
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def local(moment: datetime) -> str:
    """Almaty time, as the sites print it (UTC+5)."""
    return (moment.astimezone(UTC) + timedelta(hours=5)).replace(microsecond=0, tzinfo=None).isoformat() + "+05:00"


def readings(published: datetime, now: datetime) -> list[datetime]:
    """When the crawler would have read the article's counter: first seen, then each re-visit until now."""
    seen = published + timedelta(minutes=10)
    times = []
    while seen <= now:
        times.append(seen)
        age = seen - published
        step = next((every for below, every in REVISITS if age < below), None)
        if step is None:
            break
        seen += step
    return times


def generate(path: Path, *, articles: int, days: int, seed: int = 7) -> dict[str, int]:
    """Fill a new archive at `path`; return the row counts."""
    Archive(path).close()  # the real schema, migrated to the current version
    rng = random.Random(seed)
    now = datetime.now(UTC)
    counts = {"articles": 0, "versions": 0, "view_counts": 0, "fetches": 0}
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        for number in range(articles):
            kazakh = rng.random() < 0.2
            headlines, sentences = (HEADLINES_KK, SENTENCES_KK) if kazakh else (HEADLINES_RU, SENTENCES_RU)
            site = SITES[number % len(SITES)]
            published = now - timedelta(seconds=rng.uniform(0, days * 86400))
            url = f"https://{site}/news/item-{number}_{100000 + number}/"
            title = f"{rng.choice(headlines)}: {rng.choice(CITIES)}, {number}"
            paragraphs = [
                " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(5, 10))
            ]
            times = readings(published, now)
            first_seen = times[0] if times else now
            views = rng.randint(50, 5000)
            view_rows = []
            fetch_rows = []
            for moment in times:
                failure = FAILURES[rng.randrange(len(FAILURES))] if rng.random() < 0.05 else None
                if failure:
                    status, kind, message = failure
                    fetch_rows.append((url, status, 0, f"{url} {message}", kind, iso(moment), "article"))
                    continue
                views += rng.randint(0, 400)
                view_rows.append((url, iso(moment), views))
                fetch_rows.append((url, 200, 40_000, None, None, iso(moment), "article"))
            edits = rng.choice((1, 2, 3)) if rng.random() < 0.1 and len(times) > 1 else 0
            removed = iso(times[-1]) if rng.random() < 0.01 and times else None
            missing_author = rng.random() < 0.08
            version_rows = []
            current_title, current_body = title, paragraphs
            for version in range(1, edits + 2):
                if version > 1:
                    current_title = f"{title} (обновлено {version})" if rng.random() < 0.5 else current_title
                    current_body = [*current_body, rng.choice(sentences)]
                captured = times[min(len(times) - 1, version * 2)] if times else now
                changed = (
                    ["title", "lead", "body_text", "author", "published_at", "modified_at"]
                    if version == 1
                    else ["title", "body_text"]
                )
                version_rows.append((url, version, iso(captured), current_title, "\n\n".join(current_body), changed))
            body_text = "\n\n".join(current_body)
            body_html = "\n".join(f"<p>{p}</p>" for p in current_body)
            conn.execute(
                "INSERT INTO articles (url, site, article_id, title, lead, author, published_at, published_raw,"
                " published_from, views, photo_credit, source, image_url, tags, language, body_text, body_html,"
                " parse_status, profile, field_sources, warnings, content_hash, version, first_seen_at,"
                " last_fetched_at, last_changed_at, removed_at, fetched_url, last_checked_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    url,
                    site,
                    str(100000 + number),
                    current_title,
                    current_body[0],
                    None if missing_author else rng.choice([a for a in AUTHORS if a]),
                    None if rng.random() < 0.02 else local(published),
                    published.strftime("%d.%m.%Y %H:%M"),
                    "meta",
                    views if view_rows else None,
                    rng.choice(SOURCES) or site,
                    rng.choice(SOURCES),
                    f"https://{site}/upload/{number}.jpg",
                    json.dumps([rng.choice(CITIES)], ensure_ascii=False),
                    "kk" if kazakh else "ru",
                    body_text,
                    body_html,
                    "ok",
                    "generic",
                    "{}",
                    "[]",
                    f"{number:064x}",
                    edits + 1,
                    iso(first_seen),
                    iso(times[-1] if times else now),
                    version_rows[-1][2],
                    removed,
                    url,
                    iso(times[-1] if times else now),
                ),
            )
            conn.executemany(
                "INSERT INTO article_versions (url, version, captured_at, content_hash, changed_fields, title, lead,"
                " author, published_at, body_text, body_html) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                [
                    (
                        u,
                        v,
                        at,
                        f"{number:060x}{v:04x}",
                        json.dumps(changed),
                        t,
                        body.split("\n\n")[0],
                        local(published),
                        body,
                        "\n".join(f"<p>{p}</p>" for p in body.split("\n\n")),
                    )
                    for u, v, at, t, body, changed in version_rows
                ],
            )
            conn.executemany("INSERT INTO view_counts (url, observed_at, views) VALUES (?, ?, ?)", view_rows)
            conn.executemany(
                "INSERT INTO fetches (url, status, bytes, error, error_kind, fetched_at, purpose)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                fetch_rows,
            )
            counts["articles"] += 1
            counts["versions"] += len(version_rows)
            counts["view_counts"] += len(view_rows)
            counts["fetches"] += len(fetch_rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(client: httpx.Client, url: str, requests: int) -> tuple[float, float, int, bool]:
    """Median and p95 milliseconds of `requests` loads after two warm-ups; the size; whether a facet timed out."""
    for _ in range(2):
        client.get(url).raise_for_status()
    timings = []
    size = 0
    timed_out = False
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
        timed_out = timed_out or "These facets timed out" in response.text or '"facets_timed_out": ["' in response.text
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    return statistics.median(timings), p95, size, timed_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60, help="publication dates spread over this many days")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--keep", type=Path, help="build the archive in this folder and keep it")
    parser.add_argument("--no-indexes", action="store_true", help="skip the round with the proposed indexes")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-serve-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "archive.db"
    if db.exists():
        db.unlink()
    started = time.perf_counter()
    counts = generate(db, articles=args.articles, days=args.days)
    built_s = time.perf_counter() - started
    print(
        f"generated {counts['articles']:,} articles, {counts['versions']:,} versions, {counts['view_counts']:,} view"
        f" readings, {counts['fetches']:,} fetches in {built_s:.1f} s ({db.stat().st_size / 2**20:.0f} MiB)",
        file=sys.stderr,
    )
    with closing(sqlite3.connect(db)) as conn:
        busiest = conn.execute(
            "SELECT url FROM view_counts GROUP BY url ORDER BY count(*) DESC, url LIMIT 1"
        ).fetchone()[0]
    common = "Казахстан"  # in many titles and bodies: the search with the most rows to count and facet
    pages = {
        "articles": "/archive/articles",
        "articles.json": "/archive/articles.json",
        "search (common word)": "/archive/articles?_search=" + quote(common),
        "search (rare word)": "/archive/articles?_search=" + quote("ТОКАЕВ"),
        "search.json": "/archive/articles.json?_search=" + quote(common),
        # The search page (ranked, snippets, earlier versions): a common word, a rare one, a phrase, a hyphenated
        # word, a filtered search, words only an earlier version has ("(обновлено 2)" is replaced by the next
        # edit), and its JSON.
        "search page (common word)": "/archive/-/search?q=" + quote(common),
        "search page (rare word)": "/archive/-/search?q=" + quote("ТОКАЕВ"),
        "search page (phrase)": "/archive/-/search?q=" + quote('"базовую ставку"'),
        "search page (hyphenated)": "/archive/-/search?q=" + quote("пресс-служба"),
        "search page (site filter)": "/archive/-/search?site=zakon.kz&q=" + quote(common),
        "search page (earlier version)": "/archive/-/search?q=" + quote("обновлено 2"),
        "search page .json": "/archive/-/search.json?q=" + quote(common),
        "article page": "/archive/articles/" + tilde_encode(busiest),
        "most_viewed_7d": "/archive/most_viewed_7d",
        "fastest_growing": "/archive/fastest_growing",
        "edited_after_publication": "/archive/edited_after_publication",
        "removed_articles": "/archive/removed_articles",
        "extraction_health": "/archive/extraction_health",
        "failed_fetches": "/archive/failed_fetches",
        "home": "/",
        "database page": "/archive",
        "fetches": "/archive/fetches",
        "view_counts": "/archive/view_counts",
    }
    figures: dict[str, object] = {**counts, "db_mib": round(db.stat().st_size / 2**20, 1), "floor_ms": FLOOR_MS}
    rounds = {"store.py schema": run(db, folder, pages, args.requests)}
    if not args.no_indexes:
        with closing(sqlite3.connect(db)) as conn:
            for statement in INDEXES:
                conn.execute(statement)
        rounds["with proposed indexes"] = run(db, folder, pages, args.requests)
        figures["indexes"] = list(INDEXES)
    worst = {}
    for label, results in rounds.items():
        print(f"\n{label}:\n{'page':28}{'median ms':>11}{'p95 ms':>9}{'KiB':>8}")
        for name, row in results.items():
            note = "  (a facet timed out)" if row["facet_timeout"] else ""
            print(f"{name:28}{row['median_ms']:>11}{row['p95_ms']:>9}{int(row['bytes']) / 1024:>8.0f}{note}")
        worst[label] = max(float(row["p95_ms"]) for row in results.values())
        verdict = "ok" if worst[label] < FLOOR_MS else "OVER"
        print(f"worst p95: {worst[label]:.1f} ms (floor {FLOOR_MS:.0f} ms): {verdict}")
    figures.update(rounds=rounds, worst_p95_ms=worst)
    print(json.dumps(figures, ensure_ascii=False))
    if not args.keep:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


def run(db: Path, folder: Path, pages: dict[str, str], requests: int) -> dict[str, dict[str, float | int | bool]]:
    """Serve `db` with `scrape serve` on a free port and measure every page."""
    port = free_port()
    results: dict[str, dict[str, float | int | bool]] = {}
    with (folder / "serve.log").open("a") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "scraper", "serve", "--db", str(db), "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            with httpx.Client(timeout=30) as client:
                while True:
                    try:
                        if client.get(base + "/-/versions.json").status_code == 200:
                            break
                    except httpx.TransportError:
                        if server.poll() is not None or time.monotonic() > deadline:
                            raise SystemExit(f"scrape serve did not start; see {folder / 'serve.log'}") from None
                        time.sleep(0.2)
                for name, path in pages.items():
                    median, p95, size, timed_out = measure(client, base + path, requests)
                    results[name] = {
                        "median_ms": round(median, 1),
                        "p95_ms": round(p95, 1),
                        "bytes": size,
                        "facet_timeout": timed_out,
                    }
        finally:
            server.terminate()
            server.wait(timeout=10)
    return results


if __name__ == "__main__":
    main()
