"""The article's view counter, precision first: structured data, then a counter a reader sees in the header line."""

from __future__ import annotations

import re
from functools import cache
from typing import Any, NamedTuple

from selectolax.lexbor import LexborNode

from scraper import wordlists
from scraper.models import Origin
from scraper.parse import css
from scraper.parse.pagedates import following_texts, is_elsewhere

#: A count as pages print it: "2329", "2 329", "2,329", "12,5K", "1.2 тыс.", "3 млн".
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f\u2009.,]\d{3})+|\d+(?:[.,]\d+)?"
_UNIT = r"(?:\s?(?:тыс\.?|млн\.?|мың|mln|mio\.?|mil|bin|k|к|m|м)(?![^\W\d_]))?"
_COUNT = re.compile(rf"(?<![\d.,:/])(?:{_NUMBER}){_UNIT}(?![\d:/])", re.IGNORECASE)
_BARE_COUNT = re.compile(rf"^\s*(?:{_NUMBER}){_UNIT}\s*$", re.IGNORECASE)
#: A bare number that is a year, a time or a date is not a counter.
_NOT_A_COUNT = re.compile(r"^\s*(?:\d{1,2}[:.]\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})\s*$")
_ICON_TAGS = frozenset({"svg", "i", "img", "span", "use", "em"})
_INTERACTION_TYPES = ("ReadAction", "WatchAction", "ViewAction")
#: schema.org's older form, still in many templates: interactionCount "UserPageVisits:2329" (visits of the page).
_PAGE_VISITS = re.compile(r"\s*UserPageVisits\s*:\s*(\d+)\s*", re.IGNORECASE)
#: An eye emoji before a number is its icon.
_EYE = "👁"
#: How far from its label a count may stand, in characters.
_LABEL_GAP = 24


class ViewsFound(NamedTuple):
    """A view counter as printed, with where it came from."""

    raw: str
    origin: Origin
    detail: str


class _Vocabulary(NamedTuple):
    label: re.Pattern[str]
    label_before: re.Pattern[str]
    label_after: re.Pattern[str]
    classes: re.Pattern[str]
    other_counts: re.Pattern[str]
    icons: re.Pattern[str]


@cache
def _vocabulary() -> _Vocabulary:
    data = wordlists.load("view_labels")
    labels, classes = wordlists.alternation(data["labels"]), wordlists.alternation(data["classes"])
    other_counts = wordlists.alternation(data["other_counts"])
    icons, times = wordlists.alternation(data["icons"]), wordlists.alternation(data["times"])
    word = rf"(?<![^\W\d_])(?:{labels})[^\W\d_]*\.?"
    return _Vocabulary(
        re.compile(word, re.IGNORECASE),
        # "Просмотры: 2 329", "Views 1.2K"
        re.compile(rf"{word}\s*[:：]?\s*(?P<count>{_COUNT.pattern})", re.IGNORECASE),
        # "2 329 просмотров", "1.2K views"
        re.compile(rf"(?P<count>{_COUNT.pattern})\s*(?:(?:{times})\s+)?{word}", re.IGNORECASE),
        re.compile(rf"(?:^|[\s_-])(?:{classes})(?:$|[\s_-]|s\b|count)", re.IGNORECASE),
        re.compile(rf"(?:^|[\s_-])(?:{other_counts})", re.IGNORECASE),
        re.compile(rf"(?:{icons})", re.IGNORECASE),
    )


def labeled_count(text: str) -> str | None:
    """The count a view label names in `text` ("Просмотры: 2 329", "1.2K views"), as printed."""
    vocabulary = _vocabulary()
    if not vocabulary.label.search(text):
        return None
    found = vocabulary.label_before.search(text) or vocabulary.label_after.search(text)
    return found.group("count").strip() if found else None


#: A counter line is short: its label, its count, and at most one more word ("Количество просмотров: 2329").
_COUNTER_LINE_MAX_CHARS = 60
_LINE_WORD = re.compile(r"[^\W_]+")


def is_counter_line(text: str) -> bool:
    """Whether `text` is only a labeled view count ("Просмотров: 2 329", "2329 переглядів"), no sentence."""
    if len(text) > _COUNTER_LINE_MAX_CHARS:
        return False
    vocabulary = _vocabulary()
    if not vocabulary.label.search(text):
        return False
    found = vocabulary.label_before.search(text) or vocabulary.label_after.search(text)
    if found is None:
        return False
    rest = _LINE_WORD.findall(text[: found.start()] + " " + text[found.end() :])
    return len(rest) <= 1 and not any(word.isdigit() for word in rest)


