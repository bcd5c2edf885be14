"""A fetch worker: runs fetch jobs from the broker (robots.txt, shared politeness, fetch, assess) and sends each
outcome to the writer as a delivery; it never opens an archive."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import threading
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from scraper import settings
from scraper.config import Schedule
from scraper.crawl.discover import Discoverer
from scraper.crawl.engine import (
    ROBOTS_CACHE,
    conditional_headers,
    fetch_policy,
    host_delay,
    origin,
    robots_answer,
    robots_refusal,
)
from scraper.crawl.robots import MAX_ROBOTS_BYTES, RobotsRules, rules_from_response
from scraper.distributed.broker import Broker, HostGates, Queue, shown
from scraper.distributed.messages import Delivery, FetchJob, ScheduleSource, decode_job, encode
from scraper.errors import BrokerError, ErrorKind, FetchError, ScrapeError
from scraper.fetch import Fetcher, FetchPolicy
from scraper.models import Outcome, Page
from scraper.netguard import Resolver, system_resolver
from scraper.pipeline import assess, choose_profile, failure, fetch_failed
from scraper.profiles import Profile

log = logging.getLogger("scraper.distributed.worker")
T = TypeVar("T")


class FetchWorker:
    """The fetch jobs of one worker process: an event loop thread fetches, the broker's threads parse and send."""

    def __init__(self, broker: Broker, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
        self.broker = broker
        self.allow_private = allow_private
        self.resolver = resolver
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fetch-loop", daemon=True)
        self._thread.start()
        self.gates = self._on_loop(self._gates())
        self._fetchers: dict[FetchPolicy, Fetcher] = {}
        self._profiles: dict[ScheduleSource, Profile] = {}
        self.done = 0

    async def _gates(self) -> HostGates:
        return HostGates(self.broker.url)

    def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the fetch loop and wait for it, in short waits so a job's time limit can interrupt."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            while True:
                try:
                    return future.result(timeout=0.5)
                except concurrent.futures.TimeoutError:
                    continue
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Close the fetchers and the loop (after the broker's threads have stopped)."""

        async def shut() -> None:
            for fetcher in self._fetchers.values():
                await fetcher.aclose()
            await self.gates.close()

        self._on_loop(shut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    # -- one job --------------------------------------------------------------------------------------------------

    def handle(self, payload: dict[str, Any]) -> None:
        """Run one fetch job and send its deliveries; it is acknowledged when this returns.

        A page's own failure is its delivery; only the broker failing (BrokerError) raises, to try the job later.
        """
        try:
            job = decode_job(payload)
            schedule = job.schedule.load()
        except ScrapeError as exc:
            # A job that can never be read would fail every time: it is dropped, loudly; the writer's lease on its
            # URL sends it again if it was a good job damaged on the way.
            log.error("dropped a fetch job: %s", exc)
            return
        for delivery in self.run(job, schedule):
            self.broker.send(Queue.DELIVERIES, encode(delivery))
        self.done += 1

    def run(self, job: FetchJob, schedule: Schedule) -> list[Delivery]:
        """Robots.txt (shared), the fetch (politely), and the page assessed: the deliveries of one job."""
        item = job.item
        deliveries: list[Delivery] = []
        discoverer = Discoverer(schedule)
        try:
            fetched = self._on_loop(self._fetch(job, schedule, deliveries))
            if isinstance(fetched, Page):
                profile = self._profile(job.schedule, schedule)
                outcome = assess(fetched, profile, purpose=item.kind, discover=partial(discoverer, item=item))
                if outcome.retry_after is not None:
                    wait = min(outcome.retry_after, settings.MAX_RETRY_AFTER)
                    self._on_loop(self.gates.pause(origin(item.url), wait))
            else:
                outcome = fetched
        except BrokerError:
            raise
        except Exception as exc:
            log.exception("processing %s failed", item.url)
            message = f"Processing {item.url} failed ({type(exc).__name__}: {str(exc)[:200] or 'no message'})."
            outcome = failure(item.url, message, ErrorKind.INTERNAL, purpose=item.kind, retry=True)
        tally = discoverer.tally
        deliveries.append(
            Delivery(job.key, job.shard, job.run_id, job.schedule, item, outcome, tally.offered, tally.articles)
        )
        return deliveries

    def _profile(self, source: ScheduleSource, schedule: Schedule) -> Profile:
        profile = self._profiles.get(source)
        if profile is None:
            profile = self._profiles[source] = choose_profile(schedule.start_urls[0], schedule.profile)
        return profile

    def _fetcher(self, schedule: Schedule) -> Fetcher:
        # The worker's own --allow-private and the schedule must both allow private addresses: a job comes from
        # the network, so its schedule alone does not open them.
        policy = fetch_policy(schedule, allow_private=self.allow_private and schedule.allow_private)
        fetcher = self._fetchers.get(policy)
        if fetcher is None:
            fetcher = self._fetchers[policy] = Fetcher(policy, resolver=self.resolver)
        return fetcher

    async def _fetch(self, job: FetchJob, schedule: Schedule, deliveries: list[Delivery]) -> Page | Outcome:
        item = job.item
        fetcher = self._fetcher(schedule)
        host = origin(item.url)
        rules = await self._rules(host, job, schedule, fetcher, deliveries)
        user_agent = fetcher.policy.user_agent
        if (refused := robots_refusal(item, rules, user_agent)) is not None:
            return refused
        fetched = await self._polite_fetch(
            fetcher, schedule, item.url, host_delay(schedule, rules, user_agent), conditional_headers(schedule, item)
        )
        if isinstance(fetched, FetchError):
            return fetch_failed(item.url, fetched, purpose=item.kind)
        return fetched

    async def _polite_fetch(
        self, fetcher: Fetcher, schedule: Schedule, url: str, delay: float, headers: dict[str, str]
    ) -> Page | FetchError:
        policy = fetcher.policy
        async with self.gates.fetch(
            origin(url),
            concurrency=schedule.concurrency,
            delay=delay,
            # Longer than a connection may take to open: a request is either on the wire by then or failed.
            send_ttl=policy.connect_timeout + 2,
        ) as turns:
            await turns.slot()
            try:
                return await fetcher.fetch(url, headers=headers, before_request=turns.wait, after_send=turns.sent)
            except FetchError as exc:
                return exc

    # -- robots.txt, fetched once per host for every worker -------------------------------------------------------

    async def _rules(
        self, host: str, job: FetchJob, schedule: Schedule, fetcher: Fetcher, deliveries: list[Delivery]
    ) -> RobotsRules:
        lock_ttl = fetcher.policy.total_timeout + 30
        deadline = asyncio.get_running_loop().time() + lock_ttl
        while True:
            cached = await self.gates.robots(host)
            if cached is not None:
                return _cached_rules(cached)
            async with self.gates.robots_lock(host, ttl=lock_ttl) as mine:
                if mine:
                    cached = await self.gates.robots(host)
                    if cached is not None:
                        return _cached_rules(cached)
                    return await self._fetch_robots(host, job, schedule, fetcher, deliveries)
            if asyncio.get_running_loop().time() > deadline:
                # The worker fetching it took too long (or died holding the lock): fetch it here.
                return await self._fetch_robots(host, job, schedule, fetcher, deliveries)
            await asyncio.sleep(0.05)

    async def _fetch_robots(
        self, host: str, job: FetchJob, schedule: Schedule, fetcher: Fetcher, deliveries: list[Delivery]
    ) -> RobotsRules:
        url = f"{host}/robots.txt"
        fetched = await self._polite_fetch(fetcher, schedule, url, schedule.delay, {})
        outcome, rules = robots_answer(url, fetched)
        now = datetime.now(UTC)
        if isinstance(fetched, FetchError):
            answer: dict[str, Any] = {"status": None, "error": fetched.kind, "at": now.isoformat()}
            ttl = settings.ROBOTS_FAILURE_TTL
        else:
            body = base64.b64encode(fetched.body[:MAX_ROBOTS_BYTES]).decode("ascii")
            answer = {"status": fetched.status, "body": body, "at": now.isoformat()}
            # RFC 9309: an answer may be kept a day; a server error only briefly, like an unreachable host.
            ttl = settings.ROBOTS_FAILURE_TTL if fetched.status >= 500 else ROBOTS_CACHE.total_seconds()
        await self.gates.keep_robots(host, answer, ttl=ttl)
        log.info("%s: %s", host, rules.reason)
        deliveries.append(Delivery(f"robots-{uuid.uuid4().hex}", job.shard, job.run_id, job.schedule, None, outcome))
        return rules


def _cached_rules(answer: dict[str, Any]) -> RobotsRules:
    """The rules of a robots.txt answer another worker fetched and shared."""
    if answer.get("error") is not None or answer.get("status") is None:
        rules = rules_from_response(None, b"", error=str(answer.get("error") or "no response"))
    else:
        rules = rules_from_response(int(answer["status"]), base64.b64decode(answer.get("body") or ""))
    rules.reason += f" (as fetched at {answer.get('at')})"
    return rules


def run_worker(
    url: str, *, threads: int, allow_private: bool, redelivery_after: float, stop: threading.Event
) -> FetchWorker:
    """Run fetch jobs from the broker at `url` until `stop` is set; return the worker (for its counts).

    BrokerError if the broker cannot be reached at start.
    """
    broker = Broker(url, redelivery_after=redelivery_after)
    broker.ping()
    worker = FetchWorker(broker, allow_private=allow_private)
    broker.start_heartbeat()
    log.info("worker ready: %d threads on the broker %s", threads, shown(url))
    try:
        broker.serve_jobs(worker.handle, threads=threads, stop=stop)
    finally:
        worker.close()
        broker.close()
    return worker
