"""The crawl frontier and the run ledger in the archive: what each schedule still has to fetch, and every run."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from scraper.models import Discovered, FrontierItem, FrontierState, FrontierUpdate, Purpose, RunStatus
from scraper.store.db import Connection

#: How long a URL given up stays in the frontier, so that finding it again does not queue it at once.
FAILED_KEPT = timedelta(days=1)
#: Frontier kinds in the order they are fetched: discovery first, then new articles, then re-visits.
PRIORITIES = {Purpose.FEED: 1, Purpose.SITEMAP: 2, Purpose.LISTING: 3, Purpose.ARTICLE: 4, Purpose.REVISIT: 5}


def now_iso() -> str:
    """Now, as the archive writes times: UTC to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def iso(value: datetime) -> str:
    """A time as the archive writes it: UTC to the second."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def stamp(value: datetime) -> str:
    """A frontier time: UTC with milliseconds, one fixed width so the strings sort as the times do."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


class Runs:
    """The `crawl_runs` ledger: one row per crawl run, with its counts and how it ended."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def start(
        self,
        schedule: str,
        *,
        trigger: str = "manual",
        scheduled_for: datetime | None = None,
        request: str | None = None,
    ) -> int:
        """Open a crawl_runs row; runs of this schedule left 'running' by a killed process become 'interrupted'.

        The caller holds the schedule's crawl lock, so a run still marked 'running' is one whose process died.
        `request`: the id of the distributed run request the run answers.
        """
        with self._connection.transaction() as db:
            db.execute(
                "UPDATE crawl_runs SET status = 'interrupted', ended_at = COALESCE(ended_at, ?),"
                " message = COALESCE(message, 'the process stopped before the run ended')"
                " WHERE schedule = ? AND status = 'running'",
                (now_iso(), schedule),
            )
            cursor = db.execute(
                "INSERT INTO crawl_runs (schedule, trigger, scheduled_for, started_at, status, pid, request)"
                " VALUES (?, ?, ?, ?, 'running', ?, ?)",
                (schedule, trigger, iso(scheduled_for) if scheduled_for else None, now_iso(), os.getpid(), request),
            )
            # A killed run's claimed URLs go back in the queue; they were never archived.
            db.execute("UPDATE frontier SET state = 'queued' WHERE schedule = ? AND state = 'in_flight'", (schedule,))
            return int(cursor.lastrowid or 0)

    def finish(self, run_id: int, status: RunStatus, message: str | None = None) -> dict[str, Any]:
        """Close a run and return its row.

        Done frontier entries of the schedule are cleared. URLs given up stay for FAILED_KEPT, so that a link
        found again on the next runs is not fetched again at once (a poison page costs its tries once a day,
        not every run); after that they may be found and tried anew.
        """
        with self._connection.transaction() as db:
            db.execute(
                "UPDATE crawl_runs SET status = ?, ended_at = ?, message = ? WHERE id = ?",
                (status, now_iso(), message, run_id),
            )
            schedule = db.execute("SELECT schedule FROM crawl_runs WHERE id = ?", (run_id,)).fetchone()[0]
            db.execute("DELETE FROM frontier WHERE schedule = ? AND state = 'done'", (schedule,))
            db.execute(
                "DELETE FROM frontier WHERE schedule = ? AND state = 'failed' AND due_at < ?",
                (schedule, stamp(datetime.now(UTC) - FAILED_KEPT)),
            )
            db.execute("UPDATE frontier SET state = 'queued' WHERE schedule = ? AND state = 'in_flight'", (schedule,))
        return self.get(run_id)

    def get(self, run_id: int) -> dict[str, Any]:
        """A crawl_runs row as a dict."""
        cursor = self._connection.conn.execute("SELECT * FROM crawl_runs WHERE id = ?", (run_id,))
        return _row(cursor, cursor.fetchone())

    def latest(self) -> dict[str, dict[str, Any]]:
        """Each schedule's last run, as a dict, by schedule name."""
        cursor = self._connection.conn.execute(
            "SELECT * FROM crawl_runs WHERE id IN (SELECT max(id) FROM crawl_runs GROUP BY schedule)"
        )
        rows = [_row(cursor, row) for row in cursor.fetchall()]
        return {str(row["schedule"]): row for row in rows}


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> dict[str, Any]:
    names = [column[0] for column in cursor.description]
    return dict(zip(names, values, strict=True))


