"""The fetcher against hostile servers and addresses: SSRF in every spelling, bombs, drips, header floods, redirects."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from scraper.errors import BlockedURLError, FetchError
from scraper.fetch import Fetcher, FetchPolicy
from scraper.netguard import NON_PUBLIC_EXAMPLES

from .conftest import ServedSite

#: A globally routable address the stub DNS gives "news.example"; the test network reaches it on 127.0.0.1.
PUBLIC = "93.184.216.34"

SSRF_HOSTS = list(NON_PUBLIC_EXAMPLES)
SSRF_URLS = [f"{scheme}://{host}:{port}/" for host in SSRF_HOSTS for scheme, port in (("http", 80), ("https", 8443))]


class StubDNS:
    """A resolver that never leaves the machine: a table, IP literals, and localhost."""

    def __init__(self) -> None:
        self.table: dict[str, list[list[str]]] = {
            "news.example": [[PUBLIC]],
            # DNS rebinding: a public answer first, then loopback.
            "rebind.example": [[PUBLIC], ["127.0.0.1"]],
        }
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host in self.table:
            answers = self.table[host]
            return answers.pop(0) if len(answers) > 1 else answers[0]
        if host in ("localhost", "localhost."):
            return ["127.0.0.1", "::1"]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise OSError(-2, "Name or service not known") from None
        return [str(info[4][0]) for info in infos]


class LoopbackNetwork(httpcore.AsyncNetworkBackend):
    """Sockets behind the guard: the public test address is served by the local site; every connect is logged."""

    def __init__(self, port: int) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.port = port
        self.connected: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append(host)
        if host == PUBLIC:
            host, port = "127.0.0.1", self.port
        return await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest.fixture
def canaries() -> Iterator[list[str]]:
    """Listeners on 127.0.0.2:80-ish and [::1] that record any connection (there must be none)."""
    hits: list[str] = []
    sockets = []
    for family, address in ((socket.AF_INET, "127.0.0.2"), (socket.AF_INET6, "::1")):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.bind((address, 0))
            sock.listen()
            sock.settimeout(0.2)
        except OSError:
            continue
        sockets.append(sock)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for sock in sockets:
                try:
                    conn, peer = sock.accept()
                    hits.append(str(peer))
                    conn.close()
                except OSError:
                    pass

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield hits
    stop.set()
    thread.join()
    for sock in sockets:
        sock.close()


def guarded(site: ServedSite, dns: StubDNS | None = None, **policy: Any) -> tuple[Fetcher, LoopbackNetwork]:
    network = LoopbackNetwork(int(site.base.rsplit(":", 1)[1]))
    fetcher = Fetcher(FetchPolicy(allow_private=False, **policy), resolver=dns or StubDNS(), network=network)
    return fetcher, network


def news(site: ServedSite, path: str) -> str:
    return f"http://news.example:{site.base.rsplit(':', 1)[1]}/{path.lstrip('/')}"


@pytest.mark.parametrize("url", SSRF_URLS)
def test_private_addresses_are_refused_before_connecting(fixture_site: ServedSite, url: str) -> None:
    fetcher, network = guarded(fixture_site)

    async def attempt() -> None:
        async with fetcher:
            await fetcher.fetch(url)

    with pytest.raises(BlockedURLError) as caught:
        asyncio.run(attempt())
    assert network.connected == []
    message = str(caught.value)
    assert caught.value.kind in {"blocked_address", "dns_error", "bad_url"}
    assert "Refused" in message or "Could not resolve" in message
    assert caught.value.url.split("//", 1)[1].split("/", 1)[0] in message or url in message


@pytest.mark.parametrize("host", SSRF_HOSTS)
def test_redirects_to_private_addresses_are_refused(fixture_site: ServedSite, host: str, canaries: list[str]) -> None:
    fetcher, network = guarded(fixture_site)
    target = f"http://{host}:{fixture_site.base.rsplit(':', 1)[1]}/_fault/ok"

    async def attempt() -> None:
        async with fetcher:
            await fetcher.fetch(news(fixture_site, "/_fault/redirect"), headers={})

    fetcher_url = news(fixture_site, f"/_fault/redirect?to={target}")

    async def follow() -> None:
        async with fetcher:
            await fetcher.fetch(fetcher_url)

    with pytest.raises(BlockedURLError):
        asyncio.run(follow())
    assert network.connected == [PUBLIC]  # the first hop only
    assert canaries == []


def test_the_public_test_host_itself_is_fetched(fixture_site: ServedSite) -> None:
    fetcher, network = guarded(fixture_site)

    async def attempt() -> int:
        async with fetcher:
            return (await fetcher.fetch(news(fixture_site, "/_fault/ok"))).status

    assert asyncio.run(attempt()) == 200
    assert network.connected == [PUBLIC]


def test_dns_rebinding_cannot_reach_loopback(fixture_site: ServedSite, canaries: list[str]) -> None:
    dns = StubDNS()
    fetcher, network = guarded(fixture_site, dns)
    port = fixture_site.base.rsplit(":", 1)[1]

    async def twice() -> list[int]:
        statuses = []
        async with fetcher:
            for _ in range(2):
                try:
                    statuses.append((await fetcher.fetch(f"http://rebind.example:{port}/_fault/ok")).status)
                except BlockedURLError:
                    statuses.append(-1)
        return statuses

    statuses = asyncio.run(twice())
    assert statuses[0] == 200
    assert "127.0.0.1" not in network.connected  # every connection went to the address that was checked
    assert canaries == []


@pytest.mark.parametrize(
    "scheme", ["file:///etc/passwd", "ftp://news.example/x", "gopher://news.example/", "data:text/html,x"]
)
def test_redirects_to_other_schemes_are_refused(fixture_site: ServedSite, scheme: str) -> None:
    fetcher = Fetcher(FetchPolicy(allow_private=True))

    async def attempt() -> None:
        async with fetcher:
            await fetcher.fetch(fixture_site.url(f"_fault/redirect?to={scheme}"))

    with pytest.raises(BlockedURLError, match=r"^Refused the redirect from") as caught:
        asyncio.run(attempt())
    assert caught.value.kind in {"blocked_scheme", "bad_url"}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_decompression_bombs_stop_near_the_cap(fixture_site: ServedSite, encoding: str) -> None:
    cap = 1024 * 1024
    fetcher = Fetcher(FetchPolicy(allow_private=True, max_body_bytes=cap))

    async def attempt() -> None:
        async with fetcher:
            await fetcher.fetch(fixture_site.url(f"_fault/bomb?mb=1024&enc={encoding}"))

    with pytest.raises(FetchError, match="larger than the 1,048,576-byte cap once decompressed") as caught:
        asyncio.run(attempt())
    assert caught.value.kind == "too_large"


def test_a_drip_is_cut_at_the_total_deadline(fixture_site: ServedSite) -> None:
    fetcher = Fetcher(FetchPolicy(allow_private=True, total_timeout=2.0, read_timeout=1.5))

    async def attempt() -> None:
        async with fetcher:
            await fetcher.fetch(fixture_site.url("_fault/drip?interval=0.5"))

    started = time.monotonic()
    # The message is the total deadline's own (a read timeout would say otherwise: each byte comes in time).
    with pytest.raises(FetchError, match="took longer than the 2 s allowed in total"):
        asyncio.run(attempt())
    # The drip would last hours; a bound this loose holds on any loaded machine and still shows it was cut.
    assert time.monotonic() - started < 60


def test_a_header_flood_is_refused(fixture_site: ServedSite) -> None:
    fetcher = Fetcher(FetchPolicy(allow_private=True))

    async def attempt() -> None:
        async with fetcher:
            await fetcher.fetch(fixture_site.url("_fault/headers?kb=200"))

    with pytest.raises(FetchError) as caught:
        asyncio.run(attempt())
    assert caught.value.kind == "protocol_error"


def test_credentials_do_not_cross_origins_on_redirect(fixture_site: ServedSite) -> None:
    port = fixture_site.base.rsplit(":", 1)[1]
    secrets = {"Authorization": "Bearer s3cret", "Cookie": "session=abc"}

    async def echo(url: str) -> dict[str, str]:
        async with Fetcher(FetchPolicy(allow_private=True)) as fetcher:
            page = await fetcher.fetch(url, headers=secrets)
        import json

        return dict(json.loads(page.body))

    same_origin = asyncio.run(echo(fixture_site.url("_fault/redirect?to=/_fault/echo")))
    assert same_origin["authorization"] == "Bearer s3cret" and same_origin["cookie"] == "session=abc"
    other_origin = asyncio.run(echo(fixture_site.url(f"_fault/redirect?to=http://localhost:{port}/_fault/echo")))
    assert "authorization" not in other_origin and "cookie" not in other_origin


def test_the_redirect_cap_is_exact(fixture_site: ServedSite) -> None:
    # /_fault/chain/N answers with N + 1 redirects: chain/N -> chain/N-1 -> ... -> chain/0 -> ok.
    async def attempt(redirects: int) -> int:
        async with Fetcher(FetchPolicy(allow_private=True, max_redirects=5)) as fetcher:
            return (await fetcher.fetch(fixture_site.url(f"_fault/chain/{redirects - 1}"))).status

    assert asyncio.run(attempt(5)) == 200
    with pytest.raises(FetchError, match="redirected more than 5 times"):
        asyncio.run(attempt(6))
