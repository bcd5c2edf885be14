"""Crawl throughput and peak memory of `scrape crawl` beside Scrapy, on the same generated local site, same run.

Run: python bench/crawl.py [--articles 2000] [--concurrency 16]. Needs the bench extra (scrapy).
Each crawler runs in its own process against a fresh `scrape demo-site` process (no politeness
delay, robots allowing all), starting from the sitemap index. The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(articles: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scraper",
            "demo-site",
            "--port",
            "0",
            "--articles",
            str(articles),
            "--no-hostile",
            "--crawl-delay",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.split(" on ", 1)[1].strip().rstrip("/")


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB, and exit code of one crawler process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory_over_a_long_crawl(work: Path, articles: int, concurrency: int) -> dict[str, float]:
    """RSS of `scrape crawl` after 1,000 archived pages and at the end of a long crawl: it must stay flat."""
    import sqlite3

    site, base = serve(articles)
    try:
        schedule = work / "long.toml"
        schedule.write_text(
            f'name = "long"\nprofile = "baigenews"\nsitemaps = ["{base}/sitemap.xml"]\n'
            "article_url = '_\\d+/$'\nallow_private = true\n"
            f"[limits]\nmax_pages = {articles + 100}\nrun_timeout = 7200\n"
            f"[politeness]\nconcurrency = {concurrency}\nglobal_concurrency = {concurrency}\ndelay = 0\n",
            encoding="utf-8",
        )
        db = work / "long.db"
        process = subprocess.Popen(
            [sys.executable, "-m", "scraper", "-q", "crawl", str(schedule), "--db", str(db)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        at_1000 = last = 0.0
        while process.poll() is None:
            time.sleep(0.5)
            try:
                with sqlite3.connect(db) as conn:
                    count = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
                rss = rss_mib(process.pid)
            except (sqlite3.Error, OSError):
                continue
            if rss:  # 0 once the process has exited
                last = rss
            if not at_1000 and count >= 1000:
                at_1000 = last
    finally:
        site.terminate()
        site.wait()
    return {
        "rss_mib_at_1000": round(at_1000, 1),
        "rss_mib_at_end": round(last, 1),
        "growth": round(last / at_1000 - 1, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--long", type=int, default=0, metavar="N", help="also crawl N articles and report RSS at 1,000 and at N"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    figures: dict[str, object] = {"articles": args.articles, "concurrency": args.concurrency}

    # Ours: a schedule that starts from the sitemap index, politeness off.
    site, base = serve(args.articles)
    try:
        schedule = work / "bench.toml"
        schedule.write_text(
            f'name = "bench"\nprofile = "baigenews"\nsitemaps = ["{base}/sitemap.xml"]\n'
            "article_url = '_\\d+/$'\nallow_private = true\n"
            f"[limits]\nmax_pages = {args.articles + 100}\nrun_timeout = 3600\n"
            f"[politeness]\nconcurrency = {args.concurrency}\nglobal_concurrency = {args.concurrency}\ndelay = 0\n",
            encoding="utf-8",
        )
        db = work / "archive.db"
        ours = measure([sys.executable, "-m", "scraper", "-q", "crawl", str(schedule), "--db", str(db)])
    finally:
        site.terminate()
        site.wait()
    import sqlite3

    with sqlite3.connect(db) as conn:
        archived = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        pages = conn.execute("SELECT count(*) FROM fetches WHERE purpose != 'robots'").fetchone()[0]
    figures["project"] = {
        "seconds": round(ours[0], 2),
        "pages": pages,
        "articles": archived,
        "pages_per_s": round(pages / ours[0], 1),
        "peak_rss_mib": round(ours[1], 1),
        "exit": ours[2],
    }

    # Scrapy: the same site, fresh, the same start and concurrency, the same fields to JSON lines.
    site, base = serve(args.articles)
    try:
        output = work / "scrapy.jsonl"
        theirs = measure(
            [
                sys.executable,
                "-m",
                "bench.scrapy_reference.spider",
                f"{base}/sitemap.xml",
                str(output),
                str(args.concurrency),
            ]
        )
    finally:
        site.terminate()
        site.wait()
    items = sum(1 for _ in output.open(encoding="utf-8")) if output.exists() else 0
    scrapy_pages = items + (args.articles + 499) // 500 + 1  # articles, the sitemaps and the index
    figures["scrapy"] = {
        "seconds": round(theirs[0], 2),
        "pages": scrapy_pages,
        "articles": items,
        "pages_per_s": round(scrapy_pages / theirs[0], 1),
        "peak_rss_mib": round(theirs[1], 1),
        "exit": theirs[2],
    }
    if args.long:
        figures["memory"] = memory_over_a_long_crawl(work, args.long, args.concurrency)
    ratio = (pages / ours[0]) / (scrapy_pages / theirs[0])
    figures["ratio_vs_scrapy"] = round(ratio, 3)
    print(f"{'':10}{'seconds':>10}{'pages':>8}{'articles':>10}{'pages/s':>10}{'peak MiB':>10}")
    for name in ("project", "scrapy"):
        row = figures[name]
        assert isinstance(row, dict)
        print(
            f"{name:10}{row['seconds']:>10}{row['pages']:>8}{row['articles']:>10}{row['pages_per_s']:>10}{row['peak_rss_mib']:>10}"
        )
    print(f"project / scrapy pages per second: {ratio:.2f} (floor 1.00)")
    if args.long:
        memory = figures["memory"]
        assert isinstance(memory, dict)
        print(
            f"RSS of a {args.long}-article crawl: {memory['rss_mib_at_1000']} MiB after 1,000 pages, "
            f"{memory['rss_mib_at_end']} MiB at the end ({memory['growth']:+.1%})"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
