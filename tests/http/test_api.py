"""The partner API over real HTTP on 127.0.0.1: authorization, hostile input, rate limits,
errors, the OpenAPI document, health and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from syndicate.config import load_settings
from syndicate.http import tokens
from syndicate.http.inputs import RateLimiter
from syndicate.http.openapi import document
from syndicate.testing import Receiver
from syndicate.webhooks.delivery import deliver_until_idle
from tests.support import Service, hook_settings, start_service, verification_queued

SUBSCRIPTIONS = "/api/v1/subscriptions"


def _create(client: httpx.Client, url: str, **fields: object) -> dict[str, object]:
    response = client.post(SUBSCRIPTIONS, json={"url": url, **fields})
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def _verification_queued(service: Service, subscriber_id: str) -> None:
    verification_queued(service.engine, subscriber_id)


def test_feed_is_served_then_revalidated_with_304_through_create_app(service: Service) -> None:
    """The service serves the publication tree first: 200 with a strong ETag, then 304."""
    with service.client() as client:
        first = client.get("/de/feed.atom", headers={"accept-encoding": "identity"})
        assert first.status_code == 200
        assert first.content == (service.settings.out_dir / "de" / "feed.atom").read_bytes()
        assert first.headers["content-type"] == "application/atom+xml; charset=utf-8"
        again = client.get("/de/feed.atom", headers={
            "if-none-match": first.headers["etag"], "accept-encoding": "identity"})
        assert again.status_code == 304
        assert again.headers["etag"] == first.headers["etag"]


def test_subscription_lifecycle(service: Service) -> None:
    """Create (pending, then verified by the worker), get, update filters, rotate the secret,
    list deliveries, replay, delete."""
    token = service.token("partner-a")
    with Receiver() as receiver, service.client(token) as client:
        created = _create(client, receiver.url(), languages=["de"], event_types=["answer.*"])
        sub = created["subscription"]
        assert isinstance(sub, dict) and sub["status"] == "pending"
        assert str(created["secret"]).startswith("whsec_")
        path = f"{SUBSCRIPTIONS}/{sub['id']}"
        _verification_queued(service, str(sub["id"]))
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        assert client.get(path).json()["subscription"]["status"] == "active"
        listed = client.get(SUBSCRIPTIONS).json()["subscriptions"]
        assert [s["id"] for s in listed] == [sub["id"]]

        patched = client.patch(path, json={"languages": ["de", "en"], "full": True})
        assert patched.status_code == 200
        assert patched.json()["subscription"]["languages"] == ["de", "en"]
        assert patched.json()["subscription"]["full"] is True

        rotated = client.post(f"{path}/rotate-secret")
        assert rotated.status_code == 200
        assert rotated.json()["secret"].startswith("whsec_")
        assert rotated.json()["secret"] != created["secret"]

        deliveries = client.get(f"{path}/deliveries").json()["deliveries"]
        assert [d["event_type"] for d in deliveries] == ["endpoint.verify"]
        assert deliveries[0]["state"] == "delivered"
        replay = client.post(f"{path}/replay", json={"delivery_ids": [deliveries[0]["id"]]})
        assert replay.status_code == 202 and replay.json() == {"requeued": 1}
        again = client.get(f"{path}/deliveries", params={"state": "pending"}).json()
        assert [d["id"] for d in again["deliveries"]] == [deliveries[0]["id"]]

        assert client.delete(path).status_code == 204
        gone = client.get(path)
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "not_found"


def test_a_partner_sees_and_touches_only_its_own_subscriptions(service: Service) -> None:
    """Partner B gets 404 for everything of partner A's, exactly as for a missing id."""
    with Receiver() as receiver, service.client(service.token("partner-a")) as a, \
            service.client(service.token("partner-b")) as b:
        sub = _create(a, receiver.url(), languages=["de"])["subscription"]
        assert isinstance(sub, dict)
        path = f"{SUBSCRIPTIONS}/{sub['id']}"
        _verification_queued(service, str(sub["id"]))
        before = service.counts()
        assert b.get(SUBSCRIPTIONS).json() == {"subscriptions": []}
        attempts = [
            b.get(path), b.patch(path, json={"languages": ["en"]}), b.delete(path),
            b.post(f"{path}/rotate-secret"), b.get(f"{path}/deliveries"),
            b.post(f"{path}/replay", json={"since": "2020-01-01T00:00:00Z"}),
        ]
        missing = b.get(f"{SUBSCRIPTIONS}/sub_0000000000000000")
        for response in attempts:
            assert response.status_code == 404, response.request
            assert response.json() == missing.json()
        assert service.counts() == before
        mine = a.get(path).json()["subscription"]
        assert mine["languages"] == ["de"]


