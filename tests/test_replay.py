"""Replay in a real client: a WACZ exported from a crawl of the demo site, opened in ReplayWeb.page (the npm package
`replaywebpage`, served from 127.0.0.1) in Debian's headless Chromium, shows an article as it was archived.

The demo site is stopped before the replay: what the browser shows can only come from the WACZ.
"""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import ROOT, start_site
from .crawling import crawl, query, write_schedule
from .test_browser import browser  # noqa: F401  (the fixture: Debian's Chromium through Playwright)

pytestmark = pytest.mark.browser

REPLAYWEBPAGE = ROOT / "node_modules" / "replaywebpage"


class _Files(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges, as ReplayWeb.page reads a WACZ: a record at a time."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        asked = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if asked is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first = int(asked.group(1)) if asked.group(1) else max(0, size - int(asked.group(2) or 0))
        last = min(int(asked.group(2)) if asked.group(1) and asked.group(2) else size - 1, size - 1)
        if first > last:
            self.send_error(416)
            return None
        handle = path.open("rb")
        handle.seek(first)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.remaining = last - first + 1
        return handle

    def copyfile(self, source: Any, outputfile: Any) -> None:
        remaining = getattr(self, "remaining", None)
        if remaining is None:
            super().copyfile(source, outputfile)
            return
        while remaining > 0 and (chunk := source.read(min(1 << 16, remaining))):
            outputfile.write(chunk)
            remaining -= len(chunk)
        self.remaining = None


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served on 127.0.0.1 with ReplayWeb.page's ui.js (at / and /replay/) and sw.js (at /replay/)."""
    if not (REPLAYWEBPAGE / "sw.js").exists():
        pytest.fail(f"{REPLAYWEBPAGE} is missing; run `make tools` (make test does)")
    root = tmp_path / "site"
    (root / "replay").mkdir(parents=True)
    shutil.copy(REPLAYWEBPAGE / "ui.js", root / "ui.js")
    shutil.copy(REPLAYWEBPAGE / "ui.js", root / "replay" / "ui.js")
    shutil.copy(REPLAYWEBPAGE / "sw.js", root / "replay" / "sw.js")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Files, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def frames(frame: Any) -> Iterator[Any]:
    yield frame
    for child in frame.child_frames:
        yield from frames(child)


def test_an_exported_wacz_replays_in_replaywebpage(
    tmp_path: Path,
    files: tuple[Path, str],
    browser: Any,  # noqa: F811
) -> None:
    root, base = files
    site = start_site("--articles", "4", "--no-hostile", "--crawl-delay", "0")
    db = tmp_path / "archive.db"
    try:
        done = crawl(write_schedule(tmp_path, site, "replay"), db)
        assert done.returncode == 0, done.stderr
    finally:
        site.process.terminate()
        site.process.wait(timeout=10)
    url, title, body, fetched_at = query(
        db,
        "SELECT a.fetched_url, a.title, a.body_text, a.last_fetched_at FROM articles a ORDER BY a.article_id LIMIT 1",
    )[0]
    first_paragraph = body.split("\n\n")[0]
    exported = subprocess_export(db, root / "archive.wacz")
    assert exported.returncode == 0, exported.stderr

    stamp = re.sub(r"\D", "", fetched_at)[:14]
    (root / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><script src="/ui.js"></script></head>'
        '<body><replay-web-page style="display:block;height:860px" source="/archive.wacz"'
        f' url="{url}" ts="{stamp}" replaybase="/replay/" embed="replayonly"></replay-web-page></body></html>',
        encoding="utf-8",
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    foreign: list[str] = []

    def route(found: Any) -> None:
        if urlsplit(found.request.url).netloc == urlsplit(base).netloc:
            found.continue_()
        else:
            foreign.append(found.request.url)
            found.abort()

    context.route("**/*", route)
    page = context.new_page()
    try:
        page.goto(f"{base}/index.html")
        # The first visit installs ReplayWeb.page's service worker; from the second on it serves the replay.
        page.wait_for_function(
            "async () => { const r = await navigator.serviceWorker.getRegistration('/replay/'); return !!(r && r.active); }"
        )
        page.reload()
        replayed = None
        for attempt in range(180):
            replayed = next(
                (f for f in frames(page.main_frame) if "mp_/" in f.url and urlsplit(url).path in f.url), None
            )
            if replayed is not None and replayed.locator("h1").count():
                break
            if attempt == 60:
                page.reload()  # a worker that took over late: the frame loaded before it could serve it
            page.wait_for_timeout(500)
        assert replayed is not None, [f.url for f in frames(page.main_frame)]
        replayed.locator("h1").first.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "replay.png"))
        assert replayed.locator("h1").first.inner_text().strip() == title
        assert first_paragraph in replayed.locator("body").inner_text()
    finally:
        context.close()
    # Nothing was asked of the original site or anywhere else: the replay came from the WACZ.
    assert not [u for u in foreign if urlsplit(url).netloc in u]


def subprocess_export(db: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scraper", "export", "wacz", str(out), "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
