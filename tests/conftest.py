"""Shared fixtures: the loopback demo server over real sockets, temporary archives, paths."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

# The suite's only targets are its own servers on 127.0.0.1, which the SSRF guard refuses by default.
os.environ["SCRAPE_ALLOW_PRIVATE"] = "1"


class ServedSite:
    """A `scrape demo-site` process serving fixtures/ and the fault routes on a free port."""

    def __init__(self, process: subprocess.Popen[str], base: str) -> None:
        self.process = process
        self.base = base.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"


def start_site(*args: str) -> ServedSite:
    """Start the demo site server in a subprocess and wait until it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scraper", "demo-site", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "Serving" not in line:
        process.kill()
        raise RuntimeError(f"demo site did not start: {line!r} {process.stderr.read() if process.stderr else ''}")
    return ServedSite(process, line.split(" on ", 1)[1].strip())


@pytest.fixture(scope="session")
def fixture_site() -> Iterator[ServedSite]:
    site = start_site("--root", str(FIXTURES))
    yield site
    site.process.terminate()
    site.process.wait(timeout=10)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"
