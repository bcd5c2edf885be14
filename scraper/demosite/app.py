"""Assemble and run the demo site server: fault routes plus static files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from scraper.demosite.server import FaultRoutes, Handler, Server, static_handler


def build_server(*, port: int, root: Path | None = None, host: str = "127.0.0.1") -> Server:
    """Return a server with the hostile routes under /_fault/ and, if given, the files under `root`."""
    routes: list[tuple[str, Handler]] = [("/_fault/", FaultRoutes())]
    if root is not None:
        routes.append(("/", static_handler(root)))
    return Server(routes, host=host, port=port)


def run(*, port: int, root: Path | None, on_ready: Callable[[str], None]) -> None:
    """Serve until interrupted; `on_ready` gets the base URL once the socket listens."""

    async def main() -> None:
        server = build_server(port=port, root=root)
        bound = await server.start()
        on_ready(f"http://127.0.0.1:{bound}/")
        await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
