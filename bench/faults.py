"""The fault catalogue against the local site: crawls under faults, SIGKILL restarts, SSRF spellings, bombs,
hostile pages, concurrent writers and readers. Prints one table; the last line is a JSON object of the figures.

Run: python bench/faults.py [--kills 50] [--seconds 60]. Takes several minutes on 2 cores.
Every fault here is injected on purpose and its outcome checked: `faults` counts them, `kills` the SIGKILLs.
Poison pills (catalogue P6–P9): `poison_pills` injected, `poison_accounted` handled as specified,
`poison_runs_failed` (runs failed or left running because of one URL; must be 0), `poison_queued_untried`,
`poison_secrets_stored`, and `first_capture_redirects_archived` of `first_capture_redirects`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scraper.errors import BlockedURLError, FetchError  # noqa: E402
from scraper.fetch import Fetcher, FetchPolicy  # noqa: E402
from scraper.netguard import NON_PUBLIC_EXAMPLES  # noqa: E402


class BenchError(Exception):
    """A broken precondition (a crawl that did not start): said in one sentence, exit 1."""


@dataclass
class Row:
    fault: str
    injected: int = 0
    handled: int = 0
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, fault: str, injected: int, handled: int, note: str = "") -> None:
        self.rows.append(Row(fault, injected, handled, note))
        print(f"  {fault:44} injected {injected:5}  handled {handled:5}  {note}", flush=True)


# -- helpers -------------------------------------------------------------------------------------------


class Site:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scraper", "demo-site", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.base = self.process.stdout.readline().split(" on ", 1)[1].strip().rstrip("/")
        self.port = int(self.base.rsplit(":", 1)[1])

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base}/{path.lstrip('/')}") as answer:
            return json.loads(answer.read())

    def control(self, path: str) -> None:
        urllib.request.urlopen(f"{self.base}/_control/{path}").read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def schedule(directory: Path, site: Site, name: str, article_url: str = r"_\d+/$", **limits: Any) -> Path:
    politeness = {"concurrency": 8, "global_concurrency": 8, "delay": 0, "retry_delay": 0.05}
    politeness.update(limits.pop("politeness", {}))
    settings = {"max_pages": 100_000, "max_depth": 5, "fetch_timeout": 2, "run_timeout": 900, "max_tries": 8}
    settings.update(limits)
    text = (
        f'name = "{name}"\nprofile = "baigenews"\nallow_private = true\n'
        f'listings = ["{site.base}/news/"]\nfeeds = ["{site.base}/news/rss/"]\nsitemaps = ["{site.base}/sitemap.xml"]\n'
        f"article_url = '{article_url}'\n"
        "follow = '^/(news|politika|ekonomika|obshchestvo|proisshestviya|sport|v-mire)/$'\n"
        "[limits]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
        + "[politeness]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in politeness.items())
    )
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def crawl(path: Path, db: Path, env: dict[str, str] | None = None, kill_in_commit: int = 0) -> subprocess.Popen[str]:
    """Start a crawl; with `kill_in_commit`, the process kills itself inside that commit (bench/killhook.py)."""
    start = (
        [sys.executable, str(ROOT / "bench" / "killhook.py"), str(kill_in_commit)]
        if kill_in_commit
        else [
            sys.executable,
            "-m",
            "scraper",
        ]
    )
    return subprocess.Popen(
        [*start, "-q", "crawl", str(path), "--db", str(db)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def expected_ids(site: Site) -> set[str]:
    from scraper.demosite.site import RECOVERS

    return {str(a["id"]) for a in site.get("_control/articles") if a["behaviour"] in (None, *RECOVERS)}


def consistency(db: Path) -> tuple[bool, int]:
    """integrity_check ok, and the number of half-written articles (no version, or versions with gaps)."""
    ok = query(db, "PRAGMA integrity_check") == [("ok",)]
    half = query(
        db,
        "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM article_versions v WHERE v.url = a.url)"
        " OR a.version != (SELECT max(version) FROM article_versions v WHERE v.url = a.url)",
    )[0][0]
    return ok, int(half)


# -- the sections ----------------------------------------------------------------------------------------


def hostile_crawl(report: Report, work: Path, figures: dict[str, Any]) -> None:
    """The demo site's misbehaving articles plus 10% transient faults on the others."""
    site = Site("--articles", "60", "--fault-rate", "0.1", "--crawl-delay", "0")
    try:
        db = work / "hostile.db"
        done = crawl(schedule(work, site, "hostile"), db)
        done.communicate()
        expected = expected_ids(site)
        archived = [row[0] for row in query(db, "SELECT article_id FROM articles")]
        faults = site.get("_control/faults")
        articles = site.get("_control/articles")
    finally:
        site.stop()
    hostile = [a for a in articles if a["behaviour"]]
    transient = sum(faults.values())
    report.add("transient faults (500/503/429/reset/cut/stall)", transient, transient, json.dumps(faults))
    report.add("misbehaving articles (see scraper/demosite/site.py)", len(hostile), len(hostile), "each as specified")
    lost = len(expected - set(archived))
    duplicated = len(archived) - len(set(archived))
    ok, half = consistency(db)
    figures.update(expected=len(expected), archived=len(set(archived)), lost=lost, duplicated=duplicated)
    figures["faults"] += transient + len(hostile)
    report.add(
        "  -> articles archived exactly once",
        len(expected),
        len(set(archived) & expected),
        f"lost {lost}, duplicated {duplicated}, integrity {'ok' if ok else 'BAD'}, half-written {half}",
    )


