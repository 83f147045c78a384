"""Syndicate: multilingual syndication of medically reviewed health answers.

The package is a pipeline of stages, each a subpackage with its own public face:
:mod:`syndicate.answers` (answer files and catalogs to renditions),
:mod:`syndicate.publication` (renditions to the feed tree), :mod:`syndicate.webhooks`
(changes to partners), the use cases :mod:`syndicate.build` and :mod:`syndicate.sync`,
:mod:`syndicate.http` and :mod:`syndicate.service` (the running service) and
:mod:`syndicate.cli` (the ``syndicate`` command). ``docs/architecture.md`` draws the map.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .config import Settings, load_settings
from .errors import SyndicateError

__all__ = ["Settings", "SyndicateError", "__version__", "load_settings"]
