"""Inflate gzip, deflate and brotli bodies in bounded steps, stopping at a size cap (bomb-safe)."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli

from scraper.errors import BodyTooLarge, CorruptEncoding

# One stage takes a compressed chunk (b"" means "drain") and returns what it could inflate,
# never more than `step` bytes per call of the underlying decoder.
_Stage = Callable[[bytes], bytes]


def _zlib_stage(wbits: int, step: int, budget: Callable[[], int]) -> _Stage:
    decoder = zlib.decompressobj(wbits)

    def feed(data: bytes) -> bytes:
        out = bytearray()
        try:
            chunk = decoder.decompress(data, step)
            while True:
                out += chunk
                if len(out) > budget():
                    raise BodyTooLarge
                if not decoder.unconsumed_tail:
                    break
                chunk = decoder.decompress(decoder.unconsumed_tail, step)
        except zlib.error as exc:
            raise CorruptEncoding(str(exc)) from exc
        return bytes(out)

    return feed


def _deflate_stage(step: int, budget: Callable[[], int]) -> _Stage:
    # "deflate" should be zlib-wrapped, but many servers send raw deflate; the
    # first two bytes tell which (a zlib header is a multiple of 31).
    inner: list[_Stage] = []

    def feed(data: bytes) -> bytes:
        if not inner:
            if not data:
                return b""
            zlib_wrapped = len(data) >= 2 and (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            inner.append(_zlib_stage(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS, step, budget))
        return inner[0](data)

    return feed


def _brotli_stage(step: int, budget: Callable[[], int]) -> _Stage:
    decoder = brotli.Decompressor()

    def feed(data: bytes) -> bytes:
        out = bytearray()
        try:
            out += decoder.process(data, output_buffer_limit=step)
            while not decoder.can_accept_more_data() and not decoder.is_finished():
                if len(out) > budget():
                    raise BodyTooLarge
                out += decoder.process(b"", output_buffer_limit=step)
        except brotli.error as exc:
            raise CorruptEncoding(str(exc)) from exc
        if len(out) > budget():
            raise BodyTooLarge
        return bytes(out)

    return feed


SUPPORTED = ("gzip", "x-gzip", "deflate", "br", "identity")


class BoundedDecoder:
    """Undo a Content-Encoding chain (e.g. "gzip, br") chunk by chunk, keeping output under `cap` bytes."""

    def __init__(self, content_encoding: str, *, cap: int, step: int) -> None:
        self.cap = cap
        self.size = 0
        self._stages: list[_Stage] = []
        # Encodings are listed in the order they were applied, so undo them in reverse.
        for name in reversed([e.strip().lower() for e in content_encoding.split(",") if e.strip()]):
            if name in ("gzip", "x-gzip"):
                self._stages.append(_zlib_stage(zlib.MAX_WBITS | 16, step, self._remaining))
            elif name == "deflate":
                self._stages.append(_deflate_stage(step, self._remaining))
            elif name == "br":
                self._stages.append(_brotli_stage(step, self._remaining))
            elif name != "identity":
                raise CorruptEncoding(f"unsupported Content-Encoding {name!r}")
        self._chunks: list[bytes] = []

    def _remaining(self) -> int:
        return self.cap - self.size

    def feed(self, data: bytes) -> None:
        """Decode one raw chunk; raise BodyTooLarge once the output passes the cap."""
        for stage in self._stages:
            data = stage(data)
        self.size += len(data)
        if self.size > self.cap:
            raise BodyTooLarge
        if data:
            self._chunks.append(data)

    def finish(self) -> bytes:
        """Drain the decoders and return the whole decoded body."""
        for index in range(len(self._stages)):
            data = self._stages[index](b"")
            for stage in self._stages[index + 1 :]:
                data = stage(data)
            self.size += len(data)
            if self.size > self.cap:
                raise BodyTooLarge
            self._chunks.append(data)
        return b"".join(self._chunks)
