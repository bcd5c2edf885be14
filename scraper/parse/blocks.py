"""Split an article container into paragraphs: their text, and their HTML as body parts, in order."""

from __future__ import annotations

import re
from collections.abc import Iterable

from selectolax.lexbor import LexborNode

from scraper.elements import BARE_INLINE, CONTAINER_BLOCKS, NEVER_TEXT, TEXT_BLOCKS
from scraper.models import BodyPart
from scraper.parse import volatile
from scraper.sanitize import escape_text
from scraper.text import clean_text

#: Elements that are one paragraph each, whatever is inside.
LEAF_BLOCKS = TEXT_BLOCKS
#: Never text of an article: dropped with what they hold (forms and menus too, in a container already chosen).
SKIPPED = NEVER_TEXT | {"form", "nav", "-comment"}
#: Elements that hold blocks or text; read through.
CONTAINERS = CONTAINER_BLOCKS - SKIPPED


#: Plain-text blocks keep their own tag when it is allowed in body_html; others become paragraphs.
_TEXT_TAGS = {"h1": "h2", "h2": "h2", "h3": "h3", "h4": "h4", "h5": "h5", "h6": "h6", "pre": "pre"}
#: Containers whose structure matters (lists, quotes, tables): their markup is kept whole.
_STRUCTURED = frozenset({"ul", "ol", "dl", "blockquote", "table"})
#: Blocks nh3 keeps as they are: when they hold only text and bare inline tags, the parser writes their markup.
_BARE_BLOCKS = frozenset({"p", "h2", "h3", "h4", "h5", "h6"})
#: Characters parsers may treat differently in text; a block holding any goes through nh3.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _bare_markup(nodes: Iterable[LexborNode]) -> str | None:
    """The markup of `nodes` if they are text and bare inline tags only, written as nh3 would; else None."""
    pieces = []
    for node in nodes:
        tag = node.tag
        if tag == "-text":
            text = node.text_content or ""
            if _CONTROL.search(text):
                return None
            pieces.append(escape_text(text))
        elif tag in BARE_INLINE:
            inner = _bare_markup(node.iter(include_text=True))
            if inner is None:
                return None
            pieces.append(f"<{tag}>{inner}</{tag}>")
        elif tag == "br":
            pieces.append("<br>")
        elif tag != "-comment":  # nh3 drops comments
            return None
    return "".join(pieces)


def _written_part(tag: str, nodes: Iterable[LexborNode]) -> BodyPart | None:
    """The block `tag` holding `nodes` as markup written here, if they are simple enough; else None (nh3's job)."""
    inner = _bare_markup(nodes)
    return None if inner is None else BodyPart("", f"<{tag}>{inner}</{tag}>", safe=True)


def _flush(run: list[LexborNode], texts: list[str], parts: list[BodyPart]) -> None:
    """Make the inline nodes collected in `run` one paragraph, and empty `run`."""
    raw = "".join(n.text_content or "" if n.is_text_node else n.text(deep=True) for n in run)
    text = clean_text(raw)
    if text and (len(text) > volatile.MAX_CHARS or not volatile.changes_every_visit(text)):
        texts.append(text)
        if all(n.is_text_node for n in run):
            parts.append(BodyPart("p", text))
        else:
            written = _written_part("p", run)
            parts.append(written or BodyPart("", "<p>" + "".join(n.html or "" for n in run) + "</p>"))
    run.clear()


def _walk(node: LexborNode, texts: list[str], parts: list[BodyPart]) -> None:
    # Inline content between blocks (text, links, <b>...) forms a paragraph of its own;
    # a <br> inside it starts a new one, as a reader sees it.
    run: list[LexborNode] = []
    for child in node.iter(include_text=True):
        tag = child.tag
        # Text first: between any two blocks there is usually a whitespace-only text node,
        # which only counts inside a run of inline content (checked without decoding it).
        if tag == "-text":
            if not run and child.is_empty_text_node:
                continue
            content = child.text_content
            if content and (run or not content.isspace()):
                run.append(child)
        elif tag in LEAF_BLOCKS:
            if run:
                _flush(run, texts, parts)
            first = child.first_child
            if first is None:
                continue  # an empty block
            # One text node and nothing else (most paragraphs): that node is the text, and there is
            # no markup to sanitize.
            plain = first.is_text_node and first.next is None
            text = clean_text(first.text_content if plain else child.text(deep=True))
            # A view counter or a relative date is no paragraph: it would make every re-visit an edit (only a
            # short line can be one, and the length is tested here because most paragraphs are longer).
            if text and (len(text) > volatile.MAX_CHARS or not volatile.changes_every_visit(text)):
                texts.append(text)
                if plain:
                    parts.append(BodyPart(_TEXT_TAGS.get(tag, "p"), text, False))
                else:
                    written = _written_part(tag, child.iter(include_text=True)) if tag in _BARE_BLOCKS else None
                    parts.append(written or BodyPart("", child.html or ""))
        elif tag in _STRUCTURED:
            if run:
                _flush(run, texts, parts)
            before = len(texts)
            _walk(child, texts, [])
            if len(texts) > before:
                parts.append(BodyPart("", child.html or ""))
        elif tag in CONTAINERS:
            if run:
                _flush(run, texts, parts)
            _walk(child, texts, parts)
        elif tag == "br":
            if run:
                _flush(run, texts, parts)
        elif tag not in SKIPPED:
            run.append(child)
    if run:
        _flush(run, texts, parts)


def split_blocks(container: LexborNode) -> tuple[list[str], list[BodyPart]]:
    """Return the cleaned paragraphs of `container` in order, and the same blocks as body parts."""
    texts: list[str] = []
    parts: list[BodyPart] = []
    _walk(container, texts, parts)
    return texts, parts
