"""Read the dates news sites print (ten languages' month names, numeric, ISO, relative) into aware datetimes."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import NamedTuple

from scraper import wordlists
from scraper.errors import BadDate

#: The languages whose month names and relative words are known (scraper/parse/vocab/months.toml).
LANGUAGES = ("ru", "kk", "uk", "en", "de", "fr", "es", "it", "pt", "tr")
#: A month word at least this long also names the month of longer words it starts (declined forms).
_STEM_MIN = 5
#: Languages that print a numeric date month first (03/12/2024 is 12 March): US English only.
_MONTH_FIRST_TAGS = frozenset({"en", "en-us", "en-ph", "en-ca"})
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


class _Vocabulary(NamedTuple):
    months: dict[str, int]
    stems: tuple[tuple[str, int], ...]
    today: frozenset[str]
    yesterday: frozenset[str]
    day_before: frozenset[str]
    just_now: tuple[str, ...]
    units: tuple[tuple[str, int], ...]
    relative: re.Pattern[str]
    #: Any word that may start a relative date, to skip the relative patterns on most texts.
    relative_words: re.Pattern[str]


@cache
def _vocabulary() -> _Vocabulary:
    data = wordlists.load("months")
    months: dict[str, int] = {}
    stems: dict[str, int] = {}
    today: set[str] = set()
    yesterday: set[str] = set()
    day_before: set[str] = set()
    just_now: set[str] = set()
    units: dict[str, int] = {}
    after: set[str] = set()
    before: set[str] = set()
    for language in LANGUAGES:
        entry = data[language]
        for number, forms in enumerate(entry["months"], start=1):
            for form in forms:
                months.setdefault(form, number)
                if len(form) >= _STEM_MIN:
                    stems.setdefault(form, number)
        today.update(entry["today"])
        yesterday.update(entry["yesterday"])
        day_before.update(entry["day_before"])
        just_now.update(entry["just_now"])
        after.update(entry["ago_after"])
        before.update(entry["ago_before"])
        for unit, prefixes in entry["units"].items():
            for prefix in prefixes:
                units.setdefault(prefix, _UNIT_SECONDS[unit])
    unit_words = wordlists.alternation(units)
    after_words = wordlists.alternation(after)
    before_words = wordlists.alternation(before)
    relative = re.compile(
        rf"(?:(?<![^\W\d_])(?:{before_words})\s+(?P<n1>\d{{1,3}})\s*(?P<u1>(?:{unit_words})[^\W\d_]*))"
        rf"|(?:(?P<n2>\d{{1,3}})\s*(?P<u2>(?:{unit_words})[^\W\d_]*)\.?\s+(?:{after_words})(?![^\W\d_]))",
        re.IGNORECASE,
    )
    words = today | yesterday | day_before | after | before | {phrase.split()[0] for phrase in just_now}
    relative_words = wordlists.whole_words(words)
    return _Vocabulary(
        months,
        tuple(sorted(stems.items(), key=lambda item: -len(item[0]))),
        frozenset(today),
        frozenset(yesterday),
        frozenset(day_before),
        tuple(just_now),
        tuple(sorted(units.items(), key=lambda item: -len(item[0]))),
        relative,
        relative_words,
    )


_WORD = r"[^\W\d_]{2,}\.?"
_DAY_SUFFIX = r"(?:st|nd|rd|th|er|e|º|ª|\.|-го|-е|-ші|-шы)?"
# The form most Russian and Kazakh sites print, whole: "12 Марта, 13:45", "12 наурыз 2024, 15:30".
_COMMON = re.compile(
    r"(\d{1,2})\s+([^\W\d_]{3,})\.?(?:,?\s+(\d{4})(?:\s*(?:г\.|года|ж\.|жыл\w*))?)?"
    r"(?:,?\s*(?:в\s+)?(\d{1,2}):(\d{2}))?\s*$",
    re.IGNORECASE,
)
# "12 марта 2024", "12. März 2024", "12 de marzo de 2024", "1er mars 2024", "2 березня"
_DAY_MONTH = re.compile(
    rf"(?<![\d.,/:])(\d{{1,2}}){_DAY_SUFFIX}\s*(?:de\s+|of\s+)?({_WORD})(?:\s*,?\s*(?:de\s+|del\s+)?(\d{{4}})(?!\d))?",
    re.IGNORECASE,
)
# "March 12, 2024", "Mar. 12th 2024", "March 12"
_MONTH_DAY = re.compile(
    rf"(?<![^\W\d_])({_WORD})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\d)(?:\s*,?\s*(\d{{4}})(?!\d))?", re.I
)
# "2024 жылғы 12 наурыз", "2024, 12 March"
_YEAR_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{4}})\s*(?:ж\.?|жылғы|жыл|г\.?|года|,)?\s+(\d{{1,2}})\s+({_WORD})", re.IGNORECASE
)
# "2024年3月12日", "2024년 3월 12일"
_CJK = re.compile(r"(?<!\d)(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?")
# 2024-03-12T13:45:00+05:00 and its sloppy forms (one-digit fields, a colon before the fraction),
# 2024/03/12, 2024.03.12, and the basic form 20240312T134500Z.
_ISO = re.compile(
    r"(?<![\d.])(\d{4})([-/.])\s?(\d{1,2})\2\s?(\d{1,2})(?!\d)"
    r"(?:(?:[T\s]|,\s*|\s+um\s+|\s+at\s+)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.:,]\d+)?)?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?)?",
    re.IGNORECASE,
)
_ISO_BASIC = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})T(\d{2}):?(\d{2})(?::?(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
# 12.03.2024, 03/12/2024, 12-03-2024, 12.03.24
_NUMERIC = re.compile(r"(?<![\d.,/:-])(\d{1,2})\s?([./-])\s?(\d{1,2})\s?\2\s?(\d{4}|\d{2})(?![\d])")
# 12.03 (year-less; only where a date is expected)
_NUMERIC_SHORT = re.compile(r"(?<![\d.,/:])(\d{1,2})([./])(\d{1,2})\.?(?![\d.,/])")
_TIME = re.compile(
    r"(?<![\d:.,])(\d{1,2})(?::(\d{2})(?::(\d{2}))?|[hH](\d{2})|\.(\d{2})(?=\s*(?:Uhr|h\b)))(?![\d])"
    r"(?:\s*([ap])\.?\s?m\.?(?![^\W\d_]))?",
    re.IGNORECASE,
)
#: A time this close after a date (or right before it) is that date's time.
_TIME_AFTER = 40
_TIME_BEFORE = 16
_UTC_WORDS = frozenset({"Z", "UTC", "GMT"})
_MIDNIGHT = time(0, 0)
_WORDS = re.compile(r"[^\W\d_][^\W\d_'’]*")


class ParsedDate(NamedTuple):
    """A date read from text, in the site's time zone (a named tuple: several are made for every page)."""

    value: datetime
    has_year: bool = True
    #: True when the text was relative to the fetch time ("Вчера", "5 минут назад").
    relative: bool = False
    #: True when the text gave a time of day.
    has_time: bool = True
    #: True when the text gave its own UTC offset (machine-readable dates mostly).
    has_offset: bool = False
    #: Where in the text the date starts (what precedes it may say which date it is).
    start: int = 0