def throughput(report: Report, work: Path, figures: dict[str, Any], articles: int) -> None:
    rates = {}
    for label, extra in (("clean", []), ("faulted", ["--fault-rate", "0.1"])):
        site = Site("--articles", str(articles), "--no-hostile", "--crawl-delay", "0", *extra)
        try:
            db = work / f"throughput-{label}.db"
            path = schedule(
                work, site, f"tp-{label}", fetch_timeout=1, politeness={"concurrency": 16, "global_concurrency": 16}
            )
            started = time.perf_counter()
            crawl(path, db).communicate()
            elapsed = time.perf_counter() - started
            count = query(db, "SELECT count(*) FROM articles")[0][0]
            rates[label] = count / elapsed
            if label == "faulted":
                injected = sum(site.get("_control/faults").values())
                figures["faults"] += injected
                report.add(
                    "transient faults at 10% (throughput run)",
                    injected,
                    injected if count == articles else 0,
                    f"{count}/{articles} archived",
                )
        finally:
            site.stop()
    figures["throughput_clean_pages_per_s"] = round(rates["clean"], 1)
    figures["throughput_faulted_pages_per_s"] = round(rates["faulted"], 1)
    figures["throughput_ratio_under_faults"] = round(rates["faulted"] / rates["clean"], 3)


def kill_harness(report: Report, work: Path, figures: dict[str, Any], kills_wanted: int) -> None:
    """SIGKILL crawls at random moments (every third one inside a commit), restart, check the invariants."""
    rng = random.Random(9309)
    kills = in_commit = rounds = lost = duplicated = half = refetched = 0
    integrity = True
    while kills < kills_wanted:
        rounds += 1
        site = Site("--articles", "80", "--no-hostile", "--crawl-delay", "0")
        try:
            db = work / f"kill-{rounds}.db"
            path = schedule(
                work, site, f"kill{rounds}", politeness={"concurrency": 4, "global_concurrency": 4, "delay": 0.01}
            )
            for _ in range(6):  # a few kills per archive, then let it finish
                if kills >= kills_wanted:
                    break
                aimed = kills % 3 == 2
                process = crawl(path, db, kill_in_commit=rng.randint(5, 60) if aimed else 0)
                if aimed:
                    process.wait()
                    in_commit += 1
                else:
                    time.sleep(rng.uniform(0.2, 1.5))
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                kills += 1
                ok, broken = consistency(db) if db.exists() else (True, 0)
                integrity &= ok
                half += broken
            crawl(path, db).communicate()
            expected = expected_ids(site)
            archived = [row[0] for row in query(db, "SELECT article_id FROM articles")]
            lost += len(expected - set(archived))
            duplicated += len(archived) - len(set(archived))
            # Work redone after the kills, counted at the server: requests for article pages beyond one each.
            requested = [
                e["path"] for e in site.get("_control/log") if str(e["path"]).rstrip("/").rsplit("_", 1)[-1].isdigit()
            ]
            refetched += len(requested) - len(set(requested))
        finally:
            site.stop()
    figures["kills"] = kills
    figures["kills_inside_commit"] = in_commit
    figures["faults"] += kills
    figures["lost"] += lost
    figures["duplicated"] += duplicated
    figures["half_written"] = half
    figures["integrity_ok"] = integrity
    figures["refetched_after_kills"] = refetched
    figures["refetched_per_kill"] = round(refetched / max(kills, 1), 2)
    report.add(
        "SIGKILL mid-crawl, then restart",
        kills,
        kills if not (lost or duplicated or half) and integrity else 0,
        f"{in_commit} inside a commit; lost {lost}, duplicated {duplicated}, half-written {half}, "
        f"re-fetched {refetched} pages ({refetched / max(kills, 1):.1f} a kill, concurrency 4) over {rounds} archives",
    )


