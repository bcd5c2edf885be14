"""Everything that talks to Redis: the Dramatiq queues (run requests, fetch jobs, deliveries) and the state the
distributed roles share (per-host politeness, the robots.txt cache, leases, run results)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scraper import settings
from scraper.errors import BrokerError, UsageError

try:
    import dramatiq
    import redis
    import redis.asyncio as aioredis
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.errors import BrokerConnectionError
    from dramatiq.middleware import Retries, ShutdownNotifications, TimeLimit
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry
except ImportError as exc:  # the optional extra is not installed
    raise BrokerError(
        "The distributed mode (--redis) needs its optional dependencies: "
        "pip install 'news-archive-scraper[distributed]'."
    ) from exc

log = logging.getLogger("scraper.distributed")

LUA = Path(__file__).resolve().parent / "lua"
#: Errors of the Redis connection (the broker restarting, the network): worth waiting for.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    BrokerConnectionError,
)
#: Host politeness state is dropped after a day unused.
_IDLE_MS = 86_400_000
#: Seconds a fetch slot outlives its last renewal (a worker killed mid-fetch frees its slots this soon).
_SLOT_TTL = 6.0
#: The fetch job actor; deliveries and run requests are read by the writer's own loop.
FETCH_ACTOR = "fetch_page"


class Queue(StrEnum):
    """The broker's queues."""

    #: Run requests: held by the writer (unacknowledged) while their run lasts.
    RUNS = "runs"
    #: Fetch jobs, for any worker.
    FETCH = "fetch"
    #: Outcomes, for the writer.
    DELIVERIES = "deliveries"


def shown(url: str) -> str:
    """A Redis URL fit for a message: its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit((parts.scheme, f"{user}***@{netloc}", parts.path, parts.query, parts.fragment))


def check_url(url: str) -> str:
    """A Redis URL as given, or UsageError if it is not one (redis://, rediss:// or unix://)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise UsageError(f"{shown(url)!r} is not a Redis URL; give one like redis://127.0.0.1:6379/0.")
    return url


def _options(retry: type[Retry] | type[AsyncRetry]) -> dict[str, Any]:
    """Connection options of every client: a lost connection (Redis restarting) is retried for about 40 s."""
    return {
        "retry": retry(ExponentialBackoff(cap=2.0, base=0.05), retries=25),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
        "health_check_interval": 15,
    }


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, **_options(Retry))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _key(*parts: str) -> str:
    return ":".join((settings.REDIS_PREFIX, *parts))


@contextlib.contextmanager
def _talking(url: str, doing: str) -> Iterator[None]:
    """Turn a lost or refused Redis connection into a BrokerError naming the broker."""
    try:
        yield
    except CONNECTION_ERRORS as exc:
        raise BrokerError(f"The broker {shown(url)} cannot be reached while {doing} ({exc}).") from exc
    except redis.RedisError as exc:
        raise BrokerError(f"The broker {shown(url)} refused {doing} ({exc}).") from exc


@dataclass
class Received:
    """A message taken from a queue, to acknowledge once handled."""

    payload: Any
    proxy: Any


class Consumer:
    """The writer's reading of one queue: messages stay the writer's until acknowledged, and go back to the queue
    if the writer dies first (after the redelivery timeout)."""

    def __init__(self, broker: Broker, queue: Queue, *, prefetch: int, idle_ms: int) -> None:
        self._broker = broker
        self._queue = queue
        self._consumer = broker.dramatiq.consume(queue, prefetch=prefetch, timeout=idle_ms)

    def take(self, limit: int) -> list[Received]:
        """Up to `limit` messages; waits (at most the idle time) only when there are none."""
        taken: list[Received] = []
        with _talking(self._broker.url, f"reading the {self._queue} queue"):
            while len(taken) < limit:
                proxy = next(self._consumer)
                if proxy is None:
                    break
                taken.append(Received(proxy.args[0] if proxy.args else None, proxy))
        return taken

    def ack(self, received: Received) -> None:
        """The message is handled: it leaves the broker."""
        with _talking(self._broker.url, f"acknowledging a {self._queue} message"):
            self._consumer.ack(received.proxy)

    def reject(self, received: Received) -> None:
        """The message cannot be handled: it goes to the queue's dead letters (kept a week), not back."""
        with _talking(self._broker.url, f"rejecting a {self._queue} message"):
            self._consumer.nack(received.proxy)

    def give_back(self, received: list[Received]) -> None:
        """Return messages to their queue now (a graceful stop), instead of after the redelivery timeout."""
        with _talking(self._broker.url, f"returning {self._queue} messages"):
            self._consumer.requeue([r.proxy for r in received])


