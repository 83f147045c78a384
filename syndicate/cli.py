"""The ``syndicate`` command: a click group of thin commands over the library.

Each command parses its options, calls the library and prints: a table or clear lines for
people, one JSON document with ``--json`` for scripts. Library errors become
:class:`click.ClickException` here and nowhere else. This is the only module that reads the
process environment (to build :class:`~syndicate.config.Settings`).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import functools
import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .config import Settings, load_settings
from .content import load_corpus
from .errors import SyndicateError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .events import Plan
    from .outbox import Publisher

F = TypeVar("F", bound=Callable[..., Any])


def settings_options(func: F) -> F:
    """Add ``--config``, ``--content``, ``--locales`` and ``--out``; pass ``settings``."""

    @click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
                  help="TOML settings file.")
    @click.option("--content", "content_dir", type=click.Path(path_type=Path, file_okay=False),
                  help="Answers folder [default: content].")
    @click.option("--locales", "locales_dir", type=click.Path(path_type=Path, file_okay=False),
                  help="Catalogs folder [default: locales].")
    @click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
                  help="Publication tree [default: public].")
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        config_file: Path | None,
        content_dir: Path | None,
        locales_dir: Path | None,
        out_dir: Path | None,
        **kwargs: Any,
    ) -> Any:
        try:
            settings = load_settings(
                config_file,
                environ=os.environ,
                overrides={"content_dir": content_dir, "locales_dir": locales_dir,
                           "out_dir": out_dir},
            )
        except SyndicateError as exc:
            raise click.ClickException(str(exc)) from exc
        return func(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table."""
    columns = zip(headers, *rows, strict=False)
    widths = [max(len(str(cell)) for cell in column) for column in columns]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
    return "\n".join(lines)


