"""WARC 1.1 records in and out with warcio: captures written as request/response/revisit records, and read back
record by record, a damaged record reported with its offset and skipped."""

from __future__ import annotations

import contextlib
import http
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from io import BytesIO
from typing import IO, Any, Literal, TypeVar
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import iso_date_to_datetime
from warcio.warcwriter import WARCWriter

#: The response headers that describe the bytes on the wire, not the stored (decoded) payload.
WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
#: The prefix a response header dropped for that reason keeps its value under (pywb's convention).
ORIGINAL_PREFIX = "x-archive-orig-"
#: How far past a damaged record the reader looks for the next one.
_SCAN_STEP = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."

RecordKind = Literal["response", "revisit"]
T = TypeVar("T")


def warc_date(when: datetime) -> str:
    """A WARC-Date: UTC, to the second as the archive keeps its times."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def replayed_headers(headers: dict[str, str], length: int) -> list[tuple[str, str]]:
    """Response headers for a stored (decoded) payload, as replay tools expect them: Content-Encoding and
    Transfer-Encoding dropped and Content-Length set to the payload's, each value it replaces kept under
    `x-archive-orig-` (pywb's prefix), so `received_headers` can give the headers back as they came."""
    out = [(name, value) for name, value in headers.items() if name.lower() not in WIRE_HEADERS]
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in WIRE_HEADERS and not (lowered == "content-length" and value.strip() == str(length)):
            out.append((ORIGINAL_PREFIX + lowered, value))
    out.append(("content-length", str(length)))
    return out


def received_headers(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers as received, from a record that `replayed_headers` wrote (other tools' records pass unchanged)."""
    restored = [
        (name[len(ORIGINAL_PREFIX) :], value) for name, value in pairs if name.lower().startswith(ORIGINAL_PREFIX)
    ]
    if not restored:
        return pairs
    replaced = {name.lower() for name, _ in restored}
    kept = [
        (name, value)
        for name, value in pairs
        if name.lower() not in replaced and not name.lower().startswith(ORIGINAL_PREFIX)
    ]
    return kept + restored


class Writer:
    """A WARC 1.1 file being written: a warcinfo record first, then one request/response pair per capture."""

    def __init__(self, out: IO[bytes], *, filename: str, info: dict[str, str], gzip: bool = True) -> None:
        self._writer = WARCWriter(out, gzip=gzip, warc_version="1.1")
        self._writer.write_record(self._writer.create_warcinfo_record(filename, info))

    def response(
        self,
        url: str,
        *,
        fetched_at: datetime,
        status: int,
        headers: dict[str, str],
        body: bytes,
        request_headers: dict[str, str],
    ) -> str:
        """Write the response and the request that fetched it (linked by WARC-Concurrent-To); return its digest."""
        date = warc_date(fetched_at)
        reason = _reason(status)
        response = self._writer.create_warc_record(
            url,
            "response",
            payload=BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders(
                f"{status} {reason}".strip(), replayed_headers(headers, len(body)), protocol="HTTP/1.1"
            ),
            warc_headers_dict={"WARC-Date": date},
        )
        self._writer.write_record(response)
        self._request(url, date, response, request_headers)
        return str(response.rec_headers.get_header("WARC-Payload-Digest"))

    def revisit(
        self,
        url: str,
        *,
        fetched_at: datetime,
        status: int,
        digest: str,
        refers_to: tuple[str, datetime],
        request_headers: dict[str, str],
    ) -> None:
        """Write a revisit of a payload identical to one written before (identical-payload-digest profile)."""
        date = warc_date(fetched_at)
        record = self._writer.create_revisit_record(
            url,
            digest,
            refers_to[0],
            warc_date(refers_to[1]),
            http_headers=StatusAndHeaders(f"{status} {_reason(status)}".strip(), [], protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Date": date},
        )
        self._writer.write_record(record)
        self._request(url, date, record, request_headers)

    def _request(self, url: str, date: str, concurrent: ArcWarcRecord, request_headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = self._writer.create_warc_record(
            url,
            "request",
            payload=BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(
                f"GET {target} HTTP/1.1",
                [("Host", parts.netloc), *request_headers.items()],
                is_http_request=True,
            ),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": str(concurrent.rec_headers.get_header("WARC-Record-ID")),
            },
        )
        self._writer.write_record(request)


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


# -- reading ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A response or revisit record: where it is, what it captured, and (when asked for) its decoded payload."""

    offset: int
    kind: RecordKind
    record_id: str
    url: str
    date: datetime
    digest: str | None
    status: int | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    #: For a revisit: the capture whose payload it repeats.
    refers_to_url: str | None = None
    refers_to_date: datetime | None = None
    #: Why the payload could not be decoded (an unknown or broken Content-Encoding), if so.
    problem: str | None = None


@dataclass(frozen=True)
class Damaged:
    """A record that could not be read whole: where it starts and why."""

    offset: int
    reason: str


class Reader:
    """The records of one WARC file (gzipped or not), in file order; a damaged one is reported and skipped."""

    def __init__(self, stream: IO[bytes], *, max_body: int) -> None:
        self._stream = stream
        self._max_body = max_body

    def entries(self, *, bodies: bool = False) -> Iterator[Entry | Damaged]:
        """Every response and revisit record, and a Damaged for each stretch that could not be read as records."""
        offset: int | None = 0
        while offset is not None:
            self._stream.seek(offset)
            iterator = ArchiveIterator(self._stream, check_digests=True)
            start: int = offset
            damaged: Damaged | None = None
            while damaged is None:
                try:
                    record = _quietly(partial(next, iterator, None))
                    if record is None:
                        break
                    entry = _quietly(partial(self._entry, record, start, bodies))
                    if not isinstance(entry, Damaged):
                        _quietly(iterator.read_to_end)
                except Exception as exc:  # warcio meets damage with many kinds of error; each is this record's
                    entry = Damaged(start, _why(exc))
                if isinstance(entry, Damaged):
                    damaged = entry  # where the reader stands after it means nothing: look for the next record
                elif entry is not None:
                    yield entry
                if damaged is None:
                    start = iterator.offset
            if damaged is None:
                # The reader may also just stop at bytes it cannot make sense of: what follows is damaged too.
                self._stream.seek(start)
                if not self._stream.read(_SCAN_STEP).strip(b"\r\n\t \x00"):
                    return
                damaged = Damaged(start, "the data here is not a WARC record")
            yield damaged
            offset = self._next_start(start + 1)

    def entry_at(self, offset: int) -> Entry | Damaged:
        """The record at `offset` (from `entries`), with its decoded payload."""
        self._stream.seek(offset)
        iterator = ArchiveIterator(self._stream, check_digests=True)
        try:
            record = _quietly(partial(next, iterator, None))
            entry = _quietly(partial(self._entry, record, offset, True)) if record is not None else None
        except Exception as exc:  # as in `entries`: whatever a damaged record raises, it is that record's damage
            return Damaged(offset, _why(exc))
        return entry if entry is not None else Damaged(offset, "there is no response or revisit record here")

    def _entry(self, record: ArcWarcRecord, offset: int, bodies: bool) -> Entry | Damaged | None:
        kind = record.rec_type
        if kind not in ("response", "revisit"):
            _drain(record)
            return None
        headers = record.rec_headers
        url = str(headers.get_header("WARC-Target-URI") or "")
        try:
            date = iso_date_to_datetime(str(headers.get_header("WARC-Date") or "")).replace(tzinfo=UTC)
        except (ValueError, TypeError, OverflowError):
            _drain(record)
            return Damaged(offset, "its WARC-Date is not a date")
        http_headers = record.http_headers
        status = _status(http_headers.get_statuscode() if http_headers else None)
        pairs = [(str(k), str(v)) for k, v in http_headers.headers] if http_headers else []
        body: bytes | None = None
        problem = None
        if kind == "response" and bodies:
            try:
                body = record.content_stream().read(self._max_body + 1)
            except (zlib.error, OSError, ValueError) as exc:
                problem = f"its payload is not valid in its Content-Encoding ({_why(exc)})"
            if body is not None and len(body) > self._max_body:
                body, problem = None, f"its payload is larger than the {self._max_body:,}-byte cap"
        _drain(record)
        left = getattr(record.raw_stream, "limit", None)
        if left is None:
            return Damaged(offset, "it declares no valid Content-Length")
        if left > 0:
            return Damaged(offset, f"it is cut off {left:,} bytes before its declared end")
        checker = record.digest_checker
        if checker is not None and checker.passed is False:
            return Damaged(offset, f"its content does not match its digest ({'; '.join(checker.problems)})")
        refers = headers.get_header("WARC-Refers-To-Date")
        try:
            refers_date = iso_date_to_datetime(str(refers)).replace(tzinfo=UTC) if refers else None
        except (ValueError, TypeError, OverflowError):
            refers_date = None
        return Entry(
            offset=offset,
            kind=kind,
            record_id=str(headers.get_header("WARC-Record-ID") or ""),
            url=url,
            date=date,
            digest=headers.get_header("WARC-Payload-Digest"),
            status=status,
            headers=pairs,
            body=body,
            refers_to_url=headers.get_header("WARC-Refers-To-Target-URI"),
            refers_to_date=refers_date,
            problem=problem,
        )

    def _next_start(self, position: int) -> int | None:
        """The offset of the next thing that looks like a record start (a gzip member or a WARC header)."""
        stream = self._stream
        stream.seek(position)
        carry = b""
        base = position
        while True:
            chunk = stream.read(_SCAN_STEP)
            if not chunk:
                return None
            data = carry + chunk
            found = [index for index in (data.find(_GZIP_MAGIC), data.find(_WARC_MAGIC)) if index >= 0]
            if found:
                return base + min(found)
            keep = len(_WARC_MAGIC) - 1
            carry = data[-keep:]
            base += len(data) - len(carry)


def _quietly(call: Callable[[], T]) -> T:
    """Call into warcio with its own stderr warnings (a bad gzip member, a record not followed by a newline) held
    back: the damage they are about is reported as a Damaged entry, with its offset."""
    with contextlib.redirect_stderr(io.StringIO()):
        return call()


def _drain(record: ArcWarcRecord) -> None:
    while record.raw_stream.read(1 << 16):
        pass


def _status(code: Any) -> int | None:
    text = str(code or "")
    return int(text) if text.isdigit() else None


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip()[:200] or 'no detail'}"
