"""What the distributed roles send each other through the broker, as JSON-safe dicts: run requests, fetch jobs,
deliveries (one URL's Outcome for the writer) and run results."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from scraper.config import Schedule, schedule_from_text
from scraper.errors import BrokerError, ConfigError, ErrorKind
from scraper.models import (
    Article,
    Discovered,
    FetchRecord,
    FrontierItem,
    Origin,
    Outcome,
    Page,
    ParseStatus,
    Purpose,
    Verdict,
)

T = TypeVar("T")

#: zlib level for page bodies on their way to the writer: fast, the writer stores them its own way.
_BODY_LEVEL = 1


@dataclass(frozen=True)
class ScheduleSource:
    """A schedule as its file's text: the writer and the workers read it where they use it (no shared disk)."""

    path: str
    text: str

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleSource:
        """The source of a schedule loaded from a file; ConfigError if the file cannot be read again."""
        try:
            text = schedule.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read the schedule {schedule.path}: {exc}.", path=str(schedule.path)) from None
        return cls(str(schedule.path), text)

    def load(self) -> Schedule:
        """The schedule, parsed and checked (ConfigError naming the file and key if it is broken)."""
        return _parse(self.path, self.text)


@lru_cache(maxsize=64)
def _parse(path: str, text: str) -> Schedule:
    return schedule_from_text(text, Path(path))


@dataclass(frozen=True)
class RunRequest:
    """Crawl a schedule now: sent by `scrape crawl --redis` and the scheduler, held by the writer while it runs."""

    id: str
    schedule: ScheduleSource
    trigger: str
    scheduled_for: datetime | None = None
    max_pages: int | None = None


@dataclass(frozen=True)
class FetchJob:
    """Fetch and read one frontier URL of a run; `key` names the job whoever runs it, however often."""

    key: str
    shard: str
    run_id: int
    schedule: ScheduleSource
    item: FrontierItem


@dataclass(frozen=True)
class Delivery:
    """One URL's outcome, for the writer to write under `key` (a robots.txt fetch has no frontier `item`)."""

    key: str
    shard: str
    run_id: int
    schedule: ScheduleSource
    item: FrontierItem | None
    outcome: Outcome
    #: Links the page offered and those the article pattern took (the run's pattern warning).
    links_offered: int = 0
    links_taken: int = 0


@dataclass(frozen=True)
class RunResult:
    """How a run ended, published by the writer for whoever sent its request."""

    request: str
    schedule: str
    status: str
    shard: str | None = None
    run_id: int | None = None
    pages_fetched: int = 0
    new_articles: int = 0
    new_versions: int = 0
    errors: int = 0
    message: str | None = None


def job_key(shard: str, schedule: str, run_id: int, url: str, tries: int) -> str:
    """The key of one try of one frontier URL in one run: the same for every copy of its job."""
    return hashlib.sha256(f"{shard}\n{schedule}\n{run_id}\n{tries}\n{url}".encode()).hexdigest()[:40]


# -- to JSON-safe dicts -----------------------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _item(item: FrontierItem) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in fields(FrontierItem)}


def _page(page: Page) -> dict[str, Any]:
    return {
        "url": page.url,
        "final_url": page.final_url,
        "status": page.status,
        "headers": page.headers,
        "body": base64.b64encode(zlib.compress(page.body, _BODY_LEVEL)).decode("ascii"),
        "encoding": page.encoding,
        "encoding_source": page.encoding_source,
        "content_type": page.content_type,
        "fetched_at": _when(page.fetched_at),
        "elapsed_ms": page.elapsed_ms,
    }


def _record(record: FetchRecord) -> dict[str, Any]:
    data = {f.name: getattr(record, f.name) for f in fields(FetchRecord)}
    data["fetched_at"] = _when(record.fetched_at)
    return data


def _article(article: Article) -> dict[str, Any]:
    data = {f.name: getattr(article, f.name) for f in fields(Article)}
    data.update(tags=list(article.tags), warnings=list(article.warnings), field_sources=dict(article.field_sources))
    return data


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {
        "verdict": outcome.verdict,
        "record": _record(outcome.record),
        "page": _page(outcome.page) if outcome.page is not None else None,
        "article": _article(outcome.article) if outcome.article is not None else None,
        "discovered": [[d.url, d.kind, d.depth, d.lastmod] for d in outcome.discovered],
        "retry_after": outcome.retry_after,
    }


def _source(source: ScheduleSource) -> dict[str, str]:
    return {"path": source.path, "text": source.text}


def encode(message: RunRequest | FetchJob | Delivery | RunResult) -> dict[str, Any]:
    """A message as a dict that JSON can carry."""
    if isinstance(message, RunRequest):
        return {
            "id": message.id,
            "schedule": _source(message.schedule),
            "trigger": message.trigger,
            "scheduled_for": _when(message.scheduled_for),
            "max_pages": message.max_pages,
        }
    if isinstance(message, FetchJob):
        return {
            "key": message.key,
            "shard": message.shard,
            "run_id": message.run_id,
            "schedule": _source(message.schedule),
            "item": _item(message.item),
        }
    if isinstance(message, Delivery):
        return {
            "key": message.key,
            "shard": message.shard,
            "run_id": message.run_id,
            "schedule": _source(message.schedule),
            "item": _item(message.item) if message.item is not None else None,
            "outcome": _outcome(message.outcome),
            "links": [message.links_offered, message.links_taken],
        }
    return {f.name: getattr(message, f.name) for f in fields(RunResult)}


