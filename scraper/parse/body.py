"""Generic article-body extractor: a page's body from its DOM (boilerplate out, container chosen, read) or JSON-LD."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.parse import css
from scraper.parse.boilerplate import JUNK_SELECTOR, remove_boilerplate
from scraper.parse.container import choose, leads_before, prose_container
from scraper.parse.reader import Reader, read, render_html
from scraper.text import clean_text


@dataclass(frozen=True)
class Body:
    """The article body: cleaned paragraphs, an HTML fragment of them, and where it came from."""

    paragraphs: tuple[str, ...]
    html: str
    source: str  # "jsonld" or "dom"

    @property
    def text(self) -> str:
        """The body text as stored: paragraphs separated by a blank line."""
        return "\n\n".join(self.paragraphs)


EMPTY_BODY = Body((), "", "dom")

# When the chosen container holds under this share of the page's prose, the nearest ancestor
# holding most of it is read instead.
FALLBACK_SHARE = 0.5


def _to_body(walker: Reader, source: str) -> Body:
    texts, kinds, htmls = walker.result()
    paragraphs = tuple(t for t in texts if t)
    if not paragraphs:
        return Body((), "", source)
    return Body(paragraphs, render_html(kinds, htmls), source)


def _walk_to_body(nodes: list[LexborNode], weights: dict[int, float], source: str) -> Body:
    return _to_body(read(nodes, weights), source)


def _extract_dom(tree: LexborHTMLParser) -> Body:
    """The body as the page's DOM shows it: boilerplate out, the container chosen (with its lead), read."""
    root = tree.body or tree.root
    if root is None:
        return EMPTY_BODY
    leads: list[LexborNode] = []
    weights, page_prose = remove_boilerplate(root, leads)
    picked = choose(root, weights)
    if leads:
        picked[:0] = leads_before(picked, leads, root)
    walker = read(picked, weights)
    # The prose left after removal is at most the page's prose measured before it.
    if walker.total_chars < page_prose.total * FALLBACK_SHARE:
        left = page_prose.under(root)
        if walker.total_chars < left * FALLBACK_SHARE:
            walker = read([prose_container(root, picked[-1], page_prose, left)], weights)
    return _to_body(walker, "dom")


# ---------------------------------------------------------------------------
# JSON-LD articleBody
# ---------------------------------------------------------------------------

# A JSON-LD articleBody shorter than this many words is a summary, not the body.
JSONLD_MIN_WORDS = 30
# The JSON-LD body is used when the DOM body has fewer words than this share of it.
JSONLD_PREFER_SHARE = 0.7
# Markup inside articleBody (some CMSes put the HTML there).
_MARKUP_RE = re.compile(r"<(?:p|div|br|h[1-6]|ul|ol|li|a|strong|em|b|i|span|blockquote|figure|img|body)\b[^>]*>", re.I)
# A body that ends like this was cut short.
_TRUNCATED_RE = re.compile(r"(?:\.\.\.|…|\[…\]|\[\.\.\.\])\W{0,3}$")
_WORD_RE = re.compile(r"\w+")


def _jsonld_to_body(value: str) -> Body:
    if _MARKUP_RE.search(value):
        root = LexborHTMLParser(value).body
        if root is None:
            return Body((), "", "jsonld")
        for node in reversed(css.every(root, JUNK_SELECTOR)):
            node.decompose()
        return _walk_to_body([root], {}, "jsonld")
    text = clean_text(value.replace("\r\n", "\n"), multiline=True)
    paragraphs = tuple(p for p in (line.strip() for line in text.split("\n")) if p)
    html = "".join(f"<p>{escape(p, quote=False)}</p>" for p in paragraphs)
    return Body(paragraphs, html, "jsonld")


def _prefer_jsonld(ld: Body, dom: Body) -> bool:
    """Whether the JSON-LD body should stand for the page's: it is plausible, and the page's own text
    came out much shorter (the article sits in a script, or behind markup the DOM pass missed).

    Otherwise the DOM body wins: JSON-LD bodies often lack the lead, the subheadings and the lists.
    """
    ld_text = ld.text
    ld_words = len(_WORD_RE.findall(ld_text))
    if ld_words < JSONLD_MIN_WORDS:
        return False
    if not dom.paragraphs:
        return True
    dom_words = len(_WORD_RE.findall(dom.text))
    if _TRUNCATED_RE.search(ld_text) and dom_words > ld_words:
        return False
    return dom_words < ld_words * JSONLD_PREFER_SHARE


def extract_body(tree: LexborHTMLParser, *, jsonld_body: str | None = None) -> Body:
    """Extract the article body of a parsed page; may mutate `tree`.

    `jsonld_body` is the page's JSON-LD articleBody, if it has one: it is used
    when it is long enough and not a teaser of what the page itself shows.
    Never raises: anything unexpected yields an empty body.
    """
    try:
        dom = _extract_dom(tree)
    except Exception:  # a garbage page must not stop a crawl
        dom = EMPTY_BODY
    if jsonld_body and jsonld_body.strip():
        try:
            ld = _jsonld_to_body(jsonld_body)
        except Exception:
            ld = EMPTY_BODY
        if ld.paragraphs and _prefer_jsonld(ld, dom):
            return ld
    return dom
