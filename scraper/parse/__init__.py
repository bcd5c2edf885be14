"""Parse an HTML page into a RawArticle: the site profile's selectors, then metadata, then a generic body."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import BodyPart, DateCandidate, DateRole, Origin, RawArticle
from scraper.parse import css
from scraper.parse.authors import AUTHOR_META, AUTHOR_SEPARATOR, NameFilter, byline_authors, jsonld_authors
from scraper.parse.blocks import split_blocks
from scraper.parse.body import extract_body
from scraper.parse.header import HeaderZone, header_photo_credit, header_source, header_zone
from scraper.parse.metadata import Metadata, jsonld_image, jsonld_text, read_metadata
from scraper.parse.pagedates import recognize, script_dates, text_dates, url_dates, visible_dates
from scraper.parse.views import header_views, microdata_views, page_views, structured_views
from scraper.profiles import Profile, Selector
from scraper.text import clean_text, has_bidi_controls

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
            detail = f"profile selector {selector.css}"
            if name == "published":
                raw.published.append(DateCandidate(text, Origin.VISIBLE, detail, DateRole.PUBLISHED))
            else:
                raw.modified.append(DateCandidate(text, Origin.VISIBLE, detail, DateRole.UPDATED))


def _set(raw: RawArticle, attribute: str, value: str | None, source: Origin) -> None:
    """Fill a field the profile did not match, and record where the value came from."""
    if attribute in raw.field_sources or not value or not clean_text(value):
        return
    setattr(raw, attribute, value)
    raw.field_sources[attribute] = source


def _without_site_name(title: str | None, site_names: list[str | None]) -> str | None:
    """A title without the site's name appended ("Headline - WELT", "Headline | Börsen-Zeitung")."""
    if not title:
        return None
    text = clean_text(title)
    for name in filter(None, site_names):
        cleaned = clean_text(name)
        if len(cleaned) >= 2 and text.endswith(cleaned) and len(text) > len(cleaned) + 8:
            stripped = text[: -len(cleaned)].rstrip()
            if stripped and stripped[-1] in "|-–—•:·｜*/":
                return stripped[:-1].rstrip()
    return text


def _title(tree: LexborHTMLParser, meta: Metadata, zone: HeaderZone) -> tuple[str | None, Origin]:
    """The headline as the page shows it, else what its metadata calls its title."""
    if zone.headline is not None and zone.confirmed:
        text = clean_text(zone.headline.text(deep=True, separator=" "))
        if text:
            return text, Origin.DOM
    names = _site_names(meta)
    headline = jsonld_text(meta.jsonld.get("headline")) if meta.jsonld_scripts else None
    if headline and clean_text(headline):
        return clean_text(headline), Origin.JSONLD
    og_title = _without_site_name(meta.meta.get("og:title"), names)
    if og_title:
        return og_title, Origin.META
    if zone.headline is not None and (text := clean_text(zone.headline.text(deep=True, separator=" "))):
        return text, Origin.DOM
    if meta.title:
        return _without_site_name(meta.title, names) or _TITLE_SUFFIX.sub("", clean_text(meta.title)), Origin.DOM
    return None, Origin.DOM


def _fill_from_metadata(tree: LexborHTMLParser, meta: Metadata, raw: RawArticle, zone: HeaderZone) -> None:
    """Fill what the profile did not find from metadata; JSON-LD is parsed only if something is missing."""
    tags = meta.meta
    missing = {"title", "lead", "image_url", "tags"} - raw.field_sources.keys()
    jsonld = meta.jsonld if missing else {}
    if "title" in missing:
        _set(raw, "title", *_title(tree, meta, zone))
    if "lead" in missing:
        _set(raw, "lead", tags.get("og:description"), Origin.META)
        _set(raw, "lead", tags.get("description"), Origin.META)
        _set(raw, "lead", jsonld_text(jsonld.get("description")), Origin.JSONLD)
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
    raw.language = meta.language or (jsonld_text(jsonld.get("inLanguage")) if jsonld else None)
    raw.canonical_href = meta.canonical


def _site_names(meta: Metadata) -> list[str | None]:
    """The names the site goes by, which are never an author (unless a byline says more)."""
    publisher = meta.jsonld.get("publisher") if meta.jsonld_scripts else None
    return [
        meta.meta.get("og:site_name"),
        meta.meta.get("application-name"),
        meta.meta.get("twitter:site", "").lstrip("@") or None,
        jsonld_text(publisher) if publisher else None,
    ]


