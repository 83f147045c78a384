"""HTTP: the publication tree, the partner API, the WebSub hub, health and metrics.

The tree is served by a bare ASGI app (:mod:`.static`, the hot path partners poll); anything
else goes to the API (:mod:`.api`): subscriptions, catching up (:mod:`.catchup`), the hub,
``/healthz``, ``/readyz``, ``/metrics`` and ``/openapi.json`` (:mod:`.openapi`). Partners
authenticate with API tokens (:mod:`.tokens`); every request body and query is checked before
anything is stored (:mod:`.inputs`).
"""

from __future__ import annotations

from .api import ApiHandlers, create_app
from .inputs import RateLimiter
from .openapi import document
from .static import PublicationTree, StaticApp
from .tokens import ApiToken

__all__ = [
    "ApiHandlers",
    "ApiToken",
    "PublicationTree",
    "RateLimiter",
    "StaticApp",
    "create_app",
    "document",
]
