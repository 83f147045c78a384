"""The ``syndicate`` command: a click group of thin commands over the library.

Each command parses its options, calls the library and prints: a table or clear lines for
people, one JSON document with ``--json`` for scripts. Library errors become
:class:`click.ClickException` here and nowhere else. This is the only module that reads the
process environment (to build :class:`~syndicate.config.Settings`).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .build import build as run_build
from .config import Settings, load_settings
from .content import load_corpus
from .errors import SyndicateError
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


def _engine(settings: Settings) -> Engine:
    """The state store at the expected schema, or a clear error."""
    from . import store

    try:
        engine = store.open_engine(settings.database)
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.get_current_context().call_on_close(engine.dispose)
    return engine


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="syndicate")


# The other command groups live in their own modules and register themselves on the group
# above when imported: translators' tools, webhooks and partners, the running service.
from . import cli_i18n as _cli_i18n  # noqa: E402,F401
from . import cli_service as _cli_service  # noqa: E402,F401
from . import cli_webhooks as _cli_webhooks  # noqa: E402,F401
