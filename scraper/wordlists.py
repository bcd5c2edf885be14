"""Read the word lists kept as data in scraper/parse/vocab/ (month names, labels), and match their words."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    """The TOML word list scraper/parse/vocab/<name>.toml."""
    text = resources.files("scraper.parse").joinpath(f"vocab/{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words`, escaped, longest first (so "mis à jour le" wins over "mis à jour")."""
    return "|".join(sorted(set(map(re.escape, words)), key=len, reverse=True))


def whole_words(words: Iterable[str]) -> re.Pattern[str]:
    """A pattern matching any of `words` as a whole word, any case."""
    return re.compile(rf"(?<![^\W\d_])(?:{alternation(words)})(?![^\W\d_])", re.IGNORECASE)
