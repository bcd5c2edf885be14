"""Storage of captures: the demo site's articles fetched on the default revisit steps over a simulated month,
stored as deltas, beside the same captures as zlib pages (the format before) and as WARC.gz written by warcio.

Run: python bench/storage.py [--articles 300] [--days 30] [--edits 10] [--quick]
Each article is fetched over HTTP from the demo site (served on 127.0.0.1 in this process; its view counter
moves on every fetch) at the simulated times its age calls for (hourly in the first day, every 6 hours in
the first week, daily to the end of the month), and goes through the crawler's own path (`assess`, `write`)
with that time as its fetch time. A few articles are edited half-way. Then every stored page is rebuilt and
checked against the SHA-256 of the bytes the server sent, and the captures are exported as WARC.gz.

The last line is a JSON object with the keys: articles, days, captures, pages_stored, revisits_identical,
first_capture_bytes_mean, first_capture_bytes_p95, revisit_bytes_mean, revisit_bytes_p95, revisit_row_bytes_mean,
page_bytes_mean, revisit_ratio, archive_bytes, ledger_bytes, db_file_bytes, warc_gz_bytes, ratio_vs_warc_gz,
db_file_ratio_vs_warc_gz, zlib_bytes, ratio_vs_zlib, write_captures_per_s, zlib_captures_per_s,
warc_captures_per_s, read_pages_per_s, random_read_pages_per_s, exact.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scraper.config import DEFAULT_REVISITS  # noqa: E402
from scraper.demosite.demo import start_site_in_thread  # noqa: E402
from scraper.demosite.site import NewsSite  # noqa: E402
from scraper.fetch import Fetcher, FetchPolicy  # noqa: E402
from scraper.models import Purpose  # noqa: E402
from scraper.pipeline import assess, choose_profile, write  # noqa: E402
from scraper.store import Archive  # noqa: E402
from scraper.transfer import Format, export  # noqa: E402

T0 = datetime(2024, 3, 1, tzinfo=UTC)
PAGE_TABLES = ("pages", "sqlite_autoindex_pages_1", "pages_keyframes", "page_dictionaries", "page_dictionaries_site")
LEDGER_TABLES = ("fetches", "fetches_url", "fetches_fetched_at", "fetches_failed")


def schedule(site: NewsSite, days: float) -> list[tuple[datetime, int]]:
    """(time, article number) of every capture: the first five minutes after publication, then by age."""
    events = []
    for article in site.articles:
        when = article.published + timedelta(minutes=5)
        while when - article.published < timedelta(days=days):
            events.append((when, article.number))
            age = when - article.published
            every = next((step.every for step in DEFAULT_REVISITS if age < step.younger_than), None)
            if every is None:
                break
            when += every
    return sorted(events)


def p95(values: list[int]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else float(max(values, default=0))


def table_bytes(db: Path, names: tuple[str, ...]) -> int:
    with sqlite3.connect(db) as conn:
        marks = ", ".join("?" for _ in names)
        return int(
            conn.execute(f"SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({marks})", names).fetchone()[0]
        )


async def capture(
    site: NewsSite, base: str, db: Path, events: list[tuple[datetime, int]], edits: int
) -> dict[str, object]:
    """Fetch and archive every event; return the SHA-256 of each body served and the time spent writing."""
    profile = choose_profile(base, "baigenews")
    edited = {
        site.articles[n].number for n in range(0, len(site.articles), max(1, len(site.articles) // max(edits, 1)))
    }
    seen: dict[int, int] = {}
    served: list[str] = []
    write_seconds = zlib_seconds = 0.0
    with Archive(db) as archive:
        async with Fetcher(FetchPolicy(allow_private=True)) as fetcher:
            for when, number in events:
                article = site.articles[number]
                count = seen[number] = seen.get(number, 0) + 1
                if number in edited and edits and count == 12:
                    article.edits.append("Дополнено: редакция уточнила подробности материала.")
                if number in edited and edits and count == 30 and number % 2 == 0:
                    article.title_override = f"{article.title} (обновлено)"
                page = dataclasses.replace(await fetcher.fetch(base + article.path), fetched_at=when)
                served.append(page.sha256)
                outcome = assess(page, profile, purpose=Purpose.ARTICLE if count == 1 else Purpose.REVISIT)
                started = time.perf_counter()
                write(archive, outcome)
                write_seconds += time.perf_counter() - started
                started = time.perf_counter()
                zlib.compress(page.body, 6)
                zlib_seconds += time.perf_counter() - started
    return {"served": served, "write_seconds": write_seconds, "zlib_seconds": zlib_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--edits", type=int, default=10, help="articles edited half-way")
    parser.add_argument("--quick", action="store_true", help="6 articles over 3 days (for the test suite)")
    parser.add_argument("--keep", action="store_true", help="keep the archive and the WARC (their folder is printed)")
    args = parser.parse_args()
    if args.quick:
        args.articles, args.days, args.edits = 6, 3.0, 2
    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    db = work / "archive.db"
    site = NewsSite(articles=args.articles, hostile=False, crawl_delay=None, now=T0)
    base = start_site_in_thread(0, site).rstrip("/")
    events = schedule(site, args.days)
    timing = asyncio.run(capture(site, base, db, events, args.edits))
    served = timing["served"]
    assert isinstance(served, list)

    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute(
            "SELECT f.url, f.purpose, f.page_hash, p.url = f.url AND p.fetched_at = f.fetched_at, length(p.body),"
            " p.size, length(p.hash) * 2 + length(p.url) + coalesce(length(p.final_url), 0) + length(p.fetched_at)"
            " + length(p.content_type) + length(p.encoding) + length(p.encoding_source) + length(p.codec)"
            " + coalesce(length(p.base), 0) + coalesce(length(p.site), 0) + length(p.body) + 24"
            " FROM fetches f JOIN pages p ON p.hash = f.page_hash ORDER BY f.id"
        ).fetchall()
        keys = [row[0] for row in conn.execute("SELECT hash FROM pages ORDER BY rowid")]
    first = [row[4] for row in rows if row[1] == "article" and row[3]]
    revisits = [row for row in rows if row[1] == "revisit"]
    stored_revisits = [row for row in revisits if row[3]]
    revisit_bytes = [row[4] for row in stored_revisits]
    page_bytes = [row[5] for row in rows]

    # Every stored page rebuilt by a fresh reader (cold cache), in storage order and in random order.
    exact = len(rows) == len(served) and all(row[2] == sha for row, sha in zip(rows, served, strict=False))
    with Archive(db) as archive:
        archive.pages.scanning()  # as `scrape storage check`, export and reparse read
        started = time.perf_counter()
        for key in keys:
            exact &= hashlib.sha256(archive.pages.body(key)).hexdigest() == key
        read_seconds = time.perf_counter() - started
    shuffled = random.Random(7).sample(keys, min(len(keys), 2000))
    with Archive(db) as archive:
        archive.pages._cache = type(archive.pages._cache)(0)  # no cache: every read walks its chain
        started = time.perf_counter()
        for key in shuffled:
            exact &= hashlib.sha256(archive.pages.body(key)).hexdigest() == key
        random_seconds = time.perf_counter() - started

    with Archive(db) as archive:
        zlib_bytes = sum(len(zlib.compress(archive.pages.body(key), 6)) for key in keys)
        warc = work / "captures.warc.gz"
        started = time.perf_counter()
        summary = export(archive, warc, kind=Format.WARC)
        warc_seconds = time.perf_counter() - started
    exact &= summary.captures == len(rows)

    archive_bytes = table_bytes(db, PAGE_TABLES)
    ledger_bytes = table_bytes(db, LEDGER_TABLES)
    db_bytes = db.stat().st_size
    warc_bytes = warc.stat().st_size
    write_seconds, zlib_seconds = float(timing["write_seconds"]), float(timing["zlib_seconds"])  # type: ignore[arg-type]
    figures = {
        "articles": args.articles,
        "days": args.days,
        "captures": len(rows),
        "pages_stored": len(keys),
        "revisits_identical": len(revisits) - len(stored_revisits),
        "first_capture_bytes_mean": round(statistics.mean(first), 1),
        "first_capture_bytes_p95": round(p95(first), 1),
        "revisit_bytes_mean": round(statistics.mean(revisit_bytes), 1) if revisit_bytes else 0.0,
        "revisit_bytes_p95": round(p95(revisit_bytes), 1),
        "revisit_row_bytes_mean": round(statistics.mean(row[6] for row in stored_revisits), 1)
        if stored_revisits
        else 0.0,
        "page_bytes_mean": round(statistics.mean(page_bytes), 1),
        "revisit_ratio": round(statistics.mean(revisit_bytes) / statistics.mean(page_bytes), 5)
        if revisit_bytes
        else 0.0,
        "archive_bytes": archive_bytes,
        "ledger_bytes": ledger_bytes,
        "db_file_bytes": db_bytes,
        "warc_gz_bytes": warc_bytes,
        "ratio_vs_warc_gz": round(archive_bytes / warc_bytes, 4),
        "db_file_ratio_vs_warc_gz": round(db_bytes / warc_bytes, 4),
        "zlib_bytes": zlib_bytes,
        "ratio_vs_zlib": round(archive_bytes / zlib_bytes, 4),
        "write_captures_per_s": round(len(rows) / write_seconds, 1),
        "zlib_captures_per_s": round(len(rows) / zlib_seconds, 1),
        "warc_captures_per_s": round(len(rows) / warc_seconds, 1),
        "read_pages_per_s": round(len(keys) / read_seconds, 1),
        "random_read_pages_per_s": round(len(shuffled) / random_seconds, 1),
        "exact": bool(exact),
    }
    print(f"{args.articles} articles over {args.days:g} simulated days: {len(rows):,} captures, {len(keys):,} pages")
    print(f"{'':34}{'bytes':>14}{'per capture':>13}{'vs WARC.gz':>12}")
    for label, size in (
        ("raw pages: deltas + keyframes", archive_bytes),
        ("  + fetch ledger", archive_bytes + ledger_bytes),
        ("whole archive file", db_bytes),
        ("zlib per page (before)", zlib_bytes),
        ("WARC.gz (warcio)", warc_bytes),
    ):
        print(f"{label:34}{size:>14,}{size / len(rows):>13,.0f}{size / warc_bytes:>12.3f}")
    print(
        f"first capture {figures['first_capture_bytes_mean']:,.0f} B (p95 {figures['first_capture_bytes_p95']:,.0f}),"
        f" revisit {figures['revisit_bytes_mean']:,.0f} B (p95 {figures['revisit_bytes_p95']:,.0f};"
        f" whole row ~{figures['revisit_row_bytes_mean']:,.0f} B) of a {figures['page_bytes_mean']:,.0f}-byte page:"
        f" revisit ratio {figures['revisit_ratio']:.4f} (floor 0.02)"
    )
    print(
        f"writes {figures['write_captures_per_s']:,} captures/s (zlib alone {figures['zlib_captures_per_s']:,}/s,"
        f" warcio {figures['warc_captures_per_s']:,}/s); reads {figures['read_pages_per_s']:,} pages/s in order,"
        f" {figures['random_read_pages_per_s']:,}/s at random; bit-exact: {exact}"
    )
    if args.keep:
        print(f"kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
