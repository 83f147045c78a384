"""The OpenAPI 3.1 document of the HTTP service, served at ``/openapi.json``.

The paths are written here, next to the handlers in :mod:`syndicate.http.api`; every body's
schema is generated from the pydantic models the handlers validate with
(:mod:`syndicate.http.models`), and the ``webhooks`` section describes every event payload
the service sends. Tests check that it is a valid OpenAPI 3.1 document, that it lists exactly
the routes the app serves, that responses and sent payloads match its schemas, and that a
client generated from it by ``openapi-python-client`` works against a live server.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..publication import site_url
from ..webhooks import ANSWER_EVENTS, REVIEW_EVENTS
from . import models

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): {"$ref": f"#/components/responses/E{status}"} for status in statuses}


_ERROR_TEXT = {
    400: "Malformed JSON, a bad query parameter or cursor.",
    401: "No token, or an unknown or revoked one.",
    403: "The WebSub hub holds its maximum of subscriptions (per callback host or in total).",
    404: "No such subscription (or one of another partner).",
    413: "The body is larger than the limit (`api_max_body`).",
    415: "The body is not of the expected media type.",
    422: "Unknown, missing or invalid fields; an unsafe URL.",
    429: "Too many requests for this token (the hub: this client address or callback host); "
         "retry after `Retry-After` seconds.",
    503: "Not ready (the hub: too many verifications waiting; retry after `Retry-After`).",
}

_LANGUAGE = models.Filters.model_json_schema()["properties"]["languages"]["items"]
_SLUG = models.Filters.model_json_schema()["properties"]["conditions"]["items"]
_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = models.component_schemas()
"""Generated from :mod:`syndicate.http.models`, the models the handlers validate with."""


def _path_parameter() -> dict[str, Any]:
    return {"name": "subscription_id", "in": "path", "required": True,
            "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


_TAGS = {
    "Subscription": "subscriptions", "Secret": "subscriptions", "Deliveries": "deliveries",
    "Changes": "catch-up", "Answers": "catch-up", "websub": "websub",
}


def _tag(operation_id: str) -> str:
    for word, tag in _TAGS.items():
        if word in operation_id:
            return tag
    return "operations"


def _operation(
    operation_id: str, summary: str, responses: dict[str, Any], *,
    body: dict[str, Any] | None = None, parameters: list[dict[str, Any]] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    found: dict[str, Any] = {"operationId": operation_id, "summary": summary,
                             "tags": [_tag(operation_id)], "responses": responses}
    if body is not None:
        found["requestBody"] = body
    if parameters:
        found["parameters"] = parameters
    if public:
        found["security"] = []
    return found


def _body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def paths() -> dict[str, Any]:
    """Every path of the service, with its operations."""
    return {**_subscription_paths(), **_subscription_action_paths(), **_catch_up_paths(),
            **_hub_paths(), **_operations_paths()}


_AUTH = _errors(401, 429)
_ONE = _ref("SubscriptionEnvelope")


def _subscription_paths() -> dict[str, Any]:
    """Partners' webhook subscriptions: create, list, read, change, delete."""
    one, auth, sub = _ONE, _AUTH, [_path_parameter()]
    return {
        "/api/v1/subscriptions": {
            "get": _operation("listSubscriptions", "Your webhook subscriptions", {
                "200": _json(_ref("SubscriptionList"), "The subscriptions"), **_errors(400),
                **auth}),
            "post": _operation(
                "createSubscription",
                "Register a webhook URL (verified by an endpoint.verify challenge, sent "
                "after this response)",
                {"201": _json(_ref("SubscriptionCreated"), "Created, pending verification"),
                 **_errors(400, 413, 415, 422), **auth},
                body=_body(_ref("NewSubscription"))),
        },
        "/api/v1/subscriptions/{subscription_id}": {
            "parameters": sub,
            "get": _operation("getSubscription", "One subscription",
                              {"200": _json(one, "The subscription"), **_errors(404), **auth}),
            "patch": _operation("updateSubscription", "Change filters",
                                {"200": _json(one, "Updated"),
                                 **_errors(400, 404, 413, 415, 422), **auth},
                                body=_body(_ref("Filters"))),
            "delete": _operation("deleteSubscription", "Delete it and its deliveries",
                                 {"204": {"description": "Deleted"}, **_errors(404), **auth}),
        },
    }


