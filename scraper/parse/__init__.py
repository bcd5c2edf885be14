"""Parse an HTML page into a RawArticle: the site profile's selectors, then metadata, then a generic body."""

from __future__ import annotations

from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import BodyPart, DateCandidate, DateRole, Origin, RawArticle
from scraper.parse import css
from scraper.parse.blocks import split_blocks
from scraper.parse.body import extract_body
from scraper.parse.fields import EVIDENCE, Evidence, Page, clean_authors, first, title_evidence
from scraper.parse.header import HeaderZone, header_zone
from scraper.parse.metadata import Metadata, jsonld_image, jsonld_text, read_metadata
from scraper.parse.pagedates import script_dates, text_dates, url_dates, visible_dates
from scraper.profiles import Profile, Selector
from scraper.text import clean_text, has_bidi_controls

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
    attribute = selector.attribute
    if attribute:
        return node.attributes.get(attribute) or None
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


def query_profile(document: LexborHTMLParser, profile: Profile) -> Hits | None:
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
    head = document.head or root
    find_all, find_first = engine.find, engine.find_first
    for name, selectors in profile.selectors.items():
        find = find_all if name == "tags" else find_first
        for selector in selectors:
            # A <meta> selector reads the page's <head>, outside the article's root.
            nodes = find(selector.css, head if selector.in_head else root)
            if nodes:
                hits.append((name, selector, nodes))
                break
    return hits


def _read_profile_hits(hits: Hits, profile: Profile, raw: RawArticle) -> None:
    """Fill the fields the profile's selectors found."""
    sources = raw.field_sources
    label_stems = profile.label_stems
    from_profile = _PROFILE  # an enum member read once, not once a field
    for name, selector, nodes in hits:
        target = _TEXT_FIELDS.get(name)
        if target is not None:
            attribute, record_name = target
            value = _value(selector, nodes[0])
            stems = label_stems.get(name)
            setattr(raw, attribute, _strip_labels(value, stems) if stems else (clean_text(value) or None))
            sources[record_name] = from_profile
            # Cleaning here removes bidi controls before normalize could see them: say so now.
            if value and not value.isprintable() and has_bidi_controls(value):
                raw.warnings.append(f"{record_name}: bidi control characters removed")
        elif name == "body":
            raw.body_paragraphs, raw.body_parts = split_blocks(nodes[0])
            sources["body"] = from_profile
        elif name == "tags":
            raw.tags = [clean_text(_value(selector, node)) for node in nodes]
            sources["tags"] = from_profile
        elif text := clean_text(_value(selector, nodes[0])):
            detail = f"profile selector {selector.css}"
            if name == "published":
                raw.published.append(DateCandidate(text, _VISIBLE, detail, _PUBLISHED))
            else:
                raw.modified.append(DateCandidate(text, _VISIBLE, detail, _UPDATED))


# Enum members used on every page, looked up once (an enum class attribute costs ten times a global).
_PROFILE, _VISIBLE = Origin.PROFILE, Origin.VISIBLE
_PUBLISHED, _UPDATED = DateRole.PUBLISHED, DateRole.UPDATED


def _set(raw: RawArticle, attribute: str, value: str | None, source: Origin) -> None:
    """Fill a field the profile did not match, and record where the value came from."""
    if attribute in raw.field_sources or not value or not clean_text(value):
        return
    setattr(raw, attribute, value)
    raw.field_sources[attribute] = source


def _fill_from_metadata(page: Page, raw: RawArticle) -> None:
    """Fill what the profile did not find from metadata; JSON-LD is parsed only if something is missing."""
    meta = page.meta
    tags = meta.meta
    missing = {"title", "lead", "image_url", "tags"} - raw.field_sources.keys()
    jsonld = meta.jsonld if missing else {}
    if "title" in missing and (found := first(title_evidence(page))) is not None:
        _set(raw, "title", found.value, found.origin)
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


def _read_dates(tree: LexborHTMLParser, meta: Metadata, zone: HeaderZone, raw: RawArticle, html: str) -> None:
    """Every publication date the page offers, in order of evidence: metadata, what it shows, its address."""
    shown_by_profile = bool(raw.published)
    # When the profile found the visible date, only <head> is read for metadata: body-wide lookups cost every page.
    machine = meta.published(thorough=not shown_by_profile)
    raw.published[:0] = machine
    if not shown_by_profile and tree.root is not None:
        visible = visible_dates(tree.root, zone.headline, zone.texts, raw.language, thorough=not machine)
        raw.published.extend(visible)
    if not shown_by_profile:
        # Below a visible date the profile found, the address would never be chosen.
        raw.published.extend(url_dates([meta.canonical, meta.meta.get("og:url")]))
    if not raw.published:
        raw.published.extend(script_dates(html))
    if not raw.published and tree.root is not None:
        raw.published.extend(text_dates(tree.root, zone.headline, raw.language))
    raw.modified[:0] = meta.modified(thorough=not shown_by_profile)


