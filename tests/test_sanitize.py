"""One authority on safe HTML: what the parser writes itself (its plain-block fast path) is exactly what nh3 returns."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from scraper.elements import BARE_INLINE, BODY_HTML_TAGS
from scraper.models import BodyPart
from scraper.parse.blocks import split_blocks
from scraper.sanitize import ALLOWED_TAGS, escape_text, render_body, sanitize_html

# Pieces of source text: words in several scripts, the characters HTML escapes, entities (named,
# decimal, hex, and a bare "&"), every kind of space, and characters that need care (NBSP,
# zero-width, soft hyphen, bidi controls, C0 controls).
TEXT_PIECES = st.sampled_from(
    [
        "word",
        "Слово",
        "сөз",
        "日本語",
        "كلمة",
        "😀",
        " ",
        "  ",
        "\n",
        "\t",
        "\r\n",
        "&",
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&#39;",
        "&#x27;",
        "&nbsp;",
        "&copy;",
        "&amp;amp;",
        "&notanentity;",
        ">",
        '"',
        "'",
        "\u00a0",
        "\u200b",
        "\u00ad",
        "\u202e",
        "\x01",
        "\x0c",
        "=",
        "/",
    ]
)
TEXT = st.lists(TEXT_PIECES, max_size=8).map("".join)


def _inline(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    tagged = st.tuples(st.sampled_from(sorted(BARE_INLINE)), children).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>")
    return st.lists(st.one_of(TEXT, tagged, st.just("<br>"), st.just("<!-- note -->")), max_size=5).map("".join)


INLINE = st.recursive(TEXT, _inline, max_leaves=12)
BLOCK = st.tuples(st.sampled_from(["p", "h2", "h3", "h4", "h5", "h6"]), INLINE).map(
    lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"
)


def _parts(source: str) -> list[BodyPart]:
    container = LexborHTMLParser(f"<div>{source}</div>").css_first("div")
    assert container is not None
    return split_blocks(container)[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BLOCK)
def test_blocks_the_parser_writes_equal_nh3(source: str) -> None:
    # A block of text and bare emphasis is written by the parser (safe=True) when it has no control
    # character: it must be byte for byte what nh3 makes of the same source.
    for part in _parts(source):
        if part.safe:
            assert part.content == sanitize_html(source)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "li", "dd", "td"]), TEXT)
def test_plain_text_blocks_are_a_fixed_point_of_nh3(tag: str, text: str) -> None:
    # A block holding one text node becomes a plain part (cleaned text under a tag), which render_body
    # escapes into its tag itself: nh3 must leave that markup exactly as it is.
    parts = _parts(f"<{tag}>{text}</{tag}>")
    for part in parts:
        written = render_body([part])
        assert sanitize_html(written) == written


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_escape_text_is_nh3s_escaping(text: str) -> None:
    decoded = LexborHTMLParser(f"<p>{text}</p>").css_first("p")
    assert decoded is not None
    content = decoded.text()
    if any(ord(c) < 32 and c not in "\t\n\r" for c in content):
        return  # control characters go through nh3 (the parser never writes them)
    assert f"<p>{escape_text(content)}</p>" == sanitize_html(f"<p>{escape_text(content)}</p>")


def test_one_tag_vocabulary() -> None:
    # The sanitizer's allow-list is the vocabulary the body's HTML is written in, and the emphasis the
    # parser writes itself is in it.
    assert ALLOWED_TAGS == BODY_HTML_TAGS
    assert BARE_INLINE <= ALLOWED_TAGS
