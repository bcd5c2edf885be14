"""Machine-readable metadata of any page: JSON-LD, OpenGraph, article:* and other <meta>, <time>, itemprop."""

from __future__ import annotations

import json
import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import DateCandidate, Origin
from scraper.parse import css

#: schema.org types whose object describes the article itself.
ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "ReportageNews",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "TechArticle",
        "ScholarlyArticle",
        "Report",
        "SocialMediaPosting",
    }
)
# <meta name=...> keys that carry a publication date, in order of trust.
_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "article.published",
)
_MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "dc.date.modified",
    "last-modified",
)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


#: Everything read from <head>, in one walk: the <meta> tags, the canonical link and the JSON-LD scripts.
_HEAD_QUERY = 'meta[content], link[rel="canonical"], script[type="application/ld+json"]'
_JSONLD_QUERY = 'script[type="application/ld+json"]'


class Metadata:
    """What the page says about itself in machine-readable form.

    <head> is read in one walk when this is made; JSON-LD is read only when a date or a field needs it.
    """

    def __init__(self, tree: LexborHTMLParser) -> None:
        self._tree = tree
        #: Every <meta> by lower-cased name, property or itemprop (the first content of each).
        self.meta: dict[str, str] = {}
        #: The article:tag values.
        self.tags: list[str] = []
        self._script_nodes: list[LexborNode] = []
        canonical_link: LexborNode | None = None
        meta, tags = self.meta, self.tags
        for node in css.every(tree.head or tree.root, _HEAD_QUERY):
            tag = node.tag
            if tag == "meta":
                attrs = node.attributes
                key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
                content = attrs.get("content")
                if key and content is not None:
                    key = key.strip().lower()
                    if key == "article:tag":
                        tags.append(content)
                    if key not in meta:
                        meta[key] = content.strip()
            elif tag == "link":
                if canonical_link is None:
                    canonical_link = node
            else:
                self._script_nodes.append(node)
        href = canonical_link.attributes.get("href") if canonical_link is not None else None
        #: The page's canonical URL as written (link rel=canonical, else og:url).
        self.canonical = href or meta.get("og:url")
        root = tree.root
        #: The page's language as declared (<html lang>, else og:locale).
        self.language = (root.attributes.get("lang") if root is not None else None) or meta.get("og:locale")
        self._scripts: list[str] | None = None
        self._jsonld: dict[str, Any] | None = None

    @property
    def jsonld_scripts(self) -> list[str]:
        """The text of every JSON-LD script: those in <head>, else any in the document."""
        if self._scripts is None:
            nodes = self._script_nodes
            if not nodes and self._tree.head is not None and self._tree.root is not None:
                nodes = css.every(self._tree.root, _JSONLD_QUERY)
            self._scripts = [node.text(deep=True) for node in nodes]
        return self._scripts

    @property
    def jsonld(self) -> dict[str, Any]:
        """The page's JSON-LD article object, or {}."""
        if self._jsonld is None:
            self._jsonld = jsonld_article(self.jsonld_scripts)
        return self._jsonld

    def _jsonld_date(self, key: str) -> list[DateCandidate]:
        # A substring test first: most pages' JSON-LD never needs parsing for a date.
        for text in self.jsonld_scripts:
            if key in text:
                value = self.jsonld.get(key)
                return [DateCandidate(value, Origin.JSONLD)] if isinstance(value, str) else []
        return []

    def published(self) -> list[DateCandidate]:
        """Publication dates from <meta> tags, else JSON-LD."""
        metas = self.meta
        # filter() picks the keys present, with a value, in order of trust.
        found = [DateCandidate(metas[key], Origin.META) for key in filter(metas.get, _PUBLISHED_META)]
        return found or self._jsonld_date("datePublished")

    def modified(self) -> list[DateCandidate]:
        """Modification dates from <meta> tags, else JSON-LD."""
        metas = self.meta
        found = [DateCandidate(metas[key], Origin.META) for key in filter(metas.get, _MODIFIED_META)]
        return found or self._jsonld_date("dateModified")

    def time_element(self) -> list[DateCandidate]:
        """The first <time datetime> (or itemprop=datePublished) of the page: a walk of the whole body,
        so only asked for when nothing else dates the page."""
        for node in css.every(self._tree.root, 'time[datetime], [itemprop="datePublished"][datetime]'):
            value = node.attributes.get("datetime")
            if value:
                return [DateCandidate(value, Origin.META)]
        return []


