"""The writer: the one process that writes the archives, one file per site (DIR/<site>.db). It runs each crawl from
its archive's frontier: claims due URLs, sends their fetch jobs, and writes the deliveries, each once (keyed)."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from scraper import locks, settings
from scraper.config import Schedule
from scraper.crawl.discover import Discoverer, LinkTally
from scraper.crawl.engine import seeds, settle
from scraper.distributed.broker import Broker, Consumer, Coordination, Queue, Received, shown
from scraper.distributed.messages import (
    Delivery,
    FetchJob,
    RunRequest,
    RunResult,
    decode_delivery,
    decode_run,
    encode,
    job_key,
)
from scraper.errors import BrokerError, ConfigError, ScrapeError, UsageError, WriterLocked
from scraper.models import FrontierItem, FrontierState, RunStatus
from scraper.pipeline import write
from scraper.store import Archive
from scraper.urls import site_key

log = logging.getLogger("scraper.distributed.writer")

#: The lease in the broker that makes this writer the only one.
WRITER_LEASE = "writer"
#: What a shard (archive file) name may be: no path separators, no leading dot.
_SHARD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


def _local(holder: str) -> tuple[bool, bool]:
    """Whether a lease holder ("host pid N") is a process of this machine, and whether it still runs."""
    host, _, pid = holder.rpartition(" pid ")
    if host != socket.gethostname() or not pid.isdigit():
        return False, False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True, False
    except PermissionError:
        return True, True
    return True, True


def _result(request: RunRequest, schedule: str, shard: str, row: dict[str, Any]) -> RunResult:
    return RunResult(
        request.id,
        schedule,
        str(row["status"]),
        shard=shard,
        run_id=int(row["id"]),
        pages_fetched=int(row["pages_fetched"]),
        new_articles=int(row["new_articles"]),
        new_versions=int(row["new_versions"]),
        errors=int(row["errors"]),
        message=row["message"],
    )


def shard_of(schedule: Schedule) -> str:
    """The archive a schedule's crawl is written to: its site (host and port), as a file name.

    UsageError for a schedule whose start URLs are on several sites: each site has an archive of its own.
    """
    sites = sorted({site_key(url) for url in schedule.start_urls})
    if len(sites) != 1:
        raise UsageError(
            f"Schedule {schedule.path} starts on {len(sites)} sites ({', '.join(sites)}); the distributed mode keeps "
            "one archive per site, so give each site a schedule of its own."
        )
    return re.sub(r"[^A-Za-z0-9.-]", "_", sites[0])


def shard_path(directory: Path, shard: str) -> Path:
    """The archive file of a shard; BrokerError for a name that is not one (it came over the network)."""
    if not _SHARD.fullmatch(shard):
        raise BrokerError(f"A message names the archive {shard[:80]!r}, which is not an archive name.")
    return directory / f"{shard}.db"


@dataclass
class ActiveRun:
    """A run this writer coordinates; its request is held (unacknowledged) until the run ends."""

    request: RunRequest
    held: Received
    schedule: Schedule
    shard: str
    run_id: int
    max_pages: int
    claimed: int
    #: When the run must stop (its run_timeout), as a Unix time.
    deadline: float
    tally: LinkTally = field(default_factory=LinkTally)
    stopping: tuple[RunStatus, str] | None = None
    next_lease_check: float = 0.0
    #: A delivery of the run was written since its last tick (a slot freed, links queued).
    dirty: bool = True
    next_tick: float = 0.0

    @property
    def room(self) -> int:
        """How many of the run's URLs may be in flight at once: the schedule's global_concurrency, and no more
        than twice its per-host concurrency (more would wait in worker threads for the host, not in the
        frontier)."""
        return min(self.schedule.global_concurrency, 2 * self.schedule.concurrency)


@dataclass
class WriterStats:
    """What the writer did, for its log and the benches."""

    written: int = 0
    duplicates: int = 0
    rejected: int = 0
    jobs_sent: int = 0
    jobs_resent: int = 0
    runs_finished: int = 0


class Writer:
    """The only process that writes the archives of one broker: one run loop, one thread."""

    def __init__(
        self,
        broker: Broker,
        coordination: Coordination,
        directory: Path,
        *,
        lease: float = settings.IN_FLIGHT_LEASE,
        batch: int = settings.WRITER_BATCH,
    ) -> None:
        self.broker = broker
        self.coordination = coordination
        self.directory = directory
        self.lease = lease
        self.batch = batch
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"
        self.active: dict[tuple[str, str], ActiveRun] = {}
        self.stats = WriterStats()
        self._archives: dict[str, Archive] = {}
        self._lost = threading.Event()
        self._runs: Consumer | None = None

    # -- the service ----------------------------------------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        """Write until `stop` is set. WriterLocked if another writer serves this broker or these archives;
        StoreError if an archive cannot be written (its deliveries wait in the broker for the next writer)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = self.directory / ".writer.lock"
        with locks.hold(lock, lambda holder: self._locked(f"{holder} already writes the archives in {self.directory}")):
            self._take_lease(stop)
            renewer = threading.Thread(target=self._renew, args=(stop,), name="writer-lease", daemon=True)
            renewer.start()
            self.broker.start_heartbeat()
            log.info("writer ready: archives in %s, broker %s", self.directory, shown(self.broker.url))
            try:
                self._loop(stop)
            finally:
                stop.set()
                if self._runs is not None and self.active:
                    # The runs go back to the queue at once, for the next writer to resume.
                    try:
                        self._runs.give_back([run.held for run in self.active.values()])
                    except BrokerError as exc:
                        log.warning("%s", exc)
                for archive in self._archives.values():
                    archive.close()
                if not self._lost.is_set():
                    try:
                        self.coordination.release(WRITER_LEASE, self.holder)
                    except BrokerError as exc:
                        log.warning("%s", exc)

    def _locked(self, why: str) -> WriterLocked:
        return WriterLocked(f"{why}; only one writer may run at a time. Stop it first.", path=str(self.directory))

    def _take_lease(self, stop: threading.Event) -> None:
        """Become the broker's one writer; a writer that died holds the lease until it expires, so wait that long."""
        deadline = time.monotonic() + settings.BROKER_LEASE + 2
        dead: str | None = None
        while True:
            holder = self.coordination.acquire(WRITER_LEASE, self.holder, ttl=settings.BROKER_LEASE, replace=dead)
            if holder is None:
                return
            mine, alive = _local(holder)
            if mine and not alive:
                dead = holder  # a writer of this machine that died: its lease is taken over at once
                continue
            if mine and alive:
                raise self._locked(f"Another writer ({holder}) serves the broker {shown(self.coordination.url)}")
            if time.monotonic() > deadline or stop.is_set():
                raise self._locked(f"Another writer ({holder}) serves the broker {shown(self.coordination.url)}")
            log.info("waiting for the writer lease held by %s (a writer that stopped lets it lapse)", holder)
            stop.wait(1.0)

    def _renew(self, stop: threading.Event) -> None:
        while not stop.wait(settings.BROKER_LEASE / 3):
            try:
                if not self.coordination.renew(WRITER_LEASE, self.holder, ttl=settings.BROKER_LEASE):
                    log.error("this writer lost its lease in the broker; stopping before writing anything more")
                    self._lost.set()
                    return
            except BrokerError as exc:
                log.warning("%s", exc)

    def _loop(self, stop: threading.Event) -> None:
        runs = self._runs = self.broker.consume(Queue.RUNS, prefetch=settings.MAX_ACTIVE_RUNS, idle_ms=50)
        deliveries = self.broker.consume(Queue.DELIVERIES, prefetch=self.batch, idle_ms=200)
        next_runs = 0.0
        reported = time.monotonic()
        while not stop.is_set():
            if self._lost.is_set():
                raise self._locked("Another writer took over the broker's lease")
            try:
                if time.monotonic() >= next_runs:
                    for received in runs.take(settings.MAX_ACTIVE_RUNS):
                        self._start(received, runs)
                    next_runs = time.monotonic() + 0.5
                batch = deliveries.take(self.batch)
                handled = [received for received in batch if self._apply(received, deliveries)]
                for received in handled:
                    deliveries.ack(received)
                now = time.monotonic()
                for run in list(self.active.values()):
                    # Each run when a delivery of its own was written, else four times a second (retries fall due).
                    if run.dirty or now >= run.next_tick:
                        run.dirty, run.next_tick = False, now + 0.25
                        self._tick(run, runs)
            except BrokerError as exc:
                # Redis restarting or out of reach: what is written stays written; go on once it answers.
                log.warning("%s; trying again in a second", exc)
                stop.wait(1.0)
            if time.monotonic() - reported > 30:
                reported = time.monotonic()
                log.info("%s; %d runs active", self.stats, len(self.active))

    # -- archives ---------------------------------------------------------------------------------------------

    def archive(self, shard: str) -> Archive:
        """The open archive of a shard (created on first use); StoreError if it cannot be opened."""
        archive = self._archives.get(shard)
        if archive is None:
            archive = self._archives[shard] = Archive(shard_path(self.directory, shard))
        return archive

    # -- runs -------------------------------------------------------------------------------------------------

    def _refuse(self, request_id: str | None, schedule: str, why: str) -> None:
        log.error("run request %s refused: %s", request_id or "(unreadable)", why)
        if request_id:
            result = RunResult(request_id, schedule, "refused", message=why)
            self.coordination.publish_result(request_id, encode(result))

    def _start(self, received: Received, runs: Consumer) -> None:
        """Start (or resume) the run a request asks for."""
        request_id: str | None = None
        try:
            request = decode_run(received.payload)
            request_id = request.id
            schedule = request.schedule.load()
            shard = shard_of(schedule)
        except (BrokerError, ScrapeError) as exc:
            self._refuse(request_id, "", str(exc))
            runs.ack(received)
            return
        key = (shard, schedule.name)
        current = self.active.get(key)
        if current is not None:
            if current.request.id == request.id:
                # The broker handed it over again: this copy is the one held now (the old one is let go).
                runs.ack(current.held)
                current.held = received
            else:
                why = f"run {current.run_id} of schedule {schedule.name!r} is still going in {shard}"
                self._refuse(request.id, schedule.name, why)
                runs.ack(received)
            return
        if self.coordination.result(request.id) is not None:
            runs.ack(received)  # its run ended already; the broker handed the request over once more
            return
        archive = self.archive(shard)
        latest = archive.runs.latest().get(schedule.name)
        if latest is not None and latest["request"] == request.id and latest["status"] != RunStatus.RUNNING:
            # Its run ended, but the writer that ran it died before saying so: say it now.
            self.coordination.publish_result(request.id, encode(_result(request, schedule.name, shard, latest)))
            runs.ack(received)
            return
        if latest is not None and latest["status"] == RunStatus.RUNNING:
            # Left running by a writer that stopped: go on from the frontier as it is (in-flight URLs keep their
            # jobs and leases), under the same run id, so every delivery still due is written once.
            run_id = int(latest["id"])
            started = datetime.fromisoformat(latest["started_at"])
            claimed = int(latest["pages_fetched"]) + archive.frontier.count(schedule.name, FrontierState.IN_FLIGHT)
            log.info("resuming run %d of %s in %s", run_id, schedule.name, shard)
        else:
            run_id = archive.runs.start(
                schedule.name, trigger=request.trigger, scheduled_for=request.scheduled_for, request=request.id
            )
            found, revisits = seeds(schedule, archive, now=datetime.now(UTC))
            archive.frontier.seed(schedule.name, found, run_id=run_id)
            started, claimed = datetime.now(UTC), 0
            log.info(
                "run %d of %s in %s: %d start URLs, %d re-visits due",
                run_id,
                schedule.name,
                shard,
                len(found) - revisits,
                revisits,
            )
        self.active[key] = ActiveRun(
            request=request,
            held=received,
            schedule=schedule,
            shard=shard,
            run_id=run_id,
            max_pages=request.max_pages or schedule.max_pages,
            claimed=claimed,
            deadline=started.timestamp() + schedule.run_timeout,
        )

    def _dispatch(self, run: ActiveRun, item: FrontierItem) -> None:
        key = job_key(run.shard, run.schedule.name, run.run_id, item.url, item.tries)
        job = FetchJob(key, run.shard, run.run_id, run.request.schedule, item)
        self.broker.send(Queue.FETCH, encode(job))

    def _tick(self, run: ActiveRun, runs: Consumer) -> None:
        """Send the run's due URLs while it has room; end it when nothing is left in flight or due."""
        frontier = self.archive(run.shard).frontier
        name = run.schedule.name
        now = datetime.now(UTC)
        lease_until = now + timedelta(seconds=self.lease)
        if time.monotonic() >= run.next_lease_check:
            run.next_lease_check = time.monotonic() + min(self.lease / 4, 30.0)
            for item in frontier.expired_leases(name, now=now, lease_until=lease_until):
                log.info("no answer for %s within %g s: sending its job again", item.url, self.lease)
                self._dispatch(run, item)
                self.stats.jobs_resent += 1
        in_flight = frontier.count(name, FrontierState.IN_FLIGHT)
        if run.stopping is None and time.time() > run.deadline:
            run.stopping = (
                RunStatus.TIMEOUT,
                f"the run took longer than {run.schedule.run_timeout:g} s and was stopped",
            )
        if run.stopping is None:
            free = run.room - in_flight
            if free > 0 and run.claimed < run.max_pages:
                items = frontier.claim(
                    name, limit=min(free, run.max_pages - run.claimed), now=now, lease_until=lease_until
                )
                run.claimed += len(items)
                in_flight += len(items)
                for item in items:
                    self._dispatch(run, item)
                    self.stats.jobs_sent += 1
        if in_flight:
            return
        if run.stopping is not None:
            self._finish(run, runs, *run.stopping)
        elif frontier.next_due(name) is None:
            self._finish(run, runs, RunStatus.COMPLETED, None)
        elif run.claimed >= run.max_pages:
            self._finish(
                run, runs, RunStatus.CAPPED, f"page cap of {run.max_pages} reached; the rest waits in the frontier"
            )

    def _finish(self, run: ActiveRun, runs: Consumer, status: RunStatus, message: str | None) -> None:
        discoverer = Discoverer(run.schedule)
        discoverer.tally = run.tally
        if warning := discoverer.pattern_warning():
            log.warning("schedule %s: %s", run.schedule.name, warning)
            message = f"{message}; {warning}" if message else warning
        row = self.archive(run.shard).runs.finish(run.run_id, status, message)
        result = _result(run.request, run.schedule.name, run.shard, row)
        self.coordination.publish_result(run.request.id, encode(result))
        runs.ack(run.held)
        del self.active[(run.shard, run.schedule.name)]
        self.stats.runs_finished += 1
        log.info(
            "run %d of %s in %s %s: %d pages, %d new articles, %d new versions, %d failed%s",
            run.run_id,
            run.schedule.name,
            run.shard,
            status,
            result.pages_fetched,
            result.new_articles,
            result.new_versions,
            result.errors,
            f" ({message})" if message else "",
        )

    # -- deliveries -------------------------------------------------------------------------------------------

    def _apply(self, received: Received, deliveries: Consumer) -> bool:
        """Write one delivery (once, however often it comes); False if it was rejected as unreadable."""
        try:
            delivery = decode_delivery(received.payload)
            shard_path(self.directory, delivery.shard)
            schedule = delivery.schedule.load()
        except (BrokerError, ConfigError) as exc:
            # It can never be written: kept aside in the broker's dead letters (a week), not tried again.
            log.error("rejected a delivery: %s", exc)
            deliveries.reject(received)
            self.stats.rejected += 1
            return False
        archive = self.archive(delivery.shard)
        if archive.delivered(delivery.key):
            self.stats.duplicates += 1
            return True
        self._write(archive, delivery, schedule)
        return True

    def _write(self, archive: Archive, delivery: Delivery, schedule: Schedule) -> None:
        item = delivery.item
        settle_it = partial(settle, schedule, delivery.run_id, item) if item is not None else None
        write(archive, delivery.outcome, run_id=delivery.run_id, settle=settle_it, key=delivery.key)
        self.stats.written += 1
        run = self.active.get((delivery.shard, schedule.name))
        if run is not None and run.run_id == delivery.run_id:
            run.dirty = True
            run.tally.offered += delivery.links_offered
            run.tally.articles += delivery.links_taken


def run_writer(
    url: str, directory: Path, *, lease: float, redelivery_after: float, stop: threading.Event
) -> WriterStats:
    """Write the deliveries of the broker at `url` into the archives in `directory` until `stop` is set.

    BrokerError if the broker cannot be reached at start; WriterLocked if another writer runs; StoreError if an
    archive cannot be written.
    """
    broker = Broker(url, redelivery_after=redelivery_after)
    coordination = Coordination(url)
    try:
        broker.ping()
        writer = Writer(broker, coordination, directory, lease=lease)
        writer.serve(stop)
        return writer.stats
    finally:
        broker.close()
        coordination.close()
