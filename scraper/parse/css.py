"""CSS queries through one reused Lexbor selector engine per thread.

`node.css()` builds a new selector engine on every call; on a freshly parsed
page that costs about as much as the walk itself, so the parser asks here.
"""

from __future__ import annotations

import threading
from typing import Any

from selectolax.lexbor import LexborCSSSelector, LexborNode

_local = threading.local()


def engine() -> Any:
    """This thread's engine: `find_first(query, node)` and `find(query, node)` return lists of elements.

    For code that runs many queries in a row; `node` must not be None.
    """
    found = getattr(_local, "engine", None)
    if found is None:
        # selectolax's type stubs do not describe LexborCSSSelector (find, find_first).
        found = _local.engine = LexborCSSSelector()  # type: ignore[no-untyped-call]
    return found


def first(node: LexborNode | None, query: str) -> LexborNode | None:
    """The first element under `node` that matches `query`, or None."""
    if node is None:
        return None
    found: list[LexborNode] = engine().find_first(query, node)
    return found[0] if found else None


def every(node: LexborNode | None, query: str) -> list[LexborNode]:
    """Every element under `node` that matches `query`, in document order."""
    if node is None:
        return []
    found: list[LexborNode] = engine().find(query, node)
    return found
