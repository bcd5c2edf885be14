"""Schedule files (schedules/*.toml): one site each; loaded and validated with errors naming the file and key."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scraper import settings
from scraper.errors import ConfigError, UsageError
from scraper.netguard import blocked_reason
from scraper.patterns import ANY, Pattern, compile_pattern
from scraper.profiles import get_profile
from scraper.urls import check_url

SCHEDULES_DIR = Path("schedules")
HOUR = 3600.0
DAY = 86400.0
#: The longest duration a schedule may name (a revisit step, an interval).
MAX_DURATION = timedelta(days=366)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$")
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


@dataclass(frozen=True)
class RevisitStep:
    """Articles younger than `younger_than` are re-visited every `every`."""

    younger_than: timedelta
    every: timedelta


#: Hourly in the first day, every 6 hours in the first week, daily in the first month, then never.
DEFAULT_REVISITS = (
    RevisitStep(timedelta(days=1), timedelta(hours=1)),
    RevisitStep(timedelta(days=7), timedelta(hours=6)),
    RevisitStep(timedelta(days=30), timedelta(days=1)),
)


@dataclass(frozen=True)
class Trigger:
    """When the scheduler runs a schedule: a cron expression or an interval, in a time zone."""

    cron: str | None = None
    interval: timedelta | None = None
    jitter: float = 0.0
    timezone: str = settings.DEFAULT_TIMEZONE


@dataclass(frozen=True)
class Schedule:
    """One site's crawl: where to start, what an article is, how fast, how often."""

    name: str
    path: Path
    profile: str
    listings: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    #: A pattern over the URL path: which links of listings and sitemaps are articles (feed items always are).
    article_url: Pattern = ANY
    #: A pattern over the URL path: which other links (pagination, sections) to follow from listings.
    follow: Pattern | None = None
    allow_private: bool = False
    max_pages: int = 1000
    max_depth: int = 3
    fetch_timeout: float = settings.TOTAL_TIMEOUT
    run_timeout: float = 3600.0
    concurrency: int = 2
    global_concurrency: int = 16
    delay: float = 1.0
    #: The first retry waits about this long; each further one twice as long (with jitter).
    retry_delay: float = 1.0
    max_tries: int = 4
    conditional: bool = True
    revisits: tuple[RevisitStep, ...] = DEFAULT_REVISITS
    trigger: Trigger = field(default_factory=Trigger)

    @property
    def start_urls(self) -> tuple[str, ...]:
        return self.listings + self.feeds + self.sitemaps

    def revisit_interval(self, age: timedelta) -> timedelta | None:
        """How often an article of this age is re-visited, or None once it is too old."""
        for step in self.revisits:
            if age < step.younger_than:
                return step.every
        return None


_SECTIONS: dict[str, set[str]] = {
    "": {
        "name",
        "profile",
        "listings",
        "feeds",
        "sitemaps",
        "article_url",
        "follow",
        "allow_private",
        "limits",
        "politeness",
        "revisit",
        "trigger",
    },
    "limits": {"max_pages", "max_depth", "fetch_timeout", "run_timeout", "max_tries"},
    "politeness": {"concurrency", "global_concurrency", "delay", "retry_delay", "conditional"},
    "revisit": {"steps"},
    "trigger": {"cron", "interval", "jitter", "timezone"},
}


class _Reader:
    """Typed access to one parsed TOML table, raising ConfigError that names the file and the key."""

    def __init__(self, path: Path, data: dict[str, Any], prefix: str = "") -> None:
        self.path, self.data, self.prefix = path, data, prefix
        known = _SECTIONS[prefix.rstrip(".")]
        for key in data:
            if key not in known:
                raise self.fail(key, f"is not a schedule setting (known here: {', '.join(sorted(known))})")

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(
            f"Schedule {self.path}: key '{self.prefix}{key}' {problem}.",
            path=str(self.path),
            key=self.prefix + key,
        )

    def table(self, key: str) -> _Reader:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return _Reader(self.path, value, f"{self.prefix}{key}.")

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(key, f"must be a non-empty string (got {value!r})")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false (got {value!r})")
        return value

    def number(self, key: str, default: float, *, minimum: float, maximum: float, integer: bool = False) -> Any:
        value = self.data.get(key, default)
        wrong = isinstance(value, bool) or not isinstance(value, int if integer else (int, float))
        if wrong or not math.isfinite(value) or not minimum <= value <= maximum:
            kind = "an integer" if integer else "a number"
            raise self.fail(key, f"must be {kind} from {_number(minimum)} to {_number(maximum)} (got {value!r})")
        return value

    def duration(self, key: str, default: timedelta | None) -> timedelta | None:
        value = self.data.get(key)
        if value is None:
            return default
        return _duration(value, lambda problem: self.fail(key, problem))

    def urls(self, key: str, allow_private: bool) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of URLs")
        checked = []
        for url in value:
            try:
                checked.append(check_url(url))
            except UsageError as exc:
                raise self.fail(key, f"has a URL that cannot be crawled: {exc}") from None
            if not allow_private:
                _refuse_private_literal(url, lambda problem: self.fail(key, problem))
        return tuple(checked)

    def pattern(self, key: str) -> Pattern | None:
        value = self.string(key)
        if value is None:
            return None
        try:
            return compile_pattern(value)
        except ValueError as exc:
            raise self.fail(key, f"is not a pattern this crawler can run ({exc})") from None


def _number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def _duration(value: Any, fail: Any) -> timedelta:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    else:
        raise fail(f'must be a duration like 30, "90s", "15m", "6h" or "1d" (got {value!r})')
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_DURATION.total_seconds():
        raise fail(f"must be longer than zero and at most {MAX_DURATION.days} days (got {value!r})")
    return timedelta(seconds=seconds)


