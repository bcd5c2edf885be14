"""Parse an HTML page into a RawArticle: the site profile's selectors, then metadata, then a generic body."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import BodyPart, DateCandidate, Origin, RawArticle
from scraper.parse import css
from scraper.parse.blocks import split_blocks
from scraper.parse.body import extract_body
from scraper.parse.metadata import Metadata, jsonld_image, jsonld_people, jsonld_text, read_metadata
from scraper.profiles import Profile, Selector
from scraper.text import clean_text, has_bidi_controls

#: Where a byline usually sits on sites without a profile.
BYLINE_SELECTORS = (
    '[itemprop="author"] [itemprop="name"]',
    '[rel="author"]',
    '[itemprop="author"]',
    ".byline__name",
    ".author-name",
    ".article-author",
    ".byline",
)
_BY_PREFIX = re.compile(r"^(by|автор|авторы|автор материала|от)\s*:?\s+", re.IGNORECASE)
#: A site's name appended to <title>: "Headline - Site", "Headline | Site".
_TITLE_SUFFIX = re.compile(r"\s+[|\-–—•:]\s+[^|\-–—•:]{2,60}$")


#: Profile fields read as one string: the RawArticle attribute each fills, and the record field it becomes.
_TEXT_FIELDS = {
    "title": ("title", "title"),
    "lead": ("lead", "lead"),
    "author": ("author", "author"),
    "views": ("views_raw", "views"),
    "source": ("source", "source"),
    "photo_credit": ("photo_credit", "photo_credit"),
    "image": ("image_url", "image_url"),
}


def _value(selector: Selector, node: LexborNode) -> str | None:
    if selector.attribute:
        return node.attributes.get(selector.attribute) or None
    return node.text(deep=True, separator=" ")


def _strip_labels(value: str | None, stems: tuple[tuple[str, str], ...]) -> str | None:
    """Remove a leading label ("АВТОР", "Фото:") from a value; a bare label means no value.

    `stems` are the labels without a colon, each with its case-folded form (Profile.label_stems).
    """
    if value is None:
        return None
    text = clean_text(value)
    if stems:
        folded = text.casefold()
        for stem, folded_stem in stems:  # longest first
            if folded.startswith(folded_stem):
                text = text[len(stem) :].lstrip(" :\u2014-").strip()
                break
    return text or None


def _profile_root(document: LexborHTMLParser, profile: Profile) -> LexborNode | None:
    for query in profile.root:
        node = css.first(document.root, query)
        if node is not None:
            return node
    return document.root if not profile.root else None


#: What the profile's selectors matched: field name, the selector that matched, and its elements
#: (the first only, except for tags).
Hits = list[tuple[str, Selector, list[LexborNode]]]


def _query_profile(document: LexborHTMLParser, profile: Profile) -> Hits | None:
    """Remove the profile's exclusions, then find every field's elements; None if the page has no root.

    The queries run back to back, before any reading, while the selector engine is warm in the CPU cache.
    """
    root = _profile_root(document, profile)
    if root is None:
        return None  # the page is not laid out as the profile expects; the generic pass fills in
    engine = css.engine()
    if profile.exclude:
        for node in engine.find(profile.exclude_query, root):
            node.decompose()
    hits: Hits = []
    for name, selectors in profile.selectors.items():
        find = engine.find if name == "tags" else engine.find_first
        for selector in selectors:
            nodes = find(selector.css, root)
            if nodes:
                hits.append((name, selector, nodes))
                break
    return hits


def _read_profile_hits(hits: Hits, profile: Profile, raw: RawArticle) -> None:
    """Fill the fields the profile's selectors found."""
    sources = raw.field_sources
    label_stems = profile.label_stems
    for name, selector, nodes in hits:
        target = _TEXT_FIELDS.get(name)
        if target is not None:
            attribute, record_name = target
            value = _value(selector, nodes[0])
            stems = label_stems.get(name)
            setattr(raw, attribute, _strip_labels(value, stems) if stems else (clean_text(value) or None))
            sources[record_name] = Origin.PROFILE
            # Cleaning here removes bidi controls before normalize could see them: say so now.
            if value and not value.isprintable() and has_bidi_controls(value):
                raw.warnings.append(f"{record_name}: bidi control characters removed")
        elif name == "body":
            raw.body_paragraphs, raw.body_parts = split_blocks(nodes[0])
            sources["body"] = Origin.PROFILE
        elif name == "tags":
            raw.tags = [clean_text(_value(selector, node)) for node in nodes]
            sources["tags"] = Origin.PROFILE
        elif text := clean_text(_value(selector, nodes[0])):
            dates = raw.published if name == "published" else raw.modified
            dates.append(DateCandidate(text, Origin.VISIBLE))


