"""Publication dates, titles and authors of this project against htmldate and trafilatura, on the field dev sets.

Run from the repository root:

    .venv/bin/python bench/dates.py [--quick] [--data DIR]

Three sets, one run, one process and one thread:

- date-dev (htmldate's benchmark pages): the predicted publication day, scored as htmldate's own
  benchmark scores it (a hit is the reference day, a miss is no prediction, a page without a reference
  is right when nothing is predicted); no URL is given to anyone, so the page's own links are all there is.
  The references are htmldate with original_date=True, fast (extensive_search=False) and extensive.
- metadata-dev (Fundus' hand-checked pages): title, authors, the publication instant within 60 s and its
  local day; the crawl time is the fetch time. The reference is trafilatura's extract_metadata (days only).
- extraction-snippets-dev (trafilatura's benchmark), the pages with a reference date: the day.

The project reads every page as `scrape parse --profile generic` does. Speeds are pages per second of
the whole reading (for the project: decoding, parsing and normalizing). `--quick` reads a slice of each
set and runs the references only if they are installed (`pip install -e ".[bench]"`); the test suite runs it.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scraper.charset import decode  # noqa: E402
from scraper.fieldeval import (  # noqa: E402
    DevPage,
    day_of,
    load_date_dev,
    load_metadata_dev,
    load_snippets_dev,
    read_page,
    same_authors,
    same_instant,
    same_title,
    score_days,
)
from scraper.parse.authors import split_authors  # noqa: E402

QUICK_PAGES = 24


def _timed(pages: list[DevPage], read: Callable[[DevPage], Any]) -> tuple[list[Any], float]:
    started = time.perf_counter()
    results = [read(page) for page in pages]
    elapsed = time.perf_counter() - started
    return results, len(pages) / elapsed if elapsed else 0.0


def _references() -> tuple[Any, Any] | None:
    try:
        import trafilatura
        from htmldate import find_date
    except ImportError:
        return None
    return find_date, trafilatura.extract_metadata


def _texts(pages: list[DevPage]) -> dict[str, str]:
    return {page.id: decode(page.body, None)[0] for page in pages}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK_PAGES} pages of each set")
    parser.add_argument("--data", type=Path, default=REPO / "fixtures", help="folder holding the three sets")
    args = parser.parse_args(argv)
    date_pages = load_date_dev(args.data / "date-dev")
    meta_pages = load_metadata_dev(args.data / "metadata-dev")
    snippet_pages = load_snippets_dev(args.data / "extraction-snippets-dev")
    if args.quick:
        date_pages, meta_pages, snippet_pages = (p[:QUICK_PAGES] for p in (date_pages, meta_pages, snippet_pages))
    now = datetime.now(UTC)
    references = _references()
    figures: dict[str, Any] = {}
    rows: list[tuple[str, str, str, str]] = []

    # --- date-dev ------------------------------------------------------------------------------------
    ours, speed = _timed(date_pages, lambda page: read_page(page, now=now).published_at)
    score = score_days((page.day, day_of(value)) for page, value in zip(date_pages, ours, strict=True))
    figures.update(date_dev_accuracy=round(score.accuracy, 3), date_dev_pages_per_s=round(speed, 1))
    rows.append(("date-dev day (accuracy/precision/recall)", "this project", _apr(score), f"{speed:,.0f}"))
    if references:
        find_date, _ = references
        texts = _texts(date_pages)
        for name, extensive in (("htmldate fast", False), ("htmldate extensive", True)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found, speed = _timed(
                    date_pages,
                    lambda page, e=extensive: find_date(texts[page.id], original_date=True, extensive_search=e),
                )
            score = score_days((page.day, value) for page, value in zip(date_pages, found, strict=True))
            key = name.replace(" ", "_")
            figures.update({f"{key}_accuracy": round(score.accuracy, 3), f"{key}_pages_per_s": round(speed, 1)})
            rows.append(("", name, _apr(score), f"{speed:,.0f}"))

    # --- metadata-dev --------------------------------------------------------------------------------
    articles, speed = _timed(meta_pages, lambda page: read_page(page, now=now))
    n = len(meta_pages)
    with_authors = [i for i, page in enumerate(meta_pages) if page.authors]
    instant = sum(same_instant(p.published or "", a.published_at) for p, a in zip(meta_pages, articles, strict=True))
    day = sum(p.day == day_of(a.published_at) for p, a in zip(meta_pages, articles, strict=True))
    authors = sum(same_authors(meta_pages[i].authors or (), split_authors(articles[i].author)) for i in with_authors)
    titles = sum(same_title(p.title, a.title) for p, a in zip(meta_pages, articles, strict=True))
    figures.update(
        metadata_pages=n,
        metadata_instant=instant,
        metadata_day=day,
        metadata_authors=authors,
        metadata_author_pages=len(with_authors),
        metadata_title=titles,
        metadata_pages_per_s=round(speed, 1),
    )
    rows.append(("metadata-dev instant within 60 s", "this project", f"{instant}/{n}", f"{speed:,.0f}"))
    rows.append(("metadata-dev local day", "this project", f"{day}/{n}", ""))
    rows.append(("metadata-dev authors", "this project", f"{authors}/{len(with_authors)}", ""))
    rows.append(("metadata-dev title", "this project", f"{titles}/{n}", ""))
    if references:
        _, extract_metadata = references
        texts = _texts(meta_pages)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            documents, speed = _timed(meta_pages, lambda page: extract_metadata(texts[page.id], default_url=page.url))
        t_day = sum(p.day == d.date for p, d in zip(meta_pages, documents, strict=True))
        t_authors = sum(
            same_authors(meta_pages[i].authors or (), (documents[i].author or "").split("; ")) for i in with_authors
        )
        t_titles = sum(same_title(p.title, d.title) for p, d in zip(meta_pages, documents, strict=True))
        figures.update(
            trafilatura_metadata_day=t_day,
            trafilatura_metadata_authors=t_authors,
            trafilatura_metadata_title=t_titles,
            trafilatura_metadata_pages_per_s=round(speed, 1),
        )
        rows.append(("metadata-dev local day", "trafilatura", f"{t_day}/{n}", f"{speed:,.0f}"))
        rows.append(("metadata-dev authors", "trafilatura", f"{t_authors}/{len(with_authors)}", ""))
        rows.append(("metadata-dev title", "trafilatura", f"{t_titles}/{n}", ""))

    # --- extraction-snippets-dev ---------------------------------------------------------------------
    ours, speed = _timed(snippet_pages, lambda page: read_page(page, now=now).published_at)
    s_day = sum(page.day == day_of(value) for page, value in zip(snippet_pages, ours, strict=True))
    m = len(snippet_pages)
    figures.update(snippets_pages=m, snippets_day=s_day, snippets_pages_per_s=round(speed, 1))
    rows.append(("snippets-dev day", "this project", f"{s_day}/{m}", f"{speed:,.0f}"))
    if references:
        _, extract_metadata = references
        texts = _texts(snippet_pages)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            documents, speed = _timed(
                snippet_pages, lambda page: extract_metadata(texts[page.id], default_url=page.url)
            )
        t_day = sum(page.day == d.date for page, d in zip(snippet_pages, documents, strict=True))
        figures.update(trafilatura_day=t_day, trafilatura_snippets_pages_per_s=round(speed, 1))
        rows.append(("snippets-dev day", "trafilatura", f"{t_day}/{m}", f"{speed:,.0f}"))

    print(f"{'measure':42}{'tool':22}{'score':>26}{'pages/s':>10}")
    for measure, tool, value, pages_per_s in rows:
        print(f"{measure:42}{tool:22}{value:>26}{pages_per_s:>10}")
    if not references:
        print("(htmldate and trafilatura are not installed: pip install -e '.[bench]' to compare)")
    print(json.dumps(figures))
    return figures


def _apr(score: Any) -> str:
    return f"{score.accuracy:.3f} / {score.precision:.3f} / {score.recall:.3f}"


if __name__ == "__main__":
    main()
