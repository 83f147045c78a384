"""What every command shares: the settings options, output helpers, the state store, and the
one place where library errors become command-line errors.

Commands are thin: parse, call the library, print. Library errors are
:class:`~syndicate.errors.SyndicateError`; :class:`SyndicateGroup` turns any of them, raised
by any command, into a one-line ``Error: ...`` and exit status 1 (never a traceback). This
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
from ..errors import SyndicateError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

F = TypeVar("F", bound=Callable[..., Any])


class SyndicateGroup(click.Group):
    """The root command group: a :class:`SyndicateError` from any command becomes a
    :class:`click.ClickException` here, with the cause chained."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command line; translate library errors once, for every command."""
        try:
            return super().invoke(ctx)
        except SyndicateError as exc:
            raise click.ClickException(str(exc)) from exc


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
    from ..store import configure_secrets, open_engine

    configure_secrets(settings.secret_keys)
    engine = open_engine(settings.database)
    click.get_current_context().call_on_close(engine.dispose)
    return engine
