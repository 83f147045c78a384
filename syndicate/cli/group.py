"""The ``syndicate`` command: one click group, every command registered here, explicitly.

Commands live in modules by what they act on (answers and the tree, translators' catalogs,
webhooks and partners, the running service); none of them knows this group.
"""

from __future__ import annotations

import click

from .. import __version__
from . import build, console, i18n, service, webhooks
from ._common import SyndicateGroup


@click.group(cls=SyndicateGroup)
@click.version_option(__version__, prog_name="syndicate")
def cli() -> None:
    """Syndicate: medically reviewed health answers, localized and syndicated.

    \b
    Example:
      syndicate validate && syndicate build
    """


for command in (
    build.validate, build.build,
    i18n.i18n_group,
    webhooks.db, webhooks.sync, webhooks.deliver, webhooks.subscribers, webhooks.deliveries,
    webhooks.tokens,
    service.run, service.worker, service.jobs, service.status,
    console.console_group,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="syndicate")