def test_missing_unknown_and_revoked_tokens_are_refused(service: Service) -> None:
    """No token, a wrong one, a malformed one and a revoked one: 401 with a JSON error."""
    record, token = tokens.issue(service.engine, "partner-a", now=service.clock())
    with service.client(token) as client:
        assert client.get(SUBSCRIPTIONS).status_code == 200
    tokens.revoke(service.engine, record.id, now=service.clock())
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for header in [None, f"Bearer {token}", f"Bearer {wrong}", "Bearer nonsense", f"Basic {token}"]:
        with httpx.Client(base_url=service.url) as client:
            headers = {"authorization": header} if header else {}
            response = client.get(SUBSCRIPTIONS, headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert token not in response.text


def _chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        sent += 8192
        yield b" " * 8192


@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    (b'{"url": "https://partner.example/h",', {}, 400, "malformed_json"),
    (b'{"url": "https://partner.example/h", "url": "https://x.example/"}', {}, 400,
     "malformed_json"),
    (b'{"url": NaN}', {}, 400, "malformed_json"),
    (b"\xff\xfe", {}, 400, "malformed_json"),
    (b'["https://partner.example/h"]', {}, 422, "invalid_request"),
    (b'{"url": "https://partner.example/h", "owner": "partner-b"}', {}, 422, "unknown_field"),
    (b'{"url": "https://partner.example/h", "secret": "whsec_x"}', {}, 422, "invalid_field"),
    (b'{"languages": ["de"]}', {}, 422, "missing_field"),
    (b'{"url": "https://partner.example/h", "languages": "de"}', {}, 422, "invalid_field"),
    (b'{"url": "https://partner.example/h", "languages": ["../etc"]}', {}, 422, "invalid_field"),
    (b'{"url": "https://partner.example/h", "event_types": ["nope.x"]}', {}, 422,
     "invalid_field"),
    (b'{"url": "https://partner.example/h", "full": "yes"}', {}, 422, "invalid_field"),
    (b'{"url": "http://169.254.169.254/latest"}', {}, 422, "unsafe_url"),
    (b'{"url": "http://10.0.0.1/h"}', {}, 422, "unsafe_url"),
    (b'{"url": "file:///etc/passwd"}', {}, 422, "unsafe_url"),
    (b'{"url": "https://partner.example/h"}', {"content-type": "text/plain"}, 415,
     "unsupported_media_type"),
    (b"{" + b" " * 70_000 + b"}", {}, 413, "body_too_large"),
])
def test_bad_bodies_are_refused_and_nothing_is_stored(
    service: Service, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    """Malformed JSON, unknown or invalid fields, unsafe URLs, wrong media types, oversized
    bodies: a 4xx JSON error, and no row written."""
    token = service.token("partner-a")
    before = service.counts()
    with service.client(token) as client:
        response = client.post(SUBSCRIPTIONS, content=body,
                               headers={"content-type": "application/json", **headers})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert service.counts() == before


def test_oversized_streamed_body_is_cut_off_with_413(service: Service) -> None:
    """A chunked body without Content-Length is refused once past the limit."""
    token = service.token("partner-a")
    before = service.counts()
    with service.client(token) as client:
        response = client.post(SUBSCRIPTIONS, content=_chunks(10_000_000),
                               headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert service.counts() == before


def test_patch_refuses_unknown_fields_and_leaves_the_filters(service: Service) -> None:
    with Receiver() as receiver, service.client(service.token("partner-a")) as client:
        sub = _create(client, receiver.url(), languages=["de"])["subscription"]
        assert isinstance(sub, dict)
        path = f"{SUBSCRIPTIONS}/{sub['id']}"
        for body in [{"url": "https://elsewhere.example/"}, {"status": "active"},
                     {"languages": ["de"], "secret": "x"}]:
            response = client.patch(path, json=body)
            assert response.status_code == 422
            assert response.json()["error"]["code"] == "unknown_field"
        assert client.get(path).json()["subscription"] == sub


def test_unknown_query_parameters_paths_and_methods_are_json_errors(service: Service) -> None:
    with service.client(service.token("partner-a")) as client:
        unknown = client.get(SUBSCRIPTIONS, params={"owner": "partner-b"})
        assert unknown.status_code == 400
        assert unknown.json()["error"]["code"] == "unknown_parameter"
        missing = client.get("/api/v1/nothing")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        method = client.put(SUBSCRIPTIONS)
        assert method.status_code == 405
        assert method.json()["error"]["code"] == "method_not_allowed"


def test_rate_limit_answers_429_with_retry_after(workspace: Path, database_url: str) -> None:
    """A token over its burst is refused with Retry-After; another token is not affected."""
    settings = hook_settings(workspace, database_url, api_rate_burst=3, api_rate_limit=0.5)
    for service in start_service(settings):
        first, second = service.token("partner-a"), service.token("partner-b")
        with service.client(first) as a, service.client(second) as b:
            assert [a.get(SUBSCRIPTIONS).status_code for _ in range(3)] == [200] * 3
            limited = a.get(SUBSCRIPTIONS)
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "rate_limited"
            assert limited.headers["retry-after"] == "2"
            assert b.get(SUBSCRIPTIONS).status_code == 200


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 2, clock=lambda: now[0])
    assert [limiter.take("t") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("t") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("t") == 0.0
    assert limiter.take("other") == 0.0
    assert RateLimiter.retry_after(0.01) == "1"


def test_openapi_document_is_valid_and_lists_every_route(service: Service) -> None:
    """The served document validates as OpenAPI 3.1 and matches the app's routes."""
    served = httpx.get(f"{service.url}/openapi.json").json()
    validate(served)
    assert served == document(service.settings)
    assert served["servers"] == [{"url": "https://answers.example"}]
    from syndicate.http.api import StatusCounter, create_app

    counter = create_app(service.settings, service.engine).fallback
    assert isinstance(counter, StatusCounter)
    routes = {(route.path, method.lower())
              for route in counter.app.routes
              for method in (getattr(route, "methods", None) or set()) - {"HEAD"}}
    documented = {(path, method) for path, item in served["paths"].items()
                  for method in item if method != "parameters"}
    assert routes == documented


def test_responses_match_the_openapi_schemas(service: Service) -> None:
    """Bodies the API answers validate against the document's schemas."""
    spec = document(service.settings)

    def check(name: str, value: object) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)

    with Receiver() as receiver, service.client(service.token("partner-a")) as client:
        created = _create(client, receiver.url())
        check("Subscription", created["subscription"])
        _verification_queued(service, str(created["subscription"]["id"]))  # type: ignore[index]
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        sub = created["subscription"]
        assert isinstance(sub, dict)
        for delivery in client.get(f"{SUBSCRIPTIONS}/{sub['id']}/deliveries").json()["deliveries"]:
            check("Delivery", delivery)
        for change in client.get("/api/v1/changes").json()["changes"]:
            check("ChangeEntry", change)
        for answer in client.get("/api/v1/answers").json()["answers"]:
            check("PublishedAnswer", answer)
        check("Error", client.get(f"{SUBSCRIPTIONS}/nope").json())


def test_health_readiness_and_metrics(service: Service) -> None:
    """/healthz needs nothing; /readyz follows the scheduler; /metrics is Prometheus text."""
    with service.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        service.ready[0] = False
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["error"]["code"] == "not_ready"
        service.metrics.record_job_run("sync", "ok", 0.25)
        service.metrics.record_job_run("deliver", "error", 0.1)
        metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for line in [
        'syndicate_deliveries{state="dead"} 0.0',
        "syndicate_delivery_queue_depth 0.0",
        'syndicate_translation_completeness{language="de"} 1.0',
        'syndicate_translation_completeness{language="en"} 1.0',
        'syndicate_job_runs_total{job="sync",outcome="ok"} 1.0',
        'syndicate_job_runs_total{job="deliver",outcome="error"} 1.0',
        "syndicate_feed_build_seconds_count 1.0",
    ]:
        assert line in text, line
    # Read from the run history, whichever process ran the job (tests/service/test_metrics.py).
    assert "# TYPE syndicate_job_last_success_timestamp_seconds gauge" in text
    assert 'syndicate_api_requests_total{status="5xx"}' in text


def test_tokens_and_secrets_never_reach_logs_or_errors(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever a partner does, its token and its subscription's secrets are not logged."""
    caplog.set_level(logging.DEBUG)
    token = service.token("partner-a")
    with Receiver() as receiver, service.client(token) as client:
        created = _create(client, receiver.url())
        sub = created["subscription"]
        assert isinstance(sub, dict)
        rotated = client.post(f"{SUBSCRIPTIONS}/{sub['id']}/rotate-secret").json()["secret"]
        errors = [
            client.post(SUBSCRIPTIONS, content=b"{", headers={"content-type": "application/json"}),
            client.get(SUBSCRIPTIONS, headers={"authorization": f"Bearer {token}x"}),
            client.get("/api/v1/changes", params={"since": token}),
        ]
        metrics = client.get("/metrics").text
    # The service's own logs (the test's HTTP client logs the URLs it was asked to fetch).
    ours = [r for r in caplog.records if r.name.startswith(("syndicate", "uvicorn", "starlette"))]
    logged = "".join(r.getMessage() + repr(r.__dict__) for r in ours)
    for secret in [token, str(created["secret"]), rotated]:
        assert secret not in logged
        assert secret not in metrics
        for response in errors:
            assert secret not in response.text
    assert any(getattr(r, "subscriber", None) == sub["id"] for r in ours)


def test_tokens_are_stored_hashed(service: Service) -> None:
    record, token = tokens.issue(service.engine, "partner-a", now=service.clock())
    import sqlalchemy as sa

    from syndicate.store import api_tokens

    with service.engine.connect() as conn:
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == record.id)).one()
    assert token not in repr(tuple(row)) and token.split("_", 2)[2] not in repr(tuple(row))
    assert tokens.authenticate(service.engine, token) == record
    with pytest.raises(ValueError, match="partner name"):
        tokens.issue(service.engine, "Partner A", now=service.clock())


