"""Remove what is not the article from a page's tree: junk, site chrome, elements whose class names boilerplate."""

from __future__ import annotations

import functools
import re
from enum import StrEnum

from selectolax.lexbor import LexborNode

from scraper.elements import NEVER_TEXT, VOID
from scraper.parse import css, vocabulary
from scraper.parse.measure import SENTENCE_CLOSE_RE, Prose, ancestor_ids, link_density

# Removed with their subtree, unconditionally: what never holds text, and the
# headline (the body does not repeat it).
JUNK_TAGS = NEVER_TEXT | {"h1"}
JUNK_SELECTOR = ", ".join(sorted(JUNK_TAGS))

# HTML5 elements that hold site chrome rather than article text: menus, page
# and article headers (title, byline, date), footers, side notes. Removed
# unless they hold most of the page (REMOVE_GUARD_SHARE).
CHROME_TAGS = frozenset({"nav", "footer", "aside", "header", "menu", "form"})

# ARIA roles that are by definition not the main content.
CHROME_ROLES = frozenset(
    {"navigation", "contentinfo", "banner", "complementary", "dialog", "alertdialog", "menu", "menubar"}
    | {"toolbar", "search", "tablist", "tooltip"}
)

# Inline elements whose attributes are not looked at: the boilerplate they
# could mark lives in a block container that is tested instead, and skipping
# them saves reading hundreds of attribute sets per page.
NO_ATTRIBUTE_TAGS = frozenset(
    {"a", "img", "b", "i", "em", "strong", "br", "source", "picture", "sup", "sub", "small", "abbr", "time"}
    | {"code", "u", "s", "mark", "cite", "q", "wbr", "td", "tr", "th", "tbody", "html", "body"}
)

# An inline style that hides the element.
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

# ---------------------------------------------------------------------------
# What class and id names say
# ---------------------------------------------------------------------------
# A class attribute is split into class tokens, and each token into words at
# "-", "_", ":" and camelCase boundaries ("article__shareBar" → article, share, bar).
# The words themselves are data: scraper/parse/vocab/classes.toml (see vocabulary.py).

# Readability's class weight: ±25 for a positive/negative class or id.
CLASS_WEIGHT = 25.0
# schema.org's itemprop="articleBody" is an explicit statement, worth more.
ARTICLE_BODY_WEIGHT = 2 * CLASS_WEIGHT
# Weight of an element whose class names boilerplate (kept when it guards the article).
REMOVE_WEIGHT = -2 * CLASS_WEIGHT


_REMOVE_RE = re.compile(vocabulary.REMOVE.pattern())
_KEEP_RE = re.compile(vocabulary.KEEP.pattern())
_POSITIVE_RE = re.compile(vocabulary.POSITIVE.pattern())
_NEGATIVE_RE = re.compile(vocabulary.NEGATIVE.pattern())
_LEAD_RE = re.compile(vocabulary.LEAD.pattern())
_PICTURE_RE = re.compile(vocabulary.PICTURE.pattern())
_TEASER_RE = re.compile(vocabulary.TEASER.pattern())
_CAMEL_RE = re.compile(r"([a-z0-9])([A-Z])")
_WORD_SEPARATORS_RE = re.compile(r"[^a-z0-9 ]+")


class Named(StrEnum):
    """What an element's class or id names besides its weight."""

    NOTHING = ""
    LEAD = "lead"  # a lead paragraph (standfirst, summary, intro)
    TEASER = "teaser"  # a box announcing a page: boilerplate with a link, the lead without one


_NO_CLASS = (0.0, Named.NOTHING)


def _class_words(value: str) -> str:
    """The "class id" string as lower-case words separated by "-", tokens by " "."""
    return _WORD_SEPARATORS_RE.sub("-", _CAMEL_RE.sub(r"\1-\2", value).lower()).strip(" -")


@functools.lru_cache(maxsize=16384)
def class_info(value: str) -> tuple[float, Named]:
    """What an element's "class id" string says: its weight (REMOVE_WEIGHT, ±CLASS_WEIGHT or 0), and
    whether it names a lead paragraph or a teaser.

    A class token that names boilerplate marks the element for removal unless
    another token of it is purely a content word ("entry-content share-tracked"
    is content; "post-meta" and "related-content" are not). A picture's
    "description" is its caption: boilerplate.
    """
    norm = _class_words(value)
    if not norm:
        return _NO_CLASS
    if _REMOVE_RE.search(norm) is not None and _KEEP_RE.search(norm) is None:
        tokens = norm.split()
        if len(tokens) == 1 or not any(
            _POSITIVE_RE.search(t) is not None and _REMOVE_RE.search(t) is None for t in tokens
        ):
            return REMOVE_WEIGHT, Named.NOTHING
    weight = 0.0
    if _POSITIVE_RE.search(norm) is not None:
        weight += CLASS_WEIGHT
    if _NEGATIVE_RE.search(norm) is not None:
        weight -= CLASS_WEIGHT
    if _TEASER_RE.search(norm) is not None:
        return weight, Named.TEASER
    if _LEAD_RE.search(norm) is None:
        return weight, Named.NOTHING
    if _PICTURE_RE.search(norm) is not None:
        return REMOVE_WEIGHT, Named.NOTHING
    return weight, Named.LEAD


