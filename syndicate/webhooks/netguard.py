"""SSRF guard: webhook URLs are hostile input.

A webhook target is accepted only if every address its host resolves to is globally routable,
or inside a network the operator allowed explicitly (``webhook_allow_networks``, e.g.
``127.0.0.0/8`` for tests). The check runs when a subscriber registers and again before every
request; the transport then connects to the very addresses that were checked, so a DNS answer
that changes between the check and the connection (rebinding) cannot redirect it.

Refused, unless allowed: loopback, private, link-local, shared, reserved, multicast and
unspecified addresses (``0.0.0.0``, ``::``), IPv6 outside the global unicast block ``2000::/3``
(NAT64 aside), IPv4-mapped, -compatible, -translated, NAT64 or 6to4 IPv6 forms of those, and
the numeric spellings of IPv4 that ``inet_aton`` accepts (``2130706433``, ``0x7f.1``,
``0177.0.0.1``), which are read as the address they denote and checked as such.

Names are resolved off the event loop by a :data:`Resolver` (injectable: tests map names to
127.0.0.x without any DNS), always within a timeout; the system resolver runs on its own few
threads, so a name whose DNS hangs holds at most those, never the threads the API's database
work runs on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

from ..errors import UnsafeURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """A parsed webhook URL: where to connect and what to ask for."""

    scheme: str
    host: str
    """Host as written (lower-case), used for the ``Host`` header and TLS SNI."""
    port: int
    literal: IPAddress | None
    """The address, when the host is an IP address in any spelling."""


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """The allow-list setting as networks."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a numeric host denotes in any ``inet_aton`` spelling, else ``None``.

    ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` all denote 127.0.0.1; resolvers
    and HTTP clients accept them, so the guard must read them the same way.
    """
    if not _NUMERIC_HOST.match(host) or not any(ch.isdigit() for ch in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


_FORBIDDEN_IN_URL = re.compile(r"[\x00-\x20\x7f\ud800-\udfff]")
"""Controls (NUL, CR, LF, tab...), space, DEL and lone surrogates: a URL carrying one cannot
be sent (and ``urlsplit`` would silently drop some of them)."""


def parse_target(url: str) -> Target:
    """Parse a webhook URL; :class:`UnsafeURLError` if it is not a plain http(s) URL."""
    bad = _FORBIDDEN_IN_URL.search(url)
    if bad is not None:
        raise UnsafeURLError(
            f"the URL contains {bad.group()!r} at position {bad.start()}: spaces and control "
            "characters must be percent-encoded")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError(f"{url!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in _DEFAULT_PORTS:
        raise UnsafeURLError(f"{url!r}: only http and https URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError(f"{url!r}: credentials in the URL are not allowed")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeURLError(f"{url!r} has no host")
    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = numeric_ipv4(host)
    return Target(parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme], literal)


_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
"""The only IPv6 space allocated for global unicast; everything else is reserved or local."""
_EMBEDDING_V6 = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated): ::a.b.c.d
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT): ::ffff:0:a.b.c.d
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64 local-use prefix (last 32 bits)
)
"""IPv6 forms a gateway or the kernel may turn into the IPv4 address in their last 32 bits."""
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NOT_GLOBAL = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.IPv6Network("3fff::/20"),  # documentation (RFC 9637)
)
"""Special-purpose ranges this Python's :mod:`ipaddress` may still call global."""


def _effective(address: IPAddress) -> IPAddress:
    """IPv4-mapped (``::ffff:a.b.c.d``), -compatible, -translated, NAT64 and 6to4 forms reach
    the IPv4 address they embed."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if any(address in net for net in _EMBEDDING_V6):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _routable(address: IPAddress) -> bool:
    if not address.is_global or address.is_multicast or address.is_unspecified:
        return False
    if any(address.version == net.version and address in net for net in _NOT_GLOBAL):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        # NAT64 is as routable as the IPv4 address it embeds (checked as well by the caller).
        return address in _GLOBAL_UNICAST_V6 or address in _NAT64
    return not address.is_reserved


def is_allowed(address: IPAddress, allow: Sequence[Network] = ()) -> bool:
    """Whether a webhook may be sent to ``address``: in the allow-list, or globally routable
    both as written and as the IPv4 address an IPv6 form embeds."""
    candidates = (address, _effective(address))
    for candidate in candidates:
        if any(candidate.version == net.version and candidate in net for net in allow):
            return True
    return all(_routable(candidate) for candidate in candidates)


def check_addresses(
    host: str, addresses: Iterable[IPAddress], allow: Sequence[Network]
) -> tuple[IPAddress, ...]:
    """Every address if all are allowed; :class:`UnsafeURLError` naming the first one not."""
    found = tuple(dict.fromkeys(addresses))
    if not found:
        raise UnsafeURLError(f"{host!r} resolves to no address")
    for address in found:
        if not is_allowed(address, allow):
            raise UnsafeURLError(
                f"{host!r} resolves to {address}, which is not a globally routable address"
            )
    return found


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    found: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        found.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    return found


def resolve(target: Target, allow: Sequence[Network]) -> tuple[IPAddress, ...]:
    """Resolve and check a target (blocking; for registration)."""
    if target.literal is not None:
        return check_addresses(target.host, [target.literal], allow)
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURLError(f"{target.host!r} cannot be resolved: {exc}") from exc
    return check_addresses(target.host, _addresses(infos), allow)


Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves ``(host, port)`` to the addresses (text) to connect to; raises :class:`OSError`
when the name does not resolve."""

DEFAULT_DNS_TIMEOUT = 5.0
_DNS_THREADS = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="dns")
"""The system resolver's own threads: a hanging DNS server holds these, and only these."""


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The operating system's resolver (``getaddrinfo``) on :data:`_DNS_THREADS`."""
    loop = asyncio.get_running_loop()
    infos = await loop.run_in_executor(
        _DNS_THREADS, lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    return [str(address) for address in _addresses(infos)]


async def resolve_async(
    target: Target, allow: Sequence[Network], *, resolver: Resolver | None = None,
    timeout: float = DEFAULT_DNS_TIMEOUT,
) -> tuple[IPAddress, ...]:
    """Resolve and check a target without blocking the event loop, within ``timeout``
    seconds (:class:`UnsafeURLError` when it does not resolve in time)."""
    if target.literal is not None:
        return check_addresses(target.host, [target.literal], allow)
    try:
        async with asyncio.timeout(timeout):
            found = await (resolver or system_resolver)(target.host, target.port)
        addresses = [ipaddress.ip_address(str(a).split("%", 1)[0]) for a in found]
    except TimeoutError as exc:
        raise UnsafeURLError(f"{target.host!r} did not resolve within {timeout:g} s") from exc
    except (OSError, UnicodeError, ValueError) as exc:
        raise UnsafeURLError(f"{target.host!r} cannot be resolved: {exc}") from exc
    return check_addresses(target.host, addresses, allow)


def check_literal(target: Target, allow: Sequence[Network]) -> None:
    """Refuse a target whose host is an address that is not allowed (no DNS: names are
    checked when they are resolved, before each connection)."""
    if target.literal is not None:
        check_addresses(target.host, [target.literal], allow)


def check_url(url: str, allow: Sequence[Network]) -> Target:
    """Parse, resolve and check a webhook URL at registration; the parsed target if safe."""
    target = parse_target(url)
    resolve(target, allow)
    return target
