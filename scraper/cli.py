"""The `scrape` command line: a thin layer over the library that prints results and sets exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from scraper import settings
from scraper.errors import ScrapeError, StoreError, UsageError
from scraper.explain import explain_page, explain_url
from scraper.fetch import Fetcher, FetchPolicy
from scraper.models import Verdict
from scraper.pipeline import choose_profile, parse_page, saved_page, scrape_url
from scraper.profiles import Profile
from scraper.reparse import reparse_archive
from scraper.store import Archive
from scraper.urls import check_url

_Command = TypeVar("_Command", bound=Callable[..., Any])


def db_option(help: str) -> Callable[[_Command], _Command]:
    """The --db option, with what the command does with the archive."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=settings.DEFAULT_DB_PATH,
        show_default=True,
        help=help,
    )


DB_OPTION = db_option("The archive to write to.")
REDIS_OPTION = click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    help="The broker of the distributed mode (redis://host:6379/0); without it everything runs in this process.",
)
REDELIVERY_OPTION = click.option(
    "--redelivery-after",
    type=float,
    callback=lambda ctx, param, value: finite(1, 86400)(ctx, param, value),
    default=settings.REDELIVERY_AFTER,
    show_default=True,
    help="Seconds a silent process keeps its messages before the broker gives them to another (use one value "
    "on every worker and writer).",
)
PROFILE_OPTION = click.option(
    "--profile",
    "profile_name",
    metavar="NAME",
    help="Parse with this site profile ('generic' for the fallback) instead of the one matching the host.",
)