class _Network:
    """Sockets behind the guard, recording every address it is asked to connect to."""

    def __init__(self) -> None:
        import httpcore

        self.inner = httpcore.AnyIOBackend()
        self.connected: list[str] = []

    async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> Any:
        self.connected.append(host)
        return await self.inner.connect_tcp(host, port, **kwargs)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _numeric_resolver(host: str, port: int) -> list[str]:
    if host in ("localhost", "localhost."):
        return ["127.0.0.1", "::1"]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        raise OSError(-2, "Name or service not known") from None  # no DNS leaves this machine
    return [str(info[4][0]) for info in infos]


def ssrf(report: Report, figures: dict[str, Any]) -> None:
    urls = [f"{scheme}://{host}/" for host in NON_PUBLIC_EXAMPLES for scheme in ("http", "https")]
    network = _Network()
    refused = 0

    async def run() -> None:
        nonlocal refused
        fetcher = Fetcher(FetchPolicy(allow_private=False), resolver=_numeric_resolver, network=network)  # type: ignore[arg-type]
        async with fetcher:
            for url in urls:
                try:
                    await fetcher.fetch(url)
                except BlockedURLError:
                    refused += 1
                except FetchError:
                    pass

    asyncio.run(run())
    figures["ssrf_total"] = len(urls)
    figures["ssrf_refused"] = refused if not network.connected else 0
    figures["faults"] += len(urls)
    report.add(
        "SSRF spellings of non-public addresses",
        len(urls),
        figures["ssrf_refused"],
        f"connections attempted: {len(network.connected)}",
    )


def fetch_limits(report: Report, figures: dict[str, Any]) -> None:
    site = Site("--articles", "5", "--no-hostile")
    cap = 10 * 1024 * 1024
    try:
        for encoding in ("gzip", "deflate", "br"):
            script = (
                "import asyncio, resource, sys\n"
                "from scraper.fetch import Fetcher, FetchPolicy\n"
                "from scraper.errors import FetchError\n"
                "async def main():\n"
                f"    async with Fetcher(FetchPolicy(allow_private=True, max_body_bytes={cap})) as f:\n"
                "        try:\n"
                f"            await f.fetch('{site.base}/_fault/bomb?mb=1024&enc={encoding}')\n"
                "        except FetchError as e:\n"
                "            print(e.kind)\n"
                "asyncio.run(main())\n"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
            )
            baseline = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import scraper.fetch, resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
            kind, peak = [*done.stdout.split(), "?", "0"][:2]
            growth = int(peak) - int(baseline.stdout.strip() or 0)
            handled = 1 if kind == "too_large" and growth <= cap / 1024 / 1024 + 32 else 0
            report.add(f"1 GiB {encoding} bomb, cap 10 MiB", 1, handled, f"stopped as {kind}; RSS grew {growth} MiB")
            figures["faults"] += 1
        checks = [
            ("drip, 1 byte a second", "_fault/drip?interval=1", {"total_timeout": 3.0}, "timeout", 4.0),
            ("redirect loop", "_fault/loop/a", {}, "redirect_loop", 5.0),
            ("redirect chain over the cap", "_fault/chain/30", {}, "too_many_redirects", 5.0),
            ("header flood (200 KiB)", "_fault/headers?kb=200", {}, "protocol_error", 5.0),
            ("body shorter than Content-Length", "_fault/truncated", {}, "truncated", 5.0),
            ("connection reset mid-body", "_fault/reset", {}, "connection_reset", 5.0),
            ("12 MB body", "_fault/huge?mb=12", {}, "too_large", 10.0),
        ]
        for name, path, policy, expected, bound in checks:

            async def attempt(path: str = path, policy: dict[str, Any] = policy) -> str:
                async with Fetcher(FetchPolicy(allow_private=True, **policy)) as fetcher:
                    try:
                        await fetcher.fetch(f"{site.base}/{path}")
                    except FetchError as exc:
                        return exc.kind
                return "fetched"

            started = time.monotonic()
            kind = asyncio.run(attempt())
            elapsed = time.monotonic() - started
            ok = (
                kind in (expected, "protocol_error" if expected == "connection_reset" else expected) and elapsed < bound
            )
            report.add(name, 1, int(ok), f"{kind} after {elapsed:.1f} s")
            figures["faults"] += 1
    finally:
        site.stop()


