"""Reduce article HTML to a safe allow-list (nh3): text structure, links and images, nothing that runs."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import nh3

from scraper.elements import BODY_HTML_TAGS, NEVER_TEXT
from scraper.models import BodyPart

#: Paragraphs, headings, lists, quotes, links, emphasis and images; nothing else survives.
ALLOWED_TAGS = BODY_HTML_TAGS
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}}
#: Tags removed together with everything inside them (not just unwrapped): what never holds article
#: text, and forms (a fragment's form is a widget: sign-up, search, comment box).
DROPPED_WITH_CONTENT = NEVER_TEXT | {"form"}

# Built once: nh3 compiles its rules into the Cleaner, which is much cheaper than per call.
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes={"http", "https"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)
# nh3 keeps relative URLs as they are, quotes every attribute with double quotes and
# escapes "<" in text, so relative URLs are exactly these; they are resolved against the page URL.
_RELATIVE_URL = re.compile(r'(<(?:a|img)\s[^>]*?\b)(href|src)="(?!https?://)([^"]*)"')


def escape_text(text: str) -> str:
    """Escape text for HTML exactly as nh3's serializer does (html5ever: &, NBSP, <, >)."""
    return text.replace("&", "&amp;").replace("\u00a0", "&nbsp;").replace("<", "&lt;").replace(">", "&gt;")


def sanitize_html(fragment: str, *, base_url: str | None = None) -> str:
    """Return `fragment` with only allow-listed tags and attributes and absolute http(s) URLs."""
    if not fragment:
        return ""
    clean = _CLEANER.clean(fragment).strip()
    if "<a " not in clean and "<img " not in clean:
        return clean

    def absolute(found: re.Match[str]) -> str:
        if base_url is None:
            return found.group(1)
        target = urljoin(base_url, html.unescape(found.group(3)))
        if not target.startswith(("http://", "https://")):
            return found.group(1)
        return f'{found.group(1)}{found.group(2)}="{html.escape(target, quote=True)}"'

    return _RELATIVE_URL.sub(absolute, clean)


def render_body(parts: list[BodyPart], *, base_url: str | None = None) -> str:
    """Assemble body_html: plain-text blocks are escaped into their tag; other markup goes through nh3."""
    pieces = []
    for part in parts:
        tag = part.tag
        if tag:
            # Cleaned text has no NBSP left (it became a space), so three of escape_text's four passes do.
            text = part.content.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            pieces.append(f"<{tag}>{text}</{tag}>")
        elif part.safe:
            pieces.append(part.content)
        else:
            cleaned = sanitize_html(part.content, base_url=base_url)
            if cleaned:
                pieces.append(cleaned)
    return "\n".join(pieces)
