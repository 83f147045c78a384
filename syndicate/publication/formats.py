"""A feed document in each format: :func:`render` picks the writer."""

from __future__ import annotations

from collections.abc import Callable

from .atom import render_atom, render_rss
from .feeds import Document
from .jsonfeed import render_json
from .layout import Format

RENDERERS: dict[Format, Callable[[Document], bytes]] = {
    "atom": render_atom, "rss": render_rss, "json": render_json,
}


def render(doc: Document, fmt: Format) -> bytes:
    """``doc`` in ``fmt``."""
    return RENDERERS[fmt](doc)