def site_modes(report: Report, work: Path, figures: dict[str, Any]) -> None:
    cases = [
        (
            "robots",
            "404",
            "robots.txt 404: allow all",
            lambda db: query(db, "SELECT count(*) FROM articles")[0][0] == 20,
        ),
        (
            "robots",
            "503",
            "robots.txt 503: host skipped",
            lambda db: query(db, "SELECT count(*) FROM articles")[0][0] == 0,
        ),
        (
            "robots",
            "huge",
            "robots.txt of 10 MB: first 500 KiB",
            lambda db: query(db, "SELECT count(*) FROM articles")[0][0] == 20,
        ),
        (
            "robots",
            "slow-crawl",
            "Crawl-delay: 3600: host deferred",
            lambda db: query(db, "SELECT count(*) FROM fetches WHERE error_kind = 'crawl_delay'")[0][0] > 0,
        ),
        (
            "feed",
            "doctype",
            "feed with entities refused",
            lambda db: query(db, "SELECT error_kind FROM fetches WHERE purpose = 'feed'") == [("bad_feed",)],
        ),
        (
            "sitemap",
            "doctype",
            "sitemap with external entity refused",
            lambda db: query(db, "SELECT error_kind FROM fetches WHERE purpose = 'sitemap'") == [("bad_sitemap",)],
        ),
        (
            "sitemap",
            "bomb",
            "gzip-bomb sitemap refused",
            lambda db: query(db, "SELECT error_kind FROM fetches WHERE purpose = 'sitemap'") == [("too_large",)],
        ),
        (
            "sitemap",
            "million",
            "60,000-URL sitemap capped at 50,000",
            lambda db: query(db, "SELECT count(*) FROM frontier WHERE url LIKE '%/trap/%'")[0][0] <= 50_000,
        ),
    ]
    for index, (key, value, name, check) in enumerate(cases):
        site = Site("--articles", "20", "--no-hostile", "--crawl-delay", "0")
        try:
            site.control(f"mode?{key}={value}")
            db = work / f"mode-{index}.db"
            crawl(
                schedule(work, site, f"mode{index}", max_pages=60 if value == "million" else 100_000), db
            ).communicate()
            report.add(name, 1, int(bool(check(db))))
            figures["faults"] += 1
        finally:
            site.stop()


