"""The body extractor's word lists, read once from the data files in scraper/parse/vocab/."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VOCAB_DIR = Path(__file__).resolve().parent / "vocab"


@dataclass(frozen=True)
class Words:
    """Words of class and id attributes: whole words, and prefixes of words."""

    words: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()  # whole class tokens

    def pattern(self) -> str:
        """A regex matching these in a "class id" string made of "-"-joined words and " "-joined tokens."""
        alternatives = []
        if self.prefixes:
            alternatives.append(rf"(?:^|[ -])(?:{_alternation(self.prefixes)})")
        if self.words:
            alternatives.append(rf"(?:^|[ -])(?:{_alternation(self.words)})(?=$|[ -])")
        if self.classes:
            alternatives.append(rf"(?:^| )(?:{_alternation(self.classes)})(?=$| )")
        return "|".join(alternatives) or "(?!)"


@dataclass(frozen=True)
class Phrases:
    """Paragraph-level boilerplate of one language: whole-paragraph labels and opening lead-ins."""

    labels: tuple[str, ...]
    leads: tuple[str, ...]


def _alternation(items: tuple[str, ...]) -> str:
    # Longest first, so that a longer entry wins over its own prefix.
    return "|".join(re.escape(item) for item in sorted(items, key=len, reverse=True))


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValueError(f"{where}: `{key}` must be a list of non-empty strings")
    return tuple(item.lower() for item in value)


def _load(name: str) -> dict[str, Any]:
    with (VOCAB_DIR / name).open("rb") as handle:
        return tomllib.load(handle)


def _words(data: dict[str, Any], section: str) -> Words:
    table = data.get(section)
    where = f"vocab/classes.toml [{section}]"
    if not isinstance(table, dict):
        raise ValueError(f"{where}: the section is missing")
    return Words(_strings(table, "words", where), _strings(table, "prefixes", where), _strings(table, "classes", where))


_CLASSES = _load("classes.toml")
#: Class words that mark boilerplate (the element is removed).
REMOVE = _words(_CLASSES, "remove")
#: Class words that overrule a removal (embedded posts).
KEEP = _words(_CLASSES, "keep")
#: Class words of a likely content container.
POSITIVE = _words(_CLASSES, "positive")
#: Class words that lower a container's score.
NEGATIVE = _words(_CLASSES, "negative")
#: Class words of a lead paragraph (standfirst, summary).
LEAD = _words(_CLASSES, "lead")
#: Class words of a picture or gallery (whose "description" is a caption).
PICTURE = _words(_CLASSES, "picture")
#: Class words of a box announcing a page: boilerplate with a link, a lead without one.
TEASER = _words(_CLASSES, "teaser")

#: Paragraph-level boilerplate per language code.
PHRASES: dict[str, Phrases] = {
    language: Phrases(
        _strings(table, "labels", f"vocab/phrases.toml [{language}]"),
        _strings(table, "leads", f"vocab/phrases.toml [{language}]"),
    )
    for language, table in _load("phrases.toml").items()
}


def _phrase_pattern(phrase: str) -> str:
    """Regex of a phrase: "#" is a number, a space any run of spaces; a lead ending in a letter ends a word."""
    pattern = r"\s+".join(re.escape(word).replace("\\#", r"\d+").replace("#", r"\d+") for word in phrase.split())
    return pattern + (r"\b" if phrase[-1].isalnum() else "")


def boilerplate_line_pattern() -> str:
    """One regex for every language: a whole line that is a label, or a line that opens with a lead-in.

    Symbols and punctuation around a label, or before a lead-in, do not count; a line of symbols only is
    boilerplate too.
    """
    labels = sorted({label for phrases in PHRASES.values() for label in phrases.labels}, key=len, reverse=True)
    leads = sorted({lead for phrases in PHRASES.values() for lead in phrases.leads}, key=len, reverse=True)
    label_re = "|".join(_phrase_pattern(label).removesuffix(r"\b") for label in labels)
    lead_re = "|".join(_phrase_pattern(lead) for lead in leads)
    return rf"^\W*(?:(?:{label_re})\W*$|(?:{lead_re}))|^[\W_]+$"


_FIRST_WORD_RE = re.compile(r"[^\W_]+")


def first_words() -> frozenset[str]:
    """The first word (lower case, letters and digits) of every label and lead-in.

    A line that opens with another word is no boilerplate line and needs no match against the whole
    pattern. A phrase that opens with no word (a number, "# / #") stands as "#".
    """
    found = set()
    for phrases in PHRASES.values():
        for phrase in (*phrases.labels, *phrases.leads):
            word = _FIRST_WORD_RE.search(phrase)
            found.add(word.group(0) if word is not None else "#")
    return frozenset(found)
