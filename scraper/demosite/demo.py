"""The offline demo: serve a local copy of a news site, archive it into archive.db, open it in Datasette."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scraper.demosite.app import build_server
from scraper.errors import ScrapeError
from scraper.fetch import Fetcher, FetchPolicy
from scraper.pipeline import scrape_url
from scraper.profiles import get_profile
from scraper.store import Archive

#: The saved BaigeNews pages the demo archives (the repository's golden fixtures).
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@dataclass(frozen=True)
class DemoResult:
    archived: int
    failed: int


def start_site_in_thread(port: int, root: Path) -> str:
    """Serve `root` on 127.0.0.1:`port` from a daemon thread; return the base URL."""
    ready = threading.Event()
    box: dict[str, str] = {}

    def serve() -> None:
        async def main() -> None:
            server = build_server(port=port, root=root)
            bound = await server.start()
            box["url"] = f"http://127.0.0.1:{bound}/"
            ready.set()
            await server.serve_forever()

        asyncio.run(main())

    threading.Thread(target=serve, name="demo-site", daemon=True).start()
    if not ready.wait(10):
        raise ScrapeError(f"The demo site could not start on port {port}.")
    return box["url"]


def archive_demo(db_path: Path, *, site_port: int, log: Callable[[str], None]) -> DemoResult:
    """Serve the demo pages and archive each of them into `db_path`."""
    base = start_site_in_thread(site_port, FIXTURES)
    log(f"Demo news site on {base}")
    profile = get_profile("baigenews")
    pages = sorted((FIXTURES / "baigenews").glob("*.html"))

    async def run(archive: Archive) -> DemoResult:
        archived = failed = 0
        async with Fetcher(FetchPolicy(allow_private=True)) as fetcher:
            for path in pages:
                url = f"{base}baigenews/{path.name}"
                try:
                    scraped = await scrape_url(url, fetcher=fetcher, archive=archive, profile=profile)
                except ScrapeError as exc:
                    log(f"failed: {exc}")
                    failed += 1
                else:
                    archived += 1
                    log(f"archived: {scraped.article.title}")
        return DemoResult(archived, failed)

    with Archive(db_path) as archive:
        return asyncio.run(run(archive))


def serve_datasette(db_path: Path, *, port: int) -> int:
    """Run Datasette on the archive in the foreground until interrupted; return its exit code."""
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(db_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