class Broker:
    """The Dramatiq broker on Redis: enqueue, consume, and run fetch jobs in a worker pool."""

    def __init__(self, url: str, *, redelivery_after: float = settings.REDELIVERY_AFTER) -> None:
        self.url = check_url(url)
        self.redelivery_after = redelivery_after
        self.client = _client(url)
        self.dramatiq = RedisBroker(  # type: ignore[no-untyped-call]  # Dramatiq's Redis broker is not annotated
            client=self.client,
            namespace=settings.BROKER_NAMESPACE,
            heartbeat_timeout=int(redelivery_after * 1000),
            maintenance_chance=int(settings.BROKER_MAINTENANCE_CHANCE * 1_000_000),
            middleware=[
                # A job that raised (only the broker failing does: a page's own failure is its outcome) is tried
                # again later, at most this often; then it is dead-lettered and the writer's lease sends it again.
                Retries(max_retries=8, min_backoff=1_000, max_backoff=120_000),
                TimeLimit(time_limit=settings.WORKER_JOB_LIMIT * 1000, interval=1000),
                ShutdownNotifications(),
            ],
        )
        for queue in Queue:
            self.dramatiq.declare_queue(queue)
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()

    def ping(self) -> None:
        """BrokerError unless Redis answers now (without the patient retries of the other commands)."""
        client = redis.Redis.from_url(self.url, socket_connect_timeout=5, socket_timeout=5)
        try:
            with _talking(self.url, "connecting"):
                client.ping()
        finally:
            client.close()

    def send(self, queue: Queue, payload: dict[str, Any]) -> None:
        """Put one message on a queue (its payload a JSON-safe dict)."""
        actor = FETCH_ACTOR if queue == Queue.FETCH else str(queue)
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=queue, actor_name=actor, args=(payload,), kwargs={}, options={}
        )
        with _talking(self.url, f"sending to the {queue} queue"):
            self.dramatiq.enqueue(message)

    def consume(self, queue: Queue, *, prefetch: int, idle_ms: int = 200) -> Consumer:
        """Read a queue directly (the writer's single loop)."""
        return Consumer(self, queue, prefetch=prefetch, idle_ms=idle_ms)

    def waiting(self, queue: Queue) -> int:
        """Messages on a queue, held or not (for tests and benches)."""
        with _talking(self.url, f"counting the {queue} queue"):
            return int(self.dramatiq.do_qsize(queue))

    def start_heartbeat(self) -> None:
        """Tell the broker this process lives, every quarter of the redelivery timeout, whatever it is busy with.

        Dramatiq's Redis broker counts a process alive while its commands reach Redis; one busy with long jobs or
        a long write would otherwise be taken for dead, and its messages handed to others while it still works.
        """

        def beat() -> None:
            while not self._stop.wait(self.redelivery_after / 4):
                for queue in Queue:
                    try:
                        # Every broker command refreshes the process's heartbeat (and may tidy that queue).
                        self.dramatiq.do_qsize(queue)
                    except (redis.RedisError, BrokerConnectionError) as exc:
                        log.warning("heartbeat to the broker failed: %s", exc)

        self._heartbeat = threading.Thread(target=beat, name="broker-heartbeat", daemon=True)
        self._heartbeat.start()

    def serve_jobs(self, handle: Callable[[dict[str, Any]], None], *, threads: int, stop: threading.Event) -> None:
        """Run fetch jobs on `threads` threads until `stop` is set; each job is acknowledged once `handle` returns.

        A job whose process dies is redelivered after the redelivery timeout; one that raises is retried later.
        """

        def fetch_page(payload: dict[str, Any]) -> None:
            handle(payload)

        dramatiq.actor(broker=self.dramatiq, actor_name=FETCH_ACTOR, queue_name=str(Queue.FETCH))(fetch_page)
        worker = dramatiq.Worker(self.dramatiq, queues={Queue.FETCH}, worker_threads=threads, worker_timeout=500)
        worker.start()
        try:
            stop.wait()
        finally:
            # Jobs not started go back to the queue at once; running ones finish first.
            worker.stop(timeout=int(settings.WORKER_JOB_LIMIT * 1000))

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.dramatiq.close()
        with contextlib.suppress(Exception):
            self.client.close()