# ---------------------------------------------------------------------------
# Removal
# ---------------------------------------------------------------------------

# Elements classified, at most: a garbage page's millions of elements cost a bounded time.
MAX_SCANNED_ELEMENTS = 100_000

# A boilerplate-looking element (by tag, role, class/id, hidden style) is kept
# anyway when it holds at least this share of the page's text: it is then a
# wrapper with a misleading modifier ("has-sidebar", "display:none" until a
# script reveals it), not the boilerplate itself.
REMOVE_GUARD_SHARE = 0.4
# A <noscript> holding this much text is the page's content for readers without scripts, not a
# "please enable JavaScript" notice or a tracking pixel: it is read as part of the page.
NOSCRIPT_MIN_CHARS = 400
PROSE_GUARD_SHARE = 0.5
PROSE_GUARD_MIN_CHARS = 400
# A lead paragraph: its length, its most link text, how far up its common ancestor with the body may be.
LEAD_SELECTOR = "p, div, h2, span"
# Elements of an article's header that are its lead without a class saying so, and how far up
# the <article> or <main> that makes a header the article's may be.
LEAD_TAGS = frozenset({"p", "h2"})
ARTICLE_TAGS = frozenset({"article", "main"})
ARTICLE_HEADER_MAX_LEVELS = 6
LEAD_MIN_CHARS = 40
LEAD_MAX_LINK_DENSITY = 0.5


# What the walk does with an element by its tag alone, in the order the rules apply (junk before chrome
# before inline): one dict lookup instead of three set tests, for the hundreds of elements of a page.
_JUNK, _CHROME, _INLINE, _INLINE_VOID = range(4)
_TAG_ACTION: dict[str | None, int] = {
    **{tag: _INLINE_VOID if tag in VOID else _INLINE for tag in NO_ATTRIBUTE_TAGS},
    **dict.fromkeys(CHROME_TAGS, _CHROME),
    **dict.fromkeys(JUNK_TAGS, _JUNK),
}


def _scan(
    start: LexborNode,
    junk: list[LexborNode],
    suspects: list[tuple[LexborNode, float]],
    weights: dict[int, float],
    leads: list[LexborNode],
) -> None:
    """Sort the elements under `start` into junk, boilerplate suspects and weighted others; note the leads.

    The subtree of a junk element or a suspect is not looked into: the walk goes down an element's
    children only when it is neither (an <svg>, a menu, a script's subtree is never visited).
    """
    action_of, chrome_roles = _TAG_ACTION.get, CHROME_ROLES
    teaser, lead = Named.TEASER, Named.LEAD
    # Children still to visit of each open element, innermost last (a depth-first walk in document order).
    stack = [start.iter()]
    scanned = 0
    while stack:
        # The innermost open element's children, until one is entered (then its own children come first).
        for node in stack[-1]:
            scanned += 1
            if scanned > MAX_SCANNED_ELEMENTS:
                return
            action = action_of(node.tag)
            if action is not None:
                if action == _JUNK:
                    junk.append(node)
                elif action == _CHROME:
                    suspects.append((node, 0.0))
                elif action == _INLINE:
                    stack.append(node.iter())
                    break
                continue
            attrs = node.attributes
            if not attrs:
                stack.append(node.iter())
                break
            cls = attrs.get("class")
            ident = attrs.get("id")
            weight, named = class_info(f"{cls} {ident}") if cls or ident else _NO_CLASS
            if named is teaser:
                if css.first(node, "a[href]") is None:
                    named = lead
                else:
                    weight = REMOVE_WEIGHT
            if len(attrs) > 1 or cls is None:
                style = attrs.get("style")
                role = attrs.get("role")
                if (
                    "hidden" in attrs
                    or attrs.get("aria-hidden") == "true"
                    or (style and _HIDDEN_STYLE_RE.search(style))
                    or (role and role in chrome_roles)
                    or attrs.get("itemprop") == "comment"
                ):
                    weight = min(weight, 0.0)
                    suspects.append((node, weight))
                    continue
                itemprop = attrs.get("itemprop")
                if itemprop and "articleBody" in itemprop:
                    weight = max(weight, 0.0) + ARTICLE_BODY_WEIGHT
            if weight == REMOVE_WEIGHT:
                suspects.append((node, weight))
                continue
            if weight:
                weights[node.mem_id] = weight
            if named is lead:
                leads.append(node)
            stack.append(node.iter())
            break
        else:
            stack.pop()


