"""Choose a page's publication and modification dates among the candidates the parser found, in order of evidence."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from scraper import wordlists
from scraper.dates import ParsedDate, infer_year, month_first, parse_date
from scraper.errors import BadDate
from scraper.models import DateCandidate, DateRole, Origin

#: Clocks and time zones disagree a little; a date this far ahead of the fetch is still accepted.
FUTURE_SLACK = timedelta(hours=2)
#: Dates before this year are not a news page's (copyright lines, birth dates, history).
EARLIEST_YEAR = 1990
#: Machine-readable dates: what the page says about itself in JSON-LD and <meta>.
MACHINE = frozenset({Origin.JSONLD, Origin.META})
# Enum members read on every page, looked up once (on Python 3.11 an enum class attribute costs ten times a global).
_VISIBLE, _TIME, _HEADER, _URL, _SCRIPT = Origin.VISIBLE, Origin.TIME, Origin.HEADER, Origin.URL, Origin.SCRIPT
_PUBLISHED, _UPDATED = DateRole.PUBLISHED, DateRole.UPDATED
_STRONG_ORIGINS = frozenset({_TIME, _HEADER})
#: A numeric date that reads both day first and month first.
_AMBIGUOUS = re.compile(r"^\s*(?:0?[1-9]|1[0-2])/(?:0?[1-9]|1[0-2])/\d{4}")
#: The largest gap between a UTC time and a local one (UTC+14, UTC-12).
_MAX_OFFSET = timedelta(hours=14)

#: One decision about one candidate, for --explain: raw text, origin, detail, verdict.
Trace = list[dict[str, Any]]


class Settled(NamedTuple):
    """The dates of a record, and where the publication date came from."""

    published_at: str | None
    published_raw: str | None
    published_from: Origin | None
    modified_at: str | None


class _Dated(NamedTuple):
    candidate: DateCandidate
    parsed: ParsedDate


@cache
def _country_zones() -> dict[str, ZoneInfo]:
    return {code: ZoneInfo(name) for code, name in wordlists.load("country_zones")["zones"].items()}


def country_zone(host: str) -> ZoneInfo | None:
    """The zone a site of unknown zone most likely prints its times in, from the country code ending its host."""
    return _country_zones().get(host.rpartition(".")[2].lower())


def _strong(candidate: DateCandidate) -> bool:
    """A visible date the page marks as the publication date, a <time> element, the header line, a profile's."""
    return candidate.role is _PUBLISHED or candidate.origin in _STRONG_ORIGINS


class _Reader:
    """Reads candidates in one zone against one fetch time, noting every decision."""

    def __init__(
        self,
        zone: tzinfo,
        now: datetime,
        keep_offset: bool,
        language: str | None,
        warnings: list[str],
        trace: Trace | None,
    ) -> None:
        self.zone = zone
        self.warnings = warnings
        self.cache: dict[tuple[str, bool, tzinfo | None], ParsedDate | None] = {}
        self.now = now
        self.keep_offset = keep_offset
        self.language = language
        self.trace = trace
        # A site of unknown zone prints local times read here as UTC: they may run up to 14 hours ahead.
        self.limit = now + FUTURE_SLACK
        self.local_limit = self.limit + _MAX_OFFSET if keep_offset else self.limit

    def note(self, candidate: DateCandidate, verdict: str, value: datetime | None = None) -> None:
        if self.trace is not None:
            self.trace.append(
                {
                    "raw": candidate.raw,
                    "from": str(candidate.origin),
                    "detail": candidate.detail,
                    "role": str(candidate.role),
                    "value": value.isoformat() if value else None,
                    "verdict": verdict,
                }
            )

    def read(self, candidate: DateCandidate, name: str, zone: tzinfo | None = None) -> ParsedDate | None:
        """Parse one candidate; None (with the reason noted) if it is no date, impossible or implausible."""
        # A profile's selector points at a date, so it may be year-less or a bare time; text found by
        # generic rules must look like a date on its own.
        loose = candidate.origin is _VISIBLE and candidate.detail.startswith("profile")
        key = (candidate.raw, loose, zone)
        # JSON-LD and <meta> mostly repeat one string: it is read once.
        cache = self.cache
        parsed = cache.get(key)
        try:
            if parsed is None and key not in cache:
                parsed = cache[key] = parse_date(
                    candidate.raw,
                    zone=zone or self.zone,
                    now=self.now,
                    keep_offset=self.keep_offset,
                    language=self.language,
                    strict=not loose,
                )
        except BadDate as exc:
            if candidate.origin in MACHINE or loose:
                self.warnings.append(f"{name}: {candidate.raw!r} ignored ({exc})")
            self.note(candidate, f"not a possible date ({exc})")
            return None
        if parsed is None:
            self.note(candidate, "no date in it")
            return None
        if parsed.value.year < EARLIEST_YEAR:
            self.note(candidate, f"before {EARLIEST_YEAR}", parsed.value)
            return None
        return parsed

    def future(self, parsed: ParsedDate) -> bool:
        # A year-less date is given its year later, never one in the future.
        return parsed.has_year and parsed.value > (self.limit if parsed.has_offset else self.local_limit)


