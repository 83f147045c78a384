"""The SSRF guard: hostile webhook URLs are refused at registration and at send time."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from syndicate import netguard
from syndicate.errors import UnsafeURLError
from syndicate.testing import Receiver
from syndicate.transport import PinnedTransport

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


def test_resolution_is_checked_once_and_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The transport connects to what it checked: a second DNS answer is never consulted
    within the cache period, so rebinding to a private address cannot take effect."""
    with Receiver() as receiver:
        answers = [
            (netguard.parse_target("http://127.0.0.1/").literal,),
            (netguard.parse_target("http://10.0.0.1/").literal,),
        ]
        calls: list[str] = []

        async def fake_resolve(
            target: netguard.Target, allow: tuple[netguard.Network, ...]
        ) -> tuple[netguard.IPAddress, ...]:
            calls.append(target.host)
            found = answers[min(len(calls) - 1, 1)]
            return netguard.check_addresses(target.host, found, allow)  # type: ignore[arg-type]

        monkeypatch.setattr(netguard, "resolve_async", fake_resolve)
        transport = PinnedTransport(allow_networks=["127.0.0.0/8"])
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
