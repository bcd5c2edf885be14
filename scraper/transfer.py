"""Captures out of the archive as WARC or WACZ, and WARC/WACZ files of any tool into it through the one page path."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from scraper import settings
from scraper.charset import decode
from scraper.errors import ArchiveFileError, CorruptPage, UsageError
from scraper.fetch import REQUEST_HEADERS, kept_headers, media_type
from scraper.models import Page, Verdict
from scraper.pipeline import assess, choose_profile, write
from scraper.store import Archive
from scraper.urls import site_key
from scraper.wacz import PageEntry, open_member, package, warc_members
from scraper.warc import Damaged, Entry, Reader, Writer, received_headers

log = logging.getLogger("scraper.transfer")

#: Reports how far a long job is: (done, total).
OnProgress = Callable[[int, int], None]

SOFTWARE = f"news-archive-scraper {settings.VERSION}"
#: Said in every exported warcinfo record: how these WARCs differ from a proxy's byte-for-byte capture.
EXPORT_NOTE = (
    "Exported from a news archive. Response payloads are stored decoded: Content-Encoding and Transfer-Encoding "
    "are dropped and Content-Length is the payload's (the replaced values are kept as X-Archive-Orig-* headers); "
    "Set-Cookie and credential headers were never kept. Request records give the crawler's fixed request "
    "headers, not a recording of each request. Redirect hops are not recorded: a response is filed under the "
    "URL that answered."
)
HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})


class Format(StrEnum):
    """What `scrape export` writes."""

    WARC = "warc"
    WACZ = "wacz"


@dataclass
class ExportSummary:
    """What an export wrote."""

    path: Path
    responses: int = 0
    revisits: int = 0
    #: Stored pages that could not be rebuilt exactly, left out (hash, why).
    damaged: list[tuple[str, str]] = field(default_factory=list)
    articles: int = 0
    interrupted: bool = False

    @property
    def captures(self) -> int:
        return self.responses + self.revisits


def export(
    archive: Archive,
    out: Path,
    *,
    kind: Format,
    site: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    on_progress: OnProgress | None = None,
    stop: threading.Event | None = None,
) -> ExportSummary:
    """Write the archive's captures (of one site, in a time window) to `out` as WARC.gz or WACZ.

    Each fetch becomes a response record with its request (WARC-Concurrent-To), or a revisit record when its
    payload repeats one written before. The file appears whole or not at all: it is written beside `out` and
    renamed at the end. With `stop` set the export ends early, keeping the captures written so far.
    UsageError if `out` exists; an export that matches nothing writes no file (summary with no captures).
    """
    if out.exists() or out.is_symlink():
        raise UsageError(f"Refusing to overwrite {out}; choose a new file for the export.")
    part = out.with_name(out.name + ".part")
    warc_path = part if kind == Format.WARC else out.with_name(out.name + ".part.warc.gz")
    summary = ExportSummary(out)
    try:
        written = _write_warc(
            archive, warc_path, summary, site=site, since=since, until=until, on_progress=on_progress, stop=stop
        )
        if not summary.captures:
            return summary
        if kind == Format.WACZ:
            pages = _page_entries(archive, written)
            summary.articles = len(pages)
            with part.open("wb") as handle:
                package(
                    warc_path,
                    handle,
                    pages=pages,
                    title=f"News archive{f' of {site}' if site else ''}",
                    software=SOFTWARE,
                    description=EXPORT_NOTE,
                )
        part.replace(out)
    except OSError as exc:
        raise ArchiveFileError(f"Cannot write {out}: {exc.strerror or exc}.", path=str(out)) from exc
    finally:
        for leftover in {part, warc_path}:
            with contextlib.suppress(OSError):
                leftover.unlink()
    return summary


def _write_warc(
    archive: Archive,
    path: Path,
    summary: ExportSummary,
    *,
    site: str | None,
    since: datetime | None,
    until: datetime | None,
    on_progress: OnProgress | None,
    stop: threading.Event | None,
) -> dict[str, tuple[str, datetime]]:
    """Write the WARC; return, for each URL fetched, the URL that answered and the time of its latest capture."""
    archive.pages.scanning()
    total = archive.count_captures(since=since, until=until)
    written: dict[str, tuple[str, datetime, str]] = {}
    latest: dict[str, tuple[str, datetime]] = {}
    with path.open("wb") as handle:
        name = path.name.removesuffix(".part")
        writer = Writer(handle, filename=name, info=_warcinfo(), gzip=not name.endswith(".warc"))
        for done, capture in enumerate(archive.captures(since=since, until=until), 1):
            if stop is not None and stop.is_set():
                summary.interrupted = True
                break
            if on_progress is not None and (done % 100 == 0 or done == total):
                on_progress(done, total)
            if site is not None and site_key(capture.url) != site:
                continue
            earlier = written.get(capture.page_hash)
            status = capture.status or 200
            if earlier is not None:
                writer.revisit(
                    capture.final_url,
                    fetched_at=capture.fetched_at,
                    status=status,
                    digest=earlier[2],
                    refers_to=(earlier[0], earlier[1]),
                    request_headers=REQUEST_HEADERS,
                )
                summary.revisits += 1
            else:
                try:
                    stored = archive.pages.load(capture.page_hash)
                except CorruptPage as exc:
                    summary.damaged.append((capture.page_hash, str(exc)))
                    continue
                digest = writer.response(
                    capture.final_url,
                    fetched_at=capture.fetched_at,
                    status=stored.status or status,
                    headers=stored.headers,
                    body=stored.body,
                    request_headers=REQUEST_HEADERS,
                )
                written[capture.page_hash] = (capture.final_url, capture.fetched_at, digest)
                summary.responses += 1
            latest[capture.url] = (capture.final_url, capture.fetched_at)
    return latest


def _warcinfo() -> dict[str, str]:
    return {
        "software": SOFTWARE,
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "robots": "obey",
        "description": EXPORT_NOTE,
    }


def _page_entries(archive: Archive, latest: dict[str, tuple[str, datetime]]) -> list[PageEntry]:
    """pages.jsonl: each exported article once, at its latest capture in the file, with its title."""
    articles: dict[str, PageEntry] = {}
    for url, (final_url, when) in latest.items():
        found = archive.article_title(url)
        if found is not None and (found[0] not in articles or articles[found[0]].captured_at < when):
            articles[found[0]] = PageEntry(final_url, when, found[1])
    return sorted(articles.values(), key=lambda entry: (entry.captured_at, entry.url), reverse=True)


# -- import ---------------------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import did, record by record."""

    records: int = 0
    imported: int = 0
    #: Captures the archive already had (same URL, second and payload): importing a file twice adds nothing.
    duplicates: int = 0
    #: Records that are not pages to archive: why -> how many (redirects, images, scripts, non-HTTP URLs).
    skipped: dict[str, int] = field(default_factory=dict)
    #: Records that could not be read: (file, byte offset, why).
    damaged: list[tuple[str, int, str]] = field(default_factory=list)
    new_articles: int = 0
    new_versions: int = 0
    failed: int = 0
    interrupted: bool = False

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


