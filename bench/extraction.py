"""Benchmark the generic body extractor against reference extractors on the three dev sets.

Run from the repository root:

    .venv/bin/python bench/extraction.py [--set aeb|snippets|fundus|all] [--fixtures DIR] [--repeat N] [--quick]

The sets (fixtures/, copies of ../shared/*-dev; see docs/extraction.md):

    aeb       extraction-dev: 60 pages of Scrapinghub's article-extraction-benchmark, 4-word shingle F1
    snippets  extraction-snippets-dev: 393 pages of trafilatura's benchmark, `with`/`without` text snippets
    fundus    metadata-dev: 108 pages of Fundus' parser tests, the article's paragraphs, 4-word shingle F1

`--fixtures DIR` runs one folder in any of these formats instead. `--quick` takes the
first few pages of each set and one timed pass (seconds; the test suite runs it).

Every extractor runs over the same decoded page text in one process and one thread:
this project (LexborHTMLParser, the page's JSON-LD articleBody, extract_body: the path
a crawl takes), trafilatura (include_comments=False, include_tables=True),
readability-lxml and newspaper4k; a reference tool that is not installed is skipped
and named. Accuracy comes from one pass (extractors are deterministic); speed is the
best of `--repeat` timed passes, the passes of all extractors interleaved so that
background load hits them alike, each pass timed in CPU time of this process
(`time.process_time`: for one thread, what the work costs, with less of the noise that
other processes on a busy machine add to the wall clock).

The last line printed is one JSON object:

    {"sets": {SET: {"pages": N, "extractors": {NAME: {"f1", "precision", "recall", "pages_per_s"}},
                    "speedup_vs_trafilatura": X}},
     "skipped": [NAME, ...], "threads": 1, "repeat": N, "quick": bool}

`speedup_vs_trafilatura` is the project's pages/s over trafilatura's (null when trafilatura is skipped).

Last line: a JSON object with `sets`, `skipped`, `threads`, `repeat` and `quick` (as above).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scraper.evaluation import DevPage, SetFormat, iter_dev_set, score_set, set_format  # noqa: E402
from scraper.parse.body import extract_body  # noqa: E402
from scraper.parse.metadata import read_metadata  # noqa: E402

Extractor = Callable[[DevPage], str]

SETS = {
    "aeb": REPO / "fixtures" / "extraction-dev",
    "snippets": REPO / "fixtures" / "extraction-snippets-dev",
    "fundus": REPO / "fixtures" / "metadata-dev",
}
QUICK_PAGES = 4  # pages per set in --quick


def project(page: DevPage) -> str:
    tree = LexborHTMLParser(page.html)
    return extract_body(tree, jsonld_body=read_metadata(tree).article_body).text


def load_references() -> tuple[dict[str, Extractor], dict[str, str]]:
    """The reference extractors that are installed, and why the others are skipped."""
    found: dict[str, Extractor] = {}
    missing: dict[str, str] = {}
    try:
        import trafilatura

        def run_trafilatura(page: DevPage) -> str:
            return trafilatura.extract(page.html, include_comments=False, include_tables=True) or ""

        found["trafilatura"] = run_trafilatura
    except ImportError as exc:
        missing["trafilatura"] = str(exc)
    try:
        from readability import Document

        def run_readability(page: DevPage) -> str:
            summary = Document(page.html).summary()
            # Every tag boundary becomes whitespace so that paragraphs never run together.
            return LexborHTMLParser(summary).text(separator=" ")

        found["readability-lxml"] = run_readability
    except ImportError as exc:
        missing["readability-lxml"] = str(exc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from newspaper import Article

        def run_newspaper(page: DevPage) -> str:
            # input_html: nothing is downloaded; fetch_images off: no image requests either.
            url = page.url if page.url.startswith("http") else "http://example.invalid/"
            try:
                article = Article(url, fetch_images=False)
                article.download(input_html=page.html)
                article.parse()
            except ImportError:
                # Its Korean/Arabic tokenizers need nltk and nltk's downloaded data (the
                # `nlp` extra); without them, parse the page with the default language.
                article = Article(url, fetch_images=False, language="en")
                article.download(input_html=page.html)
                article.parse()
            return article.text or ""

        found["newspaper4k"] = run_newspaper
    except ImportError as exc:
        missing["newspaper4k"] = str(exc)
    return found, missing


def safe(run: Extractor) -> Extractor:
    """`run`, with an exception counting as an empty extraction (reference tools do raise on odd pages)."""

    def wrapped(page: DevPage) -> str:
        try:
            return run(page)
        except Exception:
            return ""

    return wrapped


def bench_set(pages: list[DevPage], fmt: SetFormat, extractors: dict[str, Extractor], repeat: int) -> dict[str, Any]:
    """Score and time every extractor over `pages`."""
    result: dict[str, Any] = {"pages": len(pages), "extractors": {}}
    rows: dict[str, dict[str, float]] = result["extractors"]
    for name, run in extractors.items():
        scores = score_set(fmt, [(page, run(page)) for page in pages])
        rows[name] = {k: round(scores[k], 4) for k in ("f1", "precision", "recall")}
    best = dict.fromkeys(extractors, float("inf"))
    for _ in range(repeat):
        for name, run in extractors.items():
            start = time.process_time()
            for page in pages:
                run(page)
            best[name] = min(best[name], time.process_time() - start)
    for name in extractors:
        rows[name]["pages_per_s"] = round(len(pages) / best[name], 1) if best[name] > 0 else float("inf")
    traf = rows.get("trafilatura")
    result["speedup_vs_trafilatura"] = (
        round(rows["project"]["pages_per_s"] / traf["pages_per_s"], 2) if traf and traf["pages_per_s"] else None
    )
    return result


def print_table(name: str, result: dict[str, Any]) -> None:
    rows = result["extractors"]
    project_speed = rows["project"]["pages_per_s"]
    speedup = result["speedup_vs_trafilatura"]
    tail = f", project {speedup}x trafilatura" if speedup is not None else ""
    print(f"\n{name}: {result['pages']} pages{tail}")
    header = ("extractor", "F1", "prec", "recall", "pages/s", "ms/page", "x project")
    print(f"{header[0]:<18} " + " ".join(f"{h:>{w}}" for h, w in zip(header[1:], (6, 6, 6, 9, 8, 9), strict=True)))
    for extractor, row in rows.items():
        speed = row["pages_per_s"]
        print(
            f"{extractor:<18} {row['f1']:>6.3f} {row['precision']:>6.3f} {row['recall']:>6.3f} "
            f"{speed:>9.1f} {1000 / speed:>8.2f} {speed / project_speed:>9.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", help="which dev set (default: all three)")
    parser.add_argument("--fixtures", type=Path, help="a dev-set folder in any of the three formats, instead")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per extractor (best is kept)")
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK_PAGES} pages of each set, one pass")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else max(1, args.repeat)

    if args.fixtures is not None:
        folders = {args.fixtures.name: args.fixtures}
    else:
        folders = SETS if args.set == "all" else {args.set: SETS[args.set]}
    for name, folder in folders.items():
        if not folder.is_dir():
            print(f"The dev set {name!r} is not at {folder}: no such folder.", file=sys.stderr)
            return 1

    references, missing = load_references()
    for name, why in missing.items():
        print(f"{name}: not installed, skipped ({why})", file=sys.stderr)
    extractors: dict[str, Extractor] = {"project": project, **{k: safe(v) for k, v in references.items()}}

    results: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, folder in folders.items():
            fmt = set_format(folder)
            pages = list(itertools.islice(iter_dev_set(folder), QUICK_PAGES if args.quick else None))
            results[name] = bench_set(pages, fmt, extractors, repeat)
            print_table(f"{name} ({fmt.value})", results[name])
    print(f"\none thread, best of {repeat} timed passes")
    print(
        json.dumps(
            {"sets": results, "skipped": sorted(missing), "threads": 1, "repeat": repeat, "quick": args.quick},
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
