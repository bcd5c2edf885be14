"""Generic article-body extractor: boilerplate removal and paragraph scoring over a selectolax Lexbor tree."""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from html import escape

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.elements import BARE_INLINE, BLOCK_TAGS, CAPTIONS, HEADING_LEVEL, NEVER_TEXT
from scraper.parse import vocabulary
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

# ---------------------------------------------------------------------------
# Tag vocabularies
# ---------------------------------------------------------------------------

# Removed with their subtree, unconditionally: what never holds text, and the
# headline (the body does not repeat it).
JUNK_TAGS = NEVER_TEXT | {"h1"}
_JUNK_SELECTOR = ", ".join(sorted(JUNK_TAGS))

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

# Elements whose text is scored as a paragraph when choosing the article
# container; divs count with their own text nodes only (sites that use divs
# and <br> instead of <p>).
SCORED_SELECTOR = "p, pre, td, blockquote, div"
# When none of those holds a paragraph, text is looked for in the other
# elements old or odd markup puts it in (<font>/<span> with <br>, bare lists).
FALLBACK_SCORED_SELECTOR = "span, font, li, dd, section, article, main, center, body"
# Elements that count only their own text nodes (their children are scored themselves).
_OWN_TEXT_TAGS = frozenset({"div", "span", "font", "li", "dd", "section", "article", "main", "center", "body"})

# Output tag of each paragraph-producing element; other blocks yield "p".
PARAGRAPH_KIND = {
    "h2": "h2",
    "h3": "h3",
    "h4": "h4",
    "h5": "h5",
    "h6": "h6",
    "li": "li",
    "dt": "li",
    "dd": "li",
    "pre": "pre",
}

# Captions and credits under pictures are not article text (the reference
# extractions leave them out); their images still go into the HTML.
CAPTION_TAGS = CAPTIONS

# Inline tags kept in the HTML fragment (attributes dropped).
INLINE_HTML_TAGS = BARE_INLINE

# Containers judged as a whole once their content is read (readability's
# "clean conditionally"): dropped when link-heavy, list-of-links, or galleries.
CONDITIONAL_TAGS = frozenset({"div", "section", "ul", "ol", "table", "form", "fieldset", "dl", "figure"})

# ---------------------------------------------------------------------------
# class/id vocabularies
# ---------------------------------------------------------------------------
# A class attribute is split into class tokens, and each token into words at
# "-", "_", ":" and camelCase boundaries ("article__shareBar" → article, share, bar).

# The words themselves are data: scraper/parse/vocab/classes.toml (see vocabulary.py).

# Readability's class weight: ±25 for a positive/negative class or id.
CLASS_WEIGHT = 25.0
# schema.org's itemprop="articleBody" is an explicit statement, worth more.
ARTICLE_BODY_WEIGHT = 2 * CLASS_WEIGHT
# Weight given to elements classified as boilerplate (used by the output walk).
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
# Boilerplate removal
# ---------------------------------------------------------------------------

# Work limits that keep a garbage page (millions of elements, a 50 MB text
# node) to a bounded cost; real article pages stay far below them (the dev
# set's largest has ~1,600 elements and ~53,000 characters of body).
MAX_SCANNED_ELEMENTS = 100_000  # elements classified for boilerplate removal
MAX_SCORED_PARAGRAPHS = 20_000  # paragraphs (and siblings of the winner) scored when choosing
MAX_SCORED_CHARS = 20_000  # characters of one paragraph looked at for its score
MAX_LINKS_MEASURED = 5_000  # links whose text is measured for a link density
MAX_WALKED_NODES = 100_000  # nodes of the chosen container read for output
MAX_RAW_CHARS = 2_000_000  # characters of source text read for the body (whitespace included)

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
FALLBACK_SHARE = 0.5
# A lead paragraph: its length, its most link text, how far up its common ancestor with the body may be.
LEAD_SELECTOR = "p, div, h2, span"
# Elements of an article's header that are its lead without a class saying so, and how far up
# the <article> or <main> that makes a header the article's may be.
LEAD_TAGS = frozenset({"p", "h2"})
ARTICLE_TAGS = frozenset({"article", "main"})
ARTICLE_HEADER_MAX_LEVELS = 6
LEAD_MIN_CHARS = 40
LEAD_MAX_LINK_DENSITY = 0.5
LEAD_MAX_LEVELS = 4
MAX_LEADS = 2
# A description inside these is a picture's caption, not a lead.
CAPTION_PARENT_TAGS = frozenset({"figure", "figcaption", "picture"})
PROSE_CONTAINER_SHARE = 0.8


