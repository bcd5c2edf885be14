"""Dates a reader sees on a page: <time> elements, elements whose markup says date, the header line, the URL."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from typing import NamedTuple
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborNode

from scraper import wordlists
from scraper.dates import ParsedDate, parse_date
from scraper.errors import BadDate
from scraper.models import DateCandidate, DateRole, Origin
from scraper.parse import css

#: Elements that may hold the article's date: <time>, and those whose class, id or itemprop says date.
CUE_QUERY = ", ".join(
    (
        "time",
        "abbr[title]",
        "[itemprop*=date i]",
        "[class*=date i]",
        "[id*=date i]",
        "[class*=time i]",
        "[class*=publish i]",
        "[class*=posted i]",
        "[class*=created i]",
        "[class*=meta i]",
        "[class*=byline i]",
        "[class*=subline i]",
        "[class*=info i]",
        "[class*=datum i]",
        "[class*=fecha i]",
        "[class*=data i]",
        "[class*=stamp i]",
        "[class*=dateline i]",
    )
)
_TIME_QUERY = "time, [itemprop*=date i]"
#: Class or id words of the parts of a page that carry other items' dates: comments, related and
#: popular lists, sidebars, navigation. Short words count only at the start of a word ("nav", not "unavailable").
_ELSEWHERE = re.compile(
    r"comment|related|sidebar|widget|popular|recommend|similar|trending|disqus|newsletter|carousel|slider"
    r"|(?:^|[\s_-])(?:nav|menu|footer|foot|breadcrumbs?|share|promo|advert|ads?(?![a-z])|ticker|feed|latest|archive"
    r"|calendar|reply|replies|respon[sd]|more|most|next|prev|previous|also|other|readmore|read-more|topbar|masthead"
    r"|today|current-?date|weather)",
    re.IGNORECASE,
)
#: Tags of page parts that hold other items; <footer> and <aside> only outside the article.
_ELSEWHERE_TAGS = frozenset({"nav", "aside", "footer", "form", "select", "option", "button", "noscript", "template"})
_INSIDE_ARTICLE_TAGS = frozenset({"aside", "footer"})
#: Class, id or itemprop words that say the element is the publication date, or the modification date.
_PUBLISHED_CUE = re.compile(r"publish|pubdate|posted|created|entry-date|post-date|date-?pub|dateline|erschien", re.I)
_UPDATED_CUE = re.compile(r"updat|modif|edited|changed|revis|lastmod", re.I)
#: How far up the tree an element's place is looked at.
_MAX_DEPTH = 14
#: Text longer than this is prose, not a date line.
_MAX_DATE_TEXT = 200
#: A year-less date in a longer text is a date the text mentions, not the date of the text.
_MAX_YEARLESS_TEXT = 40
#: How many characters before a date a label may stand.
_LABEL_REACH = 40
#: Only recognizing dates here; normalize reads them against the real fetch time.
_ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_UTC = ZoneInfo("UTC")
_URL_DATE = re.compile(
    r"(?<![\d])((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?![\d])"
    r"|/((?:19|20)\d{2})/(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])(?:/|$)"
)
#: Script data that names a publication date outside JSON-LD ("publishDate": "2022-02-08T14:00:00").
_SCRIPT_KEYS = (
    "datePublished",
    "publishDate",
    "publishedDate",
    "published_at",
    "publishedAt",
    "publish_date",
    "pubDate",
    "firstPublished",
    "first_publish_date",
    "dateCreated",
    "uploadDate",
    "ArticlePublishTime",
    "publicationDate",
    "published_time",
)
_SCRIPT_DATE = re.compile(
    r"""["']?\s*[:=,]\s*(?:\(\s*)?["'](\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?)["']"""
)


class _Labels(NamedTuple):
    published: re.Pattern[str]
    updated: re.Pattern[str]


@cache
def _labels() -> _Labels:
    data = wordlists.load("date_labels")
    return _Labels(wordlists.whole_words(data["published"]), wordlists.whole_words(data["updated"]))


def label_role(text: str) -> DateRole:
    """What a label in `text` (the words before a date) says the date is; the label nearest the end wins."""
    labels = _labels()
    published = [found.end() for found in labels.published.finditer(text)]
    updated = [found.end() for found in labels.updated.finditer(text)]
    if not published and not updated:
        return DateRole.PLACED
    return DateRole.UPDATED if max(updated, default=-1) > max(published, default=-1) else DateRole.PUBLISHED


def recognize(text: str, language: str | None) -> ParsedDate | None:
    """Read `text` as a date if it plainly is one (a year, a month name or a relative word); None otherwise."""
    try:
        return parse_date(text, zone=_UTC, now=_ANY_TIME, keep_offset=True, language=language, strict=True)
    except BadDate:
        return None


class _Found(NamedTuple):
    """A date element: its rank in the ordering below, its place in the document, and the candidate."""

    rank: int
    order: int
    candidate: DateCandidate
    #: Relative ("4 minutes ago") or year-less: after the full dates of its rank.
    vague: bool = False


# Ranks, best first (see visible_dates).
_RANK_HEADER, _RANK_MARKED, _RANK_TIME, _RANK_AFTER, _RANK_JUST_BEFORE, _RANK_BEFORE, _RANK_UPDATED = range(7)
#: Text pieces looked at just before the headline (a date line above the title).
_BEFORE_PIECES = 6


def _attributes_text(node: LexborNode) -> str:
    attrs = node.attributes
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''} {attrs.get('itemprop') or ''}"


#: Class or id words of the blocks that list other articles or comments, each with its own date.
_OTHER_ITEMS = re.compile(
    r"comment|related|popular|recommend|similar|trending|teaser|disqus|reply|replies"
    r"|(?:^|[\s_-])(?:more|most|also|next|prev|previous|other|latest|feed|news-?list|list-?news)",
    re.IGNORECASE,
)


def _in_other_items(node: LexborNode, headline: LexborNode | None) -> bool:
    """Whether `node` is in a block of other articles or of comments (below what it shares with the headline)."""
    shared = _ancestor_ids(headline) if headline is not None else set()
    current: LexborNode | None = node
    for _ in range(_MAX_DEPTH):
        if current is None or current.tag in ("body", "html") or current.mem_id in shared:
            return False
        attrs = current.attributes
        if (attrs.get("class") or attrs.get("id")) and _OTHER_ITEMS.search(_attributes_text(current)):
            return True
        current = current.parent
    return False


def _ancestor_ids(node: LexborNode | None) -> set[int]:
    ids = set()
    while node is not None:
        ids.add(node.mem_id)
        node = node.parent
    return ids


def is_elsewhere(node: LexborNode, headline: LexborNode | None = None) -> bool:
    """Tell whether `node` sits in a part of the page that holds other items (comments, related lists, sidebars).

    Only the parts below the element that holds both `node` and the headline count: a block that holds
    the headline is the article's, whatever its class says (a blog's "widget Blog" holds its post).
    """
    shared = _ancestor_ids(headline) if headline is not None else set()
    ancestors: list[LexborNode] = []
    current: LexborNode | None = node
    depth = 0
    while current is not None and current.tag not in ("body", "html") and depth < _MAX_DEPTH:
        if current.mem_id in shared:
            break
        ancestors.append(current)
        current = current.parent
        depth += 1
    in_article = any(a.tag == "article" or a.attributes.get("itemprop") == "articleBody" for a in ancestors)
    while not in_article and current is not None and current.tag not in ("body", "html"):
        in_article = current.tag == "article"
        current = current.parent
    for ancestor in ancestors:
        tag = ancestor.tag
        if tag in _ELSEWHERE_TAGS and not (tag in _INSIDE_ARTICLE_TAGS and in_article):
            return True
        attrs = ancestor.attributes
        if (attrs.get("class") or attrs.get("id")) and _ELSEWHERE.search(_attributes_text(ancestor)):
            own_footer = ancestor.tag not in ("li", "article") and _is_own_footer(ancestor, in_article, headline)
            return not own_footer
    return False


_ARTICLE_WORDS = re.compile(r"article|post|entry|story|news|content|text|material|publication", re.IGNORECASE)


def _is_own_footer(node: LexborNode, in_article: bool, headline: LexborNode | None) -> bool:
    """Whether a block whose class says footer is the article's own footer line (its date, author, counter).

    It is inside an <article>, or its class names an article ("entry-footer"), or it is the footer
    element of the block that holds the headline ("news-full__footer" inside "news-full").
    """
    text = _attributes_text(node).lower()
    if "foot" not in text or "comment" in text or _ELSEWHERE.search(text.replace("footer", "").replace("foot", "")):
        return False
    if in_article or _ARTICLE_WORDS.search(text.replace("content-footer", "")):
        return True
    blocks = {name.split("__", 1)[0] for name in (node.attributes.get("class") or "").split() if "__" in name}
    current = headline
    while blocks and current is not None:
        if blocks & set((current.attributes.get("class") or "").split()):
            return True
        current = current.parent
    return False


def _preceding_text(node: LexborNode) -> str:
    """The text just before `node` in its parent (a label in a sibling: <span>Datum:</span> <span>18.10.2021</span>)."""
    previous = node.prev
    parts: list[str] = []
    while previous is not None and len(parts) < 3:
        text = previous.text(deep=True, separator=" ") if previous.tag != "-comment" else ""
        if text.strip():
            parts.append(text)
            break
        previous = previous.prev
    return " ".join(parts)[-_LABEL_REACH:]


def _role_of(node: LexborNode, text: str, parsed: ParsedDate) -> DateRole:
    before = text[max(0, parsed.start - _LABEL_REACH) : parsed.start]
    role = label_role(before) if before.strip() else label_role(_preceding_text(node))
    if role is not DateRole.PLACED:
        return role
    cues = _attributes_text(node)
    if node.tag == "time" and "pubdate" in node.attributes:
        return DateRole.PUBLISHED
    if _PUBLISHED_CUE.search(cues):
        return DateRole.PUBLISHED
    if _UPDATED_CUE.search(cues):
        return DateRole.UPDATED
    return DateRole.PLACED


def _describe(node: LexborNode) -> str:
    attrs = node.attributes
    name = node.tag or "?"
    if attrs.get("id"):
        name += f"#{attrs['id']}"
    if attrs.get("class"):
        name += "." + ".".join((attrs.get("class") or "").split()[:2])
    return name


def _time_value(node: LexborNode) -> str | None:
    attrs = node.attributes
    value = attrs.get("datetime") or attrs.get("content") or (attrs.get("title") if node.tag == "abbr" else None)
    return value.strip() if value and value.strip()[:1].isdigit() else None


def visible_dates(
    root: LexborNode,
    headline: LexborNode | None,
    header_texts: list[tuple[LexborNode, str]],
    language: str | None,
    *,
    thorough: bool = True,
) -> list[DateCandidate]:
    """The dates a reader sees, best evidence first.

    `headline` is the article's <h1> (dates after it belong to the article, dates before it may be the
    site's); `header_texts` are the text pieces between the headline and the body, in order: a date
    there is the article's first of all. Then come dates the markup calls the publication date,
    <time> elements, other date elements after the headline, a date line just above it, date
    elements before it, and last what the page calls an update. Dates in comments, related lists,
    sidebars and navigation are left out. Without `thorough` (the page has metadata; its visible date
    only refines it) only <time> elements and the header line are read.
    """
    found: list[_Found] = []
    in_header = _header_ids(header_texts)
    headline_id = headline.mem_id if headline is not None else None
    after = headline is None
    heading = headline.tag if headline is not None else "h1"
    nodes = css.every(root, f"{heading}, {CUE_QUERY if thorough else _TIME_QUERY}")
    for order, node in enumerate(nodes):
        if node.mem_id == headline_id:
            after = True
            continue
        if node.tag == heading:
            continue
        raw = _time_value(node) if node.tag in ("time", "abbr") or "itemprop" in node.attributes else None
        text = raw or node.text(deep=True, separator=" ")
        if not text or len(text) > _MAX_DATE_TEXT or (raw is None and not any(c.isdigit() for c in text)):
            continue
        parsed = recognize(text, language)
        if parsed is None or (not parsed.has_year and len(text) > _MAX_YEARLESS_TEXT) or is_elsewhere(node, headline):
            continue
        role = _role_of(node, text, parsed)
        is_time = node.tag == "time" and raw is not None
        if role is DateRole.UPDATED:
            rank = _RANK_UPDATED
        elif after and node.mem_id in in_header:
            rank = _RANK_HEADER
        elif role is DateRole.PUBLISHED:
            rank = _RANK_MARKED
        elif is_time and after:
            rank = _RANK_TIME
        else:
            rank = _RANK_AFTER if after else _RANK_BEFORE
        where = (
            "in the header line" if rank == _RANK_HEADER else ("after the headline" if after else "before the headline")
        )
        detail = f"{'<time datetime>' if is_time else _describe(node)} {where if headline is not None else ''}".strip()
        origin = Origin.TIME if is_time else (Origin.HEADER if rank == _RANK_HEADER else Origin.VISIBLE)
        candidate = DateCandidate(" ".join(text.split()), origin, detail, role)
        found.append(_Found(rank, order if after else -order, candidate, parsed.relative or not parsed.has_year))
    for order, (node, text) in enumerate(header_texts):
        parsed = recognize(text, language)
        if parsed is None or (not parsed.has_year and len(text) > _MAX_YEARLESS_TEXT) or _mentioned(text, parsed):
            continue
        role = _role_of(node, text, parsed)
        rank = _RANK_UPDATED if role is DateRole.UPDATED else _RANK_HEADER
        # After the elements of the header line: a <time datetime> there says the same with its offset.
        candidate = DateCandidate(text, Origin.HEADER, "the header line", role)
        found.append(_Found(rank, len(nodes) + order, candidate, parsed.relative or not parsed.has_year))
    if headline is not None:
        for order, (node, text) in enumerate(preceding_texts(headline, _BEFORE_PIECES)):
            if len(text) > _MAX_DATE_TEXT or not any(c.isdigit() for c in text):
                continue
            parsed = recognize(text, language)
            if parsed is None or is_elsewhere(node, headline):
                continue
            role = _role_of(node, text, parsed)
            rank = _RANK_UPDATED if role is DateRole.UPDATED else _RANK_JUST_BEFORE
            candidate = DateCandidate(" ".join(text.split()), Origin.VISIBLE, "just before the headline", role)
            found.append(_Found(rank, order, candidate))
            break
    # A relative or year-less date outside the header line comes after every full date.
    # Within a rank, a <time datetime> (exact, with its offset) before the text around it.
    found.sort(
        key=lambda item: (
            item.vague and item.rank != _RANK_HEADER,
            item.rank,
            item.vague,
            item.candidate.origin is not Origin.TIME,
            item.order < 0,
            abs(item.order),
        )
    )
    return [item.candidate for item in found]


#: A text of the header zone this long, with more words than this before its date, is a sentence that mentions
#: the date: where the body's paragraphs are short, the zone runs on into them.
_SENTENCE_CHARS = 80
_SENTENCE_WORDS_BEFORE = 6


def _mentioned(text: str, parsed: ParsedDate) -> bool:
    """Whether the date is one a sentence mentions ("возбуждённому ещё 12 марта 2023 года"), not a date line."""
    return len(text) > _SENTENCE_CHARS and len(text[: parsed.start].split()) > _SENTENCE_WORDS_BEFORE


def _header_ids(header_texts: list[tuple[LexborNode, str]]) -> set[int]:
    """The elements holding the header line's texts, and their parents (a <time> around a <span>)."""
    ids = set()
    for node, _text in header_texts:
        ids.add(node.mem_id)
        if node.parent is not None:
            ids.add(node.parent.mem_id)
    return ids


