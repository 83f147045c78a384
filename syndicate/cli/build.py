"""Commands of the answers and the publication tree: ``validate`` and ``build``."""

from __future__ import annotations

import sys

import click

from ..answers import load_corpus
from ..build import build as run_build
from ..config import Settings
from ..publication import BuildResult
from ._common import (
    emit_json,
    progress_printer,
    require_content,
    require_writable,
    settings_options,
    table,
)


@click.command()
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def validate(settings: Settings, as_json: bool) -> None:
    """Check every answer file and list every problem at once.

    Prints "file:line: field: reason"; exits 1 if any file has an error (warnings alone
    do not fail).

    \b
    Example:
      syndicate validate --content content/
    """
    require_content(settings)
    corpus = load_corpus(settings.content_dir, future_days=settings.review_future_days)
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


@click.command()
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--progress/--no-progress", default=True,
              help="Show progress on stderr when it is a terminal.")
def build(settings: Settings, as_json: bool, progress: bool) -> None:
    """Localize every answer and write the feeds, pages and manifest.

    Writes Atom, RSS and JSON feeds per language and per condition under the output folder
    (default public/), with RFC 5005 archives, an OPML list, an index page and
    manifest.json. Files whose inputs did not change are not rewritten, and when no
    answer, catalog, setting or code changed since the last build (and the tree is as it
    left it) nothing is localized or written at all. Content errors
    are printed as "file:line: field: reason" and make the exit status 1, but every valid
    answer is still published (and an answer whose file broke keeps its last published
    version in the feeds).

    \b
    Example:
      syndicate build --out public/ --json
    """
    require_content(settings)
    require_writable(settings.out_dir)
    outcome = run_build(settings, progress_printer(progress))
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