def month_number(word: str) -> int | None:
    """Return the month a month word of any of the known languages names (any case, declined or abbreviated)."""
    token = word.lower().rstrip(".")
    vocabulary = _vocabulary()
    number = vocabulary.months.get(token)
    if number is not None or len(token) <= _STEM_MIN:
        return number
    for stem, month in vocabulary.stems:
        if token.startswith(stem):
            return month
    return None


def _clock(hour: int, minute: int, second: int = 0, meridiem: str = "") -> time:
    if meridiem == "p" and hour < 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        raise BadDate(f"{hour}:{minute:02d} is not a time of day")
    return time(hour, minute, second)


def _time_in(text: str) -> time | None:
    found = _TIME.search(text)
    if not found:
        return None
    hour, minute, second, french, dotted, meridiem = found.groups()
    return _clock(int(hour), int(minute or french or dotted), int(second or 0), (meridiem or "").lower())


def _time_near(text: str, start: int, end: int) -> time | None:
    """The time printed right after (or just before) the date found at text[start:end]."""
    after = text[end : end + _TIME_AFTER]
    found = _TIME.search(after)
    # Only separators and connecting words between the date and its time ("в", "um", "à", "at", "|").
    if found and len(after[: found.start()].strip(" ,|-–—/·•()[]")) <= 6:
        return _time_in(after[found.start() :])
    before = text[max(0, start - _TIME_BEFORE) : start]
    found = _TIME.search(before)
    if found and not before[found.end() :].strip(" ,|-–—/·•"):
        return _time_in(before[found.start() :])
    return None


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise BadDate(f"{day}.{month}.{year} is not a calendar date") from None


