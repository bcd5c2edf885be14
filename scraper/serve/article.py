"""The article page's content, from archive rows: sanitized body, details, view chart, and what each version changed."""

from __future__ import annotations

import difflib
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from scraper.sanitize import sanitize_html
from scraper.serve.chart import Chart, view_chart

#: Versioned fields shown as "before → after"; the others (lead, body) as removed and added paragraphs.
SHORT_FIELDS = frozenset({"title", "author", "published_at", "modified_at"})
#: The article page lists at most this many versions, the latest ones (an article edited hourly has hundreds).
MAX_VERSIONS = 50
#: The view chart reads at most this many readings, the latest ones.
MAX_READINGS = 5000
#: Holds the replay URL template (`scrape serve --replay-url`): each version then links to its capture replayed
#: in pywb or ReplayWeb.page. {url} is the captured URL as it is, {url_encoded} percent-encoded, {timestamp}
#: the capture time as 14 digits (UTC).
REPLAY_URL_ENV = "SCRAPE_REPLAY_URL"

# nh3 writes every attribute as name="value" with '"' escaped, so an <img> of its output is exactly this.
_IMG = re.compile(r'<img((?:\s+[a-zA-Z-]+="[^"]*")*)\s*/?>')
_ATTRIBUTE = re.compile(r'([a-zA-Z-]+)="([^"]*)"')
_BLANK_LINE = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class FieldChange:
    """How one field differs from the previous version."""

    field: str
    before: str | None
    after: str | None
    #: For lead and body: the paragraphs that went away and the ones that came.
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()


@dataclass(frozen=True)
class Version:
    """One row of article_versions and its changes from the version before it."""

    id: int
    version: int
    captured_at: str
    changed_fields: tuple[str, ...]
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ArticlePage:
    """Everything the article template shows; only `body_html` is markup, and it is sanitized."""

    url: str
    #: The original's address when it is an http(s) URL (a hostile row may hold anything), else None.
    link: str | None
    site: str
    title: str | None
    lead: str | None
    author: str | None
    published_at: str | None
    published_raw: str | None
    modified_at: str | None
    views: int | None
    photo_credit: str | None
    source: str | None
    image_link: str | None
    tags: tuple[str, ...]
    language: str | None
    parse_status: str
    version: int
    first_seen_at: str
    last_fetched_at: str
    removed_at: str | None
    #: Whether the body already opens with the lead (many sites repeat it), so it is not shown twice.
    lead_in_body: bool
    body_html: str
    #: The body as plain paragraphs, shown when there is no body_html.
    paragraphs: tuple[str, ...]
    chart: Chart | None
    versions: tuple[Version, ...]
    #: How many versions the article has; more than len(versions) when older ones are left out.
    versions_total: int


