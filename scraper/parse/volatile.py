"""Lines a page prints that change on every visit (a view counter, a relative date): never a paragraph of a body."""

from __future__ import annotations

from scraper.dates import is_relative_line
from scraper.parse.views import is_counter_line

#: Such a line is short: a label and a count, or a relative date and its time. Longer text is not tested.
MAX_CHARS = 60


def changes_every_visit(text: str) -> bool:
    """Whether a line is only a view count or only a relative date: kept in a body, every re-visit would be an edit."""
    return len(text) <= MAX_CHARS and (is_counter_line(text) or is_relative_line(text))
