"""Article-body extraction metric (4-word shingle precision/recall/F1) and the dev-set loader."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

# Shingle length of scrapinghub/article-extraction-benchmark's evaluate.py: runs of
# 4 consecutive word tokens, so word order matters but a paragraph boundary does not.
SHINGLE_SIZE = 4

# `\w+` with Unicode semantics, as in the benchmark: works for any script, and
# punctuation/whitespace differences between extractors do not count.
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


class DevPage(NamedTuple):
    """One page of the extraction dev set."""

    id: str
    url: str
    html: str
    truth: str


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
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pages": float(pages)}


def load_dev_set(path: str | Path) -> list[DevPage]:
    """Load the dev set folder (`html/<id>.html.gz` + `ground-truth.json`), sorted by id."""
    return list(iter_dev_set(path))


def iter_dev_set(path: str | Path) -> Iterator[DevPage]:
    """Yield the dev-set pages of `path` as (id, url, html, truth), sorted by id."""
    root = Path(path)
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for page_id in sorted(truth):
        item = truth[page_id]
        raw = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
        yield DevPage(page_id, item.get("url", ""), raw.decode("utf-8", "replace"), item.get("articleBody", ""))