def _subscription_action_paths() -> dict[str, Any]:
    """What a partner does with one subscription: rotate, look at deliveries, replay."""
    auth, sub = _AUTH, [_path_parameter()]
    return {
        "/api/v1/subscriptions/{subscription_id}/rotate-secret": {
            "parameters": sub,
            "post": _operation(
                "rotateSecret", "New signing secret; the old one signs 24 more hours",
                {"200": _json(_ref("RotatedSecret"), "The new secret, shown once"),
                 **_errors(400, 404, 413, 415, 422), **auth},
                body=_body(_ref("EmptyBody"), required=False)),
        },
        "/api/v1/subscriptions/{subscription_id}/deliveries": {
            "parameters": sub,
            "get": _operation(
                "listDeliveries", "Recent deliveries, newest first",
                {"200": _json(_ref("DeliveryList"), "The deliveries"), **_errors(400, 404),
                 **auth},
                parameters=[
                    _query("state", {"enum": ["pending", "delivered", "dead"]}, "Only these"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500},
                           "At most this many (50)"),
                ]),
        },
        "/api/v1/subscriptions/{subscription_id}/replay": {
            "parameters": sub,
            "post": _operation(
                "replayDeliveries", "Send deliveries again (same webhook-id)",
                {"202": _json(_ref("Requeued"), "Queued again"),
                 **_errors(400, 404, 413, 415, 422), **auth},
                body=_body(_ref("ReplayRequest"))),
        },
    }


def _catch_up_paths() -> dict[str, Any]:
    """The event log and the published answers, for catching up."""
    auth = _AUTH
    return {
        "/api/v1/changes": {
            "get": _operation(
                "listChanges", "Answer events in order, after a cursor",
                {"200": _json(_ref("ChangesPage"), "A page of changes"), **_errors(400),
                 **auth},
                parameters=[
                    _query("since", {"type": "string"}, "A cursor (`next`); none: from the start"),
                    _query("language", _LANGUAGE, "Only this language"),
                    _query("condition", _SLUG, "Only this condition slug"),
                    _query("type", {"enum": list(ANSWER_EVENTS)}, "Only this event type"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                           "At most this many (100)"),
                ]),
        },
        "/api/v1/answers": {
            "get": _operation(
                "listAnswers", "Every published answer with review dates and URLs",
                {"200": _json(_ref("PublishedAnswerList"), "The answers"), **_errors(400), **auth},
                parameters=[_query("language", _LANGUAGE, "Only this language")]),
        },
    }


def _hub_paths() -> dict[str, Any]:
    """The WebSub hub (public)."""
    hub_form = {
        "type": "object", "required": ["hub.mode", "hub.topic", "hub.callback"],
        "properties": {
            "hub.mode": {"enum": ["subscribe", "unsubscribe"]},
            "hub.topic": {"type": "string", "description": "a feed URL published here"},
            "hub.callback": {"type": "string", "format": "uri"},
            "hub.lease_seconds": {"type": "string", "pattern": "^[0-9]+$"},
            "hub.secret": {"type": "string", "maxLength": 199},
        },
    }
    return {
        "/websub": {
            "post": _operation(
                "websubHub", "WebSub hub: subscribe or unsubscribe a callback to a feed",
                {"202": {"description": "Accepted; intent is verified with hub.challenge"},
                 **_errors(400, 403, 413, 415, 429, 503)},
                body={"required": True, "content": {
                    "application/x-www-form-urlencoded": {"schema": hub_form}}},
                public=True),
        },
    }