def _load_json(text: str) -> Any:
    """A JSON-LD block's data, or None: too large, malformed or nested past any real document (RecursionError)."""
    text = text.strip()
    if len(text) > MAX_JSONLD_CHARS:
        return None
    if text.startswith("<!--"):
        text = text.removeprefix("<!--").removesuffix("-->")
    try:
        return json.loads(text, strict=False)
    except RecursionError:
        return None
    except ValueError:
        try:
            return json.loads(_TRAILING_COMMA.sub(r"\1", text), strict=False)
        except (ValueError, RecursionError):
            return None


#: A JSON-LD block larger than this is not read (real ones are a few kilobytes; articleBody makes some 100 KB).
MAX_JSONLD_CHARS = 2_000_000


def _types(item: dict[str, Any]) -> set[str]:
    value = item.get("@type", [])
    values = value if isinstance(value, list) else [value]
    return {str(v).rsplit("/", 1)[-1] for v in values}


def _walk_jsonld(data: Any, found: list[dict[str, Any]], depth: int = 0) -> None:
    if depth > 6:  # hostile or absurd nesting
        return
    if isinstance(data, list):
        for item in data:
            _walk_jsonld(item, found, depth + 1)
    elif isinstance(data, dict):
        if _types(data) & ARTICLE_TYPES:
            found.append(data)
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if key in data:
                _walk_jsonld(data[key], found, depth + 1)


def jsonld_scripts(tree: LexborHTMLParser) -> list[str]:
    """The text of every JSON-LD script, looking in <head> first (where nearly every site puts it)."""
    nodes = css.every(tree.head, _JSONLD_QUERY) if tree.head is not None else []
    if not nodes and tree.root is not None:
        nodes = css.every(tree.root, _JSONLD_QUERY)
    return [node.text(deep=True) for node in nodes]


def jsonld_article(scripts: list[str]) -> dict[str, Any]:
    """Return the JSON-LD article object (the one with the longest body or headline), or {}."""
    found: list[dict[str, Any]] = []
    for text in scripts:
        _walk_jsonld(_load_json(text), found)
    if not found:
        return {}
    return max(found, key=lambda item: (len(str(item.get("articleBody", ""))), len(str(item.get("headline", "")))))


def jsonld_text(value: Any) -> str | None:
    """Return a JSON-LD value as one string: a string, the name of an object, names of a list joined."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return jsonld_text(value.get("name") or value.get("url") or value.get("@id"))
    if isinstance(value, list):
        parts = [jsonld_text(v) for v in value]
        return ", ".join(p for p in parts if p) or None
    return None


def jsonld_image(value: Any) -> str | None:
    """Return the first image URL of a JSON-LD image value (string, ImageObject, or list)."""
    if isinstance(value, list):
        return next((url for url in map(jsonld_image, value) if url), None)
    if isinstance(value, dict):
        return jsonld_text(value.get("url") or value.get("contentUrl") or value.get("@id"))
    return value if isinstance(value, str) else None


def jsonld_people(value: Any) -> list[str]:
    """Return the names of persons in a JSON-LD author value, skipping organizations."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and "Organization" not in _types(item) and isinstance(item.get("name"), str):
            names.append(item["name"])
    return [n for n in names if n and not n.startswith(("http://", "https://"))]


def read_metadata(tree: LexborHTMLParser) -> Metadata:
    """Collect the page's head metadata; JSON-LD is read when first asked for."""
    return Metadata(tree)
