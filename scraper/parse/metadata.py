"""Machine-readable metadata of any page: JSON-LD, OpenGraph, article:* and other <meta>, <time>, itemprop."""

from __future__ import annotations

import json
import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import DateCandidate, DateRole, Origin
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
#: <meta> names, properties and itemprops that carry a publication date, in order of trust.
PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "article:published",
    "og:published_time",
    "datepublished",
    "og:pubdate",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "published_date",
    "published-date",
    "published_time",
    "publication_date",
    "article.published",
    "article_date_original",
    "article:post_date",
    "article.created",
    "parsely-pub-date",
    "sailthru.date",
    "analyticsattributes.articledate",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "dc:date",
    "citation_publication_date",
    "citation_date",
    "datecreated",
    "date",
    "displaydate",
    "cxenseparse:recs:publishtime",
    "rnews:datepublished",
    "shareaholic:article_published_time",
    "twt-published-at",
    "mediator_published_time",
    "vr:published_time",
    "bt:pubdate",
    "ptime",
    "pdate",
)
#: The same for the last modification.
MODIFIED_META = (
    "article:modified_time",
    "og:article:modified_time",
    "article:modified",
    "og:updated_time",
    "og:modified_time",
    "datemodified",
    "modified_time",
    "dc.date.modified",
    "dcterms.modified",
    "lastmodified",
    "last-modified",
    "article.updated",
    "utime",
)
_PUBLISHED_RANK = {key: rank for rank, key in enumerate(PUBLISHED_META)}
_MODIFIED_RANK = {key: rank for rank, key in enumerate(MODIFIED_META)}
#: JSON-LD keys of a publication date, in order of trust, and of a modification date.
_JSONLD_PUBLISHED = ("datePublished", "dateCreated", "uploadDate")
_JSONLD_MODIFIED = ("dateModified",)
#: schema.org types that describe the page itself rather than a thing it is about.
_PAGE_TYPES = frozenset({"WebPage", "ItemPage", "CollectionPage", "MediaObject", "VideoObject", "AudioObject"})
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


