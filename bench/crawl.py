"""Crawl throughput and peak memory of `scrape crawl` beside Scrapy, on the same generated local site, same run.

Run: python bench/crawl.py [--articles 2000] [--concurrency 16] [--long N] [--quick]. Scrapy comes with
the bench extra; without it the project's side still runs and `skipped` says why.
Each crawler runs in its own process against a fresh `scrape demo-site` process (no politeness
delay, robots allowing all), starting from the sitemap index. Floor: a ratio of 1.00.

Last line: a JSON object with `articles`, `concurrency`, `project`, `scrapy`, `ratio_vs_scrapy`, `skipped`
and `memory` (`project` and `scrapy` each hold `seconds`, `pages`, `articles`, `pages_per_s`, `peak_rss_mib`
and `exit`; `scrapy` and `ratio_vs_scrapy`, project pages/s over Scrapy's, are null when Scrapy is skipped,
and `skipped` says why; `memory`, the RSS at the mark and at the end of the --long crawl, is null without it).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, BenchError, DemoSite, last_line, parser, query, reference, require_archive, run


def measure(command: list[str], log: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB, and exit code of one crawler process (its stderr goes to `log`)."""
    started = time.perf_counter()
    with log.open("w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def site(articles: int) -> DemoSite:
    return DemoSite("--articles", str(articles), "--no-hostile", "--crawl-delay", "0")


def write_schedule(path: Path, base: str, articles: int, concurrency: int, run_timeout: int) -> Path:
    """A schedule that starts from the sitemap index, politeness off."""
    path.write_text(
        f'name = "{path.stem}"\nprofile = "baigenews"\nsitemaps = ["{base}/sitemap.xml"]\n'
        "article_url = '_\\d+/$'\nallow_private = true\n"
        f"[limits]\nmax_pages = {articles + 100}\nrun_timeout = {run_timeout}\n"
        f"[politeness]\nconcurrency = {concurrency}\nglobal_concurrency = {concurrency}\ndelay = 0\n",
        encoding="utf-8",
    )
    return path


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory_over_a_long_crawl(work: Path, articles: int, concurrency: int) -> dict[str, float]:
    """RSS of `scrape crawl` after 1,000 archived pages (or half the crawl) and at the end: it must stay flat."""
    mark = min(1000, articles // 2)
    with site(articles) as served:
        schedule = write_schedule(work / "long.toml", served.base, articles, concurrency, 7200)
        db = work / "long.db"
        process = subprocess.Popen(
            [sys.executable, "-m", "scraper", "-q", "crawl", str(schedule), "--db", str(db)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        at_mark = last = 0.0
        while process.poll() is None:
            time.sleep(0.5)
            try:
                count = query(db, "SELECT count(*) FROM articles")[0][0]
                rss = rss_mib(process.pid)
            except (sqlite3.Error, OSError):  # no schema yet, or the process just ended
                continue
            if rss:  # 0 once the process has exited
                last = rss
            if not at_mark and count >= mark:
                at_mark = last
    if not at_mark:
        raise BenchError(f"the long crawl never archived {mark} articles (exit {process.returncode})")
    return {
        "articles_at_mark": mark,
        "rss_mib_at_mark": round(at_mark, 1),
        "rss_mib_at_end": round(last, 1),
        "growth": round(last / at_mark - 1, 3),
    }


def project(work: Path, articles: int, concurrency: int) -> dict[str, Any]:
    with site(articles) as served:
        schedule = write_schedule(work / "bench.toml", served.base, articles, concurrency, 3600)
        db = work / "archive.db"
        log = work / "crawl.log"
        seconds, rss, code = measure(
            [sys.executable, "-m", "scraper", "-q", "crawl", str(schedule), "--db", str(db)], log
        )
    require_archive(db, "scrape crawl", log.read_text())
    if code != 0:
        raise BenchError(f"scrape crawl exited {code} ({last_line(log.read_text()) or 'no message'})")
    archived = query(db, "SELECT count(*) FROM articles")[0][0]
    pages = query(db, "SELECT count(*) FROM fetches WHERE purpose != 'robots'")[0][0]
    return {
        "seconds": round(seconds, 2),
        "pages": pages,
        "articles": archived,
        "pages_per_s": round(pages / seconds, 1),
        "peak_rss_mib": round(rss, 1),
        "exit": code,
    }


def scrapy(work: Path, articles: int, concurrency: int) -> dict[str, Any]:
    """Scrapy: the same site, fresh, the same start and concurrency, the same fields to JSON lines."""
    with site(articles) as served:
        output = work / "scrapy.jsonl"
        log = work / "scrapy.log"
        spider = ["-m", "bench.scrapy_reference.spider", f"{served.base}/sitemap.xml", str(output), str(concurrency)]
        seconds, rss, code = measure([sys.executable, *spider], log)
    if code != 0:
        raise BenchError(f"the Scrapy spider exited {code} ({last_line(log.read_text()) or 'no message'})")
    items = sum(1 for _ in output.open(encoding="utf-8")) if output.exists() else 0
    pages = items + (articles + 499) // 500 + 1  # articles, the sitemaps and the index
    return {
        "seconds": round(seconds, 2),
        "pages": pages,
        "articles": items,
        "pages_per_s": round(pages / seconds, 1),
        "peak_rss_mib": round(rss, 1),
        "exit": code,
    }


def main() -> dict[str, Any]:
    options = parser(__doc__)
    options.add_argument("--articles", type=int, default=2000)
    options.add_argument("--concurrency", type=int, default=16)
    options.add_argument(
        "--long", type=int, default=0, metavar="N", help="also crawl N articles and report RSS at 1,000 and at N"
    )
    args = options.parse_args()
    if args.quick:
        args.articles, args.concurrency, args.long = 60, 4, min(args.long, 200)
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    figures: dict[str, Any] = {
        "articles": args.articles,
        "concurrency": args.concurrency,
        "skipped": {},
        "memory": None,
    }
    figures["project"] = ours = project(work, args.articles, args.concurrency)
    found, why = reference("scrapy")
    if found is None:
        figures["skipped"]["scrapy"] = why
        figures["scrapy"] = theirs = None
    else:
        figures["scrapy"] = theirs = scrapy(work, args.articles, args.concurrency)
    if args.long:
        figures["memory"] = memory_over_a_long_crawl(work, args.long, args.concurrency)
    ratio = ours["pages_per_s"] / theirs["pages_per_s"] if theirs else None
    figures["ratio_vs_scrapy"] = round(ratio, 3) if ratio else None
    print(f"{'':10}{'seconds':>10}{'pages':>8}{'articles':>10}{'pages/s':>10}{'peak MiB':>10}")
    for name in ("project", "scrapy"):
        row = figures[name]
        if row is None:
            print(f"{name:10}  skipped: {figures['skipped'][name]}")
            continue
        cells = "".join(f"{row[key]:>{width}}" for key, width in zip(COLUMNS, (10, 8, 10, 10, 10), strict=True))
        print(f"{name:10}{cells}")
    if ratio:
        print(f"project / scrapy pages per second: {ratio:.2f} (floor 1.00)")
    if args.long:
        memory = figures["memory"]
        print(
            f"RSS of a {args.long}-article crawl: {memory['rss_mib_at_mark']} MiB after {memory['articles_at_mark']:,}"
            f" pages, {memory['rss_mib_at_end']} MiB at the end ({memory['growth']:+.1%})"
        )
    return figures


COLUMNS = ("seconds", "pages", "articles", "pages_per_s", "peak_rss_mib")

if __name__ == "__main__":
    run(main)
