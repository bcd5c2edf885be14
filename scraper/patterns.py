"""User-written URL patterns (schedules, profiles), run by RE2 in time linear in the path, whatever the pattern."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import re2
from re2 import _re2

from scraper import settings

# Python's `re` backtracks: `^/([a-z0-9]+-?)+_\d+/$` takes a second on a 24-character path and doubles with
# every character, holding the GIL, so no signal or deadline can stop it. RE2 never backtracks.
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported once, as a ConfigError, not also on stderr
# The binding's own RE2 object, on UTF-8 bytes: its str wrapper converts offsets in Python and costs
# 20 µs a match, which every parsed page would pay (the article id); this costs 2 µs.
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_NO_MATCH = (-1, -1)


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern; equal to another with the same source text."""

    source: str
    _regexp: Any = field(compare=False, repr=False)
    _groups: dict[str, int] = field(compare=False, repr=False)

    def _spans(self, text: str) -> list[tuple[int, int]] | None:
        subject = text[: settings.MAX_URL_LENGTH].encode("utf-8")
        spans: list[tuple[int, int]] = self._regexp.Match(_UNANCHORED, subject, 0, len(subject))
        return None if spans[0] == _NO_MATCH else spans

    def search(self, text: str) -> bool:
        """Tell whether the pattern matches somewhere in `text` (cut to the longest URL we follow)."""
        return self._spans(text) is not None

    def group(self, text: str, name: str) -> str | None:
        """The named group of the first match in `text`, if any."""
        index = self._groups.get(name)
        spans = self._spans(text) if index is not None else None
        if spans is None or index is None or spans[index] == _NO_MATCH:
            return None
        start, end = spans[index]
        return text[: settings.MAX_URL_LENGTH].encode("utf-8")[start:end].decode("utf-8", "replace")


def compile_pattern(source: str) -> Pattern:
    """Compile a pattern; ValueError saying why for one RE2 cannot run (backreferences, lookaround)."""
    regexp = _re2.RE2(source.encode("utf-8"), _OPTIONS)
    if not regexp.ok():
        raise ValueError(
            f"{regexp.error().decode('utf-8', 'replace')}; "
            "patterns run in linear time (RE2 syntax: no backreferences or lookaround)"
        )
    groups = {name.decode("utf-8"): index for name, index in regexp.NamedCapturingGroups()}
    return Pattern(source, regexp, groups)


#: Matches every path: a schedule that names no article pattern.
ANY = compile_pattern(".")
