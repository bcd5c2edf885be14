"""Turn a RawArticle into an Article: dates with the site's offset, view counts, clean text, canonical URL."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Literal

from scraper import settings
from scraper.models import Article, ParseStatus, RawArticle
from scraper.profiles import Profile
from scraper.pubdate import Trace, country_zone, settle_dates
from scraper.sanitize import render_body
from scraper.text import clean_text, has_bidi_controls, join_paragraphs
from scraper.urls import canonicalize, host_of, join, match_id, site_key

# "2 329", "2,329", "12,5K", "1.2 тыс.", "1,2 млн": a number, then maybe a multiplier word.
_COUNT = re.compile(
    r"(?P<sign>-)?(?P<number>\d{1,3}(?:[ \u00a0\u202f\u2009](?=\d{3})\d{3})+|\d+(?:[.,]\d+)*)\s*"
    r"(?P<unit>млрд|млн|тыс|мың|млн\.|k|к|m|м|b|thousand|million)?\.?(?![^\W\d_])",
    re.IGNORECASE,
)
_GROUP_SPACES = re.compile("[ \u00a0\u202f\u2009]")
_GROUPED_DIGITS = re.compile(r"\d{1,3}([.,]\d{3})+")
_MULTIPLIERS = {
    "k": 1_000,
    "к": 1_000,
    "тыс": 1_000,
    "мың": 1_000,
    "thousand": 1_000,
    "m": 1_000_000,
    "м": 1_000_000,
    "млн": 1_000_000,
    "million": 1_000_000,
    "b": 1_000_000_000,
    "млрд": 1_000_000_000,
}
#: Where the zone of a page's times comes from (see reading_zone).
ZoneFrom = Literal["profile", "country", "utc"]
_LANGUAGE_ALIASES = {"kz": "kk", "qaz": "kk", "rus": "ru", "eng": "en"}


def parse_views(raw: str | None) -> int | None:
    """Read a view counter as sites print it ("2 329", "12,5K", "1.2 тыс.") into an int, or None."""
    if not raw:
        return None
    if raw.isascii() and raw.isdigit():
        return int(raw)  # a bare counter, as most sites print it
    found = _COUNT.search(raw.replace("\u00a0", " "))
    if not found or found.group("sign"):
        return None
    number, unit = found.group("number"), (found.group("unit") or "").lower().rstrip(".")
    digits = _GROUP_SPACES.sub("", number)
    if not unit:
        # Without a multiplier, separators group thousands: 2,329 and 1.234.567.
        if _GROUPED_DIGITS.fullmatch(digits):
            return int(digits.replace(",", "").replace(".", ""))
        if not digits.isdigit():
            return None
        return int(digits)
    # With a multiplier the separator is a decimal point: 12,5K and 1.2 тыс.
    try:
        value = float(digits.replace(",", "."))
    except ValueError:
        return None
    return round(value * _MULTIPLIERS[unit])


def normalize_language(value: str | None) -> str | None:
    """Return the primary language subtag ("ru-RU" -> "ru", "kz" -> "kk"), lower case."""
    if not value:
        return None
    primary = value.strip().lower().replace("_", "-").partition("-")[0]
    # Two or three ASCII letters (lower case already).
    if not (2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha()):
        return None
    return _LANGUAGE_ALIASES.get(primary, primary)


def _capped(value: str | None, limit: int, warnings: list[str], name: str) -> str | None:
    if not value:
        return None
    cleaned = clean_text(value)
    # Cleaning removes bidi controls, so a value it leaves alone has none.
    if cleaned != value and has_bidi_controls(value):
        warnings.append(f"{name}: bidi control characters removed")
    if len(cleaned) > limit:
        warnings.append(f"{name}: cut to {limit} characters")
        cleaned = cleaned[:limit]
    return cleaned or None


def _canonical(url: str, canonical_href: str | None) -> tuple[str, str]:
    """Use the page's own canonical link if it points at the same site, else the fetched URL; and its host."""
    host = host_of(url)
    chosen = url
    if canonical_href and canonical_href != url:  # a page that names its own URL needs no resolving
        absolute = join(url, canonical_href)
        # Same site: the host (http/https and www aside) and the port, so one server cannot overwrite another's.
        if absolute and site_key(absolute) == site_key(url):
            chosen = absolute
    canonical = canonicalize(chosen)
    # Most URLs are canonical already, and then the host is the one just read.
    return canonical, host if canonical == chosen else host_of(canonical)