def _offset(text: str | None) -> str | None:
    if not text:
        return None
    if text.upper() in _UTC_WORDS:
        return "+00:00"
    return text if ":" in text else f"{text[:3]}:{text[3:]}"


def _stamp(
    parts: tuple[int, int, int],
    clock: time | None,
    offset: str | None,
    zone: tzinfo,
    keep_offset: bool,
    *,
    has_year: bool = True,
    start: int = 0,
) -> ParsedDate:
    # The ParsedDate is built whole, with its year flag and start: a named tuple's _replace costs as much again.
    year, month, day = parts
    day_value = _make_date(year, month, day)
    if clock is None:
        return ParsedDate(datetime.combine(day_value, _MIDNIGHT, tzinfo=zone), has_year, False, False, False, start)
    if offset is None:
        return ParsedDate(datetime.combine(day_value, clock, tzinfo=zone), has_year, False, True, False, start)
    stamp = datetime.fromisoformat(f"{day_value.isoformat()}T{clock.isoformat()}{offset}")
    return ParsedDate(stamp if keep_offset else stamp.astimezone(zone), has_year, False, True, True, start)


def _iso(text: str, zone: tzinfo, keep_offset: bool) -> ParsedDate | None:
    found = _ISO.search(text) or _ISO_BASIC.search(text)
    if not found:
        return None
    if found.re is _ISO:
        year, _, month, day, hour, minute, second, offset = found.groups()
    else:
        year, month, day, hour, minute, second, offset = found.groups()
    if not 1 <= int(month) <= 12:
        raise BadDate(f"{found.group(0)!r} is not a calendar date")
    clock = None
    if hour is not None:
        clock = _clock(int(hour), int(minute), int(second or 0))
    elif found.re is _ISO:
        clock = _time_near(text, found.start(), found.end())
    return _stamp((int(year), int(month), int(day)), clock, _offset(offset), zone, keep_offset, start=found.start())


def _fromisoformat(text: str, zone: tzinfo, keep_offset: bool) -> ParsedDate | None:
    # Machine-readable metadata is ISO 8601 nearly always; the C parser reads it at once.
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    has_time = len(text) > 10
    aware = stamp.replace(tzinfo=zone) if stamp.tzinfo is None else stamp
    if stamp.tzinfo is not None and not keep_offset:
        aware = aware.astimezone(zone)
    if aware.microsecond:
        aware = aware.replace(microsecond=0)
    return ParsedDate(aware, has_time=has_time, has_offset=stamp.tzinfo is not None)


def _textual(text: str, *, strict: bool) -> tuple[tuple[int | None, int, int], int, int] | None:
    """Find ((year, month, day), start, end) written with a month word, in any of the usual orders."""
    for found in _CJK.finditer(text):
        return (int(found.group(1)), int(found.group(2)), int(found.group(3))), found.start(), found.end()
    for found in _YEAR_DAY_MONTH.finditer(text):
        month = month_number(found.group(3))
        if month:
            return (int(found.group(1)), month, int(found.group(2))), found.start(), found.end()
    best: tuple[tuple[int | None, int, int], int, int] | None = None
    for found in _DAY_MONTH.finditer(text):
        month = month_number(found.group(2))
        if month and (found.group(3) or not strict or _plain_month(found.group(2))):
            year = int(found.group(3)) if found.group(3) else None
            best = (year, month, int(found.group(1))), found.start(), found.end()
            break
    for found in _MONTH_DAY.finditer(text):
        month = month_number(found.group(1))
        if not month or not (found.group(3) or not strict or _plain_month(found.group(1))):
            continue
        year = int(found.group(3)) if found.group(3) else None
        # The earlier of the two forms, unless only the later one has a year ("mar. 12 de marzo de 2024").
        if best is None or (year is not None and (best[0][0] is None or found.start() < best[1])):
            return (year, month, int(found.group(2))), found.start(), found.end()
        break
    return best


