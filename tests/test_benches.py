"""Benches cannot rot: every bench/*.py runs with --quick and ends with the JSON keys its docstring names."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench._common import BenchError, has_schema, require_archive

from .conftest import ROOT

BENCHES = sorted(path for path in (ROOT / "bench").glob("*.py") if not path.name.startswith("_"))
#: The docstring paragraph that names the keys of the last line, as bench/_common.py describes.
KEYS_PARAGRAPH = re.compile(r"^Last line: a JSON object with (.+?)(?:\n\s*\n|\Z)", re.MULTILINE | re.DOTALL)


def documented_keys(path: Path) -> list[str]:
    """The top-level keys named in backticks in the bench's "Last line: a JSON object with ..." paragraph."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = KEYS_PARAGRAPH.search(doc)
    assert paragraph, (
        f"{path.name}: its docstring needs a paragraph 'Last line: a JSON object with `key`, `key` ...' "
        "naming the keys of the JSON object it prints last (nested keys in parentheses)"
    )
    # Keys in parentheses describe nested objects; the top level is what stays outside them.
    top, nested = paragraph.group(1), ""
    while top != nested:
        top, nested = re.sub(r"\([^()]*\)", "", top), top
    return re.findall(r"`([A-Za-z_][\w-]*)`", top)


def reject_constant(name: str) -> None:
    raise AssertionError(f"the last line holds {name}, which is not JSON (use null)")


def test_there_are_benches() -> None:
    assert {path.name for path in BENCHES} >= {"crawl.py", "extraction.py", "faults.py", "parse.py", "serve.py"}


@pytest.mark.parametrize("path", BENCHES, ids=[path.stem for path in BENCHES])
def test_quick_bench_ends_with_its_documented_json(path: Path, tmp_path: Path) -> None:
    keys = documented_keys(path)
    assert keys, f"{path.name} documents no keys"
    done = subprocess.run(
        [sys.executable, str(path), "--quick"],
        cwd=tmp_path,  # a bench finds its data from its own path, not from the folder it is run in
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines, f"{path.name} printed nothing"
    figures = json.loads(lines[-1], parse_constant=reject_constant)  # strict JSON: no NaN or Infinity
    assert isinstance(figures, dict)
    missing = [key for key in keys if key not in figures]
    assert not missing, f"{path.name} --quick: the last line lacks {missing}"


def test_a_broken_precondition_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "extraction.py"), "--quick", "--fixtures", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert str(tmp_path / "none") in done.stderr


def test_an_archive_without_a_schema_is_a_bench_error(tmp_path: Path) -> None:
    empty = tmp_path / "archive.db"
    empty.touch()
    assert not has_schema(empty) and not has_schema(tmp_path / "missing.db")
    with pytest.raises(BenchError, match=r"^the crawl left no archive with a schema at .*archive\.db \(boom\)$"):
        require_archive(empty, "the crawl", "Error: something\nboom\n")
