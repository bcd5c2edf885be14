"""Refuse connections to addresses that are not on the public internet (SSRF guard)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

from scraper.errors import BlockedURLError, ErrorKind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: host, port -> every address the name resolves to; tests pass a stub.
Resolver = Callable[[str, int], Awaitable[list[str]]]

# 100.64.0.0/10 (carrier-grade NAT) is neither is_private nor is_global-safe
# in every Python release (CVE-2024-4032 fixed several ranges in 3.12.4), so
# the ranges are also listed explicitly.
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


#: Hosts in the spellings that SSRF filters have missed (decimal, octal, hex, short, IPv4-mapped,
#: NAT64, 6to4, trailing-dot names, cloud metadata): the guard must refuse every one (tests, bench/faults.py).
NON_PUBLIC_EXAMPLES = (
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "localhost",
    "localhost.",
    "0.0.0.0",
    "0",
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[0:0:0:0:0:ffff:7f00:1]",
    "2130706433",
    "0x7f000001",
    "017700000001",
    "0177.0.0.1",
    "0x7f.1",
    "127.1",
    "169.254.169.254",
    "169.254.0.1",
    "metadata.google.internal",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.5.4",
    "172.31.255.255",
    "192.168.1.1",
    "192.168.0.0",
    "100.64.0.1",
    "100.127.255.255",
    "198.18.0.1",
    "192.0.2.1",
    "240.0.0.1",
    "255.255.255.255",
    "224.0.0.1",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fe80::1]",
    "[ff02::1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
)


def _unwrap(address: IPAddress) -> IPAddress:
    """Return the IPv4 address hidden in an IPv4-mapped, 6to4 or NAT64 IPv6 address, if any."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def blocked_reason(address: str) -> str | None:
    """Return why `address` (a literal IP) may not be connected to, or None if it is public."""
    try:
        parsed = _unwrap(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return "it is not an IP address"
    if parsed.is_loopback:
        return "it is a loopback address"
    if parsed.is_link_local:
        return "it is a link-local address"
    if parsed.is_multicast:
        return "it is a multicast address"
    if parsed.is_unspecified:
        return "it is the unspecified address"
    if any(parsed in net for net in _EXTRA_BLOCKED if net.version == parsed.version):
        return "it is a private or reserved address"
    if not parsed.is_global:
        return "it is not a globally routable address"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the system resolver (through the running event loop) to every address."""
    import asyncio

    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_checked(host: str, port: int, *, resolver: Resolver, url: str) -> str:
    """Resolve `host` once, check every address, and return the one to connect to.

    Raises BlockedURLError naming the URL and the rule if any address is not public,
    so a name with one public and one private record is refused too.
    """
    try:
        addresses = await resolver(host.rstrip("."), port)
    except OSError as exc:
        raise BlockedURLError(
            f"Could not resolve the host {host!r} of {url}: {exc.strerror or exc}.",
            url=url,
            kind=ErrorKind.DNS_ERROR,
        ) from exc
    if not addresses:
        raise BlockedURLError(f"The host {host!r} of {url} has no address.", url=url, kind=ErrorKind.DNS_ERROR)
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            raise BlockedURLError(
                f"Refused to connect to {url}: its host {host!r} resolves to {address} and {reason} "
                "(pass --allow-private, set allow_private = true in the schedule, or SCRAPE_ALLOW_PRIVATE=1 "
                "to allow it).",
                url=url,
                kind=ErrorKind.BLOCKED_ADDRESS,
            )
    return addresses[0]
