"""The links of a listing page, made absolute (selectolax)."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from scraper.parse import css
from scraper.urls import join


def page_links(html: str | bytes, base_url: str) -> list[str]:
    """Every http(s) link of the page, absolute, in order, without repeats; <base href> is honoured."""
    tree = LexborHTMLParser(html)
    base = css.first(tree.head, "base[href]")
    if base is not None and (href := base.attributes.get("href")):
        base_url = join(base_url, href) or base_url
    seen: dict[str, None] = {}
    for anchor in css.every(tree.root, "a[href]"):
        href = anchor.attributes.get("href")
        if href and (url := join(base_url, href)) is not None:
            seen.setdefault(url.split("#", 1)[0])
    return list(seen)
