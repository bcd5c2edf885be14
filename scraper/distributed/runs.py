"""Asking for crawl runs through the broker (`scrape crawl --redis`, the scheduler) and reading how they ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from scraper import settings
from scraper.config import Schedule
from scraper.distributed.broker import Broker, Coordination, Queue, shown
from scraper.distributed.messages import RunRequest, RunResult, ScheduleSource, decode_result, encode
from scraper.errors import SchedulerLocked

log = logging.getLogger("scraper.distributed.runs")

#: The lease in the broker that makes one scheduler the only one.
SCHEDULER_LEASE = "scheduler"


class RunClient:
    """Send run requests to the writer, and read their results."""

    def __init__(self, url: str) -> None:
        self.broker = Broker(url)
        self.coordination = Coordination(url)

    def __str__(self) -> str:
        return f"the broker {shown(self.broker.url)}"

    def close(self) -> None:
        self.broker.close()
        self.coordination.close()

    def send(
        self,
        schedule: Schedule,
        *,
        trigger: str = "manual",
        scheduled_for: datetime | None = None,
        max_pages: int | None = None,
    ) -> str:
        """Ask for one run of `schedule`; return the request's id. ConfigError if its file cannot be read."""
        request = RunRequest(uuid.uuid4().hex, ScheduleSource.of(schedule), trigger, scheduled_for, max_pages)
        self.broker.send(Queue.RUNS, encode(request))
        return request.id

    def result(self, request: str) -> RunResult | None:
        """How the run ended, or None while it has not."""
        data = self.coordination.result(request)
        return decode_result(data) if data is not None else None

    def wait(self, request: str, *, give_up: Callable[[], bool], poll: float = 0.5) -> RunResult | None:
        """Wait for the run's result; None if `give_up` says so first."""
        while not give_up():
            if (found := self.result(request)) is not None:
                return found
            time.sleep(poll)
        return None


def summary(result: RunResult) -> str:
    """A run's result in words, as the local crawl says it."""
    if result.status == "refused":
        return f"{result.schedule or 'the run'} was not started: {result.message}"
    return (
        f"{result.schedule}: run {result.run_id} in {result.shard} {result.status}: {result.pages_fetched} pages "
        f"fetched, {result.new_articles} new articles, {result.new_versions} new versions, {result.errors} failed"
        + (f" ({result.message})" if result.message else "")
    )


class BrokerLauncher:
    """The scheduler's runs through the broker: each fire sends a run request and waits for its result."""

    def __init__(self, url: str) -> None:
        self.client = RunClient(url)

    def __str__(self) -> str:
        return str(self.client)

    def last_runs(self) -> tuple[dict[str, datetime], set[str]]:
        # A run the writer did not finish is resumed by the writer itself (its request comes back to it).
        return self.client.coordination.fired(), set()

    async def run(self, schedule: Schedule, *, scheduled_for: datetime, stop: asyncio.Event) -> str:
        request = self.client.send(schedule, trigger="schedule", scheduled_for=scheduled_for)
        self.client.coordination.mark_fired(schedule.name, datetime.now(UTC))
        while not stop.is_set():
            if (result := self.client.result(request)) is not None:
                return summary(result)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        return f"sent run request {request}; the scheduler stopped before the run ended (the writer goes on)"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Be the broker's one scheduler while the block runs; SchedulerLocked if another one is."""
        coordination = self.client.coordination
        holder = f"{socket.gethostname()} pid {os.getpid()}"
        current = coordination.acquire(SCHEDULER_LEASE, holder, ttl=settings.BROKER_LEASE)
        if current is not None:
            raise SchedulerLocked(
                f"Another scheduler ({current}) already sends the runs of {self}; only one may. Stop it first.",
                path=SCHEDULER_LEASE,
            )
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(settings.BROKER_LEASE / 3):
                try:
                    if not coordination.renew(SCHEDULER_LEASE, holder, ttl=settings.BROKER_LEASE):
                        log.error("this scheduler lost its lease in the broker to another one")
                        return
                except Exception as exc:  # the broker restarting: try again at the next turn
                    log.warning("renewing the scheduler lease failed: %s", exc)

        renewer = threading.Thread(target=renew, name="scheduler-lease", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                coordination.release(SCHEDULER_LEASE, holder)
            self.client.close()