def structured_views(jsonld_objects: list[dict[str, Any]]) -> ViewsFound | None:
    """A read, watch or view count from JSON-LD interactionStatistic, or its older interactionCount UserPageVisits."""
    for item in jsonld_objects:
        legacy = item.get("interactionCount")
        if isinstance(legacy, str) and (visits := _PAGE_VISITS.fullmatch(legacy)):
            return ViewsFound(visits.group(1), Origin.JSONLD, "JSON-LD interactionCount UserPageVisits")
        statistics = item.get("interactionStatistic")
        for counter in statistics if isinstance(statistics, list) else [statistics]:
            if not isinstance(counter, dict):
                continue
            kind = counter.get("interactionType")
            kind_text = str(kind.get("@type", "") if isinstance(kind, dict) else kind or "")
            count = counter.get("userInteractionCount")
            known = any(name in kind_text for name in _INTERACTION_TYPES)
            if known and isinstance(count, (int, str)) and str(count).strip().isdigit():
                return ViewsFound(str(count).strip(), Origin.JSONLD, f"JSON-LD interactionStatistic {kind_text}")
    return None


_MICRODATA_QUERY = '[itemprop="interactionStatistic"], [itemprop="interactionCount"]'


def microdata_views(root: LexborNode | None) -> ViewsFound | None:
    """A view count in microdata: an interactionStatistic with a read, watch or view action, or UserPageVisits."""
    for node in css.every(root, _MICRODATA_QUERY):
        if node.attributes.get("itemprop") == "interactionCount":
            visits = _PAGE_VISITS.fullmatch(node.attributes.get("content") or node.text() or "")
            if visits:
                return ViewsFound(visits.group(1), Origin.META, "microdata interactionCount UserPageVisits")
            continue
        kind = css.first(node, '[itemprop="interactionType"]')
        count = css.first(node, '[itemprop="userInteractionCount"]')
        if kind is None or count is None:
            continue
        kind_text = kind.attributes.get("content") or kind.attributes.get("href") or kind.text()
        value = count.attributes.get("content") or count.text()
        if any(name in (kind_text or "") for name in _INTERACTION_TYPES) and value and value.strip().isdigit():
            return ViewsFound(value.strip(), Origin.META, "microdata interactionStatistic")
    return None


def _attribute_words(node: LexborNode) -> str:
    attrs = node.attributes
    return " ".join(value for key in ("class", "id", "aria-label", "title", "data-type") if (value := attrs.get(key)))


def _says_views(node: LexborNode) -> bool:
    """Whether the element's class, id, aria-label or title says it counts views, and not likes or comments."""
    words = _attribute_words(node)
    vocabulary = _vocabulary()
    if not words or vocabulary.other_counts.search(words):
        return False
    return bool(vocabulary.classes.search(words) or vocabulary.label.search(words))


def _counts_something_else(node: LexborNode) -> bool:
    """Whether the element's class or id says it counts likes, comments, shares (a "counters" box holds those too)."""
    return _vocabulary().other_counts.search(_attribute_words(node)) is not None


def _draws_eye(node: LexborNode) -> bool:
    """Whether an icon element draws an eye: its class, its <use href>, its image or its emoji."""
    vocabulary = _vocabulary()
    for inner in node.traverse():
        attrs = inner.attributes
        for key in ("class", "href", "xlink:href", "src", "alt", "data-icon", "name"):
            value = attrs.get(key)
            if value and vocabulary.icons.search(value):
                return True
    return False


def _icon_before(node: LexborNode) -> bool:
    """Whether an eye icon stands right before the text of `node` (inside it, or as its previous sibling)."""
    first = node.first_child
    while first is not None and first.tag == "-text" and not (first.text_content or "").strip():
        first = first.next
    if first is not None and first.tag in _ICON_TAGS and first.tag != "-text" and _draws_eye(first):
        return True
    previous = node.prev
    while previous is not None and previous.tag == "-text" and not (previous.text_content or "").strip():
        previous = previous.prev
    if previous is not None and previous.tag in _ICON_TAGS and _draws_eye(previous):
        return True
    text = node.text(deep=False) or ""
    return _EYE in text


def _near_date(node: LexborNode, texts: list[tuple[LexborNode, str]], index: int, is_date: Any) -> bool:
    """Whether a date stands beside the piece at `index` in the same line (its parent or grandparent element)."""
    containers = [c for c in (node.parent, node.parent.parent if node.parent is not None else None) if c is not None]
    for other_index in range(max(0, index - 3), min(len(texts), index + 3)):
        if other_index == index:
            continue
        other, text = texts[other_index]
        if not is_date(text):
            continue
        current: LexborNode | None = other
        for _ in range(3):
            if current is None:
                break
            if any(current.mem_id == container.mem_id for container in containers):
                return True
            current = current.parent
    return False


