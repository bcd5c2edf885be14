"""Words as search sees them: cut as SQLite's unicode61 tokenizer cuts them, ё folded to е, and their forms."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

import Stemmer

#: A token as unicode61 sees it: a run of letters and digits (underscore and punctuation separate tokens).
TOKEN = re.compile(r"[^\W_]+")
#: Letters that only Kazakh (of the languages we archive) writes with: a word with one is a Kazakh word.
KAZAKH_LETTERS = frozenset("әғқңөұүһі")
#: The shortest stem used as a prefix: shorter ones ("г*", "ме*") would match a large part of the archive.
MIN_PREFIX = 3
#: The shortest prefix a reader may ask for with `*`.
MIN_EXPLICIT_PREFIX = 2


def fold(text: str) -> str:
    """Lower case, and ё as е: how both the index and the query spell a word (Russian writes ё as е at will)."""
    return text.lower().replace("ё", "е")


#: Letters that carry an accent unicode61 removes: the Latin ones (café → cafe).
_ACCENTED = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")


def strip_accents(token: str) -> str:
    """Latin accents off (café → cafe), as unicode61 `remove_diacritics 2` does; Cyrillic letters are kept
    whole (й is not и, and ё was already folded)."""
    if not _ACCENTED.search(token):
        return token
    out = []
    for char in token:
        if "LATIN" in unicodedata.name(char, ""):
            base = unicodedata.normalize("NFD", char)
            out.append("".join(c for c in base if not unicodedata.combining(c)))
        else:
            out.append(char)
    return "".join(out)


def tokens(text: str) -> list[tuple[int, int, str]]:
    """Each token of `text` with where it starts and ends, folded as the index folds it."""
    return [(m.start(), m.end(), _folded_token(m.group())) for m in TOKEN.finditer(text)]


def fold_text(text: str) -> str:
    """`text` folded as the index folds its tokens, letter for letter (offsets into it are offsets into `text`)."""
    folded = strip_accents(fold(text))
    if len(folded) == len(text):
        return folded
    # A letter whose lower case is longer (İ → i̇) keeps its place: offsets must stay those of `text`.
    return "".join(char if len(char) == 1 else original for char, original in ((_folded_token(c), c) for c in text))


@lru_cache(maxsize=65536)
def _folded_token(token: str) -> str:
    return strip_accents(fold(token))


def is_cyrillic(word: str) -> bool:
    return any("CYRILLIC" in unicodedata.name(char, "") for char in word)


def is_kazakh(word: str) -> bool:
    return not KAZAKH_LETTERS.isdisjoint(word)


@dataclass(frozen=True)
class Slot:
    """One place in a word's chain of endings: the endings that can fill it, longest first, and those of them
    that also stand for the next slot (a case ending that carries the possessive before it)."""

    endings: tuple[str, ...]
    carries_next: frozenset[str]


@dataclass(frozen=True)
class SuffixTable:
    """Kazakh endings by slot, from the end of a word: case or tense, possessive, plural, participle."""

    slots: tuple[Slot, ...]
    min_stem: int
    mutable_finals: frozenset[str]
    elided_vowels: frozenset[str]

    def stem(self, word: str) -> str:
        """The part of `word` every form of it starts with: at most one ending off per slot, in slot order."""
        stem = word
        skip = False
        for slot in self.slots:
            if skip:
                skip = False
                continue
            for ending in slot.endings:
                if stem.endswith(ending) and self._keeps(stem[: -len(ending)]):
                    stem = stem[: -len(ending)]
                    skip = ending in slot.carries_next
                    break
        if stem[-1:] in self.mutable_finals and self._keeps(stem[:-1]):
            stem = stem[:-1]
            if stem[-1:] in self.elided_vowels and self._keeps(stem[:-1]):
                stem = stem[:-1]
        return stem

    def _keeps(self, stem: str) -> bool:
        return len(stem) >= self.min_stem and any(char in _VOWELS for char in stem)


_VOWELS = frozenset("аәеиоөұүуыіэюя")


@cache
def kazakh_suffixes() -> SuffixTable:
    """The table of Kazakh endings in kazakh.toml."""
    data = tomllib.loads(files("scraper.search").joinpath("kazakh.toml").read_text(encoding="utf-8"))
    slots = []
    for slot in data["slots"]:
        carries = [str(ending) for ending in slot.get("with_possessive", [])]
        endings = sorted({str(ending) for ending in [*slot["endings"], *carries]}, key=lambda e: (-len(e), e))
        slots.append(Slot(tuple(endings), frozenset(carries)))
    return SuffixTable(
        tuple(slots), int(data["min_stem"]), frozenset(data["mutable_finals"]), frozenset(data["elided_vowels"])
    )


@cache
def _snowball(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


def russian_stem(word: str) -> str:
    return str(_snowball("russian").stemWord(word))


def english_stem(word: str) -> str:
    return str(_snowball("english").stemWord(word))


def kazakh_stem(word: str) -> str:
    return kazakh_suffixes().stem(word)


def _shared_start(word: str, stem: str) -> str:
    """The letters `word` and `stem` start with alike."""
    size = 0
    for a, b in zip(word, stem, strict=False):
        if a != b:
            break
        size += 1
    return word[:size]


def prefixes(word: str, *, kazakh: bool) -> tuple[str, ...]:
    """The prefixes that the forms of a folded `word` start with, for a prefix query; none for words whose
    stem is too short to be a useful prefix (they are searched as they are).

    Russian words go through Snowball `russian`, Latin ones through Snowball `english` (its stem can end
    differently from the word, happy → happi, so the prefix is what the two share). Kazakh words, and
    with `kazakh` every Cyrillic word of a query written in Kazakh, go through the Kazakh suffix table.
    """
    if word.isdigit():
        return ()
    if is_cyrillic(word):
        stems = {russian_stem(word)} if not is_kazakh(word) else set()
        if kazakh or is_kazakh(word):
            stems.add(kazakh_stem(word))
    elif word.isascii():
        # Snowball writes a final y as i (delivery, deliveries → deliveri): the forms share what comes before.
        stems = {english_stem(word).removesuffix("i")}
    else:
        return ()
    found = {_shared_start(word, stem) for stem in stems}
    kept = sorted(p for p in found if len(p) >= MIN_PREFIX)
    if not kept and len(word) > MIN_PREFIX:
        # Its stem is too short to search by (Алиев → "ал"), but the word itself starts its longer forms.
        kept = [word]
    # A prefix that another one starts with adds nothing: "астанад" matches nothing "астана" does not.
    return tuple(p for p in kept if not any(p != q and p.startswith(q) for q in kept))
