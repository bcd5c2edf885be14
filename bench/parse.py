"""Throughput of parse+normalize on the BaigeNews fixtures beside selectolax's bare parse of the same text.

Run: python bench/parse.py [--pages N] [--rounds N] [--quick]. One thread. Floor: a ratio of 0.50.

Both sides are timed in CPU time of this process (`time.process_time`): the loop is single-threaded and
CPU-bound, and on a shared machine the wall clock also counts the time other processes hold the cores,
which swings a ratio by more than the changes it should show. Passes of the two sides alternate and the
ratio is the median of the paired rounds.

Last line: a JSON object with `pages`, `rounds`, `parse_pages_per_s`, `bare_parse_pages_per_s`, `ratio`
(parse+normalize pages/s over bare-parse pages/s, the median of paired rounds) and `clock` ("cpu").
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BenchError, parser, run
from scraper.charset import decode
from scraper.normalize import normalize
from scraper.parse import parse_html
from scraper.profiles import get_profile

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "baigenews"


def load_pages() -> list[tuple[str, str]]:
    pages = []
    for path in sorted(FIXTURES.glob("*.html")):
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        text, _, _ = decode(path.read_bytes(), "text/html")
        pages.append((meta["url"], text))
    return pages


def pass_rate(work: list[tuple[str, str]], step: Callable[[str, str], object]) -> float:
    """CPU-time pages per second of one pass over `work`."""
    started = time.process_time()
    for url, text in work:
        step(url, text)
    return len(work) / (time.process_time() - started)


def main() -> dict[str, Any]:
    options = parser(__doc__)
    options.add_argument("--pages", type=int, default=2000, help="pages per pass (the fixtures repeated)")
    options.add_argument("--rounds", type=int, default=9)
    args = options.parse_args()
    if args.quick:
        args.pages, args.rounds = 60, 3
    pages = load_pages()
    if not pages:
        raise BenchError(f"there are no fixtures to parse in {FIXTURES}")
    work = (pages * (args.pages // len(pages) + 1))[: args.pages]
    profile = get_profile("baigenews")
    fetched = datetime(2024, 11, 20, tzinfo=UTC)

    def bare(url: str, text: str) -> None:
        LexborHTMLParser(text)

    def full(url: str, text: str) -> None:
        normalize(parse_html(text, profile), url=url, profile=profile, fetched_at=fetched)

    full(*work[0])  # warm caches (profile load, regexes)
    # Passes alternate, so a machine that speeds up or slows down during the run
    # affects both sides alike; the ratio is taken per round, then the median.
    bare_rates, full_rates, ratios = [], [], []
    for _ in range(args.rounds):
        bare_rates.append(pass_rate(work, bare))
        full_rates.append(pass_rate(work, full))
        ratios.append(full_rates[-1] / bare_rates[-1])
    bare_best, bare_median = max(bare_rates), statistics.median(bare_rates)
    full_best, full_median = max(full_rates), statistics.median(full_rates)
    ratio = statistics.median(ratios)
    print(f"{'':24}{'pages/s (best)':>16}{'pages/s (median)':>18}")
    print(f"{'selectolax bare parse':24}{bare_best:16,.0f}{bare_median:18,.0f}")
    print(f"{'parse + normalize':24}{full_best:16,.0f}{full_median:18,.0f}")
    print(
        f"ratio parse+normalize / bare parse: {ratio:.2f} "
        f"(median of {args.rounds} paired rounds; floor 0.50), "
        f"{len(work)} pages a round"
    )
    return {
        "pages": len(work),
        "rounds": args.rounds,
        "parse_pages_per_s": round(full_median, 1),
        "bare_parse_pages_per_s": round(bare_median, 1),
        "ratio": round(ratio, 3),
        "clock": "cpu",
    }


if __name__ == "__main__":
    run(main)