def http_link(value: object) -> str | None:
    """Return `value` if it is an absolute http(s) URL, else None (no javascript:, data: or relative links)."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped if re.match(r"(?i)https?://[^\s]+$", stripped) else None


def check_replay_template(template: str) -> str:
    """Return `template` if it can make replay links: an http(s) URL naming {url} or {url_encoded}; else ValueError."""
    if not re.match(r"(?i)https?://[^\s]+$", template.strip()):
        raise ValueError(f"The replay URL {template!r} is not an http(s) URL.")
    if "{url}" not in template and "{url_encoded}" not in template:
        raise ValueError(f"The replay URL {template!r} names neither {{url}} nor {{url_encoded}}.")
    return template.strip()


def replay_link(template: str, url: str, captured_at: str) -> str | None:
    """The replay address of the capture of `url` at `captured_at` (ISO), or None if it would not be an http(s) URL."""
    try:
        stamp = datetime.fromisoformat(captured_at).astimezone(UTC).strftime("%Y%m%d%H%M%S")
    except ValueError:
        return None
    link = template.replace("{timestamp}", stamp).replace("{url_encoded}", quote(url, safe="")).replace("{url}", url)
    return http_link(link)


def safe_body(body_html: str, base_url: str | None) -> str:
    """Sanitize stored body HTML again for display, with images as links: nothing loads from another host."""
    clean = sanitize_html(body_html, base_url=base_url)
    return _IMG.sub(_image_as_link, clean) if "<img" in clean else clean


def _image_as_link(found: re.Match[str]) -> str:
    attributes = {name.lower(): html.unescape(value) for name, value in _ATTRIBUTE.findall(found.group(1))}
    alt = attributes.get("alt", "").strip()
    label = html.escape(f"[image: {alt}]" if alt else "[image]", quote=False)
    src = http_link(attributes.get("src"))
    if src is None:
        return f'<span class="archived-image">{label}</span>'
    return (
        f'<a class="archived-image" href="{html.escape(src, quote=True)}" rel="noopener noreferrer nofollow">'
        f"{label}</a>"
    )


def paragraphs(text: str | None) -> list[str]:
    """Split body_text (paragraphs separated by blank lines) into paragraphs."""
    return [part.strip() for part in _BLANK_LINE.split(text or "") if part.strip()]


def _json_list(value: object) -> tuple[str, ...]:
    try:
        parsed = json.loads(value) if isinstance(value, str) else []
    except ValueError:
        return ()
    return tuple(str(item) for item in parsed) if isinstance(parsed, list) else ()


def field_change(name: str, before: Any, after: Any) -> FieldChange:
    """Describe how field `name` went from `before` to `after`."""
    old = None if before is None else str(before)
    new = None if after is None else str(after)
    if name in SHORT_FIELDS:
        return FieldChange(name, old, new)
    old_parts, new_parts = paragraphs(old), paragraphs(new)
    removed: list[str] = []
    added: list[str] = []
    matcher = difflib.SequenceMatcher(a=old_parts, b=new_parts, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed.extend(old_parts[i1:i2])
        if tag in ("replace", "insert"):
            added.extend(new_parts[j1:j2])
    return FieldChange(name, old, new, tuple(removed), tuple(added))


def versions(rows: list[Mapping[str, Any]]) -> tuple[Version, ...]:
    """Versions in order with their changes; `rows` are article_versions rows in version order.

    The first row only serves as the "before" of the second when it is not version 1 (older ones left out).
    """
    out = []
    previous: Mapping[str, Any] | None = None
    for row in rows:
        changed = _json_list(row["changed_fields"])
        if previous is not None and row["version"] > 1:
            columns = row.keys()  # sqlite3.Row: `in` would test its values
            changes = tuple(field_change(name, previous[name], row[name]) for name in changed if name in columns)
            out.append(Version(row["id"], row["version"], row["captured_at"], changed, changes))
        elif row["version"] == 1:
            out.append(Version(row["id"], 1, row["captured_at"], changed, ()))
        previous = row
    return tuple(out)


def build_article(
    row: Mapping[str, Any],
    version_rows: list[Mapping[str, Any]],
    readings: list[tuple[str, int]],
    *,
    versions_total: int,
) -> ArticlePage:
    """The article page of one `articles` row, its version rows (in order) and view readings (in time order)."""
    link = http_link(row["url"])
    body = paragraphs(row["body_text"])
    lead = (row["lead"] or "").strip()
    return ArticlePage(
        url=str(row["url"]),
        link=link,
        site=str(row["site"]),
        title=row["title"],
        lead=row["lead"],
        author=row["author"],
        published_at=row["published_at"],
        published_raw=row["published_raw"],
        modified_at=row["modified_at"],
        views=row["views"],
        photo_credit=row["photo_credit"],
        source=row["source"],
        image_link=http_link(row["image_url"]),
        tags=_json_list(row["tags"]),
        language=row["language"],
        parse_status=str(row["parse_status"]),
        version=int(row["version"]),
        first_seen_at=str(row["first_seen_at"]),
        last_fetched_at=str(row["last_fetched_at"]),
        removed_at=row["removed_at"],
        lead_in_body=bool(lead) and bool(body) and body[0].startswith(lead),
        body_html=safe_body(row["body_html"] or "", link),
        paragraphs=tuple(body),
        chart=view_chart(readings),
        versions=versions(version_rows),
        versions_total=versions_total,
    )
