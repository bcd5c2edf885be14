"""Run the schedules on time with APScheduler 3.x, one job per schedule file, in one service process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scraper import locks
from scraper.config import Schedule, Trigger, load_all
from scraper.crawl.engine import Crawler
from scraper.errors import ConfigError, CrawlLocked, SchedulerLocked, ScrapeError, StoreError
from scraper.models import RunStatus
from scraper.store import Archive

log = logging.getLogger("scraper.scheduler")

#: A schedule that names no trigger runs hourly.
DEFAULT_INTERVAL = timedelta(hours=1)


def build_trigger(trigger: Trigger) -> Any:
    """The APScheduler trigger for a schedule's [trigger] table; ValueError if the cron expression is invalid."""
    zone = ZoneInfo(trigger.timezone)
    jitter = int(trigger.jitter) or None
    if trigger.cron:
        cron = CronTrigger.from_crontab(trigger.cron, timezone=zone)
        cron.jitter = jitter
        return cron
    interval = trigger.interval or DEFAULT_INTERVAL
    return IntervalTrigger(seconds=interval.total_seconds(), timezone=zone, jitter=jitter)


def fire_times(trigger: Trigger, *, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire times of a trigger after `after` (without jitter), in the trigger's time zone."""
    built = build_trigger(trigger)
    built.jitter = None
    if isinstance(built, IntervalTrigger):
        # An interval trigger counts from its start; the service starts it now.
        built = IntervalTrigger(seconds=built.interval.total_seconds(), start_date=after, timezone=built.timezone)
    times: list[datetime] = []
    previous = None
    moment = after
    while len(times) < count:
        upcoming = built.get_next_fire_time(previous, moment)
        if upcoming is None:
            break
        if upcoming > after:
            times.append(upcoming)
        previous, moment = upcoming, upcoming
    return times


def missed_run(trigger: Trigger, *, last_run: datetime | None, now: datetime) -> bool:
    """Tell whether a run fell due while the service was down: one catch-up run is owed.

    A schedule that never ran owes its first run. An interval schedule owes one when a
    whole interval has passed since its last run; a cron schedule when a fire time lies
    between its last run and now.
    """
    if last_run is None:
        return True
    if trigger.cron:
        built = build_trigger(trigger)
        built.jitter = None
        upcoming = built.get_next_fire_time(None, last_run + timedelta(seconds=1))
        return upcoming is not None and upcoming <= now
    interval = trigger.interval or DEFAULT_INTERVAL
    return now - last_run >= interval


def scheduler_lock(db_path: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the archive's scheduler lock: one scheduler per archive."""
    path = Path(f"{db_path}.scheduler.lock")
    return locks.hold(
        path,
        lambda holder: SchedulerLocked(
            f"Another scheduler ({holder}) already runs for {db_path}; only one may. Stop it first.", path=str(path)
        ),
    )


def check_trigger(schedule: Schedule) -> None:
    """ConfigError naming the file and the key if APScheduler cannot read the schedule's cron expression."""
    try:
        build_trigger(schedule.trigger)
    except ValueError as exc:
        raise ConfigError(
            f"Schedule {schedule.path}: key 'trigger.cron' is not a valid cron expression ({exc}).",
            path=str(schedule.path),
            key="trigger.cron",
        ) from None


def load_schedules(directory: Path) -> tuple[list[Schedule], list[ConfigError]]:
    """Load every schedule file as `config.load_all` does, triggers checked too; broken files are returned."""
    schedules, errors = load_all(directory)
    valid = []
    for schedule in schedules:
        try:
            check_trigger(schedule)
        except ConfigError as exc:
            errors.append(exc)
        else:
            valid.append(schedule)
    return valid, errors


@dataclass
class _Running:
    stop: asyncio.Event
    task: asyncio.Task[None]


class Launcher(Protocol):
    """How the service runs a schedule: in this process into an archive, or through a broker (distributed)."""

    def last_runs(self) -> tuple[dict[str, datetime], set[str]]:
        """When each schedule last started, and which ones' last run did not finish (to resume now)."""

    async def run(self, schedule: Schedule, *, scheduled_for: datetime, stop: asyncio.Event) -> str:
        """Run the schedule once; return a sentence for the log. Stops early when `stop` is set."""


class LocalLauncher:
    """Crawl in this process into one archive (the default)."""

    def __init__(self, db_path: Path, *, allow_private: bool = False) -> None:
        self.db_path = db_path
        self.allow_private = allow_private

    def __str__(self) -> str:
        return str(self.db_path)

    def last_runs(self) -> tuple[dict[str, datetime], set[str]]:
        with Archive(self.db_path) as archive:
            rows = archive.runs.latest()
        started = {name: datetime.fromisoformat(row["started_at"]) for name, row in rows.items() if row["started_at"]}
        unfinished = {
            name
            for name, row in rows.items()
            if row["status"] in (RunStatus.RUNNING, RunStatus.INTERRUPTED, RunStatus.TIMEOUT)
        }
        return started, unfinished

    async def run(self, schedule: Schedule, *, scheduled_for: datetime, stop: asyncio.Event) -> str:
        # The archive was checked (quick_check) when the service started; a full check before
        # every run would stall the other schedules for seconds on a large archive.
        with Archive(self.db_path, check=False) as archive:
            crawler = Crawler(schedule, archive, allow_private=self.allow_private, stop=stop)
            summary = await crawler.run(trigger="schedule", scheduled_for=scheduled_for)
        return (
            f"run {summary.run_id} {summary.status}: {summary.pages_fetched} pages, {summary.new_articles} new "
            f"articles, {summary.new_versions} new versions, {summary.errors} failed"
            + (f" ({summary.message})" if summary.message else "")
        )


class Service:
    """The long-running scheduler: jobs rebuilt from schedules/*.toml at start and on SIGHUP."""

    def __init__(
        self,
        *,
        db_path: Path,
        directory: Path,
        only: tuple[str, ...] = (),
        allow_private: bool = False,
        launcher: Launcher | None = None,
    ) -> None:
        self.db_path = db_path
        self.directory = directory
        self.only = only
        self.allow_private = allow_private
        self.launcher = launcher or LocalLauncher(db_path, allow_private=allow_private)
        self.schedules: dict[str, Schedule] = {}
        self._running: dict[str, _Running] = {}
        self._scheduled_for: dict[str, datetime] = {}
        self._stopping = asyncio.Event()
        # Jobs live in memory and are rebuilt from the TOML files at every start: a persistent
        # job store would pickle them and silently delete any it cannot unpickle after an upgrade.
        self.scheduler = AsyncIOScheduler(
            job_defaults={
                # Never two runs of one schedule at once; a run still going when the next fire
                # comes makes APScheduler skip that fire (logged), not queue it.
                "max_instances": 1,
                # Fires missed while the event loop was busy collapse into one run...
                "coalesce": True,
                # ...however late: the default grace of 1 s would drop them silently. Downtime of
                # the whole service is handled apart (missed_run), from the runs in archive.db.
                "misfire_grace_time": None,
            },
            timezone=UTC,
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)

    # -- jobs ----------------------------------------------------------------

    def load(self) -> list[ScrapeError]:
        """(Re)read the schedule files and (re)build the jobs; broken files are returned, not fatal."""
        schedules, errors = load_schedules(self.directory)
        for error in errors:
            log.error("%s", error)
        wanted = {s.name: s for s in schedules if not self.only or s.name in self.only}
        for name in set(self.schedules) - set(wanted):
            broken = any(str(self.directory / f"{name}.toml") == error.path for error in errors)
            if broken:
                log.warning("keeping the last good version of schedule %s until its file is fixed", name)
                wanted[name] = self.schedules[name]
            else:
                log.info("schedule %s removed", name)
                with contextlib.suppress(Exception):
                    self.scheduler.remove_job(name)
        last_runs, unfinished = self.launcher.last_runs()
        now = datetime.now(UTC)
        for name, schedule in wanted.items():
            existing = self.schedules.get(name)
            if existing == schedule and self.scheduler.get_job(name) is not None:
                continue
            options: dict[str, Any] = {}
            if existing is None and name in unfinished:
                options["next_run_time"] = now  # resume the frontier the stopped run left behind
                log.info("schedule %s: its last run did not finish; resuming it now", name)
            elif existing is None and missed_run(schedule.trigger, last_run=last_runs.get(name), now=now):
                options["next_run_time"] = now  # one catch-up run now, then the trigger's own times
                log.info("schedule %s: a run fell due while the service was down; running it now", name)
            self.scheduler.add_job(
                self._job,
                build_trigger(schedule.trigger),
                args=[name],
                id=name,
                name=name,
                replace_existing=True,
                **options,
            )
            log.info("schedule %s: %s", name, describe_trigger(schedule.trigger))
        self.schedules = wanted
        return list(errors)

    def _on_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            times = getattr(event, "scheduled_run_times", None) or []
            if times:
                self._scheduled_for[event.job_id] = times[-1]
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("schedule %s: skipped a run, the previous one is still going", event.job_id)
        elif event.code == EVENT_JOB_MISSED:
            log.warning("schedule %s: a run was missed", event.job_id)

    async def _job(self, name: str) -> None:
        """One scheduled run; its failure is logged and recorded, never fatal to the service."""
        if self._stopping.is_set():
            return
        schedule = self.schedules[name]
        scheduled_for = self._scheduled_for.pop(name, datetime.now(UTC))
        stop = asyncio.Event()
        current = asyncio.current_task()
        assert current is not None
        self._running[name] = _Running(stop, current)
        log.info("schedule %s: run starting (scheduled for %s)", name, scheduled_for.isoformat(timespec="seconds"))
        try:
            said = await self.launcher.run(schedule, scheduled_for=scheduled_for, stop=stop)
            log.info("schedule %s: %s", name, said)
        except CrawlLocked as exc:
            log.warning("schedule %s: run skipped: %s", name, exc)
        except StoreError:
            log.exception("schedule %s: the archive failed", name)
        except Exception:
            log.exception("schedule %s: the run failed", name)
        finally:
            self._running.pop(name, None)

    # -- the service ---------------------------------------------------------

    async def serve(self) -> None:
        """Run until SIGINT/SIGTERM; SIGHUP re-reads the schedule files."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.shutdown, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self.shutdown, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, self._reload)
        self.load()
        self.scheduler.start()
        log.info("scheduler started with %d schedules for %s (pid %d)", len(self.schedules), self.launcher, os.getpid())
        await self._stopping.wait()
        running = list(self._running.values())
        for run in running:
            run.stop.set()
        if running:
            log.info("waiting for %d running crawls to write their in-flight pages", len(running))
            await asyncio.gather(*(run.task for run in running), return_exceptions=True)
        self.scheduler.shutdown(wait=False)
        log.info("scheduler stopped")

    def _reload(self) -> None:
        log.info("SIGHUP: re-reading %s", self.directory)
        self.load()

    def shutdown(self, reason: str = "") -> None:
        """Stop accepting runs; running crawls finish their in-flight writes, then the service exits."""
        if not self._stopping.is_set():
            log.info("%s: stopping", reason or "stop requested")
            self.scheduler.pause()
            self._stopping.set()


def describe_trigger(trigger: Trigger) -> str:
    """A schedule's trigger in words, for logs and `scrape schedule list`."""
    what = f"cron {trigger.cron!r}" if trigger.cron else f"every {trigger.interval or DEFAULT_INTERVAL}"
    jitter = f", jitter {trigger.jitter:g} s" if trigger.jitter else ""
    return f"{what} ({trigger.timezone}{jitter})"


def run_service(
    *,
    db_path: Path,
    directory: Path,
    only: tuple[str, ...],
    allow_private: bool,
    launcher: Launcher | None = None,
    lock: contextlib.AbstractContextManager[None] | None = None,
) -> None:
    """Run the scheduler service in the foreground, holding the scheduler lock (the archive's, or `lock`)."""
    with lock or scheduler_lock(db_path):

        async def main() -> None:
            service = Service(
                db_path=db_path, directory=directory, only=only, allow_private=allow_private, launcher=launcher
            )
            await service.serve()

        asyncio.run(main())
