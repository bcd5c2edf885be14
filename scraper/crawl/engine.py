"""The crawl loop: claim due URLs from the frontier, fetch them politely, assess and archive each, repeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scraper import locks, settings
from scraper.config import Schedule
from scraper.crawl.discover import Discoverer
from scraper.crawl.robots import RobotsMode, RobotsRules, rules_from_response
from scraper.errors import CrawlLocked, ErrorKind, FetchError, StoreError
from scraper.fetch import Fetcher, FetchPolicy
from scraper.models import (
    Discovered,
    FrontierItem,
    FrontierState,
    FrontierUpdate,
    Outcome,
    Page,
    Purpose,
    RunStatus,
    Verdict,
)
from scraper.netguard import Resolver, system_resolver
from scraper.pipeline import assess, choose_profile, failure, fetch_failed, ledger_row, write
from scraper.store import Archive, CaptureResult
from scraper.urls import canonicalize, host_of

log = logging.getLogger("scraper.crawl")
T = TypeVar("T")

#: The longest a retry waits, whatever the backoff says.
MAX_BACKOFF = 300.0
#: How long a fetched robots.txt is trusted (RFC 9309 allows 24 hours).
ROBOTS_CACHE = timedelta(hours=24)


@dataclass
class Progress:
    """Counts of this run, for the progress display."""

    fetched: int = 0
    new_articles: int = 0
    new_versions: int = 0
    retries: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    schedule: str
    status: RunStatus
    pages_fetched: int
    new_articles: int
    new_versions: int
    errors: int
    message: str | None


class HostGate:
    """Per-host politeness: at most `concurrency` fetches at once, and `delay` seconds between
    requests going out (redirect hops included), counted from when each request was really sent."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.delay = delay
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Turn]:
        """One fetch from this host: its requests wait for `Turn.wait` and report `Turn.sent`."""
        async with self.semaphore:
            turn = Turn(self)
            try:
                yield turn
            finally:
                turn.close()

    def pause(self, seconds: float) -> None:
        """Hold every request to this host for `seconds` (a Retry-After)."""
        self._next_start = max(self._next_start, asyncio.get_running_loop().time() + seconds)


class Turn:
    """The requests of one fetch through a HostGate. From a grant until its request is on the wire no other request
    to the host is granted, and the delay counts from the send: a request granted but then kept from the CPU (a
    page parsing meanwhile) would otherwise go out late, and the next one on time, closer than the delay."""

    def __init__(self, gate: HostGate) -> None:
        self.gate = gate
        self.holding = False

    async def wait(self) -> None:
        """Wait until this fetch may send its next request; the caller sends it, then calls `sent`."""
        gate = self.gate
        await gate._lock.acquire()
        try:
            wait = gate._next_start - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
        except BaseException:
            gate._lock.release()
            raise
        self.holding = True

    async def sent(self) -> None:
        """The granted request is on the wire: the next one may go `delay` seconds from now."""
        self.close()

    def close(self) -> None:
        """Let the next request go (a request granted but never sent counts as sent now)."""
        if self.holding:
            self.holding = False
            gate = self.gate
            gate._next_start = max(gate._next_start, asyncio.get_running_loop().time() + gate.delay)
            gate._lock.release()


def backoff(tries: int, base: float) -> float:
    """Exponential backoff with jitter: about base, 2·base, 4·base ... seconds, each between half and all of it."""
    ceiling = min(MAX_BACKOFF, base * 2 ** max(0, tries - 1))
    return random.uniform(ceiling / 2, ceiling)


def origin(url: str) -> str:
    """The scheme and host (with port) of a URL: the unit of politeness and of robots.txt."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def fetch_policy(schedule: Schedule, *, allow_private: bool) -> FetchPolicy:
    """The fetcher's limits for a schedule's crawl."""
    return FetchPolicy(
        allow_private=allow_private,
        total_timeout=schedule.fetch_timeout,
        read_timeout=min(schedule.fetch_timeout, settings.READ_TIMEOUT),
        connect_timeout=min(schedule.fetch_timeout, settings.CONNECT_TIMEOUT),
        max_connections=schedule.global_concurrency,
    )


def seeds(schedule: Schedule, archive: Archive, *, now: datetime) -> tuple[list[Discovered], int]:
    """A run's start URLs and the re-visits now due, to seed the frontier with; and how many are re-visits."""
    found = [Discovered(canonicalize(u), Purpose.LISTING) for u in schedule.listings]
    found += [Discovered(canonicalize(u), Purpose.FEED) for u in schedule.feeds]
    found += [Discovered(canonicalize(u), Purpose.SITEMAP) for u in schedule.sitemaps]
    sites = sorted({host_of(u) for u in schedule.start_urls})
    revisits = archive.frontier.due_revisits(sites, now=now, interval=schedule.revisit_interval)
    return found + [Discovered(url, Purpose.REVISIT) for url in revisits], len(revisits)


