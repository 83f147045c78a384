"""The SSRF guard: hostile webhook URLs are refused at registration and at send time."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.errors import UnsafeURLError
from syndicate.testing import Receiver
from syndicate.webhooks import netguard
from syndicate.webhooks.transport import PinnedTransport

LOOPBACK = netguard.parse_networks(["127.0.0.0/8"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://2130706433/hook",  # decimal
        "http://0x7f.1/hook",  # hex, short form
        "http://0x7f000001/hook",  # hex
        "http://0177.0.0.1/hook",  # octal
        "http://127.1/hook",  # short dotted
        "http://0.0.0.0/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1:8080/hook",
        "http://100.64.0.1/hook",  # shared address space
        "http://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "http://[::1]/hook",
        "http://[::]/hook",
        "http://[fe80::1]/hook",
        "http://[fc00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
        "http://[::ffff:7f00:1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://224.0.0.1/hook",  # multicast
    ],
)
def test_unroutable_targets_are_refused(url: str) -> None:
    """Every spelling of a non-global address is refused without an allow-list."""
    with pytest.raises(UnsafeURLError):
        netguard.check_url(url, ())


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/", "file:///etc/passwd", "http://user:pw@example.org/", "http:///x",
     "gopher://127.0.0.1/"],
)
def test_non_http_urls_are_refused(url: str) -> None:
    """Only plain http(s) URLs without credentials are webhook targets."""
    with pytest.raises(UnsafeURLError):
        netguard.parse_target(url)


def test_numeric_hosts_are_read_as_the_address_they_denote() -> None:
    """inet_aton spellings are checked as the address a resolver would use."""
    assert str(netguard.parse_target("http://2130706433/").literal) == "127.0.0.1"
    assert str(netguard.parse_target("http://0x7f.1/").literal) == "127.0.0.1"
    assert str(netguard.parse_target("http://0177.0.0.1/").literal) == "127.0.0.1"
    assert netguard.parse_target("http://example.org/").literal is None


def test_global_addresses_are_allowed() -> None:
    """A public address passes without an allow-list."""
    assert netguard.is_allowed(ipaddress.ip_address("93.184.216.34"))
    assert netguard.is_allowed(ipaddress.ip_address("2606:4700::1111"))


def test_allow_list_admits_loopback_only() -> None:
    """``webhook_allow_networks`` opens exactly the networks it names."""
    assert netguard.check_url("http://127.0.0.1:9/hook", LOOPBACK)
    assert netguard.check_url("http://[::ffff:127.0.0.1]:9/hook", LOOPBACK)
    with pytest.raises(UnsafeURLError):
        netguard.check_url("http://10.0.0.1/hook", LOOPBACK)


def test_send_time_check_refuses_without_touching_the_receiver() -> None:
    """A URL that became unsafe (allow-list removed) is refused before any connection."""
    with Receiver() as receiver:
        transport = PinnedTransport(allow_networks=())

        async def send() -> None:
            await transport.handle_async_request(
                httpx.Request("POST", receiver.url(), content=b"{}")
            )

        with pytest.raises(UnsafeURLError):
            asyncio.run(send())
        assert receiver.requests() == []


def test_transport_keeps_host_header_and_connects_to_checked_address() -> None:
    """Connecting to the resolved address keeps the name in ``Host`` (and in TLS SNI)."""
    with Receiver() as receiver:
        transport = PinnedTransport(allow_networks=["127.0.0.0/8", "::1/128"])
        url = receiver.url().replace("127.0.0.1", "localhost")

        async def send() -> httpx.Response:
            try:
                return await transport.handle_async_request(
                    httpx.Request("POST", url, content=b"{}")
                )
            finally:
                await transport.aclose()

        response = asyncio.run(send())
        assert response.status_code == 200
        assert receiver.requests()[0].headers["host"] == f"localhost:{receiver.ports[0]}"


def test_resolution_is_checked_once_and_pinned() -> None:
    """The transport connects to what it checked: a second DNS answer is never consulted
    within the cache period, so rebinding to a private address cannot take effect."""
    with Receiver() as receiver:
        answers = [["127.0.0.1"], ["10.0.0.1"]]
        calls: list[str] = []

        async def resolver(host: str, port: int) -> list[str]:
            calls.append(host)
            return answers[min(len(calls) - 1, 1)]

        transport = PinnedTransport(allow_networks=["127.0.0.0/8"], resolver=resolver)
        url = f"http://partner.example:{receiver.ports[0]}/hook"

        async def send_twice() -> list[int]:
            statuses = []
            for _ in range(2):
                request = httpx.Request("POST", url, content=b"{}")
                statuses.append((await transport.handle_async_request(request)).status_code)
            await transport.aclose()
            return statuses

        assert asyncio.run(send_twice()) == [200, 200]
        assert calls == ["partner.example"]
        assert {r.headers["host"] for r in receiver.requests()} == {
            f"partner.example:{receiver.ports[0]}"
        }

        # A fresh transport resolves again, gets the private answer, and refuses.
        fresh = PinnedTransport(allow_networks=["127.0.0.0/8"])
        with pytest.raises(UnsafeURLError):
            asyncio.run(fresh.handle_async_request(httpx.Request("POST", url, content=b"{}")))


# -- property: no spelling of a non-global address is ever admitted --------------------------

NON_GLOBAL_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
]
"""IANA special-purpose IPv4 blocks that are not globally reachable, and multicast."""
NON_GLOBAL_V6 = [
    "::1/128", "::/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
    "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    "::/8", "400::/6", "4000::/3", "8000::/3", "c000::/3", "e000::/4", "f000::/5",
]
"""The same for IPv6, with the space outside the global unicast block 2000::/3."""


def _in(network: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda n: net[n])


_V4 = st.sampled_from(NON_GLOBAL_V4).flatmap(_in)
_V6 = st.sampled_from(NON_GLOBAL_V6).flatmap(_in)


def v4_spellings(address: ipaddress.IPv4Address) -> st.SearchStrategy[str]:
    """Every way ``inet_aton`` and URL parsers read an IPv4 host."""
    n = int(address)
    octets = [int(part) for part in str(address).split(".")]
    forms = [
        str(address), str(n), hex(n), f"0x{n:08X}", oct(n).replace("0o", "0"),
        ".".join(f"0{o:o}" for o in octets), ".".join(hex(o) for o in octets),
        f"{octets[0]}.{(n >> 16) & 0xFF}.{n & 0xFFFF}", f"{octets[0]}.{n & 0xFFFFFF}",
        f"0x{octets[0]:x}.{n & 0xFFFFFF:#o}".replace("0o", "0"),
        f"[::ffff:{address}]", f"[::ffff:{n >> 16:x}:{n & 0xFFFF:x}]",  # IPv4-mapped
        f"[::{address}]", f"[::{n >> 16:x}:{n & 0xFFFF:x}]",  # IPv4-compatible
        f"[::ffff:0:{address}]",  # IPv4-translated
        f"[64:ff9b::{address}]", f"[64:ff9b:1::{n >> 16:x}:{n & 0xFFFF:x}]",  # NAT64
        f"[2002:{n >> 16:x}:{n & 0xFFFF:x}::1]",  # 6to4
        f"[0:0:0:0:0:FFFF:{address}]",
    ]
    return st.sampled_from(forms)


def v6_spellings(address: ipaddress.IPv6Address) -> st.SearchStrategy[str]:
    forms = [f"[{address.compressed}]", f"[{address.exploded}]", f"[{address.exploded.upper()}]"]
    if address.is_link_local:
        forms.append(f"[{address.compressed}%25eth0]")
    return st.sampled_from(forms)


_HOST = st.one_of(_V4.flatmap(v4_spellings), _V6.flatmap(v6_spellings))


@settings(max_examples=300, deadline=None)
@given(host=_HOST, scheme=st.sampled_from(["http", "https", "HTTP"]),
       port=st.none() | st.integers(1, 65535), path=st.sampled_from(["", "/", "/hook?x=1", "#f"]))
def test_no_spelling_of_a_non_global_address_is_ever_admitted(
    host: str, scheme: str, port: int | None, path: str
) -> None:
    """Dotted, decimal, hex, octal, short, mapped, compatible, translated, NAT64 and 6to4
    spellings of private, loopback, link-local, shared, reserved and multicast addresses,
    with or without a port: all refused when nothing is allowed."""
    url = f"{scheme}://{host}{f':{port}' if port else ''}{path}"
    with pytest.raises(UnsafeURLError):
        netguard.check_url(url, ())


@settings(max_examples=150, deadline=None)
@given(host=_HOST, userinfo=st.sampled_from(["user@", "user:pw@", "example.org@", ":@", "a%40b@"]))
def test_userinfo_never_smuggles_a_host_past_the_guard(host: str, userinfo: str) -> None:
    """``http://example.org@10.0.0.1/`` is refused (credentials), whatever the address."""
    with pytest.raises(UnsafeURLError):
        netguard.check_url(f"http://{userinfo}{host}/hook", ())


@settings(max_examples=150, deadline=None)
@given(address=_V4 | _V6)
def test_the_address_check_refuses_every_non_global_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    """What a resolver returns is checked the same way: ``is_allowed`` says no."""
    assert not netguard.is_allowed(address)
    with pytest.raises(UnsafeURLError):
        netguard.check_addresses("partner.example", [ipaddress.ip_address("93.184.216.34"), address], ())


@pytest.mark.parametrize("url", [
    "http://93.184.216.34/hook", "https://[2606:4700::1111]:8443/hook",
    "http://[64:ff9b::5db8:d822]/hook",  # NAT64 of a public IPv4 address
    "http://[2002:5db8:d822::1]/hook",  # 6to4 of a public IPv4 address
])
def test_global_addresses_in_any_spelling_are_still_admitted(url: str) -> None:
    """The guard is not a wall: public addresses pass."""
    assert netguard.check_url(url, ()).literal is not None
