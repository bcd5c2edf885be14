"""Choose the article's container in a cleaned tree: readability's scoring, split articles, siblings, leads."""

from __future__ import annotations

import itertools
import re

from selectolax.lexbor import LexborNode

from scraper.parse import css
from scraper.parse.measure import Prose, ancestor_ids, link_density

# Elements whose text is scored as a paragraph when choosing the article
# container; divs count with their own text nodes only (sites that use divs
# and <br> instead of <p>).
SCORED_SELECTOR = "p, pre, td, blockquote, div"
# When none of those holds a paragraph, text is looked for in the other
# elements old or odd markup puts it in (<font>/<span> with <br>, bare lists).
FALLBACK_SCORED_SELECTOR = "span, font, li, dd, section, article, main, center, body"
# Elements that count only their own text nodes (their children are scored themselves).
_OWN_TEXT_TAGS = frozenset({"div", "span", "font", "li", "dd", "section", "article", "main", "center", "body"})

# Work limits on a garbage page: paragraphs (and siblings of the winner) scored, characters of
# one paragraph looked at.
MAX_SCORED_PARAGRAPHS = 20_000
MAX_SCORED_CHARS = 20_000

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

# Commas in Latin, Arabic and CJK scripts (counted with str.count, which never builds a list of matches).
_COMMAS = (",", "\u060c", "\uff0c", "\u3001")
_SENTENCE_END_RE = re.compile(r"\.( |$)")


# A lead paragraph joins the body when its common ancestor with the chosen container is at most
# this many levels up, and the nearest ones only: a page rarely has more than a standfirst and a summary.
LEAD_MAX_LEVELS = 4
MAX_LEADS = 2
# A description inside these is a picture's caption, not a lead.
CAPTION_PARENT_TAGS = frozenset({"figure", "figcaption", "picture"})
# The prose fallback reads the nearest ancestor of the chosen container holding this share of the prose.
PROSE_CONTAINER_SHARE = 0.8


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
    # The candidates a paragraph's score goes to, by the paragraph's parent: siblings share them,
    # so each chain of ancestors is walked once.
    chains: dict[int, list[_Candidate]] = {}
    for para in css.every(root, selector)[:MAX_SCORED_PARAGRAPHS]:
        text = para.text(deep=para.tag not in _OWN_TEXT_TAGS)[:MAX_SCORED_CHARS]
        length = len(text.strip())
        if length < MIN_PARAGRAPH_CHARS:
            continue
        commas = min(sum(map(text.count, _COMMAS)), length / MIN_CHARS_PER_COMMA)
        score = 1.0 + commas + min(length / CHARS_PER_POINT, MAX_LENGTH_POINTS)
        parent = para.parent
        if parent is None:
            continue
        chain = chains.get(parent.mem_id)
        if chain is None:
            chain = chains[parent.mem_id] = _ancestors(parent, root_id, candidates)
        for level, cand in enumerate(chain):
            cand.score += score if level == 0 else score / 2 if level == 1 else score / (level * 3)
    for key, cand in candidates.items():
        weight = weights.get(key, 0.0)
        if weight > 0:
            # A content-like class name helps a container holding text, but cannot make one of a few words win.
            weight = min(weight, cand.score * MAX_CLASS_BONUS_SHARE)
        cand.score += TAG_SCORE.get(cand.node.tag or "", 0.0) + weight
    return candidates


def _ancestors(parent: LexborNode, root_id: int, candidates: dict[int, _Candidate]) -> list[_Candidate]:
    """The candidates from `parent` up SCORE_ANCESTOR_LEVELS levels (not past the root), made as needed."""
    chain: list[_Candidate] = []
    ancestor: LexborNode | None = parent
    while ancestor is not None and len(chain) < SCORE_ANCESTOR_LEVELS:
        key = ancestor.mem_id
        cand = candidates.get(key)
        if cand is None:
            cand = candidates[key] = _Candidate(ancestor, 0.0)
        chain.append(cand)
        if key == root_id:
            break
        ancestor = ancestor.parent
    return chain


def _merge_split_article(
    top: _Candidate, ranked: list[_Candidate], candidates: dict[int, _Candidate], root_id: int
) -> _Candidate:
    """Go up to the common ancestor of the winner and a runner-up of comparable score.

    Articles split in two by an ad slot or a pull-quote wrapper give two
    containers of similar score that are cousins, not siblings; their nearest
    common ancestor (if close) holds the whole article.
    """
    top_chain = ancestor_ids(top.node, root_id)
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


def leads_before(picked: list[LexborNode], leads: list[LexborNode], root: LexborNode) -> list[LexborNode]:
    """The lead paragraphs that sit just before the chosen container: not inside it, close to it, before it."""
    root_id = root.mem_id
    first = picked[0]
    picked_ids = {node.mem_id for node in picked}
    first_chain = ancestor_ids(first, root_id)
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


def choose(root: LexborNode, weights: dict[int, float]) -> list[LexborNode]:
    """Choose the article container (and the siblings that continue it)."""
    candidates = _score_candidates(root, weights)
    if not candidates:
        candidates = _score_candidates(root, weights, FALLBACK_SCORED_SELECTOR)
    if not candidates:
        return [root]
    ranked = sorted(candidates.values(), key=lambda c: c.score, reverse=True)[:TOP_CANDIDATES]
    # The best candidates are mostly nested: each link's text is measured once for all of them.
    link_lengths: dict[int, int] = {}
    for cand in ranked:
        text_len = len(cand.node.text().strip())
        cand.score *= 1.0 - link_density(cand.node, text_len, link_lengths)
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
            if text_len > SIBLING_PARAGRAPH_CHARS and link_density(sib, text_len) < SIBLING_PARAGRAPH_MAX_LINK_DENSITY:
                kept.append(sib)
        elif sib.tag == "p":
            text = sib.text().strip()
            length = len(text)
            density = link_density(sib, length)
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


def prose_container(root: LexborNode, chosen: LexborNode, page_prose: Prose, left: int) -> LexborNode:
    """The nearest ancestor of `chosen` (or itself) holding PROSE_CONTAINER_SHARE of the `left` prose under `root`."""
    totals: dict[int, int] = {}
    root_id = root.mem_id
    lengths = page_prose.lengths
    for para in css.every(root, "p"):
        length = lengths.get(para.mem_id, 0)
        if not length:
            continue
        ancestor = para.parent
        while ancestor is not None:
            key = ancestor.mem_id
            totals[key] = totals.get(key, 0) + length
            if key == root_id:
                break
            ancestor = ancestor.parent
    need = left * PROSE_CONTAINER_SHARE
    # Up from the chosen container: the first element that holds most of the prose.
    current: LexborNode | None = chosen
    while current is not None and current.mem_id != root_id:
        if totals.get(current.mem_id, 0) >= need:
            return current
        current = current.parent
    return root
