"""A small asyncio HTTP/1.1 server for the local news site: pages, files and hostile routes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import socket
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

_REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    307: "Temporary Redirect",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_MAX_REQUEST_HEAD = 64 * 1024


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query, keep_blank_values=True).items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def html(cls, text: str, *, status: int = 200, charset: str = "utf-8", **headers: str) -> Response:
        return cls(
            status,
            text.encode(charset, "xmlcharrefreplace"),
            {"Content-Type": f"text/html; charset={charset}", **headers},
        )


#: A handler answers with a Response, or writes to the socket itself (faults) and returns None.
Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[Response | None]]


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def write_response(writer: asyncio.StreamWriter, response: Response, *, head_only: bool = False) -> None:
    headers = {"Date": formatdate(usegmt=True), "Server": "demo-news-site", **response.headers}
    headers.setdefault("Content-Length", str(len(response.body)))
    writer.write(_head(response.status, headers))
    if not head_only:
        writer.write(response.body)
    await writer.drain()


def static_handler(root: Path, *, prefix: str = "/") -> Handler:
    """Serve files under `root` at `prefix`; .html is sent without a charset so the page's <meta> decides."""
    root = root.resolve()

    async def handle(request: Request, writer: asyncio.StreamWriter) -> Response | None:
        path = (root / request.path.removeprefix(prefix).lstrip("/")).resolve()
        if path.is_dir():
            path = path / "index.html"
        if not path.is_relative_to(root) or not path.is_file():
            return Response(404, b"<h1>404</h1>", {"Content-Type": "text/html; charset=utf-8"})
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Response(200, path.read_bytes(), {"Content-Type": kind})

    return handle


class FaultRoutes:
    """Hostile behaviours under /_fault/, chosen by path and query, like Scrapy's mock server."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def _count(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    async def __call__(self, request: Request, writer: asyncio.StreamWriter) -> Response | None:
        parts = request.path.strip("/").split("/")[1:]
        name, args, query = (parts[0] if parts else ""), parts[1:], request.query
        html = "<html><head><title>t</title></head><body><h1>Fault page</h1><p>Text.</p></body></html>"
        if name == "status":
            code = int(args[0]) if args else 500
            return Response(code, f"<h1>{code}</h1>".encode(), {"Content-Type": "text/html"})
        if name == "delay":
            await asyncio.sleep(float(query.get("s", "5")))
            return Response.html(html)
        if name == "drip":
            # Headers at once, then one byte per interval: each read is quick, the whole never ends.
            body = html.encode() * 50
            writer.write(_head(200, {"Content-Type": "text/html", "Content-Length": str(len(body))}))
            for byte in body:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(float(query.get("interval", "1")))
            return None
        if name == "redirect":
            return Response(int(query.get("code", "302")), b"", {"Location": query.get("to", "/")})
        if name == "loop":
            # /_fault/loop/a -> /_fault/loop/b -> /_fault/loop/a ...
            other = "b" if (args[:1] or ["a"])[0] == "a" else "a"
            return Response(302, b"", {"Location": f"/_fault/loop/{other}"})
        if name == "chain":
            left = int(args[0]) if args else 0
            target = f"/_fault/chain/{left - 1}" if left > 0 else "/_fault/ok"
            return Response(302, b"", {"Location": target})
        if name == "ok":
            return Response.html(html)
        if name == "type":
            body = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" * 20
            return Response(200, body, {"Content-Type": query.get("ct", "application/pdf")})
        if name == "empty":
            return Response(200, b"", {"Content-Type": "text/html; charset=utf-8"})
        if name == "truncated":
            # Promise more bytes than are sent, then close: the body is incomplete.
            body = html.encode()
            writer.write(_head(200, {"Content-Type": "text/html", "Content-Length": str(len(body) + 5000)}))
            writer.write(body)
            await writer.drain()
            writer.close()
            return None
        if name == "reset":
            body = html.encode() * 20
            writer.write(_head(200, {"Content-Type": "text/html", "Content-Length": str(len(body) * 4)}))
            writer.write(body)
            await writer.drain()
            sock = writer.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER 0 makes close() send a TCP RST instead of a FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            writer.transport.abort()
            return None
        if name == "flaky":
            # Fail `fail` times with `status` (and Retry-After if given), then serve the page.
            key = args[0] if args else "default"
            if self._count(f"flaky:{key}") <= int(query.get("fail", "2")):
                headers = {"Content-Type": "text/html"}
                if "retry_after" in query:
                    headers["Retry-After"] = query["retry_after"]
                return Response(int(query.get("status", "503")), b"<h1>try later</h1>", headers)
            return Response.html(html)
        if name == "bomb":
            size = int(query.get("mb", "64")) * 1024 * 1024
            encoding = query.get("enc", "gzip")
            payload = _bomb(size, encoding)
            return Response(200, payload, {"Content-Type": "text/html", "Content-Encoding": encoding})
        if name == "huge":
            size = int(query.get("mb", "20")) * 1024 * 1024
            return Response(200, b"<p>" + b"x" * size + b"</p>", {"Content-Type": "text/html"})
        if name == "headers":
            # A header block far over any sane limit.
            size = int(query.get("kb", "200")) * 1024
            writer.write(_head(200, {"Content-Type": "text/html", "X-Filler": "a" * size, "Content-Length": "2"}))
            writer.write(b"ok")
            await writer.drain()
            return None
        if name == "echo":
            # What the client sent, so tests can see which headers crossed a redirect.
            body = json.dumps(request.headers).encode()
            return Response(200, body, {"Content-Type": "application/json"})
        if name == "garbage":
            return Response(200, bytes(range(256)) * 40, {"Content-Type": "text/html"})
        if name == "close":
            writer.transport.abort()
            return None
        return Response(404, b"<h1>no such fault</h1>", {"Content-Type": "text/html"})


_BOMB_CACHE: dict[tuple[int, str], bytes] = {}
_MIB = 1024 * 1024


def _repeated_deflate(mebibytes: int) -> bytes:
    """A raw deflate stream of `mebibytes` MiB of zeros, built by repeating one flushed block
    (compressing a gibibyte for real takes seconds; this takes milliseconds)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(b"\0" * _MIB) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * mebibytes + zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


