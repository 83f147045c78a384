"""The API's request and response bodies and the webhook payloads, declared once.

Each body is a pydantic model: the handlers validate requests with them (:func:`parse`,
turning pydantic's errors into the API's 422 answers, naming the field) and the OpenAPI
document's ``components.schemas`` and ``webhooks`` are generated from them
(:func:`component_schemas`), so what the document promises and what the service checks
cannot drift apart. A generated client (``openapi-python-client``) builds its models from the
same schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.json_schema import models_json_schema

from ..errors import ApiError
from ..tags import LANGUAGE_TAG, SAFE_NAME
from ..webhooks import ANSWER_EVENTS, REVIEW_EVENTS

SECRET_PATTERN = r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$"
"""``whsec_`` and base64 of at least 24 bytes (32 characters)."""

Language = Annotated[str, StringConstraints(pattern=f"^(?:{LANGUAGE_TAG.pattern})$")]
Condition = Annotated[str, StringConstraints(pattern=f"^(?:{SAFE_NAME.pattern})$")]
EventPattern = Annotated[str, StringConstraints(pattern="^(?:" + "|".join(
    [*(e.replace(".", "\\.") for e in (*ANSWER_EVENTS, *REVIEW_EVENTS)), "[a-z]+\\.\\*",
     "\\*"]) + ")$")]
Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]
AnswerEventType = Literal[
    "answer.published", "answer.reviewed", "answer.updated", "answer.withdrawn",
    "translation.stale", "answer.review_due", "answer.review_overdue",
]


def _optional(schema: dict[str, Any]) -> None:
    """A field that may be left out but is never null: no ``default: null`` in its schema."""
    schema.pop("default", None)


def _optional_time(schema: dict[str, Any]) -> None:
    _optional(schema)
    schema["format"] = "date-time"


class _Body(BaseModel):
    """Strict JSON bodies: no unknown fields, no coercion (``"yes"`` is not a boolean)."""

    # Rust regex (pydantic's default): ``$`` is the end of the text, never before a final
    # newline, as the JSON Schema patterns of the document mean.
    model_config = ConfigDict(extra="forbid", strict=True)


# -- requests ---------------------------------------------------------------------------------


class Filters(_Body):
    """Which events a subscription receives; a field left out is left as it is."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"languages": ["de", "ar"], "conditions": ["lupus"], "event_types": ["answer.*"]}]})

    languages: list[Language] = Field(
        default_factory=list, max_length=100,
        description="BCP 47 tags of published languages; empty: all")
    conditions: list[Condition] = Field(
        default_factory=list, max_length=100,
        description="condition slugs (content folders); empty: all")
    event_types: list[EventPattern] = Field(
        default_factory=list, max_length=100,
        description="event types or patterns (`answer.*`, `translation.*`, `*`); empty: all")
    full: bool = Field(False, description="send the whole rendition in each event")


class NewSubscription(Filters):
    """A webhook URL to register, with its filters and, if the partner wants, its secret."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"url": "https://partner.example/hooks/syndicate", "languages": ["de"],
         "event_types": ["answer.*", "translation.stale"]}]})

    url: str = Field(max_length=2048, json_schema_extra={"format": "uri"},
                     description="https URL that receives the events")
    secret: str = Field(  # type: ignore[assignment]
        None, pattern=SECRET_PATTERN, json_schema_extra=_optional,
        description="your own signing secret (`whsec_` + base64 of at least 24 bytes); "
                    "leave out to get one generated")
    signature: Literal["v1", "v1a"] = Field(
        "v1", description="`v1`: HMAC-SHA256 with a shared secret; `v1a`: Ed25519, verified "
                          "with the subscription's `public_key` (you keep no secret)")


class ReplayRequest(_Body):
    """Which deliveries to send again: every one since a time, or these ids."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"since": "2026-06-01T00:00:00Z"}, {"delivery_ids": [42, 43]}]})

    # Left out when not given (None is never accepted from JSON: the schema says string).
    since: str = Field(  # type: ignore[assignment]
        None, max_length=40, description="RFC 3339 time", json_schema_extra=_optional_time)
    delivery_ids: list[Annotated[int, Field(gt=0, lt=2**62)]] = Field(
        None, min_length=1, max_length=500,  # type: ignore[arg-type]
        json_schema_extra=_optional)


class EmptyBody(_Body):
    """No fields."""


# -- responses --------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str


class Error(BaseModel):
    """Every error answer."""

    error: ErrorDetail


class Subscription(BaseModel):
    """A subscription as the API shows it (never with its secret)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "sub_0f3c", "url": "https://partner.example/hooks/syndicate",
        "languages": ["de"], "conditions": [], "event_types": ["answer.*"], "full": False,
        "signature": "v1", "public_key": None, "status": "active", "status_reason": None,
        "created_at": "2026-06-01T08:00:00Z", "verified_at": "2026-06-01T08:00:01Z",
        "failing_since": None}]})

    id: str
    url: str
    languages: list[str]
    conditions: list[str]
    event_types: list[str]
    full: bool
    signature: Literal["v1", "v1a"]
    public_key: str | None = Field(description="for v1a: the `whpk_` Ed25519 public key")
    status: Literal["pending", "active", "paused", "disabled"]
    status_reason: str | None
    created_at: Time
    verified_at: Time | None
    failing_since: Time | None


class SubscriptionEnvelope(BaseModel):
    """One subscription."""

    subscription: Subscription


class SubscriptionCreated(BaseModel):
    """A new subscription and its secret (shown once)."""

    subscription: Subscription
    secret: str | None = Field(
        description="the shared signing secret (`whsec_...`), shown once; null for v1a")


class SubscriptionList(BaseModel):
    """The partner's subscriptions."""

    subscriptions: list[Subscription]