def _read_authors(tree: LexborHTMLParser, meta: Metadata, zone: HeaderZone, raw: RawArticle) -> None:
    sources = raw.field_sources
    if "author" in sources:
        # A profile's byline goes through the same sieve: several names, never "Редакция".
        if raw.author:
            raw.author = AUTHOR_SEPARATOR.join(_unique(NameFilter(_site_names(meta)).names(raw.author))) or None
        return
    names = NameFilter(_site_names(meta))
    found: list[str] = []
    origin = Origin.JSONLD
    author = meta.jsonld_author()
    if author:
        found = jsonld_authors(author, names)
        # <meta name=author> sometimes lists more (a desk or agency beside the reporter): the fuller list wins.
        declared = names.names(meta.meta.get("author"), declared=True)
        if found and len(declared) > len(found) and {n.casefold() for n in found} <= {n.casefold() for n in declared}:
            found, origin = declared, Origin.META
    if not found:
        origin = Origin.META
        for key in AUTHOR_META:
            value = meta.meta.get(key)
            if value and not value.startswith(("http://", "https://")):
                found = names.names(value, declared=key == "author")
                if found:
                    break
    if not found:
        found, where, _labeled = byline_authors(tree.root, zone.headline, zone.texts, names)
        origin = Origin.HEADER if where.startswith("an author label") else Origin.DOM
    if found:
        raw.author = AUTHOR_SEPARATOR.join(_unique(found))
        sources["author"] = origin


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for name in names:
        key = name.casefold()
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def _read_dates(tree: LexborHTMLParser, meta: Metadata, zone: HeaderZone, raw: RawArticle, html: str) -> None:
    """Every publication date the page offers, in order of evidence: metadata, what it shows, its address."""
    machine = meta.published()
    shown_by_profile = bool(raw.published)
    raw.published[:0] = machine
    if not shown_by_profile and tree.root is not None:
        visible = visible_dates(tree.root, zone.headline, zone.texts, raw.language, thorough=not machine)
        raw.published.extend(visible)
    raw.published.extend(url_dates([meta.canonical, meta.meta.get("og:url")]))
    if not raw.published:
        raw.published.extend(script_dates(html))
    if not raw.published and tree.root is not None:
        raw.published.extend(text_dates(tree.root, zone.headline, raw.language))
    raw.modified[:0] = meta.modified()


def _read_views(tree: LexborHTMLParser, meta: Metadata, zone: HeaderZone, raw: RawArticle) -> None:
    if "views" in raw.field_sources:
        return
    language = raw.language
    found = (
        (structured_views(meta.jsonld_objects) if meta.jsonld_scripts else None)
        or header_views(zone.texts, lambda text: recognize(text, language) is not None)
        or microdata_views(tree.root)
        or page_views(tree.root, zone.headline)
    )
    if found is not None:
        raw.views_raw = found.raw
        raw.field_sources["views"] = found.origin


def _read_header_fields(meta: Metadata, zone: HeaderZone, raw: RawArticle) -> None:
    sources = raw.field_sources
    if "source" not in sources and (value := header_source(zone.texts, meta.canonical or meta.meta.get("og:url"))):
        raw.source, sources["source"] = value, Origin.HEADER
    if "photo_credit" not in sources and (value := header_photo_credit(zone.texts)):
        raw.photo_credit, sources["photo_credit"] = value, Origin.HEADER


_HEADER_FIELDS = ("title", "author", "views", "source", "photo_credit")


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
    # The header line is read by generic rules only for what the profile did not find.
    sources = raw.field_sources
    needs_header = not raw.published or any(name not in sources for name in _HEADER_FIELDS)
    hints = [raw.title, meta.meta.get("og:title"), meta.title] if needs_header else []
    zone = header_zone(tree.root, hints) if needs_header else HeaderZone(None, [])
    _fill_from_metadata(tree, meta, raw, zone)
    _read_dates(tree, meta, zone, raw, html)
    _read_views(tree, meta, zone, raw)
    _read_authors(tree, meta, zone, raw)
    _read_header_fields(meta, zone, raw)
    if "body" not in raw.field_sources or not raw.body_paragraphs:
        jsonld_body = meta.jsonld.get("articleBody")
        body = extract_body(tree, jsonld_body=jsonld_body if isinstance(jsonld_body, str) else None)
        if body.paragraphs:
            raw.body_paragraphs = list(body.paragraphs)
            raw.body_parts = [BodyPart("", body.html)]
            raw.field_sources["body"] = Origin(body.source)
    return raw
