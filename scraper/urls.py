"""URL rules: allowed schemes, canonical form, joining links, and hosts."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from scraper import settings
from scraper.errors import BlockedURLError, ErrorKind, UsageError

ALLOWED_SCHEMES = ("http", "https")

#: Query parameters that identify a campaign or a click, never the page.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "yclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "_openstat", "ysclid"}
)
TRACKING_PREFIXES = ("utm_",)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The host of a plain http(s) URL, without urllib's generality (this runs for every link of every page).
_HOST = re.compile(r"https?://(?:[^@/?#]*@)?([^:/?#\[\]@]+)(?::\d*)?(?:[/?#]|$)", re.IGNORECASE)
_ORIGIN = re.compile(r"https?://[^/?#]+", re.IGNORECASE)
# A URL that is already canonical: lower-case host, no port, query or fragment, a path of safe characters.
_PLAIN_CANONICAL = re.compile(r"https?://[a-z0-9.-]+(?<!\.)/[A-Za-z0-9/._~!$&'()*+,;=:@-]*")
# Characters a browser would percent-encode in a path or query; we do the same so
# "a b" and "a%20b" are one URL.
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = _SAFE_PATH + "?"


def check_url(url: str) -> str:
    """Return `url` stripped, or raise UsageError if it is not an absolute http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        scheme = parts.scheme or "no scheme"
        raise UsageError(f"Cannot fetch {url!r}: only http and https URLs are supported, not {scheme}.")
    if not parts.hostname:
        raise UsageError(f"Cannot fetch {url!r}: the URL has no host name.")
    if len(url) > settings.MAX_URL_LENGTH:
        raise UsageError(f"Cannot fetch {url[:80]!r}…: the URL is longer than {settings.MAX_URL_LENGTH} characters.")
    return url


def check_hop(url: str, *, origin: str) -> None:
    """Raise BlockedURLError if a redirect from `origin` points at a scheme other than http(s)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURLError(
            f"Refused the redirect from {origin} to {url}: only http and https are followed.",
            url=origin,
            kind=ErrorKind.BLOCKED_SCHEME,
        )


def host_of(url: str) -> str:
    """Return the lower-case host of `url` without a port, a trailing dot or a leading www."""
    found = _HOST.match(url)
    host = found.group(1).lower().rstrip(".") if found else (urlsplit(url).hostname or "").rstrip(".").lower()
    return host[4:] if host.startswith("www.") else host


def is_tracking_param(name: str) -> bool:
    """Tell whether a query parameter only tracks a campaign or click."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize(url: str) -> str:
    """Return the canonical form of an http(s) URL: one string per page.

    Lower-case scheme and host, no default port, no fragment, no tracking
    parameters, remaining parameters in their original order, and the path
    percent-encoded the way a browser sends it.
    """
    if _PLAIN_CANONICAL.fullmatch(url):
        return url
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if not host.isascii():
        # An undecodable IDN stays as it is; the fetch will report it.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    port = parts.port if parts.port and parts.port != _DEFAULT_PORTS.get(scheme) else None
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc = f"{netloc}:{port}"
    path = quote(unquote(parts.path), safe=_SAFE_PATH) or "/"
    query_pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    query = quote(urlencode(query_pairs, doseq=True), safe=_SAFE_QUERY + "=")
    return urlunsplit((scheme, netloc, path, query, ""))


def join(base: str, href: str) -> str | None:
    """Resolve a link found in a page against the page URL; None for non-http(s) or broken links."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    if " " not in href and not href.startswith("//"):
        # The two shapes nearly every link has, without urljoin's generality.
        if href.startswith(("https://", "http://")) and _HOST.match(href):
            return href if len(href) <= settings.MAX_URL_LENGTH else None
        origin = _ORIGIN.match(base)
        if href.startswith("/") and origin and ".." not in href and "/./" not in href:
            absolute = origin.group(0) + href
            return absolute if len(absolute) <= settings.MAX_URL_LENGTH else None
    try:
        absolute = urljoin(base, href)
        parts = urlsplit(absolute)
        if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
            return None
        parts.port  # noqa: B018 - raises ValueError on a port like :99999
    except ValueError:
        return None
    if len(absolute) > settings.MAX_URL_LENGTH:
        return None
    return absolute


def match_id(url: str, pattern: re.Pattern[str] | None) -> str | None:
    """Return the article id that `pattern`'s group `id` captures in `url`, if any."""
    if pattern is None:
        return None
    # The origin nearly always starts the URL; then slicing it off is what the substitution does.
    origin = _ORIGIN.match(url)
    path = url[origin.end() :] if origin else _ORIGIN.sub("", url, count=1)
    path = path.split("?", 1)[0].split("#", 1)[0]
    found = pattern.search(path)
    return found.group("id") if found else None
