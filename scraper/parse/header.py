"""The article's header zone, read by generic rules: the headline, and the line between it and the body."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import NamedTuple
from urllib.parse import urlsplit

from selectolax.lexbor import LexborNode

from scraper import wordlists
from scraper.parse import css
from scraper.parse.pagedates import following_texts
from scraper.text import clean_text

#: Text pieces read after the headline, at most.
_MAX_PIECES = 60
#: A text this long is a paragraph of the body (or the standfirst): the header line has ended.
_BODY_TEXT = 120
#: Hosts whose links in a header are share buttons or promos, never the news' source.
_SOCIAL_HOSTS = re.compile(
    r"(?:^|\.)(?:t\.me|telegram\.(?:me|org)|facebook\.com|fb\.com|twitter\.com|x\.com|instagram\.com|vk\.com|ok\.ru"
    r"|youtube\.com|youtu\.be|tiktok\.com|whatsapp\.com|wa\.me|linkedin\.com|pinterest\.com|reddit\.com"
    r"|google\.com|apple\.com|play\.google\.com|viber\.com|threads\.net)$",
    re.IGNORECASE,
)
_DOMAIN = re.compile(r"^(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}$")
_DATE_HINT = re.compile(r"\d{1,4}[.:/-]\d{1,2}|\d{1,2}\s+[^\W\d_]{3,}")


class HeaderZone(NamedTuple):
    """The headline element and the text pieces after it, up to the body, each with the element holding it."""

    headline: LexborNode | None
    texts: list[tuple[LexborNode, str]]
    #: Whether the page's title repeats the headline (else it is only the first <h1> of several words).
    confirmed: bool = False


class Labels(NamedTuple):
    """Header label patterns: each matches a label at the start of a text, with its colon or dash."""

    author: re.Pattern[str]
    source: re.Pattern[str]
    photo_credit: re.Pattern[str]
    not_a_person: frozenset[str]
    not_in_a_name: frozenset[str]


@cache
def labels() -> Labels:
    """The header labels of scraper/parse/vocab/header_labels.toml."""
    data = wordlists.load("header_labels")

    def pattern(words: list[str]) -> re.Pattern[str]:
        return re.compile(rf"^\s*(?:{wordlists.alternation(words)})(?![^\W\d_])\s*[:：\-–—]?\s*", re.IGNORECASE)

    return Labels(
        pattern(data["author"]),
        pattern(data["source"]),
        pattern(data["photo_credit"]),
        frozenset(word.casefold() for word in data["not_a_person"]),
        frozenset(word.casefold() for word in data["not_in_a_name"]),
    )


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _matches(heading: str, hints: list[str]) -> bool:
    if len(heading) < 8:
        return False
    return any(heading in hint or hint in heading for hint in hints if len(hint) >= 8)


def find_headline(root: LexborNode | None, hints: list[str | None]) -> tuple[LexborNode | None, bool]:
    """The article's <h1>: the one whose text the page's title repeats, else the first with several words.

    Returns the element and whether the title confirmed it.
    """
    folded = [_folded(hint) for hint in hints if hint]
    fallback: LexborNode | None = None
    for node in css.every(root, "h1"):
        text = _folded(node.text(deep=True, separator=" "))
        if not text:
            continue
        if _matches(text, folded):
            return node, True
        if fallback is None and len(text.split()) >= 3:
            fallback = node
    if fallback is None and folded:
        # No <h1> of the article: a lower heading that the title repeats.
        for node in css.every(root, "h2, h3, h4, [itemprop=headline]"):
            if _matches(_folded(node.text(deep=True, separator=" ")), folded):
                return node, True
    return fallback, False


def header_zone(root: LexborNode | None, hints: list[str | None]) -> HeaderZone:
    """Find the headline and read the text pieces after it, up to the first paragraph of the body."""
    headline, confirmed = find_headline(root, hints)
    if headline is None:
        return HeaderZone(None, [])
    texts: list[tuple[LexborNode, str]] = []
    for node, text in following_texts(headline, _MAX_PIECES):
        stripped = " ".join(text.split())
        if len(stripped) >= _BODY_TEXT:
            if texts:
                break
            continue  # a standfirst right under the headline; the header line may follow it
        texts.append((node, stripped))
    return HeaderZone(headline, texts, confirmed)


def _within(node: LexborNode, container: LexborNode, depth: int = 4) -> bool:
    current: LexborNode | None = node
    for _ in range(depth):
        if current is None:
            return False
        if current.mem_id == container.mem_id:
            return True
        current = current.parent
    return False


def labeled_value(texts: list[tuple[LexborNode, str]], pattern: re.Pattern[str]) -> tuple[bool, str | None]:
    """Find a label in the header line: (whether it is there, the value after it or None).

    The value is the rest of the labeled text, else the next text piece inside the label's own element
    ("<div><span>АВТОР</span> <span>Имя</span></div>"); a label with nothing after it gives (True, None).
    """
    for index, (node, text) in enumerate(texts):
        found = pattern.match(text)
        if not found:
            continue
        rest = clean_text(text[found.end() :]).strip(" :—-") or None
        if rest:
            return True, rest
        container = node.parent if node.parent is not None else node
        if index + 1 < len(texts):
            next_node, next_text = texts[index + 1]
            if _within(next_node, container) and not pattern.match(next_text):
                return True, clean_text(next_text) or None
        return True, None
    return False, None


def _host(url: str | None) -> str:
    if not url:
        return ""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def header_source(texts: list[tuple[LexborNode, str]], page_url: str | None) -> str | None:
    """The news' source in the header line: a labeled source, or a link to another site shown with its own date."""
    found, value = labeled_value(texts, labels().source)
    if found and value:
        return value
    page_host = _host(page_url)
    for index, (node, text) in enumerate(texts):
        link = (
            node if node.tag == "a" else (node.parent if node.parent is not None and node.parent.tag == "a" else None)
        )
        if link is None:
            continue
        host = _host(link.attributes.get("href"))
        if (
            not host
            or host == page_host
            or (page_host and host.endswith("." + page_host))
            or _SOCIAL_HOSTS.search(host)
        ):
            continue
        container = link.parent
        dated = container is not None and any(
            _within(other, container) and _DATE_HINT.search(other_text)
            for other, other_text in texts[index + 1 : index + 3]
        )
        if dated or _DOMAIN.match(text):
            return clean_text(text) or None
    return None


def header_photo_credit(texts: list[tuple[LexborNode, str]]) -> str | None:
    """The photo credit in the header line ("Фото: akorda.kz")."""
    pattern = labels().photo_credit
    for _node, text in texts:
        found = pattern.match(text)
        # The label must end in a colon or dash, or stand before a short credit: "Фото" alone is a tab.
        if found and found.end() < len(text) and (":" in found.group(0) or len(text) - found.end() <= 60):
            value = clean_text(text[found.end() :]).strip(" :—-")
            if value:
                return value
    return None