def _refuse_private_literal(url: str, fail: Any) -> None:
    """A start URL naming a private address literally is refused unless allow_private is set."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        raise fail(f"points at {host}, a loopback name; set allow_private = true to crawl it")
    reason = blocked_reason(host)
    if reason and reason != "it is not an IP address":
        raise fail(f"points at {host} and {reason}; set allow_private = true to crawl it")


def _trigger(reader: _Reader) -> Trigger:
    cron = reader.string("cron")
    interval = reader.duration("interval", None)
    if cron and interval:
        raise reader.fail("cron", "and 'trigger.interval' cannot both be set; choose one")
    timezone = reader.string("timezone", settings.DEFAULT_TIMEZONE) or settings.DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.fail("timezone", f"names no known time zone ({timezone!r})") from None
    trigger = Trigger(
        cron=cron,
        interval=interval,
        jitter=float(reader.number("jitter", 0, minimum=0, maximum=DAY)),
        timezone=timezone,
    )
    return trigger


def _revisits(reader: _Reader) -> tuple[RevisitStep, ...]:
    steps = reader.data.get("steps")
    if steps is None:
        return DEFAULT_REVISITS
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise reader.fail("steps", 'must be a list of tables like { younger_than = "1d", every = "1h" }')
    result = []
    for index, step in enumerate(steps):
        unknown = set(step) - {"younger_than", "every"}
        if unknown or len(step) != 2:
            raise reader.fail(f"steps[{index}]", "needs exactly younger_than and every")
        result.append(
            RevisitStep(
                _duration(step["younger_than"], lambda p, i=index: reader.fail(f"steps[{i}].younger_than", p)),
                _duration(step["every"], lambda p, i=index: reader.fail(f"steps[{i}].every", p)),
            )
        )
    return tuple(sorted(result, key=lambda s: s.younger_than))


def schedule_from_dict(data: dict[str, Any], path: Path) -> Schedule:
    """Validate parsed TOML into a Schedule."""
    top = _Reader(path, data)
    name = top.string("name", path.stem) or path.stem
    profile = top.string("profile", "generic") or "generic"
    try:
        get_profile(profile)
    except UsageError as exc:
        raise top.fail("profile", str(exc).rstrip(".")) from None
    allow_private = top.boolean("allow_private", False)
    listings = top.urls("listings", allow_private)
    feeds = top.urls("feeds", allow_private)
    sitemaps = top.urls("sitemaps", allow_private)
    if not (listings or feeds or sitemaps):
        raise top.fail("listings", "is missing: give at least one of listings, feeds or sitemaps")
    limits, politeness = top.table("limits"), top.table("politeness")
    return Schedule(
        name=name,
        path=path,
        profile=profile,
        listings=listings,
        feeds=feeds,
        sitemaps=sitemaps,
        article_url=top.pattern("article_url") or ANY,
        follow=top.pattern("follow"),
        allow_private=allow_private,
        max_pages=int(limits.number("max_pages", 1000, minimum=1, maximum=10_000_000, integer=True)),
        max_depth=int(limits.number("max_depth", 3, minimum=0, maximum=100, integer=True)),
        fetch_timeout=float(limits.number("fetch_timeout", settings.TOTAL_TIMEOUT, minimum=0.1, maximum=HOUR)),
        run_timeout=float(limits.number("run_timeout", 3600, minimum=1, maximum=7 * DAY)),
        max_tries=int(limits.number("max_tries", 4, minimum=1, maximum=100, integer=True)),
        concurrency=int(politeness.number("concurrency", 2, minimum=1, maximum=100, integer=True)),
        global_concurrency=int(politeness.number("global_concurrency", 16, minimum=1, maximum=1000, integer=True)),
        delay=float(politeness.number("delay", 1.0, minimum=0, maximum=HOUR)),
        retry_delay=float(politeness.number("retry_delay", 1.0, minimum=0, maximum=HOUR)),
        conditional=politeness.boolean("conditional", True),
        revisits=_revisits(top.table("revisit")),
        trigger=_trigger(top.table("trigger")),
    )


def load_schedule(path: Path) -> Schedule:
    """Read and validate one schedule file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the schedule {path}: {exc.strerror or exc}.", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Schedule {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8.",
            path=str(path),
        ) from None
    return schedule_from_text(text, path)


def schedule_from_text(text: str, path: Path) -> Schedule:
    """Read and validate a schedule file's text (`path` names it in messages, and its stem is the default name)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Schedule {path} is not valid TOML: {exc}.", path=str(path)) from None
    return schedule_from_dict(data, path)


def find_schedule(name_or_path: str, directory: Path = SCHEDULES_DIR) -> Schedule:
    """Load a schedule given as a file path, or as a name in schedules/."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return load_schedule(candidate)
    path = directory / f"{name_or_path}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.toml"))) or "none"
        raise UsageError(f"There is no schedule {name_or_path!r} in {directory}/ (known: {known}).")
    return load_schedule(path)


def load_all(directory: Path = SCHEDULES_DIR) -> tuple[list[Schedule], list[ConfigError]]:
    """Load every schedule in `directory`; a broken file is returned as an error, not raised."""
    schedules: list[Schedule] = []
    errors: list[ConfigError] = []
    names: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            schedule = load_schedule(path)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if schedule.name in names:
            errors.append(
                ConfigError(
                    f"Schedule {path}: key 'name' repeats {schedule.name!r}, already used by {names[schedule.name]}.",
                    path=str(path),
                    key="name",
                )
            )
            continue
        names[schedule.name] = path
        schedules.append(schedule)
    return schedules, errors