#: Everything read from <head>, in one walk: the <meta> tags, the canonical link and the JSON-LD scripts.
_HEAD_QUERY = 'meta[content], link[rel="canonical"], script[type="application/ld+json"], title'
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
        #: The <title> text as written.
        self.title: str | None = None
        canonical_link: LexborNode | None = None
        meta, tags = self.meta, self.tags
        for node in css.every(tree.head or tree.root, _HEAD_QUERY):
            # The attributes tell the four kinds apart (the query asks for content, rel or type), and reading
            # them once costs less than asking each node its tag.
            attrs = node.attributes
            content = attrs.get("content")
            if content is not None:  # <meta content>
                key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
                if key:
                    key = key.strip().lower()
                    if key == "article:tag":
                        tags.append(content)
                    if key not in meta:
                        meta[key] = content.strip()
            elif "rel" in attrs:  # <link rel="canonical">
                if canonical_link is None:
                    canonical_link = node
            elif "type" in attrs:  # <script type="application/ld+json">
                self._script_nodes.append(node)
            elif self.title is None:  # <title>
                self.title = node.text(deep=True)
        href = canonical_link.attributes.get("href") if canonical_link is not None else None
        #: The page's canonical URL as written (link rel=canonical, else og:url).
        self.canonical = href or meta.get("og:url")
        root = tree.root
        #: The page's language as declared (<html lang>, else og:locale).
        self.language = (root.attributes.get("lang") if root is not None else None) or meta.get("og:locale")
        self._scripts: list[str] | None = None
        self._all_scripts: list[str] | None = None
        self._head_scripts: list[str] | None = None
        self._head_dates: dict[str, list[str]] | None = None
        self._objects: list[dict[str, Any]] | None = None
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

    @property
    def article_body(self) -> str | None:
        """The JSON-LD article object's articleBody, if it is a string.

        Most pages have none: JSON that never names the key is not parsed for it.
        """
        if self._jsonld is None and not any('"articleBody"' in text for text in self.jsonld_scripts):
            return None
        body = self.jsonld.get("articleBody")
        return body if isinstance(body, str) else None

    @property
    def all_jsonld_scripts(self) -> list[str]:
        """The text of every JSON-LD script of the document, <head> and <body>."""
        if self._all_scripts is None:
            nodes = css.every(self._tree.root, _JSONLD_QUERY) if self._tree.root is not None else []
            self._all_scripts = [node.text(deep=True) for node in nodes]
        return self._all_scripts

    @property
    def jsonld_objects(self) -> list[dict[str, Any]]:
        """Every JSON-LD object that may describe the page (the article, the page, its video), in document order."""
        if self._objects is None:
            self._objects = []
            for text in self.jsonld_scripts:
                _walk(_load_json(text), self._objects)
        return self._objects

    def _jsonld_dates(
        self, keys: tuple[str, ...], role: DateRole = DateRole.PUBLISHED, *, everywhere: bool = False
    ) -> list[DateCandidate]:
        """Dates under `keys` in the JSON-LD: the article's first, then the page's, then any other object's.

        Only <head>'s JSON-LD, unless `everywhere` (a walk of the whole document).
        """
        if everywhere:
            texts = self.all_jsonld_scripts
            dates = _date_values(texts)
        else:
            if self._head_dates is None:
                # <head>'s scripts are what jsonld_scripts reads when <head> has any: read once for both.
                self._head_scripts = self.jsonld_scripts if self._script_nodes else []
                self._head_dates = _date_values(self._head_scripts)
            texts, dates = self._head_scripts or [], self._head_dates
        values = set(dates.get(keys[0], ()))
        # One date under the first key and none under the others: no need to parse the JSON (the common case,
        # and the only way to read a block that is not quite JSON).
        if len(values) == 1 and not any(key in text for text in texts for key in keys[1:]):
            return [DateCandidate(values.pop(), Origin.JSONLD, f"JSON-LD {keys[0]}", role)]
        # A substring test before parsing: a nested value ("datePublished": {"@value": …}) needs the JSON.
        scripts = [text for text in texts if any(key in text for key in keys)]
        if not scripts:
            return []
        objects: list[dict[str, Any]] = []
        for text in scripts:
            _walk(_load_json(text), objects)
        objects.sort(key=_object_rank)  # stable: document order within a rank
        found: list[DateCandidate] = []
        seen: set[str] = set()
        for key in keys:
            for item in objects:
                value = item.get(key)
                if isinstance(value, str) and value.strip() and value not in seen:
                    seen.add(value)
                    kind = "/".join(sorted(_types(item))) or "object"
                    found.append(DateCandidate(value, Origin.JSONLD, f"JSON-LD {kind}.{key}", role))
        return found

    def jsonld_author(self) -> Any:
        """The article's JSON-LD author value, with references ({"@id": ...}) to objects elsewhere resolved."""
        scripts = [text for text in self.jsonld_scripts if '"author"' in text]
        if not scripts:
            scripts = [text for text in self.all_jsonld_scripts if '"author"' in text]
        if not scripts:
            return None
        objects: list[dict[str, Any]] = []
        for text in scripts if scripts == self.all_jsonld_scripts else self.all_jsonld_scripts:
            _walk(_load_json(text), objects)
        by_id = {item["@id"]: item for item in objects if isinstance(item.get("@id"), str) and len(item) > 1}
        described = sorted((item for item in objects if "author" in item), key=_object_rank)
        if not described:
            return None
        value = described[0]["author"]
        items = value if isinstance(value, list) else [value]
        resolved = []
        for item in items:
            if isinstance(item, dict) and "name" not in item and isinstance(item.get("@id"), str):
                item = by_id.get(item["@id"], item)
            resolved.append(item)
        return resolved

    def _meta_dates(self, keys: dict[str, int], role: DateRole = DateRole.PUBLISHED) -> list[DateCandidate]:
        metas = self.meta
        # A set intersection finds the page's few date keys among its dozens of <meta>; then the order of trust.
        present = sorted(metas.keys() & keys.keys(), key=keys.__getitem__)
        return [DateCandidate(metas[key], Origin.META, f"<meta {key}>", role) for key in present if metas[key]]

    def _microdata_dates(self, prop: str, role: DateRole = DateRole.PUBLISHED) -> list[DateCandidate]:
        """itemprop dates outside <head> (microdata in the article's markup)."""
        found = []
        for node in css.every(self._tree.root, f'[itemprop="{prop}"]'):
            attrs = node.attributes
            value = attrs.get("datetime") or attrs.get("content") or node.text(deep=True, separator=" ")
            if value and value.strip():
                found.append(DateCandidate(value.strip(), Origin.META, f"itemprop={prop} in the page", role))
        return found[:1]

    def published(self, *, thorough: bool = True) -> list[DateCandidate]:
        """Publication dates from JSON-LD, then <meta> tags, else microdata in the page; in order of trust.

        Without `thorough` (a profile found the visible date) only <head> is read: a walk of the whole
        document for JSON-LD in <body> would cost every page of the site.
        """
        jsonld = self._jsonld_dates(_JSONLD_PUBLISHED)
        if not jsonld and thorough:
            jsonld = self._jsonld_dates(_JSONLD_PUBLISHED, everywhere=True)
        found = jsonld + self._meta_dates(_PUBLISHED_RANK)
        if found or not thorough:
            return found
        return self._microdata_dates("datePublished")

    def modified(self, *, thorough: bool = True) -> list[DateCandidate]:
        """Modification dates from JSON-LD, then <meta> tags, else microdata in the page (with `thorough`)."""
        updated = DateRole.UPDATED
        jsonld = self._jsonld_dates(_JSONLD_MODIFIED, updated)
        if not jsonld and thorough:
            jsonld = self._jsonld_dates(_JSONLD_MODIFIED, updated, everywhere=True)
        found = jsonld + self._meta_dates(_MODIFIED_RANK, updated)
        if found or not thorough:
            return found
        return self._microdata_dates("dateModified", updated)


