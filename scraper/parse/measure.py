"""Measures of an element's text that the body extractor's steps share: prose, link density, ancestry."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

# A <p> counts as prose from this many characters: a sentence or more.
PROSE_PARAGRAPH_CHARS = 80
# Links whose text is measured for a link density (a garbage page's millions of links are sampled).
MAX_LINKS_MEASURED = 5_000

# The end of a sentence, in any script: a full stop, question or exclamation mark, an ellipsis,
# or a closing quotation mark after one of them.
SENTENCE_CLOSE_RE = re.compile("[.!?…。！？؟।][\"'”’»」』)]*$")


def prose(node: LexborNode) -> int:
    """Characters of paragraph text under `node`: <p> elements of sentence length."""
    total = 0
    for para in node.css("p"):
        length = len(para.text().strip())
        if length >= PROSE_PARAGRAPH_CHARS:
            total += length
    return total


def link_density(node: LexborNode, text_len: int) -> float:
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


def ancestor_ids(node: LexborNode, root_id: int) -> list[int]:
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
