"""Odd input to the API gets a 4xx with a clear message, never a 500, on SQLite and
PostgreSQL, and nothing is stored (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from tests.support import Service


@pytest.mark.parametrize("limit", ["²", "٣", "1" * 5000, "-1", "0x10"])
def test_odd_limits_are_400(service: Service, limit: str) -> None:
    """Before: ``limit=²`` passed ``isdigit`` and ``int`` raised (500); so did 5,000 digits."""
    with service.client(service.token("partner-a")) as client:
        for path in ("/api/v1/changes", "/api/v1/subscriptions/sub_0/deliveries"):
            response = client.get(path, params={"limit": limit})
            assert response.status_code in (400, 404), response.text
            if path == "/api/v1/changes":
                assert response.status_code == 400
                assert "limit" in response.json()["error"]["message"]


def test_json_nested_thirty_thousand_deep_is_400(service: Service) -> None:
    """Before: RecursionError, a 500."""
    body = "[" * 30_000 + "]" * 30_000
    token = service.token("partner-a")
    before = service.counts()
    with service.client(token) as client:
        response = client.post("/api/v1/subscriptions", content=body.encode(),
                               headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert service.counts() == before


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/\ud800",
    "http://127.0.0.1:9/a\u0000b",
    "http://127.0.0.1:9/a b",
    "http://127.0.0.1:9/a\rb",
    "http://127.0.0.1:9/a\nb",
    "http://127.0.0.1:9/a\tb",
    "http://127.0.0.1:9/a\u007fb",
])
def test_urls_with_control_characters_are_refused_at_registration(
    service: Service, url: str
) -> None:
    """Before: a lone surrogate was a 500, NUL a 500 on PostgreSQL, and CR, LF, space or DEL
    were stored, then failed three times at delivery."""
    token = service.token("partner-a")
    before = service.counts()
    body = json.dumps({"url": url})  # ensure_ascii spells \ud800 and \u0000 as escapes
    with service.client(token) as client:
        response = client.post("/api/v1/subscriptions", content=body.encode(),
                               headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in ("invalid_field", "unsafe_url")
    assert service.counts() == before
