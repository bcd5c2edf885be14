"""Read the dates news sites print (Russian, Kazakh, English, ISO, relative) into aware datetimes."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from scraper.errors import BadDate

# Month words by their first letters. Russian and English forms are matched by a
# stem because they decline ("марта", "мартовский" never appears in a date);
# May is listed whole because "ма" would also catch Kazakh мамыр/маусым.
_MONTH_STEMS: tuple[tuple[str, int], ...] = (
    # Kazakh (stems cover the declined forms: наурыздың, қазанда, ...)
    ("қаңтар", 1),
    ("қантар", 1),
    ("ақпан", 2),
    ("наурыз", 3),
    ("сәуір", 4),
    ("мамыр", 5),
    ("маусым", 6),
    ("шілде", 7),
    ("тамыз", 8),
    ("қыркүйек", 9),
    ("қазан", 10),
    ("қараша", 11),
    ("желтоқсан", 12),
    # Russian
    ("янв", 1),
    ("фев", 2),
    ("мар", 3),
    ("апр", 4),
    ("июн", 6),
    ("июл", 7),
    ("авг", 8),
    ("сен", 9),
    ("окт", 10),
    ("ноя", 11),
    ("дек", 12),
    # English
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
)
_STEM_MONTH = dict(_MONTH_STEMS)
# Longest stems first, so "қаңтар" is tried before any three-letter stem.
_STEM_LENGTHS = sorted({len(stem) for stem, _ in _MONTH_STEMS}, reverse=True)
_MONTH_WHOLE = {"май": 5, "мая": 5, "мае": 5, "may": 5}

_TODAY = frozenset({"сегодня", "бүгін", "today"})
_YESTERDAY = frozenset({"вчера", "кеше", "yesterday"})
_DAY_BEFORE = frozenset({"позавчера"})

_WORD = r"[^\W\d_]+\.?"
_WORDS = re.compile(r"[^\W\d_]+")
_COMMON = re.compile(
    r"(\d{1,2})\s+([^\W\d_]{3,})\.?(?:,?\s+(\d{4})(?:\s*(?:г\.|года|ж\.|жыл\w*))?)?"
    r"(?:,?\s*(?:в\s+)?(\d{1,2}):(\d{2}))?\s*$",
    re.IGNORECASE,
)
# "12 марта 2024, 13:45", "12 наурыз", "March 12, 2024 1:45 PM", "2024 жылғы 12 наурыз"
_DAY_MONTH = re.compile(rf"(?<!\d)(\d{{1,2}})(?:-?(?:го|е|ші|шы))?\s+({_WORD})(?:\s*,?\s*(\d{{4}}))?", re.IGNORECASE)
_MONTH_DAY = re.compile(rf"\b({_WORD})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:\s*,\s*|\s+)(\d{{4}})?", re.IGNORECASE)
_YEAR_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{4}})\s*(?:ж\.?|жылғы|жыл|г\.?|года)?\s+(\d{{1,2}})\s+({_WORD})", re.IGNORECASE
)
_ISO = re.compile(
    r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?:[T\s](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})(?:[./](\d{4}|\d{2}))?(?![\d])")
_TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([ap])\.?m\.?)?(?![\d])", re.IGNORECASE)
_AGO = re.compile(
    r"(\d+)\s*(мин|минут\w*|час\w*|сағат|минут|секунд\w*|сек|minutes?|mins?|hours?|hrs?|seconds?|secs?)\s*"
    r"(назад|бұрын|ago)",
    re.IGNORECASE,
)


class ParsedDate(NamedTuple):
    """A date read from text, in the site's time zone (a named tuple: several are made for every page)."""

    value: datetime
    has_year: bool = True
    #: True when the text was relative to the fetch time ("Вчера", "5 минут назад").
    relative: bool = False


def month_number(word: str) -> int | None:
    """Return the month a Russian, Kazakh or English month word (any case or form) names."""
    token = word.lower().rstrip(".")
    if token in _MONTH_WHOLE:
        return _MONTH_WHOLE[token]
    if len(token) < 3:
        return None
    for length in _STEM_LENGTHS:
        number = _STEM_MONTH.get(token[:length])
        if number is not None:
            return number
    return None


def _time_of(text: str) -> time | None:
    found = _TIME.search(text)
    if not found:
        return None
    hour, minute, second = int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)
    meridiem = (found.group(4) or "").lower()
    if meridiem == "p" and hour < 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        raise BadDate(f"{found.group(0)!r} is not a time of day")
    return time(hour, minute, second)


def _strip_time(text: str) -> str:
    return _TIME.sub(" ", text)


def _aware(day: date, clock: time | None, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock or time(0, 0), tzinfo=zone)


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise BadDate(f"{day}.{month}.{year} is not a calendar date") from None


def _parse_iso(text: str, zone: ZoneInfo, keep_offset: bool = False) -> ParsedDate | None:
    if "-" not in text:
        return None  # no date of this form
    found = _ISO.search(text)
    if not found:
        return None
    year, month, day, hour, minute, second, offset = found.groups()
    day_value = _make_date(int(year), int(month), int(day))
    if hour is None:
        return ParsedDate(_aware(day_value, None, zone))
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        raise BadDate(f"{found.group(0)!r} is not a valid time")
    clock = time(int(hour), int(minute), int(second or 0))
    if not offset:
        return ParsedDate(_aware(day_value, clock, zone))
    stamp = datetime.fromisoformat(f"{year}-{month}-{day}T{clock.isoformat()}{_iso_offset(offset)}")
    return ParsedDate(stamp if keep_offset else stamp.astimezone(zone))


