"""WARC and WACZ out and in: record structure, round trips, idempotent imports, damaged records, other tools' files."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from datasette.utils import tilde_encode
from datasette.utils.testing import TestClient as DatasetteClient
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from scraper.demosite.site import NewsSite
from scraper.serve import server
from scraper.serve.article import REPLAY_URL_ENV
from scraper.store import Archive
from scraper.transfer import Format, export, import_files
from scraper.warc import Damaged, Entry, Reader

from .conftest import ROOT, start_site
from .crawling import site_articles
from .storing import BASE, T0, capture, snapshot

WACZ_TOOL = ROOT / ".venv-wacz" / "bin" / "wacz"


def scrape(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scraper", *args], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )


def records(path: Path) -> list:  # type: ignore[type-arg]
    """(type, WARC headers, HTTP headers, payload) of every record."""
    out = []
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            payload = record.content_stream().read()
            out.append((record.rec_type, record.rec_headers, record.http_headers, payload))
    return out


def exported(db: Path, out: Path) -> tuple[Path, list[Entry]]:
    """Export the archive to `out`; return it with its response and revisit records as the reader finds them."""
    with Archive(db) as archive:
        export(archive, out, kind=Format.WARC)
    with out.open("rb") as stream:
        return out, [e for e in Reader(stream, max_body=10**7).entries() if isinstance(e, Entry)]


@pytest.fixture
def captured(tmp_path: Path) -> tuple[Path, list]:  # type: ignore[type-arg]
    db = tmp_path / "archive.db"
    return db, capture(db, articles=3, rounds=5, edit_round=2)


def test_export_writes_request_response_pairs_revisits_and_warcinfo(
    captured: tuple[Path, list], tmp_path: Path
) -> None:  # type: ignore[type-arg]
    db, pages = captured
    out = tmp_path / "out.warc.gz"
    done = scrape("export", "warc", str(out), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"Exported 11 responses and 4 revisits to {out}."
    found = records(out)
    kind, info, _, payload = found[0]
    assert kind == "warcinfo" and info.protocol == "WARC/1.1" and b"software: news-archive-scraper" in payload
    by_id = {headers.get_header("WARC-Record-ID"): (kind, headers) for kind, headers, _, _ in found}
    responses = [r for r in found if r[0] == "response"]
    revisits = [r for r in found if r[0] == "revisit"]
    requests = [r for r in found if r[0] == "request"]
    assert (len(responses), len(revisits), len(requests)) == (11, 4, 15)
    # Every request is tied to the response or revisit it fetched, at the same time and URL.
    for _, headers, http, _ in requests:
        answer = by_id[headers.get_header("WARC-Concurrent-To")][1]
        assert answer.get_header("WARC-Date") == headers.get_header("WARC-Date")
        assert answer.get_header("WARC-Target-URI") == headers.get_header("WARC-Target-URI")
        assert http.protocol == "GET" and http.get_header("User-Agent").startswith("news-archive-scraper/")
    by_time = {page.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ"): page for page in pages}
    for _, headers, http, payload in responses:
        page = by_time[headers.get_header("WARC-Date")]
        assert payload == page.body and headers.get_header("WARC-Target-URI") == page.url
        # The payload is stored decoded: the wire headers are replaced, their values kept.
        assert http.get_header("Content-Encoding") is None and http.get_header("Content-Length") == str(len(payload))
        assert http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
        assert http.get_header("X-Archive-Orig-Content-Length") == "4321"
        assert http.get_header("ETag") == page.headers["etag"] and http.get_statuscode() == "200"
    first = {headers.get_header("WARC-Payload-Digest"): headers for _, headers, _, _ in responses}
    for _, headers, _, _ in revisits:
        assert headers.get_header("WARC-Profile") == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        original = first[headers.get_header("WARC-Payload-Digest")]
        assert headers.get_header("WARC-Refers-To-Target-URI") == original.get_header("WARC-Target-URI")
        assert headers.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")


def test_export_then_import_gives_the_same_articles_versions_and_view_readings(
    captured: tuple[Path, list],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    db, pages = captured
    with Archive(db) as archive:
        assert export(archive, tmp_path / "out.wacz", kind=Format.WACZ).captures == 15
    empty = tmp_path / "empty.db"
    done = scrape("import", str(tmp_path / "out.wacz"), "--db", str(empty), "--profile", "baigenews")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        "15 captures imported from 15 records (0 already in the archive):"
        " 3 new articles, 1 new versions, 0 pages without an article."
    )
    before, after = snapshot(db), snapshot(empty)
    assert after == before and len(after["versions"]) == 4 and len(after["views"]) == 15
    with Archive(empty) as archive:
        page = archive.load_page(pages[4].sha256)
        assert page.body == pages[4].body and page.headers == pages[4].headers  # the received headers, restored


def test_importing_the_same_file_twice_adds_nothing(captured: tuple[Path, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    db, _ = captured
    out = tmp_path / "out.warc.gz"
    with Archive(db) as archive:
        export(archive, out, kind=Format.WARC)
    other = tmp_path / "other.db"
    with Archive(other) as archive:
        first = import_files(archive, [out], profile_name="baigenews")
        second = import_files(archive, [out], profile_name="baigenews")
    assert (first.imported, first.duplicates) == (15, 0)
    assert (second.imported, second.duplicates, second.new_articles) == (0, 15, 0)
    # Nor does importing an archive's own export into it.
    with Archive(db) as archive:
        again = import_files(archive, [out], profile_name="baigenews")
    assert (again.imported, again.duplicates) == (0, 15)
    fetches = "SELECT count(*) FROM fetches"
    assert (
        sqlite3.connect(db).execute(fetches).fetchone() == sqlite3.connect(other).execute(fetches).fetchone() == (15,)
    )


def foreign_warc(path: Path, site: NewsSite) -> tuple[bytes, bytes]:
    """A WARC as a proxy or `wget --warc-file` writes it: bytes as sent (gzip, chunked), redirects, images,
    records out of time order. Returns the HTML of the two captures of one article, older first."""
    article = site.articles[1]
    older = site.render_article(article, BASE)
    article.edits.append("Дополнено: новые подробности.")
    newer = site.render_article(article, BASE)
    url = BASE + article.path

    def chunked(data: bytes) -> bytes:
        return (
            b"".join(b"%x\r\n%s\r\n" % (len(data[i : i + 5000]), data[i : i + 5000]) for i in range(0, len(data), 5000))
            + b"0\r\n\r\n"
        )

    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for when, html in ((T0 + timedelta(hours=5), newer), (T0, older)):  # the later capture first in the file
            body = chunked(gzip.compress(html))
            headers = [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked"),
                ("Set-Cookie", "session=secret"),
            ]
            writer.write_record(
                writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(body),
                    length=len(body),
                    http_headers=StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1"),
                    warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
                )
            )
        moved = StatusAndHeaders("301 Moved Permanently", [("Location", url)], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(BASE + "/old/", "response", payload=io.BytesIO(b""), length=0, http_headers=moved)
        )
        image = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                BASE + "/logo.png", "response", payload=io.BytesIO(b"\x89PNG"), length=4, http_headers=image
            )
        )
    return older, newer


def test_another_tools_warc_is_imported_in_capture_order_with_payloads_decoded(tmp_path: Path) -> None:
    site = NewsSite(articles=3, hostile=False, now=T0)
    older, newer = foreign_warc(tmp_path / "wget.warc.gz", site)
    db = tmp_path / "archive.db"
    with Archive(db) as archive:
        summary = import_files(archive, [tmp_path / "wget.warc.gz"], profile_name="baigenews")
        assert (summary.records, summary.imported, summary.new_articles, summary.new_versions) == (4, 2, 1, 1)
        assert summary.skipped == {"not HTML": 1, "redirect": 1} and summary.damaged == []
        rows = archive.db.execute(
            "SELECT version, captured_at, page_hash FROM article_versions ORDER BY version"
        ).fetchall()
        assert [row[1] for row in rows] == [T0.isoformat(), (T0 + timedelta(hours=5)).isoformat()]
        assert archive.pages.body(rows[0][2]) == older and archive.pages.body(rows[1][2]) == newer
        page = archive.load_page(rows[0][2])
        assert page.headers["content-encoding"] == "gzip" and "set-cookie" not in page.headers


def test_damaged_records_are_reported_with_their_offsets_and_the_rest_imported(
    captured: tuple[Path, list],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    out, entries = exported(captured[0], tmp_path / "out.warc.gz")
    responses = [e.offset for e in entries if e.kind == "response"]
    data = bytearray(out.read_bytes())
    middle = responses[3]
    data[middle + 400 : middle + 440] = bytes(40)  # inside the fourth response's gzip member
    cut = responses[-1] + 2000  # the file ends inside the last response
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(bytes(data[:cut]))
    done = scrape("import", str(broken), "--db", str(tmp_path / "new.db"), "--profile", "baigenews")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert errors[0].startswith(f"Error: skipped the damaged record at byte {middle:,} of {broken}: ")
    assert errors[1].startswith(f"Error: skipped the damaged record at byte {responses[-1]:,} of {broken}: ")
    assert len(errors) == 2
    # 15 captures less the damaged one, the cut one, and the revisit that came after the cut.
    with sqlite3.connect(tmp_path / "new.db") as conn:
        assert conn.execute("SELECT count(*) FROM fetches").fetchone() == (12,)


@pytest.mark.parametrize("into", [30, 400, 3000, 9000])
def test_a_record_damaged_anywhere_is_the_only_one_lost(
    captured: tuple[Path, list],  # type: ignore[type-arg]
    tmp_path: Path,
    into: int,
) -> None:
    out, entries = exported(captured[0], tmp_path / "out.warc.gz")
    offsets = [e.offset for e in entries]
    victim = next(n for n, e in enumerate(entries) if e.kind == "response" and n >= 4)  # a response of ~13 kB
    data = bytearray(out.read_bytes())
    data[offsets[victim] + into : offsets[victim] + into + 16] = b"\xff" * 16
    (tmp_path / "bad.warc.gz").write_bytes(bytes(data))
    with (tmp_path / "bad.warc.gz").open("rb") as stream:
        found = list(Reader(stream, max_body=10**7).entries())
    assert [f.offset for f in found if isinstance(f, Damaged)] == [offsets[victim]]
    assert [f.offset for f in found if isinstance(f, Entry)] == offsets[:victim] + offsets[victim + 1 :]


def test_garbage_between_records_of_a_plain_warc_is_skipped(captured: tuple[Path, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    out, entries = exported(captured[0], tmp_path / "out.warc")
    data = out.read_bytes()
    assert data.startswith(b"WARC/1.1\r\n")  # uncompressed, as its name asks
    offsets = [e.offset for e in entries]
    at = offsets[2]
    junk = tmp_path / "junk.warc"
    junk.write_bytes(data[:at] + b"this is not a record\r\n" * 3 + data[at:])
    with junk.open("rb") as stream:
        found = list(Reader(stream, max_body=10**7).entries())
    assert [f.offset for f in found if isinstance(f, Damaged)] == [at]
    assert len([f for f in found if isinstance(f, Entry)]) == 15


def test_a_wacz_export_passes_wacz_validate_and_lists_each_article(
    captured: tuple[Path, list],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    if not WACZ_TOOL.exists():
        pytest.fail(f"{WACZ_TOOL} is missing; run `make tools` (make test does)")
    db, _ = captured
    out = tmp_path / "out.wacz"
    done = scrape("export", "wacz", str(out), "--db", str(db))
    assert done.returncode == 0 and "(3 articles in pages.jsonl)" in done.stderr
    checked = subprocess.run(
        [str(WACZ_TOOL), "validate", "-f", str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert checked.returncode == 0 and "the passed WACZ is valid" in checked.stdout, checked.stdout
    with zipfile.ZipFile(out) as bundle:
        assert bundle.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        lines = bundle.read("pages/pages.jsonl").decode().splitlines()
        package = json.loads(bundle.read("datapackage.json"))
    assert json.loads(lines[0])["format"] == "json-pages-1.0"
    titles = {json.loads(line)["title"] for line in lines[1:]}
    with sqlite3.connect(db) as conn:
        assert titles == {row[0] for row in conn.execute("SELECT title FROM articles")}
    assert package["wacz_version"] == "1.1.1"


def test_export_filters_by_site_and_time_and_never_overwrites(captured: tuple[Path, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    db, _ = captured
    since = (T0 + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
    done = scrape("export", "warc", str(tmp_path / "late.warc.gz"), "--db", str(db), "--since", since)
    assert done.returncode == 0 and "Exported 5 responses and 1 revisits" in done.stderr
    done = scrape("export", "warc", str(tmp_path / "late.warc.gz"), "--db", str(db))
    assert done.returncode == 2 and "Refusing to overwrite" in done.stderr
    done = scrape("export", "warc", str(tmp_path / "none.warc.gz"), "--db", str(db), "--site", "example.org")
    assert done.returncode == 1 and "nothing written" in done.stderr and not (tmp_path / "none.warc.gz").exists()
    done = scrape("export", "wacz", str(tmp_path / "site.wacz"), "--db", str(db), "--site", "127.0.0.1:8765")
    assert done.returncode == 0 and "Exported 11 responses and 4 revisits" in done.stderr


def test_import_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    done = scrape("import", str(text), "--db", str(tmp_path / "a.db"))
    assert done.returncode == 1 and done.stderr.strip() == f"Error: {text} is not a .warc, .warc.gz or .wacz file."
    fake = tmp_path / "fake.wacz"
    fake.write_bytes(b"not a zip")
    done = scrape("import", str(fake), "--db", str(tmp_path / "a.db"))
    assert done.returncode == 1 and done.stderr.startswith(f"Error: Cannot read {fake} as a WACZ (ZIP) file")
    done = scrape("import", str(tmp_path / "missing.warc"), "--db", str(tmp_path / "a.db"), "--profile", "nope")
    assert done.returncode == 2 and "no profile called 'nope'" in done.stderr


def test_article_versions_link_to_their_replay_when_configured(
    captured: tuple[Path, list], monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    db, pages = captured
    with sqlite3.connect(db) as conn:
        url = conn.execute("SELECT url FROM articles WHERE version = 2").fetchone()[0]
    path = f"/archive/articles/{tilde_encode(url)}"
    assert "replay this capture" not in DatasetteClient(server.build(db)).get(path).text
    monkeypatch.setenv(REPLAY_URL_ENV, "http://127.0.0.1:8080/my-archive/{timestamp}/{url}")
    html = DatasetteClient(server.build(db)).get(path).text
    assert html.count("replay this capture") == 2
    assert f'href="http://127.0.0.1:8080/my-archive/20240301110000/{pages[6].url}"' in html  # version 2: the edit
    assert f'href="http://127.0.0.1:8080/my-archive/20240301090000/{pages[0].url}"' in html


def test_serve_refuses_a_replay_url_it_cannot_fill(tmp_path: Path) -> None:
    done = scrape("serve", "--db", str(tmp_path / "a.db"), "--replay-url", "javascript:alert(1)/{url}")
    assert done.returncode == 2 and "is not an http(s) URL" in done.stderr
    done = scrape("serve", "--show-command", "--replay-url", "http://127.0.0.1:9/{timestamp}/{url}")
    assert done.returncode == 0 and done.stdout.startswith("SCRAPE_REPLAY_URL=") and " datasette serve " in done.stdout


def test_a_revisit_of_a_payload_only_the_archive_has_takes_it_from_there(
    captured: tuple[Path, list],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    db, pages = captured
    original = pages[2]  # the frozen article's first capture
    later = T0 + timedelta(days=1)
    out = tmp_path / "revisit.warc.gz"
    with out.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        record = writer.create_revisit_record(
            original.url,
            "sha1:NOTINTHISFILE",
            original.url,
            original.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Date": later.strftime("%Y-%m-%dT%H:%M:%SZ")},
        )
        writer.write_record(record)
    with Archive(db) as archive:
        summary = import_files(archive, [out], profile_name="baigenews")
        assert (summary.imported, summary.skipped) == (1, {})
        assert archive.db.execute(
            "SELECT page_hash FROM fetches WHERE fetched_at = ?", (later.isoformat(),)
        ).fetchone() == (original.sha256,)
        assert archive.db.execute("SELECT count(*) FROM view_counts").fetchone() == (16,)
    with Archive(tmp_path / "empty.db") as archive:
        summary = import_files(archive, [out], profile_name="baigenews")
    assert summary.skipped == {"revisit of a payload in neither these files nor the archive": 1}


def test_reader_gives_offsets_that_entry_at_reads(captured: tuple[Path, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    pages = captured[1]
    out, entries = exported(captured[0], tmp_path / "out.warc.gz")
    with out.open("rb") as stream:
        reader = Reader(stream, max_body=10**7)
        again = [reader.entry_at(e.offset) for e in entries]
    assert [e.record_id for e in entries] == [e.record_id for e in again if isinstance(e, Entry)]
    bodies = {page.sha256: page.body for page in pages}
    assert all(isinstance(e, Entry) and (e.body is None or e.body in bodies.values()) for e in again)
    assert os.path.getsize(out) > max(e.offset for e in entries)


class StopAfter(threading.Event):
    """A stop request that comes once the job has looked at it `count` times (a Ctrl-C part-way)."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.left = count

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_a_stopped_export_still_writes_a_whole_file_and_a_stopped_import_keeps_what_it_did(
    captured: tuple[Path, list],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    db, _ = captured
    out = tmp_path / "part.wacz"
    with Archive(db) as archive:
        summary = export(archive, out, kind=Format.WACZ, stop=StopAfter(6))
    assert summary.interrupted and summary.captures == 6
    assert not list(tmp_path.glob("*.part*"))
    with Archive(tmp_path / "new.db") as archive:
        partial = import_files(archive, [out], profile_name="baigenews", stop=StopAfter(4))
        assert partial.interrupted and partial.imported == 4
        rest = import_files(archive, [out], profile_name="baigenews")
    assert (rest.imported, rest.duplicates) == (2, 4)


def test_a_warc_written_by_wget_is_imported(tmp_path: Path) -> None:
    if shutil.which("wget") is None:
        pytest.fail("wget is missing; run scripts/install-system-deps (make test does)")
    site = start_site("--articles", "3", "--no-hostile", "--crawl-delay", "0")
    try:
        paths = [article["path"] for article in site_articles(site)[1:3]]
        urls = [site.url(path) for path in paths for _ in range(2)]  # each article twice: its counter moves
        done = subprocess.run(
            ["wget", "--no-verbose", "--warc-file", str(tmp_path / "wget"), "-O", os.devnull, site.url("news/"), *urls],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    finally:
        site.process.terminate()
        site.process.wait(timeout=10)
    db = tmp_path / "archive.db"
    with Archive(db) as archive:
        summary = import_files(archive, [tmp_path / "wget.warc.gz"], profile_name="baigenews")
        again = import_files(archive, [tmp_path / "wget.warc.gz"], profile_name="baigenews")
    assert summary.damaged == [] and (summary.imported, summary.new_articles, summary.failed) == (4, 2, 0)
    # The listing is read by a crawl for its links, never kept as an article: an import keeps it no more.
    assert summary.skipped == {"not an article address (the profile's article_url)": 1}
    assert (again.imported, again.duplicates) == (0, 4)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT views) FROM view_counts").fetchone() == (4, 4)
        assert conn.execute("SELECT count(*) FROM fetches WHERE url LIKE '%/news/'").fetchone() == (0,)


def test_an_export_leaves_out_a_damaged_page_and_says_so(captured: tuple[Path, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    db, pages = captured
    victim = pages[4].sha256  # the second article's second capture, the base of its three later ones
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET body = zeroblob(20) WHERE hash = ?", (victim,))
    out = tmp_path / "out.warc.gz"
    done = scrape("export", "warc", str(out), "--db", str(db))
    assert done.returncode == 1 and f"Error: left out page {victim}: " in done.stderr
    # The page, and the later captures of that article stored as deltas on it, are left out; the rest is written.
    left_out = [line for line in done.stderr.splitlines() if line.startswith("Error: left out page")]
    assert len(left_out) == 4 and out.exists()
    assert len([r for r in records(out) if r[0] == "response"]) == 11 - 4