def _bomb(size: int, encoding: str) -> bytes:
    """A body of `size` zero bytes (a whole number of MiB) once decompressed, ~1/1000 of it on the wire."""
    key = (size, encoding)
    if key not in _BOMB_CACHE:
        mebibytes = max(1, size // _MIB)
        if encoding == "br":
            import brotli

            compressor = brotli.Compressor(quality=1)
            chunk = b"\0" * _MIB
            _BOMB_CACHE[key] = b"".join(compressor.process(chunk) for _ in range(mebibytes)) + compressor.finish()
        else:
            raw = _repeated_deflate(mebibytes)
            zeros = b"\0" * _MIB
            crc, adler = 0, 1
            for _ in range(mebibytes):
                crc, adler = zlib.crc32(zeros, crc), zlib.adler32(zeros, adler)
            total = mebibytes * _MIB
            if encoding == "gzip":
                header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
                trailer = crc.to_bytes(4, "little") + (total & 0xFFFFFFFF).to_bytes(4, "little")
                _BOMB_CACHE[key] = header + raw + trailer
            else:  # zlib-wrapped "deflate"
                _BOMB_CACHE[key] = b"\x78\xda" + raw + adler.to_bytes(4, "big")
    return _BOMB_CACHE[key]


class Server:
    """Route requests by path prefix to handlers; keep-alive, GET and HEAD."""

    def __init__(self, routes: list[tuple[str, Handler]], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes = sorted(routes, key=lambda r: len(r[0]), reverse=True)
        self.host = host
        self.port = port
        self.requests = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, backlog=1024, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                self.requests += 1
                handler = next((h for prefix, h in self.routes if request.path.startswith(prefix)), None)
                response = (
                    await handler(request, writer)
                    if handler
                    else Response(404, b"not found", {"Content-Type": "text/plain"})
                )
                if response is None or writer.is_closing():
                    break
                await write_response(writer, response, head_only=request.method == "HEAD")
                if request.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        if len(head) > _MAX_REQUEST_HEAD:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        return Request(method, target, headers)
