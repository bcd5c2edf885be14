"""Fetch one URL with httpx: redirects checked hop by hop, a total deadline, a size cap, decoded text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from scraper import charset, settings
from scraper.decompress import BoundedDecoder
from scraper.errors import BlockedURLError, BodyTooLarge, CorruptEncoding, ErrorKind, FetchError
from scraper.models import Page
from scraper.netguard import Resolver, resolve_checked, system_resolver
from scraper.urls import resolve, validate

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Headers that carry credentials and must not follow a redirect to another origin.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
#: Response headers never kept with a page: they can carry a session or a credential.
_SECRET_RESPONSE_HEADERS = frozenset(
    {"set-cookie", "set-cookie2", "authorization", "proxy-authorization", "www-authenticate"}
)


@dataclass(frozen=True)
class FetchPolicy:
    """The limits and manners of one fetcher."""

    user_agent: str = settings.USER_AGENT
    connect_timeout: float = settings.CONNECT_TIMEOUT
    read_timeout: float = settings.READ_TIMEOUT
    total_timeout: float = settings.TOTAL_TIMEOUT
    max_body_bytes: int = settings.MAX_BODY_BYTES
    max_redirects: int = settings.MAX_REDIRECTS
    allow_private: bool = False
    max_connections: int = 100


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve each host once, refuse non-public addresses, and connect to the address that was checked."""

    def __init__(self, resolver: Resolver, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await resolve_checked(host, port, resolver=self._resolver, url=f"//{host}:{port}")
        return await self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _transport(
    policy: FetchPolicy, resolver: Resolver, network: httpcore.AsyncNetworkBackend | None
) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=policy.max_connections))
    if not policy.allow_private:
        # httpx has no hook for the connect step, so the pool it built is replaced by
        # an identical one whose network backend checks addresses (no DNS-rebinding window).
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=policy.max_connections,
            max_keepalive_connections=policy.max_connections,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(resolver, network),
        )
    return transport


def _reason(exc: Exception, default: str) -> str:
    """The exception's own words, or `default` when it has none (httpx often raises with an empty message)."""
    return str(exc).strip().rstrip(".") or default


#: The headers of every request (besides Host), as `scrape export` also writes them in WARC request records.
REQUEST_HEADERS = {
    "User-Agent": settings.USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Encoding": "gzip, deflate, br",
    "Accept-Language": "ru,kk;q=0.9,en;q=0.8",
}


