"""Raw pages stored by what changed: zstandard deltas against a URL's previous capture, keyframes, site dictionaries."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import zstandard

from scraper import settings
from scraper.errors import CorruptPage, StoreError
from scraper.models import Page
from scraper.store.db import Connection
from scraper.store.frontier import iso
from scraper.urls import site_key

log = logging.getLogger("scraper.store")


class Codec(StrEnum):
    """How `pages.body` holds a raw page.

    Every codec but ZLIB holds the page's *content*: its response headers as one line of JSON, a newline, then
    the body; a delta thus also covers the headers (a new Date, a new ETag) for a few bytes.
    """

    #: Written before schema 6: the body alone, zlib-compressed, its headers in the `headers` column.
    ZLIB = "zlib"
    #: A keyframe without a dictionary: a site's first pages, before it has one.
    ZSTD = "zstd"
    #: A keyframe compressed with the site's dictionary (`pages.dictionary`).
    DICT = "dict"
    #: Compressed with the capture it follows (`pages.base`, the previous capture of the URL) as the dictionary.
    DELTA = "delta"


#: Codecs whose pages are read without any other page: a site's dictionary samples are taken from these.
KEYFRAMES = (Codec.ZSTD, Codec.DICT)
_KEYFRAME_SQL = "codec IN ('zstd', 'dict')"  # the pages_keyframes index's condition, word for word
#: Headers longer than this make a stored frame suspect (real responses carry a few KiB).
MAX_HEADER_BYTES = 1024 * 1024
#: A chain is never this long (keyframes come every KEYFRAME_INTERVAL captures; a migration can at most double
#: one): longer means a damaged archive, and reading stops instead of walking it.
MAX_CHAIN = 4 * settings.KEYFRAME_INTERVAL

# The latest capture of a URL whose raw page is stored (fetches_url gives them in order).
_PREVIOUS = (
    "SELECT p.hash, p.depth FROM fetches f JOIN pages p ON p.hash = f.page_hash"
    " WHERE f.url = ? ORDER BY f.id DESC LIMIT 1"
)
# The same, among pages stored before a given one and already re-encoded (for the migration).
_PREVIOUS_BEFORE = (
    "SELECT p.hash, p.depth FROM fetches f JOIN pages p ON p.hash = f.page_hash"
    " WHERE f.url = ? AND p.rowid < ? AND p.codec != 'zlib' ORDER BY p.rowid DESC LIMIT 1"
)
_FRAME_ROW = "SELECT codec, base, dictionary, size, headers, body FROM pages WHERE hash = ?"


def content_of(headers_json: str, body: bytes) -> bytes:
    """A page's content as stored: the headers' JSON line, a newline, the body."""
    return headers_json.encode("utf-8") + b"\n" + body


def split_content(content: bytes) -> tuple[dict[str, str], bytes]:
    """The headers and body of a page's content."""
    line, _, body = content.partition(b"\n")
    headers = json.loads(line.decode("utf-8") or "{}")
    return ({str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}), body


@dataclass(frozen=True)
class StoredPage:
    """One stored raw page, its bytes reconstructed and checked against its SHA-256."""

    hash: str
    url: str
    final_url: str
    fetched_at: str
    status: int | None
    content_type: str | None
    encoding: str | None
    encoding_source: str | None
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Frame:
    """How one page's content is to be written."""

    codec: Codec
    body: bytes
    base: str | None = None
    depth: int = 0
    dictionary: int | None = None


@dataclass(frozen=True)
class MigrationSummary:
    """What `migrate` did: pages re-encoded, damaged pages left as they were, pages still to do."""

    converted: int
    damaged: list[str]
    remaining: int
    interrupted: bool


@dataclass(frozen=True)
class CheckSummary:
    """What `check` found: pages read bit-exact, and the damaged ones with why."""

    checked: int
    damaged: list[tuple[str, str]]
    interrupted: bool