def _page_zone(machine: list[_Dated], fallback: tzinfo) -> tzinfo:
    """The zone visible times of a site without a known zone are in: the offset its metadata gives, else UTC."""
    for dated in machine:
        if dated.parsed.has_offset and dated.parsed.has_time:
            return dated.parsed.value.tzinfo or fallback
    return fallback


def _whole_hours(delta: timedelta) -> bool:
    return bool(delta) and abs(delta) <= _MAX_OFFSET and delta % timedelta(hours=1) == timedelta(0)


def settle_dates(
    published: list[DateCandidate],
    modified: list[DateCandidate],
    *,
    zone: tzinfo,
    known_zone: bool,
    now: datetime,
    language: str | None,
    warnings: list[str],
    trace: Trace | None = None,
) -> Settled:
    """Choose the publication date: JSON-LD and <meta> first, then what the page shows, then its address.

    `zone` is the site's zone (`known_zone`), else the zone its times are read in when the page gives no
    offset (`country_zone`, or UTC); `now` is the fetch time. Candidates come
    in the parser's order of evidence. Dates in the future or before 1990 are passed over.
    A visible date with a time refines a machine date that has none; when the metadata's time is the
    visible local time converted to UTC but labeled with the local offset (a CMS mistake), the visible
    time wins with a warning; a site of unknown zone gets the offset its visible times imply.
    """
    reader = _Reader(zone, now, not known_zone, language, warnings, trace)

    # Modification date: the first that reads.
    modified_value: datetime | None = None
    modified_has_year = False
    for candidate in modified:
        parsed = reader.read(candidate, "modified")
        if parsed is not None:
            modified_value = parsed.value if parsed.has_year else infer_year(parsed, now=now)
            modified_has_year = parsed.has_year and candidate.origin in MACHINE
            reader.note(candidate, "the modification date", modified_value)
            break

    machine: list[_Dated] = []
    others: list[DateCandidate] = []
    for candidate in published:
        if candidate.origin not in MACHINE:
            others.append(candidate)
            continue
        parsed = reader.read(candidate, "published")
        if parsed is None:
            continue
        if reader.future(parsed):
            warnings.append(f"published: {parsed.value.isoformat()} is in the future; ignored")
            reader.note(candidate, "in the future", parsed.value)
            continue
        machine.append(_Dated(candidate, parsed))

    visible_zone = zone if known_zone else _page_zone(machine, zone)
    visible: list[_Dated] = []
    for candidate in others:
        parsed = reader.read(candidate, "published", visible_zone)
        if parsed is None:
            continue
        if reader.future(parsed):
            reader.note(candidate, "in the future", parsed.value)
            continue
        visible.append(_Dated(candidate, parsed))

    chosen, origin = _choose(machine, visible, reader)
    if chosen is None:
        return Settled(None, None, None, modified_value.isoformat() if modified_value else None)
    value = chosen.parsed.value
    if not chosen.parsed.has_year:
        # A year from the page's own metadata beats a guess from the fetch time.
        hint = modified_value if modified_has_year else None
        value = infer_year(chosen.parsed, now=now, hint=hint)
        origin = Origin.VISIBLE if hint is not None else Origin.INFERRED
    shown = _shown(chosen, visible)
    reader.note(chosen.candidate, "chosen", value)
    return Settled(
        value.isoformat(),
        " ".join(shown.split()) or None,
        origin,
        modified_value.isoformat() if modified_value else None,
    )


