"""The archive: the only package that writes archive.db (schema, captures, the crawl frontier and runs)."""

from scraper.store.archive import Archive, CaptureResult, CaptureRow, content_hash
from scraper.store.db import inspect, upgrade
from scraper.store.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Archive", "CaptureResult", "CaptureRow", "content_hash", "inspect", "upgrade"]