@dataclass(frozen=True)
class _Source:
    """One WARC to read: a file, or a member of a WACZ."""

    name: str
    open: Callable[[], IO[bytes]]


@dataclass(frozen=True)
class _Found:
    """A response or revisit record found in the first pass, to import in capture order."""

    date: datetime
    source: int
    offset: int


def import_files(
    archive: Archive,
    paths: list[Path],
    *,
    profile_name: str | None = None,
    on_progress: OnProgress | None = None,
    stop: threading.Event | None = None,
) -> ImportSummary:
    """Import the captures of WARC, WARC.gz and WACZ files, in capture-time order across all of them.

    Each response becomes a Page (fetched at its WARC-Date) that goes through `assess` with the site's profile
    (or `profile_name`) and `write`, as a crawl's would: ledger row, raw page, article, version, view reading.
    A revisit record takes its payload from the record it refers to. A capture the archive already has is not
    added again. A damaged record is reported with its offset and skipped. ArchiveFileError for a file that
    cannot be opened at all.
    """
    summary = ImportSummary()
    archive.pages.scanning()  # in capture order, each page's base is the capture imported just before it
    with contextlib.ExitStack() as stack:
        sources = [source for path in paths for source in _sources(path, stack)]
        streams: dict[int, IO[bytes]] = {}

        def reader(index: int) -> Reader:
            if index not in streams:
                streams[index] = stack.enter_context(sources[index].open())
            return Reader(streams[index], max_body=settings.MAX_BODY_BYTES)

        found: list[_Found] = []
        originals: dict[str, tuple[int, int]] = {}
        for index, source in enumerate(sources):
            for entry in reader(index).entries():
                summary.records += 1
                if isinstance(entry, Damaged):
                    summary.damaged.append((source.name, entry.offset, entry.reason))
                    continue
                found.append(_Found(entry.date, index, entry.offset))
                if entry.kind == "response" and entry.digest and entry.digest not in originals:
                    originals[entry.digest] = (index, entry.offset)
        found.sort(key=lambda item: (item.date, item.source, item.offset))
        for done, item in enumerate(found, 1):
            if stop is not None and stop.is_set():
                summary.interrupted = True
                break
            entry = reader(item.source).entry_at(item.offset)
            if isinstance(entry, Damaged):
                summary.damaged.append((sources[item.source].name, entry.offset, entry.reason))
            else:
                page = _page(archive, entry, sources[item.source].name, originals, reader, summary)
                if page is not None:
                    _archive(archive, page, profile_name, summary)
            if on_progress is not None and (done % 100 == 0 or done == len(found)):
                on_progress(done, len(found))
    return summary