def header_views(texts: list[tuple[LexborNode, str]], is_date: Any, headline: LexborNode | None) -> ViewsFound | None:
    """A counter in the header line: labeled, marked by class or eye icon, or a bare number beside the date.

    `is_date` tells whether a text piece is a date. A counter of another item (a sidebar's, a related
    article's) is passed over: the header zone runs on where the body's paragraphs are short.
    """
    for index, (node, _) in enumerate(texts):
        found = _header_counter(texts, index, is_date)
        if found is not None and not _belongs_elsewhere(node, headline):
            return found
    return None


def _header_counter(texts: list[tuple[LexborNode, str]], index: int, is_date: Any) -> ViewsFound | None:
    """The view count the header line's piece at `index` shows, if it is one (wherever its element sits)."""
    node, text = texts[index]
    count = labeled_count(text)
    if count is None and index + 1 < len(texts) and _vocabulary().label.fullmatch(text.strip(" :")):
        following = texts[index + 1][1]
        if _BARE_COUNT.match(following):
            count = following.strip()
    if count is not None:
        return ViewsFound(count, Origin.HEADER, "a view label in the header line")
    # An eye emoji in the number's own text ("👁 2329") is its icon.
    eye = text.lstrip().startswith(_EYE)
    if eye:
        text = text.lstrip().removeprefix(_EYE).lstrip("\ufe0f ")
    if not _BARE_COUNT.match(text) or _NOT_A_COUNT.match(text) or _counts_something_else(node):
        return None
    if _says_views(node) or (node.parent is not None and _says_views(node.parent)):
        return ViewsFound(text.strip(), Origin.HEADER, "a counter marked as views in the header line")
    if eye or _icon_before(node):
        return ViewsFound(text.strip(), Origin.HEADER, "a number beside an eye icon in the header line")
    if _near_date(node, texts, index, is_date) and not _looks_like_year(text):
        return ViewsFound(text.strip(), Origin.HEADER, "a bare number beside the date in the header line")
    return None


def _looks_like_year(text: str) -> bool:
    stripped = text.strip()
    return len(stripped) == 4 and stripped.isdigit() and 1990 <= int(stripped) <= 2100


#: Text pieces after the headline looked at for a labeled counter.
_ARTICLE_PIECES = 400
_COUNTER_QUERY = ", ".join(
    (
        "[class*=view i]",
        "[id*=view i]",
        "[class*=count i]",
        "[class*=hits i]",
        "[class*=reads i]",
        "[class*=prosmotr i]",
        "[aria-label]",
        "[title]",
    )
)


def page_views(root: LexborNode | None, headline: LexborNode | None) -> ViewsFound | None:
    """A counter marked as views anywhere in the article (its footer line, say), never in another item's block."""
    for node in css.every(root, _COUNTER_QUERY):
        if node.tag in ("a", "button", "input", "select", "option", "textarea", "html", "body"):
            continue
        text = " ".join(node.text(deep=True, separator=" ").split())
        if not text or len(text) > 60:
            continue
        count = labeled_count(text)
        detail = "a view label"
        if count is None and _says_views(node) and _BARE_COUNT.match(text) and not _NOT_A_COUNT.match(text):
            count, detail = text, "an element marked as views"
        if count is None:
            continue
        if _belongs_elsewhere(node, headline):
            continue
        return ViewsFound(count, Origin.DOM, detail)
    if headline is not None:
        # A labeled counter without markup of its own, in the article's footer line.
        for node, text in following_texts(headline, _ARTICLE_PIECES):
            if len(text) > 60 or not any(c.isdigit() for c in text):
                continue
            count = labeled_count(text)
            if count is not None and not _belongs_elsewhere(node, headline):
                return ViewsFound(count, Origin.DOM, "a view label after the headline")
    return None


def _belongs_elsewhere(node: LexborNode, headline: LexborNode | None) -> bool:
    """Whether a counter is another item's: in a sidebar, comments or a related list, or a list item or card
    that links to another article (those carry their own counters)."""
    return _in_other_item(node) or is_elsewhere(node, headline)


def _in_other_item(node: LexborNode) -> bool:
    # A list item is another item's when it links somewhere; a header line laid out as a list links nowhere.
    current = node.parent
    for _ in range(4):
        if current is None or current.tag in ("article", "main", "body"):
            return False
        if current.tag == "a":
            return True
        if current.tag == "li":
            return css.first(current, "a[href]") is not None
        current = current.parent
    return False