EXPLAIN_OPTION = click.option(
    "--explain",
    is_flag=True,
    help="Print, instead of the record, why each field got its value: the evidence in order, why the rest lost, "
    "and the profile's selectors that matched nothing. Nothing is archived.",
)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def finite(minimum: float, maximum: float) -> Any:
    """An option callback that refuses nan, inf and numbers out of bounds (exit 2), so none can mean "no limit"."""

    def check(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
        if value is not None and (not math.isfinite(value) or not minimum <= value <= maximum):
            raise click.BadParameter(f"{value!r} is not a number from {minimum:g} to {maximum:g}.")
        return value

    return check


def _print_record(record: dict[str, Any]) -> None:
    click.echo(json.dumps(record, ensure_ascii=False, indent=2))


def _report_partial(record: dict[str, Any]) -> bool:
    """Print why a record is only partial on stderr; return whether it is complete."""
    if record["parse_status"] == "ok":
        return True
    missing = [name for name in ("title", "body_text") if not record[name]]
    why = f"it has no {' and no '.join(missing)}" if missing else "; ".join(record["warnings"][-1:])
    click.echo(f"Error: {record['url']} gave only a partial article ({why}).", err=True)
    return False


def _open_archive(path: Path) -> Archive:
    try:
        return Archive(path)
    except StoreError as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(settings.VERSION, prog_name="scrape")
@click.option("-v", "--verbose", count=True, help="Log more (repeat for debug output).")
@click.option("-q", "--quiet", is_flag=True, help="Log only errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Archive news sites into SQLite and browse them with Datasette."""
    ctx.obj = {"quiet": quiet, "verbose": verbose}
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command("url")
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@DB_OPTION
@PROFILE_OPTION
@click.option(
    "--allow-private",
    is_flag=True,
    help=f"Allow loopback and private addresses (also: {settings.ALLOW_PRIVATE_ENV}=1).",
)
@click.option(
    "--timeout",
    type=float,
    callback=finite(0.1, 3600),
    default=settings.TOTAL_TIMEOUT,
    show_default=True,
    help="Seconds allowed for each whole fetch, redirects included.",
)
@EXPLAIN_OPTION
def url_command(
    urls: tuple[str, ...], db_path: Path, profile_name: str | None, allow_private: bool, timeout: float, explain: bool
) -> None:
    """Fetch, parse and archive each URL, printing its record as JSON.

    Exits 1 if any URL failed or gave only a partial article (each failure is one
    line on stderr and a row in `fetches`), 2 if a URL is not http(s).
    """
    try:
        checked = [check_url(u) for u in urls]
        profiles = [choose_profile(u, profile_name) for u in checked]
    except UsageError as exc:
        _fail(str(exc), 2)
    policy = FetchPolicy(
        allow_private=allow_private or settings.allow_private_from_env(),
        total_timeout=timeout,
        read_timeout=min(timeout, settings.READ_TIMEOUT),
        connect_timeout=min(timeout, settings.CONNECT_TIMEOUT),
    )
    if explain:
        sys.exit(0 if asyncio.run(_explain_urls(checked, profiles, policy)) else 1)
    archive = _open_archive(db_path)

    async def run() -> bool:
        ok = True
        async with Fetcher(policy) as fetcher:
            for url, profile in zip(checked, profiles, strict=True):
                try:
                    outcome, _ = await scrape_url(url, fetcher=fetcher, archive=archive, profile=profile)
                except StoreError as exc:
                    _fail(str(exc))
                if outcome.verdict == Verdict.ARCHIVED and outcome.article is not None:
                    record = outcome.article.to_record()
                    _print_record(record)
                    ok = _report_partial(record) and ok
                else:
                    click.echo(f"Error: {outcome.error}", err=True)
                    ok = False
        return ok

    try:
        ok = asyncio.run(run())
    finally:
        archive.close()
    sys.exit(0 if ok else 1)


async def _explain_urls(urls: list[str], profiles: list[Profile], policy: FetchPolicy) -> bool:
    ok = True
    async with Fetcher(policy) as fetcher:
        for url, profile in zip(urls, profiles, strict=True):
            try:
                _print_record(await explain_url(url, fetcher=fetcher, profile=profile))
            except ScrapeError as exc:
                click.echo(f"Error: {exc}", err=True)
                ok = False
    return ok


@cli.command("parse")
@click.argument("file", type=click.File("rb"))
@click.option("--url", required=True, help="The URL the page was saved from (for links, site and article id).")
@PROFILE_OPTION
@click.option(
    "--fetched-at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="When the page was saved (ISO 8601); year-less and relative dates are read against it.",
)
@EXPLAIN_OPTION
def parse_command(file: Any, url: str, profile_name: str | None, fetched_at: datetime | None, explain: bool) -> None:
    """Parse a saved HTML FILE ('-' for stdin) and print the record as JSON; nothing is written."""
    try:
        url = check_url(url)
        profile = choose_profile(url, profile_name)
    except UsageError as exc:
        _fail(str(exc), 2)
    page = saved_page(file.read(), url, fetched_at or datetime.now(UTC))
    try:
        if explain:
            _print_record(explain_page(page, profile))
            return
        article = parse_page(page, profile)
    except ScrapeError as exc:
        _fail(f"{exc} (file {file.name})")
    record = article.to_record()
    _print_record(record)
    if not _report_partial(record):
        sys.exit(1)


@cli.command("reparse")
@DB_OPTION
def reparse_command(db_path: Path) -> None:
    """Rebuild `articles` and `article_versions` from the stored raw pages, without fetching anything.

    Shows progress; Ctrl-C stops after the current page, keeping what was re-parsed.
    """
    archive = _existing_archive(db_path)
    summary = _long_job(
        archive, "Re-parsing", lambda progress, stop: reparse_archive(archive, on_progress=progress, stop=stop)
    )
    for key, why in summary.damaged:
        click.echo(f"Error: kept the old extraction of page {key}: {why}", err=True)
    if summary.interrupted:
        _fail(
            f"Interrupted: re-parsed {summary.versions:,} stored pages ({summary.changed:,} extractions changed); "
            "run again to re-parse them all."
        )
    click.echo(
        f"Re-parsed {summary.versions} stored pages of {summary.articles} articles; "
        f"{summary.changed} extractions changed.",
        err=True,
    )
    sys.exit(1 if summary.damaged else 0)


def _existing_archive(db_path: Path) -> Archive:
    if not db_path.exists():
        _fail(f"There is no archive at {db_path}.")
    return _open_archive(db_path)


T = TypeVar("T")


def _long_job(archive: Archive, label: str, job: Callable[[_Progress, threading.Event], T]) -> T:
    """Run a job over the archive with its progress shown and Ctrl-C asking it to stop; then close the archive."""
    progress = _Progress(label)
    try:
        with _stoppable() as stop:
            return job(progress, stop)
    except UsageError as exc:
        _fail(str(exc), 2)
    except ScrapeError as exc:
        _fail(str(exc))
    finally:
        progress.close()
        archive.close()


class _Progress:
    """How far a long job is: a bar (done/total, rate, time left) on a terminal, else a log line now and then."""

    def __init__(self, label: str, *, every: int = 5000) -> None:
        self.label = label
        self.every = every
        self.started = time.monotonic()
        self.logged = 0
        self.bar: Any = None
        self.terminal = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        rate = done / max(time.monotonic() - self.started, 1e-6)
        if self.terminal:
            if self.bar is None:
                self.bar = click.progressbar(
                    length=total,
                    label=self.label,
                    file=sys.stderr,
                    show_pos=True,
                    show_eta=True,
                    item_show_func=lambda item: item,
                )
                self.bar.render_progress()
            self.bar.update(done - self.bar.pos, f"{rate:,.0f}/s")
        elif done - self.logged >= self.every or (done == total and self.logged):
            self.logged = done
            left = (total - done) / rate if rate else 0
            click.echo(f"{self.label}: {done:,} of {total:,} ({rate:,.0f}/s, {left:,.0f} s left)", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
            self.bar = None


@contextlib.contextmanager
def _stoppable() -> Iterator[threading.Event]:
    """A flag the first Ctrl-C sets, for a long job to end after its current item; a second Ctrl-C stops at once."""
    stop = threading.Event()

    def interrupt(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo("\nStopping after the current item (Ctrl-C again to stop at once).", err=True)

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC)


@cli.command("export")
@click.argument("kind", type=click.Choice(["warc", "wacz"]), metavar="warc|wacz")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@DB_OPTION
@click.option("--site", help="Only this site's captures (a host as in `articles.site`, e.g. baigenews.kz).")
@click.option("--since", type=click.DateTime(DATE_FORMATS), help="Only captures fetched at this time or later (UTC).")
@click.option("--until", type=click.DateTime(DATE_FORMATS), help="Only captures fetched before this time (UTC).")
def export_command(
    kind: str, out: Path, db_path: Path, site: str | None, since: datetime | None, until: datetime | None
) -> None:
    """Write the archive's captures to OUT as WARC 1.1 (gzipped unless OUT ends in .warc) or as a WACZ package.

    A response and its request per fetch, a revisit record where a payload repeats; a WACZ adds the CDXJ index
    and pages.jsonl (each article's title), for ReplayWeb.page or pywb. Ctrl-C stops, keeping a whole file of
    what was written. Exits 1 if nothing matched or a stored page was damaged.
    """
    from scraper.transfer import Format, export

    archive = _existing_archive(db_path)
    summary = _long_job(
        archive,
        f"Exporting to {out.name}",
        lambda progress, stop: export(
            archive,
            out,
            kind=Format(kind),
            site=site,
            since=_utc(since),
            until=_utc(until),
            on_progress=progress,
            stop=stop,
        ),
    )
    for key, why in summary.damaged:
        click.echo(f"Error: left out page {key}: {why}", err=True)
    if not summary.captures:
        _fail(f"No stored captures in {db_path} match{f' site {site}' if site else ''} and that time; nothing written.")
    what = f"{summary.responses:,} responses and {summary.revisits:,} revisits"
    pages = f" ({summary.articles:,} articles in pages.jsonl)" if kind == "wacz" else ""
    if summary.interrupted:
        _fail(f"Interrupted: {out} holds the {what} written before the stop{pages}.")
    click.echo(f"Exported {what} to {out}{pages}.", err=True)
    sys.exit(1 if summary.damaged else 0)


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE...")
@DB_OPTION
@PROFILE_OPTION
def import_command(files: tuple[Path, ...], db_path: Path, profile_name: str | None) -> None:
    """Add the captures of WARC, WARC.gz and WACZ files (any tool's) to the archive, in capture-time order.

    Each HTML response is parsed as a crawl's would be (the site's profile, or --profile) into fetch rows, raw
    pages, articles, versions and view readings; a capture already in the archive is not added again. A damaged
    record is reported with its offset and skipped, and the command exits 1. Ctrl-C stops, keeping what was done.
    """
    from scraper.transfer import import_files

    if profile_name:
        try:
            choose_profile("http://example.invalid/", profile_name)
        except UsageError as exc:
            _fail(str(exc), 2)
    archive = _open_archive(db_path)
    summary = _long_job(
        archive,
        "Importing",
        lambda progress, stop: import_files(
            archive, list(files), profile_name=profile_name, on_progress=progress, stop=stop
        ),
    )
    for name, offset, why in summary.damaged:
        click.echo(f"Error: skipped the damaged record at byte {offset:,} of {name}: {why}.", err=True)
    skipped = ", ".join(f"{count:,} {why}" for why, count in sorted(summary.skipped.items()))
    line = (
        f"{summary.imported:,} captures imported from {summary.records:,} records"
        f" ({summary.duplicates:,} already in the archive{'; skipped: ' + skipped if skipped else ''}):"
        f" {summary.new_articles:,} new articles, {summary.new_versions:,} new versions,"
        f" {summary.failed:,} pages without an article"
    )
    if summary.interrupted:
        _fail(f"Interrupted: {line}; run the same import again to go on.")
    click.echo(line + ".", err=True)
    sys.exit(1 if summary.damaged else 0)


@cli.group("storage")
def storage_group() -> None:
    """The raw pages' storage: re-encode an old archive's pages, check every page, show the figures."""


@storage_group.command("migrate")
@DB_OPTION
@click.option("--batch", type=click.IntRange(1, 100_000), default=200, show_default=True, help="Pages per transaction.")
@click.option(
    "--vacuum",
    is_flag=True,
    help="Then rewrite the file to give the freed space back to the disk (needs the archive to itself).",
)
def storage_migrate_command(db_path: Path, batch: int, vacuum: bool) -> None:
    """Re-encode pages stored before schema 6 (zlib, whole) as deltas and keyframes, oldest first.

    Each batch commits whole: killing it at any moment loses nothing, and running it again goes on where it
    stopped. Crawls may go on meanwhile. The file keeps its size (SQLite reuses the freed space for new
    captures) unless --vacuum is given.
    """
    archive = _existing_archive(db_path)
    summary = _long_job(
        archive,
        "Re-encoding pages",
        lambda progress, stop: archive.pages.migrate(batch=batch, on_progress=progress, stop=stop),
    )
    for key in summary.damaged:
        click.echo(f"Error: page {key} is damaged and was left as it is (see `scrape storage check`).", err=True)
    message = f"Re-encoded {summary.converted:,} pages; {summary.remaining:,} left in the old format"
    if summary.interrupted:
        _fail(f"Interrupted: {message}; run `scrape storage migrate` again to go on.")
    click.echo(message + ".", err=True)
    if vacuum:
        before = db_path.stat().st_size
        with _open_archive(db_path) as again:
            try:
                again.connection.vacuum()
            except StoreError as exc:
                _fail(str(exc))
        click.echo(f"Vacuumed {db_path}: {before:,} bytes before, {db_path.stat().st_size:,} after.", err=True)
    sys.exit(1 if summary.damaged else 0)


@storage_group.command("check")
@DB_OPTION
def storage_check_command(db_path: Path) -> None:
    """Rebuild every stored page and compare it with its SHA-256; exit 1 naming each damaged one."""
    archive = _existing_archive(db_path)
    summary = _long_job(
        archive, "Checking pages", lambda progress, stop: archive.pages.check(on_progress=progress, stop=stop)
    )
    for key, why in summary.damaged:
        click.echo(f"Error: page {key}: {why}", err=True)
    if summary.interrupted:
        _fail(f"Interrupted after {summary.checked:,} pages ({len(summary.damaged):,} damaged so far).")
    click.echo(f"{summary.checked:,} pages checked, {len(summary.damaged):,} damaged.", err=True)
    sys.exit(1 if summary.damaged else 0)


@storage_group.command("stats")
@DB_OPTION
def storage_stats_command(db_path: Path) -> None:
    """Print the raw pages' figures as JSON: pages, stored and page bytes by codec, dictionaries."""
    with _existing_archive(db_path) as archive:
        click.echo(json.dumps(archive.pages.stats(), indent=2))


@cli.command("crawl")
@click.argument("schedule_name", metavar="SCHEDULE")
@DB_OPTION
@click.option("--max-pages", type=click.IntRange(min=1), help="Fetch at most this many pages in this run.")
@click.option(
    "--allow-private",
    is_flag=True,
    help=f"Allow loopback and private addresses (also: allow_private in the schedule, {settings.ALLOW_PRIVATE_ENV}=1).",
)
@REDIS_OPTION
@click.option(
    "--no-wait", is_flag=True, help="With --redis: send the run request, print its id and exit without waiting."
)
def crawl_command(
    schedule_name: str,
    db_path: Path,
    max_pages: int | None,
    allow_private: bool,
    redis_url: str | None,
    no_wait: bool,
) -> None:
    """Run one crawl of SCHEDULE (a name in schedules/ or a .toml file) now.

    Resumes whatever an interrupted run left in the frontier. Exits 1 if any
    URL finally failed, with a summary on stderr. With --redis the run is sent
    to the writer and done by the workers; this waits for its result.
    """
    from scraper.config import find_schedule
    from scraper.crawl.run import crawl_once
    from scraper.scheduler import check_trigger

    try:
        schedule = find_schedule(schedule_name)
        check_trigger(schedule)
    except UsageError as exc:
        _fail(str(exc), 2)
    except ScrapeError as exc:
        _fail(str(exc))
    if redis_url is not None:
        _crawl_through_broker(schedule, redis_url, max_pages=max_pages, wait=not no_wait)
    archive = _open_archive(db_path)
    display = _ProgressLine() if sys.stderr.isatty() else None
    try:
        summary = crawl_once(
            schedule,
            archive,
            max_pages=max_pages,
            allow_private=allow_private or settings.allow_private_from_env(),
            on_progress=display.update if display else None,
        )
    except ScrapeError as exc:
        _fail(str(exc))
    finally:
        if display:
            display.close()
        archive.close()
    click.echo(
        f"{summary.schedule}: run {summary.run_id} {summary.status}: {summary.pages_fetched} pages fetched, "
        f"{summary.new_articles} new articles, {summary.new_versions} new versions, {summary.errors} failed"
        + (f" ({summary.message})" if summary.message else "")
        + ".",
        err=True,
    )
    sys.exit(0 if summary.errors == 0 and summary.status in ("completed", "capped") else 1)


def _crawl_through_broker(schedule: Any, redis_url: str, *, max_pages: int | None, wait: bool) -> NoReturn:
    """`scrape crawl --redis`: send the run request to the writer, and wait for how the run ended."""
    _check_redis(redis_url)
    from scraper.distributed.runs import RunClient, summary

    client = RunClient(redis_url)
    try:
        client.broker.ping()
        request = client.send(schedule, max_pages=max_pages)
        if not wait:
            click.echo(request)
            sys.exit(0)
        click.echo(f"Sent run request {request} for {schedule.name} to {client}; waiting for it to end.", err=True)
        try:
            result = client.wait(request, give_up=lambda: False)
        except KeyboardInterrupt:
            _fail(f"Stopped waiting; the run goes on in the writer (request {request}).")
    except ScrapeError as exc:
        _fail(str(exc))
    finally:
        client.close()
    assert result is not None
    click.echo(summary(result) + ".", err=True)
    sys.exit(0 if result.errors == 0 and result.status in ("completed", "capped") else 1)


def _check_redis(redis_url: str) -> None:
    """Exit 2 for a URL that is not Redis's, 1 when the distributed mode's dependencies are not installed."""
    try:
        from scraper.distributed.broker import check_url

        check_url(redis_url)
    except UsageError as exc:
        _fail(str(exc), 2)
    except ScrapeError as exc:
        _fail(str(exc))


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: a service finishes what it holds, then stops."""
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


@cli.command("worker")
@click.option("--redis", "redis_url", metavar="URL", required=True, help="The broker (redis://host:6379/0).")
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=settings.WORKER_THREADS,
    show_default=True,
    help="Fetch jobs this process runs at once.",
)
@click.option(
    "--allow-private",
    is_flag=True,
    help=f"Allow loopback and private addresses when the job's schedule allows them too (also: "
    f"{settings.ALLOW_PRIVATE_ENV}=1).",
)
@REDELIVERY_OPTION
@click.pass_context
def worker_command(
    ctx: click.Context, redis_url: str, threads: int, allow_private: bool, redelivery_after: float
) -> None:
    """Fetch and parse pages for the writer: run fetch jobs from the broker until SIGTERM/SIGINT.

    Any number of workers, on any machines; they never open an archive. Politeness
    (per-host concurrency, delay, Crawl-delay) and robots.txt are shared through
    the broker. A worker killed mid-job has its jobs redelivered after
    --redelivery-after seconds.
    """
    _check_redis(redis_url)
    from scraper.distributed.worker import run_worker

    _service_log(ctx)
    stop = _stop_on_signals()
    try:
        worker = run_worker(
            redis_url,
            threads=threads,
            allow_private=allow_private or settings.allow_private_from_env(),
            redelivery_after=redelivery_after,
            stop=stop,
        )
    except ScrapeError as exc:
        _fail(str(exc))
    click.echo(f"Worker stopped after {worker.done} fetch jobs.", err=True)


@cli.command("writer")
@click.option("--redis", "redis_url", metavar="URL", required=True, help="The broker (redis://host:6379/0).")
@click.option(
    "--archives",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder of archives: one per site, <site>.db (created if missing).",
)
@click.option(
    "--lease",
    type=float,
    callback=finite(1, 7 * 86400),
    default=settings.IN_FLIGHT_LEASE,
    show_default=True,
    help="Seconds an in-flight URL waits for its outcome before its job is sent again.",
)
@REDELIVERY_OPTION
@click.pass_context
def writer_command(ctx: click.Context, redis_url: str, archives: Path, lease: float, redelivery_after: float) -> None:
    """Write the archives: the one process that does, running every crawl run sent through the broker.

    Runs until SIGTERM/SIGINT. Each delivery is written once, in one transaction,
    however often the broker hands it over; a writer killed mid-batch resumes
    with nothing lost or duplicated. Only one writer may serve a broker.
    """
    _check_redis(redis_url)
    from scraper.distributed.writer import run_writer

    _service_log(ctx)
    stop = _stop_on_signals()
    try:
        stats = run_writer(redis_url, archives, lease=lease, redelivery_after=redelivery_after, stop=stop)
    except ScrapeError as exc:
        _fail(str(exc))
    click.echo(
        f"Writer stopped: {stats.written} deliveries written, {stats.duplicates} duplicates skipped, "
        f"{stats.runs_finished} runs finished.",
        err=True,
    )


def _service_log(ctx: click.Context) -> None:
    if not ctx.obj["quiet"] and not ctx.obj["verbose"]:
        logging.getLogger("scraper").setLevel(logging.INFO)  # a service keeps a log unless --quiet


class _ProgressLine:
    """A one-line live status on a terminal, rewritten in place."""

    def __init__(self) -> None:
        self._last = 0.0

    def update(self, progress: Any) -> None:
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        elapsed = max(now - progress.started, 1e-6)
        line = (
            f"fetched {progress.fetched} ({progress.fetched / elapsed:.0f}/s) · new {progress.new_articles}"
            f" · versions {progress.new_versions} · retries {progress.retries} · failed {progress.errors}"
        )
        click.echo(f"\r{line}\x1b[K", nl=False, err=True)

    def close(self) -> None:
        click.echo("", err=True)


@cli.command("demo-site")
@click.option("--port", type=int, default=settings.DEMO_PORT, show_default=True, help="Port on 127.0.0.1 (0: any).")
@click.option("--articles", type=click.IntRange(min=1), default=60, show_default=True, help="How many articles.")
@click.option("--hostile/--no-hostile", default=True, show_default=True, help="Include misbehaving articles.")
@click.option(
    "--poison", is_flag=True, help="Also link poison pills: pages, links and redirects that once stopped crawls."
)
@click.option(
    "--crawl-delay",
    type=float,
    callback=finite(0, 3600),
    default=0.05,
    show_default=True,
    help="Crawl-delay in robots.txt (0: none).",
)
@click.option(
    "--fault-rate",
    type=float,
    callback=finite(0, 1),
    default=0.0,
    show_default=True,
    help="Share of article requests answered with a random transient fault (500, 503, 429, reset, stall).",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Also serve the files in this folder under /files/ (e.g. fixtures/).",
)
def demo_site_command(
    port: int, articles: int, hostile: bool, poison: bool, crawl_delay: float, fault_rate: float, root: Path | None
) -> None:
    """Serve the offline demo news site on 127.0.0.1 in the foreground (Ctrl-C stops it)."""
    from scraper.demosite.app import run
    from scraper.demosite.site import NewsSite

    site = NewsSite(
        articles=articles, hostile=hostile, crawl_delay=crawl_delay or None, fault_rate=fault_rate, poison=poison
    )
    try:
        run(
            port=port,
            site=site,
            root=root,
            on_ready=lambda url: click.echo(f"Serving the demo news site on {url}"),
        )
    except OSError as exc:
        _fail(f"Cannot serve the demo site on port {port}: {exc.strerror or exc}.")


@cli.command("demo")
@DB_OPTION
@click.option("--port", type=int, default=settings.SERVE_PORT, show_default=True, help="Port of Datasette.")
@click.option("--no-serve", is_flag=True, help="Build the demo archive, then exit instead of serving it.")
@click.pass_context
def demo_command(ctx: click.Context, db_path: Path, port: int, no_serve: bool) -> None:
    """Build a demo archive from the bundled offline news site and open it in Datasette.

    Six crawls an hour apart on a simulated clock, while the site's view counters grow, two articles
    are edited and one is taken down: the archive shows view histories, versions and a removal.
    The archive must not exist yet; it is written in the current folder unless --db says otherwise.
    """
    from scraper.demosite.demo import Round, build_demo, serve_datasette

    if not ctx.obj["verbose"]:
        # The site's misbehaving articles fail on purpose every round; each round's line counts them.
        logging.getLogger("scraper.crawl").setLevel(logging.ERROR)

    def report(done: Round) -> None:
        summary = done.summary
        for event in done.happened:
            click.echo(f"  the site {event}", err=True)
        click.echo(
            f"round {done.number} at {done.at:%H:%M} UTC (simulated): {summary.pages_fetched} pages, "
            f"{summary.new_articles} new articles, {summary.new_versions} new versions, {summary.errors} failed",
            err=True,
        )

    try:
        base, rounds = build_demo(db_path, on_round=report)
    except ScrapeError as exc:
        _fail(str(exc))
    click.echo(
        f"Built {db_path} from the demo site at {base} in {len(rounds)} rounds "
        "(the failures are the site's misbehaving articles, on purpose).",
        err=True,
    )
    if no_serve:
        sys.exit(0)
    click.echo(
        f"Browse the archive at http://127.0.0.1:{port}/ (Ctrl-C stops); start with the canned query "
        f"http://127.0.0.1:{port}/archive/edited_after_publication",
        err=True,
    )
    sys.exit(serve_datasette(db_path, port=port))


@cli.command("serve")
@db_option("The archive to browse (read-only).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=settings.SERVE_PORT,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port, shown in the log).",
)
@click.option(
    "--archives",
    type=click.Path(file_okay=False, path_type=Path),
    help="Browse every archive in this folder (the one per site `scrape writer` writes) instead of --db.",
)
@click.option("--show-command", is_flag=True, help="Print the equivalent plain `datasette` command line and exit.")
@click.option(
    "--replay-url",
    metavar="TEMPLATE",
    help="Link each article version to its capture in a replay tool: a URL with {url} (or {url_encoded}) and "
    "{timestamp}, e.g. http://127.0.0.1:8080/archive/{timestamp}/{url} for pywb (see docs/storage.md).",
)
@click.pass_context
def serve_command(
    ctx: click.Context, db_path: Path, port: int, archives: Path | None, show_command: bool, replay_url: str | None
) -> None:
    """Browse the archive in Datasette on 127.0.0.1, read-only, while crawls keep writing to it.

    Articles newest first with facets and search, article pages with the view-count
    chart and the changes between versions, and canned queries. Runs exactly the
    `datasette serve` command line that --show-command prints. With --archives,
    every archive of the folder is served, with one search over all of them at /-/search.
    """
    import shlex

    from scraper.serve.article import REPLAY_URL_ENV, check_replay_template
    from scraper.serve.server import archives_in, check_archive, check_port, datasette_args, serve

    if archives is not None and ctx.get_parameter_source("db_path") == click.core.ParameterSource.COMMANDLINE:
        _fail("Give --db or --archives, not both.", 2)
    if replay_url is not None:
        try:
            os.environ[REPLAY_URL_ENV] = check_replay_template(replay_url)
        except ValueError as exc:
            _fail(str(exc), 2)
    try:
        served: Path | list[Path] = db_path
        if archives is not None:
            served = archives_in(archives)
        if show_command:
            prefix = f"{REPLAY_URL_ENV}={shlex.quote(replay_url)} " if replay_url else ""
            click.echo(prefix + shlex.join(["datasette", *datasette_args(served, port=port)]))
            return
        if isinstance(served, Path):
            check_archive(served)
            _upgrade_for_serving(served)
        check_port("127.0.0.1", port)
        if port:
            what = f"{len(served)} archives of {archives}" if isinstance(served, list) else str(served)
            click.echo(f"Serving {what} read-only at http://127.0.0.1:{port}/ (Ctrl-C stops).", err=True)
        serve(served, port=port)
    except ScrapeError as exc:
        _fail(str(exc))
    except click.ClickException as exc:
        _fail(exc.format_message())


@cli.command("search")
@click.argument("query")
@db_option("The archive to search (read-only).")
@click.option("--site", metavar="HOST", help="Only articles of this site (baigenews.kz; www. does not matter).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only articles published on this day (YYYY-MM-DD, the site's calendar) or later.",
)
@click.option(
    "--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only articles published on this day or before."
)
@click.option(
    "--limit",
    type=click.IntRange(1, settings.SEARCH_MAX_LIMIT),
    default=settings.SEARCH_DEFAULT_LIMIT,
    show_default=True,
    help="Articles to show, and as many found only in earlier versions.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
def search_command(
    query: str,
    db_path: Path,
    site: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search the archive's articles and their earlier versions for QUERY.

    Words match their forms in Russian, Kazakh and English (Токаев finds Токаева), ё as е; "quoted words"
    match as a phrase, exactly; -word leaves a word out, word* matches a prefix, a OR b either. Prints the
    best articles first with a snippet ([marked] words), then articles that had the words only in an
    earlier version. Exits 0 whether or not anything matched, 1 if the archive cannot be read.
    """
    from scraper.search.find import filters, search
    from scraper.store.search import open_reader

    try:
        conn = open_reader(db_path)
    except StoreError as exc:
        _fail(str(exc))
    try:
        results = search(
            conn,
            query,
            filters(site, since.date() if since else None, until.date() if until else None),
            limit=limit,
        )
    except StoreError as exc:
        _fail(str(exc))
    finally:
        conn.close()
    if as_json:
        click.echo(json.dumps(results.to_record(), ensure_ascii=False, indent=2))
    else:
        _print_hits(results.hits)
        if results.earlier:
            click.echo("Only in an earlier version:")
            _print_hits(results.earlier)
    shown = len(results.hits)
    if results.query.truncated:
        click.echo(f"Only the first {settings.SEARCH_MAX_WORDS} words were searched.", err=True)
    if results.query.empty:
        click.echo("Nothing to search for: the query has no words.", err=True)
    else:
        total = results.total
        matched = f"{'More than ' if total.more else ''}{total.articles:,} " + (
            "article matches" if total.articles == 1 and not total.more else "articles match"
        )
        earlier = len(results.earlier)
        also = f", and {earlier} found only in {'an earlier version' if earlier == 1 else 'earlier versions'}"
        click.echo(f"{matched}; {shown} shown{also if earlier else ''}.", err=True)


def _print_hits(hits: list[Any]) -> None:
    for number, hit in enumerate(hits, 1):
        click.echo(f"{number}. {hit.title.bracketed() or hit.url}")
        click.echo(f"   {hit.site} · {(hit.published_at or 'no date')[:10]} · {hit.url}")
        if hit.note:
            click.echo(f"   {hit.note}")
        if hit.snippet.text:
            click.echo(f"   {hit.snippet.bracketed()}")


def _upgrade_for_serving(db_path: Path) -> None:
    """An archive of an older schema is brought up to date before Datasette reads it (the search page needs
    the current search indexes); one that cannot be written is served as it is, with a warning."""
    from scraper.store import upgrade

    try:
        if upgrade(db_path):
            click.echo(f"Brought {db_path} up to the current schema (search indexes).", err=True)
    except StoreError as exc:
        click.echo(f"Warning: {exc} Serving it as it is; the search page needs the current schema.", err=True)


@cli.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@DB_OPTION
def backup_command(destination: Path, db_path: Path) -> None:
    """Copy the archive to DESTINATION safely, even while a crawl writes (SQLite's backup API).

    Never copy archive.db with `cp` while anything writes to it: without its
    -wal file the copy can miss committed pages.
    """
    if not db_path.exists():
        _fail(f"There is no archive at {db_path}.")
    with _open_archive(db_path) as archive:
        try:
            archive.backup(destination)
        except StoreError as exc:
            _fail(str(exc))
    click.echo(f"Backed up {db_path} to {destination}.", err=True)


@cli.group("schedule")
def schedule_group() -> None:
    """See, check and run the schedules in schedules/ (the long-running service)."""


SCHEDULES_OPTION = click.option(
    "--schedules",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schedules"),
    show_default=True,
    help="The folder of schedule files.",
)


@schedule_group.command("check")
@SCHEDULES_OPTION
def schedule_check_command(directory: Path) -> None:
    """Validate every schedule file; exit 1 if any is broken (each error is one line naming file and key)."""
    from scraper.scheduler import load_schedules

    schedules, errors = load_schedules(directory)
    for error in errors:
        click.echo(f"Error: {error}", err=True)
    click.echo(f"{len(schedules)} schedules OK, {len(errors)} broken.", err=True)
    sys.exit(1 if errors else 0)


@schedule_group.command("list")
@SCHEDULES_OPTION
@DB_OPTION
def schedule_list_command(directory: Path, db_path: Path) -> None:
    """Show each schedule: its trigger, its next three fire times, and its last run's result."""
    from scraper.scheduler import describe_trigger, fire_times, load_schedules

    schedules, errors = load_schedules(directory)
    last: dict[str, dict[str, Any]] = {}
    if db_path.exists():
        with _open_archive(db_path) as archive:
            last = archive.runs.latest()
    now = datetime.now(UTC)
    for schedule in schedules:
        times = fire_times(schedule.trigger, after=now, count=3)
        click.echo(f"{schedule.name}  ({schedule.path})")
        click.echo(f"  trigger: {describe_trigger(schedule.trigger)}")
        click.echo(f"  next:    {', '.join(t.isoformat(timespec='minutes') for t in times)}")
        run = last.get(schedule.name)
        if run:
            click.echo(
                f"  last:    run {run['id']} {run['status']} at {run['started_at']}: {run['pages_fetched']} pages,"
                f" {run['new_articles']} new articles, {run['errors']} failed"
            )
        else:
            click.echo("  last:    never run")
    for error in errors:
        click.echo(f"Error: {error}", err=True)
    sys.exit(1 if errors else 0)


@schedule_group.command("run")
@SCHEDULES_OPTION
@DB_OPTION
@click.option("--only", multiple=True, metavar="NAME", help="Run only this schedule (repeatable).")
@click.option(
    "--allow-private",
    is_flag=True,
    help=f"Allow loopback and private addresses for every schedule (also: {settings.ALLOW_PRIVATE_ENV}=1).",
)
@REDIS_OPTION
@click.pass_context
def schedule_run_command(
    ctx: click.Context,
    directory: Path,
    db_path: Path,
    only: tuple[str, ...],
    allow_private: bool,
    redis_url: str | None,
) -> None:
    """Run the scheduler service: every schedule on its trigger, until SIGTERM/SIGINT (SIGHUP re-reads files).

    One scheduler per archive: a second one is refused. Missed runs (the
    service was down) run once at start. Logs go to stderr, one line each.
    With --redis it sends each run to the writer instead of crawling itself
    (then --db is not used, and one scheduler per broker may run).
    """
    from scraper.scheduler import run_service

    if not directory.is_dir():
        _fail(f"There is no schedules folder at {directory}.")
    _service_log(ctx)
    try:
        if redis_url is None:
            run_service(
                db_path=db_path,
                directory=directory,
                only=only,
                allow_private=allow_private or settings.allow_private_from_env(),
            )
        else:
            _check_redis(redis_url)
            from scraper.distributed.runs import BrokerLauncher

            launcher = BrokerLauncher(redis_url)
            launcher.client.broker.ping()
            run_service(
                db_path=db_path,
                directory=directory,
                only=only,
                allow_private=False,
                launcher=launcher,
                lock=launcher.lock(),
            )
    except UsageError as exc:
        _fail(str(exc), 2)
    except ScrapeError as exc:
        _fail(str(exc))
    sys.exit(0)


def main() -> None:
    """Entry point of the `scrape` console script."""
    cli()
