"""Changes out to partners: the third stage.

Current renditions against the stored state give events (:mod:`.events`); each is stored
with one delivery per subscriber that wants it (:mod:`.outbox`), claimed and recorded by the
delivery worker (:mod:`.queue`, :mod:`.delivery`), signed and retried by the policy of
:mod:`.policy`, sent only to checked addresses (:mod:`.netguard`, :mod:`.transport`).
Subscribers and their health live in :mod:`.subscribers`, WebSub subscriptions in
:mod:`.websub`, and the operators' views of deliveries in :mod:`.deliveries`.
"""

from __future__ import annotations

from .deliveries import DeliveryView, list_deliveries, requeue, show_delivery
from .delivery import Stats, Worker, deliver_until_idle
from .events import (
    ANSWER_EVENTS,
    DISABLED_EVENT,
    REVIEW_EVENTS,
    VERIFY_EVENT,
    Change,
    ChangeSet,
    StoredRendition,
    diff,
)
from .policy import SCHEDULE, Attempt, decide, public_key, sign, signed_headers
from .queue import Claim, Decision
from .subscribers import Subscriber
from .transport import PinnedTransport
from .websub import CONTENT_EVENT, HubRequest

__all__ = [
    "ANSWER_EVENTS",
    "CONTENT_EVENT",
    "DISABLED_EVENT",
    "REVIEW_EVENTS",
    "SCHEDULE",
    "VERIFY_EVENT",
    "Attempt",
    "Change",
    "ChangeSet",
    "Claim",
    "Decision",
    "DeliveryView",
    "HubRequest",
    "PinnedTransport",
    "Stats",
    "StoredRendition",
    "Subscriber",
    "Worker",
    "decide",
    "deliver_until_idle",
    "diff",
    "list_deliveries",
    "public_key",
    "requeue",
    "show_delivery",
    "sign",
    "signed_headers",
]
