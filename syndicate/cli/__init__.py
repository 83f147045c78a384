"""The ``syndicate`` command line: a thin click group over the library (see :mod:`.group`)."""

from __future__ import annotations

from .group import cli, main

__all__ = ["cli", "main"]
