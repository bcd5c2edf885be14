"""The distributed mode at work: the demo site on several 127.0.0.1 ports crawled through 1, 2 and 4 workers against
one Redis and one writer, beside the single-machine crawler on the same sites in the same run; then one more
distributed crawl during which workers and the writer are SIGKILLed and restarted, and the archives are counted.

Run: python bench/scale.py [--sites 4] [--articles 250] [--delay 0.02] [--workers 1,2,4]; --quick for the test
suite (2 sites x 20 articles, 1 and 2 workers, 2 worker kills and 1 writer kill). Needs `redis-server`, and
`tcpdump` with the right to capture on the loopback (root) for the politeness figures.

Each configuration crawls fresh `scrape demo-site` processes (no misbehaving articles, robots.txt without
Crawl-delay: the schedule's delay rules), one schedule per site. Politeness is measured where the sites receive
the requests: tcpdump on the loopback timestamps (in the kernel) every packet that carries a request to a site,
from any worker; a violation is two requests to one host closer than the delay. (A site's own log timestamps a
request when its process next gets the CPU, which on 2 busy cores lags by up to ~15 ms; without tcpdump the
bench falls back to those logs and says so.) Lost: articles of the sites not archived. Duplicated: articles
whose page was written more than once (more than one successful capture in the ledger, view reading or
version), or a ledger row not written through a keyed delivery.
On 2 shared cores the processes (sites, Redis, workers, writer) compete for the CPU: the speed-up is bounded.

The last line is a JSON object with the keys: workers, pages_per_s, local_pages_per_s, min_gap_ms_vs_delay_ms,
politeness_violations, worker_kills, writer_kills, expected, archived, lost, duplicated, refetched,
duplicates_skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults import Site as DemoSite  # noqa: E402
from scraper.config import load_schedule  # noqa: E402
from scraper.distributed.runs import RunClient  # noqa: E402

ENV = {**os.environ, "SCRAPE_ALLOW_PRIVATE": "1"}
#: Seconds a silent process keeps its messages (the visibility timeout), short so kills recover quickly.
REDELIVERY = 3
#: Fetches of one host at once: the schedules' default.
CONCURRENCY = 2


#: CPU seconds used by each kind of process in the configuration being measured.
CPU: dict[str, float] = {}


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a live process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def charge(kind: str, pid: int) -> None:
    CPU[kind] = CPU.get(kind, 0.0) + cpu_seconds(pid)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Redis:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("bench/scale.py needs redis-server (scripts/install-system-deps installs it).")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        directory.mkdir(parents=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


class Site(DemoSite):
    """A fresh `scrape demo-site` process: no misbehaving articles, no Crawl-delay in its robots.txt."""

    def __init__(self, articles: int) -> None:
        super().__init__("--articles", str(articles), "--no-hostile", "--crawl-delay", "0")
        self.shard = self.base.removeprefix("http://").replace(":", "_")

    def stop(self) -> None:
        charge("sites", self.process.pid)
        super().stop()


class Capture:
    """Kernel timestamps of the packets carrying requests to the sites (tcpdump on the loopback), by port."""

    def __init__(self, ports: list[int], output: Path) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.output = output
        binary = shutil.which("tcpdump")
        if binary is None:
            return
        wanted = " or ".join(f"dst port {port}" for port in ports)
        # To a file, not a pipe: a pipe left unread fills, tcpdump blocks, and the kernel drops packets.
        self._out = output.open("w")
        self.process = subprocess.Popen(
            [
                binary,
                "-i",
                "lo",
                "-nn",
                "-tt",
                "-l",
                "-q",
                "-B",
                "8192",
                f"tcp and ({wanted}) and (tcp[tcpflags] & tcp-push != 0)",
            ],
            stdout=self._out,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        for line in self.process.stderr:  # "listening on lo ..." once it captures; an error and an exit if it cannot
            if "listening on" in line:
                return
        self.process.wait()
        self.process = None

    def stop(self) -> dict[int, list[float]] | None:
        """Each site port's request times, or None without tcpdump (or when it could not capture)."""
        if self.process is None:
            return None
        time.sleep(0.2)  # the last packets
        self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate()
        self._out.close()
        if not re.search(r"(^|\s)0 packets dropped by kernel", err):
            raise RuntimeError(f"tcpdump missed packets: {err.strip().splitlines()[-3:]}")
        times: dict[int, list[float]] = {}
        for line in self.output.read_text().splitlines():
            # 1764620000.123456 IP 127.0.0.1.45678 > 127.0.0.1.34567: tcp 245
            parts = line.split()
            if len(parts) >= 5 and parts[3] == ">":
                times.setdefault(int(parts[4].rstrip(":").rsplit(".", 1)[1]), []).append(float(parts[0]))
        return times


