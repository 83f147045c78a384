"""Commands of the state store, webhooks and partners: ``db``, ``sync``, ``deliver``,
``subscribers ...``, ``deliveries ...`` and ``tokens ...``.

Registered on the ``syndicate`` group by :mod:`syndicate.cli.group`; thin like every
command: parse, call the library, print.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..config import Settings
from ._common import (
    emit_json,
    open_store,
    require_content,
    require_writable,
    settings_options,
    stamp,
    table,
)

F = TypeVar("F", bound=Callable[..., Any])


def _when(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD[THH:MM])") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@click.group()
def db() -> None:
    """The state database.

    \b
    Example:
      SYNDICATE_DATABASE_URL=postgresql+psycopg://syndicate@db/syndicate syndicate db upgrade
    """


@db.command("upgrade")
@settings_options
def db_upgrade(settings: Settings) -> None:
    """Create the schema or bring it to this version of Syndicate.

    \b
    Example:
      syndicate db upgrade
    """
    from .. import store

    engine = store.create_engine(settings.database)
    click.get_current_context().call_on_close(engine.dispose)
    store.upgrade(engine)
    click.echo(f"schema at {store.current_revision(engine)}")


@db.command("reseal")
@settings_options
def db_reseal(settings: Settings) -> None:
    """Rewrite every stored webhook and WebSub secret with the first key of secrets_key
    (after putting a new key first, or to encrypt secrets stored in clear); then the old
    key may be removed.

    \b
    Example:
      SYNDICATE_SECRETS_KEY=NEWKEY,OLDKEY syndicate db reseal
    """
    from .. import store

    if not settings.secret_keys:
        raise click.UsageError("no key: set secrets_key or secrets_key_file")
    engine = open_store(settings)
    count = store.reseal(engine, store.subscribers)
    click.echo(f"{count} subscribers' secrets sealed with the first key")


@click.command()
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sync(settings: Settings, as_json: bool) -> None:
    """Localize, detect changes, store them and queue their webhooks, in one transaction.

    The publication tree is written inside the same transaction. Safe to re-run: events
    are never queued twice. Recorded in the run history like `syndicate jobs run sync`
    (so the service's /metrics and `syndicate status` see it), and never run at the same
    time as another sync. Exits 1 if the sync fails.

    \b
    Example:
      syndicate sync && syndicate deliver --until-idle
    """
    from ..service import JobRunner

    require_content(settings)
    require_writable(settings.out_dir)
    run = JobRunner(open_store(settings), settings).run("sync", trigger="manual")
    summary = run.summary
    counts = summary.get("changes", {})
    if as_json:
        emit_json({"run": run.id, "outcome": run.outcome, "error": run.error,
                   "events": summary.get("events", 0), "deliveries": summary.get("deliveries", 0),
                   "changes": counts, "problems": summary.get("problems", {}),
                   "skipped": summary.get("skipped", False),
                   "rerendered": summary.get("rerendered", {})})
    elif run.outcome == "ok":
        problems = summary.get("problems", {})
        for problem in [*problems.get("errors", []), *problems.get("warnings", [])]:
            click.echo(problem, err=True)
        text = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no changes"
        fresh = summary.get("rerendered", {})
        work = ("nothing changed since the last sync" if summary.get("skipped") else
                f"{fresh.get('answers', 0)} answers localized again in "
                f"{fresh.get('languages', 0)} languages")
        click.echo(f"{text}; {summary['events']} events, {summary['deliveries']} deliveries "
                   f"queued; {work}")
    else:
        click.echo(f"sync {run.id}: {run.outcome}: {run.error}", err=True)
    if run.outcome != "ok":
        sys.exit(1)


@click.command()
@settings_options
@click.option("--until-idle", is_flag=True, help="Send every due delivery, then exit.")
@click.option("--subscriber", "subscriber_id", help="Only this subscriber's deliveries.")
def deliver(settings: Settings, until_idle: bool, subscriber_id: str | None) -> None:
    """Send due webhooks: until none is due (--until-idle), or until interrupted.

    \b
    Example:
      syndicate deliver --until-idle
    """
    from ..webhooks import PinnedTransport, Worker

    engine = open_store(settings)

    async def work() -> Any:
        transport = PinnedTransport.from_settings(settings)
        worker = Worker(engine, settings, transport, lease=settings.delivery_lease)
        try:
            return await worker.run(until_idle=until_idle, subscriber_id=subscriber_id)
        finally:
            worker.close()
            await transport.aclose()

    try:
        stats = asyncio.run(work())
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return
    click.echo(f"{stats.attempts} attempts: {stats.delivered} delivered, {stats.failed} failed")


@click.group()
def subscribers() -> None:
    """Webhook subscribers: add, list, show, pause, resume, remove, rotate-secret.

    \b
    Example:
      syndicate subscribers add https://partner.example/hooks --language es --event answer.reviewed
    """


@subscribers.command("add")
@settings_options
@click.argument("url")
@click.option("--language", "languages", multiple=True, help="Only this language (repeatable).")
@click.option("--condition", "conditions", multiple=True,
              help="Only this condition, by folder name (repeatable).")
@click.option("--event", "event_types", multiple=True,
              help="Only this event type, e.g. answer.reviewed or answer.* (repeatable).")
@click.option("--secret", help="Use this whsec_ secret instead of generating one.")
@click.option("--full", is_flag=True, help="Send the whole rendition, not just its metadata.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Send the verification request now.")
@click.option("--json", "as_json", is_flag=True, help="Print the subscriber and secret as JSON.")
def subscribers_add(
    settings: Settings, url: str, languages: tuple[str, ...], conditions: tuple[str, ...],
    event_types: tuple[str, ...], secret: str | None, full: bool, verify: bool, as_json: bool,
) -> None:
    """Register a webhook URL; prints its id (the secret is shown once, on stderr).

    The URL must answer a signed endpoint.verify event by echoing data.challenge as
    {"challenge": "..."} before it receives anything else.

    \b
    Example:
      syndicate subscribers add https://partner.example/hooks --language de --language fr
    """
    from .._time import utc_now
    from ..webhooks import deliver_until_idle
    from ..webhooks import subscribers as subs

    engine = open_store(settings)
    found = subs.add(
        engine, url, now=utc_now(), allow_networks=settings.webhook_allow_networks,
        languages=languages, conditions=conditions, event_types=event_types, full=full,
        secret=secret,
    )
    if verify:
        asyncio.run(deliver_until_idle(engine, settings, subscriber_id=found.id))
        found = subs.require(engine, found.id)
    if as_json:
        emit_json(dict(found.to_dict(), secret=found.secret))
        return
    click.echo(found.id)
    if not secret:
        click.echo(f"secret (shown once): {found.secret}", err=True)
    state = "verified, active" if found.status == "active" else "not verified yet, pending"
    click.echo(f"{found.url}: {state}", err=True)


@subscribers.command("list")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def subscribers_list(settings: Settings, as_json: bool) -> None:
    """List subscribers.

    \b
    Example:
      syndicate subscribers list --json
    """
    from ..webhooks import subscribers as subs

    found = subs.list_all(open_store(settings))
    if as_json:
        emit_json([s.to_dict() for s in found])
        return
    rows = [[s.id, s.status, ",".join(s.languages) or "*", ",".join(s.conditions) or "*",
             ",".join(s.event_types) or "*", s.url] for s in found]
    click.echo(table(rows, ["id", "status", "languages", "conditions", "events", "url"]))


def _subscriber_command(name: str, help_text: str) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        func.__doc__ = help_text
        command = subscribers.command(name)(
            settings_options(click.argument("subscriber_id")(func))
        )
        return command  # type: ignore[return-value]

    return decorate


@_subscriber_command("show", """Show one subscriber as JSON (without its secret).

    \b
    Example:
      syndicate subscribers show sub_0123456789abcdef
    """)
def subscribers_show(settings: Settings, subscriber_id: str) -> None:
    from ..webhooks import subscribers as subs

    emit_json(subs.require(open_store(settings), subscriber_id).to_dict())


def _set_status(settings: Settings, subscriber_id: str, status: str, reason: str | None) -> None:
    from .._time import utc_now
    from ..webhooks import subscribers as subs

    found = subs.set_status(
        open_store(settings), subscriber_id, status, now=utc_now(), reason=reason  # type: ignore[arg-type]
    )
    click.echo(f"{found.id}: {found.status}")


@_subscriber_command("pause", """Stop sending to a subscriber; its events queue up.

    \b
    Example:
      syndicate subscribers pause sub_0123456789abcdef
    """)
def subscribers_pause(settings: Settings, subscriber_id: str) -> None:
    _set_status(settings, subscriber_id, "paused", "paused by an operator")


@_subscriber_command("resume", """Send to a paused or disabled subscriber again.

    A subscriber that never verified its URL is sent a new verification request instead.

    \b
    Example:
      syndicate subscribers resume sub_0123456789abcdef
    """)
def subscribers_resume(settings: Settings, subscriber_id: str) -> None:
    _set_status(settings, subscriber_id, "active", None)


@_subscriber_command("remove", """Delete a subscriber and its delivery history.

    \b
    Example:
      syndicate subscribers remove sub_0123456789abcdef
    """)
def subscribers_remove(settings: Settings, subscriber_id: str) -> None:
    from ..webhooks import subscribers as subs

    subs.remove(open_store(settings), subscriber_id)
    click.echo(f"{subscriber_id}: removed")


@_subscriber_command("rotate-secret", """Give a subscriber a new secret, shown once.

    For 24 hours both the old and the new secret sign every request.

    \b
    Example:
      syndicate subscribers rotate-secret sub_0123456789abcdef
    """)
def subscribers_rotate(settings: Settings, subscriber_id: str) -> None:
    from .._time import utc_now
    from ..webhooks import subscribers as subs

    click.echo(subs.rotate_secret(open_store(settings), subscriber_id, now=utc_now()))


@click.group()
def deliveries() -> None:
    """Webhook deliveries: list, show, retry, replay.

    \b
    Example:
      syndicate deliveries list --state dead
    """


@deliveries.command("list")
@settings_options
@click.option("--state", type=click.Choice(["pending", "delivered", "dead"]))
@click.option("--subscriber", "subscriber_id", help="Only this subscriber.")
@click.option("--since", type=str, help="Created at or after this date (UTC).")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def deliveries_list(
    settings: Settings, state: str | None, subscriber_id: str | None, since: str | None,
    limit: int, as_json: bool,
) -> None:
    """List deliveries, newest first.

    \b
    Example:
      syndicate deliveries list --state dead --subscriber sub_0123456789abcdef
    """
    from ..webhooks import list_deliveries

    found = list_deliveries(
        open_store(settings), state=state, subscriber_id=subscriber_id,
        since=_when(since) if since else None, limit=limit,
    )
    if as_json:
        emit_json([d.to_dict() for d in found])
        return
    rows = [[str(d.id), stamp(d.created_at), d.state, str(d.attempts),
             stamp(d.delivered_at) if d.state == "delivered" else stamp(d.due_at),
             str(d.last_status or ""), d.event_type, d.subscriber_id, d.event_id,
             (d.last_error or "")[:40]] for d in found]
    click.echo(table(rows, ["id", "created (UTC)", "state", "attempts",
                            "delivered / due (UTC)", "status", "event", "subscriber",
                            "webhook-id", "error"]))


@deliveries.command("show")
@settings_options
@click.argument("delivery_id", type=int)
def deliveries_show(settings: Settings, delivery_id: int) -> None:
    """Show one delivery and every attempt, as JSON.

    \b
    Example:
      syndicate deliveries show 42
    """
    from ..webhooks import show_delivery

    view, logged = show_delivery(open_store(settings), delivery_id)
    emit_json(dict(view.to_dict(), attempt_log=logged))


@deliveries.command("retry")
@settings_options
@click.argument("delivery_ids", type=int, nargs=-1, required=True)
def deliveries_retry(settings: Settings, delivery_ids: tuple[int, ...]) -> None:
    """Make dead deliveries due now, with a fresh retry schedule.

    \b
    Example:
      syndicate deliveries retry 42 43 && syndicate deliver --until-idle
    """
    from .._time import utc_now
    from ..webhooks import requeue

    count = requeue(open_store(settings), now=utc_now(), ids=delivery_ids)
    click.echo(f"{count} deliveries due again")


@deliveries.command("replay")
@settings_options
@click.option("--since", required=True, help="Created at or after this date (UTC).")
@click.option("--subscriber", "subscriber_id", help="Only this subscriber.")
def deliveries_replay(settings: Settings, since: str, subscriber_id: str | None) -> None:
    """Send again every delivery made since a date (same webhook-id), e.g. after a
    receiver lost data.

    \b
    Example:
      syndicate deliveries replay --since 2026-05-01 --subscriber sub_0123456789abcdef
    """
    from .._time import utc_now
    from ..webhooks import requeue

    count = requeue(
        open_store(settings), now=utc_now(), since=_when(since), subscriber_id=subscriber_id,
        states=("delivered", "dead", "pending"),
    )
    click.echo(f"{count} deliveries due again")


@click.group()
def tokens() -> None:
    """Partner API tokens: issue, list, revoke.

    \b
    Example:
      syndicate tokens issue partner-health-site
    """


@tokens.command("issue")
@settings_options
@click.argument("partner")
@click.option("--json", "as_json", is_flag=True, help="Print the record and token as JSON.")
def tokens_issue(settings: Settings, partner: str, as_json: bool) -> None:
    """Issue an API token for a partner; the token is printed once, only its hash is kept.

    PARTNER names the partner (lower-case letters, digits, '.', '_', '-'): every token of
    the same partner sees the same subscriptions.

    \b
    Example:
      syndicate tokens issue partner-health-site
    """
    from .._time import utc_now
    from ..http import tokens as api_tokens

    record, token = api_tokens.issue(open_store(settings), partner, now=utc_now())
    if as_json:
        emit_json(dict(record.to_dict(), token=token))
        return
    click.echo(token)
    click.echo(f"token {record.id} for {record.partner} (shown once: store it now)", err=True)


@tokens.command("list")
@settings_options
@click.option("--partner", help="Only this partner's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_list(settings: Settings, partner: str | None, as_json: bool) -> None:
    """List API tokens (ids and partners; the tokens themselves are not kept).

    \b
    Example:
      syndicate tokens list --partner partner-health-site
    """
    from ..http import tokens as api_tokens

    found = api_tokens.list_tokens(open_store(settings), partner=partner)
    if as_json:
        emit_json([t.to_dict() for t in found])
        return
    rows = [[t.id, t.partner, t.to_dict()["created_at"], t.to_dict()["revoked_at"] or "active"]
            for t in found]
    click.echo(table(rows, ["id", "partner", "created", "revoked"]))


@tokens.command("revoke")
@settings_options
@click.argument("token_id")
def tokens_revoke(settings: Settings, token_id: str) -> None:
    """Revoke an API token by its id: it is refused (401) from the next request on.

    \b
    Example:
      syndicate tokens revoke 3f9a0c1b2d4e
    """
    from .._time import utc_now
    from ..http import tokens as api_tokens

    record = api_tokens.revoke(open_store(settings), token_id, now=utc_now())
    click.echo(f"{record.id}: revoked ({record.partner})")
