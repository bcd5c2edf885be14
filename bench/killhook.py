"""Fault-harness seam: run `scrape` so that it kills itself with SIGKILL inside its N-th archive commit.

    python bench/killhook.py N [scrape arguments...]

Everything of the commit is written and nothing committed when the process dies, which is the moment
a power cut or `kill -9` is hardest on an archive. Production code only offers the no-op seam
`Connection.before_commit`; this script is the one place that fills it. With KILLHOOK_SIGNAL=INT in the
environment it sends itself SIGINT (a Ctrl-C) there instead: that commit completes, and the command stops.
"""

from __future__ import annotations

import os
import signal
import sys

from scraper.cli import main
from scraper.store.db import Connection


def install(commit: int, sent: signal.Signals = signal.SIGKILL) -> None:
    """Make every archive connection of this process get `sent` (SIGKILL) inside its `commit`-th commit in all."""
    count = 0

    def before_commit(self: Connection) -> None:
        nonlocal count
        count += 1
        if count == commit:
            os.kill(os.getpid(), sent)

    Connection.before_commit = before_commit  # type: ignore[method-assign]


if __name__ == "__main__":
    install(int(sys.argv[1]), signal.Signals["SIG" + os.environ.get("KILLHOOK_SIGNAL", "KILL")])
    sys.argv = ["scrape", *sys.argv[2:]]
    main()