def _read_fields(page: Page, raw: RawArticle, wanted: tuple[str, ...]) -> None:
    """Fill the `wanted` fields the profile did not find from the generic rules' first evidence."""
    sources = raw.field_sources
    for name in wanted:
        if name in sources or name == "title":
            continue
        evidence = EVIDENCE[name]
        found = first(evidence(page))
        if found is not None and found.value:
            setattr(raw, _ATTRIBUTES.get(name, name), found.value)
            sources[name] = found.origin
    if "author" in sources and sources["author"] is Origin.PROFILE:
        raw.author = clean_authors(raw.author, page.meta)


#: Record fields whose RawArticle attribute has another name.
_ATTRIBUTES = {"views": "views_raw"}
_HEADER_FIELDS = ("title", "author", "views", "source", "photo_credit")
#: On a page laid out as its profile expects, the fields the generic rules still look for when the profile's
#: selectors miss: a reader sees these on every article, while a source or a photo credit is often absent.
_ALWAYS_SHOWN = ("title", "author", "views")
_AS_SETS = {fields: frozenset(fields) for fields in (_HEADER_FIELDS, _ALWAYS_SHOWN)}


def parse_html(html: str, profile: Profile) -> RawArticle:
    """Read every field the page offers; nothing is normalized yet."""
    tree = LexborHTMLParser(html)
    raw = RawArticle(profile=profile.name)
    hits = query_profile(tree, profile) if profile.selectors else None
    # After the profile's exclusions, which may remove scripts; and right after the profile's queries,
    # while the selector engine is still warm.
    meta = read_metadata(tree)
    if hits is not None:
        _read_profile_hits(hits, profile, raw)
    # The header line is read by generic rules only for what the profile did not find.
    sources = raw.field_sources
    wanted = _ALWAYS_SHOWN if hits is not None else _HEADER_FIELDS
    needs_header = not raw.published or not sources.keys() >= _AS_SETS[wanted]
    hints = [raw.title, meta.meta.get("og:title"), meta.title] if needs_header else []
    zone = header_zone(tree.root, hints) if needs_header else HeaderZone(None, [])
    page = Page(tree, meta, zone, meta.language)
    _fill_from_metadata(page, raw)
    _read_dates(tree, meta, zone, raw, html)
    _read_fields(page, raw, wanted)
    if "body" not in raw.field_sources or not raw.body_paragraphs:
        body = extract_body(tree, jsonld_body=meta.article_body)
        if body.paragraphs:
            raw.body_paragraphs = list(body.paragraphs)
            raw.body_parts = [BodyPart("", body.html)]
            raw.field_sources["body"] = Origin(body.source)
    return raw


#: A value shown in a profile report is cut to this many characters.
_SHOWN = 120


def profile_report(html: str, profile: Profile) -> dict[str, Any]:
    """Which of the profile's root and field selectors match the page, in the order they are tried."""
    if not profile.selectors and not profile.root:
        return {"name": profile.name, "root": [], "selectors": {}, "unmatched": []}
    tree = LexborHTMLParser(html)
    query_profile(tree, profile)  # its exclusions, as in the parse
    root_rows = []
    root = None
    for query in profile.root:
        node = css.first(tree.root, query)
        root_rows.append({"selector": query, "matched": node is not None})
        if node is not None and root is None:
            root = node
    if root is None and not profile.root:
        root = tree.root
    head = tree.head if tree.head is not None else tree.root
    fields: dict[str, list[dict[str, Any]]] = {}
    unmatched: list[str] = []
    for name, selectors in profile.selectors.items():
        rows = []
        used = False
        for selector in selectors:
            scope = head if selector.in_head else root
            node = css.first(scope, selector.css) if scope is not None else None
            row: dict[str, Any] = {"selector": selector.css + (f"@{selector.attribute}" if selector.attribute else "")}
            if node is None:
                row["matched"] = False
                unmatched.append(f"{name}: {row['selector']}")
            else:
                value = node.attributes.get(selector.attribute) if selector.attribute else node.text(deep=True)
                row.update(matched=True, used=not used, value=" ".join((value or "").split())[:_SHOWN])
                used = True
            rows.append(row)
        fields[name] = rows
    if profile.root and root is None:
        unmatched.insert(0, "root: " + ", ".join(profile.root) + " (no selector of the profile was tried)")
    return {"name": profile.name, "root": root_rows, "selectors": fields, "unmatched": unmatched}


def field_evidence(html: str, profile: Profile, profile_title: str | None) -> dict[str, list[Evidence]]:
    """What the generic rules offer for each field of the page, all of it, in order (for --explain).

    The page is read as parse_html reads it: after the profile's exclusions, with the same headline hints.
    """
    tree = LexborHTMLParser(html)
    query_profile(tree, profile)
    meta = read_metadata(tree)
    zone = header_zone(tree.root, [profile_title, meta.meta.get("og:title"), meta.title])
    page = Page(tree, meta, zone, meta.language)
    return {name: list(evidence(page)) for name, evidence in EVIDENCE.items()}
