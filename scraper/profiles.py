"""Site profiles: per-site CSS selectors and rules, kept as TOML data in scraper/sites/."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scraper import settings
from scraper.errors import ConfigError, UsageError
from scraper.patterns import Pattern, compile_pattern
from scraper.urls import host_of

GENERIC = "generic"

#: Fields a profile may give selectors for; each value is a list of "css" or "css@attribute" strings.
SELECTOR_FIELDS = (
    "title",
    "lead",
    "author",
    "published",
    "modified",
    "views",
    "source",
    "photo_credit",
    "image",
    "tags",
    "body",
)
_TOP_KEYS = {"name", "hosts", "timezone", "language", "article_url", "root", "selectors", "exclude", "labels"}


@dataclass(frozen=True)
class Selector:
    """A CSS selector, optionally reading an attribute instead of the text."""

    css: str
    attribute: str | None = None
    #: A selector of <meta> tags: looked up in <head>, outside the profile's root.
    in_head: bool = False

    @classmethod
    def parse(cls, spec: str) -> Selector:
        css, _, attribute = spec.rpartition("@") if "@" in spec else (spec, "", "")
        css = css.strip()
        return cls(css, attribute.strip() or None, css.startswith("meta"))


@dataclass(frozen=True)
class Profile:
    """How to read one site's pages."""

    name: str
    hosts: tuple[str, ...] = ()
    #: The site's IANA time zone; None (sites without a profile) keeps the offsets pages give.
    timezone: str | None = None
    language: str | None = None
    #: Regex over the URL path whose group `id` is the site's article id.
    article_url: Pattern | None = None
    #: The element holding the article; selectors and exclusions apply inside it (fast, and
    #: immune to look-alike blocks in the sidebar). None means the whole document.
    root: tuple[str, ...] = ()
    selectors: dict[str, tuple[Selector, ...]] = field(default_factory=dict)
    #: Removed from the body before it is read: promos, ads, inline "read also" links.
    exclude: tuple[str, ...] = ()
    #: field -> label words that precede the value and are not part of it ("АВТОР", "Фото:").
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def zone(self) -> ZoneInfo:
        """The zone visible dates are read in (UTC when the site's zone is unknown)."""
        return ZoneInfo(self.timezone or settings.DEFAULT_TIMEZONE)

    @cached_property
    def exclude_query(self) -> str:
        """The exclusions as one selector list, so one walk finds them all."""
        return ", ".join(self.exclude)

    @cached_property
    def label_stems(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """field -> each label without its colon, and case-folded for comparing (longest first)."""
        stems = {}
        for name, labels in self.labels.items():
            bare = [label.rstrip(":").strip() for label in labels]
            stems[name] = tuple((stem, stem.casefold()) for stem in bare)
        return stems


GENERIC_PROFILE = Profile(name=GENERIC)


def _fail(path: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"Profile {path}: key {key!r} {problem}.", path=path, key=key)


def _strings(data: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, key, "must be a string or a list of strings")
    return tuple(value)


def profile_from_dict(data: dict[str, Any], path: str) -> Profile:
    """Build a Profile from parsed TOML, raising ConfigError naming the file and the key."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _fail(path, sorted(unknown)[0], "is not a profile setting")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(path, "name", "must be a non-empty string")
    timezone = data.get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise _fail(path, "timezone", f"names no known time zone ({timezone!r})") from None
    pattern = None
    if "article_url" in data:
        source = data["article_url"]
        if not isinstance(source, str):
            raise _fail(path, "article_url", "must be a string")
        try:
            pattern = compile_pattern(source)
        except ValueError as exc:
            raise _fail(path, "article_url", f"is not a pattern this crawler can run ({exc})") from None
        if "(?P<id>" not in source:
            raise _fail(path, "article_url", "needs a group named id, like (?P<id>\\d+)")
    raw_selectors = data.get("selectors", {})
    if not isinstance(raw_selectors, dict):
        raise _fail(path, "selectors", "must be a table")
    selectors: dict[str, tuple[Selector, ...]] = {}
    for key in raw_selectors:
        if key not in SELECTOR_FIELDS:
            raise _fail(path, f"selectors.{key}", f"is not a field (use one of {', '.join(SELECTOR_FIELDS)})")
        selectors[key] = tuple(Selector.parse(s) for s in _strings(raw_selectors, key, f"{path}: selectors"))
    raw_labels = data.get("labels", {})
    if not isinstance(raw_labels, dict):
        raise _fail(path, "labels", "must be a table")
    # Longest first, so "Фото:" is tried before "Фото".
    labels = {key: tuple(sorted(_strings(raw_labels, key, path), key=len, reverse=True)) for key in raw_labels}
    return Profile(
        name=name,
        hosts=tuple(h.lower() for h in _strings(data, "hosts", path)),
        timezone=timezone,
        language=data.get("language"),
        article_url=pattern,
        root=_strings(data, "root", path),
        selectors=selectors,
        exclude=_strings(data, "exclude", path),
        labels=labels,
    )


def load_profile_file(path: Path) -> Profile:
    """Read one profile TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Profile {path} is not valid TOML: {exc}.", path=str(path)) from None
    return profile_from_dict(data, str(path))


@cache
def builtin_profiles() -> dict[str, Profile]:
    """Return the profiles shipped in scraper/sites/, by name."""
    found: dict[str, Profile] = {}
    for entry in resources.files("scraper.sites").iterdir():
        if entry.name.endswith(".toml"):
            profile = load_profile_file(Path(str(entry)))
            found[profile.name] = profile
    return found


def get_profile(name: str) -> Profile:
    """Return the profile called `name` ("generic" included), or raise UsageError listing the known ones."""
    if name == GENERIC:
        return GENERIC_PROFILE
    profiles = builtin_profiles()
    if name not in profiles:
        known = ", ".join(sorted([*profiles, GENERIC]))
        raise UsageError(f"There is no profile called {name!r}; the known profiles are {known}.")
    return profiles[name]


def profile_for_url(url: str) -> Profile:
    """Return the profile whose hosts include the URL's host (www ignored), else the generic one."""
    host = host_of(url)
    for profile in builtin_profiles().values():
        if host in profile.hosts:
            return profile
    return GENERIC_PROFILE
