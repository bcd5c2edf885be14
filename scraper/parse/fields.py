"""The fields a reader sees, by generic rules: title, authors, views, source, photo credit, each as evidence in order.

Each `*_evidence` function yields what the page offers for one field, best evidence first; the parser takes
the first that has a value (an empty value means the page says there is none), and `--explain` shows them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from scraper.models import Origin
from scraper.parse import css
from scraper.parse.authors import AUTHOR_META, AUTHOR_SEPARATOR, BYLINE_SELECTORS, NameFilter, jsonld_authors
from scraper.parse.header import HeaderZone, header_photo_credit, header_source, labeled_value, labels
from scraper.parse.metadata import Metadata, jsonld_text
from scraper.parse.pagedates import following_texts, is_elsewhere, recognize
from scraper.parse.views import header_views, microdata_views, page_views, structured_views
from scraper.text import clean_text

#: A site's name appended to <title>: "Headline - Site", "Headline | Site".
_TITLE_SUFFIX = re.compile(r"\s+[|\-–—•:]\s+[^|\-–—•:]{2,60}$")
#: Text pieces after the headline looked at for an author label, and the longest labeled text.
_ARTICLE_PIECES = 400
_MAX_LABELED = 80


class Evidence(NamedTuple):
    """One answer the page gives for a field: the value (None: nothing here; "": the page says there is none)."""

    value: str | None
    origin: Origin
    detail: str
    #: What was left out on the way, and why (an author that is the site's own name).
    note: str = ""


class Page(NamedTuple):
    """What the field rules read: the parsed page, its metadata and its header zone."""

    tree: LexborHTMLParser
    meta: Metadata
    zone: HeaderZone
    language: str | None


def first(evidence: Iterable[Evidence]) -> Evidence | None:
    """The first evidence that has a value (or says there is none), or None."""
    return next((item for item in evidence if item.value is not None), None)


def site_names(meta: Metadata, *, jsonld: bool = True) -> list[str | None]:
    """The names the site goes by (never an author unless the page declares it one); `jsonld` adds its publisher's."""
    publisher = meta.jsonld.get("publisher") if jsonld and meta.jsonld_scripts else None
    address = meta.canonical or meta.meta.get("og:url") or ""
    host = urlsplit(address).hostname or "" if address.startswith(("http://", "https://")) else ""
    return [
        meta.meta.get("og:site_name"),
        meta.meta.get("application-name"),
        meta.meta.get("twitter:site", "").lstrip("@") or None,
        jsonld_text(publisher) if publisher else None,
        host.removeprefix("www.") or None,
    ]


def without_site_name(title: str | None, names: list[str | None]) -> str | None:
    """A title without the site's name appended ("Headline - WELT", "Headline | Börsen-Zeitung")."""
    if not title:
        return None
    text = clean_text(title)
    for name in filter(None, names):
        cleaned = clean_text(name)
        if len(cleaned) >= 2 and text.endswith(cleaned) and len(text) > len(cleaned) + 8:
            stripped = text[: -len(cleaned)].rstrip()
            if stripped and stripped[-1] in "|-–—•:·｜*/":
                return stripped[:-1].rstrip()
    return text


def title_evidence(page: Page) -> Iterator[Evidence]:
    """The headline as the page shows it, else what its metadata calls its title."""
    headline = page.zone.headline
    shown = clean_text(headline.text(deep=True, separator=" ")) if headline is not None else ""
    if page.zone.confirmed:
        yield Evidence(shown or None, Origin.DOM, "the <h1> the page's title repeats")
    meta = page.meta
    names = site_names(meta)
    jsonld = jsonld_text(meta.jsonld.get("headline")) if meta.jsonld_scripts else None
    yield Evidence(clean_text(jsonld) if jsonld else None, Origin.JSONLD, "JSON-LD headline")
    og_title = without_site_name(meta.meta.get("og:title"), names)
    yield Evidence(og_title, Origin.META, "<meta og:title>, the site's name cut")
    if not page.zone.confirmed:
        if headline is None:
            first_h1 = css.first(page.tree.root, "h1")
            shown = clean_text(first_h1.text(deep=True, separator=" ")) if first_h1 is not None else ""
        yield Evidence(shown or None, Origin.DOM, "the first <h1>")
    title = meta.title
    if title:
        cut = without_site_name(title, names)
        plain = clean_text(title)
        yield Evidence(cut if cut != plain else _TITLE_SUFFIX.sub("", plain), Origin.DOM, "<title>")


def _joined(found: list[str]) -> str | None:
    unique: list[str] = []
    for name in found:
        if name.casefold() not in {seen.casefold() for seen in unique}:
            unique.append(name)
    return AUTHOR_SEPARATOR.join(unique) if unique else None


def _dropped(names: NameFilter) -> str:
    note = "; ".join(f"{name!r} left out: {reason}" for name, reason in names.dropped)
    names.dropped.clear()
    return note


