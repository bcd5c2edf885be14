"""Every default of the project, in one place: user agent, timeouts, caps, delays, paths."""

from __future__ import annotations

import os
from pathlib import Path

VERSION = "0.1.0"

#: The archive the commands use when no --db is given.
DEFAULT_DB_PATH = Path("archive.db")

#: Sites see who we are and how to reach us.
USER_AGENT = (
    f"news-archive-scraper/{VERSION} (+https://github.com/news-archive/scraper; archive bot; honours robots.txt)"
)

# Fetch limits. httpx's timeouts apply per socket operation, so a server that
# drips one byte a second never trips them: TOTAL_TIMEOUT bounds a whole fetch.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
TOTAL_TIMEOUT = 60.0
#: Decompressed bytes kept per response; news pages are well under 2 MiB.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Chunk size when inflating gzip/deflate/brotli, so a bomb never allocates more than this at once.
DECOMPRESS_STEP = 256 * 1024
MAX_REDIRECTS = 10
#: Longest URL we follow (the old IE limit that Scrapy also uses); longer ones are crawler traps.
MAX_URL_LENGTH = 2083

# Crawling.
#: Links taken from one listing page at most (crawler traps have endless ones).
MAX_OUTLINKS = 1000
#: The longest Retry-After we wait for within a run; a longer one ends that URL's tries for the run.
MAX_RETRY_AFTER = 600.0
#: A robots.txt Crawl-delay above this defers the host to a later run instead of stalling this one.
MAX_CRAWL_DELAY = 30.0
#: HTTP statuses worth trying again later.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Fetch failures worth trying again later (FetchError.kind).
RETRY_KINDS = frozenset({"timeout", "connect_error", "connection_reset", "truncated", "protocol_error"})

#: Loopback and private addresses are refused unless this is set (tests, the demo).
ALLOW_PRIVATE_ENV = "SCRAPE_ALLOW_PRIVATE"


def allow_private_from_env() -> bool:
    """Tell whether the environment opens private addresses (SCRAPE_ALLOW_PRIVATE=1)."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


#: Where `scrape demo-site` listens, and where schedules/demo.toml points.
DEMO_PORT = 8765

#: Where Datasette listens for `scrape serve` and the demo.
SERVE_PORT = 8001

# Storage.
#: Seconds a writer waits for another writer's lock before giving up.
BUSY_TIMEOUT_S = 30.0
#: A capture is stored as a zstandard delta against the previous capture of its URL, and every this many
#: captures as a whole page (a keyframe), so reading one never decodes more than this many frames.
KEYFRAME_INTERVAL = 32
#: zstandard levels: keyframes with the site's dictionary (7 costs what zlib 6 did and is a quarter of its size),
#: keyframes without one (a site's first pages), and deltas (a few dozen bytes at any level: 3 is the fastest).
DICTIONARY_LEVEL = 7
KEYFRAME_LEVEL = 9
DELTA_LEVEL = 3
#: A site's dictionary is first trained on its first this many keyframes, and again each time the count grows
#: fourfold (at most every DICTIONARY_RETRAIN_MAX keyframes): the site's boilerplate as it is now.
DICTIONARY_FIRST_TRAINING = 16
DICTIONARY_RETRAIN_MAX = 8192
#: The latest keyframes a dictionary is trained on (32 do as well as 64 on news pages, in half the memory),
#: and its size (zstd's default maximum, 110 KiB).
DICTIONARY_SAMPLES = 32
DICTIONARY_BYTES = 112_640
#: Decoded pages kept in memory per open archive (the base of a URL's next delta): a crawl's memory grows by this
#: much at most. Jobs that read every page in capture order (export, check, reparse, migrate) keep more, so that
#: the base of each delta is still there when it is read: a miss costs a walk down its chain.
PAGE_CACHE_BYTES = 8 * 1024 * 1024
SCAN_CACHE_BYTES = 64 * 1024 * 1024

#: Caps on stored text fields, so one hostile page cannot bloat the archive.
MAX_TITLE_CHARS = 2_000
MAX_FIELD_CHARS = 20_000
MAX_BODY_CHARS = 2_000_000

#: Time zone of a site whose profile names none, and of a schedule's trigger that names none.
DEFAULT_TIMEZONE = "UTC"

# Search.
#: The longest search text read, and the most words searched: a pasted page becomes a bounded query.
SEARCH_MAX_CHARS = 2_000
SEARCH_MAX_WORDS = 32
#: Articles a search shows when the reader asks for no number, and the most it shows.
SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_LIMIT = 500
#: When more articles match than this, bm25 ranks the most recently archived this many of them (ranking every
#: match of a common word on a large archive takes a second); more words or a filter rank among older ones.
SEARCH_RANK_WINDOW = 500
#: Matches are counted up to this ("more than 1,000 articles match").
SEARCH_COUNT_CAP = 1_000
#: A filter (site, days) that keeps at most this many articles is applied as the set of their rowids; a wider
#: one is tested on each match's row, newest first, until enough pass.
SEARCH_SCOPE_SET = 10_000
#: Earlier versions considered for "found only in an earlier version": the most recently captured this many
#: of those that match.
SEARCH_EARLIER_WINDOW = 500
#: A search of Datasette's articles table that matches more articles than this lists its rows (newest first)
#: without counting or faceting them: on a large archive each facet of a common word takes a second.
SEARCH_TABLE_FACET_LIMIT = 2_000

# Distributed mode (scrape worker / writer, --redis).
#: Seconds a process may stay silent before the broker gives the messages it holds to another process
#: (the visibility timeout: a worker killed mid-fetch has its job redelivered after this long).
REDELIVERY_AFTER = 60.0
#: Chance, per broker command, that the command also returns a silent process's messages to their queue
#: (cheap while every process lives: two sorted-set reads).
BROKER_MAINTENANCE_CHANCE = 0.2
#: Fetch jobs one worker process runs at once.
WORKER_THREADS = 8
#: Deliveries the writer writes (each in its own transaction) before it acknowledges them to the broker.
WRITER_BATCH = 64
#: Seconds an in-flight URL waits for its delivery before the writer sends its job again (same key, so
#: a late first delivery is ignored): the frontier's cover for jobs the broker lost.
IN_FLIGHT_LEASE = 600.0
#: Seconds the writer's (and the scheduler's) lease in the broker lasts without being renewed.
BROKER_LEASE = 15.0
#: Crawl runs one writer coordinates at once (each holds its run request until the run ends).
MAX_ACTIVE_RUNS = 256
#: Seconds a robots.txt that could not be fetched (5xx, unreachable) is remembered before it is asked again.
ROBOTS_FAILURE_TTL = 60.0
#: Seconds the result of a run stays in the broker for `scrape crawl --redis` to read.
RUN_RESULT_TTL = 7 * 86400.0
#: The prefix of every key this program keeps in Redis (queues live under BROKER_NAMESPACE).
REDIS_PREFIX = "scrape"
BROKER_NAMESPACE = "scrape-queues"
#: Seconds one fetch job may take, politeness waits included, before it is stopped and tried again later.
WORKER_JOB_LIMIT = 900.0