# -- back from dicts --------------------------------------------------------------------------------------------


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _to_item(data: dict[str, Any]) -> FrontierItem:
    return FrontierItem(
        schedule=str(data["schedule"]),
        url=str(data["url"]),
        kind=Purpose(data["kind"]),
        depth=int(data["depth"]),
        tries=int(data["tries"]),
        etag=data.get("etag"),
        last_modified=data.get("last_modified"),
    )


def _to_page(data: dict[str, Any]) -> Page:
    body = zlib.decompress(base64.b64decode(data["body"]))
    encoding = str(data["encoding"])
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    return Page(
        url=str(data["url"]),
        final_url=str(data["final_url"]),
        status=int(data["status"]),
        headers={str(k): str(v) for k, v in data["headers"].items()},
        body=body,
        text=text,
        encoding=encoding,
        encoding_source=str(data["encoding_source"]),
        content_type=str(data["content_type"]),
        fetched_at=_time(data["fetched_at"]),
        elapsed_ms=int(data["elapsed_ms"]),
    )


def _to_record(data: dict[str, Any]) -> FetchRecord:
    values = {f.name: data[f.name] for f in fields(FetchRecord) if f.name in data}
    values.update(
        fetched_at=_time(data["fetched_at"]),
        error_kind=ErrorKind(data["error_kind"]) if data.get("error_kind") else None,
        purpose=Purpose(data["purpose"]),
    )
    return FetchRecord(**values)


def _to_article(data: dict[str, Any]) -> Article:
    values = {f.name: data[f.name] for f in fields(Article) if f.name in data}
    values.update(
        published_from=Origin(data["published_from"]) if data.get("published_from") else None,
        parse_status=ParseStatus(data["parse_status"]),
        field_sources={str(k): Origin(v) for k, v in data["field_sources"].items()},
    )
    return Article(**values)


def _to_outcome(data: dict[str, Any]) -> Outcome:
    return Outcome(
        verdict=Verdict(data["verdict"]),
        record=_to_record(data["record"]),
        page=_to_page(data["page"]) if data.get("page") else None,
        article=_to_article(data["article"]) if data.get("article") else None,
        discovered=tuple(
            Discovered(str(url), Purpose(kind), int(depth), lastmod) for url, kind, depth, lastmod in data["discovered"]
        ),
        retry_after=float(data["retry_after"]) if data.get("retry_after") is not None else None,
    )


def _to_source(data: dict[str, Any]) -> ScheduleSource:
    return ScheduleSource(str(data["path"]), str(data["text"]))


def _to_run(data: dict[str, Any]) -> RunRequest:
    return RunRequest(
        id=str(data["id"]),
        schedule=_to_source(data["schedule"]),
        trigger=str(data["trigger"]),
        scheduled_for=_time(data["scheduled_for"]) if data.get("scheduled_for") else None,
        max_pages=int(data["max_pages"]) if data.get("max_pages") is not None else None,
    )


def _to_job(data: dict[str, Any]) -> FetchJob:
    return FetchJob(
        key=str(data["key"]),
        shard=str(data["shard"]),
        run_id=int(data["run_id"]),
        schedule=_to_source(data["schedule"]),
        item=_to_item(data["item"]),
    )


def _to_delivery(data: dict[str, Any]) -> Delivery:
    return Delivery(
        key=str(data["key"]),
        shard=str(data["shard"]),
        run_id=int(data["run_id"]),
        schedule=_to_source(data["schedule"]),
        item=_to_item(data["item"]) if data.get("item") else None,
        outcome=_to_outcome(data["outcome"]),
        links_offered=int(data["links"][0]),
        links_taken=int(data["links"][1]),
    )


def _to_result(data: dict[str, Any]) -> RunResult:
    return RunResult(**{f.name: data[f.name] for f in fields(RunResult) if f.name in data})


def _read(kind: str, build: Callable[[dict[str, Any]], T], data: Any) -> T:
    """Build a message from its dict; one that is not what it claims is a BrokerError saying so."""
    try:
        return build(data)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, zlib.error) as exc:
        raise BrokerError(f"A {kind} message from the broker cannot be read ({type(exc).__name__}: {exc}).") from None


def decode_run(data: Any) -> RunRequest:
    """A RunRequest from its dict; BrokerError if it is not one."""
    return _read("run request", _to_run, data)


def decode_job(data: Any) -> FetchJob:
    """A FetchJob from its dict; BrokerError if it is not one."""
    return _read("fetch job", _to_job, data)


def decode_delivery(data: Any) -> Delivery:
    """A Delivery from its dict; BrokerError if it is not one."""
    return _read("delivery", _to_delivery, data)


def decode_result(data: Any) -> RunResult:
    """A RunResult from its dict; BrokerError if it is not one."""
    return _read("run result", _to_result, data)
