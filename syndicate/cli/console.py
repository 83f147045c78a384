"""Commands of the web console: operators' and translators' credentials.

Registered on the ``syndicate`` group by :mod:`syndicate.cli.group`; partners sign in to the
console with their API tokens (``syndicate tokens issue``), so only operators and
translators need these.
"""

from __future__ import annotations

import click

from ..config import Settings
from ._common import emit_json, open_store, settings_options, table


@click.group("console")
def console_group() -> None:
    """The web console (served by `syndicate run` under /console): sign-in credentials.

    \b
    Example:
      syndicate console credential create alice --role operator
    """


@console_group.group("credential")
def credential() -> None:
    """Operators' and translators' console credentials: create, list, revoke.

    \b
    Example:
      syndicate console credential list
    """


@credential.command("create")
@settings_options
@click.argument("name")
@click.option("--role", type=click.Choice(["operator", "translator"]), default="operator",
              show_default=True, help="operator: every page; translator: translations only.")
@click.option("--json", "as_json", is_flag=True, help="Print the record and credential as JSON.")
def credential_create(settings: Settings, name: str, role: str, as_json: bool) -> None:
    """Create a console credential; it is printed once, only its hash is kept.

    NAME names the person (lower-case letters, digits, '.', '_', '-'). Sign in at
    <base_url>/console/ with the printed syc_... text.

    \b
    Example:
      syndicate console credential create lena --role translator
    """
    from .._time import utc_now
    from ..console import create_credential

    record, text = create_credential(open_store(settings), name, role, now=utc_now())
    if as_json:
        emit_json(dict(record.to_dict(), credential=text))
        return
    click.echo(text)
    click.echo(f"{role} credential {record.id} for {name} (shown once: store it now)", err=True)


@credential.command("list")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def credential_list(settings: Settings, as_json: bool) -> None:
    """List console credentials (ids, names, roles; the secrets are not kept).

    \b
    Example:
      syndicate console credential list --json
    """
    from ..console import list_credentials

    found = list_credentials(open_store(settings))
    if as_json:
        emit_json([c.to_dict() for c in found])
        return
    rows = [[c.id, c.name, c.role, c.to_dict()["created_at"], c.to_dict()["revoked_at"]
             or "active"] for c in found]
    click.echo(table(rows, ["id", "name", "role", "created", "revoked"]))


@credential.command("revoke")
@settings_options
@click.argument("credential_id")
def credential_revoke(settings: Settings, credential_id: str) -> None:
    """Revoke a console credential; its sessions end at once.

    \b
    Example:
      syndicate console credential revoke 3f9a1c2b4d5e
    """
    from .._time import utc_now
    from ..console import revoke_credential

    revoke_credential(open_store(settings), credential_id, now=utc_now())
    click.echo(f"{credential_id}: revoked")