class Role:
    """A writer or worker process, its log in a file."""

    def __init__(self, args: list[str], log: Path, wrapper: list[str] | None = None) -> None:
        self.kind = f"{args[0]}s"
        self.log = log
        self.handle = log.open("ab")
        self.process = subprocess.Popen(
            [*(wrapper or [sys.executable, "-m", "scraper"]), *args],
            cwd=ROOT,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env=ENV,
        )

    def ready(self, word: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while word not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.log.name} did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        charge(self.kind, self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.handle.close()

    def stop(self) -> str:
        charge(self.kind, self.process.pid)
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=120)
        self.handle.close()
        return self.log.read_text(errors="replace")


def schedule(directory: Path, site: Site, name: str, delay: float) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\nprofile = "baigenews"\nallow_private = true\n'
        f'listings = ["{site.base}/news/"]\nfeeds = ["{site.base}/news/rss/"]\nsitemaps = ["{site.base}/sitemap.xml"]\n'
        "article_url = '_\\d+/$'\n"
        "follow = '^/(news|politika|ekonomika|obshchestvo|proisshestviya|sport|v-mire)/$'\n"
        "[limits]\nmax_pages = 100000\nmax_depth = 5\nfetch_timeout = 10\nrun_timeout = 3600\nmax_tries = 6\n"
        f"[politeness]\nconcurrency = {CONCURRENCY}\nglobal_concurrency = 16\ndelay = {delay}\nretry_delay = 0.2\n",
        encoding="utf-8",
    )
    return path


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute(sql).fetchall()


@dataclass
class Politeness:
    delay_ms: float
    min_gap_ms: float = float("inf")
    violations: int = 0
    requests: int = 0
    #: "kernel" (tcpdump) or "site logs".
    clock: str = "kernel"

    def add(self, site: Site, captured: dict[int, list[float]] | None) -> None:
        if captured is None:
            self.clock = "site logs"
            log = site.get("_control/log")
            times = sorted(float(entry["at"]) for entry in log if "/_control/" not in entry["path"])
        else:
            times = sorted(captured.get(site.port, []))
        self.requests += len(times)
        for earlier, later in itertools.pairwise(times):
            gap = (later - earlier) * 1000
            self.min_gap_ms = min(self.min_gap_ms, gap)
            self.violations += gap < self.delay_ms


