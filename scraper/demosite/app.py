"""Assemble and run the demo site server: the news site, fault routes, and optionally a folder of files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from scraper.demosite.server import FaultRoutes, Handler, Server, static_handler
from scraper.demosite.site import NewsSite


def build_server(
    *, port: int, site: NewsSite | None = None, root: Path | None = None, host: str = "127.0.0.1"
) -> Server:
    """A server with the hostile routes under /_fault/, the news site at /, and `root`'s files under /files/."""
    routes: list[tuple[str, Handler]] = [("/_fault/", FaultRoutes())]
    if root is not None:
        routes.append(("/files/", static_handler(root, prefix="/files/")))
    if site is not None:
        routes.append(("/", site.handle))
    return Server(routes, host=host, port=port)


def run(*, port: int, site: NewsSite | None, root: Path | None, on_ready: Callable[[str], None]) -> None:
    """Serve until interrupted; `on_ready` gets the base URL once the socket listens."""

    async def main() -> None:
        server = build_server(port=port, site=site, root=root)
        bound = await server.start()
        on_ready(f"http://127.0.0.1:{bound}/")
        await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
