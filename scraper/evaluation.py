"""Article-body extraction metrics (4-word shingles, text snippets) and the loaders of the three dev-set formats."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from scraper.charset import decode

# Shingle length of scrapinghub/article-extraction-benchmark's evaluate.py: runs of
# 4 consecutive word tokens, so word order matters but a paragraph boundary does not.
SHINGLE_SIZE = 4

# `\w+` with Unicode semantics, as in the benchmark: works for any script, and
# punctuation/whitespace differences between extractors do not count.
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


class SetFormat(StrEnum):
    """The three dev-set formats, told apart by their truth file."""

    AEB = "aeb"  # scrapinghub/article-extraction-benchmark: ground-truth.json, articleBody per page
    SNIPPETS = "snippets"  # trafilatura's evaluation: truth.json, `with`/`without` text snippets per page
    FUNDUS = "fundus"  # Fundus' parser test data: truth.json, `body_paragraphs` per page


class DevPage(NamedTuple):
    """One page of a dev set: its HTML and what a perfect extraction holds (and, for snippets, lacks)."""

    id: str
    url: str
    html: str
    truth: str  # the reference body (AEB, Fundus); the `with` snippets joined (snippets)
    with_snippets: tuple[str, ...] = ()
    without_snippets: tuple[str, ...] = ()
    site: str = ""  # the site the page comes from, for leave-one-site-out evaluation


def tokenize(text: str | None) -> list[str]:
    """Split text into word tokens (`\\w+`, Unicode)."""
    return _TOKEN_RE.findall(text or "")


def shingles(text: str | None, size: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """Return the multiset of runs of `size` consecutive tokens.

    As in the benchmark, a text shorter than `size` tokens (but not empty) is one
    shorter shingle, and an empty text has none.
    """
    tokens = tokenize(text)
    if not tokens:
        return Counter()
    if len(tokens) < size:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def match_counts(truth: str | None, extracted: str | None) -> tuple[int, int, int]:
    """Return (tp, fp, fn): shingles in both, only in the extraction, only in the truth."""
    true_sh = shingles(truth)
    pred_sh = shingles(extracted)
    tp = sum((true_sh & pred_sh).values())
    fp = sum(pred_sh.values()) - tp
    fn = sum(true_sh.values()) - tp
    return tp, fp, fn


def _precision(tp: int, fp: int, fn: int) -> float | None:
    """Precision with the benchmark's conventions; None when the page does not count (nothing extracted)."""
    if fp == fn == 0:
        return 1.0
    if tp + fp == 0:
        return None
    return tp / (tp + fp)


def _recall(tp: int, fp: int, fn: int) -> float | None:
    """Recall with the benchmark's conventions; None when the page does not count (empty truth)."""
    if fp == fn == 0:
        return 1.0
    if tp + fn == 0:
        return None
    return tp / (tp + fn)


def score_page(truth: str | None, extracted: str | None) -> tuple[float, float]:
    """Return (precision, recall) of one page.

    Follows the benchmark's evaluate.py: both empty → (1, 1); an empty extraction
    of a non-empty truth → (0, 0) here, but `aggregate` leaves that page's precision
    out of the mean (the benchmark averages precision only over pages where
    something was extracted, and recall only over pages whose truth is non-empty).
    """
    tp, fp, fn = match_counts(truth, extracted)
    return _precision(tp, fp, fn) or 0.0, _recall(tp, fp, fn) or 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def aggregate(pairs: Iterable[tuple[str | None, str | None]]) -> dict[str, float]:
    """Average precision and recall over pages of (truth, extracted) pairs; F1 of those means.

    Returns {"precision", "recall", "f1", "pages"}.
    """
    precisions: list[float] = []
    recalls: list[float] = []
    pages = 0
    for truth, extracted in pairs:
        pages += 1
        tp, fp, fn = match_counts(truth, extracted)
        p = _precision(tp, fp, fn)
        r = _recall(tp, fp, fn)
        if p is not None:
            precisions.append(p)
        if r is not None:
            recalls.append(r)
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall), "pages": float(pages)}


def normalize_space(text: str) -> str:
    """Collapse every run of whitespace to one space (the snippet metric compares texts this way)."""
    return " ".join(text.split())


def snippet_hits(page: DevPage, extracted: str | None) -> tuple[int, int]:
    """Return (with-hits, without-hits): how many of the page's snippets occur in the extraction."""
    text = normalize_space(extracted or "")
    found_with = sum(1 for s in page.with_snippets if normalize_space(s) in text)
    found_without = sum(1 for s in page.without_snippets if normalize_space(s) in text)
    return found_with, found_without


