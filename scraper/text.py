"""Clean text taken from HTML: whitespace, invisible characters, control characters, bidi overrides."""

from __future__ import annotations

import html
import re
import unicodedata

# Characters that carry no visible text but break search and comparison:
# soft hyphen, zero-width space/joiners, word joiner, BOM, the Mongolian vowel
# separator some CMSes paste in; C0/C1 controls other than tab and newline;
# and the bidi embedding/override/isolate controls, which can reorder what a
# reader sees (the "RTLO" trick) and are reported by has_bidi_controls().
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REMOVED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]"
)
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

# Every Unicode space separator (NBSP, narrow NBSP, thin space, ideographic
# space, ...) plus tab becomes an ordinary space.
_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000 ]+")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
_BLANK_LINES = re.compile(r"\n{3,}")
_ENTITY = re.compile(r"&(#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")


def has_bidi_controls(value: str) -> bool:
    """Tell whether a string contains bidi override or isolate controls."""
    # The controls are format characters, never printable, so the C-speed check settles most strings.
    return not value.isprintable() and _BIDI.search(value) is not None


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """Return `value` with entities decoded, invisible/control characters removed and whitespace collapsed.

    With `multiline`, single newlines are kept and runs of blank lines become one
    blank line (the paragraph separator); otherwise all whitespace becomes one space.
    """
    if not value:
        return ""
    if value.isprintable() and "&" not in value:
        # The common case, checked at C speed: no controls, invisible characters,
        # tabs, newlines or non-breaking spaces, so only the spaces need tidying.
        if not value.isascii():
            value = unicodedata.normalize("NFC", value)
        return " ".join(value.split()) if "  " in value else value.strip()
    if "&" in value and _ENTITY.search(value):
        # Text nodes come out of the parser already decoded; a remaining
        # entity was double-escaped by the site's CMS.
        value = html.unescape(value)
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _REMOVED.sub("", value)
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    if multiline:
        value = _SPACES.sub(" ", value)
        value = _SPACE_AROUND_NEWLINE.sub("\n", value)
        value = _BLANK_LINES.sub("\n\n", value)
        return value.strip()
    return " ".join(value.split())


def join_paragraphs(paragraphs: list[str]) -> str:
    """Join cleaned paragraphs with one blank line between them, dropping empty ones."""
    return "\n\n".join(filter(None, paragraphs))
