"""HTML element vocabularies, defined once for the block splitter, the body extractor and the sanitizer."""

from __future__ import annotations

#: Elements that never hold text a reader sees as the page's: code, styling, embedded media and
#: widgets, form controls, the document head. Whoever meets one drops it with everything inside.
NEVER_TEXT = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "canvas",
        "audio",
        "video",
        "map",
        "button",
        "select",
        "textarea",
        "input",
        "dialog",
        "link",
        "meta",
        "head",
        "title",
    }
)

#: Void elements: the HTML parser never gives them children, so a walk need not look inside them.
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})

#: Headings, by level.
HEADING_LEVEL = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}

#: Elements that are one paragraph each, whatever inline markup is inside them.
TEXT_BLOCKS = frozenset({"p", "pre", "dt", "dd", "li", "figcaption", "caption", "tr", *HEADING_LEVEL})

#: Elements that hold other blocks (or text); the reader sees a line break at their edges.
CONTAINER_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "details",
        "div",
        "dl",
        "fieldset",
        "figure",
        "footer",
        "form",
        "header",
        "hgroup",
        "html",
        "main",
        "nav",
        "ol",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "ul",
    }
)

#: Every element that ends the running line: the HTML block-level elements, plus <hr> and the table parts.
BLOCK_TAGS = TEXT_BLOCKS | CONTAINER_BLOCKS | {"hr"}

#: Lists and the items they hold.
LISTS = frozenset({"ul", "ol", "dl"})

#: Captions and credits under pictures and tables.
CAPTIONS = frozenset({"figcaption", "caption"})

#: Inline emphasis whose markup is kept, without attributes, in an article body.
BARE_INLINE = frozenset({"strong", "em", "b", "i"})

#: What an article body's HTML may hold (the sanitizer's allow-list): paragraphs, headings below the
#: title, lists, quotes, preformatted text, links, emphasis, images and their figures; nothing else.
BODY_HTML_TAGS = frozenset(
    {"p", "br", "ul", "ol", "li", "blockquote", "pre", "a", "img", "figure", "figcaption"}
    | (HEADING_LEVEL.keys() - {"h1"})
    | BARE_INLINE
)
