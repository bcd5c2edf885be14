"""What every bench shares: `--quick`, one-sentence failures, the local demo site, archive checks, the JSON line.

A bench is a script `bench/<name>.py` whose module docstring has a paragraph starting
"Last line: a JSON object with" that names, in backticks, every key of the JSON object it
prints last; `tests/test_benches.py` runs each one with `--quick` and checks those keys.
A broken precondition (a site or crawl that did not start, an archive without a schema,
missing data) is a `BenchError`: `run()` prints its one sentence and exits 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """A precondition of the bench is broken; the message is one sentence saying which and where."""


def run(main: Callable[[], dict[str, Any]]) -> None:
    """Run a bench's `main`, print its figures as the last line, and exit 0; or say what broke and exit 1."""
    try:
        figures = main()
    except BenchError as exc:
        print(f"Error: {Path(sys.argv[0]).name}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(figures, ensure_ascii=False))
    raise SystemExit(0)


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the bench's docstring as help and the `--quick` flag every bench takes."""
    result = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument(
        "--quick", action="store_true", help="small sizes, the same code path: seconds (the test suite runs this)"
    )
    return result


def reference(module: str) -> tuple[ModuleType | None, str | None]:
    """Import a reference tool of the `bench` extra: the module, or None and why it is skipped."""
    try:
        return importlib.import_module(module), None
    except ImportError as exc:
        return None, f"not installed ({exc}); `pip install -e '.[bench]'` adds it"


class DemoSite:
    """A `scrape demo-site` process on a free loopback port, with its control routes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scraper", "demo-site", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        line = self.process.stdout.readline()
        if " on " not in line:
            self.process.kill()
            why = last_line(self.process.stderr.read()) or f"exit {self.process.wait()}"
            raise BenchError(f"the demo site did not start ({why})")
        self.base = line.split(" on ", 1)[1].strip().rstrip("/")
        self.port = int(self.base.rsplit(":", 1)[1])

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base}/{path.lstrip('/')}") as answer:
            return json.loads(answer.read())

    def control(self, path: str) -> None:
        urllib.request.urlopen(f"{self.base}/_control/{path}").read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()

    def __enter__(self) -> DemoSite:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def has_schema(db: Path) -> bool:
    """Whether `db` exists and holds the archive's tables (a crawl killed before its first commit leaves none)."""
    if not db.exists():
        return False
    with closing(sqlite3.connect(db)) as conn:
        return (
            conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'articles'").fetchone()
            is not None
        )


def require_archive(db: Path, what: str, stderr: str = "") -> None:
    """Raise a BenchError unless `what` (a crawl, a command) left an archive with a schema at `db`."""
    if not has_schema(db):
        why = last_line(stderr)
        raise BenchError(f"{what} left no archive with a schema at {db}" + (f" ({why})" if why else ""))


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the archive (benches only read it; the store writes it)."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
