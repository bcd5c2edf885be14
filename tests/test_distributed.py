"""The distributed mode against a real Redis server on 127.0.0.1: workers, one writer, shared politeness, faults."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scraper.config import load_schedule
from scraper.demosite.site import RECOVERS, NewsSite
from scraper.distributed.broker import Broker, HostGates, Queue
from scraper.distributed.messages import (
    Delivery,
    FetchJob,
    RunRequest,
    ScheduleSource,
    decode_delivery,
    decode_job,
    decode_run,
    encode,
    job_key,
)
from scraper.distributed.runs import RunClient
from scraper.errors import BrokerError
from scraper.models import FrontierItem, Page, Purpose
from scraper.pipeline import assess, choose_profile
from scraper.store import SCHEMA_VERSION

from . import brokered
from .conftest import ROOT, ServedSite
from .crawling import assert_archive_consistent, crawl, query, site_articles, site_log, write_schedule

#: One `now` for every demo site of a test, so two sites of one seed serve the same articles.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[brokered.RedisServer]:
    server = brokered.RedisServer(tmp_path / "redis")
    yield server
    server.stop()


class Cluster:
    """A writer and workers on one Redis, stopped at the end of the test."""

    def __init__(self, redis: brokered.RedisServer, directory: Path) -> None:
        self.redis = redis
        self.directory = directory
        self.archives = directory / "archives"
        self.roles: list[brokered.Role] = []

    def worker(self, *extra: str) -> brokered.Role:
        role = brokered.worker(self.redis.url, self.directory / f"worker-{len(self.roles)}.log", *extra)
        self.roles.append(role)
        return role

    def writer(self, *, kill_in_commit: int = 0) -> brokered.Role:
        log = self.directory / f"writer-{len(self.roles)}.log"
        role = brokered.writer(self.redis.url, self.archives, log, kill_in_commit=kill_in_commit)
        self.roles.append(role)
        return role

    def crawl(self, schedule: Path) -> subprocess.Popen[str]:
        """`scrape crawl SCHEDULE --redis`, started and left running (its output piped)."""
        return subprocess.Popen(
            [sys.executable, "-m", "scraper", "crawl", str(schedule), "--redis", self.redis.url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> None:
        for role in self.roles:
            role.stop()


@pytest.fixture
def cluster(redis_server: brokered.RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(redis_server, tmp_path)
    yield running
    running.stop()


_SITES: list[ServedSite] = []


@pytest.fixture(autouse=True)
def _stop_sites() -> Iterator[None]:
    yield
    while _SITES:
        served = _SITES.pop()
        served.process.terminate()
        served.process.wait(timeout=10)


def serve(articles: int, *, hostile: bool = True) -> ServedSite:
    """A demo site in a process of its own (its big pages stay out of this one's memory), dated NOW: two sites
    of one size serve the same articles."""
    code = (
        "from datetime import datetime\n"
        "from scraper.demosite.app import run\n"
        "from scraper.demosite.site import NewsSite\n"
        f"site = NewsSite(articles={articles}, hostile={hostile}, now=datetime.fromisoformat({NOW.isoformat()!r}))\n"
        "run(port=0, site=site, root=None, on_ready=lambda url: print('Serving on ' + url, flush=True))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    served = ServedSite(process, process.stdout.readline().split(" on ", 1)[1].strip())
    _SITES.append(served)
    return served


def shard_db(cluster: Cluster, served: ServedSite) -> Path:
    return cluster.archives / f"{served.base.removeprefix('http://').replace(':', '_')}.db"


def snapshot(db: Path, base: str) -> dict[str, list[tuple[Any, ...]]]:
    """What two crawls of two copies of one site must agree on: articles, versions, view readings, ledger."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        found = [tuple(v.replace(base, "BASE") if isinstance(v, str) else v for v in row) for row in query(db, sql)]
        return sorted(found, key=repr)

    return {
        "articles": rows(
            "SELECT url, article_id, title, lead, author, published_at, published_raw, published_from, modified_at,"
            " views, photo_credit, source, image_url, tags, language, body_text, body_html, parse_status, profile,"
            " field_sources, warnings, content_hash, version, fetched_url, removed_at, last_modified FROM articles"
        ),
        "versions": rows(
            "SELECT url, version, content_hash, changed_fields, title, lead, author, published_at, modified_at,"
            " body_text, body_html FROM article_versions"
        ),
        "views": rows("SELECT url, views FROM view_counts"),
        "aliases": rows("SELECT alias, url FROM url_aliases"),
        "ledger": rows("SELECT url, purpose, status, error_kind FROM fetches"),
    }


def expected_ids(site: ServedSite) -> set[str]:
    return {str(a["id"]) for a in site_articles(site) if a["behaviour"] in (None, *RECOVERS)}


def requests_for(site: ServedSite, path: str) -> int:
    return len([entry for entry in site_log(site) if entry["path"] == path])


def captures(db: Path) -> dict[str, int]:
    """Successful article captures written per article id (1 each in one run: nothing written twice)."""
    found = query(
        db,
        "SELECT a.article_id, count(*) FROM fetches f JOIN articles a ON a.page_hash = f.page_hash"
        " WHERE f.status = 200 AND f.purpose = 'article' GROUP BY a.article_id",
    )
    return {str(article_id): int(count) for article_id, count in found}


# -- messages ----------------------------------------------------------------------------------------------------


def test_an_outcome_travels_to_the_writer_unchanged() -> None:
    site = NewsSite(articles=8, hostile=False, now=NOW)
    base = "http://127.0.0.1:9"
    article = site.articles[3]
    body = site.render_article(article, base)
    page = Page(
        url=base + article.path + "?utm_source=x",
        final_url=base + article.path,
        status=200,
        headers={"content-type": "text/html; charset=utf-8", "etag": '"abc"'},
        body=body,
        text=body.decode("utf-8"),
        encoding="utf-8",
        encoding_source="header",
        content_type="text/html",
        fetched_at=NOW,
        elapsed_ms=12,
    )
    outcome = assess(page, choose_profile(page.url, "baigenews"))
    assert outcome.article is not None and outcome.article.title
    source = ScheduleSource("schedules/x.toml", 'name = "x"\n')
    item = FrontierItem("x", page.url, Purpose.ARTICLE, 2, 1, '"e"', None)
    delivery = Delivery("k", "127.0.0.1_9", 7, source, item, outcome, 3, 2)
    # Through JSON, as the broker carries it.
    again = decode_delivery(json.loads(json.dumps(encode(delivery))))
    assert again == delivery
    assert type(again.outcome.article.parse_status) is type(outcome.article.parse_status)  # type: ignore[union-attr]
    assert again.outcome.page is not None and again.outcome.page.sha256 == page.sha256
    job = FetchJob(job_key("s", "x", 7, page.url, 1), "s", 7, source, item)
    assert decode_job(json.loads(json.dumps(encode(job)))) == job
    request = RunRequest("r1", source, "manual", NOW, 5)
    assert decode_run(json.loads(json.dumps(encode(request)))) == request


def test_a_message_that_is_not_one_is_a_broker_error() -> None:
    with pytest.raises(BrokerError, match="delivery message from the broker cannot be read"):
        decode_delivery({"key": "k"})
    with pytest.raises(BrokerError, match="fetch job"):
        decode_job(None)


def test_job_keys_name_one_try_of_one_url_in_one_run() -> None:
    assert job_key("s", "x", 1, "http://a/", 0) == job_key("s", "x", 1, "http://a/", 0)
    assert len({job_key("s", "x", 1, "http://a/", 0), job_key("s", "x", 1, "http://a/", 1)}) == 2
    assert job_key("s", "x", 1, "http://a/", 0) != job_key("s", "x", 2, "http://a/", 0)


# -- politeness through Redis -------------------------------------------------------------------------------------


def test_politeness_holds_across_gate_clients(redis_server: brokered.RedisServer) -> None:
    """Four clients (as four worker processes would be), 24 fetches of one host: never more than 2 at once, and
    never two requests closer than the delay, by the clock of the sender."""
    delay = 0.04
    sent: list[float] = []
    inside = 0
    most = 0

    async def one(gates: HostGates, index: int) -> None:
        nonlocal inside, most
        async with gates.fetch("http://example.test", concurrency=2, delay=delay, send_ttl=5) as turns:
            await turns.slot()
            inside += 1
            most = max(most, inside)
            for _ in range(1 + index % 2):  # some fetches follow a redirect: two requests
                await turns.wait()
                sent.append(time.monotonic())
                await turns.sent()
                await asyncio.sleep(0.01 * (index % 3))
            inside -= 1

    async def main() -> None:
        clients = [HostGates(redis_server.url) for _ in range(4)]
        await asyncio.gather(*(one(clients[i % 4], i) for i in range(24)))
        for client in clients:
            await client.close()

    asyncio.run(main())
    assert len(sent) == 36
    gaps = [b - a for a, b in zip(sorted(sent), sorted(sent)[1:], strict=False)]
    assert min(gaps) >= delay
    assert most == 2


def test_retry_after_holds_a_host_for_every_client(redis_server: brokered.RedisServer) -> None:
    async def main() -> float:
        first, second = HostGates(redis_server.url), HostGates(redis_server.url)
        await first.pause("http://example.test", 0.3)
        started = time.monotonic()
        async with second.fetch("http://example.test", concurrency=1, delay=0, send_ttl=5) as turns:
            await turns.slot()
            await turns.wait()
        waited = time.monotonic() - started
        await first.close()
        await second.close()
        return waited

    assert asyncio.run(main()) >= 0.25


def test_the_gate_waits_for_redis_to_come_back(redis_server: brokered.RedisServer) -> None:
    async def main() -> None:
        gates = HostGates(redis_server.url)
        await gates.pause("http://example.test", 0.01)
        redis_server.stop()
        restart = asyncio.get_running_loop().call_later(1.0, redis_server.start)
        await gates.pause("http://example.test", 0.01)  # retried until Redis answers again
        restart.cancel()
        await gates.close()

    asyncio.run(main())
    assert redis_server.client().exists("scrape:host:http://example.test")


# -- whole crawls -------------------------------------------------------------------------------------------------


def test_two_workers_archive_what_one_machine_archives(cluster: Cluster, tmp_path: Path) -> None:
    """The same demo site (misbehaving articles included) crawled on one machine, and through two workers and the
    writer: the same articles, versions, view readings, aliases and fetch ledger."""
    local_site = serve(30)
    remote_site = serve(30)
    local_db = tmp_path / "local.db"
    done = crawl(write_schedule(_mkdir(tmp_path / "local"), local_site), local_db)
    assert done.returncode == 1, done.stderr  # the site's hostile articles fail on purpose
    cluster.writer()
    cluster.worker()
    cluster.worker()
    schedule = write_schedule(_mkdir(tmp_path / "remote"), remote_site)
    sent = brokered.crawl(cluster.redis.url, schedule)
    assert sent.returncode == 1, sent.stderr
    assert "completed" in sent.stderr
    remote_db = shard_db(cluster, remote_site)
    assert_archive_consistent(remote_db)
    local, remote = snapshot(local_db, local_site.base), snapshot(remote_db, remote_site.base)
    for table in local:
        assert remote[table] == local[table], table
    assert len(local["articles"]) > 20 and len(local["views"]) == len(local["articles"])
    # robots.txt was fetched once for both workers, and both workers did fetch jobs.
    assert [row for row in local["ledger"] if row[1] == "robots"] == [("BASE/robots.txt", "robots", 200, None)]
    rows = query(remote_db, "SELECT count(*) FROM deliveries")[0][0]
    assert rows == query(remote_db, "SELECT count(*) FROM fetches")[0][0]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_worker_killed_mid_fetch_has_its_job_redelivered(cluster: Cluster, tmp_path: Path) -> None:
    served = serve(12)
    slow = next(a for a in site_articles(served) if a["behaviour"] == "slow")  # answered after 1.5 s
    cluster.writer()
    doomed = cluster.worker()
    schedule = write_schedule(_mkdir(tmp_path / "s"), served)
    crawling = cluster.crawl(schedule)
    deadline = time.monotonic() + 60
    while not requests_for(served, slow["path"]):
        assert time.monotonic() < deadline, "the slow article was never requested"
        time.sleep(0.02)
    doomed.kill()  # mid-fetch: the server is still composing its answer
    cluster.worker()
    _, stderr = crawling.communicate(timeout=120)
    assert "completed" in stderr
    db = shard_db(cluster, served)
    assert requests_for(served, slow["path"]) >= 2  # fetched again by the second worker
    assert str(slow["id"]) in {str(r[0]) for r in query(db, "SELECT article_id FROM articles")}
    assert expected_ids(served) <= set(captures(db))
    assert set(captures(db).values()) == {1}  # each page archived once
    assert_archive_consistent(db)


def test_a_writer_killed_mid_batch_writes_each_delivery_once(cluster: Cluster, tmp_path: Path) -> None:
    """Five deliveries wait; the writer takes them as one batch, writes two and dies inside the third commit, before
    acknowledging any. They come back to the next writer, which skips the two already written."""
    site = NewsSite(articles=5, hostile=False, now=NOW)
    base = "http://127.0.0.1:9"
    source = ScheduleSource("x.toml", 'name = "x"\nlistings = ["http://127.0.0.1:9/news/"]\nallow_private = true\n')
    broker = Broker(cluster.redis.url)
    keys = []
    for index, article in enumerate(site.articles):
        body = site.render_article(article, base)
        page = Page(
            base + article.path, base + article.path, 200, {}, body, body.decode(), "utf-8", "header", "text/html", NOW
        )
        outcome = assess(page, choose_profile(page.url, "baigenews"))
        keys.append(f"key-{index}")
        broker.send(Queue.DELIVERIES, encode(Delivery(keys[-1], "site_a", 1, source, None, outcome)))
    broker.close()
    # The first SCHEMA_VERSION commits create the new archive's schema (one per migration); the next two write
    # two deliveries; it dies in the one after.
    doomed = cluster.writer(kill_in_commit=SCHEMA_VERSION + 3)
    doomed.process.wait(timeout=60)
    assert doomed.process.returncode == -9
    db = cluster.archives / "site_a.db"
    assert query(db, "SELECT key FROM deliveries ORDER BY key") == [("key-0",), ("key-1",)]
    second = cluster.writer()
    deadline = time.monotonic() + 60
    while query(db, "SELECT count(*) FROM deliveries")[0][0] < 5:
        assert time.monotonic() < deadline, second.text()
        time.sleep(0.1)
    assert second.stop() == 0
    assert "Writer stopped: 3 deliveries written, 2 duplicates skipped" in second.text()
    assert query(db, "SELECT count(*) FROM fetches")[0][0] == 5
    assert query(db, "SELECT count(*) FROM articles")[0][0] == 5
    assert query(db, "SELECT count(*) FROM view_counts")[0][0] == 5
    assert_archive_consistent(db)


def test_a_writer_killed_mid_run_resumes_the_run_with_nothing_lost_or_written_twice(
    cluster: Cluster, tmp_path: Path
) -> None:
    served = serve(30, hostile=False)
    doomed = cluster.writer(kill_in_commit=30)  # a few run commits, then deliveries: it dies inside one
    cluster.worker()
    cluster.worker()
    schedule = write_schedule(_mkdir(tmp_path / "s"), served, politeness={"delay": 0.01})
    crawling = cluster.crawl(schedule)
    doomed.process.wait(timeout=60)
    assert doomed.process.returncode == -9
    cluster.writer()
    _, stderr = crawling.communicate(timeout=120)
    assert "completed" in stderr, stderr
    db = shard_db(cluster, served)
    assert set(captures(db)) == expected_ids(served)
    assert set(captures(db).values()) == {1}
    assert query(db, "SELECT count(*) FROM view_counts")[0][0] == len(expected_ids(served))
    assert query(db, "SELECT count(*), count(DISTINCT url) FROM article_versions")[0] == (30, 30)
    assert query(db, "SELECT count(*) FROM crawl_runs")[0][0] == 1  # the same run went on
    assert_archive_consistent(db)


def test_a_redis_restart_with_its_append_only_file_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    served = serve(40, hostile=False)
    cluster.writer()
    cluster.worker()
    schedule = write_schedule(_mkdir(tmp_path / "s"), served, politeness={"delay": 0.02, "concurrency": 2})
    crawling = cluster.crawl(schedule)
    deadline = time.monotonic() + 60
    while len([e for e in site_log(served) if str(e["path"]).rstrip("/").rsplit("_", 1)[-1].isdigit()]) < 10:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    cluster.redis.stop()
    time.sleep(1.0)
    cluster.redis.start()
    _, stderr = crawling.communicate(timeout=180)
    assert "completed" in stderr, stderr
    db = shard_db(cluster, served)
    assert set(captures(db)) == expected_ids(served)
    assert set(captures(db).values()) == {1}
    assert_archive_consistent(db)


def test_a_run_request_handed_over_twice_runs_once(cluster: Cluster, tmp_path: Path) -> None:
    served = serve(5, hostile=False)
    schedule = load_schedule(write_schedule(_mkdir(tmp_path / "s"), served))
    request = RunRequest("twice", ScheduleSource.of(schedule), "manual")
    broker = Broker(cluster.redis.url)
    broker.send(Queue.RUNS, encode(request))
    broker.send(Queue.RUNS, encode(request))
    cluster.writer()
    cluster.worker()
    client = RunClient(cluster.redis.url)
    result = client.wait("twice", give_up=lambda: False)
    assert result is not None and result.status == "completed" and result.new_articles == 5
    # Sent once more after its run ended (a writer that died before acknowledging it): answered, not run again.
    broker.send(Queue.RUNS, encode(request))
    deadline = time.monotonic() + 30
    while broker.waiting(Queue.RUNS):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    client.close()
    broker.close()
    assert query(shard_db(cluster, served), "SELECT count(*), max(request) FROM crawl_runs") == [(1, "twice")]


def test_the_scheduler_sends_its_runs_to_the_writer(cluster: Cluster, tmp_path: Path) -> None:
    served = serve(6, hostile=False)
    directory = _mkdir(tmp_path / "schedules")
    path = write_schedule(directory, served, name="steady")
    path.write_text(path.read_text(encoding="utf-8") + '[trigger]\ninterval = "2s"\n', encoding="utf-8")
    cluster.writer()
    cluster.worker()
    command = [sys.executable, "-m", "scraper", "schedule", "run", "--schedules", str(directory)]
    service = subprocess.Popen(
        [*command, "--redis", cluster.redis.url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    db = shard_db(cluster, served)
    try:
        deadline = time.monotonic() + 60
        while not db.exists() or query(db, "SELECT count(*) FROM crawl_runs WHERE status = 'completed'")[0][0] < 2:
            assert time.monotonic() < deadline and service.poll() is None
            time.sleep(0.2)
        # One scheduler per broker: a second one is refused.
        second = subprocess.run(
            [*command, "--redis", cluster.redis.url], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert second.returncode == 1 and "Another scheduler" in second.stderr and "only one may" in second.stderr
    finally:
        service.send_signal(signal.SIGTERM)
        _, stderr = service.communicate(timeout=60)
    assert service.returncode == 0, stderr
    assert "schedule steady: steady: run 1 in" in stderr and "completed: " in stderr
    assert query(db, "SELECT DISTINCT trigger FROM crawl_runs") == [("schedule",)]
    assert query(db, "SELECT count(*) FROM crawl_runs WHERE scheduled_for IS NULL") == [(0,)]
    assert query(db, "SELECT count(*) FROM articles") == [(6,)]


# -- the commands --------------------------------------------------------------------------------------------------


def test_a_second_writer_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    first = cluster.writer()
    time.sleep(0.2)
    deadline = time.monotonic() + 20
    while "lease" not in first.text() and first.process.poll() is None and time.monotonic() < deadline:
        if cluster.redis.client().get("scrape:lease:writer"):
            break
        time.sleep(0.05)
    done = subprocess.run(
        [sys.executable, "-m", "scraper", "writer", "--redis", cluster.redis.url, "--archives", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Another writer" in done.stderr and "only one writer may" in done.stderr


def test_an_unreachable_broker_is_one_sentence() -> None:
    port = brokered.free_port()
    done = subprocess.run(
        [sys.executable, "-m", "scraper", "worker", "--redis", f"redis://:secret@127.0.0.1:{port}/0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: The broker redis://:***@127.0.0.1") and "cannot be reached" in done.stderr
    assert "secret" not in done.stderr


def test_a_url_that_is_not_redis_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scraper", "writer", "--redis", "http://127.0.0.1/", "--archives", "x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "is not a Redis URL" in done.stderr


def test_without_the_extra_nothing_imports_redis_and_the_distributed_commands_say_what_to_install() -> None:
    script = (
        "import sys\n"
        "sys.modules['dramatiq'] = None\n"
        "sys.modules['redis'] = None\n"
        "import scraper.cli, scraper.scheduler, scraper.crawl.run, scraper.serve.server\n"
        "assert 'dramatiq' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "sys.argv = ['scrape', 'worker', '--redis', 'redis://127.0.0.1:1/0']\n"
        "scraper.cli.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "pip install 'news-archive-scraper[distributed]'" in done.stderr


def test_a_schedule_on_two_sites_is_refused_by_the_writer(cluster: Cluster, tmp_path: Path) -> None:
    one = serve(3, hostile=False)
    two = serve(3, hostile=False)
    schedule = write_schedule(_mkdir(tmp_path / "s"), one, sitemaps=[two.url("sitemap.xml")])
    cluster.writer()
    done = brokered.crawl(cluster.redis.url, schedule, timeout=60)
    assert done.returncode == 1
    assert "starts on 2 sites" in done.stderr and "give each site a schedule of its own" in done.stderr