class Coordination:
    """The small shared records of the roles: leases (one writer, one scheduler), run results, scheduler fires."""

    def __init__(self, url: str) -> None:
        self.url = check_url(url)
        self.client = _client(url)
        self._renew = self.client.register_script((LUA / "renew.lua").read_text(encoding="utf-8"))

    def acquire(self, name: str, holder: str, *, ttl: float, replace: str | None = None) -> str | None:
        """Take the lease `name` for `holder`; return None if taken, else who holds it.

        `replace`: a holder known to be dead (a process of this machine that is gone), whose lease is taken over.
        """
        with _talking(self.url, f"taking the {name} lease"):
            if self.client.set(_key("lease", name), holder, nx=True, px=int(ttl * 1000)):
                return None
            current = self.client.get(_key("lease", name))
            if replace is not None and current is not None and _text(current) == replace:
                self._renew(keys=[_key("lease", name)], args=[replace, 0])
                if self.client.set(_key("lease", name), holder, nx=True, px=int(ttl * 1000)):
                    return None
                current = self.client.get(_key("lease", name))
        return _text(current) if current else "someone"

    def renew(self, name: str, holder: str, *, ttl: float) -> bool:
        """Extend the lease if `holder` still has it (or takes it back, if it lapsed with nobody taking it)."""
        with _talking(self.url, f"renewing the {name} lease"):
            return bool(self._renew(keys=[_key("lease", name)], args=[holder, int(ttl * 1000)]))

    def release(self, name: str, holder: str) -> None:
        with _talking(self.url, f"giving up the {name} lease"):
            self._renew(keys=[_key("lease", name)], args=[holder, 0])

    def publish_result(self, request: str, result: dict[str, Any]) -> None:
        with _talking(self.url, "publishing a run result"):
            self.client.set(_key("result", request), json.dumps(result), ex=int(settings.RUN_RESULT_TTL))

    def result(self, request: str) -> dict[str, Any] | None:
        with _talking(self.url, "reading a run result"):
            raw = self.client.get(_key("result", request))
        return dict(json.loads(raw)) if raw else None

    def mark_fired(self, schedule: str, when: datetime) -> None:
        with _talking(self.url, "recording a scheduled run"):
            self.client.hset(_key("fired"), schedule, when.isoformat())

    def fired(self) -> dict[str, datetime]:
        """When the scheduler last sent each schedule's run."""
        with _talking(self.url, "reading the scheduled runs"):
            raw = self.client.hgetall(_key("fired"))
        return {_text(k): datetime.fromisoformat(_text(v)) for k, v in raw.items()}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()


