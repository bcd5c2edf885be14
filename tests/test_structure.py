"""The shape of the code: no import cycle (lazy imports included), SQL only in the store, each library in one module."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "scraper"

#: Third-party libraries and the one module (or package) allowed to import each.
OWNERS: dict[str, str | tuple[str, ...]] = {
    "httpx": "scraper.fetch",
    "httpcore": "scraper.fetch",
    "selectolax": "scraper.parse",
    "sqlite_utils": "scraper.store",
    "apscheduler": "scraper.scheduler",
    "click": "scraper.cli",
    "datasette": "scraper.serve",
    "nh3": "scraper.sanitize",
    "protego": "scraper.crawl.robots",
    "feedparser": "scraper.crawl.feeds",
    "defusedxml": "scraper.crawl.sitemaps",
    # The fetcher's decompressor decodes; the demo site's server encodes its bombs with the same library.
    "brotli": ("scraper.decompress", "scraper.demosite.server"),
    "charset_normalizer": "scraper.charset",
    "re2": "scraper.patterns",
    "zstandard": "scraper.store.pages",
    "warcio": "scraper.warc",
    "cdxj_indexer": "scraper.wacz",
    "Stemmer": "scraper.search.analysis",
    # The distributed mode's queues (Dramatiq) and shared state (Redis) live behind one module.
    "dramatiq": "scraper.distributed.broker",
    "redis": "scraper.distributed.broker",
}
#: SQL statements in Python code: only the store writes and reads the archive. The Datasette integration
#: (scraper.serve) reads through Datasette's own read-only connections, which is its job.
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA|BEGIN)\s+\S", re.IGNORECASE)
SQL_ALLOWED = ("scraper.store", "scraper.serve")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Every module of the package that `path` imports, at the top or inside a function (lazy imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    return {target for target in targets if target in known and target != name}


def third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state[target] == 1:
                return [*path[path.index(target) :], target]
            if state[target] == 0 and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state[node] == 0 and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_even_through_lazy_imports() -> None:
    known = modules()
    graph = {name: imports(path, name, known) for name, path in known.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_each_library_is_imported_by_its_one_module() -> None:
    wrong = []
    for name, path in modules().items():
        for library in third_party(path) & OWNERS.keys():
            owners = OWNERS[library]
            allowed = owners if isinstance(owners, tuple) else (owners,)
            if not any(name == owner or name.startswith(owner + ".") for owner in allowed):
                wrong.append(f"{name} imports {library} (owned by {', '.join(allowed)})")
    assert wrong == []


def test_no_sql_outside_the_store() -> None:
    wrong = []
    for name, path in modules().items():
        if name.startswith(SQL_ALLOWED):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                wrong.append(f"{name}:{node.lineno}: {node.value[:60]!r}")
        if {"sqlite3", "sqlite_utils"} & third_party(path):
            wrong.append(f"{name} imports sqlite3")
    assert wrong == []
