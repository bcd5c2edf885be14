"""Authors of a page: JSON-LD, <meta>, bylines and labels, as a list of people."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any, NamedTuple

from selectolax.lexbor import LexborNode

from scraper.models import Origin
from scraper.parse import css
from scraper.parse.header import labeled_value, labels
from scraper.parse.pagedates import is_elsewhere
from scraper.text import clean_text

#: How several authors are written in the `author` field: "A, B". No name keeps a comma
#: (bylines are split at commas), so split_authors() gives the list back.
AUTHOR_SEPARATOR = ", "
#: Where a byline sits on pages without a profile, most specific first.
BYLINE_SELECTORS = (
    '[itemprop="author"] [itemprop="name"]',
    '[rel="author"]',
    '[itemprop="author"]',
    "[class*=byline__name i]",
    "[class*=author-name i]",
    "[class*=author__name i]",
    "[class*=authorname i]",
    "[class*=article-author i]",
    "[class*=byline i]",
    "[class*=author i]",
)
#: <meta> keys naming the author, in order of trust.
AUTHOR_META = ("author", "article:author", "sailthru.author", "parsely-author", "dc.creator", "dcterms.creator", "byl")
# Words that join several names in a byline, in the ten languages of the vocabulary.
_JOINERS = re.compile(
    r"\s*(?:,|;|\||/|&|\+|\band\b|\bund\b|\bet\b|\by\b|\be\b|\bve\b|\bi\b|\bи\b|\bта\b|\bі\b|\bмен\b|\bжәне\b)\s*",
    re.IGNORECASE,
)
_HAS_DIGIT = re.compile(r"\d")
_URLISH = re.compile(r"^(?:https?://|www\.)|@|\.(?:com|org|net|ru|kz|ua|de)\b", re.IGNORECASE)
_MAX_NAME = 60
_MAX_WORDS = 6


class AuthorsFound(NamedTuple):
    """Author names, where they came from, and the names left out with the reason."""

    names: list[str]
    origin: Origin | None
    detail: str
    dropped: list[tuple[str, str]]


def split_authors(author: str | None) -> list[str]:
    """The names in an `author` field (several are joined by AUTHOR_SEPARATOR)."""
    return [name for name in author.split(AUTHOR_SEPARATOR) if name] if author else []


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class NameFilter:
    """Turns a byline into names: strips labels, splits joined names, leaves out what is not a person."""

    def __init__(self, site_names: Iterable[str | None]) -> None:
        self.site_names = {_folded(name) for name in site_names if name}
        self.dropped: list[tuple[str, str]] = []

    def names(self, value: str | None, *, split: bool = True) -> list[str]:
        """The people a byline names; what is left out is remembered in `dropped` with the reason."""
        if not value:
            return []
        text = clean_text(value)
        label = labels().author.match(text)
        if label:
            text = text[label.end() :]
        parts = _JOINERS.split(text) if split else [text]
        found = []
        for part in parts:
            name = part.strip(" .:-–—()[]\"'«»")
            if name and (reason := self.why_not(name)) is None:
                found.append(name)
            elif name:
                self.dropped.append((name, reason or ""))
        return found

    def why_not(self, name: str) -> str | None:
        """Why `name` is not taken as a person, or None if it is."""
        folded = _folded(name)
        if len(name) < 2 or len(name) > _MAX_NAME or len(name.split()) > _MAX_WORDS:
            return "not the length of a name"
        if _HAS_DIGIT.search(name):
            return "has digits (a date or a count)"
        if _URLISH.search(name):
            return "an address, not a name"
        if folded in labels().not_a_person:
            return "the newsroom, not a person"
        if folded in self.site_names:
            return "the site's own name"
        if labels().author.fullmatch(name):
            return "a label without a name"
        return None


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for name in names:
        key = _folded(name)
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def jsonld_authors(value: Any, names: NameFilter) -> list[str]:
    """Authors in a JSON-LD author value: persons, and organizations other than the site itself (news agencies)."""
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items:
        if isinstance(item, str):
            found.extend(names.names(item))
        elif isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, list):
                name = ", ".join(str(n) for n in name if isinstance(n, str))
            if isinstance(name, str):
                found.extend(names.names(name, split=False) if "," not in name else names.names(name))
    return found


def byline_authors(
    root: LexborNode | None, headline: LexborNode | None, header: list[tuple[LexborNode, str]], names: NameFilter
) -> tuple[list[str], str, bool]:
    """Authors a reader sees: a labeled name in the header line, else a byline element of the article.

    Returns (names, where, whether the header has an author label): a bare label ("АВТОР" with
    no name) says the page names no author.
    """
    labeled, value = labeled_value(header, labels().author)
    if value:
        found = names.names(value)
        if found:
            return found, "an author label in the header line", True
    if labeled:
        return [], "an author label with no name in the header line", True
    for query in BYLINE_SELECTORS:
        for node in css.every(root, query):
            text = clean_text(node.text(deep=True, separator=" "))
            if not text or len(text) > 200 or is_elsewhere(node, headline):
                continue
            found = names.names(text)
            if found:
                return found, f"the byline {query}", False
    return [], "", False
