"""What a reader typed into a search box, read without ever failing, as an FTS5 query and as highlights."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files

from scraper import settings
from scraper.search.analysis import MIN_EXPLICIT_PREFIX, fold, fold_text, is_kazakh, prefixes, tokens

#: What the reader's text is cut into: a quoted phrase (the closing quote may be missing), OR/NOT between
#: words, or a word with a leading - (leave out) and a trailing * (prefix). Everything else separates.
_ITEM = re.compile(
    r"(?P<minus>(?<![^\s(])-)?"
    r'(?:"(?P<phrase>[^"]*)"?'
    r"|(?P<word>[^\s\"()\[\]{}<>*^+:;!?|&=~#@$%\\-][^\s\"()\[\]{}<>*^+:;!?|&=~#@\\]*)(?P<star>\*)?)"
)
_SEPARATORS = r"[\W_]+"
_TOKEN_END = r"(?![^\W_])"
_TOKEN_REST = r"[^\W_]*"
#: The operators a reader may type in capitals; AND is what words do anyway and NEAR is not offered.
_OR, _NOT, _IGNORED = "OR", "NOT", frozenset({"AND", "NEAR"})


@dataclass(frozen=True)
class Term:
    """One word (or a hyphenated run read as adjacent words): its tokens, and the prefixes of the last one's
    forms."""

    tokens: tuple[str, ...]
    prefixes: tuple[str, ...]
    exact: bool = False

    def expression(self) -> str:
        *head, last = self.tokens
        lead = "".join(f"{_quote(token)} + " for token in head)
        # A prefix covers the word as typed: listing the word beside it would rank that very form higher, but
        # costs as much again on a common word (measured: no gain on bench/search.py's labelled queries).
        alternatives = [f"{lead}{_quote(prefix)}*" for prefix in self.prefixes] or [lead + _quote(last)]
        return alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"

    def pattern(self) -> str:
        """A regular expression for this term in folded text (see Query.spans)."""
        head = "".join(re.escape(token) + _SEPARATORS for token in self.tokens[:-1])
        whole = re.escape(self.tokens[-1]) + _TOKEN_END
        starts = [re.escape(prefix) + _TOKEN_REST for prefix in self.prefixes]
        return head + "(?:" + "|".join([*starts, whole]) + ")"


@dataclass(frozen=True)
class Query:
    """A reader's search: groups of alternatives that must all match (AND of ORs), and words left out."""

    text: str
    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()
    #: The text was longer than the search takes (settings.SEARCH_MAX_WORDS words).
    truncated: bool = False

    @property
    def empty(self) -> bool:
        return not self.groups

    def expression(self) -> str:
        """The FTS5 MATCH expression; one that matches nothing for an empty query."""
        if not self.groups:
            return '""'
        parts = [
            group[0].expression() if len(group) == 1 else "(" + " OR ".join(t.expression() for t in group) + ")"
            for group in self.groups
        ]
        matched = " AND ".join(parts)
        if self.excluded:
            matched = f"({matched}) NOT ({' OR '.join(term.expression() for term in self.excluded)})"
        return matched

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """Where in `text` the searched words (not the left-out ones) occur: (start, end, which term)."""
        if self._pattern is None:
            return []
        return [
            (match.start(), match.end(), int(str(match.lastgroup)[1:]))
            for match in self._pattern.finditer(fold_text(text))
        ]

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        """One expression finding every term in folded text the way the index matches it: whole tokens, or
        tokens starting with a prefix; a phrase's tokens with only separators between them."""
        terms = [term for group in self.groups for term in group]
        if not terms:
            return None
        # Phrases first: at one place, the alternative listed first wins.
        order = sorted(range(len(terms)), key=lambda number: -len(terms[number].tokens))
        alternatives = [f"(?P<t{number}>{terms[number].pattern()})" for number in order]
        return re.compile(r"(?<![^\W_])(?:" + "|".join(alternatives) + ")")


@cache
def stopwords() -> frozenset[str]:
    """The words a query does not require (stopwords.toml), folded."""
    data = tomllib.loads(files("scraper.search").joinpath("stopwords.toml").read_text(encoding="utf-8"))
    return frozenset(fold(word) for words in data.values() for word in words)


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def parse(text: str) -> Query:
    """Read what a reader typed; never raises. Quoted text is a phrase of exact words; other words match
    their forms (and ё as е); `-word` or `NOT word` leaves a word out, `word*` asks for a prefix,
    `a OR b` for either. Anything else that FTS5 would read as syntax is taken as plain text."""
    raw = _printable(text[: settings.SEARCH_MAX_CHARS])
    items: list[tuple[str, Term]] = []  # (how it joins the previous: "and", "or", "not"), term
    budget = settings.SEARCH_MAX_WORDS
    truncated = len(text) > settings.SEARCH_MAX_CHARS
    pending = "and"
    kazakh = any(is_kazakh(fold(char)) for char in raw)
    for match in _ITEM.finditer(raw):
        word = match.group("word")
        if word == _OR:
            pending = "or" if items else pending
            continue
        if word == _NOT:
            pending = "not"
            continue
        if word in _IGNORED:
            continue
        source = match.group("phrase") if match.group("phrase") is not None else word or ""
        found = [token for _, _, token in tokens(source)]
        if not found:
            continue
        if len(found) > budget:
            found, truncated = found[:budget], True
        budget -= len(found)
        if match.group("phrase") is not None:
            term = Term(tuple(found), (), exact=True)
        elif match.group("star") and len(found[-1]) >= MIN_EXPLICIT_PREFIX:
            term = Term(tuple(found), (found[-1],))
        else:
            term = Term(tuple(found), prefixes(found[-1], kazakh=kazakh))
        join = "not" if match.group("minus") and pending == "and" else pending
        items.append((join, term))
        pending = "and"
        if budget <= 0:
            truncated = truncated or match.end() < len(raw.rstrip())
            break
    return _assemble(text, items, truncated)


def _optional(join: str, term: Term) -> bool:
    return join == "and" and not term.exact and len(term.tokens) == 1 and term.tokens[0] in stopwords()


def _assemble(text: str, items: list[tuple[str, Term]], truncated: bool) -> Query:
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    if any(join != "not" and not _optional(join, term) for join, term in items):
        # A stopword beside other words is left out (an OR it starts keeps it: "в OR во" asks for it).
        items = [
            (join, term)
            for position, (join, term) in enumerate(items)
            if not _optional(join, term) or _starts_or(items, position)
        ]
    for join, term in items:
        if join == "not":
            excluded.append(term)
        elif join == "or" and groups:
            groups[-1].append(term)
        else:
            groups.append([term])
    if not groups:
        # Only words to leave out: nothing to leave them out of, so they are what is searched.
        groups, excluded = [[term] for term in excluded], []
    return Query(text, tuple(tuple(group) for group in groups), tuple(excluded), truncated)


def _starts_or(items: list[tuple[str, Term]], position: int) -> bool:
    return position + 1 < len(items) and items[position + 1][0] == "or"


def _printable(text: str) -> str:
    # Control characters (a NUL from a pasted binary, a stray escape) separate words like spaces do.
    return "".join(char if char.isprintable() else " " for char in text)


def to_match(text: object) -> str:
    """The FTS5 MATCH expression for a search box's text (Datasette's `escape_fts`); never raises."""
    return parse(text if isinstance(text, str) else "" if text is None else str(text)).expression()
