"""The archive's SQLite connection: opening and checking the file, WAL and pragmas, write transactions, migrations."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scraper import settings
from scraper.errors import NotAnArchive, StoreError
from scraper.store.schema import MIGRATIONS, SCHEMA_VERSION

#: SQLite errors that say the archive itself cannot be written (or read): these stop a crawl. Any other
#: error met while writing one page (a constraint, a value SQLite refuses) is that page's failure alone.
_ARCHIVE_FAULTS = (
    "readonly",
    "read-only",
    "disk is full",
    "unable to open",
    "not a database",
    "malformed",
    "locked",
    "busy",
    "disk i/o",
    "no such table",
    "no such column",
)


def _exists(path: str) -> bool:
    try:
        return Path(path).exists()
    except OSError:  # a folder on the way we may not enter
        return False


def describe(exc: sqlite3.Error, path: str) -> str:
    """One sentence for a SQLite error met on the archive at `path`, saying what to do."""
    message = str(exc)
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return f"The archive {path} is read-only: check the permissions of the file and of its folder."
    if "disk is full" in lowered or "database or disk is full" in lowered:
        return (
            f"The archive {path} cannot grow: the disk is full. "
            "Nothing was half-written; free some space and run again."
        )
    if "unable to open" in lowered and _exists(path):
        # SQLite could not create the -wal/-shm files beside the archive: its folder is read-only.
        return f"The archive {path} is read-only: check the permissions of the file and of its folder."
    if "unable to open" in lowered:
        return f"Cannot open the archive {path}: the folder does not exist or is not writable."
    if "not a database" in lowered or "malformed" in lowered:
        return f"The archive {path} is corrupt ({message}). Restore it from a backup (see `scrape backup`)."
    if "locked" in lowered or "busy" in lowered:
        return f"The archive {path} is locked by another writer (waited up to {settings.BUSY_TIMEOUT_S:g} s)."
    return f"The archive {path} failed: {message}."


def is_archive_fault(exc: BaseException) -> bool:
    """Tell whether an error raised while writing means the archive cannot be written at all."""
    if isinstance(exc, StoreError):
        return True
    if not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) or isinstance(
        exc, sqlite3.IntegrityError | sqlite3.DataError | sqlite3.InterfaceError | sqlite3.ProgrammingError
    ):
        return False
    lowered = str(exc).lower()
    return any(fault in lowered for fault in _ARCHIVE_FAULTS)


class Connection:
    """One open archive file: WAL, a busy timeout, IMMEDIATE write transactions, the schema kept current."""

    def __init__(self, path: str | Path, *, check: bool = True) -> None:
        self.path = str(path)
        self._undo: list[Callable[[], None]] = []
        try:
            # The crawler writes from one worker thread (so compression and SQLite, which release the GIL,
            # overlap its network I/O); every call is still made by one thread at a time.
            conn = sqlite3.connect(
                self.path, timeout=settings.BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, self.path), path=self.path) from exc
        self.conn = conn
        try:
            self._prepare(check)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(describe(exc, self.path), path=self.path) from exc
        except StoreError:
            conn.close()
            raise

    def _prepare(self, check: bool) -> None:
        conn = self.conn
        conn.execute(f"PRAGMA busy_timeout = {int(settings.BUSY_TIMEOUT_S * 1000)}")
        if check:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise StoreError(
                    f"The archive {self.path} is corrupt ({verdict}); it was not written to. "
                    "Restore it from a backup (see `scrape backup`).",
                    path=self.path,
                )
        self._refuse_foreign_file()
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._switch_to_wal()
        # NORMAL is durable across application crashes in WAL mode; see docs/reliability.md.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Take and drop the write lock once, so a read-only file or folder is reported now,
        # before anything is fetched, not at the first page.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        self.migrate()

    def _refuse_foreign_file(self) -> None:
        """A SQLite file of another application is never touched: no tables added, no switch to WAL.

        Every archive has a schema version (the first migration sets it in the transaction that creates the
        tables), so tables in a file without one belong to someone else.
        """
        if self.schema_version:
            return
        tables = [
            str(row[0])
            for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        if tables:
            raise NotAnArchive(path=self.path, tables=tables)

    def _switch_to_wal(self) -> None:
        # Changing the journal mode needs the file to itself and SQLite does not wait for that
        # with the busy handler, so a second process opening a new archive retries here.
        deadline = time.monotonic() + settings.BUSY_TIMEOUT_S
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01 + random.random() * 0.04)

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite when the last one closes)."""
        self.conn.close()

    def before_commit(self) -> None:
        """Called in every write transaction just before COMMIT: a seam for the fault harness (bench/killhook.py)."""

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE so it never fails half-way on a lock.

        A failure of the archive itself becomes a StoreError; any other error (a constraint, a value SQLite
        refuses) rolls back and propagates as it is, for the caller to charge to the page being written.
        """
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, self.path), path=self.path) from exc
        self._undo = []
        try:
            yield conn
            self.before_commit()
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for undo in self._undo:
                undo()
            if isinstance(exc, sqlite3.Error) and is_archive_fault(exc):
                raise StoreError(describe(exc, self.path), path=self.path) from exc
            raise
        finally:
            self._undo = []

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Have `undo` called if the transaction under way does not commit: for what a writer keeps in memory of
        rows it wrote in it (a page dictionary whose row, and id, a rollback takes back)."""
        self._undo.append(undo)

    def vacuum(self) -> None:
        """Rewrite the file without its free pages, giving the space back to the disk.

        Needs the archive to itself (other writers wait, or fail after the busy timeout) and as much free disk
        as the archive takes. StoreError if it cannot be done.
        """
        try:
            self.conn.execute("VACUUM")
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, self.path), path=self.path) from exc

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Bring the schema up to SCHEMA_VERSION, each step in one transaction with its user_version."""
        while self.schema_version < SCHEMA_VERSION:
            with self.transaction() as db:
                # Read again under the write lock: another process may have migrated meanwhile.
                current = self.schema_version
                if current < SCHEMA_VERSION:
                    MIGRATIONS[current + 1](db)
                    db.execute(f"PRAGMA user_version = {current + 1}")
        if self.schema_version > SCHEMA_VERSION:
            raise StoreError(
                f"The archive {self.path} was written by a newer version of this program "
                f"(schema {self.schema_version}, this one knows {SCHEMA_VERSION}); upgrade the program.",
                path=self.path,
            )


def schema_version(path: Path) -> int:
    """The schema version of the archive at `path`, read without writing anything."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, str(path)), path=str(path)) from exc


def upgrade(path: Path) -> bool:
    """Bring the archive at `path` to the current schema (writing to it once); tell whether it was older."""
    if schema_version(path) >= SCHEMA_VERSION:
        return False
    Connection(path, check=False).close()
    return True


def inspect(path: Path) -> set[str]:
    """The tables of the SQLite file at `path`, read without writing anything; StoreError if it is not SQLite."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            return {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{path} is not a SQLite archive ({exc}).", path=str(path)) from exc
