"""User-written URL patterns (schedules, profiles), run by RE2 in time linear in the path, whatever the pattern."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import re2

from scraper import settings

# Python's `re` backtracks: `^/([a-z0-9]+-?)+_\d+/$` takes a second on a 24-character path and doubles with
# every character, holding the GIL, so no signal or deadline can stop it. RE2 never backtracks.
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported once, as a ConfigError, not also on stderr


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern; equal to another with the same source text."""

    source: str
    _compiled: Any = field(compare=False, repr=False)

    def search(self, text: str) -> bool:
        """Tell whether the pattern matches somewhere in `text` (cut to the longest URL we follow)."""
        return self._compiled.search(text[: settings.MAX_URL_LENGTH]) is not None

    def group(self, text: str, name: str) -> str | None:
        """The named group of the first match in `text`, if any."""
        found = self._compiled.search(text[: settings.MAX_URL_LENGTH])
        if found is None:
            return None
        try:
            value = found.group(name)
        except (IndexError, KeyError):
            return None
        return str(value) if value is not None else None


def compile_pattern(source: str) -> Pattern:
    """Compile a pattern; ValueError saying why for one RE2 cannot run (backreferences, lookaround)."""
    try:
        return Pattern(source, re2.compile(source, _OPTIONS))
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"{reason}; patterns run in linear time (RE2 syntax: no backreferences or lookaround)"
        ) from None


#: Matches every path: a schedule that names no article pattern.
ANY = compile_pattern(".")