def test_settings_refuse_unusable_api_limits() -> None:
    from syndicate.errors import ConfigError

    for overrides in [{"api_rate_limit": 0}, {"api_max_body": 10},
                      {"websub_lease_seconds": 10**9}]:
        with pytest.raises(ConfigError):
            load_settings(overrides=overrides)


def test_a_405_names_every_method_the_path_serves(service: Service) -> None:
    """``Allow`` lists GET and POST for the subscriptions collection, not just the first
    route's method (found by schema fuzzing)."""
    with service.client(service.token("partner-a")) as client:
        response = client.put(SUBSCRIPTIONS)
        assert response.status_code == 405
        assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
        item = client.request("OPTIONS", f"{SUBSCRIPTIONS}/sub_0123456789abcdef")
        assert {"GET", "PATCH", "DELETE"} <= set(item.headers["allow"].replace(" ", "").split(","))


def test_filters_and_query_values_with_a_trailing_newline_are_refused(service: Service) -> None:
    """``de\\n`` is not a language and ``lupus\\n`` not a condition: patterns are matched in
    full, as the OpenAPI document's patterns mean (``$`` also matched before a final newline)."""
    with Receiver() as receiver, service.client(service.token("partner-a")) as client:
        for field, value in (("languages", "de\n"), ("conditions", "lupus\n"),
                             ("event_types", "answer.*\n")):
            response = client.post(SUBSCRIPTIONS, json={"url": receiver.url(), field: [value]})
            assert response.status_code == 422, (field, response.text)
        assert client.get("/api/v1/answers", params={"language": "de\n"}).status_code == 400
        assert client.get("/api/v1/changes", params={"condition": "lupus\n"}).status_code == 400
    assert service.counts()["subscribers"] == 0
