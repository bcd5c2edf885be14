"""Run one crawl in its own event loop, stopping cleanly on SIGINT/SIGTERM after in-flight writes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from scraper.config import Schedule
from scraper.crawl.engine import Crawler, Progress, RunSummary
from scraper.store import Archive


def crawl_once(
    schedule: Schedule,
    archive: Archive,
    *,
    max_pages: int | None = None,
    allow_private: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    trigger: str = "manual",
) -> RunSummary:
    """Crawl `schedule` into `archive` now; a signal ends the run as 'interrupted' with nothing half-written."""

    async def main() -> RunSummary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(number, stop.set)
        crawler = Crawler(
            schedule,
            archive,
            max_pages=max_pages,
            allow_private=allow_private,
            on_progress=on_progress,
            stop=stop,
        )
        return await crawler.run(trigger=trigger)

    return asyncio.run(main())