def aggregate_snippets(pairs: Iterable[tuple[DevPage, str | None]]) -> dict[str, float]:
    """Snippet precision and recall summed over pages, as trafilatura's benchmark counts them.

    A `with` snippet found is a true positive, one missed a false negative, a
    `without` snippet found a false positive: precision = with-hits / (with-hits +
    without-hits), recall = with-hits / all with-snippets. Returns
    {"precision", "recall", "f1", "pages"}.
    """
    tp = fp = expected = pages = 0
    for page, extracted in pairs:
        pages += 1
        found_with, found_without = snippet_hits(page, extracted)
        tp += found_with
        fp += found_without
        expected += len(page.with_snippets)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / expected if expected else 0.0
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall), "pages": float(pages)}


def score_set(fmt: SetFormat, pairs: Iterable[tuple[DevPage, str | None]]) -> dict[str, float]:
    """Score (page, extracted text) pairs with the metric of the set's format."""
    if fmt is SetFormat.SNIPPETS:
        return aggregate_snippets(pairs)
    return aggregate((page.truth, extracted) for page, extracted in pairs)


def set_format(path: str | Path) -> SetFormat:
    """Tell the format of the dev-set folder `path` from its truth file.

    Raises FileNotFoundError when the folder has neither ground-truth.json nor truth.json.
    """
    root = Path(path)
    if (root / "ground-truth.json").is_file():
        return SetFormat.AEB
    truth_file = root / "truth.json"
    if not truth_file.is_file():
        raise FileNotFoundError(f"{root} holds no dev set: neither ground-truth.json nor truth.json is there")
    truth: dict[str, dict[str, Any]] = json.loads(truth_file.read_text(encoding="utf-8"))
    first = next(iter(truth.values()), {})
    return SetFormat.FUNDUS if "body_paragraphs" in first else SetFormat.SNIPPETS


def _site(url: str) -> str:
    """The host of `url` without "www."; for an archived copy, the host of the page archived."""
    rest = url.split("//", 1)[-1]
    host, _, path = rest.partition("/")
    inner = path.find("//")
    if host.lower().endswith("web.archive.org") and inner >= 0:
        host = path[inner + 2 :].split("/", 1)[0]
    return host.lower().removeprefix("www.")


def _aeb_page(page_id: str, item: dict[str, Any], html: str) -> DevPage:
    url = str(item.get("url") or "")
    return DevPage(page_id, url, html, str(item.get("articleBody") or ""), site=_site(url))


def _snippets_page(page_id: str, item: dict[str, Any], html: str) -> DevPage:
    with_snippets = tuple(str(s) for s in item.get("with") or ())
    without_snippets = tuple(str(s) for s in item.get("without") or ())
    url = str(item.get("url") or "")
    # Pages saved without their URL name their file after the site ("site.tld-slug.html").
    site = _site(url) if "//" in url else str(item.get("file") or page_id).split("-", 1)[0].split(".html")[0]
    return DevPage(page_id, url, html, "\n".join(with_snippets), with_snippets, without_snippets, site)


def _fundus_page(page_id: str, item: dict[str, Any], html: str) -> DevPage:
    paragraphs = [str(p) for p in item.get("body_paragraphs") or ()]
    return DevPage(
        page_id, str(item.get("url") or ""), html, "\n\n".join(paragraphs), site=str(item.get("publisher") or "")
    )


_PAGE_BUILDERS: dict[SetFormat, Callable[[str, dict[str, Any], str], DevPage]] = {
    SetFormat.AEB: _aeb_page,
    SetFormat.SNIPPETS: _snippets_page,
    SetFormat.FUNDUS: _fundus_page,
}


def iter_dev_set(path: str | Path) -> Iterator[DevPage]:
    """Yield the pages of the dev-set folder `path` (`html/<id>.html.gz` + its truth file), sorted by id.

    The page bytes are decoded as the fetcher decodes a response (BOM, <meta>, detection).
    """
    root = Path(path)
    fmt = set_format(root)
    truth_file = root / ("ground-truth.json" if fmt is SetFormat.AEB else "truth.json")
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    build = _PAGE_BUILDERS[fmt]
    for page_id in sorted(truth):
        raw = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
        html, _, _ = decode(raw, "text/html")
        yield build(page_id, truth[page_id], html)


def load_dev_set(path: str | Path) -> list[DevPage]:
    """Load the dev-set folder `path` (any of the three formats), sorted by id."""
    return list(iter_dev_set(path))
