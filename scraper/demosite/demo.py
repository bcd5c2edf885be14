"""The offline demo: serve the local news site, crawl it into archive.db with schedules/demo.toml, open Datasette."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

from scraper.config import Schedule
from scraper.crawl.engine import RunSummary
from scraper.crawl.run import crawl_once
from scraper.demosite.app import build_server
from scraper.demosite.site import NewsSite
from scraper.errors import ScrapeError
from scraper.store import Archive


def start_site_in_thread(port: int, site: NewsSite) -> str:
    """Serve `site` on 127.0.0.1:`port` from a daemon thread; return the base URL."""
    ready = threading.Event()
    box: dict[str, object] = {}

    def serve() -> None:
        async def main() -> None:
            server = build_server(port=port, site=site)
            try:
                bound = await server.start()
            except OSError as exc:
                box["error"] = exc
                ready.set()
                return
            box["url"] = f"http://127.0.0.1:{bound}/"
            ready.set()
            await server.serve_forever()

        asyncio.run(main())

    threading.Thread(target=serve, name="demo-site", daemon=True).start()
    if not ready.wait(10) or "error" in box:
        raise ScrapeError(f"The demo site could not listen on 127.0.0.1:{port} ({box.get('error', 'timed out')}).")
    return str(box["url"])


def crawl_demo(schedule: Schedule, db_path: Path, *, port: int) -> tuple[str, RunSummary]:
    """Serve the demo site on `port` and run one crawl of `schedule` (which points there) into `db_path`."""
    base = start_site_in_thread(port, NewsSite())
    with Archive(db_path) as archive:
        return base, crawl_once(schedule, archive)


def serve_datasette(db_path: Path, *, port: int) -> int:
    """Run Datasette on the archive in the foreground until interrupted; return its exit code."""
    command = [sys.executable, "-m", "scraper", "serve", "--db", str(db_path), "--port", str(port)]
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
