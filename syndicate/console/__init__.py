"""The web console: partners manage their webhooks, operators watch the service, translators
see what blocks their language.

Served by ``syndicate run`` under ``/console`` (:func:`create_console`), rendered on the
server from Jinja2 templates; every action is a form, so it works without JavaScript.
Partners sign in with their API token, operators and translators with console credentials
(:mod:`.credentials`, created by ``syndicate console credential create``). Pages read and
change data only through :mod:`.data`; the last day's charts are :mod:`.charts`.
"""

from __future__ import annotations

from .app import create_console
from .credentials import (
    Credential,
    Principal,
    create_credential,
    list_credentials,
    revoke_credential,
)

__all__ = [
    "Credential",
    "Principal",
    "create_console",
    "create_credential",
    "list_credentials",
    "revoke_credential",
]