def _plain_month(word: str) -> bool:
    """Whether a month word is a month and nothing else, so it dates a text without a year.

    Three-letter Latin abbreviations are also words ("may", "set", "out", "ago", "mar"): they need a year.
    """
    token = word.rstrip(".")
    return len(token) >= 4 or not token.isascii()


def _numeric(text: str, *, month_first: bool, strict: bool) -> tuple[tuple[int | None, int, int], int, int] | None:
    for found in _NUMERIC.finditer(text):
        first, second, year_text = int(found.group(1)), int(found.group(3)), found.group(4)
        if len(year_text) == 2:
            if found.group(2) == "-":
                continue  # "12-03-24" is too often a code or a score
            year = 2000 + int(year_text)
        else:
            year = int(year_text)
        if first > 12 or (not month_first and second <= 12):
            day, month = first, second
        else:
            month, day = first, second
        if 1 <= month <= 12 and 1 <= day <= 31:
            return (year, month, day), found.start(), found.end()
    if strict:
        return None
    short = _NUMERIC_SHORT.search(text)
    if short:
        first, second = int(short.group(1)), int(short.group(3))
        day, month = (second, first) if month_first and short.group(2) == "/" else (first, second)
        if 1 <= month <= 12 and 1 <= day <= 31:
            return (None, month, day), short.start(), short.end()
    return None


def _relative(
    text: str, now: datetime, zone: tzinfo, strict: bool = False, *, worded: bool = False
) -> ParsedDate | None:
    """A date relative to `now` ("вчера в 17:04", "2 hours ago"); `worded`: `text` is known to hold a relative word."""
    vocabulary = _vocabulary()
    if not worded and not vocabulary.relative_words.search(text):
        return None
    lowered = text.lower()
    local_now = now.astimezone(zone)
    words = set(_WORDS.findall(lowered))
    shift = None
    if words & vocabulary.today:
        shift = 0
    elif words & vocabulary.yesterday:
        shift = 1
    elif words & vocabulary.day_before or "l'altro ieri" in lowered:
        shift = 2
    if shift is not None:
        clock = _time_in(text)
        if strict and clock is None:
            return None  # "hier" is French for yesterday and German for here: only "hier à 17:04" dates a text
        day = local_now.date() - timedelta(days=shift)
        return ParsedDate(
            datetime.combine(day, clock or time(0, 0), tzinfo=zone), relative=True, has_time=clock is not None
        )
    found = vocabulary.relative.search(lowered)
    if found:
        amount = int(found.group("n1") or found.group("n2"))
        unit = found.group("u1") or found.group("u2")
        seconds = next((value for prefix, value in vocabulary.units if unit.startswith(prefix)), None)
        if seconds is None:
            return None
        if seconds >= _UNIT_SECONDS["day"]:
            day = local_now.date() - timedelta(seconds=amount * seconds)
            return ParsedDate(datetime.combine(day, time(0, 0), tzinfo=zone), relative=True, has_time=False)
        return ParsedDate(
            (local_now - timedelta(seconds=amount * seconds)).replace(second=0, microsecond=0), relative=True
        )
    if any(phrase in lowered for phrase in vocabulary.just_now):
        return ParsedDate(local_now.replace(second=0, microsecond=0), relative=True)
    return None


#: A relative-date line is short: the date, its time, and at most one more word ("Обновлено 2 часа назад").
_RELATIVE_LINE_MAX_CHARS = 40
_DIGIT = re.compile(r"\d")


def is_relative_line(text: str) -> bool:
    """Whether `text` is only a date relative to when it is read ("2 часа назад", "Вчера, 21:05", "1 day ago")."""
    if len(text) > _RELATIVE_LINE_MAX_CHARS or not _DIGIT.search(text):
        return False
    vocabulary = _vocabulary()
    if not vocabulary.relative_words.search(text):
        return False
    rest = _TIME.sub(" ", vocabulary.relative_words.sub(" ", vocabulary.relative.sub(" ", text)))
    return len(_WORDS.findall(rest)) <= 1 and not _DIGIT.search(rest)


