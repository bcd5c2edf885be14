"""Read the chosen containers into paragraphs and an HTML fragment of them, dropping what reads as boilerplate."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from html import escape

from selectolax.lexbor import LexborNode

from scraper.elements import BARE_INLINE, BLOCK_TAGS, CAPTIONS, HEADING_LEVEL
from scraper.parse import vocabulary
from scraper.parse.boilerplate import CLASS_WEIGHT
from scraper.parse.volatile import changes_every_visit
from scraper.text import clean_text

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

# Work limits on a garbage page: nodes read, characters of source text read (whitespace included).
MAX_WALKED_NODES = 100_000
MAX_RAW_CHARS = 2_000_000

# Paragraph-level boilerplate, tested on short paragraphs only: the whole line is a
# UI label ("Advertisement", "Image 1 of 5", "Наверх"), or it opens with a call to
# action or a cross-link lead-in ("Read more:", "Subscribe to", "Читайте также"), in
# the languages of scraper/parse/vocab/phrases.toml.
BOILERPLATE_LINE_RE = re.compile(vocabulary.boilerplate_line_pattern(), re.IGNORECASE)
# A line that is only a date written in digits (03.04.2020, 2020-04-03, 4/3/20), with or without
# a time: the article's timestamp, in any language.
_DATE_LINE_RE = re.compile(r"^\W*\d{1,4}([./-])\d{1,2}\1\d{1,4}(?:[,\s]+\d{1,2}[:.]\d{2}(?::\d{2})?)?\W*$")
_FIRST_WORDS = vocabulary.first_words()
_FIRST_WORD_RE = re.compile(r"[\W_]*([^\W_]+)")


def _phrase_line(text: str) -> bool:
    """Whether a short line is a UI label, a cross-link lead-in or a bare date (most lines are ruled
    out by their first word alone)."""
    first = _FIRST_WORD_RE.match(text)
    if first is not None:
        word = first.group(1)
        if word.isdigit():
            return _DATE_LINE_RE.match(text) is not None or BOILERPLATE_LINE_RE.match(text) is not None
        if word.lower() not in _FIRST_WORDS:
            return False
    return BOILERPLATE_LINE_RE.match(text) is not None


def _boilerplate_line(text: str) -> bool:
    """Whether a short line is boilerplate: a phrase line, or a line that changes on every visit."""
    return _phrase_line(text) or changes_every_visit(text)


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


class Reader:
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
        if self.in_pre:
            text = raw.strip()
        elif raw.isprintable() and "  " not in raw and raw[:1] != " " and raw[-1:] != " ":
            # Printable text has no whitespace but the ASCII space (every other kind is a control or
            # a separator): single inner spaces are the collapsed form already, checked at C speed.
            text = raw
        else:
            text = " ".join(raw.split())
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
        if length < BOILERPLATE_LINE_MAX_CHARS and _boilerplate_line(text):
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
        stack: list[_Open] = []
        self._enter(root, root.tag or "", stack)
        # flush() empties these lists in place, so the aliases stay good.
        buf, hbuf = self.buf, self.hbuf
        visited = self.visited
        raw_chars = self.raw_chars  # only this loop adds to it
        while stack:
            visited += 1
            if visited > MAX_WALKED_NODES or raw_chars > MAX_RAW_CHARS:
                self.visited = visited
                self.raw_chars = raw_chars
                self.truncated = True
                return  # a garbage page: keep what was read so far
            top = stack[-1]
            child = next(top[1], None)
            if child is None:
                stack.pop()
                node, _, snap, open_tag = top
                if snap is not None:
                    self._exit(node, open_tag, snap)
                elif open_tag in INLINE_HTML_TAGS:  # kept emphasis closes here (links in _exit)
                    hbuf.append(_CLOSING[open_tag])
                elif open_tag == "a":
                    self._exit(node, open_tag, snap)
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
                    raw_chars += len(value)
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
            elif tag in INLINE_HTML_TAGS:  # kept emphasis: its tag, no attributes (blocks and links in _enter)
                hbuf.append(_OPENING[tag])
                stack.append((child, child.iter(include_text=True), None, tag))
            elif (
                tag in _PLAIN_BLOCKS
                and (first := child.first_child) is not None
                and first.is_text_node
                and first.next is None
            ):
                # A block holding one text node and nothing else (most paragraphs and headings): entered as
                # _enter would, and its one child read by the walk without asking Lexbor for its children.
                if buf:
                    self.flush()
                self.kind = PARAGRAPH_KIND.get(tag, "p")
                stack.append((child, iter((first,)), _BLOCK, tag))
            elif tag in BLOCK_TAGS or tag == "a":
                self._enter(child, tag, stack)
            else:  # an inline element that leaves no mark (span, font, ...): only its content counts
                stack.append((child, child.iter(include_text=True), None, tag))
        self.visited = visited
        self.raw_chars = raw_chars

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

    def _enter(self, node: LexborNode, tag: str, stack: list[_Open]) -> None:
        snap: tuple[int, ...] | None = None
        if tag in BLOCK_TAGS:
            if self.buf:
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
            if tag in CONDITIONAL_TAGS:
                snap = (
                    len(self.texts),
                    self.total_chars,
                    self.total_links,
                    self.total_p,
                    self.total_li,
                    self.total_img,
                )
            else:
                snap = _BLOCK
        elif tag == "a":
            self.in_link += 1
            href = node.attributes.get("href")
            if href and not href.lower().startswith("javascript:"):
                self.hbuf.append(f'<a href="{escape(href)}">')
            else:
                self.hbuf.append("<a>")
        elif tag in INLINE_HTML_TAGS:
            self.hbuf.append(f"<{tag}>")
        stack.append((node, node.iter(include_text=True), snap, tag))

    def _exit(self, node: LexborNode, tag: str, snap: tuple[int, ...] | None) -> None:
        if snap is not None:
            if self.buf:
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
            # A blank line (two <br>) inside a block separates paragraphs too; a text without a line break
            # (most: flush() collapsed its whitespace) is one paragraph as it is.
            if kind == "pre" or "\n" not in text:
                parts = [text]
            else:
                parts = [p.strip() for p in _BLANK_LINE_RE.split(text) if p.strip()]
            for part in parts:
                texts.append(part)
                kinds.append(kind)
                htmls.append(inner if len(parts) == 1 else escape(part, quote=False))
        _drop_empty_sections(texts, kinds, htmls)
        return texts, kinds, htmls


def _drop_empty_sections(texts: list[str], kinds: list[str], htmls: list[str]) -> None:
    """Remove the headings that head nothing: the last paragraphs, or followed by a heading of their level
    or above. What such a heading announced ("Related stories", "Comments") was removed as boilerplate.
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