def _prose_container(root: LexborNode, chosen: LexborNode, prose: int) -> LexborNode:
    """The nearest ancestor of `chosen` (or itself) holding at least PROSE_CONTAINER_SHARE of the prose under `root`."""
    totals: dict[int, int] = {}
    root_id = root.mem_id
    for para in root.css("p"):
        length = len(para.text().strip())
        if length < SIBLING_PARAGRAPH_CHARS:
            continue
        ancestor = para.parent
        while ancestor is not None:
            key = ancestor.mem_id
            totals[key] = totals.get(key, 0) + length
            if key == root_id:
                break
            ancestor = ancestor.parent
    need = prose * PROSE_CONTAINER_SHARE
    # Up from the chosen container: the first element that holds most of the prose.
    current: LexborNode | None = chosen
    while current is not None and current.mem_id != root_id:
        if totals.get(current.mem_id, 0) >= need:
            return current
        current = current.parent
    return root


def _prose(node: LexborNode) -> int:
    """Characters of paragraph text under `node`: <p> elements of sentence length."""
    total = 0
    for para in node.css("p"):
        length = len(para.text().strip())
        if length >= SIBLING_PARAGRAPH_CHARS:
            total += length
    return total


def _following(node: LexborNode, root_id: int) -> int:
    """mem_id of the first element after `node`'s subtree in document order (0 at the end of `root`)."""
    current: LexborNode | None = node
    while current is not None and current.mem_id != root_id:
        sibling = current.next
        while sibling is not None:
            if sibling.is_element_node:
                return sibling.mem_id
            sibling = sibling.next
        current = current.parent
    return 0


def _scan(
    start: LexborNode,
    junk: list[LexborNode],
    suspects: list[tuple[LexborNode, float]],
    weights: dict[int, float],
    leads: list[LexborNode],
) -> None:
    """Sort the elements under `start` into junk, boilerplate suspects and weighted others; note the leads.

    The subtree of a junk element or a suspect is not looked into.
    """
    start_id = start.mem_id
    skip_until = -1
    junk_tags, chrome_tags, no_attribute_tags, chrome_roles = JUNK_TAGS, CHROME_TAGS, NO_ATTRIBUTE_TAGS, CHROME_ROLES
    nodes = start.traverse()
    next(nodes, None)  # `start` itself
    for node in itertools.islice(nodes, MAX_SCANNED_ELEMENTS):
        if skip_until >= 0:
            if node.mem_id != skip_until:
                continue
            skip_until = -1
        tag = node.tag
        if tag in junk_tags:
            junk.append(node)
            skip_until = _following(node, start_id)
            continue
        if tag in chrome_tags:
            suspects.append((node, 0.0))
            skip_until = _following(node, start_id)
            continue
        if tag in no_attribute_tags:
            continue
        attrs = node.attributes
        if not attrs:
            continue
        cls = attrs.get("class")
        ident = attrs.get("id")
        weight, named = class_info(f"{cls} {ident}") if cls or ident else _NO_CLASS
        if named is Named.TEASER:
            if node.css_first("a[href]") is None:
                named = Named.LEAD
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
                skip_until = _following(node, start_id)
                continue
            itemprop = attrs.get("itemprop")
            if itemprop and "articleBody" in itemprop:
                weight = max(weight, 0.0) + ARTICLE_BODY_WEIGHT
        if weight == REMOVE_WEIGHT:
            suspects.append((node, weight))
            skip_until = _following(node, start_id)
            continue
        if weight:
            weights[node.mem_id] = weight
        if named is Named.LEAD:
            leads.append(node)


def _names_lead(node: LexborNode) -> bool:
    attrs = node.attributes
    cls, ident = attrs.get("class"), attrs.get("id")
    if not (cls or ident):
        return False
    named = class_info(f"{cls} {ident}")[1]
    return named is Named.LEAD or (named is Named.TEASER and node.css_first("a[href]") is None)


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
    for node in header.css(LEAD_SELECTOR):
        named = _names_lead(node)
        if not (named or node.tag in LEAD_TAGS):
            continue
        text = node.text().strip()
        if len(text) < LEAD_MIN_CHARS or _link_density(node, len(text)) > LEAD_MAX_LINK_DENSITY:
            continue
        if not named and _SENTENCE_CLOSE_RE.search(text) is None:
            continue  # a headline, a date line, a byline, a caption: not sentences
        chain = _ancestor_ids(node, header_id)
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
        child = stack.pop().child
        while child is not None:
            following = child.next
            if child.mem_id in keep:
                stack.append(child)
            elif child.mem_id not in found_ids:
                child.decompose()
            child = following
    leads.extend(found)