def _shown(chosen: _Dated, visible: list[_Dated]) -> str:
    """What the reader sees of the chosen date: the shortest text the page shows for that day, else the chosen raw."""
    value = chosen.parsed.value
    best: str | None = None
    for dated in visible:
        shown, candidate = dated.parsed, dated.candidate
        if candidate.origin is _TIME or candidate.role is _UPDATED:
            continue  # a <time>'s raw is its datetime attribute, not what a reader sees
        same = (shown.value.month, shown.value.day) == (value.month, value.day)
        if (
            same
            and (not shown.has_year or shown.value.year == value.year)
            and (best is None or len(candidate.raw) < len(best))
        ):
            best = candidate.raw
    return best if best is not None else chosen.candidate.raw


def _rank(dated: _Dated) -> int:
    """Where a date the page shows stands when no metadata dates the page (lower is better).

    The page's own marked dates (its header line, <time>, a "published" label, a profile's selector), then
    its address, then any other date element, then script data, then what the page calls an update.
    """
    candidate = dated.candidate
    if candidate.role is _UPDATED:
        return 4
    if _strong(candidate):
        return 0
    origin = candidate.origin
    return 1 if origin is _URL else (3 if origin is _SCRIPT else 2)


def _choose(machine: list[_Dated], visible: list[_Dated], reader: _Reader) -> tuple[_Dated | None, Origin | None]:
    """The publication date and its origin (before the year of a year-less date is settled)."""
    if machine:
        shown = [d for d in visible if d.candidate.role is not _UPDATED]
        header = None
        for dated in shown:
            if _strong(dated.candidate):
                header = dated
                break
        best = _disambiguate(_majority(machine, reader), shown, reader) if len(machine) > 1 or shown else machine[0]
        if reader.trace is not None:
            for other in machine[1:]:
                verdict = "lost: a machine-readable date of more trust came first"
                reader.note(other.candidate, verdict, other.parsed.value)
        if header is not None:
            refined = _refine(best, header, reader)
            if refined is not None:
                _note_rest(visible, refined, reader)
                return refined, refined.candidate.origin
        _note_rest(visible, best, reader)
        return best, best.candidate.origin
    if not visible:
        return None, None
    # min() keeps the first of equal ranks: the parser's order of evidence.
    best = min(visible, key=_rank)
    _note_rest(visible, best, reader)
    return best, best.candidate.origin


def _note_rest(visible: list[_Dated], chosen: _Dated, reader: _Reader) -> None:
    if reader.trace is None:
        return
    for dated in visible:
        if dated is chosen:
            continue
        same = dated.parsed.value.date() == chosen.parsed.value.date()
        verdict = "agrees (same day)" if same else "lost: evidence of less trust"
        if dated.candidate.role is _UPDATED:
            verdict = "lost: the page says it is an update"
        reader.note(dated.candidate, verdict, dated.parsed.value)


def _majority(machine: list[_Dated], reader: _Reader) -> _Dated:
    """The first machine date, unless more of the page's metadata agrees on another day."""
    first_parsed = machine[0].parsed
    for dated in machine:
        if dated.parsed is not first_parsed:
            break
    else:
        return machine[0]  # one string repeated (JSON-LD and <meta>), read once
    days: dict[date, list[_Dated]] = {}
    for dated in machine:
        days.setdefault(dated.parsed.value.date(), []).append(dated)
    if len(days) < 2:
        return machine[0]
    first = machine[0].parsed.value.date()
    day, votes = max(days.items(), key=lambda item: len(item[1]))
    if day != first and len(votes) > len(days[first]):
        reader.note(
            machine[0].candidate, f"lost: {len(votes)} other metadata fields say {day}", machine[0].parsed.value
        )
        return votes[0]
    return machine[0]


