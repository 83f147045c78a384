"""The partner portal: a partner's subscriptions, their delivery attempts, test events, the
event catalog and feed URLs.

A partner signs in with its API token and sees only what its token could reach through the
API: another partner's subscription, guessed or not, answers 404 like one that does not
exist, and every query and change names the partner's own subscription. A secret is shown
once, in the response to the form that created or rotated it, never in a page afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ApiError, InputError, UnsafeURLError
from ..tags import LANGUAGE_TAG, SAFE_NAME
from ..webhooks import subscribers as subs
from . import data
from .web import ROOT, Console, Form

HOME = f"{ROOT}/partner/"
SNIPPETS = {
    "Python": '''from standardwebhooks.webhooks import Webhook

wh = Webhook("whsec_...")  # your endpoint's secret
payload = wh.verify(request_body, {
    "webhook-id": headers["webhook-id"],
    "webhook-timestamp": headers["webhook-timestamp"],
    "webhook-signature": headers["webhook-signature"],
})  # raises if the signature or timestamp is wrong''',
    "JavaScript": '''import { Webhook } from "standardwebhooks";

const wh = new Webhook("whsec_...");  // your endpoint's secret
const payload = wh.verify(rawBody, {
  "webhook-id": req.headers["webhook-id"],
  "webhook-timestamp": req.headers["webhook-timestamp"],
  "webhook-signature": req.headers["webhook-signature"],
});  // throws if the signature or timestamp is wrong''',
}


def _filters(console: Console, form: Form) -> dict[str, Any]:
    """The filters a form posts, checked like the API checks them."""
    languages = form.getall("languages")
    conditions = form.getall("conditions")
    event_types = form.getall("event_types")
    for value in languages:
        if not LANGUAGE_TAG.fullmatch(value):
            raise InputError(f"{value!r} is not a language tag", field="languages")
    for value in conditions:
        if not SAFE_NAME.fullmatch(value):
            raise InputError(f"{value!r} is not a condition", field="conditions")
    for value in event_types:
        if value not in data.event_types():
            raise InputError(f"{value!r} is not an event type", field="event_types")
    return {"languages": languages, "conditions": conditions, "event_types": event_types,
            "full": form.get("full") == "on"}


class PartnerPages:
    """The partner portal's handlers."""

    def __init__(self, console: Console) -> None:
        self.c = console

    async def _owned(self, request: Request, partner: str) -> subs.Subscriber:
        found = await self.c.db(data.owned_subscription, self.c.engine, partner,
                                str(request.path_params["subscription_id"]))
        if found is None:
            raise ApiError(404, "not_found", "no such subscription")
        return found

    async def _choices(self) -> dict[str, Any]:
        return {"languages": await self.c.db(data.languages, self.c.engine),
                "conditions": await self.c.db(data.conditions, self.c.engine),
                "event_types": data.event_types()}

    async def home(self, request: Request) -> Response:
        """GET /console/partner/: subscriptions and the form to add one."""
        session = await self.c.require(request, "partner")
        found = await self.c.db(data.partner_subscriptions, self.c.engine,
                                session.principal.name)
        return self.c.page("partner_home.html", session, request=request, subscriptions=found,
                           error=None, **await self._choices())

    async def create(self, request: Request) -> Response:
        """POST /console/partner/subscriptions: register an endpoint; its secret, once."""
        session = await self.c.require(request, "partner")
        form = await self.c.form(request, session)
        try:
            found = await self.c.db(
                data.create_subscription, self.c.engine, self.c.settings,
                session.principal.name, form.get("url", "").strip(), now=self.c.clock(),
                **_filters(self.c, form))
        except (InputError, UnsafeURLError) as exc:
            listed = await self.c.db(data.partner_subscriptions, self.c.engine,
                                     session.principal.name)
            return self.c.page("partner_home.html", session, status=422, subscriptions=listed,
                               error=str(exc), **await self._choices())
        return self.c.page("secret.html", session, subscription=found, secret=found.secret,
                           created=True)

    async def show(self, request: Request) -> Response:
        """GET /console/partner/subscriptions/{id}: settings, actions, attempts."""
        session = await self.c.require(request, "partner")
        found = await self._owned(request, session.principal.name)
        status = request.query_params.get("status", "all")
        status = status if status in data.ATTEMPT_FILTERS else "all"
        before_text = request.query_params.get("before", "")
        before = int(before_text) if before_text.isdigit() else None
        rows = await self.c.db(data.attempts_page, self.c.engine, found.id, status=status,
                               before=before)
        waiting = await self.c.db(data.waiting_deliveries, self.c.engine, found.id)
        return self.c.page(
            "partner_subscription.html", session, request=request, subscription=found,
            attempts=rows, waiting=waiting, shown=status, filters=data.ATTEMPT_FILTERS,
            next_before=rows[-1].attempt_id if len(rows) == data.PAGE_SIZE else None,
            **await self._choices())

    async def action(self, request: Request) -> Response:
        """POST /console/partner/subscriptions/{id}/{action}."""
        session = await self.c.require(request, "partner")
        found = await self._owned(request, session.principal.name)
        form = await self.c.form(request, session)
        action = str(request.path_params["action"])
        now = self.c.clock()
        here = f"{HOME}subscriptions/{found.id}"
        engine = self.c.engine
        if action == "edit":
            await self.c.db(data.update_subscription, engine, found.id, now=now,
                            **_filters(self.c, form))
            return self.c.redirect(here, "saved")
        if action in ("pause", "resume"):
            await self.c.db(data.set_paused, engine, found.id, action == "pause", now=now,
                            by=session.principal.name)
            return self.c.redirect(here, "paused" if action == "pause" else "resumed")
        if action == "rotate":
            secret = await self.c.db(data.rotate_secret, engine, found.id, now=now)
            return self.c.page("secret.html", session, subscription=found, secret=secret,
                               created=False)
        if action == "delete":
            await self.c.db(data.delete_subscription, engine, found.id)
            return self.c.redirect(HOME, "deleted")
        if action == "test":
            await self.c.db(data.send_test_event, engine, found.id, now=now)
            return self.c.redirect(here, "test")
        if action == "replay":
            since = _date(form.get("since", ""))
            await self.c.db(data.replay_since, engine, found.id, since, now=now)
            return self.c.redirect(here, "replayed")
        if action == "retry":
            delivery = form.get("delivery", "")
            done = await self.c.db(data.retry_delivery, engine, found.id,
                                   int(delivery) if delivery.isdigit() else -1, now=now)
            return self.c.redirect(here, "retried" if done else "not-retried")
        raise ApiError(404, "not_found", "no such action")

    async def events(self, request: Request) -> Response:
        """GET /console/partner/events: the event catalog, verification, feed URLs."""
        session = await self.c.require(request, "partner")
        examples = await self.c.db(data.example_payloads, self.c.engine)
        langs = await self.c.db(data.languages, self.c.engine)
        feeds = {lang: data.feed_urls(self.c.settings, lang) for lang in langs}
        return self.c.page("partner_events.html", session, request=request, examples=examples,
                           snippets=SNIPPETS, feeds=feeds)


def _date(text: str) -> dt.datetime:
    """A ``YYYY-MM-DD`` date from a form, as midnight UTC; :class:`InputError` otherwise."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"{text!r} is not a date (YYYY-MM-DD)", field="since") from exc
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