def _iso_offset(offset: str) -> str:
    if offset.upper() == "Z":
        return "+00:00"
    return offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"


def _textual(text: str) -> tuple[int, int | None, int | None] | None:
    """Find (month, day, year) written with a month word, in any of the usual orders."""
    without_time = _strip_time(text)
    for found in _YEAR_DAY_MONTH.finditer(without_time):
        month = month_number(found.group(3))
        if month:
            return month, int(found.group(2)), int(found.group(1))
    for found in _DAY_MONTH.finditer(without_time):
        month = month_number(found.group(2))
        if month:
            return month, int(found.group(1)), int(found.group(3)) if found.group(3) else None
    for found in _MONTH_DAY.finditer(without_time):
        month = month_number(found.group(1))
        if month:
            return month, int(found.group(2)), int(found.group(3)) if found.group(3) else None
    return None


def _numeric(text: str) -> tuple[int, int | None, int | None] | None:
    found = _NUMERIC.search(_strip_time(text))
    if not found:
        return None
    day, month = int(found.group(1)), int(found.group(2))
    year_text = found.group(3)
    year = None if year_text is None else int(year_text) + (2000 if len(year_text) == 2 else 0)
    return month, day, year


def _relative(text: str, now: datetime, zone: ZoneInfo) -> ParsedDate | None:
    lowered = text.lower()
    words = set(_WORDS.findall(lowered))
    local_now = now.astimezone(zone)
    shift = None
    if words & _TODAY:
        shift = 0
    elif words & _YESTERDAY:
        shift = 1
    elif words & _DAY_BEFORE:
        shift = 2
    if shift is not None:
        clock = _time_of(text)
        day = local_now.date() - timedelta(days=shift)
        return ParsedDate(_aware(day, clock, zone), relative=True)
    found = _AGO.search(lowered)
    if found:
        amount, unit = int(found.group(1)), found.group(2)
        if unit.startswith(("час", "сағат", "hour", "hr")):
            delta = timedelta(hours=amount)
        elif unit.startswith(("сек", "sec")):
            delta = timedelta(seconds=amount)
        else:
            delta = timedelta(minutes=amount)
        return ParsedDate((local_now - delta).replace(second=0, microsecond=0), relative=True)
    return None


def parse_date(text: str, *, zone: ZoneInfo, now: datetime, keep_offset: bool = False) -> ParsedDate | None:
    """Read one date from `text`; None if there is none, BadDate if it is impossible.

    A date without a year gets `now`'s year and `has_year=False`; call
    `infer_year` to settle it. Naive times are in `zone`; aware ones are
    converted to it, or with `keep_offset` keep the offset the page gave them
    (for sites of unknown time zone).
    """
    text = text.strip()
    if not text:
        return None
    if text[:1].isdigit() and text[4:5] == "-":
        # Machine-readable metadata is ISO 8601 nearly always; the C parser reads it at once.
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            if stamp.tzinfo is None:
                aware = stamp.replace(tzinfo=zone)
            else:
                aware = stamp if keep_offset else stamp.astimezone(zone)
            return ParsedDate(aware.replace(microsecond=0) if aware.microsecond else aware)
    # The pattern starts with the day, so text that does not start with a digit skips it.
    common = _COMMON.match(text) if text[:1].isdecimal() else None
    if common and (month := month_number(common.group(2))):
        # "12 Марта, 13:45", "12 наурыз 2024, 15:30": how most Russian and Kazakh sites print dates.
        day, year, hour, minute = common.group(1, 3, 4, 5)
        clock = None
        if hour is not None:
            if int(hour) > 23 or int(minute) > 59:
                raise BadDate(f"{hour}:{minute} is not a time of day")
            clock = time(int(hour), int(minute))
        return _dated(month, int(day), int(year) if year else None, clock, zone, now)
    parsed = _parse_iso(text, zone, keep_offset) or _relative(text, now, zone)
    if parsed:
        return parsed
    parts = _textual(text) or _numeric(text)
    if not parts:
        return None
    month, day, year = parts
    if day is None or not 1 <= month <= 12:
        return None
    return _dated(month, day, year, _time_of(text), zone, now)


def _dated(month: int, day: int, year: int | None, clock: time | None, zone: ZoneInfo, now: datetime) -> ParsedDate:
    has_year = year is not None
    local_year = now.astimezone(zone).year
    # Feb 29 exists only in leap years, so an unknown year defaults to one that has it.
    placeholder = year or (local_year if month != 2 or day != 29 else 2024)
    return ParsedDate(_aware(_make_date(placeholder, month, day), clock, zone), has_year=has_year)


def infer_year(parsed: ParsedDate, *, now: datetime, hint: datetime | None = None) -> datetime:
    """Give a year-less date its year.

    With `hint` (a date from the page's machine-readable metadata, e.g. its
    modification time) the year is the hint's, or the one before if that would
    put the date after the hint. Otherwise it is the most recent date not later than `now`.
    """
    value = parsed.value
    limit = hint if hint is not None else now
    # A day of slack: a page's visible date and its metadata may straddle midnight in different zones.
    limit = limit + timedelta(days=1) if hint is not None else limit
    for year in (limit.year, limit.year - 1, limit.year - 2):
        try:
            candidate = value.replace(year=year)
        except ValueError:  # 29 February in a common year
            continue
        if candidate <= limit:
            return candidate
    return value.replace(year=limit.year - 1) if value.month != 2 or value.day != 29 else value
