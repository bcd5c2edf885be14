"""Measures of an element's text that the body extractor's steps share: prose, link density, ancestry."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from scraper.parse import css

# A <p> counts as prose from this many characters: a sentence or more.
PROSE_PARAGRAPH_CHARS = 80
# Links whose text is measured for a link density (a garbage page's millions of links are sampled).
MAX_LINKS_MEASURED = 5_000

# The end of a sentence, in any script: a full stop, question or exclamation mark, an ellipsis,
# or a closing quotation mark after one of them.
SENTENCE_CLOSE_RE = re.compile("[.!?…。！？؟।][\"'”’»」』)]*$")


class Prose:
    """A page's prose, measured once: the length of each <p> of sentence length, by mem_id.

    Measured before boilerplate removal; what is removed later no longer counts, as the
    paragraphs under an element are found anew each time.
    """

    def __init__(self, root: LexborNode) -> None:
        self.lengths: dict[int, int] = {}
        for para in css.every(root, "p"):
            length = len(para.text().strip())
            if length >= PROSE_PARAGRAPH_CHARS:
                self.lengths[para.mem_id] = length
        self.total = sum(self.lengths.values())

    def under(self, node: LexborNode) -> int:
        """Characters of prose under `node` (in the tree as it is now)."""
        lengths = self.lengths
        return sum(lengths.get(para.mem_id, 0) for para in css.every(node, "p"))


def link_density(node: LexborNode, text_len: int, lengths: dict[int, int] | None = None) -> float:
    """Link text over `text_len`; `lengths` keeps each link's text length (by mem_id) for nodes measured in turn."""
    if text_len <= 0:
        return 0.0
    anchors = css.every(node, "a")
    measured = anchors[:MAX_LINKS_MEASURED]
    links = 0
    if lengths is None:
        for a in measured:
            links += len(a.text())
    else:
        for a in measured:
            key = a.mem_id
            length = lengths.get(key)
            if length is None:
                length = lengths[key] = len(a.text())
            links += length
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