def robots_refusal(item: FrontierItem, rules: RobotsRules, user_agent: str) -> Outcome | None:
    """The outcome of a URL that robots.txt keeps us from fetching (disallowed, or a Crawl-delay too long)."""
    if not rules.allows(item.url, user_agent):
        reason = rules.reason if rules.mode == RobotsMode.DISALLOW_ALL else "robots.txt disallows it"
        return failure(item.url, f"Skipped {item.url}: {reason}.", ErrorKind.ROBOTS, purpose=item.kind)
    crawl_delay = rules.crawl_delay(user_agent) or 0.0
    if crawl_delay > settings.MAX_CRAWL_DELAY:
        message = (
            f"Deferred {item.url}: robots.txt asks for a Crawl-delay of {crawl_delay:g} s, "
            f"more than the {settings.MAX_CRAWL_DELAY:g} s this crawler waits."
        )
        return failure(item.url, message, ErrorKind.CRAWL_DELAY, purpose=item.kind)
    return None


def host_delay(schedule: Schedule, rules: RobotsRules, user_agent: str) -> float:
    """Seconds between two requests to a host: the schedule's delay, or robots.txt's longer Crawl-delay."""
    return max(schedule.delay, rules.crawl_delay(user_agent) or 0.0)


def conditional_headers(schedule: Schedule, item: FrontierItem) -> dict[str, str]:
    """If-None-Match / If-Modified-Since for a re-visit of an archived article."""
    headers: dict[str, str] = {}
    if item.kind == Purpose.REVISIT and schedule.conditional:
        if item.etag:
            headers["If-None-Match"] = item.etag
        if item.last_modified:
            headers["If-Modified-Since"] = item.last_modified
    return headers


def robots_answer(url: str, fetched: Page | FetchError) -> tuple[Outcome, RobotsRules]:
    """The ledger outcome of fetching a host's robots.txt, and the rules it gives."""
    if isinstance(fetched, FetchError):
        return fetch_failed(url, fetched, purpose=Purpose.ROBOTS), rules_from_response(None, b"", error=fetched.kind)
    outcome = Outcome(Verdict.DISCOVERED, ledger_row(fetched, purpose=Purpose.ROBOTS), page=fetched)
    return outcome, rules_from_response(fetched.status, fetched.body)


def settle(schedule: Schedule, run_id: int, item: FrontierItem, outcome: Outcome) -> FrontierUpdate:
    """Decide what becomes of a frontier URL after its outcome: done, a retry later, or given up."""
    verdict = outcome.verdict
    if verdict == Verdict.GONE and item.kind == Purpose.REVISIT:
        return FrontierUpdate(item, FrontierState.DONE, run_id)
    if verdict in (Verdict.GONE, Verdict.FAILED):
        log.warning("%s", outcome.error)
        return FrontierUpdate(item, FrontierState.FAILED, run_id)
    if verdict != Verdict.RETRY:
        if verdict == Verdict.SKIPPED:
            log.info("%s", outcome.error)
        return FrontierUpdate(item, FrontierState.DONE, run_id)
    tries = item.tries + 1
    wait = outcome.retry_after
    if tries < schedule.max_tries and (wait is None or wait <= settings.MAX_RETRY_AFTER):
        delay = wait if wait is not None else backoff(tries, schedule.retry_delay)
        log.info(
            "will retry %s in %.1f s (try %d of %d): %s",
            item.url,
            delay,
            tries,
            schedule.max_tries,
            outcome.error,
        )
        return FrontierUpdate(item, FrontierState.QUEUED, run_id, due_at=datetime.now(UTC) + timedelta(seconds=delay))
    log.warning("gave up on %s after %d tries: %s", item.url, tries, outcome.error)
    return FrontierUpdate(item, FrontierState.FAILED, run_id)