#: Text pieces looked at by the last-resort scan, and the longest one that may be a date line.
_SCAN_PIECES = 3000
_SCAN_TEXT = 100
#: A dateline opens a paragraph: a place of a few words and a mark, then the date, read in a span this long.
_DATELINE_SPAN = 60
_DATELINE_WORDS = 3
_DATELINE_MARKS = frozenset(",(–—-:")
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
#: A time right after a dateline's date, and the bracket closing it: ", 13:45 Uhr)", " в 13:45".
_CLOCK_AFTER = re.compile(r"(?:,?\s*(?:um|в|at|à|alle|às|saat)?\s*\d{1,2}[:.]\d{2}(?:\s*Uhr)?)?\)?")


def text_dates(root: LexborNode, headline: LexborNode | None, language: str | None) -> list[DateCandidate]:
    """The last resort: the first date printed in a short text of the page, after the headline if there is one.

    For pages whose date is neither marked up nor in the header line (a signature under a post).
    """
    start = headline if headline is not None else root
    pieces = following_texts(start, _SCAN_PIECES) if headline is not None else _texts_in(root)
    for node, text in pieces:
        if not any(c.isdigit() for c in text):
            continue
        if len(text) > _SCAN_TEXT:
            # A paragraph is a date line only by its dateline: "Karlsruhe, (12.11.2021). Traditionell …".
            parsed = recognize(text[:_DATELINE_SPAN], language) if headline is not None else None
            if parsed is None or not _is_dateline(text[: parsed.start]):
                continue
            text = _dateline(text, parsed.start)
        parsed = recognize(text, language)
        # Nothing else dates the page: a footer's "Stand: 09.10.2017" will do; another article's date, or one a
        # sentence mentions, will not.
        if parsed is None or not parsed.has_year or parsed.relative:
            continue
        if _mentioned(text, parsed) or _in_other_items(node, headline):
            continue
        role = _role_of(node, text, parsed)
        where = "after the headline" if headline is not None else "in the page"
        return [DateCandidate(" ".join(text.split()), Origin.VISIBLE, f"the first date printed {where}", role)]
    return []