#: A frontier URL as a FrontierItem, with the validators of its archived article for a conditional re-visit.
_CLAIMABLE = (
    "SELECT f.url, f.kind, f.depth, f.tries, a.etag, a.last_modified FROM frontier f"
    " LEFT JOIN articles a ON a.url = f.url AND f.kind = 'revisit'"
)


class Frontier:
    """What each schedule still has to fetch; a killed crawl resumes from it."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def seed(self, schedule: str, entries: list[Discovered], *, run_id: int) -> int:
        """Queue start URLs and re-visits for this run (again, if an earlier run finished them)."""
        now = stamp(datetime.now(UTC))
        with self._connection.transaction() as db:
            before = db.total_changes
            for entry in entries:
                db.execute(
                    "INSERT INTO frontier (schedule, url, kind, depth, state, priority, due_at, tries,"
                    " discovered_at, run_id) VALUES (?, ?, ?, ?, 'queued', ?, ?, 0, ?, ?)"
                    " ON CONFLICT (schedule, url) DO UPDATE SET state = 'queued', due_at = excluded.due_at,"
                    " tries = 0, kind = excluded.kind, depth = excluded.depth, priority = excluded.priority"
                    " WHERE frontier.state IN ('done', 'failed')",
                    (schedule, entry.url, entry.kind, entry.depth, PRIORITIES[entry.kind], now, now, run_id),
                )
            return db.total_changes - before

    def claim(
        self, schedule: str, *, limit: int, now: datetime, lease_until: datetime | None = None
    ) -> list[FrontierItem]:
        """Take up to `limit` due URLs (discovery first) and mark them in flight.

        With `lease_until` (the distributed writer), an in-flight URL's due time is when its lease ends: see
        `expired_leases`.
        """
        with self._connection.transaction() as db:
            rows = db.execute(
                _CLAIMABLE + " WHERE f.schedule = ? AND f.state = 'queued' AND f.due_at <= ?"
                " ORDER BY f.priority, f.due_at LIMIT ?",
                (schedule, stamp(now), limit),
            ).fetchall()
            if lease_until is None:
                db.executemany(
                    "UPDATE frontier SET state = 'in_flight' WHERE schedule = ? AND url = ?",
                    [(schedule, row[0]) for row in rows],
                )
            else:
                db.executemany(
                    "UPDATE frontier SET state = 'in_flight', due_at = ? WHERE schedule = ? AND url = ?",
                    [(stamp(lease_until), schedule, row[0]) for row in rows],
                )
        return [FrontierItem(schedule, row[0], Purpose(row[1]), *row[2:]) for row in rows]

    def expired_leases(self, schedule: str, *, now: datetime, lease_until: datetime) -> list[FrontierItem]:
        """In-flight URLs whose lease ended before `now` with no answer; their lease is renewed to `lease_until`.

        The distributed writer sends their jobs again: the broker may have lost them (a Redis restarted
        without its append-only file), and a job sent twice is written once (deliveries are keyed).
        """
        with self._connection.transaction() as db:
            rows = db.execute(
                _CLAIMABLE + " WHERE f.schedule = ? AND f.state = 'in_flight' AND f.due_at <= ?",
                (schedule, stamp(now)),
            ).fetchall()
            db.executemany(
                "UPDATE frontier SET due_at = ? WHERE schedule = ? AND url = ?",
                [(stamp(lease_until), schedule, row[0]) for row in rows],
            )
        return [FrontierItem(schedule, row[0], Purpose(row[1]), *row[2:]) for row in rows]

    def count(self, schedule: str, state: FrontierState) -> int:
        """How many URLs of the schedule are in this state."""
        row = self._connection.conn.execute(
            "SELECT count(*) FROM frontier WHERE schedule = ? AND state = ?", (schedule, state)
        ).fetchone()
        return int(row[0])

    def next_due(self, schedule: str) -> datetime | None:
        """When the earliest queued URL of the schedule becomes due, or None if none is queued."""
        row = self._connection.conn.execute(
            "SELECT min(due_at) FROM frontier WHERE schedule = ? AND state = 'queued'", (schedule,)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def due_revisits(
        self, sites: list[str], *, now: datetime, interval: Callable[[timedelta], timedelta | None]
    ) -> list[str]:
        """Archived, not removed articles of these sites whose re-visit interval (by age) has passed."""
        if not sites:
            return []
        marks = ", ".join("?" for _ in sites)
        rows = self._connection.conn.execute(
            "SELECT url, COALESCE(published_at, first_seen_at), MAX(last_fetched_at, COALESCE(last_checked_at, ''))"
            f" FROM articles WHERE site IN ({marks}) AND removed_at IS NULL",
            sites,
        )
        due = []
        for url, born, last in rows:
            every = interval(now - datetime.fromisoformat(born))
            if every is not None and now - datetime.fromisoformat(last) >= every:
                due.append(str(url))
        return due

    def apply(
        self,
        db: sqlite3.Connection,
        update: FrontierUpdate,
        *,
        error: str | None,
        fetched: bool,
        discovered: tuple[Discovered, ...] = (),
        new_article: bool = False,
        new_version: bool = False,
    ) -> None:
        """Settle a frontier URL and count it in its run, inside the caller's transaction (with its fetch row).

        A URL not `fetched` (robots.txt, a deferred host) does not use up one of its tries.
        """
        item = update.item
        due = stamp(update.due_at or datetime.now(UTC))
        tries = item.tries + 1 if fetched else item.tries
        db.execute(
            "UPDATE frontier SET state = ?, due_at = ?, tries = ?, last_error = ? WHERE schedule = ? AND url = ?",
            (update.state, due, tries, error, item.schedule, item.url),
        )
        if discovered:
            self._queue_discovered(db, item.schedule, discovered, update.run_id)
        db.execute(
            "UPDATE crawl_runs SET pages_fetched = pages_fetched + ?, new_articles = new_articles + ?,"
            " new_versions = new_versions + ?, errors = errors + ? WHERE id = ?",
            (
                1 if fetched else 0,
                1 if new_article else 0,
                1 if new_version and not new_article else 0,
                1 if update.state == FrontierState.FAILED else 0,
                update.run_id,
            ),
        )

    def _queue_discovered(
        self, db: sqlite3.Connection, schedule: str, found: tuple[Discovered, ...], run_id: int
    ) -> None:
        """Queue discovered URLs not yet in the frontier; an archived article is re-visited only if its
        sitemap lastmod is newer than its last fetch (a URL already archived is never fetched as new)."""
        now = stamp(datetime.now(UTC))
        articles = [d for d in found if d.kind == Purpose.ARTICLE]
        archived: dict[str, str] = {}
        for start in range(0, len(articles), 500):
            chunk = [d.url for d in articles[start : start + 500]]
            marks = ", ".join("?" for _ in chunk)
            for url, last in db.execute(
                f"SELECT url, last_fetched_at FROM articles WHERE url IN ({marks})"
                f" UNION ALL SELECT a.alias, b.last_fetched_at FROM url_aliases a JOIN articles b ON b.url = a.url"
                f" WHERE a.alias IN ({marks})",
                chunk + chunk,
            ):
                archived[url] = last
        rows = []
        for entry in found:
            kind = entry.kind
            if entry.url in archived:
                if not (entry.lastmod and entry.lastmod > archived[entry.url]):
                    continue
                kind = Purpose.REVISIT
            rows.append((schedule, entry.url, kind, entry.depth, PRIORITIES[kind], now, now, run_id))
        db.executemany(
            "INSERT OR IGNORE INTO frontier (schedule, url, kind, depth, state, priority, due_at, tries,"
            " discovered_at, run_id) VALUES (?, ?, ?, ?, 'queued', ?, ?, 0, ?, ?)",
            rows,
        )