class RotatedSecret(BaseModel):
    """A new secret; the previous one signs for 24 more hours."""

    secret: str | None = Field(description="the new shared secret; null for v1a")
    public_key: str | None = Field(None, description="for v1a: the new public key")
    previous_secret_valid_until: Time


class Delivery(BaseModel):
    """One event's delivery to one subscriber."""

    id: int
    event_id: str = Field(description="the webhook-id")
    event_type: str
    subscriber_id: str
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    due_at: Time
    created_at: Time
    delivered_at: Time | None
    last_status: int | None
    last_error: str | None


class DeliveryList(BaseModel):
    """Recent deliveries, newest first."""

    deliveries: list[Delivery]


class Requeued(BaseModel):
    """How many deliveries were queued again."""

    requeued: int


class ChangeEntry(BaseModel):
    """One answer event of the changes log."""

    id: str = Field(description="the event id (webhook-id)")
    type: AnswerEventType
    answer_id: str
    language: str
    condition: str
    created_at: Time
    data: AnswerEventData = Field(description="the webhook payload's data")
    cursor: str = Field(description="resume after this change")


class ChangesPage(BaseModel):
    """A page of the changes log."""

    changes: list[ChangeEntry]
    next: str
    has_more: bool


class PublishedAnswer(BaseModel):
    """A published answer in one language."""

    answer_id: str
    language: str
    condition: str
    question: str
    reviewed: Day
    source_reviewed: Day
    review_due: Day | None
    stale: bool
    version: int
    content_hash: str
    url: str | None
    feeds: dict[str, str]
    first_published: Time
    updated: Time


class PublishedAnswerList(BaseModel):
    """Every published answer."""

    answers: list[PublishedAnswer]


# -- webhook payloads -------------------------------------------------------------------------


class AnswerEventData(BaseModel):
    """What every answer event says about the answer (see docs/webhooks.md)."""

    model_config = ConfigDict(extra="forbid")

    answer_id: str
    language: str
    condition: str = Field(description="the condition's folder (stable)")
    condition_name: str = Field(description="the condition's name in this language")
    question: str
    reviewed: Day | None = Field(description="review date of what this language shows")
    previous_reviewed: Day | None
    review_due: Day | None
    source_reviewed: Day | None = Field(description="review date of the source answer")
    reviewed_by: str | None
    stale: bool
    translation_reviewed: Day | None = Field(
        None, description="when a medical reviewer checked this translation (absent for "
        "the source language and for translations with no recorded review)")
    translation_reviewed_by: str | None = Field(
        None, description="who checked this translation (with translation_reviewed)")
    url: str = Field(description="the publisher's canonical page")
    page_url: str = Field(description="the answer's page in this language")
    previous_page_url: str | None = Field(
        description="the page it had before it moved (answers 301); null otherwise")
    entry_id: str = Field(description="the id of its entry in every feed of this language")
    feeds: dict[str, str]
    content_hash: str
    version: int
    due_date: Day | None = Field(
        None, description="answer.review_due and answer.review_overdue: the review due date")
    rendition: dict[str, Any] | None = Field(None, description="subscribers with `full`")
    rendition_omitted: str | None = None


class AnswerEvent(BaseModel):
    """The body of every answer event (Standard Webhooks envelope)."""

    model_config = ConfigDict(extra="forbid")

    type: AnswerEventType
    timestamp: Time
    data: AnswerEventData


class VerifyData(BaseModel):
    """The challenge to echo."""

    model_config = ConfigDict(extra="forbid")

    challenge: str
    subscriber_id: str


class VerifyEvent(BaseModel):
    """``endpoint.verify``: answer 2xx with ``{"challenge": "<data.challenge>"}``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["endpoint.verify"]
    timestamp: Time
    data: VerifyData


ChangeEntry.model_rebuild()

REQUESTS: tuple[type[BaseModel], ...] = (Filters, NewSubscription, ReplayRequest, EmptyBody)
RESPONSES: tuple[type[BaseModel], ...] = (
    Error, Subscription, SubscriptionEnvelope, SubscriptionCreated, SubscriptionList,
    RotatedSecret, Delivery, DeliveryList, Requeued, ChangeEntry, ChangesPage, PublishedAnswer,
    PublishedAnswerList,
)
PAYLOADS: tuple[type[BaseModel], ...] = (AnswerEvent, VerifyEvent)


def component_schemas() -> dict[str, Any]:
    """Every model's JSON Schema (2020-12, as OpenAPI 3.1 takes it), by model name."""
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (model, "validation") for model in (*REQUESTS, *RESPONSES, *PAYLOADS)]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    return dict(top.get("$defs", {}))


_CODES = {"extra_forbidden": "unknown_field", "missing": "missing_field"}


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: dict[str, Any]) -> M:
    """``body`` checked against ``model``; a 422 naming the first bad field otherwise."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        code = _CODES.get(first["type"], "invalid_field")
        if code == "unknown_field":
            message = f"unknown field {where!r}"
        elif code == "missing_field":
            message = f"field {where!r} is required"
        else:
            message = f"{where}: {first['msg']}"
        raise ApiError(422, code, message) from None
