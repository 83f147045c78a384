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
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__, i18n
from .build import build as run_build
from .catalogs import catalog_path, read_catalog, template_path
from .config import Settings, load_settings
from .content import load_corpus
from .errors import CatalogError, SyndicateError
from .pipeline import target_languages
from .publish import BuildResult

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


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


@cli.group(name="i18n")
def i18n_group() -> None:
    """Translators' tools: extract, update, check, compile and status of the catalogs.

    \b
    Example:
      syndicate i18n extract && syndicate i18n update && syndicate i18n status
    """


language_option = click.option(
    "-l", "--language", "languages", multiple=True, metavar="LANG",
    help="Only this language (BCP 47, repeatable) [default: every catalog].",
)


def _languages(settings: Settings, languages: tuple[str, ...]) -> list[str]:
    return list(languages) or target_languages(settings)


@i18n_group.command()
@settings_options
def extract(settings: Settings) -> None:
    """Write the template locales/syndicate.pot from the answers and the interface strings.

    Uses Babel's extraction with the mapping of babel.cfg. Running it again with nothing
    changed leaves the file byte for byte as it was.

    \b
    Example:
      syndicate i18n extract --content content/ --locales locales/
    """
    out = template_path(settings.locales_dir)
    try:
        written = i18n.extract_template(settings.content_dir, out, now=dt.datetime.now(dt.UTC))
    except (SyndicateError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{out}: {'written' if written else 'unchanged'}")


def _report(outcomes: list[i18n.Outcome], as_json: bool) -> None:
    if as_json:
        emit_json([outcome.as_dict() for outcome in outcomes])
        return
    for outcome in outcomes:
        for problem in outcome.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{outcome.language}: {outcome.path}: {outcome.action}")


@i18n_group.command()
@settings_options
@language_option
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def update(settings: Settings, languages: tuple[str, ...], as_json: bool) -> None:
    """Merge the template into every language's catalog.

    Changed messages become fuzzy with their previous msgid kept (#| msgid), new ones are
    empty, removed ones stay as obsolete (#~). A catalog that cannot be read is reported as
    file:line and left untouched; the others are still updated (exit 1).

    \b
    Example:
      syndicate i18n extract && syndicate i18n update -l es -l ar
    """
    try:
        outcomes = i18n.update_catalogs(settings.locales_dir, _languages(settings, languages))
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc
    _report(outcomes, as_json)
    if any(outcome.action == "skipped" for outcome in outcomes):
        sys.exit(1)


@i18n_group.command(name="compile")
@settings_options
@language_option
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def compile_(settings: Settings, languages: tuple[str, ...], as_json: bool) -> None:
    """Write each language's .mo, only if `syndicate i18n check` finds no error in it.

    A refused language keeps its previous .mo untouched (exit 1). Fuzzy entries are left out.

    \b
    Example:
      syndicate i18n compile --locales locales/
    """
    outcomes = i18n.compile_catalogs(settings.locales_dir, _languages(settings, languages))
    _report(outcomes, as_json)
    if any(outcome.action == "refused" for outcome in outcomes):
        sys.exit(1)


@i18n_group.command()
@settings_options
@language_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(settings: Settings, languages: tuple[str, ...], as_json: bool) -> None:
    """Per language and per answer: translated, fuzzy, untranslated, failing; publishable?

    Fuzzy entries count as not translated, and so do entries failing a check. An answer is
    publishable in a language when all its messages and all interface strings are usable.
    Exits 1 only if a catalog cannot be read.

    \b
    Example:
      syndicate i18n status --json | jq '.rows[] | select(.publishable | not)'
    """
    answers = load_corpus(settings.content_dir).published
    rows: list[i18n.StatusRow] = []
    errors: list[CatalogError] = []
    for language in _languages(settings, languages):
        try:
            catalog = read_catalog(catalog_path(settings.locales_dir, language), language)
        except CatalogError as exc:
            errors.append(exc)
            rows.extend(i18n.broken_rows(language, answers, settings.content_dir))
            continue
        rows.extend(i18n.status(catalog, answers, settings.content_dir))
    if as_json:
        emit_json({
            "rows": [row.as_dict() for row in rows],
            "errors": [str(error) for error in errors],
        })
    else:
        for error in errors:
            click.echo(str(error), err=True)
        headers = ["language", "answer", "translated", "fuzzy", "untranslated", "failing",
                   "publishable"]
        click.echo(table([
            [row.language, row.label, str(row.counts.translated), str(row.counts.fuzzy),
             str(row.counts.untranslated), str(row.counts.failing),
             "yes" if row.publishable else "no"]
            for row in rows
        ], headers))
    if errors:
        sys.exit(1)


@i18n_group.command()
@settings_options
@language_option
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def check(settings: Settings, languages: tuple[str, ...], as_json: bool) -> None:
    """Check every catalog: placeholders, URLs, links, markup, HTML, numbers, plural forms.

    Prints file:line: msgctxt: problem (msgctxt "-" for interface strings and whole-file
    problems). Problems in fuzzy entries are warnings; any error exits 1.

    \b
    Example:
      syndicate i18n check -l de || echo "fix the catalog before compiling"
    """
    chosen = _languages(settings, languages)
    problems = i18n.check_catalogs(settings.locales_dir, chosen)
    errors = i18n.errors_only(problems)
    if as_json:
        emit_json({
            "languages": chosen,
            "errors": len(errors),
            "warnings": len(problems) - len(errors),
            "problems": [problem.as_dict() for problem in problems],
        })
    else:
        for problem in problems:
            click.echo(str(problem))
        click.echo(
            f"{len(chosen)} catalogs checked, {len(errors)} errors, "
            f"{len(problems) - len(errors)} warnings",
            err=True,
        )
    if errors:
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
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--progress/--no-progress", default=True,
              help="Show progress on stderr when it is a terminal.")