def _remove_boilerplate(root: LexborNode, leads: list[LexborNode]) -> tuple[dict[int, float], int]:
    """Remove junk and boilerplate elements; return the class weights of the rest (by mem_id), and
    the page's prose (characters of sentence-length <p> text) before the removal.

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
    page_prose = _prose(root)
    prose_guard = max(PROSE_GUARD_MIN_CHARS, page_prose * PROSE_GUARD_SHARE)
    # A page with prose in paragraphs is guarded by its prose; one without, by its text.
    guard = len(root.text()) * REMOVE_GUARD_SHARE if page_prose < PROSE_GUARD_MIN_CHARS else float("inf")
    while suspects:
        node, weight = suspects.pop()
        length = len(node.text())
        if length < guard and (length < prose_guard or _prose(node) < prose_guard):
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
MIN_PARAGRAPH_CHARS = 25
# Score of a paragraph: 1 + commas + one point per this many characters, capped.
# Commas count up to one per this many characters: about half the distance between commas in
# article prose (the reference paragraphs of the dev sets have one every 113 characters, median);
# a list of names or keywords run together ("A, B, C, ...") is not more prose for its commas.
MIN_CHARS_PER_COMMA = 60
CHARS_PER_POINT = 100
MAX_LENGTH_POINTS = 3.0
# How far up a paragraph's score propagates (parent gets it whole, grandparent
# half, further ancestors a third of it divided by their level).
SCORE_ANCESTOR_LEVELS = 5
# Initial score of a candidate by tag (readability's _initializeNode).
TAG_SCORE = {
    "div": 5.0,
    "article": 5.0,
    "section": 3.0,
    "main": 3.0,
    "pre": 3.0,
    "td": 3.0,
    "blockquote": 3.0,
    "address": -3.0,
    "ol": -3.0,
    "ul": -3.0,
    "dl": -3.0,
    "dd": -3.0,
    "dt": -3.0,
    "li": -3.0,
    "form": -3.0,
    "h2": -5.0,
    "h3": -5.0,
    "h4": -5.0,
    "h5": -5.0,
    "h6": -5.0,
    "th": -5.0,
}
# A positive class weight adds at most this share of a container's text score.
MAX_CLASS_BONUS_SHARE = 0.5
# How many of the best raw-scored candidates get the (costlier) link-density correction.
TOP_CANDIDATES = 5
# Siblings of the winner are kept when their score reaches this share of the
# winner's (or the floor), as in readability.
SIBLING_SCORE_SHARE = 0.2
SIBLING_SCORE_FLOOR = 10.0
# A sibling <p> is kept when at least this long and not link-heavy, or shorter
# but link-free and sentence-like.
SIBLING_PARAGRAPH_CHARS = 80
SIBLING_PARAGRAPH_MAX_LINK_DENSITY = 0.25
# A runner-up scoring at least this share of the winner, and whose common
# ancestor with it is at most this many levels up, is the other half of a
# split article.
MERGE_SCORE_SHARE = 0.5
MERGE_MAX_LEVELS = 3
# Walking up from the winner stops at an ancestor scoring under this share of it.
PARENT_SCORE_SHARE = 1 / 3

# The end of a sentence, in any script: a full stop, question or exclamation mark, an ellipsis,
# or a closing quotation mark after one of them.
_SENTENCE_CLOSE_RE = re.compile("[.!?…。！？؟।][\"'”’»」』)]*$")
# Commas in Latin, Arabic and CJK scripts.
_COMMA_RE = re.compile("[,\u060c\uff0c\u3001]")
_SENTENCE_END_RE = re.compile(r"\.( |$)")


def _link_density(node: LexborNode, text_len: int) -> float:
    if text_len <= 0:
        return 0.0
    anchors = node.css("a")
    measured = anchors[:MAX_LINKS_MEASURED]
    links = 0
    for a in measured:
        links += len(a.text())
    if len(anchors) > len(measured):
        links = links * len(anchors) // len(measured)
    return min(1.0, links / text_len)


class _Candidate:
    __slots__ = ("node", "score")

    def __init__(self, node: LexborNode, score: float) -> None:
        self.node = node
        self.score = score


def _score_candidates(
    root: LexborNode, weights: dict[int, float], selector: str = SCORED_SELECTOR
) -> dict[int, _Candidate]:
    candidates: dict[int, _Candidate] = {}
    root_id = root.mem_id
    for para in root.css(selector)[:MAX_SCORED_PARAGRAPHS]:
        text = para.text(deep=para.tag not in _OWN_TEXT_TAGS)[:MAX_SCORED_CHARS]
        length = len(text.strip())
        if length < MIN_PARAGRAPH_CHARS:
            continue
        commas = min(len(_COMMA_RE.findall(text)), length / MIN_CHARS_PER_COMMA)
        score = 1.0 + commas + min(length / CHARS_PER_POINT, MAX_LENGTH_POINTS)
        ancestor = para.parent
        level = 0
        while ancestor is not None and level < SCORE_ANCESTOR_LEVELS:
            key = ancestor.mem_id
            cand = candidates.get(key)
            if cand is None:
                cand = _Candidate(ancestor, 0.0)
                candidates[key] = cand
            cand.score += score if level == 0 else score / 2 if level == 1 else score / (level * 3)
            if key == root_id:
                break
            ancestor = ancestor.parent
            level += 1
    for key, cand in candidates.items():
        weight = weights.get(key, 0.0)
        if weight > 0:
            # A content-like class name helps a container holding text, but cannot make one of a few words win.
            weight = min(weight, cand.score * MAX_CLASS_BONUS_SHARE)
        cand.score += TAG_SCORE.get(cand.node.tag or "", 0.0) + weight
    return candidates


def _ancestor_ids(node: LexborNode, root_id: int) -> list[int]:
    """mem_ids from `node` up to (and including) the root."""
    ids: list[int] = []
    current: LexborNode | None = node
    while current is not None:
        key = current.mem_id
        ids.append(key)
        if key == root_id:
            break
        current = current.parent
    return ids


def _merge_split_article(
    top: _Candidate, ranked: list[_Candidate], candidates: dict[int, _Candidate], root_id: int
) -> _Candidate:
    """Go up to the common ancestor of the winner and a runner-up of comparable score.

    Articles split in two by an ad slot or a pull-quote wrapper give two
    containers of similar score that are cousins, not siblings; their nearest
    common ancestor (if close) holds the whole article.
    """
    top_chain = _ancestor_ids(top.node, root_id)
    position = {key: level for level, key in enumerate(top_chain)}
    best_level = 0
    for cand in ranked[1:]:
        if cand.score < top.score * MERGE_SCORE_SHARE:
            break
        if cand.node.mem_id in position:  # an ancestor of the winner
            continue
        current: LexborNode | None = cand.node.parent
        climbed = 1
        while current is not None and climbed <= MERGE_MAX_LEVELS:
            level = position.get(current.mem_id)
            if level is not None:
                if level == 0:  # the runner-up is inside the winner
                    break
                if level <= MERGE_MAX_LEVELS and top_chain[level] != root_id:
                    best_level = max(best_level, level)
                break
            current = current.parent
            climbed += 1
    if best_level == 0:
        return top
    merged = candidates.get(top_chain[best_level])
    return merged if merged is not None else top


def _leads_before(picked: list[LexborNode], leads: list[LexborNode], root: LexborNode) -> list[LexborNode]:
    """The lead paragraphs that sit just before the chosen container: not inside it, close to it, before it."""
    root_id = root.mem_id
    first = picked[0]
    picked_ids = {node.mem_id for node in picked}
    first_chain = _ancestor_ids(first, root_id)
    level_of = {key: level for level, key in enumerate(first_chain)}
    found: list[LexborNode] = []
    for lead in leads:
        chain: list[LexborNode] = []
        current: LexborNode | None = lead
        common = -1
        while current is not None:
            key = current.mem_id
            if key in picked_ids:
                break  # inside the container: read with it
            if key in level_of:
                common = level_of[key]
                break
            chain.append(current)
            current = current.parent
        if common <= 0 or common > LEAD_MAX_LEVELS or not chain:
            continue
        # Under the common ancestor, the lead's branch must come before the container's.
        lead_branch = chain[-1]
        container_branch_id = first_chain[common - 1]
        sibling = lead_branch.next
        while sibling is not None and sibling.mem_id != container_branch_id:
            sibling = sibling.next
        if sibling is not None and not any(node.tag in CAPTION_PARENT_TAGS for node in chain):
            found.append(lead)
    # The nearest ones: a page rarely has more than a standfirst and a summary.
    return found[-MAX_LEADS:]


def _pick(root: LexborNode, weights: dict[int, float]) -> list[LexborNode]:
    """Choose the article container (and the siblings that continue it)."""
    candidates = _score_candidates(root, weights)
    if not candidates:
        candidates = _score_candidates(root, weights, FALLBACK_SCORED_SELECTOR)
    if not candidates:
        return [root]
    ranked = sorted(candidates.values(), key=lambda c: c.score, reverse=True)[:TOP_CANDIDATES]
    for cand in ranked:
        text_len = len(cand.node.text().strip())
        cand.score *= 1.0 - _link_density(cand.node, text_len)
    ranked.sort(key=lambda c: c.score, reverse=True)
    top = ranked[0]
    root_id = root.mem_id
    top = _merge_split_article(top, ranked, candidates, root_id)
    # Walk up while an ancestor scores better: it gathers more of the article.
    last = top.score
    threshold = last * PARENT_SCORE_SHARE
    parent = top.node.parent
    while parent is not None and parent.mem_id != root_id:
        pc = candidates.get(parent.mem_id)
        if pc is None:
            parent = parent.parent
            continue
        if pc.score < threshold:
            break
        if pc.score > last:
            top = pc
            break
        last = pc.score
        parent = parent.parent
    top_node = top.node
    parent = top_node.parent
    if parent is None or top_node.mem_id == root_id:
        return [top_node]
    sibling_threshold = max(SIBLING_SCORE_FLOOR, top.score * SIBLING_SCORE_SHARE)
    top_id = top_node.mem_id
    top_tag = top_node.tag
    top_class = top_node.attributes.get("class") if top_tag != "p" else None
    kept: list[LexborNode] = []
    for sib in itertools.islice(parent.iter(), MAX_SCORED_PARAGRAPHS):
        sid = sib.mem_id
        if sid == top_id:
            kept.append(sib)
            continue
        scored = candidates.get(sid)
        if scored is not None and scored.score >= sibling_threshold:
            kept.append(sib)
        elif top_class and sib.tag == top_tag and sib.attributes.get("class") == top_class:
            # The same kind of block as the winner: the article goes on in it after an ad or a
            # picture, with a list or a table instead of scored paragraphs.
            text_len = len(sib.text().strip())
            if text_len > SIBLING_PARAGRAPH_CHARS and _link_density(sib, text_len) < SIBLING_PARAGRAPH_MAX_LINK_DENSITY:
                kept.append(sib)
        elif sib.tag == "p":
            text = sib.text().strip()
            length = len(text)
            density = _link_density(sib, length)
            if (length > SIBLING_PARAGRAPH_CHARS and density < SIBLING_PARAGRAPH_MAX_LINK_DENSITY) or (
                0 < length <= SIBLING_PARAGRAPH_CHARS and density == 0 and _SENTENCE_END_RE.search(text)
            ):
                kept.append(sib)
    return kept


# ---------------------------------------------------------------------------
# Output walk
# ---------------------------------------------------------------------------

# Paragraph-level boilerplate, tested on short paragraphs only: the whole line is a
# UI label ("Advertisement", "Image 1 of 5", "Наверх"), or it opens with a call to
# action or a cross-link lead-in ("Read more:", "Subscribe to", "Читайте также"), in
# the languages of scraper/parse/vocab/phrases.toml.
BOILERPLATE_LINE_RE = re.compile(vocabulary.boilerplate_line_pattern(), re.IGNORECASE)
# A line that is only a date written in digits (03.04.2020, 2020-04-03, 4/3/20), with or without
# a time: the article's timestamp, in any language.
_DATE_LINE_RE = re.compile(r"^\W*\d{1,4}([./-])\d{1,2}\1\d{1,4}(?:[,\s]+\d{1,2}[:.]\d{2}(?::\d{2})?)?\W*$")
# Only paragraphs shorter than this are tested against BOILERPLATE_LINE_RE.
BOILERPLATE_LINE_MAX_CHARS = 160
# A short paragraph or list item that is mostly link text is navigation.
MAX_PARAGRAPH_LINK_DENSITY = 0.75
LINK_PARAGRAPH_MAX_CHARS = 200
# Clean-conditionally thresholds: a container whose text is more than this
# share link text is a link list, unless its class says content (then the
# higher share applies); "short" containers are under the char limit.
CONTAINER_MAX_LINK_DENSITY = 0.35
CONTENT_CONTAINER_MAX_LINK_DENSITY = 0.5
CONTAINER_SHORT_CHARS = 1000
# A container of more list items than paragraphs is navigation when its link share exceeds this.
LIST_CONTAINER_MAX_LINK_DENSITY = 0.5
# A container with several images and under this many chars is a gallery strip.
GALLERY_MAX_CHARS = 200
# When the clean-conditionally drops leave less than this share of the chosen
# container's text, they misjudged the article itself (a list-style article,
# a link-rich digest): the container is read again without them.
MIN_KEPT_SHARE = 0.25

# Stands for <br> in the running text until whitespace is normalised: a Unicode
# noncharacter, reserved for internal use and never in interchanged text
# (unlike private-use characters, which icon fonts put in pages).
_LINE_BREAK = "\ufdd0"
_BLANK_LINE_RE = re.compile(r"\n\s*\n")


class _Walker:
    """Depth-first walk over the kept nodes, producing paragraphs and their HTML."""

    def __init__(self, weights: dict[int, float], *, conditional: bool = True) -> None:
        self.weights = weights
        self.conditional = conditional
        self.visited = 0
        self.raw_chars = 0
        self.truncated = False  # a work limit stopped the walk
        # The walk roots were chosen by scoring: only what is inside them is judged.
        self.roots: set[int] = set()
        # Paragraphs so far: raw text, kind, inner HTML, length, link chars.
        self.texts: list[str] = []
        self.kinds: list[str] = []
        self.htmls: list[str] = []
        # Running line.
        self.buf: list[str] = []
        self.hbuf: list[str] = []
        self.link_chars = 0
        self.in_link = 0
        self.in_pre = 0
        self.in_caption = 0
        self.in_quote = 0
        self.lists: list[str] = []  # open ul/ol elements
        self.kind = "p"
        self.seen_chars = 0  # characters of the paragraphs read, dropped ones included
        # Running totals, restored from a snapshot when a container is dropped.
        self.total_chars = 0
        self.total_links = 0
        self.total_p = 0
        self.total_li = 0
        self.total_img = 0

    def _snapshot(self) -> tuple[int, int, int, int, int, int]:
        return (
            len(self.texts),
            self.total_chars,
            self.total_links,
            self.total_p,
            self.total_li,
            self.total_img,
        )

    def flush(self) -> None:
        """End the running line as a paragraph, unless it is empty or boilerplate."""
        if not self.buf:
            return
        raw = "".join(self.buf)
        inner = "".join(self.hbuf)
        self.buf.clear()
        self.hbuf.clear()
        links = self.link_chars
        self.link_chars = 0
        if self.in_caption:
            return
        text = raw.strip() if self.in_pre else " ".join(raw.split())
        if not text.replace(_LINE_BREAK, ""):
            if "<img" in inner:
                self.texts.append("")
                self.kinds.append("img")
                self.htmls.append(inner)
            return
        length = len(text)
        kind = "pre" if self.in_pre else self.kind
        if kind == "p" and self.in_quote:
            kind = "blockquote"
        if kind != "pre" and length < LINK_PARAGRAPH_MAX_CHARS and links > length * MAX_PARAGRAPH_LINK_DENSITY:
            return
        if length < BOILERPLATE_LINE_MAX_CHARS and (BOILERPLATE_LINE_RE.match(text) or _DATE_LINE_RE.match(text)):
            return
        self.texts.append(text)
        self.kinds.append(kind)
        self.htmls.append(inner)
        self.seen_chars += length
        self.total_chars += length
        self.total_links += links
        if kind in _LIST_ITEM_KINDS:
            self.total_li += 1
        elif kind == "p":
            self.total_p += 1

    def walk(self, root: LexborNode) -> None:
        self.roots.add(root.mem_id)
        stack: list[tuple[LexborNode, Iterator[LexborNode], tuple[int, ...] | None]] = []
        self._enter(root, stack)
        # flush() empties these lists in place, so the aliases stay good.
        buf, hbuf = self.buf, self.hbuf
        visited = self.visited
        while stack:
            visited += 1
            if visited > MAX_WALKED_NODES or self.raw_chars > MAX_RAW_CHARS:
                self.visited = visited
                self.truncated = True
                return  # a garbage page: keep what was read so far
            node, children, snap = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                self._exit(node, snap)
                continue
            tag = child.tag
            if tag == "-text":
                # Whitespace between blocks (checked without decoding it) only counts inside a line.
                if not buf and child.is_empty_text_node:
                    continue
                value = child.text_content
                if value:
                    if len(value) > MAX_RAW_CHARS:
                        value = value[:MAX_RAW_CHARS]
                    self.raw_chars += len(value)
                    buf.append(value)
                    hbuf.append(escape(value, quote=False) if "&" in value or "<" in value or ">" in value else value)
                    if self.in_link:
                        self.link_chars += len(value.strip())
            elif tag == "br":
                buf.append(_LINE_BREAK)
                hbuf.append("<br>")
            elif tag == "img":
                self._image(child)
            elif tag is None or tag[0] == "-":
                continue
            else:
                self._enter(child, stack)
        self.visited = visited

    def _image(self, node: LexborNode) -> None:
        self.total_img += 1
        attrs = node.attributes
        src = attrs.get("data-src") or attrs.get("src") or ""
        if not src or src.startswith("data:"):
            return
        alt = attrs.get("alt") or ""
        self.hbuf.append(f'<img src="{escape(src)}" alt="{escape(alt)}">')
        # An image alone still ends up in the HTML (see flush).
        if not self.buf:
            self.buf.append("")

    def _enter(
        self, node: LexborNode, stack: list[tuple[LexborNode, Iterator[LexborNode], tuple[int, ...] | None]]
    ) -> None:
        tag = node.tag or ""
        snap: tuple[int, ...] | None = None
        if tag in BLOCK_TAGS:
            self.flush()
            self.kind = PARAGRAPH_KIND.get(tag, "p")
            if tag in ("ul", "ol"):
                self.lists.append(tag)
            elif tag == "li" and self.lists and self.lists[-1] == "ol":
                self.kind = "oli"
            if tag == "pre":
                self.in_pre += 1
            elif tag == "blockquote":
                self.in_quote += 1
            elif tag in CAPTION_TAGS:
                self.in_caption += 1
            # Only a container that may be dropped needs the totals to go back to.
            snap = self._snapshot() if tag in CONDITIONAL_TAGS else _BLOCK
        elif tag == "a":
            self.in_link += 1
            href = node.attributes.get("href")
            if href and not href.lower().startswith("javascript:"):
                self.hbuf.append(f'<a href="{escape(href)}">')
            else:
                self.hbuf.append("<a>")
        elif tag in INLINE_HTML_TAGS:
            self.hbuf.append(f"<{tag}>")
        stack.append((node, node.iter(include_text=True), snap))

    def _exit(self, node: LexborNode, snap: tuple[int, ...] | None) -> None:
        tag = node.tag or ""
        if snap is not None:
            self.flush()
            if tag == "pre":
                self.in_pre -= 1
            elif tag == "blockquote":
                self.in_quote -= 1
            elif tag in CAPTION_TAGS:
                self.in_caption -= 1
            elif tag in ("ul", "ol") and self.lists:
                self.lists.pop()
            self.kind = "p"
            if (
                self.conditional
                and tag in CONDITIONAL_TAGS
                and node.mem_id not in self.roots
                and self._should_drop(node, tag, snap)
            ):
                start = snap[0]
                del self.texts[start:]
                del self.kinds[start:]
                del self.htmls[start:]
                (_, self.total_chars, self.total_links, self.total_p, self.total_li, self.total_img) = snap
        elif tag == "a":
            self.in_link -= 1
            self.hbuf.append("</a>")
        elif tag in INLINE_HTML_TAGS:
            self.hbuf.append(f"</{tag}>")

    def _should_drop(self, node: LexborNode, tag: str, snap: tuple[int, ...]) -> bool:
        """Readability's clean-conditionally test of a container, from what it produced."""
        chars = self.total_chars - snap[1]
        if chars == 0:
            return False
        links = self.total_links - snap[2]
        n_p = self.total_p - snap[3]
        n_li = self.total_li - snap[4]
        n_img = self.total_img - snap[5]
        weight = self.weights.get(node.mem_id, 0.0)
        if weight < 0:
            return True
        density = links / chars
        if n_img > 1 and n_p * 2 < n_img and chars < GALLERY_MAX_CHARS:
            return True
        if tag not in ("ul", "ol", "dl") and n_li > n_p and density > LIST_CONTAINER_MAX_LINK_DENSITY:
            return True
        if weight < CLASS_WEIGHT:
            return density > CONTAINER_MAX_LINK_DENSITY and chars < CONTAINER_SHORT_CHARS
        return density > CONTENT_CONTAINER_MAX_LINK_DENSITY

    def result(self) -> tuple[list[str], list[str], list[str]]:
        """Return (paragraph texts, kinds, inner HTML) with every text cleaned by clean_text."""
        self.flush()
        if not self.texts:
            return [], [], []
        # Lines come out of flush() with their spaces collapsed: most need nothing more (checked at
        # C speed), the others go through clean_text.
        cleaned = [
            t
            if t.isprintable() and "&" not in t and (t.isascii() or unicodedata.is_normalized("NFC", t))
            else clean_text(t.replace(_LINE_BREAK, "\n"), multiline=True)
            for t in self.texts
        ]
        texts: list[str] = []
        kinds: list[str] = []
        htmls: list[str] = []
        for text, kind, inner in zip(cleaned, self.kinds, self.htmls, strict=True):
            text = text.strip()
            if kind == "img":
                htmls.append(inner)
                kinds.append(kind)
                texts.append("")
                continue
            if not text:
                continue
            # A blank line (two <br>) inside a block separates paragraphs too.
            parts = [text] if kind == "pre" else [p.strip() for p in _BLANK_LINE_RE.split(text) if p.strip()]
            for part in parts:
                texts.append(part)
                kinds.append(kind)
                htmls.append(inner if len(parts) == 1 else escape(part, quote=False))
        _drop_empty_sections(texts, kinds, htmls)
        return texts, kinds, htmls