def progress_printer(enabled: bool) -> Callable[[str, int, int], None] | None:
    """A progress callback writing one updating line to stderr, when stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None

    def show(stage: str, done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        click.echo(f"\r{stage}: {done}/{total}", err=True, nl=False)
        if end:
            click.echo("", err=True)

    return show


@click.group()
@click.version_option(__version__, prog_name="syndicate")
def cli() -> None:
    """Syndicate: medically reviewed health answers, localized and syndicated.

    \b
    Example:
      syndicate validate && syndicate build
    """


@cli.command()
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def validate(settings: Settings, as_json: bool) -> None:
    """Check every answer file and list every problem at once.

    Prints ``file:line: field: reason``; exits 1 if any file has an error (warnings alone
    do not fail).

    \b
    Example:
      syndicate validate --content content/
    """
    corpus = load_corpus(settings.content_dir)
    if as_json:
        emit_json({
            "answers": len(corpus.answers),
            "errors": [p.as_dict() for p in corpus.errors],
            "warnings": [p.as_dict() for p in corpus.warnings],
        })
    else:
        for problem in corpus.problems:
            click.echo(str(problem), err=True)
        click.echo(
            f"{len(corpus.answers)} answers valid, {len(corpus.errors)} errors, "
            f"{len(corpus.warnings)} warnings"
        )
    if corpus.errors:
        sys.exit(1)


# == Webhooks: state store, sync, subscribers, deliveries ===================================


def _engine(settings: Settings) -> Engine:
    """The state store at the expected schema, or a clear error."""
    from . import store

    try:
        engine = store.open_engine(settings.database)
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.get_current_context().call_on_close(engine.dispose)
    return engine


def _publisher(settings: Settings) -> Publisher | None:
    """The publication step of ``sync``, if the publisher module provides one.

    Coupling is one function: ``syndicate.publish.publish_renditions(settings, renditions)``
    where ``renditions`` maps each language to what it publishes now (stale ones included).
    """
    try:
        module = importlib.import_module("syndicate.publish")
    except ImportError:
        return None
    publish = getattr(module, "publish_renditions", None)
    if publish is None:
        return None

    def run(plan: Plan) -> object:
        return publish(settings, plan.renditions)

    return run


def _when(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD[THH:MM])") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@cli.group()
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
    from . import store

    try:
        engine = store.create_engine(settings.database)
        click.get_current_context().call_on_close(engine.dispose)
        store.upgrade(engine)
        click.echo(f"schema at {store.current_revision(engine)}")
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sync(settings: Settings, as_json: bool) -> None:
    """Localize, detect changes, store them and queue their webhooks, in one transaction.

    Publishes too when the publisher is installed. Safe to re-run: events are never queued
    twice.

    \b
    Example:
      syndicate sync && syndicate deliver --until-idle
    """
    from .delivery import utc_now
    from .outbox import sync as run_sync
    from .pipeline import localize_corpus

    engine = _engine(settings)
    try:
        result = run_sync(
            engine, localize_corpus(settings), now=utc_now(), base_url=settings.base_url,
            publish=_publisher(settings),
        )
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc
    counts = collections.Counter(change.type for change in result.plan.changes)
    if as_json:
        emit_json({"events": list(result.events), "deliveries": result.deliveries,
                   "changes": dict(counts)})
        return
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no changes"
    click.echo(f"{summary}; {len(result.events)} events, {result.deliveries} deliveries queued")


@cli.command()
@settings_options
@click.option("--until-idle", is_flag=True, help="Send every due delivery, then exit.")
@click.option("--subscriber", "subscriber_id", help="Only this subscriber's deliveries.")
def deliver(settings: Settings, until_idle: bool, subscriber_id: str | None) -> None:
    """Send due webhooks: until none is due (--until-idle), or until interrupted.

    \b
    Example:
      syndicate deliver --until-idle
    """
    from .delivery import Worker
    from .transport import PinnedTransport

    engine = _engine(settings)

    async def work() -> Any:
        transport = PinnedTransport(
            allow_networks=settings.webhook_allow_networks, timeout=settings.webhook_timeout
        )
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


@cli.group()
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
    from . import subscribers as subs
    from .delivery import deliver_until_idle, utc_now

    engine = _engine(settings)
    try:
        found = subs.add(
            engine, url, now=utc_now(), allow_networks=settings.webhook_allow_networks,
            languages=languages, conditions=conditions, event_types=event_types, full=full,
            secret=secret,
        )
        if verify:
            asyncio.run(deliver_until_idle(engine, settings, subscriber_id=found.id))
            found = subs.require(engine, found.id)
    except (SyndicateError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
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
    from . import subscribers as subs

    found = subs.list_all(_engine(settings))
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
    from . import subscribers as subs

    try:
        emit_json(subs.require(_engine(settings), subscriber_id).to_dict())
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc


def _set_status(settings: Settings, subscriber_id: str, status: str, reason: str | None) -> None:
    from . import subscribers as subs
    from .delivery import utc_now

    try:
        found = subs.set_status(
            _engine(settings), subscriber_id, status, now=utc_now(), reason=reason  # type: ignore[arg-type]
        )
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc
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
    from . import subscribers as subs

    try:
        subs.remove(_engine(settings), subscriber_id)
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{subscriber_id}: removed")


@_subscriber_command("rotate-secret", """Give a subscriber a new secret, shown once.

    For 24 hours both the old and the new secret sign every request.

    \b
    Example:
      syndicate subscribers rotate-secret sub_0123456789abcdef
    """)
def subscribers_rotate(settings: Settings, subscriber_id: str) -> None:
    from . import subscribers as subs
    from .delivery import utc_now

    try:
        click.echo(subs.rotate_secret(_engine(settings), subscriber_id, now=utc_now()))
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.group()
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
    from .outbox import list_deliveries

    found = list_deliveries(
        _engine(settings), state=state, subscriber_id=subscriber_id,
        since=_when(since) if since else None, limit=limit,
    )
    if as_json:
        emit_json([d.to_dict() for d in found])
        return
    rows = [[str(d.id), d.state, str(d.attempts), str(d.last_status or ""), d.event_type,
             d.subscriber_id, d.event_id, (d.last_error or "")[:40]] for d in found]
    click.echo(table(rows, ["id", "state", "attempts", "status", "event", "subscriber",
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
    from .outbox import show_delivery

    try:
        view, logged = show_delivery(_engine(settings), delivery_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
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
    from .delivery import utc_now
    from .outbox import requeue

    count = requeue(_engine(settings), now=utc_now(), ids=delivery_ids)
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
    from .delivery import utc_now
    from .outbox import requeue

    count = requeue(
        _engine(settings), now=utc_now(), since=_when(since), subscriber_id=subscriber_id,
        states=("delivered", "dead", "pending"),
    )
    click.echo(f"{count} deliveries due again")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="syndicate")