@dataclass
class _Site:
    """A site's dictionary as this process knows it."""

    #: The latest dictionary's id, None before the first one.
    dictionary: int | None
    #: The site's keyframes when that dictionary was trained (0: never).
    trained_at: int
    #: The site's keyframes now (counted once from the archive, then by this process).
    keyframes: int

    @property
    def next_training(self) -> int:
        if not self.trained_at:
            return settings.DICTIONARY_FIRST_TRAINING
        return min(4 * self.trained_at, self.trained_at + settings.DICTIONARY_RETRAIN_MAX)


class _Cache:
    """Decoded contents by hash, least recently used first out, within a byte budget.

    Keyed by the SHA-256 of the body, an entry is right whatever becomes of a transaction that wrote it.
    """

    def __init__(self, budget: int) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._budget = budget

    def widen(self, budget: int) -> None:
        self._budget = max(self._budget, budget)

    def get(self, key: str) -> bytes | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self._budget // 4:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._items[key] = value
        self._bytes += len(value)
        while self._bytes > self._budget:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped)


class PageStore:
    """The `pages` table of one archive: writes pages as deltas or keyframes, reads them back bit-exact."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._cache = _Cache(settings.PAGE_CACHE_BYTES)
        self._sites: dict[str, _Site] = {}
        self._compressors: dict[int, zstandard.ZstdCompressor] = {}
        self._decompressors: dict[int, zstandard.ZstdDecompressor] = {}
        self._plain = zstandard.ZstdCompressor(level=settings.KEYFRAME_LEVEL, write_checksum=False)
        self._plain_reader = zstandard.ZstdDecompressor()

    @property
    def _conn(self) -> Any:
        return self._connection.conn

    # -- writing -----------------------------------------------------------------

    def put(self, page: Page) -> bool:
        """Store a fetched page unless the same bytes are stored already; call inside a write transaction.

        Returns whether a row was written.
        """
        key = page.sha256
        conn = self._conn
        if conn.execute("SELECT 1 FROM pages WHERE hash = ?", (key,)).fetchone():
            return False
        content = content_of(json.dumps(page.headers, ensure_ascii=False), page.body)
        site = site_key(page.url)
        frame = self._encode(content, site, conn.execute(_PREVIOUS, (page.url,)).fetchone())
        conn.execute(
            "INSERT INTO pages (hash, url, final_url, fetched_at, status, content_type, encoding, encoding_source,"
            " size, codec, base, depth, dictionary, site, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                page.url,
                page.final_url if page.final_url != page.url else None,
                iso(page.fetched_at),
                page.status,
                page.content_type,
                page.encoding,
                page.encoding_source,
                len(page.body),
                frame.codec,
                frame.base,
                frame.depth,
                frame.dictionary,
                site,
                frame.body,
            ),
        )
        self._cache.put(key, content)
        return True

    def _encode(self, content: bytes, site: str, previous: tuple[str, int] | None) -> Frame:
        """A delta against `previous` (hash, depth) while the chain is short, else a keyframe."""
        if previous is not None and previous[1] + 1 < settings.KEYFRAME_INTERVAL:
            try:
                base = self.content(previous[0])
            except CorruptPage as exc:
                log.warning("%s; the next capture is stored whole", exc)
            else:
                compressor = zstandard.ZstdCompressor(
                    level=settings.DELTA_LEVEL,
                    dict_data=zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT),
                    write_checksum=False,
                    write_dict_id=False,
                )
                return Frame(Codec.DELTA, compressor.compress(content), base=previous[0], depth=previous[1] + 1)
        dictionary = self._dictionary(site)
        if dictionary is None:
            return Frame(Codec.ZSTD, self._plain.compress(content))
        return Frame(Codec.DICT, self._compressor(dictionary).compress(content), dictionary=dictionary)

    def _dictionary(self, site: str) -> int | None:
        """The dictionary for the site's next keyframe, trained first if the site has grown enough since the last."""
        state = self._sites.get(site)
        if state is None:
            latest = self._conn.execute(
                "SELECT id, keyframes FROM page_dictionaries WHERE site = ? ORDER BY id DESC LIMIT 1", (site,)
            ).fetchone()
            count = self._conn.execute(
                f"SELECT count(*) FROM pages WHERE site = ? AND {_KEYFRAME_SQL}", (site,)
            ).fetchone()[0]
            state = self._sites[site] = _Site(latest[0] if latest else None, latest[1] if latest else 0, int(count))
        state.keyframes += 1
        if state.keyframes >= state.next_training:
            self._train(site, state)
        return state.dictionary

    def _train(self, site: str, state: _Site) -> None:
        """Train a dictionary on the site's latest keyframes; re-encode its keyframes that have none with it."""
        conn = self._conn
        keys = conn.execute(
            f"SELECT hash FROM pages WHERE site = ? AND {_KEYFRAME_SQL} ORDER BY rowid DESC LIMIT ?",
            (site, settings.DICTIONARY_SAMPLES),
        ).fetchall()
        samples: list[bytes | bytearray | memoryview] = []
        for (key,) in keys:
            try:
                samples.append(self.content(key))
            except CorruptPage:
                continue
        state.trained_at = state.keyframes  # a failed training waits for the site to grow as a good one would
        total = sum(len(sample) for sample in samples)
        try:
            # Fixed fast-cover parameters: zstd's search for the best ones takes seconds; these take ~0.05 s on 32
            # pages, and f=18 needs 7 MB where the default (20) needs 15 MB, for the same dictionary quality.
            trained = zstandard.train_dictionary(
                min(settings.DICTIONARY_BYTES, max(4096, total // 8)), samples, k=2048, d=8, f=18
            )
        except zstandard.ZstdError as exc:
            log.info("no dictionary for %s yet (%d samples): %s", site, len(samples), exc)
            return
        cursor = conn.execute(
            "INSERT INTO page_dictionaries (site, trained_at, keyframes, samples, dictionary) VALUES (?, ?, ?, ?, ?)",
            (site, iso(datetime.now(UTC)), state.keyframes, len(samples), trained.as_bytes()),
        )
        # A site's older dictionaries only ever decompress again: their compressors (megabytes each) can go.
        self._compressors.clear()
        state.dictionary = int(cursor.lastrowid or 0)
        # Rolled back, the row and its id are gone (the next dictionary may get the same id): so must be all
        # this process knows of it.
        self._connection.on_rollback(self._forget)
        log.info("trained a %d-byte dictionary for %s on %d pages", len(trained.as_bytes()), site, len(samples))
        plain = conn.execute(
            f"SELECT hash FROM pages WHERE site = ? AND {_KEYFRAME_SQL} AND codec = 'zstd'", (site,)
        ).fetchall()
        compressor = self._compressor(state.dictionary)
        for (key,) in plain:
            try:
                content = self.content(key)
            except CorruptPage:
                continue
            conn.execute(
                "UPDATE pages SET codec = ?, dictionary = ?, body = ? WHERE hash = ?",
                (Codec.DICT, state.dictionary, compressor.compress(content), key),
            )

    def _forget(self) -> None:
        """Drop what is kept of sites and dictionaries; it is read again from the archive when needed."""
        self._sites.clear()
        self._compressors.clear()
        self._decompressors.clear()

    def _compressor(self, dictionary: int) -> zstandard.ZstdCompressor:
        compressor = self._compressors.get(dictionary)
        if compressor is None:
            compressor = self._compressors[dictionary] = zstandard.ZstdCompressor(
                level=settings.DICTIONARY_LEVEL,
                dict_data=self._dictionary_data(dictionary),
                write_checksum=False,
                write_dict_id=False,
            )
        return compressor

    def _decompressor(self, dictionary: int) -> zstandard.ZstdDecompressor:
        decompressor = self._decompressors.get(dictionary)
        if decompressor is None:
            decompressor = self._decompressors[dictionary] = zstandard.ZstdDecompressor(
                dict_data=self._dictionary_data(dictionary)
            )
        return decompressor

    def _dictionary_data(self, dictionary: int) -> zstandard.ZstdCompressionDict:
        row = self._conn.execute("SELECT dictionary FROM page_dictionaries WHERE id = ?", (dictionary,)).fetchone()
        if row is None:
            raise self._damaged(f"The archive {self._connection.path} has lost page dictionary {dictionary}.")
        return zstandard.ZstdCompressionDict(bytes(row[0]))

    # -- reading -----------------------------------------------------------------

    def scanning(self) -> None:
        """Keep more decoded pages from now on: a job about to read many pages in capture order."""
        self._cache.widen(settings.SCAN_CACHE_BYTES)

    def content(self, key: str) -> bytes:
        """A page's content (headers line and body), rebuilt through its chain and checked against its SHA-256.

        CorruptPage if the page is missing or its bytes do not come back exactly.
        """
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        chain: list[tuple[str, tuple[Any, ...]]] = []
        current: str = key
        base: bytes | None = None
        while True:
            row = self._conn.execute(_FRAME_ROW, (current,)).fetchone()
            if row is None:
                raise self._damaged(
                    f"The archive {self._connection.path} has no stored page {current}"
                    + (f" (the base of page {chain[-1][0]})" if chain else "")
                    + "."
                )
            chain.append((current, row))
            if row[0] != Codec.DELTA:
                break
            if len(chain) > MAX_CHAIN or row[1] is None:
                raise self._damaged(
                    f"The archive {self._connection.path} has a broken chain of deltas at page {current}."
                )
            current = str(row[1])
            base = self._cache.get(current)
            if base is not None:
                break
        # The links on the way are neither checked nor kept: a damaged one makes the page itself fail its check,
        # and keeping them would push out of the cache the pages a scan in capture order is about to need.
        content = b""
        for current, row in reversed(chain):
            content = self._decode(current, row, base)
            base = content
        self._verify(key, content)
        self._cache.put(key, content)
        return content

    def _decode(self, key: str, row: tuple[Any, ...], base: bytes | None) -> bytes:
        codec, _, dictionary, size, headers, stored = row
        where = f"page {key} of the archive {self._connection.path}"
        try:
            if codec == Codec.ZLIB:
                inflater = zlib.decompressobj()
                body = inflater.decompress(stored, int(size) + 1)
                if not inflater.eof or inflater.unconsumed_tail:
                    raise self._damaged(f"The stored bytes of {where} do not inflate to its {size:,} bytes.")
                return content_of(headers or "{}", body)
            declared = zstandard.frame_content_size(stored)
            if declared < 0 or declared > int(size) + MAX_HEADER_BYTES:
                raise self._damaged(f"The stored frame of {where} does not declare a plausible size.")
            if codec == Codec.ZSTD:
                return bytes(self._plain_reader.decompress(stored))
            if codec == Codec.DICT:
                return bytes(self._decompressor(int(dictionary)).decompress(stored))
            if codec == Codec.DELTA and base is not None:
                raw = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
                return bytes(zstandard.ZstdDecompressor(dict_data=raw).decompress(stored))
        except (zlib.error, zstandard.ZstdError) as exc:
            raise self._damaged(f"The stored bytes of {where} cannot be decoded ({exc}).") from exc
        raise self._damaged(f"The archive {self._connection.path} stores {where} in an unknown way ({codec!r}).")

    def _damaged(self, message: str) -> CorruptPage:
        return CorruptPage(message, path=self._connection.path)

    def _verify(self, key: str, content: bytes) -> None:
        body = content.partition(b"\n")[2]
        if hashlib.sha256(body).hexdigest() != key:
            raise self._damaged(
                f"Page {key} of the archive {self._connection.path} does not match its SHA-256 once rebuilt."
            )

    def load(self, key: str) -> StoredPage:
        """A stored page with its metadata; StoreError if there is none, CorruptPage if its bytes are damaged."""
        row = self._conn.execute(
            "SELECT url, final_url, fetched_at, status, content_type, encoding, encoding_source FROM pages"
            " WHERE hash = ?",
            (key,),
        ).fetchone()
        if row is None:
            raise StoreError(
                f"The archive {self._connection.path} has no stored page {key}.", path=self._connection.path
            )
        headers, body = split_content(self.content(key))
        return StoredPage(key, row[0], row[1] or row[0], row[2], row[3], row[4], row[5], row[6], headers, body)

    def body(self, key: str) -> bytes:
        """A stored page's body, checked against its SHA-256."""
        return split_content(self.content(key))[1]

    # -- the migration of old archives, checks and figures -------------------------

    def legacy(self) -> int:
        """How many pages are still stored the pre-schema-6 way (zlib, whole)."""
        return int(self._conn.execute("SELECT count(*) FROM pages WHERE codec = 'zlib'").fetchone()[0])

    def migrate(
        self,
        *,
        batch: int = 200,
        on_progress: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> MigrationSummary:
        """Re-encode zlib pages as deltas and keyframes, `batch` pages per transaction, oldest first.

        Safe to kill at any moment: each batch commits whole or not at all, and a new run goes on from what is
        left. A page whose stored bytes are damaged is left as it was and named in the summary.
        """
        self.scanning()
        total = self.legacy()
        done = 0
        damaged: list[str] = []
        after = 0
        interrupted = False
        while True:
            if stop is not None and stop.is_set():
                interrupted = True
                break
            with self._connection.transaction() as conn:
                rows = conn.execute(
                    "SELECT rowid, hash, url FROM pages WHERE codec = 'zlib' AND rowid > ? ORDER BY rowid LIMIT ?",
                    (after, batch),
                ).fetchall()
                for rowid, key, url in rows:
                    try:
                        content = self.content(key)
                    except CorruptPage as exc:
                        log.warning("%s; left as it is", exc)
                        damaged.append(str(key))
                        continue
                    site = site_key(url)
                    frame = self._encode(content, site, conn.execute(_PREVIOUS_BEFORE, (url, rowid)).fetchone())
                    conn.execute(
                        "UPDATE pages SET codec = ?, base = ?, depth = ?, dictionary = ?, site = ?, headers = NULL,"
                        " body = ? WHERE hash = ?",
                        (frame.codec, frame.base, frame.depth, frame.dictionary, site, frame.body, key),
                    )
            if not rows:
                break
            after = int(rows[-1][0])
            done += len(rows)
            if on_progress is not None:
                on_progress(done, total)
        return MigrationSummary(done - len(damaged), damaged, self.legacy() - len(damaged), interrupted)

    def check(
        self, *, on_progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None
    ) -> CheckSummary:
        """Rebuild every stored page and compare it with its SHA-256."""
        self.scanning()
        keys = [str(row[0]) for row in self._conn.execute("SELECT hash FROM pages ORDER BY rowid")]
        damaged: list[tuple[str, str]] = []
        checked = 0
        for index, key in enumerate(keys, 1):
            if stop is not None and stop.is_set():
                return CheckSummary(checked, damaged, True)
            try:
                self.content(key)
            except CorruptPage as exc:
                damaged.append((key, str(exc)))
            checked += 1
            if on_progress is not None and (index % 100 == 0 or index == len(keys)):
                on_progress(index, len(keys))
        return CheckSummary(checked, damaged, False)

    def stats(self) -> dict[str, Any]:
        """Pages, stored bytes and page bytes by codec, and the dictionaries."""
        codecs = {
            str(codec): {"pages": int(count), "stored_bytes": int(stored or 0), "page_bytes": int(size or 0)}
            for codec, count, stored, size in self._conn.execute(
                "SELECT codec, count(*), sum(length(body)), sum(size) FROM pages GROUP BY codec ORDER BY codec"
            )
        }
        count, size = self._conn.execute("SELECT count(*), sum(length(dictionary)) FROM page_dictionaries").fetchone()
        return {"codecs": codecs, "dictionaries": int(count), "dictionary_bytes": int(size or 0)}
