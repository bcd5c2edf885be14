"""Serve an archive with Datasette: the one `datasette serve` command line, run in this process or shown to the user."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from scraper import settings
from scraper.errors import StoreError, UsageError
from scraper.store import inspect

HERE = Path(__file__).resolve().parent
METADATA = HERE / "metadata.yaml"
PLUGINS_DIR = HERE / "plugins"
TEMPLATES_DIR = HERE / "templates"

#: Datasette settings (`--setting NAME VALUE`); the same for `scrape serve` and the README's command line.
DATASETTE_SETTINGS = {
    # Suggesting facets runs a query per column on every table page: on a large archive that is most of the time.
    "suggest_facets": "off",
    # Bodies are long: the table shows their start, the article page shows them whole.
    "truncate_cells_html": "300",
    # A canned query over a large archive on a slow disk can take more than the default second.
    "sql_time_limit_ms": "3000",
    # Facets of a broad search count many rows; a slow facet is left out (and says so) after this long.
    "facet_time_limit_ms": "500",
}


#: One archive file, or several (the shards of the distributed writer, one per site).
Archives = Path | str | list[Path]


def _paths(db_path: Archives) -> list[Path]:
    return [Path(p) for p in db_path] if isinstance(db_path, list) else [Path(db_path)]


def datasette_args(
    db_path: Archives, *, host: str = "127.0.0.1", port: int = settings.SERVE_PORT, root: Path | None = None
) -> list[str]:
    """The arguments after `datasette` that serve `db_path` (one archive or several) as `scrape serve` does.

    Never `-i`: the crawler writes while Datasette reads (WAL), and Datasette opens a database given this
    way read-only (`mode=ro`). With `root`, the package's files are given relative to that folder (for docs).
    """

    def shown(path: Path) -> str:
        return str(path.relative_to(root)) if root is not None else str(path)

    args = [
        "serve",
        *(str(path) for path in _paths(db_path)),
        "--metadata",
        shown(METADATA),
        "--plugins-dir",
        shown(PLUGINS_DIR),
        "--template-dir",
        shown(TEMPLATES_DIR),
    ]
    for name, value in DATASETTE_SETTINGS.items():
        args += ["--setting", name, value]
    return [*args, "--host", host, "--port", str(port)]


def check_archive(db_path: Path) -> None:
    """Raise UsageError unless `db_path` is an archive (read without writing anything)."""
    if not db_path.is_file():
        raise UsageError(f"There is no archive at {db_path}; run `scrape crawl` or `scrape url` first.")
    try:
        tables = inspect(db_path)
    except StoreError as exc:
        raise UsageError(str(exc)) from exc
    if "articles" not in tables:
        raise UsageError(f"{db_path} is a SQLite file but not an archive (it has no articles table).")


def archives_in(directory: Path) -> list[Path]:
    """The archives in a folder (`*.db`, as `scrape writer --archives` writes them); UsageError if it has none."""
    if not directory.is_dir():
        raise UsageError(f"There is no folder of archives at {directory}; give the folder `scrape writer` writes.")
    found = []
    for path in sorted(directory.glob("*.db")):
        try:
            check_archive(path)
        except UsageError:
            continue  # another file beside the archives is none of ours to serve
        found.append(path)
    if not found:
        raise UsageError(f"{directory} holds no archive (no <site>.db written by `scrape writer`).")
    return found


def check_port(host: str, port: int) -> None:
    """Raise UsageError if nothing can listen on host:port (another server has it), before anything is printed."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"Cannot serve on {host}:{port}: {exc.strerror or exc}; choose another port with --port."
            ) from None


def serve(db_path: Archives, *, host: str = "127.0.0.1", port: int = settings.SERVE_PORT) -> None:
    """Run Datasette on the archive (or archives) in the foreground until interrupted (Ctrl-C)."""
    for path in _paths(db_path):
        check_archive(path)
    check_port(host, port)
    from datasette.cli import cli

    try:
        cli.main(args=datasette_args(db_path, host=host, port=port), prog_name="datasette", standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            # uvicorn exits 3 when it cannot start (the port taken between our check and its bind).
            raise UsageError(f"Datasette could not serve {db_path} on {host}:{port} (it exited {exc.code}).") from None


def build(db_path: Archives) -> Any:
    """The Datasette instance `scrape serve` runs, parsed from the same command line but not started."""
    from datasette.cli import serve as serve_command

    with serve_command.make_context("serve", datasette_args(db_path)[1:]) as context:
        return context.invoke(serve_command.callback, **context.params, return_instance=True)
