"""robots.txt per RFC 9309 (Protego): who may fetch what, and how slowly."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protego import Protego

#: RFC 9309: crawlers must parse at least the first 500 KiB; the rest is ignored.
MAX_ROBOTS_BYTES = 500 * 1024


class RobotsMode(StrEnum):
    """What a host's robots.txt decides."""

    #: No file (4xx): everything may be fetched.
    ALLOW_ALL = "allow-all"
    #: 5xx or unreachable: nothing may be fetched this run (RFC 9309).
    DISALLOW_ALL = "disallow-all"
    #: A file was read: its rules decide.
    PARSED = "parsed"


@dataclass
class RobotsRules:
    """The rules for one host during a run."""

    mode: RobotsMode
    reason: str = ""
    parser: Protego | None = None

    def allows(self, url: str, user_agent: str) -> bool:
        if self.mode == RobotsMode.ALLOW_ALL:
            return True
        if self.mode == RobotsMode.DISALLOW_ALL or self.parser is None:
            return False
        return bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None


def rules_from_response(status: int | None, body: bytes, *, error: str | None = None) -> RobotsRules:
    """Decide a host's rules from what fetching its robots.txt gave (RFC 9309 section 2.3.1)."""
    if error is not None or status is None:
        return RobotsRules(
            RobotsMode.DISALLOW_ALL, f"robots.txt unreachable ({error or 'no response'}): the host is skipped"
        )
    if status >= 500:
        return RobotsRules(
            RobotsMode.DISALLOW_ALL, f"robots.txt answered HTTP {status}: the host is skipped for this run"
        )
    if status >= 400:
        return RobotsRules(RobotsMode.ALLOW_ALL, f"robots.txt answered HTTP {status}: everything is allowed")
    text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
    return RobotsRules(RobotsMode.PARSED, "robots.txt parsed", Protego.parse(text))