def build(settings: Settings, as_json: bool, progress: bool) -> None:
    """Localize every answer and write the feeds, pages and manifest.

    Writes Atom, RSS and JSON feeds per language and per condition under the output folder
    (default ``public/``), with RFC 5005 archives, an OPML list, an index page and
    ``manifest.json``. Files whose inputs did not change are not rewritten, and when no
    answer, catalog, setting or code changed since the last build (and the tree is as it
    left it) nothing is localized or written at all. Content errors
    are printed as ``file:line: field: reason`` and make the exit status 1, but every valid
    answer is still published (and an answer whose file broke keeps its last published
    version in the feeds).

    \b
    Example:
      syndicate build --out public/ --json
    """
    show = progress_printer(progress)
    try:
        outcome = run_build(settings, show)
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc
    result = outcome.result
    errors = list(outcome.errors)
    failed = bool(errors or result.problems)
    if as_json:
        summary = result.as_dict()
        summary["errors"] = errors
        summary["warnings"] = list(outcome.warnings)
        summary["ok"] = not failed
        summary["skipped"] = outcome.skipped
        emit_json(summary)
    else:
        for line in [*errors, *result.problems, *outcome.warnings]:
            click.echo(line, err=True)
        click.echo(_build_table(result))
        if outcome.skipped:
            click.echo(f"nothing changed since the last build: {result.unchanged} files "
                       f"unchanged -> {settings.out_dir}")
        else:
            click.echo(
                f"{len(result.written)} files written, {result.unchanged} unchanged, "
                f"{len(result.deleted)} deleted -> {settings.out_dir}"
            )
    if failed:
        sys.exit(1)


def _build_table(result: BuildResult) -> str:
    rows = [
        [report.language, report.status, str(report.answers), str(report.incomplete),
         str(report.kept)]
        for report in result.languages
    ]
    return table(rows, ["language", "status", "published", "incomplete", "kept"])


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
    from .outbox import sync_and_publish

    engine = _engine(settings)
    try:
        result = sync_and_publish(engine, settings, now=utc_now())
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


@cli.group()
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
    from . import tokens as api_tokens
    from .delivery import utc_now

    try:
        record, token = api_tokens.issue(_engine(settings), partner, now=utc_now())
    except (SyndicateError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
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
    from . import tokens as api_tokens

    found = api_tokens.list_tokens(_engine(settings), partner=partner)
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
    from . import tokens as api_tokens
    from .delivery import utc_now

    try:
        record = api_tokens.revoke(_engine(settings), token_id, now=utc_now())
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{record.id}: revoked ({record.partner})")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="syndicate")


# The service's commands (run, worker, jobs, status) live in their own module and register
# themselves on the group above when it is imported.
from . import cli_service as _cli_service  # noqa: E402,F401