def _head_sent(callback: Callable[[], Awaitable[None]]) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """An httpcore trace callback that awaits `callback` once a request's head is written."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_headers.complete"):
            await callback()

    return trace


def kept_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The response headers to keep with a page, names lower-cased and repeats joined with ", " as httpx joins
    them: all but those that carry secrets (cookies, credentials)."""
    kept: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key not in _SECRET_RESPONSE_HEADERS:
            kept[key] = f"{kept[key]}, {value}" if key in kept else value
    return kept


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, lower-cased (text/html of `text/html; charset=utf-8`)."""
    return content_type.split(";", 1)[0].strip().lower()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or ""), parts.port


class Fetcher:
    """An HTTP client for pages: one per crawl (keep-alive, connection limits), or one per command."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        """`resolver` and `network` exist for tests: a stub DNS and a socket layer behind the SSRF guard."""
        self.policy = policy or FetchPolicy()
        self._client = httpx.AsyncClient(
            transport=transport or _transport(self.policy, resolver, network),
            follow_redirects=False,
            timeout=httpx.Timeout(
                self.policy.read_timeout, connect=self.policy.connect_timeout, pool=self.policy.total_timeout
            ),
            headers={**REQUEST_HEADERS, "User-Agent": self.policy.user_agent},
            trust_env=False,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        before_request: Callable[[], Awaitable[None]] | None = None,
        after_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Page:
        """Fetch `url`, following redirects, and return the final response as a Page.

        Any HTTP status is returned as a Page (the caller decides what a 404 means);
        a failure with no usable response raises FetchError with a closed-set `kind`.
        `before_request` is awaited before each request goes out, redirect hops
        included (the crawler's per-host politeness); `after_send` once each request's
        head has been written to the socket (politeness shared between processes).
        """
        started = time.perf_counter()
        url = validate(url)
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                return await self._follow(url, dict(headers or {}), started, before_request, after_send)
        except TimeoutError:
            raise FetchError(
                f"Fetching {url} took longer than the {self.policy.total_timeout:g} s allowed in total.",
                url=url,
                kind=ErrorKind.TIMEOUT,
            ) from None
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"Fetching {url} timed out ({type(exc).__name__}).", url=url, kind=ErrorKind.TIMEOUT
            ) from exc
        except httpx.ConnectError as exc:
            raise FetchError(
                f"Could not connect to {url}: {_reason(exc, 'connection refused')}.",
                url=url,
                kind=ErrorKind.CONNECT_ERROR,
            ) from exc
        except httpx.RemoteProtocolError as exc:
            if "Invalid URL in location header" in str(exc):
                # httpx refuses to even represent the redirect target: it is refused, not followed.
                raise BlockedURLError(
                    f"Refused the redirect from {url}: {_reason(exc, 'invalid location')}.",
                    url=url,
                    kind=ErrorKind.BAD_URL,
                ) from exc
            truncated = "complete message body" in str(exc)
            raise FetchError(
                f"The server broke the HTTP exchange for {url}: {_reason(exc, 'invalid response')}.",
                url=url,
                kind=ErrorKind.TRUNCATED if truncated else ErrorKind.PROTOCOL_ERROR,
            ) from exc
        except (httpx.ReadError, httpx.WriteError) as exc:
            raise FetchError(
                f"The connection for {url} was reset: {_reason(exc, 'connection reset by peer')}.",
                url=url,
                kind=ErrorKind.CONNECTION_RESET,
            ) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"Fetching {url} failed: {exc}.", url=url, kind=ErrorKind.HTTP_ERROR) from exc

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        started: float,
        before_request: Callable[[], Awaitable[None]] | None,
        after_send: Callable[[], Awaitable[None]] | None,
    ) -> Page:
        hops: list[str] = []
        current = url
        # httpcore reports each step of a request to its `trace` extension: the head sent is the moment
        # the server sees the request.
        extensions = {"trace": _head_sent(after_send)} if after_send is not None else None
        while True:
            if before_request is not None:
                await before_request()
            try:
                request = self._client.build_request("GET", current, headers=headers, extensions=extensions)
            except httpx.InvalidURL as exc:
                raise BlockedURLError(
                    f"Refused {current}: it is not a valid URL ({exc}).", url=current, kind=ErrorKind.BAD_URL
                ) from None
            try:
                response = await self._client.send(request, stream=True)
            except httpx.InvalidURL as exc:
                # httpx could not even represent the Location it was given (e.g. "data:text/html,…").
                raise BlockedURLError(
                    f"Refused the redirect from {current}: its Location is not a URL to follow ({exc}).",
                    url=current,
                    kind=ErrorKind.BAD_URL,
                ) from None
            except BlockedURLError as exc:
                # The guard only knows host and port; name the URL the user will recognise.
                raise BlockedURLError(str(exc).replace(exc.url, current), url=current, kind=exc.kind) from None
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    try:
                        target = resolve(current, location)
                    except BlockedURLError as exc:
                        reason = str(exc).removeprefix("Refused ")
                        raise BlockedURLError(
                            f"Refused the redirect from {current}: {reason}", url=current, kind=exc.kind
                        ) from None
                    hops.append(current)
                    if target in hops:
                        raise FetchError(
                            f"{url} redirects in a loop (back to {target}).", url=url, kind=ErrorKind.REDIRECT_LOOP
                        )
                    if len(hops) > self.policy.max_redirects:
                        raise FetchError(
                            f"{url} redirected more than {self.policy.max_redirects} times.",
                            url=url,
                            kind=ErrorKind.TOO_MANY_REDIRECTS,
                        )
                    if _origin(target) != _origin(current):
                        headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
                    current = target
                    continue
                body = await self._read_body(response, current)
            finally:
                await response.aclose()
            content_type = response.headers.get("content-type", "")
            text, encoding, encoding_source = charset.decode(body, content_type)
            return Page(
                url=url,
                final_url=current,
                status=response.status_code,
                headers=kept_headers(response.headers.multi_items()),
                body=body,
                text=text,
                encoding=encoding,
                encoding_source=encoding_source,
                content_type=media_type(content_type),
                fetched_at=datetime.now(UTC),
                elapsed_ms=round((time.perf_counter() - started) * 1000),
            )

    async def _read_body(self, response: httpx.Response, url: str) -> bytes:
        cap = self.policy.max_body_bytes
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "")
        if declared.isdigit() and not encoding and int(declared) > cap:
            raise FetchError(
                f"{url} is {int(declared):,} bytes, more than the {cap:,}-byte cap.",
                url=url,
                kind=ErrorKind.TOO_LARGE,
            )
        try:
            decoder = BoundedDecoder(encoding, cap=cap, step=settings.DECOMPRESS_STEP)
            async for chunk in response.aiter_raw():
                decoder.feed(chunk)
            return decoder.finish()
        except BodyTooLarge:
            raise FetchError(
                f"{url} is larger than the {cap:,}-byte cap once decompressed.", url=url, kind=ErrorKind.TOO_LARGE
            ) from None
        except CorruptEncoding as exc:
            raise FetchError(
                f"{url} has a body that is not valid {encoding or 'data'}: {exc}.",
                url=url,
                kind=ErrorKind.BAD_ENCODING,
            ) from exc
