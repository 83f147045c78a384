"""Schema fuzzing of the HTTP API: schemathesis drives every operation of the service's own
OpenAPI document against a real server on 127.0.0.1, authenticated with a real partner token.

No request may get a 5xx, and every response must match the document (status code, content
type, headers, body schema). The budget is small enough for every CI run; ``SYNDICATE_FUZZ_
EXAMPLES`` is not read here on purpose (settings come from one place): raise ``EXAMPLES`` in
a local copy for a longer run, as docs/reliability.md describes.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from syndicate.config import load_settings
from syndicate.http import openapi
from tests.support import Service, hook_settings, start_service

EXAMPLES = 30
"""Examples per operation and mode (positive and negative); about 30 s for the whole API."""

SEMANTIC = {
    "listChanges": "since must be a cursor this service handed out",
    "replayDeliveries": "exactly one of since and delivery_ids",
    "createSubscription": "languages and conditions must be published ones",
    "updateSubscription": "languages and conditions must be published ones",
}
"""Operations whose schema-valid requests can still be refused for what the document cannot
say; for these a documented 4xx is accepted where schemathesis would expect a 2xx."""

DOCUMENT = openapi.document(load_settings(overrides={"base_url": "http://127.0.0.1"}))
schema = schemathesis.openapi.from_dict(DOCUMENT)
SEEN: collections.defaultdict[str, set[int]] = collections.defaultdict(set)
"""Statuses answered per operation, to show the run reached past authentication."""
TOKEN: list[str] = []
"""The partner token of the running module's service (set by ``fuzz_token``)."""


@schema.auth(refresh_interval=None)
class PartnerToken:
    """A real partner token as ``Authorization: Bearer``, which schemathesis then also leaves
    out or spoils on purpose to check that every operation needing it refuses without it."""

    def get(self, case: schemathesis.Case, ctx: Any) -> str:
        return TOKEN[-1] if TOKEN else ""  # asked once at collection, before any service

    def set(self, case: schemathesis.Case, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for the whole module (SQLite), with a rate limit fuzzing cannot reach."""
    import shutil

    from tests.support import ROOT, write_complete_catalog

    workspace: Path = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "content", workspace / "content")
    (workspace / "locales").mkdir()
    shutil.copy(ROOT / "locales" / "syndicate.pot", workspace / "locales" / "syndicate.pot")
    write_complete_catalog(workspace / "locales", "de")
    url = f"sqlite:///{workspace / 'state' / 'syndicate.db'}"
    settings = hook_settings(workspace, url, api_rate_limit=10_000.0, api_rate_burst=100_000)
    yield from start_service(settings)


@pytest.fixture(scope="module")
def fuzz_token(fuzz_service: Service) -> str:
    """A real partner token."""
    TOKEN.append(fuzz_service.token("fuzzer"))
    return TOKEN[-1]


def test_the_served_document_is_the_one_fuzzed(fuzz_service: Service) -> None:
    """The fuzzed document is exactly what the service serves (but for its server URL)."""
    with fuzz_service.client() as client:
        served: dict[str, Any] = client.get("/openapi.json").json()
    assert {**served, "servers": DOCUMENT["servers"]} == DOCUMENT


RECEIVER = "http://127.0.0.1:9/hook"
"""A loopback URL the service accepts (nothing is sent to it during the run)."""


def aim_at_real_data(case: schemathesis.Case, service: Service) -> None:
    """Point schema-valid requests at things that exist, so they reach past the lookups.

    Random subscription ids are all unknown (404) and random URLs do not resolve (422), so a
    valid path parameter becomes one of the partner's real subscriptions (a fresh one for
    DELETE), a valid subscription or callback URL becomes a loopback one, and a valid hub topic
    a feed published here. Invalid ones stay as drawn.
    """
    from syndicate.webhooks import subscribers, websub

    meta = case.meta
    if meta is None:
        return
    if "subscription_id" in (case.path_parameters or {}) and not meta.is_negative_at(
        ParameterLocation.PATH
    ):
        owned = subscribers.list_owned(service.engine, "fuzzer")
        if not owned or case.method.upper() == "DELETE":
            owned = [subscribers.add(service.engine, RECEIVER, now=service.clock(),
                                     allow_networks=["127.0.0.0/8"], owner="fuzzer")]
        case.path_parameters = {**case.path_parameters, "subscription_id": owned[0].id}
    if (case.operation.definition.raw.get("operationId") == "createSubscription"
            and isinstance(case.body, dict) and isinstance(case.body.get("url"), str)
            and not meta.is_negative_at(ParameterLocation.BODY)):
        case.body = {**case.body, "url": RECEIVER}
    if (case.operation.definition.raw.get("operationId") == "replayDeliveries"
            and isinstance(case.body, dict) and not meta.is_negative_at(ParameterLocation.BODY)
            and ("since" in case.body) == ("delivery_ids" in case.body)):
        # The schema cannot say "exactly one of": a valid body names one, the time here.
        case.body = {"since": "2026-06-01T00:00:00Z"}
    if (case.operation.definition.raw.get("operationId") == "websubHub"
            and isinstance(case.body, dict) and not meta.is_negative_at(ParameterLocation.BODY)):
        topic = sorted(websub.topics(service.settings))[0]
        case.body = {**case.body, "hub.topic": topic, "hub.callback": RECEIVER}


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_request_gets_a_5xx_or_an_answer_outside_the_schema(
    case: schemathesis.Case, fuzz_service: Service, fuzz_token: str
) -> None:
    """Whatever schemathesis sends, the answer is documented and never a server error."""
    aim_at_real_data(case, fuzz_service)
    semantic = case.operation.definition.raw.get("operationId") in SEMANTIC
    excluded = [positive_data_acceptance] if semantic else []
    response = case.call_and_validate(
        base_url=fuzz_service.url, excluded_checks=excluded, timeout=10
    )
    SEEN[case.operation.label].add(response.status_code)



def test_fuzzing_reached_past_authentication() -> None:
    """Every operation was answered 2xx at least once: the token worked, the run was real.

    Runs after the fuzzing test (file order); alone it has nothing to look at and skips.
    """
    if not SEEN:
        pytest.skip("run with the fuzzing test")
    print({label: sorted(statuses) for label, statuses in SEEN.items()})
    refused = sorted(label for label, statuses in SEEN.items()
                     if not any(200 <= s < 300 for s in statuses))
    assert refused == []