_JSONLD_DATE_VALUE = re.compile(r'"(' + "|".join((*_JSONLD_PUBLISHED, *_JSONLD_MODIFIED)) + r')"\s*:\s*"([^"]+)"')


def _date_values(texts: list[str]) -> dict[str, list[str]]:
    """The string values of every JSON-LD date key in `texts`: one pattern, one pass, all keys at once."""
    found: dict[str, list[str]] = {}
    for text in texts:
        for key, value in _JSONLD_DATE_VALUE.findall(text):
            found.setdefault(key, []).append(value)
    return found


def _object_rank(item: dict[str, Any]) -> int:
    types = _types(item)
    if types & ARTICLE_TYPES:
        return 0
    return 1 if types & _PAGE_TYPES else 2


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


#: Where JSON-LD nests the objects that describe the page itself (not lists of other items, such as related articles).
_NESTED = ("@graph", "mainEntity", "mainEntityOfPage", "video", "subjectOf")
#: Where the article object may be nested.
_ARTICLE_NESTED = ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement")


def _walk(
    data: Any, found: list[dict[str, Any]], keep: Any = None, nested: tuple[str, ...] = _NESTED, depth: int = 0
) -> None:
    """Collect the JSON-LD objects of `data` that `keep` accepts (all by default), looking into `nested` keys."""
    if depth > 6:  # hostile or absurd nesting
        return
    if isinstance(data, list):
        for item in data:
            _walk(item, found, keep, nested, depth + 1)
    elif isinstance(data, dict):
        if keep is None or keep(data):
            found.append(data)
        for key in nested:
            if key in data:
                _walk(data[key], found, keep, nested, depth + 1)


def _is_article(item: dict[str, Any]) -> bool:
    return bool(_types(item) & ARTICLE_TYPES)


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
        _walk(_load_json(text), found, _is_article, _ARTICLE_NESTED)
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