def reading_zone(profile: Profile, site: str) -> tuple[tzinfo, ZoneFrom]:
    """The zone a page's times without an offset are read in, and where it comes from.

    The profile's zone; else, for a site whose host ends with the code of a country of one civil time, that
    country's (a page's own offset still wins); else UTC.
    """
    if profile.timezone is not None:
        return profile.zone, "profile"
    guessed = country_zone(site)
    return (guessed, "country") if guessed is not None else (profile.zone, "utc")


def normalize(
    raw: RawArticle, *, url: str, profile: Profile, fetched_at: datetime, trace: dict[str, Trace] | None = None
) -> Article:
    """Build the normalized Article from what the parser found on the page at `url`.

    With `trace`, every date candidate's fate is noted there (for --explain).
    """
    # Addresses, then dates, then text, then the body's markup: each kind of work runs together,
    # while its code is warm in the CPU cache. Warnings keep the order of the record's fields.
    canonical_url, site = _canonical(url, raw.canonical_href)
    article_id = match_id(canonical_url, profile.article_url) or match_id(url, profile.article_url)
    image = join(url, raw.image_url) if raw.image_url else None
    image_url = canonicalize(image) if image else None

    warnings: list[str] = list(raw.warnings)
    # The fetch time as the record shows it, to the second; also the limit for future dates.
    local_fetch = fetched_at.astimezone(profile.zone).replace(microsecond=0)
    zone, zone_from = reading_zone(profile, site)
    published_at, published_raw, published_from, modified_at = settle_dates(
        raw.published,
        raw.modified,
        zone=zone,
        known_zone=zone_from == "profile",
        now=local_fetch,
        language=raw.language or profile.language,
        warnings=warnings,
        trace=trace.setdefault("published", []) if trace is not None else None,
    )

    views = parse_views(raw.views_raw)
    if raw.views_raw and views is None:
        warnings.append(f"views: {clean_text(raw.views_raw)!r} is not a count")
    body_text = join_paragraphs(raw.body_paragraphs)  # the parser hands over cleaned paragraphs
    if len(body_text) > settings.MAX_BODY_CHARS:
        warnings.append(f"body: cut to {settings.MAX_BODY_CHARS} characters")
        body_text = body_text[: settings.MAX_BODY_CHARS]
    title = _capped(raw.title, settings.MAX_TITLE_CHARS, warnings, "title")
    lead = _capped(raw.lead, settings.MAX_FIELD_CHARS, warnings, "lead")
    author = _capped(raw.author, settings.MAX_FIELD_CHARS, warnings, "author")
    photo_credit = _capped(raw.photo_credit, settings.MAX_FIELD_CHARS, warnings, "photo_credit")
    source = _capped(raw.source, settings.MAX_FIELD_CHARS, warnings, "source")
    tags = list(dict.fromkeys(filter(None, map(clean_text, raw.tags))))
    language = normalize_language(raw.language) or profile.language
    # Text without any title is not taken for an article: it is what binary junk
    # or a bare error page decodes to. A title without text (a video, a paywall) is partial.
    status = ParseStatus.OK if title and body_text else (ParseStatus.PARTIAL if title else ParseStatus.EMPTY)

    return Article(
        url=url,
        canonical_url=canonical_url,
        site=site,
        article_id=article_id,
        title=title,
        lead=lead,
        author=author,
        published_at=published_at,
        published_raw=published_raw,
        published_from=published_from,
        modified_at=modified_at,
        views=views,
        photo_credit=photo_credit,
        source=source,
        image_url=image_url,
        tags=tags,
        language=language,
        body_text=body_text,
        body_html=render_body(raw.body_parts, base_url=url),
        parse_status=status,
        profile=raw.profile,
        field_sources=dict(sorted(raw.field_sources.items())),
        warnings=warnings,
        fetched_at=local_fetch.isoformat(),
    )
