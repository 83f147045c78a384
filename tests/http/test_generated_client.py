"""A partner's generated client: ``openapi-python-client`` builds a package from the served
``/openapi.json`` and that package manages a subscription against the live server; every
payload the service sends validates against the document's ``webhooks`` schemas; a strict
Standard Webhooks receiver verifies the first ``endpoint.verify``, with the secret it chose
or the one the creating response carried."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from syndicate.testing import Receiver
from syndicate.webhooks.delivery import deliver_until_idle
from tests.support import ANSWER_FILE, Service, set_front_matter, wait_until

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def client_package(service: Service, tmp_path: Path) -> Iterator[ModuleType]:
    """The package ``openapi-python-client generate`` makes from the served document."""
    with service.client() as http:
        (tmp_path / "openapi.json").write_text(http.get("/openapi.json").text, "utf-8")
    (tmp_path / "config.yaml").write_text(
        "package_name_override: partner_client\nproject_name_override: partner-client\n"
        "post_hooks: []\n", "utf-8")
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", "openapi.json", "--meta", "none",
         "--output-path", "gen/partner_client", "--config", "config.yaml",
         "--fail-on-warning"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "will not be generated" not in result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path / "gen"))
    try:
        yield importlib.import_module("partner_client")
    finally:
        sys.path.remove(str(tmp_path / "gen"))
        for name in [n for n in sys.modules if n.split(".")[0] == "partner_client"]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def _strict(receiver: Receiver, secret: list[str]) -> None:
    """The receiver refuses (401) anything not signed with ``secret[0]``."""

    def check(body: bytes, headers: dict[str, str]) -> bool:
        if not secret:
            return False
        try:
            Webhook(secret[0]).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True

    receiver.verify("/hook", check)


def _deliver(service: Service) -> None:
    asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))


def _verify_queued(service: Service, before: int) -> None:
    from syndicate import store
    from tests.support import count

    wait_until(lambda: count(service.engine, store.events) > before, 10, "endpoint.verify")


def test_generated_client_manages_a_subscription_against_the_live_server(
    service: Service, client_package: ModuleType,
) -> None:
    from syndicate import store
    from tests.support import count

    api = "api.subscriptions."
    create = _module(client_package, api + "create_subscription")
    get = _module(client_package, api + "get_subscription")
    update = _module(client_package, api + "update_subscription")
    listing = _module(client_package, api + "list_subscriptions")
    delete = _module(client_package, api + "delete_subscription")
    deliveries = _module(client_package, "api.deliveries.list_deliveries")
    replay = _module(client_package, "api.deliveries.replay_deliveries")
    m = _module(client_package, "models")
    client = client_package.AuthenticatedClient(base_url=service.url,
                                                token=service.token("partner-a"))
    chosen = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with Receiver() as receiver, client as partner:
        _strict(receiver, [chosen])
        events_before = count(service.engine, store.events)
        created = create.sync_detailed(client=partner, body=m.NewSubscription(
            url=receiver.url(), languages=["de"], event_types=["answer.*"], secret=chosen))
        assert created.status_code == 201, created.content
        sub = created.parsed.subscription
        assert sub.status == m.SubscriptionStatus.PENDING and created.parsed.secret == chosen
        _verify_queued(service, events_before)
        _deliver(service)
        assert len(receiver.requests()) == 1  # verified strictly, on the first attempt
        fetched = get.sync(client=partner, subscription_id=sub.id)
        assert fetched.subscription.status == m.SubscriptionStatus.ACTIVE

        changed = update.sync(client=partner, subscription_id=sub.id,
                              body=m.Filters(languages=["de", "en"], full=True))
        assert changed.subscription.languages == ["de", "en"] and changed.subscription.full
        assert [s.id for s in listing.sync(client=partner).subscriptions] == [sub.id]
        sent = deliveries.sync(client=partner, subscription_id=sub.id).deliveries
        assert [(d.event_type, d.state) for d in sent] == [
            ("endpoint.verify", m.DeliveryState.DELIVERED)]
        again = replay.sync(client=partner, subscription_id=sub.id,
                            body=m.ReplayRequest(delivery_ids=[sent[0].id]))
        assert again.requeued == 1
        refused = create.sync_detailed(client=partner, body=m.NewSubscription(
            url=receiver.url(), languages=["xx-Bogus-tag-zz"]))
        assert refused.status_code == 422
        assert "xx-Bogus-tag-zz" in refused.parsed.error.message
        assert delete.sync_detailed(client=partner, subscription_id=sub.id).status_code == 204
        assert get.sync_detailed(client=partner, subscription_id=sub.id).status_code == 404


def test_every_payload_sent_validates_against_the_documents_webhooks(service: Service) -> None:
    """The generated secret, read from the creating response, verifies the first attempt;
    every body sent (endpoint.verify, answer events) matches the document's schemas."""
    from syndicate import store
    from tests.support import count

    with service.client() as http:
        document = http.get("/openapi.json").json()
    hooks = document["webhooks"]
    secret: list[str] = []
    with Receiver() as receiver, service.client(service.token("partner-a")) as client:
        _strict(receiver, secret)
        before = count(service.engine, store.events)
        created = client.post("/api/v1/subscriptions", json={"url": receiver.url()}).json()
        secret.append(created["secret"])  # the partner stores it when the response arrives
        _verify_queued(service, before)
        _deliver(service)
        set_front_matter(service.settings.content_dir / ANSWER_FILE, "reviewed", "2026-06-01")
        service.sync()
        _deliver(service)
        received = receiver.requests()
    assert next(r.json()["type"] for r in received) == "endpoint.verify"
    assert len(received) == 3  # verify, then answer.reviewed in de and en: none refused
    for request in received:
        body = request.json()
        schema = hooks[body["type"]]["post"]["requestBody"]["content"]["application/json"]
        resolver = {"components": document["components"], **schema["schema"]}
        jsonschema.validate(body, resolver, cls=jsonschema.Draft202012Validator)
        assert body["data"].get("challenge") or body["data"]["entry_id"].startswith("urn:uuid:")
    assert json.loads(received[1].body)["data"]["page_url"].startswith("https://answers.example/")


