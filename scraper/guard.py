"""Recognize pages that are not articles before and after parsing: pathological nesting, block and soft-404 pages."""

from __future__ import annotations

import re

#: Lexbor's tree builder slows down quadratically with the nesting depth of these "special" block
#: elements (20,000 nested <div> take 0.4 s, 100,000 take 24 s); no real page nests them deeper than this.
MAX_BLOCK_DEPTH = 5_000
#: Below this size a page cannot nest deep enough to matter, so it is not scanned at all.
_SCAN_FROM_CHARS = 150_000
_BLOCK_NAMES = (
    "div|section|article|aside|nav|main|header|footer|ul|ol|dl|li|dd|dt|blockquote|figure|"
    "fieldset|details|form|center|menu|address|table"
)
_BLOCK_TAG = re.compile(rf"<(/?)(?:{_BLOCK_NAMES})\b", re.IGNORECASE)
_BLOCK_OPEN = re.compile(rf"<(?:{_BLOCK_NAMES})\b", re.IGNORECASE)
#: Lexbor checks each new attribute of an element against all the earlier ones: 20,000 attributes on
#: one element take 0.75 s, 40,000 take 5 s. Real elements have a handful.
MAX_ATTRIBUTES = 5_000
# Only a tag this long can hold that many attributes. Anchored at ">", each try runs to the next
# ">" and no further, so the scan stays linear (the document's start is checked apart).
_LONG_TAG = re.compile(r">[^>]{32768}")
# One attribute, as the HTML tokenizer reads it (quotes respected); possessive and atomic, so a
# hostile tag cannot make this check itself slow.
_ATTRIBUTES = re.compile(
    r"""<[a-zA-Z][^\s/>]*+(?>\s++[^\s=>/]++(?>\s*+=\s*+(?>"[^"]*+"|'[^']*+'|[^\s>]++))?)""" + f"{{{MAX_ATTRIBUTES}}}"
)
#: Words of captcha, bot-check and access-denied pages.
_BLOCK_MARKERS = re.compile(
    r"captcha|g-recaptcha|hcaptcha|cf-browser-verification|cf-challenge|challenge-platform|"
    r"just a moment\.\.\.|attention required!|verify (?:that )?you are (?:a )?human|are you a robot|"
    r"ddos protection|access denied|доступ запрещ[её]н|подтвердите, что вы не робот|вы не робот",
    re.IGNORECASE,
)
#: Titles of "not found" pages served with 200.
_NOT_FOUND_TITLE = re.compile(
    r"^\s*(?:404\b|error 404|page not found|not found|страница не найдена|ошибка 404|бет табылмады|"
    r"материал не найден|новость не найдена)",
    re.IGNORECASE,
)


def block_depth(text: str) -> int:
    """The deepest nesting of block elements in a large document (0 for documents too small to matter)."""
    if len(text) < _SCAN_FROM_CHARS or len(_BLOCK_OPEN.findall(text)) <= MAX_BLOCK_DEPTH:
        return 0  # too few block elements to nest that deep: no need to walk them
    depth = deepest = 0
    for found in _BLOCK_TAG.finditer(text):
        if found.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def crowded_tag(text: str) -> bool:
    """Tell whether a large document has an element with more than MAX_ATTRIBUTES attributes."""
    if len(text) < _SCAN_FROM_CHARS:
        return False
    starts = [found.start() for found in _LONG_TAG.finditer(text)]
    if text.find(">") > 32768 or ">" not in text:
        starts.insert(0, 0)
    for start in starts:
        tag = text.find("<", start)
        if tag >= 0 and _ATTRIBUTES.match(text, tag):
            return True
    return False


def refusal_reason(text: str) -> str | None:
    """Why a document must not be parsed at all, or None."""
    depth = block_depth(text)
    if depth > MAX_BLOCK_DEPTH:
        return f"it nests block elements {depth:,} deep (at most {MAX_BLOCK_DEPTH:,} are parsed)"
    if crowded_tag(text):
        return f"an element has more than {MAX_ATTRIBUTES:,} attributes"
    return None


#: A block page says little; an article this long is taken for one whatever words it uses.
_BLOCK_PAGE_TEXT = 1500


def not_an_article(title: str | None, body_text: str) -> str | None:
    """Tell a block page (captcha, bot check, access denied) or a "not found" page served with 200.

    Only the title and the extracted text are read, never the raw HTML: many real
    articles carry a reCAPTCHA in their comment form. Returns "blocked", "soft404" or None.
    """
    if title and _NOT_FOUND_TITLE.match(title):
        return "soft404"
    if len(body_text) < _BLOCK_PAGE_TEXT and _BLOCK_MARKERS.search(f"{title or ''}\n{body_text}"):
        return "blocked"
    return None