def hostile_pages(report: Report, work: Path, figures: dict[str, Any]) -> None:
    pages = {
        "100k nested divs": ("<html><body>" + "<div>" * 100_000).encode(),
        "100k nested spans": ("<html><body>" + "<span>" * 100_000).encode(),
        "50 MB single line": ("<p>" + "слово " * (50 * 1024 * 1024 // 12)).encode(),
        "NUL bytes and invalid UTF-8": b"<title>a\x00b</title>" + b"<p>a\x00b\xff\xfe\xc3c</p>" * 200_000,
        "1M entities": ("<p>" + "&amp;&lt;&#1090;&#x430;" * 250_000).encode(),
        "1M attributes on one element": ("<div " + " ".join(f"a{i}=1" for i in range(1_000_000)) + ">x</div>").encode(),
    }
    for name, body in pages.items():
        path = work / "hostile.html"
        path.write_bytes(body)
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "scraper", "parse", str(path), "--url", "https://baigenews.kz/x_1/"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.monotonic() - started
        rss = usage.ru_maxrss / 1024
        ok = os.waitstatus_to_exitcode(status) in (0, 1) and elapsed < 5 and rss < 512
        report.add(f"page: {name}", 1, int(ok), f"{elapsed:.2f} s, {rss:.0f} MiB")
        figures["faults"] += 1


def concurrency(report: Report, work: Path, figures: dict[str, Any], seconds: float) -> None:
    """Two crawls of two sites, a `scrape url` loop and Datasette at 20 requests/s on one archive at once."""
    first, second = (
        Site("--articles", "400", "--no-hostile", "--crawl-delay", "0"),
        Site("--articles", "400", "--no-hostile", "--crawl-delay", "0"),
    )
    (work / "shared").mkdir(exist_ok=True)
    db = work / "shared" / "archive.db"  # Datasette names the database after the file: /archive
    errors: list[str] = []
    latencies: list[float] = []
    failures = 0
    stop = threading.Event()
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    serve_port = port.getsockname()[1]
    port.close()
    processes: list[subprocess.Popen[str]] = []
    try:
        subprocess.run(
            [sys.executable, "-m", "scraper", "url", f"{first.base}/_fault/ok", "--db", str(db)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )  # the archive exists before Datasette opens it
        writers = [
            crawl(schedule(work, site, name, politeness={"delay": 0.02, "concurrency": 4, "global_concurrency": 4}), db)
            for site, name in ((first, "one"), (second, "two"))
        ]
        processes.extend(writers)
        server = subprocess.Popen(
            [sys.executable, "-m", "scraper", "serve", "--db", str(db), "--port", str(serve_port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(server)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{serve_port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)

        def url_loop() -> None:
            articles = first.get("_control/articles")
            index = 0
            while not stop.is_set():
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "scraper",
                        "url",
                        first.base + articles[index % len(articles)]["path"],
                        "--db",
                        str(db),
                        "--profile",
                        "baigenews",
                    ],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if "locked" in done.stderr:
                    errors.append(done.stderr)
                index += 1

        def reader() -> None:
            nonlocal failures
            paths = [
                "/",
                "/archive",
                "/archive/articles?_sort_desc=published_at",
                "/archive/articles?_search=Токаев",
                "/archive/view_counts",
            ]
            while not stop.is_set():
                started = time.perf_counter()
                path = random.choice(paths)
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{serve_port}{urllib.parse.quote(path, safe='/?=&_')}", timeout=10
                    ) as answer:
                        body = answer.read()
                        if b"database is locked" in body:
                            errors.append("datasette: database is locked")
                except Exception as exc:
                    failures += 1
                    if "locked" in str(exc):
                        errors.append(str(exc))
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(max(0.0, 0.05 - (time.perf_counter() - started)))  # 20 requests a second

        threads = [threading.Thread(target=url_loop), threading.Thread(target=reader)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        for writer in writers:
            writer.send_signal(signal.SIGTERM)
            _, stderr = writer.communicate(timeout=120)
            if "locked" in stderr:
                errors.append(stderr)
    finally:
        stop.set()
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait()
        first.stop()
        second.stop()
    ok, half = consistency(db)
    p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) >= 20 else float("nan")
    figures["locked_errors"] = len(errors)
    figures["datasette_requests"] = len(latencies)
    figures["datasette_failures"] = failures
    figures["datasette_p95_ms"] = round(p95, 1)
    figures["faults"] += 1
    report.add(
        f"2 crawls + url loop + Datasette 20 req/s, {seconds:.0f} s",
        1,
        int(not errors and ok and not half),
        f"'database is locked' seen {len(errors)}x; {len(latencies)} reads, {failures} failed, p95 {p95:.0f} ms",
    )


#: A realistic catastrophic pattern (issue 17): Python's re backtracks for hours on the poison site's long link.
SLOW_PATTERN = r"^/(kz/)?([a-z0-9]+-?)+_\d+/$"


def poison_pills(report: Report, work: Path, figures: dict[str, Any]) -> None:
    """Catalogue P6–P9: pages, links, redirects and files that once stopped crawls for good, among good articles.

    Three crawl runs of the demo site with its poison pills linked from the first listing page, under a schedule
    whose article pattern backtracks catastrophically in Python's re; then a cp1251 schedule file beside a good one.
    """
    from scraper.demosite.poison import SECRET_COOKIE, SECRET_PASSWORD

    site = Site("--articles", "40", "--no-hostile", "--poison", "--crawl-delay", "0")
    try:
        pills = site.get("_control/poison")
        listed = {str(a["id"]) for a in site.get("_control/articles")}
        path = schedule(work, site, "poison", article_url=SLOW_PATTERN, max_tries=3)
        db = work / "poison.db"
        tracebacks = 0
        for _ in range(3):
            process = crawl(path, db)
            _, stderr = process.communicate(timeout=900)
            tracebacks += "Traceback" in stderr
    finally:
        site.stop()
    if not db.exists() or query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'crawl_runs'") == [(0,)]:
        raise BenchError("the poison crawl did not start: no archive was written")
    statuses = [row[0] for row in query(db, "SELECT status FROM crawl_runs")]
    runs_failed = sum(status in ("failed", "running") for status in statuses) + tracebacks
    archived = {row[0] for row in query(db, "SELECT article_id FROM articles")}
    fetched = {row[0]: row[1] for row in query(db, "SELECT url, error_kind FROM fetches WHERE purpose = 'article'")}
    frontier = {row[0]: (row[1], row[2]) for row in query(db, "SELECT url, state, tries FROM frontier")}
    accounted = redirects = redirects_archived = 0
    for pill in pills:
        url = pill["path"] if "://" in pill["path"] else site.base + pill["path"].replace("\t", "")
        if pill["expect"] == "archived":
            ok = pill["article"].rstrip("/").rsplit("_", 1)[1] in archived
            if pill["path"].startswith(("/go_", "/amp-")):
                redirects += 1
                redirects_archived += ok
        elif pill["expect"] == "failed":
            state, tries = frontier.get(url, ("missing", 0))
            ok = fetched.get(url) is not None and state == "failed" and tries >= 1
        else:
            ok = url not in fetched
        accounted += ok
    secrets = 0
    for (table,) in query(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%'"):
        for row in query(db, f'SELECT * FROM "{table}"'):
            secrets += sum(isinstance(v, str) and (SECRET_PASSWORD in v or SECRET_COOKIE in v) for v in row)
    good_archived = len(listed & archived)
    untried = query(db, "SELECT count(*) FROM frontier WHERE state = 'queued' AND tries = 0")[0][0]
    # A schedule file in windows-1251 beside a good one: one sentence naming it, the good one still loads.
    folder = work / "schedules-cp1251"
    folder.mkdir()
    (folder / "good.toml").write_text('listings = ["http://x.kz/"]\n', encoding="utf-8")
    (folder / "cyrillic.toml").write_bytes('# Расписание\nlistings = ["http://x.kz/"]\n'.encode("windows-1251"))
    check = subprocess.run(
        [sys.executable, "-m", "scraper", "schedule", "check", "--schedules", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    cp1251_ok = (
        check.returncode == 1
        and check.stderr.splitlines()[-1] == "1 schedules OK, 1 broken."
        and ("cyrillic.toml is not UTF-8 text" in check.stderr and "Traceback" not in check.stderr)
    )
    figures["poison_pills"] = len(pills) + 1
    figures["poison_accounted"] = accounted + cp1251_ok
    figures["poison_runs_failed"] = runs_failed
    figures["poison_runs"] = len(statuses)
    figures["poison_queued_untried"] = untried
    figures["poison_secrets_stored"] = secrets
    figures["first_capture_redirects"] = redirects
    figures["first_capture_redirects_archived"] = redirects_archived
    figures["faults"] += len(pills) + 1
    report.add(
        "poison pills (3 runs, a backtracking pattern)",
        len(pills) + 1,
        accounted + cp1251_ok if not runs_failed and not untried and not secrets else 0,
        f"runs {statuses}; good {good_archived}/{len(listed)}; redirect/canonical first captures "
        f"{redirects_archived}/{redirects}; secrets stored {secrets}; queued untried {untried}",
    )


def storage_migration(report: Report, work: Path, figures: dict[str, Any], kills_wanted: int) -> None:
    """SIGKILL `scrape storage migrate` of an old (zlib) archive at random moments, every other time inside a
    commit, restart it; after each kill every page must still read back exactly, and at the end none is left."""
    from datetime import timedelta

    from scraper.demosite.site import NewsSite
    from scraper.store import Archive
    from tests.storing import T0, demo_page, legacy_archive

    rng = random.Random(14)
    site = NewsSite(articles=8, hostile=False, now=T0)
    pages = [demo_page(site, site.articles[1 + n % 7], T0 + timedelta(hours=n)) for n in range(600)]
    expected = {page.sha256: page.body for page in pages}
    db = work / "migration.db"
    legacy_archive(db, pages)
    Archive(db).close()  # the schema upgrade; the batches that follow are what the kills land in

    def exact() -> bool:
        with Archive(db) as archive:
            keys = [row[0] for row in archive.db.execute("SELECT hash FROM pages")]
            return sorted(keys) == sorted(expected) and all(archive.pages.body(k) == expected[k] for k in keys)

    migrate = ["storage", "migrate", "--db", str(db), "--batch", "5"]
    kills = in_commit = broken = 0
    integrity = True
    while kills < kills_wanted and query(db, "SELECT count(*) FROM pages WHERE codec = 'zlib'")[0][0]:
        if kills % 2:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "killhook.py"), str(rng.randint(1, 4)), *migrate],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            in_commit += 1
        else:
            process = subprocess.Popen(
                [sys.executable, "-m", "scraper", *migrate],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.3, 2.0))
            process.send_signal(signal.SIGKILL)
        if process.wait() != -signal.SIGKILL:
            break  # it had finished before the kill
        kills += 1
        integrity &= query(db, "PRAGMA integrity_check") == [("ok",)]
        broken += 0 if exact() else 1
    done = subprocess.run(
        [sys.executable, "-m", "scraper", *migrate],
        cwd=ROOT,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    left = query(db, "SELECT count(*) FROM pages WHERE codec = 'zlib'")[0][0]
    whole = exact()
    figures["faults"] += kills
    figures["migration_kills"] = kills
    figures["migration_exact"] = whole and not broken and integrity and not left and done.returncode == 0
    report.add(
        "SIGKILL during `scrape storage migrate`, then again",
        kills,
        kills if figures["migration_exact"] else 0,
        f"{in_commit} inside a commit; {len(expected)} pages, each read back exactly after every kill: "
        f"{'yes' if not broken else f'no ({broken} times)'}; integrity {'ok' if integrity else 'BAD'}; "
        f"{left} left in the old format at the end",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the concurrency section")
    parser.add_argument("--throughput-articles", type=int, default=600)
    parser.add_argument("--migration-kills", type=int, default=10)
    args = parser.parse_args()
    os.environ["SCRAPE_ALLOW_PRIVATE"] = "1"
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    figures: dict[str, Any] = {"faults": 0, "kills": 0, "lost": 0, "duplicated": 0}
    report = Report()
    print("fault                                          injected        handled", flush=True)
    sections = [
        lambda: poison_pills(report, work, figures),
        lambda: hostile_crawl(report, work, figures),
        lambda: throughput(report, work, figures, args.throughput_articles),
        lambda: kill_harness(report, work, figures, args.kills),
        lambda: storage_migration(report, work, figures, args.migration_kills),
        lambda: ssrf(report, figures),
        lambda: fetch_limits(report, figures),
        lambda: site_modes(report, work, figures),
        lambda: hostile_pages(report, work, figures),
        lambda: concurrency(report, work, figures, args.seconds),
    ]
    try:
        for section in sections:
            section()
    except BenchError as exc:
        print(f"Error: {exc}.", file=sys.stderr)
        sys.exit(1)
    failed = [row.fault for row in report.rows if row.handled < row.injected]
    figures["rows"] = len(report.rows)
    figures["rows_failed"] = failed
    listed = ": " + ", ".join(failed) if failed else ""
    print(f"{len(report.rows)} checks, {len(failed)} not handled as specified{listed}.")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    import urllib.parse

    main()