def _drop_empty_sections(texts: list[str], kinds: list[str], htmls: list[str]) -> None:
    """Drop headings that head nothing: the last paragraphs, or followed by a heading of their level or above.

    What such a heading announced ("Related stories", "Comments") was removed as boilerplate.
    """
    keep: list[bool] = [True] * len(kinds)
    following_level = 1  # the end of the body closes every section
    for index in range(len(kinds) - 1, -1, -1):
        level = HEADING_LEVEL.get(kinds[index])
        if level is None:
            if kinds[index] != "img":
                following_level = 99
            continue
        if following_level <= level:
            keep[index] = False
        else:
            following_level = level
    if all(keep):
        return
    texts[:] = [t for t, k in zip(texts, keep, strict=True) if k]
    kinds[:] = [t for t, k in zip(kinds, keep, strict=True) if k]
    htmls[:] = [t for t, k in zip(htmls, keep, strict=True) if k]


# The snapshot of a block that is never dropped: it only marks the element as a block.
_BLOCK: tuple[int, ...] = ()

# Paragraph kinds of list items, and the list element that holds them.
_LIST_ITEM_KINDS = {"li": "ul", "oli": "ol"}


def _render_html(kinds: list[str], htmls: list[str]) -> str:
    out: list[str] = []
    in_list = ""  # "ul" or "ol" while a list is open
    in_quote = False
    for kind, inner in zip(kinds, htmls, strict=True):
        inner = inner.strip()
        list_tag = _LIST_ITEM_KINDS.get(kind, "")
        if in_list and list_tag != in_list:
            out.append(f"</{in_list}>")
            in_list = ""
        if kind != "blockquote" and in_quote:
            out.append("</blockquote>")
            in_quote = False
        if list_tag:
            if not in_list:
                out.append(f"<{list_tag}>")
                in_list = list_tag
            out.append(f"<li>{inner}</li>")
        elif kind == "blockquote":
            if not in_quote:
                out.append("<blockquote>")
                in_quote = True
            out.append(f"<p>{inner}</p>")
        elif kind == "img":
            out.append(f"<figure>{inner}</figure>")
        else:
            out.append(f"<{kind}>{inner}</{kind}>")
    if in_list:
        out.append(f"</{in_list}>")
    if in_quote:
        out.append("</blockquote>")
    return "".join(out)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _walk(nodes: list[LexborNode], weights: dict[int, float]) -> _Walker:
    """Read `nodes` in order; read them again without dropping containers if that dropped most of their text."""
    walker = _Walker(weights)
    for node in nodes:
        walker.walk(node)
    if not walker.truncated and walker.total_chars < walker.seen_chars * MIN_KEPT_SHARE:
        walker = _Walker(weights, conditional=False)
        for node in nodes:
            walker.walk(node)
    return walker


def _to_body(walker: _Walker, source: str) -> Body:
    texts, kinds, htmls = walker.result()
    paragraphs = tuple(t for t in texts if t)
    if not paragraphs:
        return Body((), "", source)
    return Body(paragraphs, _render_html(kinds, htmls), source)


def _walk_to_body(nodes: list[LexborNode], weights: dict[int, float], source: str) -> Body:
    return _to_body(_walk(nodes, weights), source)


def _extract_dom(tree: LexborHTMLParser) -> Body:
    root = tree.body or tree.root
    if root is None:
        return EMPTY_BODY
    leads: list[LexborNode] = []
    weights, page_prose = _remove_boilerplate(root, leads)
    picked = _pick(root, weights)
    if leads:
        picked[:0] = _leads_before(picked, leads, root)
    walker = _walk(picked, weights)
    # The prose left after removal is at most the page's prose measured before it.
    if walker.total_chars < page_prose * FALLBACK_SHARE:
        prose = _prose(root)
        if walker.total_chars < prose * FALLBACK_SHARE:
            walker = _walk([_prose_container(root, picked[-1], prose)], weights)
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
        for node in reversed(root.css(_JUNK_SELECTOR)):
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
