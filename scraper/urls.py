"""URL rules: allowed schemes, canonical form, joining links, and hosts."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from scraper import settings
from scraper.errors import BlockedURLError, ErrorKind, UsageError
from scraper.patterns import Pattern

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
# The scheme and explicit port of an http(s) URL.
_PORT = re.compile(r"(https?)://(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#\[\]@]+):(\d{1,5})(?:[/?#]|$)", re.IGNORECASE)
# An origin with a plain host and, if any, a valid port (1 to 65535): what the fast path of join() accepts.
_PLAIN_ORIGIN = re.compile(
    r"https?://[a-z0-9.-]+(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?(?:[/?#]|$)",
    re.IGNORECASE,
)
# A URL that is already canonical: lower-case host, no port, query or fragment, a path of safe characters.
_PLAIN_CANONICAL = re.compile(r"https?://[a-z0-9.-]+(?<!\.)/[A-Za-z0-9/._~!$&'()*+,;=:@-]*")
# Characters a browser would percent-encode in a path or query; we do the same so
# "a b" and "a%20b" are one URL.
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = _SAFE_PATH + "?"


# C0 controls and DEL: a browser strips tabs and newlines from URLs, and no URL to archive holds any of them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _shown(url: str) -> str:
    """A URL as a message quotes it: on one line, and not endless."""
    text = repr(url[:200])
    return text + "…" if len(url) > 200 else text


def validate(url: str) -> str:
    """Return `url` fit to fetch and store, with any user:password@ removed; BlockedURLError otherwise.

    The one check every URL passes, whoever gave it: the user, a schedule, a link, a redirect, a feed.
    """
    url = url.strip()
    if _CONTROL.search(url):
        raise BlockedURLError(
            f"Refused {_shown(url)}: the URL holds control characters.", url=url, kind=ErrorKind.BAD_URL
        )
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port like :99999
    except ValueError as exc:
        raise BlockedURLError(
            f"Refused {_shown(url)}: it is not a valid URL ({exc}).", url=url, kind=ErrorKind.BAD_URL
        ) from None
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURLError(
            f"Refused {_shown(url)}: only http and https URLs are supported, not {scheme or 'one without a scheme'}.",
            url=url,
            kind=ErrorKind.BLOCKED_SCHEME,
        )
    if not host:
        raise BlockedURLError(f"Refused {_shown(url)}: the URL has no host name.", url=url, kind=ErrorKind.BAD_URL)
    if len(url) > settings.MAX_URL_LENGTH:
        raise BlockedURLError(
            f"Refused {_shown(url)}: the URL is longer than {settings.MAX_URL_LENGTH} characters.",
            url=url,
            kind=ErrorKind.BAD_URL,
        )
    if "@" in parts.netloc:
        # Credentials in a URL are a secret: never sent, stored, printed or logged.
        url = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, parts.fragment))
    return url


def resolve(base: str, href: str) -> str:
    """A link or redirect target made absolute against `base` and validated; BlockedURLError if it cannot be one."""
    try:
        absolute = urljoin(base, href.strip())
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise BlockedURLError(
            f"Refused {_shown(href)}: it is not a valid URL ({exc}).", url=href, kind=ErrorKind.BAD_URL
        ) from None
    return validate(absolute)


def check_url(url: str) -> str:
    """Return a URL the user gave, validated (see `validate`), or raise UsageError saying what is wrong with it."""
    try:
        return validate(url)
    except BlockedURLError as exc:
        raise UsageError(str(exc).replace("Refused ", "Cannot fetch ", 1)) from None


def host_of(url: str) -> str:
    """Return the lower-case host of `url` without a port, a trailing dot or a leading www."""
    found = _HOST.match(url)
    host = found.group(1).lower().rstrip(".") if found else (urlsplit(url).hostname or "").rstrip(".").lower()
    return host[4:] if host.startswith("www.") else host


def site_key(url: str) -> str:
    """The site a URL belongs to: its host as `host_of` gives it, with a port other than the scheme's default.

    http and https, and www or not, are one site; two ports of one host are two sites (two servers).
    """
    host = host_of(url)
    found = _PORT.match(url)
    if found is None:
        return host
    port, scheme = found.group(2), found.group(1).lower()
    return host if int(port) == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"


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
    """Resolve a link found in a page against the page URL; None for a link that `validate` refuses."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    if " " not in href and "@" not in href and not href.startswith("//") and not _CONTROL.search(href):
        # The two shapes nearly every link has, without urljoin's generality.
        if href.startswith(("https://", "http://")) and _PLAIN_ORIGIN.match(href):
            return href if len(href) <= settings.MAX_URL_LENGTH else None
        origin = _ORIGIN.match(base)
        if href.startswith("/") and origin and ".." not in href and "/./" not in href:
            absolute = origin.group(0) + href
            return absolute if len(absolute) <= settings.MAX_URL_LENGTH else None
    try:
        return resolve(base, href)
    except BlockedURLError:
        return None


def match_id(url: str, pattern: Pattern | None) -> str | None:
    """Return the article id that `pattern`'s group `id` captures in the path of `url`, if any."""
    if pattern is None:
        return None
    # The origin nearly always starts the URL; then slicing it off is what the substitution does.
    origin = _ORIGIN.match(url)
    path = url[origin.end() :] if origin else _ORIGIN.sub("", url, count=1)
    return pattern.group(path.split("?", 1)[0].split("#", 1)[0], "id")