def month_first(language: str | None) -> bool:
    """Tell whether pages in `language` (a tag like "en-US") print numeric dates month first."""
    return language is not None and language.lower().replace("_", "-") in _MONTH_FIRST_TAGS


def parse_date(
    text: str,
    *,
    zone: tzinfo,
    now: datetime,
    keep_offset: bool = False,
    language: str | None = None,
    strict: bool = False,
) -> ParsedDate | None:
    """Read one date from `text`; None if there is none, BadDate if it is impossible.

    A date without a year gets `now`'s year and `has_year=False`; call
    `infer_year` to settle it. Naive times are in `zone`; aware ones are
    converted to it, or with `keep_offset` keep the offset the page gave them
    (for sites of unknown time zone). `language` (the page's language tag)
    orders numeric dates: 03/12/2024 is 3 December, but 12 March in US English.
    `strict` (for text that is not known to be a date) wants a year in numeric dates
    and beside three-letter Latin month names, and a time beside "today" or "yesterday";
    without it, a bare time ("17:04") is that time today.
    """
    text = text.strip()
    if not text:
        return None
    if text[:1].isdigit() and text[4:5] == "-" and (parsed := _fromisoformat(text, zone, keep_offset)):
        return parsed
    if not any(map(str.isdigit, text)):
        return None if strict else _relative(text, now, zone)
    if text[:1].isalpha() and _vocabulary().relative_words.match(text):
        # "Вчера, 21:05", "vor 2 Stunden": a text that opens with a relative word needs no other form tried
        # (but "January 13, 2020 / Updated 2 minutes ago" is dated by its first words).
        relative = _relative(text, now, zone, strict, worded=True)
        if relative is not None:
            return relative
    # The pattern starts with the day, so text that does not start with a digit skips it.
    common = _COMMON.match(text) if text[:1].isdecimal() else None
    if (
        common
        and (month := month_number(common.group(2)))
        and (common.group(3) or not strict or _plain_month(common.group(2)))
    ):
        day, year, hour, minute = common.group(1, 3, 4, 5)
        clock = _clock(int(hour), int(minute)) if hour is not None else None
        if year:
            return _stamp((int(year), month, int(day)), clock, None, zone, keep_offset)
        parsed = _stamp((now.astimezone(zone).year, month, int(day)), clock, None, zone, keep_offset, has_year=False)
        if month == 2 and int(day) == 29:
            parsed = _stamp((2024, month, int(day)), clock, None, zone, keep_offset, has_year=False)
        return parsed
    parsed = _iso(text, zone, keep_offset)
    if parsed:
        return parsed
    found = _textual(text, strict=strict) or _numeric(text, month_first=month_first(language), strict=strict)
    if found is None:
        # Where a date is expected, a bare time ("17:04") is today's: sites print only the time on the day itself.
        return _relative(text, now, zone, strict) or (None if strict else parse_clock(text, zone=zone, now=now))
    (year, month, day), start, end = found
    clock = _time_near(text, start, end)
    if year is None:
        local_year = now.astimezone(zone).year
        # Feb 29 exists only in leap years, so an unknown year defaults to one that has it.
        placeholder = local_year if month != 2 or day != 29 else 2024
        return _stamp((placeholder, month, day), clock, None, zone, keep_offset, has_year=False, start=start)
    return _stamp((year, month, day), clock, None, zone, keep_offset, start=start)


def parse_clock(text: str, *, zone: tzinfo, now: datetime) -> ParsedDate | None:
    """Read a bare time of day ("17:04") as that time today, in `zone`; None if `text` is not just a time."""
    stripped = text.strip()
    found = _TIME.fullmatch(stripped)
    if not found:
        return None
    clock = _time_in(stripped)
    if clock is None:
        return None
    local_now = now.astimezone(zone)
    return ParsedDate(datetime.combine(local_now.date(), clock, tzinfo=zone), relative=True)


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
