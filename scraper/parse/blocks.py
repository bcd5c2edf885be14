"""Split an article container into paragraph texts, in document order."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from scraper.text import clean_text

#: Elements that are one paragraph each, whatever is inside.
LEAF_BLOCKS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd", "figcaption", "caption", "li", "tr"}
)
#: Elements that hold blocks or text; read through.
CONTAINERS = frozenset(
    {
        "div",
        "section",
        "article",
        "main",
        "figure",
        "blockquote",
        "center",
        "details",
        "aside",
        "header",
        "footer",
        "ul",
        "ol",
        "dl",
        "table",
        "thead",
        "tbody",
        "tfoot",
    }
)
#: Never text of an article.
SKIPPED = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "form",
        "button",
        "input",
        "select",
        "textarea",
        "nav",
        "video",
        "audio",
        "canvas",
        "-comment",
    }
)


def _flush(run: list[str], texts: list[str]) -> None:
    if run:
        text = clean_text("".join(run))
        if text:
            texts.append(text)
        run.clear()


def _walk(node: LexborNode, texts: list[str]) -> None:
    # Inline content between blocks (text, links, <b>...) forms a paragraph of its own;
    # a <br> inside it starts a new one, as a reader sees it.
    run: list[str] = []
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag in LEAF_BLOCKS:
            _flush(run, texts)
            text = clean_text(child.text(deep=True))
            if text:
                texts.append(text)
        elif tag in CONTAINERS:
            _flush(run, texts)
            _walk(child, texts)
        elif tag == "br":
            _flush(run, texts)
        elif tag == "-text":
            content = child.text_content
            if content and (run or not content.isspace()):
                run.append(content)
        elif tag not in SKIPPED:
            run.append(child.text(deep=True))
    _flush(run, texts)


def split_blocks(container: LexborNode) -> list[str]:
    """Return the cleaned paragraphs of `container` in order; nested containers are read through."""
    texts: list[str] = []
    _walk(container, texts)
    return texts
