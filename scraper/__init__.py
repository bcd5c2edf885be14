"""Archive news sites: fetch with httpx, parse with selectolax, store in SQLite, browse with Datasette."""

from scraper.settings import VERSION as __version__

__all__ = ["__version__"]
