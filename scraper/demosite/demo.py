"""The offline demo: a few simulated hours of the local news site's life, crawled into a new archive, then Datasette."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import time_machine

from scraper import settings
from scraper.config import Schedule, load_schedule
from scraper.crawl.engine import RunSummary
from scraper.crawl.run import crawl_once
from scraper.demosite.app import build_server
from scraper.demosite.site import NewsSite
from scraper.errors import ScrapeError
from scraper.store import Archive

#: Crawl rounds, an hour apart on the simulated clock: enough readings for every chart to be a line.
ROUNDS = 6
ROUND_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Round:
    """One crawl of the demo: when it ran on the simulated clock, what the site did before it, what it found."""

    number: int
    at: datetime
    happened: tuple[str, ...]
    summary: RunSummary


def demo_schedule(base: str | None = None) -> Schedule:
    """The demo's schedule, shipped inside the package (schedules/demo.toml links to it), pointed at `base`."""
    with resources.as_file(resources.files("scraper.demosite") / "demo.toml") as path:
        schedule = load_schedule(path)
    if base is None:
        return schedule
    written = f"http://127.0.0.1:{settings.DEMO_PORT}"

    def moved(urls: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(base.rstrip("/") + url.removeprefix(written) for url in urls)

    return dataclasses.replace(
        schedule, listings=moved(schedule.listings), feeds=moved(schedule.feeds), sitemaps=moved(schedule.sitemaps)
    )


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


def _story(site: NewsSite) -> dict[int, Callable[[], str]]:
    """What happens on the site before each round: edits after publication and a removal (ordinary articles only)."""
    plain = [article for article in site.articles if article.behaviour is None]
    first, second, third = plain[1], plain[2], plain[4]

    def correct_title() -> str:
        site.edit(first, title=f"{first.title} (обновлено)", paragraph="Обновлено: добавлены комментарии сторон.")
        return f"edited {first.path} (title and a paragraph)"

    def add_paragraph() -> str:
        site.edit(second, paragraph="Дополнено: ведомство опубликовало официальное заявление.")
        return f"edited {second.path} (a paragraph)"

    def take_down() -> str:
        site.remove(third, 410)
        return f"removed {third.path} (410 Gone)"

    def correct_again() -> str:
        site.edit(first, paragraph="Уточнение: цифры в третьем абзаце исправлены.")
        return f"edited {first.path} again (a paragraph)"

    return {2: correct_title, 3: add_paragraph, 4: take_down, 5: correct_again}


def build_demo(
    db_path: Path,
    *,
    rounds: int = ROUNDS,
    port: int = settings.DEMO_PORT,
    on_round: Callable[[Round], None] | None = None,
) -> tuple[str, list[Round]]:
    """Serve the demo site and crawl it `rounds` times into a new archive at `db_path`, an hour apart.

    The hours are simulated: the process clock (the site's, the crawler's and the store's alike) starts
    `rounds` hours back and jumps an hour between rounds, so re-visits fall due as they would over an
    afternoon and the archive ends in the present. Between rounds the site edits and removes articles,
    and its view counters grow with each article's age. Returns the site's URL and the rounds.
    """
    if db_path.exists():
        raise ScrapeError(
            f"{db_path} already exists; the demo builds a new archive: remove it (and its -wal and -shm files) "
            "or give another --db."
        )
    # The last round runs a couple of minutes before the real present, so nothing is dated in the future.
    start = datetime.now(UTC).replace(microsecond=0) - (rounds - 1) * ROUND_EVERY - timedelta(minutes=2)
    done: list[Round] = []
    with time_machine.travel(start, tick=True) as clock:
        # The schedule's own delay paces the demo (no robots.txt Crawl-delay); counters grow with the simulated hours.
        site = NewsSite(crawl_delay=None, readers_grow=True)
        try:
            base = start_site_in_thread(port, site)
        except ScrapeError:
            base = start_site_in_thread(0, site)  # the usual port is taken: any free one will do
        schedule = demo_schedule(base)
        story = _story(site)
        with Archive(db_path) as archive:
            for number in range(rounds):
                clock.move_to(start + number * ROUND_EVERY)
                happened = (story[number](),) if number in story else ()
                at = datetime.now(UTC)
                summary = crawl_once(schedule, archive)
                done.append(Round(number + 1, at, happened, summary))
                if on_round is not None:
                    on_round(done[-1])
    return base, done


def serve_datasette(db_path: Path, *, port: int) -> int:
    """Run Datasette on the archive in the foreground until interrupted; return its exit code."""
    command = [sys.executable, "-m", "scraper", "serve", "--db", str(db_path), "--port", str(port)]
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