def _sources(path: Path, stack: contextlib.ExitStack) -> list[_Source]:
    """The WARC files to read in `path`: itself, or the WARCs inside a WACZ."""
    name = path.name.lower()
    if not name.endswith((".warc", ".warc.gz", ".wacz")):
        raise ArchiveFileError(f"{path} is not a .warc, .warc.gz or .wacz file.", path=str(path))
    if not path.is_file():
        raise ArchiveFileError(f"There is no file {path}.", path=str(path))
    if not name.endswith(".wacz"):
        return [_Source(str(path), lambda: path.open("rb"))]
    try:
        with zipfile.ZipFile(path) as bundle:
            members = warc_members(bundle)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveFileError(f"Cannot read {path} as a WACZ (ZIP) file: {exc}.", path=str(path)) from exc
    if not members:
        raise ArchiveFileError(f"{path} is a WACZ with no WARC file under archive/.", path=str(path))
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scrape-import-")))
    return [_Source(f"{path}:{info.filename}", partial(open_member, path, info, scratch)) for info in members]


def _page(
    archive: Archive,
    entry: Entry,
    source: str,
    originals: dict[str, tuple[int, int]],
    reader: Callable[[int], Reader],
    summary: ImportSummary,
) -> Page | None:
    """The Page a record captured, or None (counted as skipped or damaged) if it is not one to archive."""
    if not entry.url.lower().startswith(("http://", "https://")):
        summary.skip("not an http(s) URL")
        return None
    status = entry.status
    pairs = received_headers(entry.headers)
    body = entry.body
    if entry.kind == "revisit":
        original = originals.get(entry.digest or "")
        found = reader(original[0]).entry_at(original[1]) if original else None
        if isinstance(found, Entry) and found.body is not None:
            body = found.body
            status = status or found.status
            pairs = pairs or received_headers(found.headers)
        elif (
            entry.refers_to_url
            and entry.refers_to_date
            and (key := archive.capture_of(entry.refers_to_url, entry.refers_to_date))
        ):
            try:
                stored = archive.pages.load(key)
            except CorruptPage:
                summary.skip("revisit of a damaged page")
                return None
            body = stored.body
            status = status or stored.status
            pairs = pairs or list(stored.headers.items())
        else:
            summary.skip("revisit of a payload in neither these files nor the archive")
            return None
    if status is None:
        summary.skip("no HTTP status")
        return None
    if 300 <= status < 400:
        summary.skip("redirect")
        return None
    headers = kept_headers(pairs)
    content_type = headers.get("content-type", "")
    if 200 <= status < 300 and media_type(content_type) not in HTML_TYPES:
        summary.skip("not HTML")
        return None
    if body is None:
        summary.damaged.append((source, entry.offset, entry.problem or "its payload could not be read"))
        return None
    text, encoding, encoding_source = decode(body, content_type)
    return Page(
        url=entry.url,
        final_url=entry.url,
        status=status,
        headers=headers,
        body=body,
        text=text,
        encoding=encoding,
        encoding_source=encoding_source,
        content_type=media_type(content_type),
        fetched_at=entry.date,
    )


def _archive(archive: Archive, page: Page, profile_name: str | None, summary: ImportSummary) -> None:
    if archive.has_capture(page.url, page.fetched_at, page.sha256):
        summary.duplicates += 1
        return
    profile = choose_profile(page.url, profile_name)
    if profile.article_url is not None and not profile.article_url.search(urlsplit(page.url).path):
        # A crawl reads such a page (a listing, the home page) for links and keeps no copy: so does an import.
        summary.skip("not an article address (the profile's article_url)")
        return
    outcome, result = write(archive, assess(page, profile))
    summary.imported += 1
    if outcome.verdict not in (Verdict.ARCHIVED, Verdict.GONE):
        summary.failed += 1
    if result is not None:
        summary.new_articles += int(result.new_article)
        summary.new_versions += int(result.new_version and not result.new_article)
