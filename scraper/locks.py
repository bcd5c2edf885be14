"""Process locks beside the archive (flock: the kernel drops them when the process dies, even by kill -9)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from scraper.errors import LockedError


@contextmanager
def hold(path: Path, refuse: Callable[[str], LockedError]) -> Iterator[None]:
    """Hold the lock file `path` while the block runs; raise `refuse(holder)` at once if another process holds it."""
    handle: IO[str] = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise refuse(holder) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
