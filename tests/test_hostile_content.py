"""Hostile pages: the parser never crashes or hangs, block and 404 pages are not articles, text is defanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import cli

from .conftest import FIXTURES, ROOT, ServedSite
from .crawling import query

LIMIT_CPU_SECONDS = 5.0
LIMIT_MIB = 512

PATHOLOGICAL = {
    "100k-nested-divs": lambda: ("<html><body>" + "<div>" * 100_000 + "x").encode(),
    "100k-nested-spans": lambda: ("<html><body>" + "<span>" * 100_000 + "x").encode(),
    "100k-nested-mixed": lambda: ("<html><body>" + "<section><b><table><td>" * 25_000).encode(),
    "50mb-single-line": lambda: ("<html><body><p>" + "слово " * (50 * 1024 * 1024 // 12) + "</p>").encode(),
    "nul-bytes-and-invalid-utf8": lambda: (
        b"<html><title>a\x00b</title><body>" + b"<p>a\x00b\xff\xfe\xc3c</p>" * 200_000
    ),
    "1m-entities": lambda: ("<html><body><p>" + "&amp;&lt;&#1090;&#x430;" * 250_000 + "</p>").encode(),
    "1m-attributes": lambda: ("<div " + " ".join(f"a{i}=1" for i in range(1_000_000)) + ">x</div>").encode(),
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_pages_finish_quickly_in_bounded_memory(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.html"
    path.write_bytes(PATHOLOGICAL[name]())
    process = subprocess.Popen(
        [sys.executable, "-m", "scraper", "parse", str(path), "--url", "https://baigenews.kz/x_1/"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    # CPU seconds the parse used (the kernel's count for the child): what a busy machine cannot inflate,
    # unlike the wall clock, which also counts the time other processes held the cores.
    cpu = usage.ru_utime + usage.ru_stime
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    assert os.waitstatus_to_exitcode(status) in (0, 1), stderr  # a record, or one clear sentence; never a crash
    assert stderr.count("\n") <= 1 and "Traceback" not in stderr
    assert cpu < LIMIT_CPU_SECONDS, f"{name} took {cpu:.1f} s of CPU"
    assert usage.ru_maxrss / 1024 < LIMIT_MIB, f"{name} used {usage.ru_maxrss / 1024:.0f} MiB"


def test_fuzzed_pages_never_crash_the_parser() -> None:
    """Mutated fixture pages, parsed in a child process, so a segfault in Lexbor is a failure, not a lost run."""
    seconds = os.environ.get("SCRAPE_FUZZ_SECONDS", "15")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz_parse.py"), seconds],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=float(seconds) + 120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "without a crash or a hang" in done.stdout


@pytest.mark.parametrize(
    ("path", "kind", "message"),
    [
        ("files/bad/captcha.html", "blocked", "is a block page (a captcha or an access check), not the article"),
        ("files/bad/soft-404.html", "soft404", 'is a "not found" page served with HTTP 200'),
    ],
)
def test_block_and_soft_404_pages_are_not_archived(
    fixture_site: ServedSite, tmp_path: Path, path: str, kind: str, message: str
) -> None:
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(cli, ["url", fixture_site.url(path), "--db", str(db), "--profile", "baigenews"])
    assert result.exit_code == 1
    assert message in result.stderr
    assert query(db, "SELECT count(*) FROM articles") == [(0,)]
    assert query(db, "SELECT error_kind FROM fetches") == [(kind,)]


def test_control_characters_bidi_overrides_and_huge_titles_are_defanged(tmp_path: Path) -> None:
    title = "Токаев\u202eпротив\u0007 \u200bвсех" + "!" * 1_000_000
    page = (FIXTURES / "baigenews" / "seed-tokayev-baku.html").read_text(encoding="utf-8")
    page = page.replace(
        '<h1 class="news-detail__title">Государственный визит Токаева в Баку: новейший этап казахстанско-азербайджанских отношений</h1>',
        f'<h1 class="news-detail__title">{title}</h1>',
    )
    path = tmp_path / "hostile.html"
    path.write_text(page, encoding="utf-8")
    result = CliRunner().invoke(cli, ["parse", str(path), "--url", "https://baigenews.kz/x_1/"])
    record = json.loads(result.stdout)
    assert record["title"].startswith("Токаевпротив всех!!!")
    assert len(record["title"]) == 2000
    assert not any(ch in record["title"] for ch in "\u202e\u0007\u200b")
    assert "title: bidi control characters removed" in record["warnings"]
    assert "title: cut to 2000 characters" in record["warnings"]