def _operations_paths() -> dict[str, Any]:
    """Health, readiness, metrics and this document (public)."""
    return {
        "/healthz": {"get": _operation(
            "healthz", "The process is alive", {"200": {"description": "Alive"}},
            public=True)},
        "/readyz": {"get": _operation(
            "readyz", "The database answers at the expected schema; what the last sync found",
            {"200": {"description": "Ready"}, **_errors(503)}, public=True)},
        "/metrics": {"get": _operation(
            "metrics", "Prometheus metrics",
            {"200": {"description": "Metrics", "content": {"text/plain": {
                "schema": {"type": "string"}}}}}, public=True)},
        "/openapi.json": {"get": _operation(
            "openapi", "This document",
            {"200": _json({"type": "object"}, "The OpenAPI document")}, public=True)},
    }


_EVENT_TEXT = {
    "answer.published": "A language has a complete rendition of an answer for the first "
                        "time (or again after a withdrawal).",
    "answer.reviewed": "The review date of a language's rendition changed.",
    "answer.updated": "The content changed with the same review date (or the answer moved: "
                      "`previous_page_url`).",
    "answer.withdrawn": "The answer was withdrawn: remove it; its page answers 410.",
    "translation.stale": "The source was re-reviewed and this translation lags: its last "
                         "version stays published, marked stale (both review dates given).",
    "answer.review_due": "The answer's medical review is due within `review_notice_days` "
                         "(once per answer, language and due date; only if you name it).",
    "answer.review_overdue": "The answer's review date has passed; it stays published, "
                             "marked overdue (once per due date; only if you name it).",
}


def webhooks() -> dict[str, Any]:
    """Every event the service sends, with its payload (OpenAPI 3.1 ``webhooks``)."""
    received = {"2XX": {"description": "Received (any 2xx); anything else is retried"}}
    found: dict[str, Any] = {}
    for event in (*ANSWER_EVENTS, *REVIEW_EVENTS):
        name = "".join(part.title() for part in event.replace(".", "_").split("_"))
        found[event] = {"post": {
            "operationId": f"on{name}", "tags": ["webhooks"], "summary": _EVENT_TEXT[event],
            "description": "Signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, "
                           "`webhook-signature`); see docs/webhooks.md.",
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("AnswerEvent")}}},
            "responses": received,
        }}
    found["endpoint.verify"] = {"post": {
        "operationId": "onEndpointVerify", "tags": ["webhooks"],
        "summary": "Sent once to a new URL, after the response that created the subscription",
        "requestBody": {"required": True, "content": {JSON: {"schema": _ref("VerifyEvent")}}},
        "responses": {"2XX": _json(
            {"type": "object", "required": ["challenge"],
             "properties": {"challenge": {"type": "string",
                                          "description": "`data.challenge`, echoed"}}},
            "The challenge echoed: the subscription becomes active")},
    }}
    return found


def document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for a deployment (its ``base_url`` as the server)."""
    responses = {
        f"E{status}": {
            "description": text,
            "content": {JSON: {"schema": _ref("Error")}},
            **({"headers": {"Retry-After": {"schema": {"type": "integer"},
                                            "description": "seconds to wait"}}}
               if status == 429 else {}),
        }
        for status, text in _ERROR_TEXT.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Syndicate",
            "version": "1",
            "description": "Subscriptions, catch-up and WebSub for medically reviewed health "
                           "answers. Partners authenticate with `Authorization: Bearer <token>`; "
                           "see docs/api.md.",
        },
        "servers": [{"url": site_url(settings.base_url)}],
        "security": [{"bearer": []}],
        "tags": [
            {"name": "subscriptions", "description": "Your webhook subscriptions"},
            {"name": "deliveries", "description": "What was sent, and sending it again"},
            {"name": "catch-up", "description": "The changes log and the published answers"},
            {"name": "websub", "description": "The WebSub hub the feeds name"},
            {"name": "operations", "description": "Health, readiness, metrics, this document"},
            {"name": "webhooks", "description": "Events the service sends to your URL"},
        ],
        "paths": paths(),
        "webhooks": webhooks(),
        "components": {
            "schemas": SCHEMAS,
            "responses": responses,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from `syndicate tokens issue`"}},
        },
    }