def author_evidence(page: Page) -> Iterator[Evidence]:
    """Authors from JSON-LD, then <meta>, then the header line's label, bylines, and a label in the article."""
    meta, zone = page.meta, page.zone
    names = NameFilter(site_names(meta))
    value = meta.jsonld_author()
    found = jsonld_authors(value, names) if value else []
    # <meta name=author> sometimes lists more (a desk or agency beside the reporter): the fuller list wins.
    declared = names.names(meta.meta.get("author"), declared=True) if found else []
    if len(declared) > len(found) and {n.casefold() for n in found} <= {n.casefold() for n in declared}:
        yield Evidence(_joined(declared), Origin.META, "<meta name=author>, which names more than JSON-LD")
    yield Evidence(_joined(found), Origin.JSONLD, "JSON-LD author", _dropped(names))
    for key in AUTHOR_META:
        text = meta.meta.get(key)
        if text and not text.startswith(("http://", "https://")):
            found = names.names(text, declared=key == "author")
            yield Evidence(_joined(found), Origin.META, f"<meta {key}>", _dropped(names))
    labeled, text = labeled_value(zone.texts, labels().author)
    if labeled:
        found = names.names(text, shaped=True) if text else []
        # A bare label ("АВТОР" and nothing after it) says the page names no author.
        detail = "an author label in the header line" if text else "an author label with no name in the header line"
        yield Evidence(_joined(found) or "", Origin.HEADER, detail, _dropped(names))
    root, headline = page.tree.root, zone.headline
    for query in BYLINE_SELECTORS:
        for node in css.every(root, query):
            text = clean_text(node.text(deep=True, separator=" "))
            if not text or len(text) > 200 or is_elsewhere(node, headline):
                continue
            found = names.names(text, shaped=True)
            if found:
                yield Evidence(_joined(found), Origin.DOM, f"the byline {query}", _dropped(names))
                break
    if headline is not None:
        # "Автор: Имя" anywhere in the article, its footer line say, without markup of its own.
        pieces = [
            (node, " ".join(text.split()))
            for node, text in following_texts(headline, _ARTICLE_PIECES)
            if len(text) <= _MAX_LABELED and not is_elsewhere(node, headline)
        ]
        labeled, text = labeled_value(pieces, labels().author)
        if text:
            found = names.names(text, shaped=True)
            yield Evidence(_joined(found), Origin.DOM, "an author label in the article", _dropped(names))


#: A byline that is one plain name ("Айгерим Сейтжанова"): nothing to split, nothing to strip.
_PLAIN_NAME = re.compile(r"[^\W\d_]+(?:[ '’-][^\W\d_]+){0,3}")


def clean_authors(author: str | None, meta: Metadata) -> str | None:
    """A profile's byline through the same sieve as any other: several names, never "Редакция"."""
    if not author:
        return None
    if _PLAIN_NAME.fullmatch(author):
        # One plain name (no dot: not the site's address): only the newsroom or the site's <meta> name is refused.
        folded = author.casefold()
        metas = meta.meta
        names = (metas.get("og:site_name"), metas.get("application-name"), metas.get("twitter:site"))
        if folded not in labels().not_a_person and not any(name and name.casefold() == folded for name in names):
            return author
    # The <meta> names suffice here: parsing JSON-LD for a profile's byline would cost every page.
    return _joined(NameFilter(site_names(meta, jsonld=False)).names(author))


def views_evidence(page: Page) -> Iterator[Evidence]:
    """A view count: structured data, then the header line, then microdata, then a marked counter in the article."""
    meta, zone, language = page.meta, page.zone, page.language
    found = structured_views(meta.jsonld_objects) if meta.jsonld_scripts else None
    if found is not None:
        yield Evidence(found.raw, found.origin, found.detail)
    found = header_views(zone.texts, lambda text: recognize(text, language) is not None, zone.headline)
    if found is not None:
        yield Evidence(found.raw, found.origin, found.detail)
    found = microdata_views(page.tree.root)
    if found is not None:
        yield Evidence(found.raw, found.origin, found.detail)
    found = page_views(page.tree.root, zone.headline)
    if found is not None:
        yield Evidence(found.raw, found.origin, found.detail)


def source_evidence(page: Page) -> Iterator[Evidence]:
    """The news' source in the header line."""
    url = page.meta.canonical or page.meta.meta.get("og:url")
    detail = "a labeled source, or a dated link to another site, in the header line"
    yield Evidence(header_source(page.zone.texts, url), Origin.HEADER, detail)


def photo_credit_evidence(page: Page) -> Iterator[Evidence]:
    """The photo credit in the header line."""
    yield Evidence(header_photo_credit(page.zone.texts), Origin.HEADER, "a photo label in the header line")


#: Field name -> its evidence, for the fields read by generic rules when the profile did not find them.
EVIDENCE = {
    "title": title_evidence,
    "author": author_evidence,
    "views": views_evidence,
    "source": source_evidence,
    "photo_credit": photo_credit_evidence,
}
