"""Why each field of a page got its value: the evidence in order, where each came from, why the rest lost, and
which of the profile's selectors matched nothing (`scrape parse --explain`, `scrape url --explain`)."""

from __future__ import annotations

from typing import Any

from scraper.errors import HTTPStatusError
from scraper.fetch import Fetcher
from scraper.models import Page
from scraper.normalize import normalize, reading_zone
from scraper.parse import field_evidence, parse_html, profile_report
from scraper.parse.fields import Evidence
from scraper.pipeline import parse_page
from scraper.profiles import Profile
from scraper.pubdate import Trace

#: Record fields explained, in the record's order, and the name of their evidence list.
_FIELDS = ("title", "author", "published_at", "modified_at", "views", "source", "photo_credit")
#: A value shown in the explanation is cut to this many characters.
_SHOWN = 120


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _SHOWN:
        return value[: _SHOWN - 1] + "…"
    return value


def _evidence_rows(evidence: list[Evidence], chosen_from: str | None, by_profile: bool) -> list[dict[str, Any]]:
    rows = []
    winner: Evidence | None = None
    for item in evidence:
        row: dict[str, Any] = {"value": _shown(item.value), "from": str(item.origin), "detail": item.detail}
        if item.note:
            row["left out"] = item.note
        if by_profile:
            row["verdict"] = "not needed: the profile's selector found the field"
        elif item.value is None:
            row["verdict"] = "nothing here"
        elif winner is None:
            winner = item
            row["verdict"] = "chosen" if item.value else "chosen: the page says there is none"
        else:
            row["verdict"] = f"lost: {winner.detail} came first"
        rows.append(row)
    return rows


def _date_rows(trace: Trace, order: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    """The date candidates' fates, in the order of evidence the parser found them."""
    rows = [{key: _shown(value) for key, value in step.items() if value not in (None, "")} for step in trace]
    return sorted(rows, key=lambda row: order.get((row.get("raw", ""), row.get("detail", "")), len(order)))


def _zone_note(profile: Profile, site: str) -> str:
    """Which zone times printed without an offset were read in, and why."""
    zone, source = reading_zone(profile, site)
    if source == "profile":
        return f"{zone}: the profile's"
    if source == "country":
        return f"{zone}: the country of .{site.rpartition('.')[2]} (an offset the page gives wins)"
    return "UTC: nothing tells the site's zone (an offset the page gives wins)"


def explain_page(page: Page, profile: Profile) -> dict[str, Any]:
    """Explain how `page` reads with `profile`: each field's value, its evidence in order, and the selectors.

    The record is the one `scrape parse` prints (ParseError for a page that holds no article).
    """
    record = parse_page(page, profile).to_record()
    # The same reading again, noting every date candidate's fate (dates are settled in normalize).
    trace: dict[str, Trace] = {}
    raw = parse_html(page.text, profile)
    normalize(raw, url=page.url, profile=profile, fetched_at=page.fetched_at, trace=trace)
    # And once more up to the header line, to list what the generic rules offer for each field.
    profile_title = raw.title if raw.field_sources.get("title") == "profile" else None
    offered = field_evidence(page.text, profile, profile_title)
    order = {(c.raw, c.detail): i for i, c in enumerate(raw.published + raw.modified)}
    sources = record["field_sources"]
    fields: dict[str, Any] = {}
    for name in _FIELDS:
        entry: dict[str, Any] = {"value": _shown(record[name])}
        if name in ("published_at", "modified_at"):
            steps = trace.get("published", [])
            wanted = name == "modified_at"
            rows = [row for row in steps if (row.get("verdict") == "the modification date") == wanted]
            entry["evidence"] = _date_rows(rows, order)
            if name == "published_at":
                entry.update({"from": record["published_from"], "shown": record["published_raw"]})
                entry["zone"] = _zone_note(profile, record["site"])
        else:
            source = sources.get(name)
            entry["from"] = str(source) if source else None
            entry["evidence"] = _evidence_rows(offered[name], entry["from"], source == "profile")
        fields[name] = entry
    return {
        "url": page.url,
        "profile": profile_report(page.text, profile),
        "fields": fields,
        "warnings": record["warnings"],
    }


async def explain_url(url: str, *, fetcher: Fetcher, profile: Profile) -> dict[str, Any]:
    """Fetch `url` and explain it; nothing is archived. FetchError, HTTPStatusError or ParseError if it fails."""
    page = await fetcher.fetch(url)
    if page.status >= 400:
        raise HTTPStatusError(url=page.url, final_url=page.final_url, status=page.status)
    return explain_page(page, profile)
