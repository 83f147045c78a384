"""Syndicate: multilingual syndication of medically reviewed health answers."""

from __future__ import annotations

__version__ = "0.1.0"
