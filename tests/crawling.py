"""Helpers for crawl tests: schedule files for a served site, reading the archive and the server's log."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from .conftest import ROOT, ServedSite


def write_schedule(directory: Path, site: ServedSite, name: str = "test", **settings: Any) -> Path:
    """A schedule for the served demo site: fast politeness, quick retries, and re-visits due after a second."""
    limits = {"max_pages": 1000, "max_depth": 5, "fetch_timeout": 5, "run_timeout": 120, "max_tries": 3}
    politeness = {"concurrency": 4, "global_concurrency": 8, "delay": 0, "retry_delay": 0.05}
    limits.update(settings.pop("limits", {}))
    politeness.update(settings.pop("politeness", {}))
    top = {
        "name": name,
        "profile": "baigenews",
        "listings": [site.url("news/")],
        "feeds": [site.url("news/rss/")],
        "sitemaps": [site.url("sitemap.xml")],
        "article_url": r"_\d+/$",
        "follow": r"^/(news|politika|ekonomika|obshchestvo|proisshestviya|sport|v-mire)/$",
        "allow_private": True,
    }
    top.update(settings)
    lines = [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in top.items()]
    lines.append("[limits]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in limits.items()]
    lines.append("[politeness]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in politeness.items()]
    lines += ["[revisit]", 'steps = [{ younger_than = "30d", every = "1s" }]']
    path = directory / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def site_articles(site: ServedSite) -> list[dict[str, Any]]:
    return list(httpx.get(site.url("_control/articles")).json())


def site_log(site: ServedSite) -> list[dict[str, Any]]:
    return list(httpx.get(site.url("_control/log")).json())


def control(site: ServedSite, path: str, **params: str) -> None:
    assert httpx.get(site.url(f"_control/{path}"), params=params).text == "ok"


def crawl(
    schedule: Path, db: Path, *extra: str, timeout: float = 120, verbose: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `scrape crawl` in a real process, as a user would (`verbose`: with its debug log on stderr)."""
    options = ["-vv"] if verbose else []
    return subprocess.run(
        [sys.executable, "-m", "scraper", *options, "crawl", str(schedule), "--db", str(db), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def send_times(stderr: str, origin: str) -> list[tuple[float, float]]:
    """What the crawler's gate for `origin` decided, in order (its debug log, its own clock): when each request
    went out, and the earliest the next one could."""
    pattern = re.compile(rf"scraper\.crawl: {re.escape(origin)}: request out at ([0-9.]+), next not before ([0-9.]+)$")
    found = [pattern.search(line) for line in stderr.splitlines()]
    return [(float(m.group(1)), float(m.group(2))) for m in found if m]


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def assert_archive_consistent(db: Path) -> None:
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "PRAGMA foreign_key_check") == []
    assert query(
        db, "SELECT count(*) FROM article_versions v LEFT JOIN articles a USING (url) WHERE a.url IS NULL"
    ) == [(0,)]
    # Versions are numbered 1..n without gaps or repeats.
    assert query(db, "SELECT url FROM article_versions GROUP BY url HAVING count(*) != max(version)") == []