def _set(raw: RawArticle, attribute: str, value: str | None, source: Origin) -> None:
    """Fill a field the profile did not match, and record where the value came from."""
    if attribute in raw.field_sources or not value or not clean_text(value):
        return
    setattr(raw, attribute, value)
    raw.field_sources[attribute] = source


def _title_from_document(tree: LexborHTMLParser) -> tuple[str | None, Origin]:
    heading = css.first(tree.root, "h1")
    if heading is not None and clean_text(heading.text(deep=True)):
        return heading.text(deep=True), Origin.DOM
    title = css.first(tree.root, "title")
    if title is not None:
        return _TITLE_SUFFIX.sub("", clean_text(title.text())), Origin.DOM
    return None, Origin.DOM


def _byline(tree: LexborHTMLParser) -> str | None:
    for query in BYLINE_SELECTORS:
        node = css.first(tree.root, query)
        if node is not None:
            text = _BY_PREFIX.sub("", clean_text(node.text(deep=True, separator=" ")))
            if 2 <= len(text) <= 120:
                return text
    return None


def _fill_from_metadata(tree: LexborHTMLParser, meta: Metadata, raw: RawArticle) -> None:
    """Fill what the profile did not find from metadata; JSON-LD is parsed only if something is missing."""
    tags = meta.meta
    missing = {"title", "lead", "author", "image_url", "tags"} - raw.field_sources.keys()
    jsonld = meta.jsonld if missing else {}
    if "title" in missing:
        _set(raw, "title", tags.get("og:title"), Origin.META)
        _set(raw, "title", jsonld_text(jsonld.get("headline")), Origin.JSONLD)
        if "title" not in raw.field_sources:
            _set(raw, "title", *_title_from_document(tree))
    if "lead" in missing:
        _set(raw, "lead", tags.get("og:description"), Origin.META)
        _set(raw, "lead", tags.get("description"), Origin.META)
        _set(raw, "lead", jsonld_text(jsonld.get("description")), Origin.JSONLD)
    if "author" in missing:
        _set(raw, "author", ", ".join(jsonld_people(jsonld.get("author"))), Origin.JSONLD)
        for key in ("author", "article:author", "sailthru.author", "parsely-author"):
            value = tags.get(key, "")
            if not value.startswith(("http://", "https://")):
                _set(raw, "author", value, Origin.META)
        if "author" not in raw.field_sources:
            _set(raw, "author", _byline(tree), Origin.DOM)
    if "image_url" in missing:
        _set(raw, "image_url", tags.get("og:image"), Origin.META)
        _set(raw, "image_url", tags.get("twitter:image"), Origin.META)
        _set(raw, "image_url", jsonld_image(jsonld.get("image")), Origin.JSONLD)
    if "tags" in missing:
        keywords = jsonld.get("keywords")
        if meta.tags:
            raw.tags, raw.field_sources["tags"] = meta.tags, Origin.META
        elif isinstance(keywords, list):
            raw.tags, raw.field_sources["tags"] = [str(k) for k in keywords], Origin.JSONLD
        elif isinstance(keywords, str) and keywords.strip():
            raw.tags, raw.field_sources["tags"] = keywords.split(","), Origin.JSONLD
        elif tags.get("news_keywords"):
            raw.tags, raw.field_sources["tags"] = tags["news_keywords"].split(","), Origin.META
    raw.published[:0] = meta.published()
    if not raw.published:
        raw.published = meta.time_element()
    raw.modified[:0] = meta.modified()
    raw.language = meta.language or (jsonld_text(jsonld.get("inLanguage")) if jsonld else None)
    raw.canonical_href = meta.canonical


def parse_html(html: str, profile: Profile) -> RawArticle:
    """Read every field the page offers; nothing is normalized yet."""
    tree = LexborHTMLParser(html)
    raw = RawArticle(profile=profile.name)
    hits = _query_profile(tree, profile) if profile.selectors else None
    # After the profile's exclusions, which may remove scripts; and right after the profile's queries,
    # while the selector engine is still warm.
    meta = read_metadata(tree)
    if hits is not None:
        _read_profile_hits(hits, profile, raw)
    _fill_from_metadata(tree, meta, raw)
    if "body" not in raw.field_sources or not raw.body_paragraphs:
        jsonld_body = meta.jsonld.get("articleBody")
        body = extract_body(tree, jsonld_body=jsonld_body if isinstance(jsonld_body, str) else None)
        if body.paragraphs:
            raw.body_paragraphs = list(body.paragraphs)
            raw.body_parts = [BodyPart("", body.html)]
            raw.field_sources["body"] = Origin(body.source)
    return raw
