"""Fuzz the parser with mutated fixture pages; run as a child process so a crash of the native parser is seen.

Usage: python tests/fuzz_parse.py SECONDS. Exit 0: every input parsed or was refused with ParseError.
"""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.errors import ParseError
from scraper.pipeline import choose_profile, parse_page, saved_page

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PAGES = [p.read_bytes() for p in sorted((FIXTURES / "baigenews").glob("*.html"))]
PAGES += [p.read_bytes() for p in sorted((FIXTURES / "bad").glob("*.html"))]
#: Bytes that stress a tokenizer: markup, quotes, entities, NUL, invalid UTF-8, bidi overrides.
NASTY = [
    b"<",
    b">",
    b"</",
    b"<!--",
    b"-->",
    b"<script>",
    b"<![CDATA[",
    b'"',
    b"'",
    b"&",
    b"&#x",
    b"&amp;",
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b"\xe2\x80\xae",
    b"<div>" * 50,
    b"<table><tr><td>",
    b"</html>",
]

mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "duplicate", "truncate"]),
    st.floats(min_value=0, max_value=1),
    st.one_of(st.sampled_from(NASTY), st.binary(max_size=64)),
)


def mutate(page: bytes, steps: list[tuple[str, float, bytes]]) -> bytes:
    for op, where, data in steps:
        at = int(where * len(page))
        if op == "insert":
            page = page[:at] + data + page[at:]
        elif op == "delete":
            page = page[:at] + page[at + len(data) * 16 :]
        elif op == "replace":
            page = page[:at] + data + page[at + len(data) :]
        elif op == "duplicate":
            page = page[:at] + page[at : at + 4096] * 3 + page[at:]
        else:
            page = page[:at]
    return page


def parse(body: bytes) -> None:
    page = saved_page(body, "https://baigenews.kz/fuzz_1/", datetime(2024, 3, 12, tzinfo=UTC))
    for profile in ("baigenews", "generic"):
        with contextlib.suppress(ParseError):
            parse_page(page, choose_profile(page.url, profile))


@settings(max_examples=200, deadline=5000, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(PAGES), st.lists(mutation, min_size=1, max_size=6))
def fuzz_once(page: bytes, steps: list[tuple[str, float, bytes]]) -> None:
    """One mutated page must parse, or be refused with ParseError, within hypothesis's 5 s deadline."""
    parse(mutate(page, steps))


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    ends = time.monotonic() + seconds
    batches = 0
    while time.monotonic() < ends:
        fuzz_once()  # 200 fresh random examples a batch; a failure raises with the shrunk example
        batches += 1
    print(f"{batches * 200} mutated pages parsed without a crash or a hang", flush=True)


if __name__ == "__main__":
    main()