def _names_lead(node: LexborNode) -> bool:
    attrs = node.attributes
    cls, ident = attrs.get("class"), attrs.get("id")
    if not (cls or ident):
        return False
    named = class_info(f"{cls} {ident}")[1]
    return named is Named.LEAD or (named is Named.TEASER and css.first(node, "a[href]") is None)


def _inside(node: LexborNode, tags: frozenset[str], levels: int) -> bool:
    """Whether one of the `levels` nearest ancestors of `node` is one of `tags`."""
    ancestor = node.parent
    for _ in range(levels):
        if ancestor is None:
            return False
        if ancestor.tag in tags:
            return True
        ancestor = ancestor.parent
    return False


def _keep_leads(header: LexborNode, leads: list[LexborNode]) -> None:
    """Remove everything in `header` but its lead paragraphs (kept in `leads`); all of it if it has none.

    Only the article's own header (inside <article> or <main>, or named as a lead) holds a lead: an
    element named as one, or a subtitle or paragraph of sentence length.
    """
    if not (_names_lead(header) or _inside(header, ARTICLE_TAGS, ARTICLE_HEADER_MAX_LEVELS)):
        header.decompose()  # the page's header (logo, menus), not the article's
        return
    found: list[LexborNode] = []
    found_ids: set[int] = set()
    keep: set[int] = set()
    header_id = header.mem_id
    for node in css.every(header, LEAD_SELECTOR):
        named = _names_lead(node)
        if not (named or node.tag in LEAD_TAGS):
            continue
        text = node.text().strip()
        if len(text) < LEAD_MIN_CHARS or link_density(node, len(text)) > LEAD_MAX_LINK_DENSITY:
            continue
        if not named and SENTENCE_CLOSE_RE.search(text) is None:
            continue  # a headline, a date line, a byline, a caption: not sentences
        chain = ancestor_ids(node, header_id)
        if any(key in found_ids for key in chain[1:]):
            continue  # inside a lead already kept
        found.append(node)
        found_ids.add(node.mem_id)
        keep.update(chain[1:])
    if not found:
        header.decompose()
        return
    stack = [header]
    while stack:
        child = stack.pop().first_child
        while child is not None:
            following = child.next
            if child.mem_id in keep:
                stack.append(child)
            elif child.mem_id not in found_ids:
                child.decompose()
            child = following
    leads.extend(found)


def remove_boilerplate(root: LexborNode, leads: list[LexborNode]) -> tuple[dict[int, float], Prose]:
    """Remove junk and boilerplate elements; return the class weights of the rest (by mem_id), and
    the page's prose (sentence-length <p> text) as measured before the removal.

    Elements that look like a lead paragraph are added to `leads`, in the order met.
    """
    junk: list[LexborNode] = []
    suspects: list[tuple[LexborNode, float]] = []
    weights: dict[int, float] = {}
    _scan(root, junk, suspects, weights, leads)
    while junk:
        node = junk.pop()
        if node.tag == "noscript" and len(node.text()) >= NOSCRIPT_MIN_CHARS:
            # A page that writes its article with a script may keep a copy for readers without one:
            # it is read like the rest of the page (junk and boilerplate in it found first).
            _scan(node, junk, suspects, weights, leads)
            node.unwrap()
        else:
            node.decompose()
    page_prose = Prose(root)
    prose_guard = max(PROSE_GUARD_MIN_CHARS, page_prose.total * PROSE_GUARD_SHARE)
    # A page with prose in paragraphs is guarded by its prose; one without, by its text.
    guard = len(root.text()) * REMOVE_GUARD_SHARE if page_prose.total < PROSE_GUARD_MIN_CHARS else float("inf")
    while suspects:
        node, weight = suspects.pop()
        length = len(node.text())
        if length < guard and (length < prose_guard or page_prose.under(node) < prose_guard):
            if node.tag == "header" and weight == 0:
                _keep_leads(node, leads)
            else:
                node.decompose()
            continue
        # Too big to be boilerplate: keep it (a class that says boilerplate
        # still counts against it when scoring), and look inside it instead.
        if weight < 0:
            weights[node.mem_id] = weight
        junk.clear()
        _scan(node, junk, suspects, weights, leads)
        for inner in junk:
            inner.decompose()
    return weights, page_prose


# ---------------------------------------------------------------------------
# Scoring (readability's algorithm)
# ---------------------------------------------------------------------------

# A paragraph shorter than this (characters) is not scored: too short to be prose.
