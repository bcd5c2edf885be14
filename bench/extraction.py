"""Benchmark the generic body extractor against reference extractors on the extraction dev set.

Run from the repository root:

    .venv/bin/python bench/extraction.py [--repeat N] [--fixtures PATH]

Every extractor runs over the same pages in one process and one thread. Each
one's accuracy comes from a single pass (extractors are deterministic); its
speed is the best of `--repeat` timed passes, the passes of all extractors
interleaved so that background load hits them alike. The project's time covers
the whole path a crawl takes: LexborHTMLParser over the page text, the JSON-LD
articleBody lookup (the tiny reader below, in this bench), and extract_body.

Last line: a JSON object with `pages`, `skipped`, `project`, `selectolax_parse`, `trafilatura`, `newspaper4k`
and `readability-lxml` (each extractor has `f1`, `precision`, `recall` and `pages_per_s`; a reference
extractor that is not installed is null, and `skipped` says why).
"""

from __future__ import annotations

import argparse
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

from scraper.evaluation import DevPage, aggregate, load_dev_set  # noqa: E402
from scraper.parse.body import extract_body  # noqa: E402

Extractor = Callable[[DevPage], str]


def jsonld_article_body(tree: LexborHTMLParser) -> str | None:
    """The first articleBody string in the page's JSON-LD blocks (searched through @graph and nesting)."""
    for script in tree.css('script[type="application/ld+json"]'):
        raw = script.text()
        if "articleBody" not in raw:
            continue
        try:
            data: Any = json.loads(raw)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                body = item.get("articleBody")
                if isinstance(body, str) and body.strip():
                    return body
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(reversed(item))
    return None


def project(page: DevPage) -> str:
    tree = LexborHTMLParser(page.html)
    return extract_body(tree, jsonld_body=jsonld_article_body(tree)).text


def selectolax_parse(page: DevPage) -> str:
    LexborHTMLParser(page.html)
    return ""


def load_references() -> tuple[dict[str, Extractor], dict[str, str]]:
    """The reference extractors that are installed, and why the others are skipped."""
    found: dict[str, Extractor] = {}
    missing: dict[str, str] = {}
    try:
        import trafilatura

        def run_trafilatura(page: DevPage) -> str:
            return trafilatura.extract(page.html, include_comments=False) or ""

        found["trafilatura"] = run_trafilatura
    except ImportError as exc:
        missing["trafilatura"] = str(exc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from newspaper import Article

        def run_newspaper(page: DevPage) -> str:
            # input_html: nothing is downloaded; fetch_images off: no image requests either.
            url = page.url or "http://example.invalid/"
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
    try:
        from readability import Document

        def run_readability(page: DevPage) -> str:
            summary = Document(page.html).summary()
            # Every tag boundary becomes whitespace so that paragraphs never run together.
            return LexborHTMLParser(summary).text(separator=" ")

        found["readability-lxml"] = run_readability
    except ImportError as exc:
        missing["readability-lxml"] = str(exc)
    return found, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, default=REPO / "fixtures" / "extraction-dev")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes per extractor (best is kept)")
    parser.add_argument("--quick", action="store_true", help="10 pages, one timed pass: seconds (the test suite)")
    args = parser.parse_args(argv)

    if not (args.fixtures / "ground-truth.json").is_file():
        print(f"Error: there is no dev set at {args.fixtures} (no ground-truth.json).", file=sys.stderr)
        return 1
    pages = load_dev_set(args.fixtures)
    if args.quick:
        pages, args.repeat = pages[:10], 1
    references, missing = load_references()
    for name, why in missing.items():
        print(f"{name}: not installed, skipped ({why})")
    extractors: dict[str, Extractor] = {
        "project": project,
        **references,
        "selectolax_parse": selectolax_parse,
    }

    results: dict[str, Any] = {"pages": len(pages), "skipped": missing, **dict.fromkeys(missing)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, run in extractors.items():
            if name == "selectolax_parse":
                results[name] = {}
                continue
            scores = aggregate((page.truth, run(page)) for page in pages)
            results[name] = {k: round(scores[k], 4) for k in ("f1", "precision", "recall")}
        best = dict.fromkeys(extractors, float("inf"))
        for _ in range(max(1, args.repeat)):
            for name, run in extractors.items():
                start = time.perf_counter()
                for page in pages:
                    run(page)
                best[name] = min(best[name], time.perf_counter() - start)

    project_speed = len(pages) / best["project"]
    for name in extractors:
        speed = len(pages) / best[name]
        results[name]["pages_per_s"] = round(speed, 1)
        if name != "project":
            results[name]["speed_ratio_vs_project"] = round(speed / project_speed, 4)
    if results.get("trafilatura"):
        results["project"]["speedup_vs_trafilatura"] = round(project_speed / results["trafilatura"]["pages_per_s"], 2)

    print(f"{len(pages)} pages, one thread, best of {max(1, args.repeat)} timed passes")
    header = ("extractor", "F1", "prec", "recall", "pages/s", "ms/page", "x project")
    print(f"{header[0]:<18} " + " ".join(f"{h:>{w}}" for h, w in zip(header[1:], (6, 6, 6, 9, 8, 9), strict=True)))
    for name in extractors:
        row = results[name]
        speed = row["pages_per_s"]
        f1, prec, rec = (f"{row[k]:.3f}" if k in row else "-" for k in ("f1", "precision", "recall"))
        print(f"{name:<18} {f1:>6} {prec:>6} {rec:>6} {speed:>9.1f} {1000 / speed:>8.2f} {speed / project_speed:>9.3f}")
    print(json.dumps(results, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