@dataclass
class Crawl:
    label: str
    workers: int
    seconds: float = 0.0
    pages: int = 0
    articles: int = 0
    politeness: Politeness = field(default_factory=lambda: Politeness(0))
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def local_crawl(work: Path, sites: list[Site], delay: float) -> Crawl:
    """The single-machine reference: one `scrape crawl` process per schedule, all at once (as the scheduler runs
    them), each into its own archive."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scraper",
                "-q",
                "crawl",
                str(schedule(work, site, f"local{i}", delay)),
                "--db",
                str(work / f"local{i}.db"),
            ],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i, site in enumerate(sites)
    ]
    for process in processes:
        _, _, usage = os.wait4(process.pid, 0)
        CPU["crawlers"] = CPU.get("crawlers", 0.0) + usage.ru_utime + usage.ru_stime
    result = Crawl("single machine", 0, seconds=time.perf_counter() - started)
    for i in range(len(sites)):
        db = work / f"local{i}.db"
        result.pages += query(db, "SELECT count(*) FROM fetches")[0][0]
        result.articles += query(db, "SELECT count(*) FROM articles")[0][0]
    return result


class Cluster:
    def __init__(self, work: Path, redis: Redis, workers: int) -> None:
        self.work = work
        self.redis = redis
        self.archives = work / "archives"
        self.count = 0
        self.writer = self.start_writer()
        self.writer.ready("writer ready")
        self.workers = [self.start_worker() for _ in range(workers)]
        for worker in self.workers:
            worker.ready("worker ready")

    def start_writer(self, kill_in_commit: int = 0) -> Role:
        self.count += 1
        wrapper = [sys.executable, str(ROOT / "bench" / "killhook.py"), str(kill_in_commit)] if kill_in_commit else None
        args = ["writer", "--redis", self.redis.url, "--archives", str(self.archives)]
        args += ["--redelivery-after", str(REDELIVERY), "--lease", "60"]
        return Role(args, self.work / f"writer-{self.count}.log", wrapper)

    def start_worker(self) -> Role:
        self.count += 1
        args = ["worker", "--redis", self.redis.url, "--redelivery-after", str(REDELIVERY), "--threads", "8"]
        return Role(args, self.work / f"worker-{self.count}.log")

    def stop(self) -> str:
        for worker in self.workers:
            worker.stop()
        return self.writer.stop()


def send_runs(redis: Redis, paths: list[Path]) -> tuple[RunClient, list[str]]:
    client = RunClient(redis.url)
    return client, [client.send(load_schedule(path)) for path in paths]


def wait_runs(client: RunClient, requests: list[str], timeout: float = 1800) -> list[Any]:
    deadline = time.monotonic() + timeout
    results: dict[str, Any] = {}
    while len(results) < len(requests):
        if time.monotonic() > deadline:
            raise RuntimeError(f"runs did not end: {len(results)} of {len(requests)} finished")
        for request in requests:
            if request not in results and (found := client.result(request)) is not None:
                results[request] = found
        time.sleep(0.1)
    return [results[r] for r in requests]


def distributed_crawl(work: Path, redis: Redis, sites: list[Site], workers: int, delay: float) -> Crawl:
    cluster = Cluster(work, redis, workers)
    try:
        paths = [schedule(work, site, f"site{i}", delay) for i, site in enumerate(sites)]
        started = time.perf_counter()
        client, requests = send_runs(redis, paths)
        results = wait_runs(client, requests)
        elapsed = time.perf_counter() - started
        client.close()
    finally:
        cluster.stop()
    crawl = Crawl(f"{workers} worker{'s' if workers > 1 else ''}", workers, seconds=elapsed)
    crawl.pages = sum(r.pages_fetched for r in results)
    crawl.articles = sum(r.new_articles for r in results)
    return crawl


@dataclass
class Faults:
    worker_kills: int = 0
    writer_kills: int = 0
    expected: int = 0
    archived: int = 0
    lost: int = 0
    duplicated: int = 0
    refetched: int = 0
    duplicates_skipped: int = 0
    seconds: float = 0.0


def archived_count(archives: Path) -> int:
    total = 0
    for db in archives.glob("*.db"):
        with contextlib.suppress(sqlite3.Error):
            total += query(db, "SELECT count(*) FROM articles")[0][0]
    return total


def fault_crawl(
    work: Path,
    redis: Redis,
    sites: list[Site],
    articles: int,
    workers: int,
    delay: float,
    kills: tuple[int, int],
    capture: Capture,
) -> tuple[Faults, dict[int, list[float]] | None]:
    """One distributed crawl with `kills` = (worker kills, writer kills) at fractions of the expected articles."""
    rng = random.Random(16)
    worker_kills, writer_kills = kills
    expected = len(sites) * articles
    # Kill points spread over the run, as fractions of the articles archived; the writer's between the workers'.
    worker_points = [0.08 + 0.72 * i / max(1, worker_kills) for i in range(worker_kills)]
    writer_points = [0.25 + 0.35 * i / max(1, writer_kills) for i in range(writer_kills)]
    events = sorted([(p, "worker") for p in worker_points] + [(p, "writer") for p in writer_points])
    cluster = Cluster(work, redis, workers)
    faults = Faults(expected=expected)
    skipped = 0
    try:
        paths = [schedule(work, site, f"site{i}", delay) for i, site in enumerate(sites)]
        started = time.perf_counter()
        client, requests = send_runs(redis, paths)
        for point, role in events:
            while archived_count(cluster.archives) < point * expected:
                time.sleep(0.05)
            if role == "worker":
                index = busiest(cluster.workers)
                cluster.workers[index].kill()  # SIGKILL, mid-job: its jobs come back after the redelivery timeout
                cluster.workers[index] = cluster.start_worker()
                faults.worker_kills += 1
            else:
                log = cluster.writer.log.read_text(errors="replace")
                skipped += _skipped(log)
                if faults.writer_kills % 2 == 0:
                    cluster.writer.kill()  # SIGKILL at a moment of the bench's choosing
                else:
                    # Killed by itself inside one of its next commits: something written, nothing acknowledged.
                    cluster.writer.kill()
                    cluster.writer = cluster.start_writer(kill_in_commit=rng.randint(5, 40))
                    try:
                        cluster.writer.process.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        cluster.writer.kill()
                cluster.writer = cluster.start_writer()
                faults.writer_kills += 1
        wait_runs(client, requests)
        faults.seconds = time.perf_counter() - started
        client.close()
    finally:
        skipped += _skipped(cluster.stop())
        # Before the bench asks the sites anything itself: only the crawl's requests are timed.
        captured = capture.stop()
    faults.duplicates_skipped = skipped
    for site in sites:
        db = cluster.archives / f"{site.shard}.db"
        archived = [str(row[0]) for row in query(db, "SELECT article_id FROM articles")] if db.exists() else []
        wanted = {str(a["id"]) for a in site.get("_control/articles")}
        faults.archived += len(set(archived) & wanted)
        faults.lost += len(wanted - set(archived))
        if db.exists():
            faults.duplicated += query(
                db,
                "SELECT count(*) FROM articles a WHERE"
                " (SELECT count(*) FROM fetches f WHERE f.url = a.fetched_url AND f.status = 200"
                "  AND f.purpose = 'article') > 1"
                " OR (SELECT count(*) FROM view_counts v WHERE v.url = a.url) > 1"
                " OR (SELECT count(*) FROM article_versions v WHERE v.url = a.url) > 1",
            )[0][0]
            delivered, fetched = query(db, "SELECT (SELECT count(*) FROM deliveries), (SELECT count(*) FROM fetches)")[
                0
            ]
            faults.duplicated += max(0, fetched - delivered)  # a ledger row written outside a keyed delivery
        # Article pages requested more than once: the work redone after the kills (never written twice).
        requested = [e["path"] for e in site.get("_control/log") if str(e["path"]).rstrip("/")[-1:].isdigit()]
        faults.refetched += len(requested) - len(set(requested))
    return faults, captured


def busiest(workers: list[Role]) -> int:
    """The worker using the most CPU this tenth of a second: one in the middle of its jobs."""
    before = [cpu_seconds(w.process.pid) for w in workers]
    time.sleep(0.1)
    used = [cpu_seconds(w.process.pid) - b for w, b in zip(workers, before, strict=True)]
    return used.index(max(used))


def _skipped(log: str) -> int:
    """Duplicates the writer reported skipping when it stopped (a killed writer reports nothing)."""
    for line in log.splitlines():
        if line.startswith("Writer stopped:") and "duplicates skipped" in line:
            return int(line.split(" deliveries written, ", 1)[1].split(" duplicates", 1)[0])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--articles", type=int, default=250)
    parser.add_argument("--delay", type=float, default=0.02, help="Seconds between two requests to one host.")
    parser.add_argument("--workers", default="1,2,4", help="Worker counts to measure, comma-separated.")
    parser.add_argument("--worker-kills", type=int, default=6)
    parser.add_argument("--writer-kills", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="A small run for the test suite.")
    args = parser.parse_args()
    if args.quick:
        args.sites, args.articles, args.workers, args.worker_kills, args.writer_kills = 2, 20, "1,2", 2, 1
    counts = [int(n) for n in args.workers.split(",")]
    politeness = Politeness(args.delay * 1000)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as temp:
        work = Path(temp)
        redis = Redis(work / "redis")
        crawls: list[Crawl] = []
        try:
            for index, workers in enumerate([0, *counts]):
                folder = work / f"run{index}"
                folder.mkdir()
                sites = [Site(args.articles) for _ in range(args.sites)]
                try:
                    capture = Capture([site.port for site in sites], folder / "capture.txt")
                    redis_cpu = cpu_seconds(redis.process.pid)
                    if workers == 0:
                        crawl = local_crawl(folder, sites, args.delay)
                    else:
                        crawl = distributed_crawl(folder, redis, sites, workers, args.delay)
                    captured = capture.stop()
                    CPU["redis"] = cpu_seconds(redis.process.pid) - redis_cpu
                    crawl.politeness = Politeness(args.delay * 1000)
                    for site in sites:
                        crawl.politeness.add(site, captured)
                        if workers:
                            politeness.add(site, captured)
                finally:
                    for site in sites:
                        site.stop()
                crawls.append(crawl)
                crawl.cpu = dict(CPU)
                CPU.clear()
                print(
                    f"  {crawl.label:16} {crawl.pages:6} pages in {crawl.seconds:6.1f} s = {crawl.rate:6.1f} pages/s"
                    f"  ({crawl.articles} articles; closest requests to one host {crawl.politeness.min_gap_ms:.1f} ms,"
                    f" {crawl.politeness.violations} under {args.delay * 1000:g} ms)\n"
                    f"  {'':16} CPU seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(crawl.cpu.items())),
                    flush=True,
                )
            folder = work / "faults"
            folder.mkdir()
            sites = [Site(args.articles) for _ in range(args.sites)]
            try:
                capture = Capture([site.port for site in sites], folder / "capture.txt")
                kills = (args.worker_kills, args.writer_kills)
                faults, captured = fault_crawl(
                    folder, redis, sites, args.articles, max(counts), args.delay, kills, capture
                )
                fault_politeness = Politeness(args.delay * 1000)
                for site in sites:
                    fault_politeness.add(site, captured)
                    politeness.add(site, captured)
            finally:
                for site in sites:
                    site.stop()
        finally:
            redis.stop()
    print(
        f"  {'under kills':16} {faults.worker_kills} worker and {faults.writer_kills} writer SIGKILLs in"
        f" {faults.seconds:.1f} s: {faults.archived}/{faults.expected} archived, lost {faults.lost},"
        f" duplicated {faults.duplicated}; {faults.refetched} pages fetched again, {faults.duplicates_skipped}"
        f" deliveries skipped as already written; closest requests {fault_politeness.min_gap_ms:.1f} ms,"
        f" {fault_politeness.violations} under the delay",
        flush=True,
    )
    local = crawls[0]
    figures = {
        "workers": counts,
        "pages_per_s": [round(c.rate, 1) for c in crawls[1:]],
        "local_pages_per_s": round(local.rate, 1),
        "speedup_vs_one_worker": [round(c.rate / crawls[1].rate, 2) for c in crawls[1:]],
        "min_gap_ms_vs_delay_ms": [round(politeness.min_gap_ms, 1), round(args.delay * 1000, 1)],
        "politeness_violations": politeness.violations,
        "requests_checked": politeness.requests,
        "politeness_clock": politeness.clock,
        "local_min_gap_ms": round(local.politeness.min_gap_ms, 1),
        "local_politeness_violations": local.politeness.violations,
        "worker_kills": faults.worker_kills,
        "writer_kills": faults.writer_kills,
        "expected": faults.expected,
        "archived": faults.archived,
        "lost": faults.lost,
        "duplicated": faults.duplicated,
        "refetched": faults.refetched,
        "duplicates_skipped": faults.duplicates_skipped,
        "sites": args.sites,
        "articles_per_site": args.articles,
        "delay_ms": args.delay * 1000,
        "cores": os.cpu_count(),
        "cpu_seconds": {c.label: {k: round(v, 1) for k, v in sorted(c.cpu.items())} for c in crawls},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