def _is_dateline(before: str) -> bool:
    """Whether what precedes a date opening a paragraph is a dateline's place: nothing, or a few words and a mark.

    "Karlsruhe, (12.11.2021)", "BERLIN (dpa) – 12. März", but not "Der Ministerrat hat am 5. September".
    """
    words = before.split()
    return not words or (len(words) <= _DATELINE_WORDS and before.rstrip()[-1] in _DATELINE_MARKS)


def _dateline(text: str, start: int) -> str:
    """A paragraph's dateline: its place and its date, through the year and a time printed right after it."""
    year = _YEAR.search(text, start, start + _DATELINE_SPAN)
    end = year.end() if year else min(len(text), start + _DATELINE_SPAN // 2)
    clock = _CLOCK_AFTER.match(text, end)
    return text[: clock.end() if clock else end].rstrip(" ,")


def _texts_in(root: LexborNode) -> Iterator[tuple[LexborNode, str]]:
    yield from islice(texts_of(root), _SCAN_PIECES)


def url_dates(urls: Iterable[str | None]) -> list[DateCandidate]:
    """A date in the path of the page's addresses (/2024/03/12/, /20240312/), once each."""
    found: list[DateCandidate] = []
    seen: set[str] = set()
    for url in urls:
        if not url:
            continue
        path = url.split("?", 1)[0].split("#", 1)[0]
        path = path.split("://", 1)[-1].partition("/")[2]
        match = _URL_DATE.search("/" + path)
        if not match:
            continue
        year, month, day = (g for g in match.groups() if g is not None)
        value = f"{year}-{int(month):02d}-{int(day):02d}"
        if value not in seen:
            seen.add(value)
            found.append(DateCandidate(value, Origin.URL, f"the address {url}"))
    return found


def script_dates(html: str) -> list[DateCandidate]:
    """The first publication date named in the page's script data outside JSON-LD."""
    for key in _SCRIPT_KEYS:
        start = html.find(key)
        # A substring search per key is far faster than one pattern over the whole page.
        while start != -1:
            match = _SCRIPT_DATE.match(html, start + len(key), start + len(key) + 80)
            if match:
                return [DateCandidate(match.group(1), Origin.SCRIPT, f"script data {key}")]
            start = html.find(key, start + len(key))
    return []


_SKIPPED_TEXT_PARENTS = frozenset({"script", "style", "noscript", "template", "svg", "title"})


def preceding_texts(node: LexborNode, limit: int, budget: int = 600) -> list[tuple[LexborNode, str]]:
    """The text pieces right before `node` in document order, nearest first, up to `limit` of them.

    At most `budget` nodes are looked at (a long menu before the headline is not worth reading).
    """
    found: list[tuple[LexborNode, str]] = []
    current: LexborNode | None = node
    while current is not None and current.tag not in ("body", "html") and len(found) < limit and budget > 0:
        sibling = current.prev
        while sibling is not None and len(found) < limit and budget > 0:
            pieces = []
            for inner in sibling.traverse(include_text=True):
                budget -= 1
                if budget <= 0:
                    break
                if inner.tag != "-text":
                    continue
                parent = inner.parent
                text = inner.text_content
                if parent is not None and parent.tag not in _SKIPPED_TEXT_PARENTS and text and text.strip():
                    pieces.append((parent, text))
            found.extend(reversed(pieces))
            sibling = sibling.prev
        current = current.parent
    return found[:limit]


def texts_of(node: LexborNode) -> Iterator[tuple[LexborNode, str]]:
    """The text pieces in `node`, in document order, each with the element holding it (no script or style text)."""
    for inner in node.traverse(include_text=True):
        if inner.tag != "-text":
            continue
        parent = inner.parent
        if parent is None or parent.tag in _SKIPPED_TEXT_PARENTS:
            continue
        text = inner.text_content
        if text and text.strip():
            yield parent, text


def following_texts(node: LexborNode, limit: int) -> Iterator[tuple[LexborNode, str]]:
    """The text pieces after `node` in document order (not inside it), up to `limit` of them."""
    yield from islice(_following(node), limit)


def _following(node: LexborNode) -> Iterator[tuple[LexborNode, str]]:
    current: LexborNode | None = node
    while current is not None:
        sibling = current.next
        while sibling is not None:
            yield from texts_of(sibling)
            sibling = sibling.next
        current = current.parent
