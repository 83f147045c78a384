"""What every console page shares: the signed-in session, forms with their CSRF token,
rendering with the security headers, redirects after a post.

Every page is rendered on the server from a Jinja2 template with autoescaping; every action
is a form that posts and redirects (303), so nothing needs JavaScript. Each response carries
a Content-Security-Policy that allows scripts, styles and images from the console itself
only (no inline script, no inline style), forbids framing, and is never cached.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote

import jinja2
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .._time import Clock, rfc3339
from ..config import Settings
from ..errors import ApiError
from ..http import RateLimiter
from . import credentials
from .credentials import Role, Session

T = TypeVar("T")
ROOT = "/console"
COOKIE = "syndicate_console"
PRE_COOKIE = "syndicate_console_signin"
MAX_FORM = 64 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
HOMES: dict[str, str] = {"partner": f"{ROOT}/partner/", "operator": f"{ROOT}/operator/",
                         "translator": f"{ROOT}/translate/"}


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return rfc3339(value, "seconds")
    return value.isoformat()


def environment() -> jinja2.Environment:
    """The templates, autoescaped, with the console's filters."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("syndicate.console", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals["root"] = ROOT
    return env


NOTICES = {
    "created": "Subscription created.",
    "saved": "Filters saved.",
    "paused": "Paused: events wait until you resume.",
    "resumed": "Resumed.",
    "deleted": "Subscription deleted.",
    "test": "Test event queued: its attempt appears below within seconds.",
    "retried": "Delivery queued again.",
    "not-retried": "Nothing to retry: only dead deliveries are sent again.",
    "replayed": "Deliveries since that date queued again.",
    "run": "Run started: it appears in the history below.",
    "signed-out": "Signed out.",
}


class Form(dict[str, str]):
    """A posted form: the last value of each field, and every value (checkboxes)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.lists: dict[str, list[str]] = {}
        for key, value in pairs:
            self.lists.setdefault(key, []).append(value)

    def getall(self, name: str) -> list[str]:
        """Every value posted for ``name``, blank ones left out."""
        return [value.strip() for value in self.lists.get(name, []) if value.strip()]


class Console:
    """The console's handlers' common ground: store, settings, clock, templates."""

    def __init__(self, settings: Settings, engine: Engine, *, clock: Clock,
                 run_job: Callable[[str], None], limiter: RateLimiter) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.run_job = run_job
        self.limiter = limiter
        self.templates = environment()

    async def db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Store (or file) work in the thread pool, off the event loop."""
        return await run_in_threadpool(func, *args, **kwargs)

    async def session(self, request: Request) -> Session | None:
        """The session the request's cookie opens, if any."""
        cookie = request.cookies.get(COOKIE, "")
        if not cookie:
            return None
        return await self.db(credentials.find_session, self.engine, cookie, now=self.clock())

    async def require(self, request: Request, *roles: Role) -> Session:
        """The signed-in session of one of ``roles``: 401 (to the sign-in page) without one,
        403 for another role."""
        found = await self.session(request)
        if found is None:
            raise ApiError(401, "sign_in", "sign in to see this page")
        if found.principal.role not in roles:
            raise ApiError(403, "forbidden",
                           f"signed in as a {found.principal.role}: this page is for "
                           + " and ".join(f"{role}s" for role in roles))
        return found

    async def form(self, request: Request, session: Session | None,
                   expected: str | None = None) -> Form:
        """The posted form, after checking its CSRF token (400 if missing or wrong)."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                raise ApiError(413, "too_large", "the form is too large")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=200)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "bad_form", "the form could not be read") from exc
        fields = Form(pairs)
        token = expected if expected is not None else (session.csrf if session else "")
        if not token or not hmac.compare_digest(fields.get("csrf", ""), token):
            raise ApiError(400, "csrf", "the form expired or did not come from this console: "
                                        "reload the page and try again")
        return fields

    def page(self, template: str, session: Session | None, *, status: int = 200,
             request: Request | None = None,
             headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        """A rendered page with the security headers."""
        html = self.templates.get_template(template).render(
            session=session, principal=session.principal if session else None,
            csrf=session.csrf if session else context.pop("csrf", ""),
            notice=NOTICES.get(request.query_params.get("notice", "")) if request else None,
            **context)
        return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS,
                                                               **(headers or {})})

    @staticmethod
    def redirect(path: str, notice: str | None = None) -> Response:
        """303 to ``path`` (after a post), with one of :data:`NOTICES` to show there (by
        name: a page never shows text taken from its URL)."""
        if notice:
            path += ("&" if "?" in path else "?") + "notice=" + quote(notice)
        return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)
