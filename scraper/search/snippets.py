"""Snippets: the stretch of an article where the searched words are densest, with those words marked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from scraper.search.query import Query

#: Characters in a snippet (it ends at the word that crosses this).
SNIPPET_CHARS = 240
#: How much of a long body is looked through for the best stretch.
SCAN_CHARS = 100_000
#: Matches weighed when choosing the stretch (a common word can match thousands of times).
MAX_CANDIDATES = 200
ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Marked:
    """A piece of text with the parts the search matched: (start, end) character offsets, in order."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()

    def segments(self) -> Iterator[tuple[str, bool]]:
        """The text in order as (piece, matched) pairs."""
        at = 0
        for start, end in self.marks:
            if start > at:
                yield self.text[at:start], False
            yield self.text[start:end], True
            at = end
        if at < len(self.text):
            yield self.text[at:], False

    def bracketed(self, opening: str = "[", closing: str = "]") -> str:
        """The text with every matched part between `opening` and `closing`."""
        return "".join(f"{opening}{piece}{closing}" if hit else piece for piece, hit in self.segments())


def mark(query: Query, text: str | None) -> Marked:
    """The whole of `text` (a title), with the searched words marked."""
    flat = _SPACE.sub(" ", text or "").strip()
    return Marked(flat, tuple((start, end) for start, end, _ in query.spans(flat)))


def snippet(query: Query, *texts: str | None) -> Marked:
    """About SNIPPET_CHARS characters of the first of `texts` that has a searched word, where the most different
    searched words come together; the start of the first non-empty text when none has one."""
    fallback = None
    for text in texts:
        flat = _SPACE.sub(" ", (text or "")[:SCAN_CHARS]).strip()
        if not flat:
            continue
        found = query.spans(flat)
        if found:
            return _best(flat, found)
        fallback = fallback or _window(flat, 0, [])
    return fallback or Marked("")


def _best(text: str, found: list[tuple[int, int, int]]) -> Marked:
    # The window holding the most different searched terms, then the most matches; the earliest such wins.
    # It starts a little before a match, so the words leading up to it are read too.
    best_key, best_start = (-1, -1), 0
    candidates = found[:MAX_CANDIDATES]
    for start, _, _ in candidates:
        begin = max(0, start - SNIPPET_CHARS // 4)
        inside = [term for s, e, term in candidates if s >= begin and e <= begin + SNIPPET_CHARS]
        key = (len(set(inside)), len(inside))
        if key > best_key:
            best_key, best_start = key, begin
    return _window(text, best_start, found)


def _window(text: str, begin: int, found: list[tuple[int, int, int]]) -> Marked:
    """The words of `text` from the one at `begin` for about SNIPPET_CHARS characters, with the marks inside."""
    start = text.rfind(" ", 0, begin) + 1 if begin > 0 else 0
    end = text.find(" ", start + SNIPPET_CHARS)
    end = len(text) if end < 0 else end
    lead = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if end < len(text) else ""
    shift = len(lead) - start
    marks = tuple((s + shift, e + shift) for s, e, _ in found if s >= start and e <= end)
    return Marked(lead + text[start:end] + tail, marks)