def _lock_path(archive: Archive, schedule: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", schedule)
    return Path(f"{archive.path}.crawl-{slug}.lock")


class Crawler:
    """One run of one schedule against one archive."""

    def __init__(
        self,
        schedule: Schedule,
        archive: Archive,
        *,
        max_pages: int | None = None,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        on_progress: Callable[[Progress], None] | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.schedule = schedule
        self.archive = archive
        self.max_pages = max_pages or schedule.max_pages
        self.policy = fetch_policy(schedule, allow_private=allow_private or schedule.allow_private)
        self.resolver = resolver
        self.profile = choose_profile(schedule.start_urls[0], schedule.profile)
        self.discoverer = Discoverer(schedule)
        self.progress = Progress()
        self.on_progress = on_progress
        self.stop = stop or asyncio.Event()
        self._gates: dict[str, HostGate] = {}
        self._robots: dict[str, asyncio.Task[RobotsRules]] = {}
        self._fetcher: Fetcher | None = None
        self._run_id = 0
        self._fatal: BaseException | None = None
        # Parsing and archive writes each run on a worker thread of their own: the event loop stays free to
        # fetch, to keep the run's deadline and to hear a signal, and a page is parsed while another is written.
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive")

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call an archive function on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, partial(function, *args, **kwargs))

    # -- the run -------------------------------------------------------------

    async def run(self, *, trigger: str = "manual", scheduled_for: datetime | None = None) -> RunSummary:
        """Crawl until the frontier is empty, the page cap or the run deadline is reached, or `stop` is set.

        CrawlLocked if another crawl of this schedule is writing to this archive.
        """
        lock = _lock_path(self.archive, self.schedule.name)
        refuse = partial(
            CrawlLocked,
            f"Another crawl of schedule {self.schedule.name!r} is already writing to {self.archive.path}; "
            "wait for it to end (one crawl per schedule and archive at a time).",
            path=str(lock),
        )
        with locks.hold(lock, lambda holder: refuse()):
            try:
                return await self._run(trigger, scheduled_for)
            finally:
                self._parser.shutdown(wait=True)
                self._writer.shutdown(wait=True)

    async def _run(self, trigger: str, scheduled_for: datetime | None) -> RunSummary:
        schedule = self.schedule
        self._run_id = self.archive.runs.start(schedule.name, trigger=trigger, scheduled_for=scheduled_for)
        found, revisits = seeds(schedule, self.archive, now=datetime.now(UTC))
        self.archive.frontier.seed(schedule.name, found, run_id=self._run_id)
        log.info(
            "run %d of %s: %d start URLs, %d re-visits due",
            self._run_id,
            schedule.name,
            len(found) - revisits,
            revisits,
        )
        status, message = RunStatus.FAILED, None
        try:
            async with Fetcher(self.policy, resolver=self.resolver) as fetcher:
                self._fetcher = fetcher
                status, message = await asyncio.wait_for(self._loop(), timeout=schedule.run_timeout)
        except TimeoutError:
            status = RunStatus.TIMEOUT
            message = f"the run took longer than {schedule.run_timeout:g} s and was stopped"
        except BaseException as exc:
            self.archive.runs.finish(self._run_id, RunStatus.FAILED, str(exc) or type(exc).__name__)
            raise
        if self._fatal is not None:
            # Only the archive itself failing (disk full, read-only) ends a run: record it if it still can,
            # then report the archive's own error; what was committed stays as it is.
            with contextlib.suppress(StoreError):
                self.archive.runs.finish(self._run_id, RunStatus.FAILED, str(self._fatal))
            raise self._fatal
        if warning := self.discoverer.pattern_warning():
            log.warning("schedule %s: %s", schedule.name, warning)
            message = f"{message}; {warning}" if message else warning
        row = self.archive.runs.finish(self._run_id, status, message)
        return RunSummary(
            run_id=self._run_id,
            schedule=schedule.name,
            status=status,
            pages_fetched=row["pages_fetched"],
            new_articles=row["new_articles"],
            new_versions=row["new_versions"],
            errors=row["errors"],
            message=message,
        )

    async def _loop(self) -> tuple[RunStatus, str | None]:
        tasks: set[asyncio.Task[None]] = set()
        claimed = 0
        status, message = RunStatus.COMPLETED, None
        frontier = self.archive.frontier
        try:
            while True:
                if self.stop.is_set():
                    status, message = RunStatus.INTERRUPTED, "stopped by a signal; the frontier keeps the rest"
                    break
                if self._fatal is not None:
                    break
                free = self.schedule.global_concurrency - len(tasks)
                if free > 0 and claimed < self.max_pages:
                    items = await self._db(
                        frontier.claim,
                        self.schedule.name,
                        limit=min(free, self.max_pages - claimed),
                        now=datetime.now(UTC),
                    )
                    claimed += len(items)
                    tasks.update(asyncio.create_task(self._process(item)) for item in items)
                if not tasks:
                    due = await self._db(frontier.next_due, self.schedule.name)
                    if due is None:
                        break
                    if claimed >= self.max_pages:
                        status = RunStatus.CAPPED
                        message = f"page cap of {self.max_pages} reached; the rest waits in the frontier"
                        break
                    wait = (due - datetime.now(UTC)).total_seconds()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), timeout=max(0.01, min(wait, 1.0)))
                    continue
                wait_for: float | None = None
                if free > 0 and claimed < self.max_pages:
                    # Something else may fall due (a retry) while these run.
                    wait_for = 0.25
                done, tasks = await asyncio.wait(tasks, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if (error := task.exception()) is not None:
                        self._fatal = error
        finally:
            if tasks:
                # In-flight pages finish and are written, whatever stopped the loop.
                await asyncio.gather(*tasks, return_exceptions=True)
        return status, message

    # -- one URL ---------------------------------------------------------------

    async def _process(self, item: FrontierItem) -> None:
        """Fetch, assess and archive one URL. Whatever goes wrong with it is its own failure (a ledger row, a try
        counted, a retry or giving up); only the archive failing (StoreError) escapes, and ends the run."""
        try:
            outcome = await self._fetch_and_assess(item)
        except Exception as exc:
            log.exception("processing %s failed", item.url)
            message = f"Processing {item.url} failed ({type(exc).__name__}: {str(exc)[:200] or 'no message'})."
            outcome = failure(item.url, message, ErrorKind.INTERNAL, purpose=item.kind, retry=True)
        outcome, capture = await self._db(
            write, self.archive, outcome, run_id=self._run_id, settle=partial(self._settle, item)
        )
        self._count(outcome, capture)

    async def _fetch_and_assess(self, item: FrontierItem) -> Outcome:
        assert self._fetcher is not None
        host = origin(item.url)
        rules = await self._rules(host)
        if (refused := robots_refusal(item, rules, self.policy.user_agent)) is not None:
            return refused
        headers = conditional_headers(self.schedule, item)
        gate = self._gate(host, rules)
        async with gate.slot() as turn:
            try:
                page = await self._fetcher.fetch(
                    item.url, headers=headers, before_request=turn.wait, after_send=turn.sent
                )
            except FetchError as exc:
                return fetch_failed(item.url, exc, purpose=item.kind)
        self.progress.fetched += 1
        discover = partial(self.discoverer, item=item)
        outcome = await asyncio.get_running_loop().run_in_executor(
            self._parser, partial(assess, page, self.profile, purpose=item.kind, discover=discover)
        )
        if outcome.retry_after is not None:
            gate.pause(min(outcome.retry_after, settings.MAX_RETRY_AFTER))
        return outcome

    def _settle(self, item: FrontierItem, outcome: Outcome) -> FrontierUpdate:
        return settle(self.schedule, self._run_id, item, outcome)

    def _count(self, outcome: Outcome, capture: CaptureResult | None) -> None:
        progress = self.progress
        if capture is not None:
            progress.new_articles += capture.new_article
            progress.new_versions += capture.new_version and not capture.new_article
        if outcome.verdict == Verdict.RETRY:
            progress.retries += 1
        elif outcome.verdict in (Verdict.FAILED, Verdict.GONE):
            progress.errors += 1
        if self.on_progress is not None:
            self.on_progress(progress)

    # -- politeness ------------------------------------------------------------

    def _gate(self, host: str, rules: RobotsRules | None = None) -> HostGate:
        """The host's gate: the schedule's delay until robots.txt is read, then its Crawl-delay if longer."""
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(self.schedule.concurrency, self.schedule.delay)
        if rules is not None:
            gate.delay = host_delay(self.schedule, rules, self.policy.user_agent)
        return gate

    async def _rules(self, host: str) -> RobotsRules:
        task = self._robots.get(host)
        if task is None:
            task = self._robots[host] = asyncio.create_task(self._fetch_robots(host))
        return await task

    async def _fetch_robots(self, host: str) -> RobotsRules:
        assert self._fetcher is not None
        url = f"{host}/robots.txt"
        since = datetime.now(UTC) - ROBOTS_CACHE
        cached = await self._db(self.archive.recent_response, url, purpose=Purpose.ROBOTS, since=since)
        if cached is not None:
            # RFC 9309: a robots.txt may be cached for up to 24 hours (answers, never failures).
            status, body, when = cached
            rules = rules_from_response(status, body)
            rules.reason += f" (as fetched at {when})"
            log.info("%s: %s", host, rules.reason)
            return rules
        fetched: Page | FetchError
        async with self._gate(host).slot() as turn:
            try:
                fetched = await self._fetcher.fetch(url, before_request=turn.wait, after_send=turn.sent)
            except FetchError as exc:
                fetched = exc
        outcome, rules = robots_answer(url, fetched)
        await self._db(write, self.archive, outcome, run_id=self._run_id)
        log.info("%s: %s", host, rules.reason)
        return rules
