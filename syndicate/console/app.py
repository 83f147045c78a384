"""The console's application: its routes, signing in and out, errors as pages.

:func:`create_console` returns the Starlette app that ``syndicate run`` mounts under
``/console`` (:class:`syndicate.service.RunProcess` takes it as an extra mount). Signing in
takes a partner API token or a console credential (:mod:`.credentials`) in a form whose
CSRF token is also in a short-lived cookie (there is no session yet); attempts are
rate-limited per client address. The session cookie is ``HttpOnly``, ``SameSite=Lax``,
limited to ``/console``, and ``Secure`` when the request came over TLS.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .._time import Clock, utc_now
from ..config import Settings
from ..errors import ApiError, InputError, NotFoundError, SyndicateError, UnsafeURLError
from ..http import RateLimiter
from ..service import JOBS, JobRunner
from . import charts, credentials, data
from .operator import OperatorPages
from .partner import PartnerPages
from .web import COOKIE, HOMES, PRE_COOKIE, ROOT, SECURITY_HEADERS, Console

log = logging.getLogger("syndicate.console")
SIGN_IN_RATE = 0.2
"""Sign-in attempts per second per client address on average (one per 5 s) ..."""
SIGN_IN_BURST = 10
"""... after a first 10 at once."""
STATIC = {"console.css": "text/css; charset=utf-8",
          "console.js": "text/javascript; charset=utf-8"}


class Entrance:
    """Signing in and out, the console's root, its static files."""

    def __init__(self, console: Console) -> None:
        self.c = console
        package = resources.files("syndicate.console") / "static"
        self.static = {name: (package / name).read_bytes() for name in STATIC}

    async def root(self, request: Request) -> Response:
        """GET /console/: the signed-in role's home, or the sign-in page."""
        session = await self.c.session(request)
        if session is None:
            return RedirectResponse(f"{ROOT}/sign-in", status_code=303, headers=SECURITY_HEADERS)
        return RedirectResponse(HOMES[session.principal.role], status_code=303,
                                headers=SECURITY_HEADERS)

    def _sign_in_page(self, request: Request, *, status: int = 200,
                      error: str | None = None, headers: dict[str, str] | None = None) -> Response:
        # One token per browser until signed in, so a second tab's form stays valid.
        token = request.cookies.get(PRE_COOKIE, "")
        if not (20 <= len(token) <= 64):
            token = secrets.token_urlsafe(24)
        response = self.c.page("sign_in.html", None, status=status, request=request,
                               csrf=token, error=error, headers=headers)
        response.set_cookie(PRE_COOKIE, token, max_age=3600, path=ROOT, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response

    async def sign_in_form(self, request: Request) -> Response:
        """GET /console/sign-in"""
        return self._sign_in_page(request)

    async def sign_in(self, request: Request) -> Response:
        """POST /console/sign-in: a token or credential in, a session cookie out."""
        client = request.client.host if request.client else "unknown"
        wait = self.c.limiter.take(client)
        if wait > 0:
            log.warning("sign-in rate limited", extra={"client": client})
            return self._sign_in_page(
                request, status=429, error="Too many sign-in attempts: wait a minute.",
                headers={"retry-after": RateLimiter.retry_after(wait)})
        form = await self.c.form(request, None, expected=request.cookies.get(PRE_COOKIE, ""))
        principal = await self.c.db(credentials.authenticate, self.c.engine,
                                    form.get("credential", ""))
        if principal is None:
            log.info("sign-in refused", extra={"client": client})
            return self._sign_in_page(request, status=401,
                                      error="That token or credential is unknown or revoked.")
        cookie, _ = await self.c.db(credentials.open_session, self.c.engine, principal,
                                    now=self.c.clock())
        log.info("signed in", extra={"role": principal.role, "who": principal.name})
        response = RedirectResponse(HOMES[principal.role], status_code=303,
                                    headers=SECURITY_HEADERS)
        response.set_cookie(COOKIE, cookie, max_age=int(credentials.SESSION_LIFETIME
                                                        .total_seconds()),
                            path=ROOT, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
        response.delete_cookie(PRE_COOKIE, path=ROOT)
        return response

    async def sign_out(self, request: Request) -> Response:
        """POST /console/sign-out: the session ends everywhere."""
        session = await self.c.session(request)
        if session is not None:
            await self.c.form(request, session)
            await self.c.db(credentials.close_session, self.c.engine,
                            request.cookies.get(COOKIE, ""))
        response = self.c.redirect(f"{ROOT}/sign-in", "signed-out")
        response.delete_cookie(COOKIE, path=ROOT, httponly=True, samesite="lax")
        return response

    async def asset(self, request: Request) -> Response:
        """GET /console/static/{name}: the stylesheet and the script."""
        name = str(request.path_params["name"])
        if name not in self.static:
            raise ApiError(404, "not_found", "no such file")
        return Response(self.static[name], media_type=STATIC[name], headers={
            **SECURITY_HEADERS, "cache-control": "public, max-age=3600"})


def _errors(console: Console) -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status == 401:
            return RedirectResponse(f"{ROOT}/sign-in", status_code=303, headers=SECURITY_HEADERS)
        session = await console.session(request)
        return console.page("error.html", session, status=exc.status, message=exc.message,
                            headers=exc.headers)

    async def input_error(request: Request, exc: Exception) -> Response:
        session = await console.session(request)
        return console.page("error.html", session, status=422, message=str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        session = await console.session(request)
        return console.page("error.html", session, status=exc.status_code,
                            message=str(exc.detail))

    async def not_found(request: Request, exc: Exception) -> Response:
        session = await console.session(request)
        return console.page("error.html", session, status=404, message=str(exc))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        return console.page("error.html", None, status=500, message="internal error")

    return {ApiError: api_error, InputError: input_error, UnsafeURLError: input_error,
            NotFoundError: not_found, HTTPException: http_error,
            Exception: server_error}


def _warm(console: Console) -> None:
    """Compile every template, start reading the answers and catalogs, and count the last
    day's attempts per minute (the operator's charts then count only the minutes since)."""
    try:
        for name in console.templates.list_templates():
            console.templates.get_template(name)
        data.translation_snapshot(console.settings)
        data.content_snapshot(console.settings)
        charts.last_day(console.engine, now=console.clock())
    except (SyndicateError, OSError, SQLAlchemyError) as exc:  # the pages will say it
        log.warning("console warm-up failed", extra={"error": str(exc)})


def create_console(
    settings: Settings, engine: Engine, *, clock: Clock = utc_now,
    run_job: Callable[[str], Any] | None = None, limiter: RateLimiter | None = None,
    warm: bool = False,
) -> Starlette:
    """The console app over one store (mount it at ``/console``). ``run_job`` starts a job
    now (``syndicate run`` passes its job runner's; without one a job runs in a thread of
    this process, like ``syndicate jobs run``). ``warm`` reads the answers and catalogs in
    the background at once (and compiles the templates), so the first translator or operator
    does not wait for it."""
    if run_job is None:
        runner = JobRunner(engine, settings, clock=clock)
        run_job = runner.run

    def start(name: str) -> None:
        if name not in JOBS:
            raise ApiError(404, "not_found", "no such job")
        threading.Thread(target=run_job, args=(name,), name=f"console-run-{name}",
                         daemon=True).start()

    console = Console(settings, engine, clock=clock, run_job=start,
                      limiter=limiter or RateLimiter(SIGN_IN_RATE, SIGN_IN_BURST))
    if warm:
        threading.Thread(target=_warm, args=(console,), name="console-warm",
                         daemon=True).start()
    entrance, partner, operator = Entrance(console), PartnerPages(console), OperatorPages(console)
    sub = "/partner/subscriptions/{subscription_id}"
    routes = [
        Route("/", entrance.root, methods=["GET"]),
        Route("/sign-in", entrance.sign_in_form, methods=["GET"]),
        Route("/sign-in", entrance.sign_in, methods=["POST"]),
        Route("/sign-out", entrance.sign_out, methods=["POST"]),
        Route("/static/{name}", entrance.asset, methods=["GET"]),
        Route("/partner/", partner.home, methods=["GET"]),
        Route("/partner/subscriptions", partner.create, methods=["POST"]),
        Route(sub, partner.show, methods=["GET"]),
        Route(sub + "/{action}", partner.action, methods=["POST"]),
        Route("/partner/events", partner.events, methods=["GET"]),
        Route("/operator/", operator.home, methods=["GET"]),
        Route("/operator/jobs/{name}", operator.job, methods=["GET"]),
        Route("/operator/jobs/{name}/{action}", operator.job_action, methods=["POST"]),
        Route("/operator/subscribers", operator.subscribers, methods=["GET"]),
        Route("/operator/deliveries/{delivery_id:int}/retry", operator.retry,
              methods=["POST"]),
        Route("/operator/content", operator.content, methods=["GET"]),
        Route("/translate/", operator.translate, methods=["GET"]),
        Route("/translate/{language}", operator.language, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers=_errors(console))
    app.state.console = console
    return app
