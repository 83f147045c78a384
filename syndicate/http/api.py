"""The HTTP service: the publication tree, the partner API, the WebSub hub, health and metrics.

:func:`create_app` returns the bare static app (:mod:`syndicate.http.static`, the hot path)
with a Starlette app behind it for everything that is not a published file:

- ``/api/v1/subscriptions...``: partners manage their webhook subscriptions (create, list,
  get, update filters, rotate the secret, delete, recent deliveries, replay);
- ``/api/v1/changes`` and ``/api/v1/answers``: catching up (:mod:`syndicate.http.catchup`);
- ``/websub``: the hub the feeds advertise (:mod:`syndicate.http.hub`, bounded: it is open
  to anyone; :mod:`syndicate.webhooks.websub`);
- ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json`` (:mod:`syndicate.http.openapi`).

The API authenticates ``Authorization: Bearer <token>`` (:mod:`syndicate.http.tokens`),
limits each token's rate (429 with ``Retry-After``), answers errors as
``{"error": {"code": ..., "message": ...}}``, and refuses malformed JSON, unknown fields and
oversized bodies before storing anything. A partner sees only its own subscriptions: another
partner's are answered 404, exactly like ones that do not exist. Database work runs in the
thread pool, off the event loop.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._time import Clock, rfc3339, utc_now
from ..config import Settings
from ..errors import (
    ApiError,
    CursorError,
    InputError,
    StoreError,
    UnsafeURLError,
)
from ..metrics import CONTENT_TYPE, Metrics, content_counts, last_sync_summary
from ..tags import LANGUAGE_TAG, SAFE_NAME
from ..webhooks import (
    ANSWER_EVENTS,
    list_deliveries,
    netguard,
    public_key,
    requeue,
)
from ..webhooks import subscribers as subs
from . import catchup, filters, models, openapi, tokens
from .hub import HubFrontDoor
from .inputs import (
    RateLimiter,
    query,
    query_int,
    query_match,
    read_json,
)
from .static import PublicationTree, StaticApp

log = logging.getLogger("syndicate.api")
T = TypeVar("T")
LOGGED_TYPES = frozenset(ANSWER_EVENTS)
"""The event types of the changes log (review reminders are not changes)."""


def subscription_json(found: subs.Subscriber) -> dict[str, Any]:
    """A subscription as the API shows it (never with its secret)."""
    return {
        "id": found.id,
        "url": found.url,
        "languages": list(found.languages),
        "conditions": list(found.conditions),
        "event_types": list(found.event_types),
        "full": found.full,
        "signature": "v1a" if public_key(found.secret) else "v1",
        "public_key": public_key(found.secret),
        "status": found.status,
        "status_reason": found.status_reason,
        "created_at": rfc3339(found.created_at, "seconds"),
        "verified_at": rfc3339(found.verified_at, "seconds") if found.verified_at else None,
        "failing_since": rfc3339(found.failing_since, "seconds") if found.failing_since else None,
    }


class ApiHandlers:
    """The API's handlers over one store, settings and clock."""

    def __init__(
        self, settings: Settings, engine: Engine, *, clock: Clock,
        ready: Callable[[], bool], metrics: Metrics, limiter: RateLimiter,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.ready = ready
        self.metrics = metrics
        self.limiter = limiter
        self.document = openapi.document(settings)

    async def db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run store work in the thread pool."""
        return await run_in_threadpool(func, *args, **kwargs)

    # -- authentication ---------------------------------------------------------------------

    async def partner(self, request: Request) -> str:
        """The partner the bearer token belongs to; 401 or 429 otherwise."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"www-authenticate": 'Bearer realm="syndicate"'}
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>",
                           headers=challenge)
        found = await self.db(tokens.authenticate, self.engine, token.strip())
        if found is None:
            raise ApiError(401, "unauthorized", "the token is unknown or revoked",
                           headers=challenge)
        wait = self.limiter.take(found.id)
        if wait > 0:
            raise ApiError(429, "rate_limited", "too many requests for this token",
                           headers={"retry-after": RateLimiter.retry_after(wait)})
        return found.partner

    async def owned(self, request: Request, partner: str) -> subs.Subscriber:
        """The partner's subscription named in the path; 404 for anyone else's."""
        subscriber_id = str(request.path_params["subscription_id"])
        found = await self.db(subs.get, self.engine, subscriber_id)
        if found is None or found.owner != partner or found.kind != "webhook":
            raise ApiError(404, "not_found", "no such subscription")
        return found

    # -- subscriptions ----------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        """POST /api/v1/subscriptions"""
        partner = await self.partner(request)
        body = models.parse(models.NewSubscription,
                            await read_json(request, self.settings.api_max_body))
        chosen = filters.checked(body, await self.db(filters.known, self.settings, self.engine))
        try:
            found = await self.db(
                subs.add, self.engine, body.url, now=self.clock(),
                allow_networks=self.settings.webhook_allow_networks, owner=partner,
                secret=subs.new_signing_key() if body.signature == "v1a" else body.secret,
                verify=False, **chosen,
            )
        except UnsafeURLError as exc:
            raise ApiError(422, "unsafe_url", str(exc)) from exc
        except InputError as exc:
            raise ApiError(422, "invalid_field", f"secret: {exc}") from exc
        log.info("subscription created", extra={"partner": partner, "subscriber": found.id})
        # The endpoint.verify challenge is queued only once this response, which carries
        # the secret it is signed with, has been sent.
        return JSONResponse(
            {"subscription": subscription_json(found),
             "secret": None if public_key(found.secret) else found.secret}, status_code=201,
            headers={"location": f"/api/v1/subscriptions/{found.id}"},
            background=BackgroundTask(self.db, self._queue_verification, found.id),
        )

    def _queue_verification(self, subscriber_id: str) -> None:
        with self.engine.begin() as conn:
            subs.queue_verification(conn, subscriber_id, self.clock())

    async def listing(self, request: Request) -> Response:
        """GET /api/v1/subscriptions"""
        partner = await self.partner(request)
        query(request, ())
        found = await self.db(subs.list_owned, self.engine, partner)
        return JSONResponse({"subscriptions": [subscription_json(s) for s in found]})

    async def get(self, request: Request) -> Response:
        """GET /api/v1/subscriptions/{id}"""
        found = await self.owned(request, await self.partner(request))
        return JSONResponse({"subscription": subscription_json(found)})

    async def update(self, request: Request) -> Response:
        """PATCH /api/v1/subscriptions/{id}: change filters."""
        partner = await self.partner(request)
        found = await self.owned(request, partner)
        body = models.parse(models.Filters,
                            await read_json(request, self.settings.api_max_body))
        chosen = filters.checked(body, await self.db(filters.known, self.settings, self.engine))
        updated = await self.db(subs.update_filters, self.engine, found.id, now=self.clock(),
                                **chosen)
        log.info("subscription updated", extra={"partner": partner, "subscriber": found.id})
        return JSONResponse({"subscription": subscription_json(updated)})

    async def delete(self, request: Request) -> Response:
        """DELETE /api/v1/subscriptions/{id}"""
        partner = await self.partner(request)
        found = await self.owned(request, partner)
        await self.db(subs.remove, self.engine, found.id)
        log.info("subscription deleted", extra={"partner": partner, "subscriber": found.id})
        return Response(status_code=204)

    async def rotate(self, request: Request) -> Response:
        """POST /api/v1/subscriptions/{id}/rotate-secret"""
        partner = await self.partner(request)
        found = await self.owned(request, partner)
        models.parse(models.EmptyBody,
                     await read_json(request, self.settings.api_max_body, allow_empty=True))
        now = self.clock()
        secret = await self.db(subs.rotate_secret, self.engine, found.id, now=now)
        log.info("subscription secret rotated", extra={"partner": partner,
                                                       "subscriber": found.id})
        return JSONResponse({
            "secret": None if public_key(secret) else secret,
            "public_key": public_key(secret),
            "previous_secret_valid_until": rfc3339(now + subs.ROTATION_OVERLAP, "seconds"),
        })

    async def deliveries(self, request: Request) -> Response:
        """GET /api/v1/subscriptions/{id}/deliveries"""
        partner = await self.partner(request)
        found = await self.owned(request, partner)
        params = query(request, ("state", "limit"))
        state = params.get("state")
        if state is not None and state not in ("pending", "delivered", "dead"):
            raise ApiError(400, "invalid_parameter", "state must be pending, delivered or dead")
        limit = query_int(params, "limit", 50, 1, 500)
        found_deliveries = await self.db(
            list_deliveries, self.engine, state=state, subscriber_id=found.id,
            limit=limit,
        )
        return JSONResponse({"deliveries": [d.to_dict() for d in found_deliveries]})

    async def replay(self, request: Request) -> Response:
        """POST /api/v1/subscriptions/{id}/replay: send again, same ``webhook-id``."""
        partner = await self.partner(request)
        found = await self.owned(request, partner)
        body = models.parse(models.ReplayRequest,
                            await read_json(request, self.settings.api_max_body))
        if (body.since is None) == (body.delivery_ids is None):
            raise ApiError(422, "invalid_request", "give either since or delivery_ids")
        options: dict[str, Any] = {}
        if body.since is not None:
            try:
                since = dt.datetime.fromisoformat(body.since.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ApiError(422, "invalid_field", "since must be an RFC 3339 time") from exc
            options["since"] = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        else:
            options["ids"] = body.delivery_ids
        count = await self.db(
            requeue, self.engine, now=self.clock(), subscriber_id=found.id,
            states=("delivered", "dead", "pending"), **options,
        )
        log.info("deliveries replayed", extra={"partner": partner, "subscriber": found.id})
        return JSONResponse({"requeued": count}, status_code=202)

    # -- catching up ------------------------------------------------------------------------

    async def changes(self, request: Request) -> Response:
        """GET /api/v1/changes"""
        await self.partner(request)
        params = query(request, ("since", "language", "condition", "type", "limit"))
        since = 0
        if "since" in params:
            try:
                since = catchup.decode_cursor(params["since"])
            except CursorError as exc:
                raise ApiError(400, "invalid_cursor", str(exc)) from exc
        event_type = params.get("type")
        if event_type is not None and event_type not in LOGGED_TYPES:
            raise ApiError(400, "invalid_parameter", "type is not an event type")
        page = await self.db(
            catchup.changes, self.engine, since=since,
            language=query_match(params, "language", LANGUAGE_TAG),
            condition=query_match(params, "condition", SAFE_NAME), event_type=event_type,
            limit=query_int(params, "limit", 100, 1, catchup.MAX_LIMIT),
        )
        return JSONResponse({"changes": list(page.changes), "next": page.next,
                             "has_more": page.more})

    async def answers(self, request: Request) -> Response:
        """GET /api/v1/answers"""
        await self.partner(request)
        params = query(request, ("language",))
        found = await self.db(catchup.answers, self.engine, self.settings.base_url,
                              language=query_match(params, "language", LANGUAGE_TAG))
        return JSONResponse({"answers": found})

    # -- operations -------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        """GET /healthz: the process answers (no database)."""
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """GET /readyz: the database answers, at the schema this release expects, and the
        process is not stopping."""
        from ..store import check_schema

        try:
            await self.db(lambda: check_schema(self.engine))
        except StoreError as exc:
            log.warning("readiness: %s", exc)
            raise ApiError(503, "not_ready", "the database schema is not the one this "
                           "release expects (see the log)") from exc
        except Exception as exc:  # any driver error means not ready
            log.warning("readiness: database unreachable: %s", type(exc).__name__)
            raise ApiError(503, "not_ready", "the database is not reachable") from exc
        if not await self.db(self.ready):
            raise ApiError(503, "not_ready", "the service is stopping")
        return JSONResponse({"status": "ready", **await self.db(self._content_health)})

    def _content_health(self) -> dict[str, Any]:
        """What the last sync found: problems show here too, without making the process
        unready (it still serves the last good publication)."""
        with self.engine.connect() as conn:
            summary = last_sync_summary(conn)
        errors, warnings, refused = content_counts(summary)
        return {"content_errors": errors, "content_warnings": warnings,
                "refused_translations": sum(refused.values())}

    async def metrics_text(self, request: Request) -> Response:
        """GET /metrics: Prometheus text format."""
        return Response(await self.db(self.metrics.render), media_type=CONTENT_TYPE)

    async def openapi_json(self, request: Request) -> Response:
        """GET /openapi.json"""
        return JSONResponse(self.document)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.code, exc.message, exc.headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return _error(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s: %s", request.method, request.url.path,
              type(exc).__name__)
    return _error(500, "internal_error", "internal error")


class StatusCounter:
    """ASGI middleware counting responses by status class in ``syndicate_api_requests``."""

    def __init__(self, app: Starlette, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.api_requests.labels(status=f"{message['status'] // 100}xx").inc()
            await send(message)

        await self.app(scope, receive, sending)


Handler = Callable[[Request], Awaitable[Response]]


def _route(path: str, **by_method: Handler) -> Route:
    """One route per path, dispatching on the method, so that a 405 names every method the
    path serves in ``Allow`` (one route per method named only the first one's)."""

    async def endpoint(request: Request) -> Response:
        return await by_method[request.method if request.method != "HEAD" else "GET"](request)

    return Route(path, endpoint, methods=list(by_method))


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Clock = utc_now,
    ready: Callable[[], bool] = lambda: True,
    metrics: Metrics | None = None,
    limiter: RateLimiter | None = None,
    resolver: netguard.Resolver | None = None,
    mounts: Sequence[tuple[str, ASGIApp]] = (),
) -> StaticApp:
    """The whole HTTP service: published files first, then the API app (module doc), and
    ``mounts`` (path, app) beside the API (the console, which lives above this layer)."""
    metrics = metrics or Metrics()
    metrics.watch_store(engine, clock, settings.source_language)
    service = ApiHandlers(
        settings, engine, clock=clock, ready=ready, metrics=metrics,
        limiter=limiter or RateLimiter(settings.api_rate_limit, settings.api_rate_burst),
    )
    s = service
    hub = HubFrontDoor(settings, engine, clock=clock, resolver=resolver)
    sub = "/api/v1/subscriptions/{subscription_id}"
    routes = [
        _route("/api/v1/subscriptions", POST=s.create, GET=s.listing),
        _route(sub, GET=s.get, PATCH=s.update, DELETE=s.delete),
        _route(f"{sub}/rotate-secret", POST=s.rotate),
        _route(f"{sub}/deliveries", GET=s.deliveries),
        _route(f"{sub}/replay", POST=s.replay),
        _route("/api/v1/changes", GET=s.changes),
        _route("/api/v1/answers", GET=s.answers),
        _route("/websub", POST=hub.handle),
        _route("/healthz", GET=s.healthz),
        _route("/readyz", GET=s.readyz),
        _route("/metrics", GET=s.metrics_text),
        _route("/openapi.json", GET=s.openapi_json),
        *(Mount(path, app=app) for path, app in mounts),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ApiError: _api_error, HTTPException: _http_error, Exception: _server_error,
    }
    api = Starlette(routes=routes, exception_handlers=handlers)
    api.state.service = service
    api.state.hub = hub
    tree = PublicationTree(settings.out_dir, settings.base_url)
    return StaticApp(tree, fallback=StatusCounter(api, metrics),
                     mounted=[path for path, _ in mounts])
