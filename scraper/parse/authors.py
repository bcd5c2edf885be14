"""Authors of a page: JSON-LD, <meta>, bylines and labels, as a list of people."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any, NamedTuple

from scraper.models import Origin
from scraper.parse.header import labels
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

    def names(
        self, value: str | None, *, split: bool = True, shaped: bool = False, declared: bool = False
    ) -> list[str]:
        """The people a byline names; what is left out is remembered in `dropped` with the reason.

        `shaped` (for text taken from the page's markup, not its metadata) also wants each name to look
        like one: up to five words, capitalized where the script has capitals, no page furniture.
        `declared` names come from a statement that they are the author (a JSON-LD Person, <meta name=author>):
        those may be the site's own name.
        """
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
            if name and (reason := self.why_not(name, declared) or (_shapeless(name) if shaped else None)) is None:
                found.append(name)
            elif name:
                self.dropped.append((name, reason or ""))
        return found

    def why_not(self, name: str, declared: bool = False) -> str | None:
        """Why `name` is not taken as an author, or None if it is."""
        folded = _folded(name)
        if len(name) < 2 or len(name) > _MAX_NAME or len(name.split()) > _MAX_WORDS:
            return "not the length of a name"
        if folded in self.site_names and not declared:
            return "the site's own name"
        if _HAS_DIGIT.search(name):
            return "has digits (a date or a count)"
        if _URLISH.search(name):
            return "an address, not a name"
        if folded in labels().not_a_person:
            return "the newsroom, not a person"
        if labels().author.fullmatch(name):
            return "a label without a name"
        return None


#: Lower-case words that belong inside names ("Ursula von der Leyen", "Luis de la Fuente").
_PARTICLES = frozenset(
    {"von", "van", "der", "den", "de", "da", "di", "du", "del", "della", "la", "le", "bin", "al", "ibn"}
)


def _shapeless(name: str) -> str | None:
    """Why a name taken from the page's markup does not look like a name, or None if it does."""
    words = name.split()
    furniture = labels().not_in_a_name
    if any(word.casefold().strip(".,:") in furniture for word in words):
        return "page furniture, not a name"
    cased = [word for word in words if word[:1].isalpha() and word[:1].lower() != word[:1].upper()]
    if any(word[:1].islower() and word not in _PARTICLES for word in cased):
        return "not written as a name"
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
    """Authors in a JSON-LD author value: persons (as declared), and organizations other than the site (agencies)."""
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
                person = "Person" in str(item.get("@type", ""))
                # "Name, profesorius, Lrt.lt": the person is declared, what follows the comma is not. A name is
                # split into several people only where commas list them ("A und B, dpa", but "Le Figaro et AFP").
                first, _, rest = name.partition(",")
                found.extend(names.names(first, split=bool(rest), declared=person))
                found.extend(names.names(rest))
    return found