class HostGates:
    """Politeness across every worker process, in Redis: per host, at most `concurrency` fetches at once and
    `delay` seconds between two requests sent (redirect hops included); Retry-After holds a host for everyone."""

    def __init__(self, url: str) -> None:
        self.url = check_url(url)
        self.client: aioredis.Redis = aioredis.Redis.from_url(url, **_options(AsyncRetry))
        self._acquire = self.client.register_script((LUA / "acquire.lua").read_text(encoding="utf-8"))
        self._confirm = self.client.register_script((LUA / "confirm.lua").read_text(encoding="utf-8"))
        self._release = self.client.register_script((LUA / "release.lua").read_text(encoding="utf-8"))
        self._hold = self.client.register_script((LUA / "hold.lua").read_text(encoding="utf-8"))
        self._pause = self.client.register_script((LUA / "pause.lua").read_text(encoding="utf-8"))

    @contextlib.asynccontextmanager
    async def fetch(self, host: str, *, concurrency: int, delay: float, send_ttl: float) -> AsyncIterator[Turns]:
        """One fetch from `host`: its turns (`Turns.slot` first, `Turns.wait` before each request, `Turns.sent`
        after it). The fetch's slot is renewed while it runs, so a worker that dies frees it within SLOT_TTL."""
        turns = Turns(self, host, concurrency=concurrency, delay=delay, send_ttl=send_ttl)
        keeper = asyncio.create_task(turns.keep())
        try:
            yield turns
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await turns.release()

    async def pause(self, host: str, seconds: float) -> None:
        """Hold every request to `host` for `seconds`, whichever worker would send it."""
        with _talking(self.url, "pausing a host"):
            await self._pause(keys=[_key("host", host)], args=[int(seconds * 1000), _IDLE_MS])

    async def robots(self, host: str) -> dict[str, Any] | None:
        """The shared copy of a host's robots.txt answer, if one is fresh."""
        with _talking(self.url, "reading the robots.txt cache"):
            raw = await self.client.get(_key("robots", host))
        return dict(json.loads(raw)) if raw else None

    async def keep_robots(self, host: str, answer: dict[str, Any], *, ttl: float) -> None:
        with _talking(self.url, "caching a robots.txt"):
            await self.client.set(_key("robots", host), json.dumps(answer), px=max(1, int(ttl * 1000)))

    @contextlib.asynccontextmanager
    async def robots_lock(self, host: str, *, ttl: float) -> AsyncIterator[bool]:
        """Try to become the one worker that fetches a host's robots.txt; yields whether this one is."""
        token = uuid.uuid4().hex
        key = _key("robots-lock", host)
        with _talking(self.url, "locking a robots.txt fetch"):
            mine = bool(await self.client.set(key, token, nx=True, px=int(ttl * 1000)))
        try:
            yield mine
        finally:
            if mine:
                with contextlib.suppress(*CONNECTION_ERRORS, redis.RedisError):
                    if await self.client.get(key) == token.encode():
                        await self.client.delete(key)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()


class Turns:
    """The turns of one fetch at one host: a fetch slot held from the first request to the end of the fetch."""

    def __init__(self, gates: HostGates, host: str, *, concurrency: int, delay: float, send_ttl: float) -> None:
        self._gates = gates
        self._keys = [_key("host", host), _key("slots", host)]
        self._args = [int(delay * 1000), concurrency, int(_SLOT_TTL * 1000), int(send_ttl * 1000), _IDLE_MS]
        self.token = uuid.uuid4().hex

    async def _until_granted(self, mode: str) -> None:
        gates = self._gates
        while True:
            with _talking(gates.url, "waiting for a host's turn"):
                wait = int(await gates._acquire(keys=self._keys, args=[self.token, *self._args, mode]))
            if wait <= 0:
                return
            await asyncio.sleep(wait / 1000)

    async def slot(self) -> None:
        """Wait for one of the host's fetch slots (held until the fetch ends)."""
        await self._until_granted("slot")

    async def wait(self) -> None:
        """Wait until this fetch may send its next request to the host; the caller sends it at once."""
        await self._until_granted("send")

    async def sent(self) -> None:
        """The granted request is on the wire: the host's delay counts from now."""
        with _talking(self._gates.url, "confirming a request"):
            await self._gates._confirm(keys=self._keys[:1], args=[self.token, _IDLE_MS])

    async def keep(self) -> None:
        """Renew the fetch's slot until cancelled."""
        while True:
            await asyncio.sleep(_SLOT_TTL / 3)
            with contextlib.suppress(*CONNECTION_ERRORS, redis.RedisError):
                await self._gates._hold(keys=self._keys[1:], args=[self.token, int(_SLOT_TTL * 1000)])

    async def release(self) -> None:
        with _talking(self._gates.url, "releasing a host"):
            await self._gates._release(keys=self._keys, args=[self.token, _IDLE_MS])