def _ed25519_check(public_key: list[str]) -> Any:
    """A strict v1a verifier over PyNaCl (libsodium), independent of the service's code."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    def check(body: bytes, headers: dict[str, str]) -> bool:
        if not public_key:
            return False
        key = VerifyKey(base64.b64decode(public_key[-1].removeprefix("whpk_")))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        for signature in headers["webhook-signature"].split():
            version, _, value = signature.partition(",")
            if version != "v1a":
                continue
            try:
                key.verify(signed, base64.b64decode(value))
            except BadSignatureError:
                continue
            return True
        return False

    return check


def test_v1a_subscriptions_are_signed_with_ed25519_and_verified_with_the_public_key(
    service: Service,
) -> None:
    from syndicate import store
    from tests.support import count

    public: list[str] = []
    with Receiver() as receiver, service.client(service.token("partner-a")) as client:
        receiver.verify("/hook", _ed25519_check(public))
        before = count(service.engine, store.events)
        created = client.post("/api/v1/subscriptions", json={
            "url": receiver.url(), "languages": ["de"], "signature": "v1a"}).json()
        assert created["secret"] is None  # the partner keeps no shared secret
        sub = created["subscription"]
        assert sub["signature"] == "v1a" and sub["public_key"].startswith("whpk_")
        public.append(sub["public_key"])
        _verify_queued(service, before)
        _deliver(service)
        (verify,) = receiver.requests()
        assert verify.headers["webhook-signature"].startswith("v1a,")
        path = f"/api/v1/subscriptions/{sub['id']}"
        assert client.get(path).json()["subscription"]["status"] == "active"
        rotated = client.post(f"{path}/rotate-secret").json()
        assert rotated["secret"] is None and rotated["public_key"] != public[0]
        public.append(rotated["public_key"])  # the receiver switches to the new key
        set_front_matter(service.settings.content_dir / ANSWER_FILE, "reviewed", "2026-06-01")
        service.sync()
        _deliver(service)
        event = receiver.requests()[-1]
        assert event.json()["type"] == "answer.reviewed"
        assert len(event.headers["webhook-signature"].split()) == 2  # both keys during rotation
        assert len(receiver.requests()) == 2  # nothing refused, nothing retried
