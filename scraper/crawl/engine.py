"""The crawl loop: claim due URLs from the frontier, fetch them politely, archive or discover, repeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scraper import settings
from scraper.config import Schedule
from scraper.crawl.feeds import feed_links
from scraper.crawl.robots import RobotsRules, rules_from_response
from scraper.crawl.sitemaps import sitemap_entries
from scraper.errors import ErrorKind, FeedError, FetchError, ParseError, SitemapError, StoreError
from scraper.fetch import Fetcher, FetchPolicy
from scraper.models import Discovered, FetchRecord, FrontierItem, FrontierUpdate, Page, Purpose
from scraper.netguard import Resolver, system_resolver
from scraper.parse.links import page_links
from scraper.pipeline import choose_profile, failure_row, ledger_row, parse_page
from scraper.store import Archive
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
    archived: int = 0
    new_articles: int = 0
    new_versions: int = 0
    retries: int = 0
    errors: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    schedule: str
    status: str  # completed, capped, interrupted, timeout, failed
    pages_fetched: int
    new_articles: int
    new_versions: int
    errors: int
    message: str | None


class HostGate:
    """Per-host politeness: at most `concurrency` fetches at once, and `delay` seconds between
    requests going out (redirect hops included)."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.delay = delay
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.semaphore:
            yield

    async def turn(self) -> None:
        """Wait until the next request to this host may go out; the caller sends it at once."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            wait = self._next_start - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_start = loop.time() + self.delay

    def pause(self, seconds: float) -> None:
        """Hold every request to this host for `seconds` (a Retry-After)."""
        self._next_start = max(self._next_start, asyncio.get_running_loop().time() + seconds)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Read a Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff(tries: int, base: float) -> float:
    """Exponential backoff with jitter: about base, 2·base, 4·base ... seconds, each between half and all of it."""
    ceiling = min(MAX_BACKOFF, base * 2 ** max(0, tries - 1))
    return random.uniform(ceiling / 2, ceiling)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


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
        self.policy = FetchPolicy(
            allow_private=allow_private or schedule.allow_private,
            total_timeout=schedule.fetch_timeout,
            read_timeout=min(schedule.fetch_timeout, settings.READ_TIMEOUT),
            connect_timeout=min(schedule.fetch_timeout, settings.CONNECT_TIMEOUT),
            max_connections=schedule.global_concurrency,
        )
        self.resolver = resolver
        self.profile = choose_profile(schedule.start_urls[0], schedule.profile)
        self.origins = {_origin(url) for url in schedule.start_urls}
        self.progress = Progress()
        self.on_progress = on_progress
        self.stop = stop or asyncio.Event()
        self._gates: dict[str, HostGate] = {}
        self._robots: dict[str, asyncio.Task[RobotsRules]] = {}
        self._fetcher: Fetcher | None = None
        self._run_id = 0
        self._fatal: BaseException | None = None
        # Archive writes run on one worker thread: compression and SQLite release the GIL,
        # so they overlap the event loop's fetching instead of stalling it.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive")

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call an Archive method on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, partial(function, *args, **kwargs))

    # -- the run -------------------------------------------------------------

    async def run(self, *, trigger: str = "manual", scheduled_for: datetime | None = None) -> RunSummary:
        """Crawl until the frontier is empty, the page cap or the run deadline is reached, or `stop` is set."""
        self._run_id = self.archive.start_run(self.schedule.name, trigger=trigger, scheduled_for=scheduled_for)
        now = datetime.now(UTC)
        seeds = [Discovered(canonicalize(u), Purpose.LISTING) for u in self.schedule.listings]
        seeds += [Discovered(canonicalize(u), Purpose.FEED) for u in self.schedule.feeds]
        seeds += [Discovered(canonicalize(u), Purpose.SITEMAP) for u in self.schedule.sitemaps]
        sites = sorted({host_of(u) for u in self.schedule.start_urls})
        revisits = self.archive.due_revisits(sites, now=now, interval=self.schedule.revisit_interval)
        seeds += [Discovered(url, Purpose.REVISIT) for url in revisits]
        self.archive.seed(self.schedule.name, seeds, run_id=self._run_id)
        log.info(
            "run %d of %s: %d start URLs, %d re-visits due",
            self._run_id,
            self.schedule.name,
            len(seeds) - len(revisits),
            len(revisits),
        )
        status, message = "failed", None
        try:
            async with Fetcher(self.policy, resolver=self.resolver) as fetcher:
                self._fetcher = fetcher
                try:
                    status, message = await asyncio.wait_for(self._loop(), timeout=self.schedule.run_timeout)
                finally:
                    self._writer.shutdown(wait=True)
        except TimeoutError:
            status, message = (
                "timeout",
                f"the run took longer than {self.schedule.run_timeout:g} s and was stopped",
            )
        except BaseException as exc:
            status, message = "failed", str(exc) or type(exc).__name__
            self.archive.finish_run(self._run_id, status, message)
            raise
        if self._fatal is not None:
            status, message = "failed", str(self._fatal)
            if isinstance(self._fatal, StoreError):
                # The archive itself failed (disk full, read-only): record the run if it still can,
                # then report the archive's own error; what was committed stays as it is.
                with contextlib.suppress(StoreError):
                    self.archive.finish_run(self._run_id, status, message)
                raise self._fatal
        row = self.archive.finish_run(self._run_id, status, message)
        return RunSummary(
            run_id=self._run_id,
            schedule=self.schedule.name,
            status=status,
            pages_fetched=row["pages_fetched"],
            new_articles=row["new_articles"],
            new_versions=row["new_versions"],
            errors=row["errors"],
            message=message,
        )

    async def _loop(self) -> tuple[str, str | None]:
        tasks: set[asyncio.Task[None]] = set()
        claimed = 0
        status, message = "completed", None
        try:
            while True:
                if self.stop.is_set():
                    status, message = "interrupted", "stopped by a signal; the frontier keeps the rest"
                    break
                if self._fatal is not None:
                    break
                free = self.schedule.global_concurrency - len(tasks)
                if free > 0 and claimed < self.max_pages:
                    items = await self._db(
                        self.archive.claim,
                        self.schedule.name,
                        limit=min(free, self.max_pages - claimed),
                        now=datetime.now(UTC),
                    )
                    claimed += len(items)
                    tasks.update(asyncio.create_task(self._process(item)) for item in items)
                if not tasks:
                    due = await self._db(self.archive.next_due, self.schedule.name)
                    if due is None:
                        break
                    if claimed >= self.max_pages:
                        status = "capped"
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

    def _gate(self, origin: str, rules: RobotsRules) -> HostGate:
        gate = self._gates.get(origin)
        if gate is None:
            delay = max(self.schedule.delay, rules.crawl_delay(self.policy.user_agent) or 0.0)
            gate = self._gates[origin] = HostGate(self.schedule.concurrency, delay)
        return gate

    async def _rules(self, origin: str) -> RobotsRules:
        task = self._robots.get(origin)
        if task is None:
            task = self._robots[origin] = asyncio.create_task(self._fetch_robots(origin))
        return await task

    async def _fetch_robots(self, origin: str) -> RobotsRules:
        assert self._fetcher is not None
        url = f"{origin}/robots.txt"
        since = datetime.now(UTC) - ROBOTS_CACHE
        cached = await self._db(self.archive.recent_response, url, purpose=Purpose.ROBOTS, since=since)
        if cached is not None:
            # RFC 9309: a robots.txt may be cached for up to 24 hours (answers, never failures).
            status, body, when = cached
            rules = rules_from_response(status, body)
            rules.reason += f" (as fetched at {when})"
            log.info("%s: %s", origin, rules.reason)
            return rules
        try:
            page = await self._fetcher.fetch(url)
        except FetchError as exc:
            await self._db(
                self.archive.record_fetch, failure_row(url, exc, purpose=Purpose.ROBOTS), run_id=self._run_id
            )
            rules = rules_from_response(None, b"", error=exc.kind)
        else:
            await self._db(
                self.archive.record_fetch, ledger_row(page, purpose=Purpose.ROBOTS), page=page, run_id=self._run_id
            )
            rules = rules_from_response(page.status, page.body)
        log.info("%s: %s", origin, rules.reason)
        return rules

    async def _skip(self, item: FrontierItem, reason: str, kind: ErrorKind) -> None:
        """A URL not fetched (robots, a deferred host): a ledger row says why, and the run goes on."""
        self.progress.skipped += 1
        record = FetchRecord(
            url=item.url, fetched_at=datetime.now(UTC), error=reason, error_kind=kind, purpose=item.kind
        )
        update = FrontierUpdate(item, "done", self._run_id, error=reason, fetched=False)
        await self._db(self.archive.record_fetch, record, run_id=self._run_id, frontier=update)
        log.info("skipped %s: %s", item.url, reason)

    async def _process(self, item: FrontierItem) -> None:
        assert self._fetcher is not None
        origin = _origin(item.url)
        rules = await self._rules(origin)
        if not rules.allows(item.url, self.policy.user_agent):
            reason = rules.reason if rules.mode == "disallow-all" else "robots.txt disallows it"
            await self._skip(item, f"Skipped {item.url}: {reason}.", ErrorKind.ROBOTS)
            return
        crawl_delay = rules.crawl_delay(self.policy.user_agent) or 0.0
        if crawl_delay > settings.MAX_CRAWL_DELAY:
            await self._skip(
                item,
                f"Deferred {item.url}: robots.txt asks for a Crawl-delay of {crawl_delay:g} s, "
                f"more than the {settings.MAX_CRAWL_DELAY:g} s this crawler waits.",
                ErrorKind.CRAWL_DELAY,
            )
            return
        headers: dict[str, str] = {}
        if item.kind == "revisit" and self.schedule.conditional:
            if item.etag:
                headers["If-None-Match"] = item.etag
            if item.last_modified:
                headers["If-Modified-Since"] = item.last_modified
        gate = self._gate(origin, rules)
        async with gate.slot():
            try:
                page = await self._fetcher.fetch(item.url, headers=headers, before_request=gate.turn)
            except FetchError as exc:
                await self._failed(
                    item,
                    failure_row(item.url, exc, purpose=item.kind),
                    retryable=exc.kind in settings.RETRY_KINDS,
                )
                return
        self.progress.fetched += 1
        if page.status in settings.RETRY_STATUSES:
            wait = retry_after_seconds(page.headers.get("retry-after"), datetime.now(UTC))
            if wait is not None:
                gate.pause(min(wait, settings.MAX_RETRY_AFTER))
            error = f"{page.final_url} answered HTTP {page.status}."
            await self._failed(
                item,
                ledger_row(page, purpose=item.kind, error=error, kind=ErrorKind.HTTP_STATUS),
                retryable=True,
                wait=wait,
            )
            return
        if page.status == 304:
            update = FrontierUpdate(item, "done", self._run_id)
            await self._db(
                self.archive.record_fetch,
                ledger_row(page, purpose=item.kind),
                not_modified=True,
                run_id=self._run_id,
                frontier=update,
            )
            self._report()
            return
        if page.status >= 400:
            error = f"{page.final_url} answered HTTP {page.status}."
            row = ledger_row(page, purpose=item.kind, error=error, kind=ErrorKind.HTTP_STATUS)
            gone = page.status in (404, 410) and item.kind == "revisit"
            update = FrontierUpdate(item, "done" if gone else "failed", self._run_id, error=error)
            await self._db(self.archive.record_fetch, row, gone=gone, run_id=self._run_id, frontier=update)
            if not gone:
                self.progress.errors += 1
            log.warning("%s", error)
            self._report()
            return
        if item.kind in ("article", "revisit"):
            await self._archive(item, page)
        else:
            await self._discover(item, page)
        self._report()

    async def _failed(
        self, item: FrontierItem, row: FetchRecord, *, retryable: bool, wait: float | None = None
    ) -> None:
        """Write the failed attempt; queue a retry (backoff, or Retry-After) or give the URL up."""
        tries = item.tries + 1
        if retryable and tries < self.schedule.max_tries and (wait is None or wait <= settings.MAX_RETRY_AFTER):
            delay = wait if wait is not None else backoff(tries, self.schedule.retry_delay)
            due = datetime.now(UTC) + timedelta(seconds=delay)
            update = FrontierUpdate(item, "queued", self._run_id, due_at=due, error=row.error)
            self.progress.retries += 1
            log.info(
                "will retry %s in %.1f s (try %d of %d): %s",
                item.url,
                delay,
                tries,
                self.schedule.max_tries,
                row.error,
            )
        else:
            update = FrontierUpdate(item, "failed", self._run_id, error=row.error)
            self.progress.errors += 1
            log.warning("gave up on %s after %d tries: %s", item.url, tries, row.error)
        await self._db(self.archive.record_fetch, row, run_id=self._run_id, frontier=update)
        self._report()

    async def _archive(self, item: FrontierItem, page: Page) -> None:
        try:
            article = parse_page(page, self.profile)
        except ParseError as exc:
            update = FrontierUpdate(item, "failed", self._run_id, error=str(exc))
            await self._db(
                self.archive.record_fetch,
                ledger_row(page, purpose=item.kind, error=str(exc), kind=exc.kind),
                page=page,
                run_id=self._run_id,
                frontier=update,
            )
            self.progress.errors += 1
            log.warning("%s", exc)
            return
        update = FrontierUpdate(item, "done", self._run_id)
        capture = await self._db(
            self.archive.record_capture,
            ledger_row(page, purpose=item.kind),
            page,
            article,
            run_id=self._run_id,
            frontier=update,
        )
        self.progress.archived += 1
        self.progress.new_articles += capture.new_article
        self.progress.new_versions += capture.new_version and not capture.new_article

    async def _discover(self, item: FrontierItem, page: Page) -> None:
        found: list[Discovered] = []
        error: str | None = None
        kind: ErrorKind | None = None
        depth = item.depth + 1
        if item.kind == "listing":
            for url in page_links(page.text, page.final_url)[: settings.MAX_OUTLINKS]:
                if _origin(url) not in self.origins:
                    continue
                path = urlsplit(url).path
                if self.schedule.article_url.search(path):
                    found.append(Discovered(canonicalize(url), Purpose.ARTICLE, depth))
                elif self.schedule.follow and self.schedule.follow.search(path) and depth <= self.schedule.max_depth:
                    found.append(Discovered(canonicalize(url), Purpose.LISTING, depth))
        elif item.kind == "feed":
            try:
                links = feed_links(page.body, page.final_url)
            except FeedError as exc:
                error, kind = f"{page.final_url}: {exc}", ErrorKind.BAD_FEED
                links = []
            for url in links:
                if _origin(url) in self.origins and self.schedule.article_url.search(urlsplit(url).path):
                    found.append(Discovered(canonicalize(url), Purpose.ARTICLE, depth))
        elif item.kind == "sitemap":
            try:
                entries = sitemap_entries(page.body, page.final_url)
            except SitemapError as exc:
                error, kind = f"{page.final_url}: {exc}", ErrorKind.BAD_SITEMAP
                entries = []
            for entry in entries:
                if _origin(entry.url) not in self.origins:
                    continue
                if entry.is_sitemap and depth <= self.schedule.max_depth:
                    found.append(Discovered(canonicalize(entry.url), Purpose.SITEMAP, depth))
                elif not entry.is_sitemap and self.schedule.article_url.search(urlsplit(entry.url).path):
                    found.append(Discovered(canonicalize(entry.url), Purpose.ARTICLE, depth, entry.lastmod))
        row = ledger_row(page, purpose=item.kind, error=error, kind=kind if error else None)
        update = FrontierUpdate(item, "failed" if error else "done", self._run_id, error=error, discovered=tuple(found))
        await self._db(self.archive.record_fetch, row, run_id=self._run_id, frontier=update)
        if error:
            self.progress.errors += 1
            log.warning("%s", error)
        else:
            log.debug("%s %s: %d links", item.kind, item.url, len(found))

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)
