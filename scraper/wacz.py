"""WACZ 1.1.1 packages: a WARC with its CDXJ index (cdxj-indexer), pages.jsonl and datapackage.json, in one ZIP."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cdxj_indexer.main import CDXJIndexer

#: The WACZ format version written (https://specs.webrecorder.net/wacz/1.1.1/).
WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PageEntry:
    """One line of pages/pages.jsonl: a page to open in a replay tool, by URL and capture time, with its title."""

    url: str
    captured_at: datetime
    title: str | None


def package(
    warc: Path, out: IO[bytes], *, pages: Iterable[PageEntry], title: str, software: str, description: str
) -> None:
    """Write a WACZ of the WARC file `warc` to `out` (a new, seekable file).

    The WARC is stored uncompressed in the ZIP (it is gzipped record by record already), so replay tools read a
    record by its offset; so is the gzipped index, read block by block.
    """
    # As py-wacz builds it: CDXJ lines sorted by SURT, gzipped in blocks (index.cdx.gz), with a plain index of
    # the blocks (index.idx) that replay tools search first and then fetch one block of.
    blocks = io.BytesIO()
    index = io.StringIO()
    CDXJIndexer(
        output=index,
        inputs=[str(warc)],
        sort=True,
        post_append=True,
        compress=blocks,
        lines=1024,
        digest_records=True,
        data_out_name="index.cdx.gz",
        filename=WARC_NAME,
    ).process_all()
    listed = list(pages)
    lines = [json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "All Pages"})]
    lines += [
        json.dumps(
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{page.captured_at.isoformat()} {page.url}").hex,
                "url": page.url,
                "ts": page.captured_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "title": page.title or page.url,
            },
            ensure_ascii=False,
        )
        for page in listed
    ]
    resources = []
    with zipfile.ZipFile(out, "w", allowZip64=True) as archive:
        resources.append(_copy(archive, warc, f"archive/{WARC_NAME}"))
        resources.append(_write(archive, "indexes/index.cdx.gz", blocks.getvalue(), deflate=False))
        resources.append(_write(archive, "indexes/index.idx", index.getvalue().encode("utf-8")))
        resources.append(_write(archive, "pages/pages.jsonl", ("\n".join(lines) + "\n").encode("utf-8")))
        package_json = {
            "profile": "data-package",
            "resources": resources,
            "title": title,
            "description": description,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wacz_version": WACZ_VERSION,
            "software": software,
        }
        if listed:
            package_json["mainPageURL"] = listed[0].url
            package_json["mainPageDate"] = listed[0].captured_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = json.dumps(package_json, indent=2, ensure_ascii=False).encode("utf-8")
        _write(archive, "datapackage.json", data)
        digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(data).hexdigest()}
        _write(archive, "datapackage-digest.json", json.dumps(digest, indent=2).encode("utf-8"))


def _copy(archive: zipfile.ZipFile, source: Path, name: str) -> dict[str, object]:
    """Store a file in the ZIP as it is (no deflate: replay tools seek in it); return its resource entry."""
    digest = hashlib.sha256()
    size = 0
    info = zipfile.ZipInfo(name, date_time=_now())
    info.compress_type = zipfile.ZIP_STORED
    # The size given up front: zipfile then writes ZIP64 headers only for a file that needs them (over 2 GiB);
    # ReplayWeb.page cannot find the data after a local header that has them.
    info.file_size = source.stat().st_size
    with source.open("rb") as reader, archive.open(info, "w") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
    return {"name": Path(name).name, "path": name, "hash": "sha256:" + digest.hexdigest(), "bytes": size}


def _write(archive: zipfile.ZipFile, name: str, data: bytes, *, deflate: bool = True) -> dict[str, object]:
    info = zipfile.ZipInfo(name, date_time=_now())
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    archive.writestr(info, data)
    return {
        "name": Path(name).name,
        "path": name,
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }


def _now() -> tuple[int, int, int, int, int, int]:
    now = datetime.now(UTC)
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


def warc_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The WARC files inside a WACZ (under archive/)."""
    return [
        info
        for info in archive.infolist()
        if info.filename.startswith("archive/") and info.filename.endswith((".warc", ".warc.gz"))
    ]


def open_member(path: Path, info: zipfile.ZipInfo, scratch: Path) -> IO[bytes]:
    """A seekable reader of one WARC inside the WACZ at `path`.

    A stored member (as WACZ asks) is read in place, through a window on the file: zipfile's own reader seeks
    by reading again from the start. A deflated one is first copied out to `scratch`.
    """
    if info.compress_type == zipfile.ZIP_STORED:
        handle = path.open("rb")
        handle.seek(info.header_offset)
        header = handle.read(30)
        if header[:4] != b"PK\x03\x04":
            handle.close()
            raise zipfile.BadZipFile(f"no local header for {info.filename}")
        start = (
            info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        )
        return io.BufferedReader(_Window(handle, start, info.file_size), buffer_size=_CHUNK)
    target = scratch / Path(info.filename).name
    with zipfile.ZipFile(path) as archive, archive.open(info) as reader, target.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            writer.write(chunk)
    return target.open("rb")


class _Window(io.RawIOBase):
    """Bytes `start` to `start + size` of an open file, as a file of their own."""

    def __init__(self, handle: IO[bytes], start: int, size: int) -> None:
        self._handle = handle
        self._start = start
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._position)
        if want <= 0:
            return 0
        self._handle.seek(self._start + self._position)
        data = self._handle.read(want)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._handle.close()
        super().close()
