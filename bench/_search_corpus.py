"""The search bench's corpus: fixture, demo-site and dev pages parsed and archived as a crawl would archive them."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scraper.demosite.site import NewsSite
from scraper.models import Verdict
from scraper.pipeline import archive_page, choose_profile, saved_page
from scraper.store import Archive

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
#: The demo site's address in the corpus (never served: its pages are rendered in-process).
DEMO_BASE = "https://demo.baigenews.test"
DEMO_ARTICLES = 60
#: Demo articles edited after their first capture, as a newsroom corrects a headline (a paragraph is added
#: too): the words replaced are in version 1 only.
DEMO_EDITS = {
    2: ("сохранил базовую ставку на уровне 14,75%", "снизил базовую ставку до 14,5%"),
    9: ("эвакуированы 300 человек", "эвакуированы 450 человек"),
    20: ("встретился с жителями Наурызбайского района", "провёл встречу с жителями района"),
    27: ("представил выставку сакского золота", "открыл выставку золота саков"),
}
DEMO_EDIT_PARAGRAPH = "Материал обновлён редакцией."
FETCHED = datetime(2024, 3, 20, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Doc:
    """A page in the corpus: the id queries name it by, and the URL it was fetched as."""

    id: str
    url: str
    html: bytes
    profile: str | None = None


def fixture_docs() -> Iterator[Doc]:
    for path in sorted((FIXTURES / "baigenews").glob("*.html")):
        record = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        yield Doc(f"baigenews/{path.stem}", record["url"], path.read_bytes(), "baigenews")


def demo_site(articles: int = DEMO_ARTICLES) -> NewsSite:
    return NewsSite(articles=articles, hostile=False, now=FETCHED)


def demo_docs(site: NewsSite) -> Iterator[Doc]:
    for article in site.articles:
        yield Doc(
            f"demo/{article.number}", DEMO_BASE + article.path, site.render_article(article, DEMO_BASE), "baigenews"
        )


def dev_docs(limit: int | None = None) -> Iterator[Doc]:
    """Pages of the dev sets (fixtures/*-dev), each URL once, in a fixed order; `limit` per set."""
    seen: set[str] = set()
    for name in ("metadata-dev", "extraction-dev", "date-dev", "extraction-snippets-dev"):
        folder = FIXTURES / name
        truth_file = folder / ("ground-truth.json" if name == "extraction-dev" else "truth.json")
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        taken = 0
        for key in sorted(truth):
            url = truth[key].get("url", "")
            path = folder / "html" / f"{key}.html.gz"
            if not url.startswith("http") or url in seen or not path.exists():
                continue
            seen.add(url)
            yield Doc(f"{name}/{key}", url, gzip.decompress(path.read_bytes()))
            taken += 1
            if limit is not None and taken >= limit:
                break


def build(archive: Archive, docs: list[Doc]) -> dict[str, str]:
    """Archive every doc; return doc id -> the canonical URL its article is stored under (failed pages left out)."""
    urls = {}
    for doc in docs:
        page = saved_page(doc.html, doc.url, FETCHED)
        outcome, result = archive_page(archive, page, choose_profile(doc.url, doc.profile))
        if outcome.verdict == Verdict.ARCHIVED and result is not None:
            urls[doc.id] = result.url
    return urls


def edit_demo(archive: Archive, site: NewsSite) -> None:
    """Edit DEMO_EDITS on the demo site and archive them again an hour later: each gets a version 2."""
    for number, (old, new) in DEMO_EDITS.items():
        if number >= len(site.articles):
            continue
        article = site.articles[number]
        article.title_override = article.title.replace(old, new)
        article.edits.append(DEMO_EDIT_PARAGRAPH)
        doc = Doc(f"demo/{number}", DEMO_BASE + article.path, site.render_article(article, DEMO_BASE), "baigenews")
        page = saved_page(doc.html, doc.url, FETCHED + timedelta(hours=1))
        archive_page(archive, page, choose_profile(doc.url, doc.profile))
