"""The OpenAPI 3.1 document of the HTTP service, served at ``/openapi.json``.

Written by hand, next to the handlers in :mod:`syndicate.http.api`; tests check that it is a valid
OpenAPI 3.1 document, that it lists exactly the routes the app serves, and that responses
match its schemas.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..publication import site_url
from ..tags import LANGUAGE_TAG, SAFE_NAME
from ..webhooks import ANSWER_EVENTS

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

_STRINGS = {"type": "array", "items": {"type": "string"}}
# The grammars the handlers check (syndicate.tags), so that a request the document calls
# valid is not refused for its syntax. JSON Schema patterns search: anchor them.
_LANGUAGE = {"type": "string", "pattern": f"^(?:{LANGUAGE_TAG.pattern})$"}
_SLUG = {"type": "string", "pattern": f"^(?:{SAFE_NAME.pattern})$"}
_EVENT = {"type": "string", "pattern": "^(?:" + "|".join(
    [*(e.replace(".", "\\.") for e in ANSWER_EVENTS), "[a-z]+\\.\\*", "\\*"]) + ")$"}
_TIME = {"type": "string", "format": "date-time"}
_DAY = {"type": "string", "format": "date"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message"], "additionalProperties": False,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }},
    },
    "Filters": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "languages": {"type": "array", "items": _LANGUAGE, "maxItems": 100,
                          "description": "BCP 47; empty: all"},
            "conditions": {"type": "array", "items": _SLUG, "maxItems": 100,
                           "description": "condition slugs; empty: all"},
            "event_types": {"type": "array", "items": _EVENT, "maxItems": 100,
                            "description": f"event types or patterns (`answer.*`) of "
                                           f"{', '.join(ANSWER_EVENTS)}; empty: all"},
            "full": {"type": "boolean", "description": "send the whole rendition"},
        },
    },
    "NewSubscription": {
        "type": "object", "required": ["url"], "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": 2048},
            "languages": {"$ref": "#/components/schemas/Filters/properties/languages"},
            "conditions": {"$ref": "#/components/schemas/Filters/properties/conditions"},
            "event_types": {"$ref": "#/components/schemas/Filters/properties/event_types"},
            "full": {"type": "boolean"},
        },
    },
    "Subscription": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "url", "languages", "conditions", "event_types", "full", "status",
                     "status_reason", "created_at", "verified_at", "failing_since"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "languages": _STRINGS,
            "conditions": _STRINGS,
            "event_types": _STRINGS,
            "full": {"type": "boolean"},
            "status": {"enum": ["pending", "active", "paused", "disabled"]},
            "status_reason": _nullable({"type": "string"}),
            "created_at": _TIME,
            "verified_at": _nullable(_TIME),
            "failing_since": _nullable(_TIME),
        },
    },
    "Delivery": {
        "type": "object",
        "required": ["id", "event_id", "event_type", "subscriber_id", "state", "attempts",
                     "due_at", "created_at", "delivered_at", "last_status", "last_error"],
        "properties": {
            "id": {"type": "integer"},
            "event_id": {"type": "string", "description": "the webhook-id"},
            "event_type": {"type": "string"},
            "subscriber_id": {"type": "string"},
            "state": {"enum": ["pending", "delivered", "dead"]},
            "attempts": {"type": "integer"},
            "due_at": _TIME,
            "created_at": _TIME,
            "delivered_at": _nullable(_TIME),
            "last_status": _nullable({"type": "integer"}),
            "last_error": _nullable({"type": "string"}),
        },
    },
    "Change": {
        "type": "object",
        "required": ["id", "type", "answer_id", "language", "condition", "created_at", "data",
                     "cursor"],
        "properties": {
            "id": {"type": "string", "description": "the event id (webhook-id)"},
            "type": {"enum": list(ANSWER_EVENTS)},
            "answer_id": {"type": "string"},
            "language": {"type": "string"},
            "condition": {"type": "string"},
            "created_at": _TIME,
            "data": {"type": "object", "description": "the webhook payload's data"},
            "cursor": {"type": "string", "description": "resume after this change"},
        },
    },
    "Answer": {
        "type": "object",
        "required": ["answer_id", "language", "condition", "question", "reviewed",
                     "source_reviewed", "review_due", "stale", "version", "content_hash",
                     "url", "feeds", "first_published", "updated"],
        "properties": {
            "answer_id": {"type": "string"},
            "language": {"type": "string"},
            "condition": {"type": "string"},
            "question": {"type": "string"},
            "reviewed": _DAY,
            "source_reviewed": _DAY,
            "review_due": _nullable(_DAY),
            "stale": {"type": "boolean"},
            "version": {"type": "integer"},
            "content_hash": {"type": "string"},
            "url": _nullable({"type": "string"}),
            "feeds": {"type": "object", "additionalProperties": {"type": "string"}},
            "first_published": _TIME,
            "updated": _TIME,
        },
    },
}


def _path_parameter() -> dict[str, Any]:
    return {"name": "subscription_id", "in": "path", "required": True,
            "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _operation(
    operation_id: str, summary: str, responses: dict[str, Any], *,
    body: dict[str, Any] | None = None, parameters: list[dict[str, Any]] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    found: dict[str, Any] = {"operationId": operation_id, "summary": summary,
                             "responses": responses}
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
_ONE = {"type": "object", "required": ["subscription"], "additionalProperties": False,
        "properties": {"subscription": _ref("Subscription")}}


def _subscription_paths() -> dict[str, Any]:
    """Partners' webhook subscriptions: create, list, read, change, delete."""
    one, auth, sub = _ONE, _AUTH, [_path_parameter()]
    return {
        "/api/v1/subscriptions": {
            "get": _operation("listSubscriptions", "Your webhook subscriptions", {
                "200": _json({"type": "object", "required": ["subscriptions"],
                              "properties": {"subscriptions": {
                                  "type": "array", "items": _ref("Subscription")}}},
                             "The subscriptions"), **_errors(400), **auth}),
            "post": _operation(
                "createSubscription",
                "Register a webhook URL (verified by an endpoint.verify challenge)",
                {"201": _json({"type": "object", "required": ["subscription", "secret"],
                               "properties": {"subscription": _ref("Subscription"),
                                              "secret": {"type": "string",
                                                         "description": "shown once"}}},
                              "Created, pending verification"),
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
                {"200": _json({"type": "object",
                               "required": ["secret", "previous_secret_valid_until"],
                               "properties": {"secret": {"type": "string"},
                                              "previous_secret_valid_until": _TIME}},
                              "The new secret, shown once"),
                 **_errors(400, 404, 413, 415, 422), **auth},
                body=_body({"type": "object", "additionalProperties": False},
                           required=False)),
        },
        "/api/v1/subscriptions/{subscription_id}/deliveries": {
            "parameters": sub,
            "get": _operation(
                "listDeliveries", "Recent deliveries, newest first",
                {"200": _json({"type": "object", "required": ["deliveries"],
                               "properties": {"deliveries": {"type": "array",
                                                             "items": _ref("Delivery")}}},
                              "The deliveries"), **_errors(400, 404), **auth},
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
                {"202": _json({"type": "object", "required": ["requeued"],
                               "properties": {"requeued": {"type": "integer"}}},
                              "Queued again"), **_errors(400, 404, 413, 415, 422), **auth},
                body=_body({"type": "object", "additionalProperties": False,
                            "properties": {"since": _TIME,
                                           "delivery_ids": {"type": "array", "minItems": 1,
                                                            "maxItems": 500,
                                                            "items": {"type": "integer"}}}})),
        },
    }


def _catch_up_paths() -> dict[str, Any]:
    """The event log and the published answers, for catching up."""
    auth = _AUTH
    return {
        "/api/v1/changes": {
            "get": _operation(
                "listChanges", "Answer events in order, after a cursor",
                {"200": _json({"type": "object", "required": ["changes", "next", "has_more"],
                               "properties": {"changes": {"type": "array",
                                                          "items": _ref("Change")},
                                              "next": {"type": "string"},
                                              "has_more": {"type": "boolean"}}},
                              "A page of changes"), **_errors(400), **auth},
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
                {"200": _json({"type": "object", "required": ["answers"],
                               "properties": {"answers": {"type": "array",
                                                          "items": _ref("Answer")}}},
                              "The answers"), **_errors(400), **auth},
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
            "readyz", "The database answers and the scheduler runs",
            {"200": {"description": "Ready"}, **_errors(503)}, public=True)},
        "/metrics": {"get": _operation(
            "metrics", "Prometheus metrics",
            {"200": {"description": "Metrics", "content": {"text/plain": {
                "schema": {"type": "string"}}}}}, public=True)},
        "/openapi.json": {"get": _operation(
            "openapi", "This document",
            {"200": _json({"type": "object"}, "The OpenAPI document")}, public=True)},
    }


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
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "responses": responses,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from `syndicate tokens issue`"}},
        },
    }