# An element open in the walk: the node, its children still to read, its snapshot (None for an
# inline element), its tag.
_Open = tuple[LexborNode, Iterator[LexborNode], tuple[int, ...] | None, str]
# Blocks whose entering and leaving only end the running line and set the paragraph kind: neither a list,
# nor preformatted, a quote or a caption, nor a container that may be dropped.
_PLAIN_BLOCKS = BLOCK_TAGS - CONDITIONAL_TAGS - CAPTION_TAGS - {"ul", "ol", "li", "pre", "blockquote"}

# The markup of kept emphasis, written once.
_OPENING = {tag: f"<{tag}>" for tag in INLINE_HTML_TAGS}
_CLOSING = {tag: f"</{tag}>" for tag in INLINE_HTML_TAGS}

# The snapshot of a block that is never dropped: it only marks the element as a block.
_BLOCK: tuple[int, ...] = ()

# Paragraph kinds of list items, and the list element that holds them.
_LIST_ITEM_KINDS = {"li": "ul", "oli": "ol"}


def render_html(kinds: list[str], htmls: list[str]) -> str:
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


def read(nodes: list[LexborNode], weights: dict[int, float]) -> Reader:
    """Read `nodes` in order; read them again without dropping containers if that dropped most of their text."""
    walker = Reader(weights)
    for node in nodes:
        walker.walk(node)
    if not walker.truncated and walker.total_chars < walker.seen_chars * MIN_KEPT_SHARE:
        walker = Reader(weights, conditional=False)
        for node in nodes:
            walker.walk(node)
    return walker
