"""What every command shares: the settings options, output helpers, the state store, and the
one place where library errors become command-line errors.

Commands are thin: parse, call the library, print. Library errors are
:class:`~syndicate.errors.SyndicateError`; :class:`SyndicateGroup` turns any of them, raised
by any command, into a one-line ``Error: ...`` and an exit status telling what kind of
problem it is (:data:`EXIT_CODES`), never a traceback. This
package is the only one that reads the process environment (to build
:class:`~syndicate.config.Settings`).
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

from ..config import Settings, load_settings
from ..errors import ConfigError, PublishError, StoreError, SyndicateError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

F = TypeVar("F", bound=Callable[..., Any])


EXIT_CODES = {
    "error": 1, "usage": 2, "settings": 3, "database": 4, "output": 5, "port": 6,
    "content": 7,
}
"""Exit status of a command by what went wrong: ``error`` (content errors, a failed job,
anything else), ``usage`` (click's), ``settings`` (a bad setting or settings file),
``database`` (unreachable, corrupt or at another schema), ``output`` (the publication tree
cannot be written), ``port`` (the address is in use), ``content`` (no content folder)."""


def exit_code(exc: SyndicateError) -> int:
    """The :data:`EXIT_CODES` status for a library error."""
    if isinstance(exc, ConfigError):
        special = {"port": "port", "host": "port", "content_dir": "content"}
        return EXIT_CODES[special.get(exc.name or "", "settings")]
    if isinstance(exc, PublishError):
        return EXIT_CODES["output"]
    return EXIT_CODES["error"]


def command_error(message: str, code: int) -> click.ClickException:
    """``Error: <message>`` on stderr and exit status ``code``."""
    error = click.ClickException(message)
    # click reads exit_code from the instance; its stub declares a class variable.
    object.__setattr__(error, "exit_code", code)
    return error


class SyndicateGroup(click.Group):
    """The root command group: a :class:`SyndicateError` from any command, or a database
    that cannot be reached or read, becomes one ``Error: ...`` line and the exit status of
    :data:`EXIT_CODES` here, with the cause chained (never a traceback)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list with each command's whole first sentence, wrapped rather than
        cut with "..." as click does at its default width."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=500)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command line; translate library errors once, for every command."""
        import sqlalchemy as sa

        try:
            return super().invoke(ctx)
        except SyndicateError as exc:
            raise command_error(str(exc), exit_code(exc)) from exc
        except sa.exc.DBAPIError as exc:
            raise command_error(database_problem(exc), EXIT_CODES["database"]) from exc


def database_problem(exc: Exception) -> str:
    """One line about a database that cannot be used, and what to do."""
    import sqlalchemy as sa

    detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200] if str(
        getattr(exc, "orig", exc)).strip() else type(exc).__name__
    if not isinstance(exc, sa.exc.IntegrityError):
        return (f"the state database cannot be used: {detail} (check database_url / "
                "SYNDICATE_DATABASE_URL, that the server is up, and that the file is a "
                "Syndicate database; restore it from a backup if it is damaged)")
    return f"the state database refused an operation: {detail}"


def require_writable(folder: Path) -> None:
    """Refuse at once, in one line, an output folder this process cannot write (a
    read-only file system, permissions, a file in the way), before any work is done."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".syndicate-probe-"):
            pass
    except OSError as exc:
        raise PublishError(
            f"output folder {folder} cannot be written ({exc.strerror}): make it writable "
            "by this user or choose another with --out / SYNDICATE_OUT_DIR",
            path=str(folder)) from exc


def require_content(settings: Settings) -> None:
    """Refuse to run without a content folder (an empty corpus would withdraw every
    published answer)."""
    if not settings.content_dir.is_dir():
        raise ConfigError(
            f"content folder {settings.content_dir} does not exist: point content_dir "
            "(--content, SYNDICATE_CONTENT_DIR) at the answers", name="content_dir")


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
        settings = load_settings(
            config_file,
            environ=os.environ,
            overrides={"content_dir": content_dir, "locales_dir": locales_dir,
                       "out_dir": out_dir},
        )
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


def stamp(value: object) -> str:
    """A date or time for a table: ``YYYY-MM-DD HH:MM:SS`` (UTC), ``-`` when there is none."""
    if value is None:
        return "-"
    text = str(value.isoformat() if hasattr(value, "isoformat") else value)
    return text.replace("+00:00", "Z")[:19].replace("T", " ")


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


def open_store(settings: Settings) -> Engine:
    """The state store at the expected schema, closed with the command."""
    import sqlalchemy as sa

    from ..store import configure_secrets, open_engine

    configure_secrets(settings.secret_keys)
    try:
        engine = open_engine(settings.database)
    except StoreError as exc:  # unreachable, damaged, or at another schema
        cause = exc.__cause__
        if isinstance(cause, sa.exc.SQLAlchemyError):  # the driver's words, on one line
            raise command_error(database_problem(cause), EXIT_CODES["database"]) from cause
        raise command_error(str(exc), EXIT_CODES["database"]) from exc
    click.get_current_context().call_on_close(engine.dispose)
    return engine
