"""Translators' commands: ``syndicate i18n extract|update|compile|status|check``.

Registered on the ``syndicate`` group by :mod:`syndicate.cli.group`; thin like every
command: parse, call the library, print.
"""

from __future__ import annotations

import json
import sys

import click

from .._time import utc_now
from ..answers import load_corpus, target_languages, template_path
from ..answers import status as progress
from ..answers import translators as i18n
from ..config import Settings
from ..errors import SyndicateError
from ._common import emit_json, open_store, settings_options, table


@click.group(name="i18n")
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
    written = i18n.extract_template(settings.content_dir, out, now=utc_now())
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
    outcomes = i18n.update_catalogs(settings.locales_dir, _languages(settings, languages))
    _report(outcomes, as_json)
    if any(outcome.action == "skipped" for outcome in outcomes):
        sys.exit(1)


@i18n_group.command()
@settings_options
@click.argument("language", metavar="LANG")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def init(settings: Settings, language: str, as_json: bool) -> None:
    """Add a language: write its catalog from the template, with CLDR's plural rule.

    LANG is a BCP 47 tag (pt, pt-BR, zh-Hans). The catalog goes to
    locales/<locale>/LC_MESSAGES/syndicate.po with every message empty; an existing
    catalog is left alone (exit 1). Same as `pybabel init -l LANG`.

    \b
    Example:
      syndicate i18n extract && syndicate i18n init pt && syndicate i18n status -l pt
    """
    outcome = i18n.init_catalog(settings.locales_dir, language, now=utc_now())
    _report([outcome], as_json)
    if outcome.action == "refused":
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
    outcomes = i18n.compile_catalogs(settings.locales_dir, _languages(settings, languages),
                                     _answer_names(settings))
    _report(outcomes, as_json)
    if any(outcome.action == "refused" for outcome in outcomes):
        sys.exit(1)


def _answer_names(settings: Settings) -> dict[str, str]:
    """Each answer's name by id, for reports; none when the answers cannot be read."""
    try:
        answers = load_corpus(settings.content_dir).published
    except (OSError, SyndicateError):
        return {}
    return {answer.id: progress.answer_name(answer, settings.content_dir) for answer in answers}


def _readers(settings: Settings) -> dict[str, int] | None:
    """Active webhook subscribers per language (one with no language filter reads them all);
    ``None`` when there is no state database to ask."""
    if not settings.database_url and not (settings.state_dir / "syndicate.db").exists():
        return None
    from ..webhooks import subscribers as subs
    try:
        engine = open_store(settings)
        found = [s for s in subs.list_all(engine)
                 if s.status == "active" and s.kind == "webhook"]
    except SyndicateError:
        return None
    languages = target_languages(settings)
    return {language: sum(1 for s in found if not s.languages or language in s.languages)
            for language in languages}


def _status_reports(settings: Settings, languages: list[str]) -> list[progress.LanguageStatus]:
    return progress.status_reports(
        settings.content_dir, settings.locales_dir, languages,
        settings.state_dir / progress.CACHE_FOLDER,
        require_review=settings.require_translation_review)


SUMMARY = ["language", "answers", "publishable", "blocked", "fuzzy", "untranslated", "failing",
           "needs review"]


@i18n_group.command()
@settings_options
@language_option
@click.option("--todo", "todo", is_flag=False, flag_value="", default=None, metavar="[LANG]",
              help="List every message that blocks an answer, with file:line and the reason "
                   "(one language, or all, most read first).")
@click.option("--review", is_flag=True,
              help="List translated messages whose source carries a dose or a negation: "
                   "they need a medical review of the translation.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def status(settings: Settings, languages: tuple[str, ...], todo: str | None, review: bool,
           as_json: bool) -> None:
    """Per language a summary, then per answer: translated, fuzzy, untranslated, failing.

    Fuzzy entries count as not translated, and so do entries failing a check. An answer is
    publishable in a language when all its messages and all interface strings are usable.
    Answers are named by id and file. --todo lists what blocks publication, languages
    ordered by how many subscribers read them; --review what needs a medical review. Checked
    catalogs are kept in <state>/i18n-cache, so asking again is quick. Exits 1 only if a
    catalog cannot be read.

    \b
    Example:
      syndicate i18n status
      syndicate i18n status --todo de
      syndicate i18n status --json | jq '.rows[] | select(.publishable | not)'
    """
    chosen = [todo] if todo else _languages(settings, languages)
    reports = progress.by_readers(_status_reports(settings, chosen),
                                  _readers(settings) if todo is not None else None)
    errors = [report.error for report in reports if report.error]
    if as_json:
        # One line, not indented: the report of 1,000 answers in 10 languages has 10,000
        # rows, and the indenting encoder is pure Python (seconds, against milliseconds).
        click.echo(json.dumps({
            "languages": [report.summary() for report in reports],
            "rows": [row.as_dict() for report in reports for row in report.rows],
            "todo": [f.as_dict() for report in reports for f in report.todo],
            "review": [f.as_dict() for report in reports for f in report.review],
            "errors": errors,
        }, ensure_ascii=False))
    elif todo is not None or review:
        for report in reports:
            for finding in (report.todo if todo is not None else ()) + (
                    report.review if review else ()):
                click.echo(str(finding))
    else:
        _print_status(reports, errors)
    if errors:
        sys.exit(1)


def _print_status(reports: list[progress.LanguageStatus], errors: list[str]) -> None:
    for error in errors:
        click.echo(error, err=True)
    summaries = [report.summary() for report in reports]
    click.echo(table([[str(line[key]) for key in (
        "language", "answers", "publishable", "blocked", "fuzzy", "untranslated", "failing",
        "needs_review")] for line in summaries], SUMMARY))
    click.echo("")
    headers = ["language", "answer", "translated", "fuzzy", "untranslated", "failing",
               "publishable"]
    click.echo(table([
        [row.language, row.label, str(row.counts.translated), str(row.counts.fuzzy),
         str(row.counts.untranslated), str(row.counts.failing),
         "yes" if row.publishable else "no"]
        for report in reports for row in report.rows
    ], headers))


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
    problems = i18n.check_catalogs(settings.locales_dir, chosen, _answer_names(settings))
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