def _disambiguate(machine: _Dated, shown: list[_Dated], reader: _Reader) -> _Dated:
    """Read an ambiguous numeric machine date (01/11/2023) the other way round if only that agrees with the page."""
    raw = machine.candidate.raw
    if not _AMBIGUOUS.match(raw):
        return machine
    other_language = "de" if month_first(reader.language) else "en"
    try:
        other = parse_date(
            raw, zone=reader.zone, now=reader.now, keep_offset=reader.keep_offset, language=other_language
        )
    except BadDate:
        return machine
    if other is None or other.value.date() == machine.parsed.value.date():
        return machine
    days = {d.parsed.value.date() for d in shown if d.parsed.has_year}
    if other.value.date() in days and machine.parsed.value.date() not in days:
        reader.note(machine.candidate, "read day first or month first as the page's visible date has it", other.value)
        return machine._replace(parsed=other)
    return machine


def _day_offset(machine: ParsedDate, day: date) -> timedelta | None:
    """The smallest whole-hour offset that puts a UTC instant on `day` (the day the page shows), if one can."""
    instant = machine.value
    since_midnight = timedelta(hours=instant.hour, minutes=instant.minute, seconds=instant.second)
    if day == instant.date() + timedelta(days=1):
        offset = timedelta(hours=-(-(timedelta(days=1) - since_midnight) // timedelta(hours=1)))
    elif day == instant.date() - timedelta(days=1):
        offset = -timedelta(hours=since_midnight // timedelta(hours=1) + 1)
    else:
        return None
    return offset if -timedelta(hours=12) <= offset <= _MAX_OFFSET else None


def _refine(machine: _Dated, shown: _Dated, reader: _Reader) -> _Dated | None:
    """A better reading of a machine date from the visible header date, or None to keep the machine date."""
    m, v = machine.parsed, shown.parsed
    if v.relative:
        return None
    if not v.has_year:
        if not v.has_time or not m.has_time:
            return None  # a year-less day refines nothing; the rules below need both times
        # "12 Марта, 13:45" beside 2024-03-12T08:45:00+05:00: the year is the metadata's.
        try:
            v = ParsedDate(v.value.replace(year=m.value.year), True, v.relative, v.has_time, v.has_offset, v.start)
        except ValueError:  # 29 February
            return None
        shown = _Dated(shown.candidate, v)
    if not v.has_time:
        if not (reader.keep_offset and m.has_time and m.has_offset and not m.value.utcoffset()):
            return None
        # A site of unknown zone with metadata in UTC, showing another day: that day is the local one.
        offset = _day_offset(m, v.value.date())
        if offset is None:
            return None
        reader.note(machine.candidate, "its time is UTC; the page shows the local day", m.value)
        return machine._replace(parsed=m._replace(value=m.value.astimezone(timezone(offset))))
    if not m.has_time:
        # "2024-03-12" in the metadata, "12 марта 2024, 13:45" on the page: the page's time.
        if m.value.date() == v.value.date():
            return shown
        return None
    if not m.has_offset:
        return None
    # Pages print minutes: compare to the minute.
    machine_wall = m.value.replace(tzinfo=None, second=0, microsecond=0)
    shown_wall = v.value.replace(tzinfo=None, second=0, microsecond=0)
    gap = shown_wall - machine_wall
    if not _whole_hours(gap):
        return None
    offset = m.value.utcoffset() or timedelta(0)
    if offset and gap == offset:
        # The metadata's clock is the shown local time in UTC, but labeled with the local offset.
        reader.note(machine.candidate, "lost: its time is UTC labeled with the local offset", m.value)
        warning = (
            f"published: the metadata says {m.value.isoformat()} but the page shows {shown.candidate.raw!r}; "
            "the CMS wrote UTC with a local label, so the page's local time is used"
        )
        reader.warnings.append(warning)
        return shown
    if not reader.keep_offset or offset:
        return None
    # A site of unknown zone whose metadata is in UTC: the page's clock tells its offset.
    local = timezone(gap)
    return machine._replace(parsed=m._replace(value=m.value.astimezone(local)))
