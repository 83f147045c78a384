"""Writing ``.po`` and ``.pot`` files that every gettext tool reads.

Babel's ``write_po`` writes the previous msgid of a fuzzy message (``#| msgid "..."``) through
its comment wrapper, which breaks the quoted string over lines at 76 columns whatever the width
asked for: GNU ``msgfmt`` then stops at "end-of-line within string", ``msgattrib``, ``polib``
and translate-toolkit refuse the file, and so would Poedit and Weblate. Babel's reader, for its
part, reads ``#|`` lines back as translator comments, so a second update would turn them into
``# | msgid ...`` prose. This module closes both gaps around Babel (it still writes everything
else): the previous msgids go through the writer as short unbreakable tokens and are put back
as one well-quoted line each, and on reading, ``#|`` comments become previous msgids again.
"""

from __future__ import annotations

import io
import re

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import escape, unescape, write_po

_TOKEN = "syndicate-previous-{}-{}"
_PREVIOUS_LINE = re.compile(r'^#\| (msgid|msgid_plural) "(syndicate-previous-\d+-\d+)"$', re.M)
_PREVIOUS_PART = re.compile(r'^(msgctxt|msgid_plural|msgid)\s+(".*")$')
_QUOTED = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def render_po(catalog: Catalog, *, template: bool = False) -> bytes:
    """A catalog as ``.po``/``.pot`` bytes: no wrapping of strings, previous msgids kept.

    Long strings are never wrapped, so a changed word shows as a one-line diff; the previous
    msgid of a fuzzy message is one ``#| msgid "..."`` line, as ``msgmerge --no-wrap`` writes it.
    """
    saved: list[tuple[Message, list[str] | None]] = []
    previous: dict[str, str] = {}
    if not template:
        for number, message in enumerate(catalog):
            if message.id and message.previous_id:
                saved.append((message, message.previous_id))
                tokens = []
                for index, text in enumerate(message.previous_id[:2]):
                    token = _TOKEN.format(number, index)
                    previous[token] = text
                    tokens.append(token)
                message.previous_id = tokens
    out = io.BytesIO()
    try:
        write_po(out, catalog, width=0, sort_by_file=template, include_previous=not template,
                 ignore_obsolete=template)
    finally:
        for message, value in saved:
            message.previous_id = value  # type: ignore[assignment]
    text = out.getvalue().decode("utf-8")
    if previous:
        text = _PREVIOUS_LINE.sub(
            lambda match: f'#| {match.group(1)} "{escape(previous[match.group(2)])[1:-1]}"',
            text)
    return text.encode("utf-8")


def restore_previous(catalog: Catalog) -> Catalog:
    """Turn the ``#|`` lines Babel's reader kept as translator comments back into previous
    msgids (``Message.previous_id``), in place; returns ``catalog``.

    Lines written by other tools are understood too: ``#| msgctxt`` (Babel keeps no previous
    context, so it is dropped) and a string continued on ``#| "..."`` lines. A ``#|`` comment
    that is not well quoted stays an ordinary comment.
    """
    for message in catalog:
        if not message.id or not any(c.startswith("|") for c in message.user_comments):
            continue
        kept = [c for c in message.user_comments if not c.startswith("|")]
        parts = _previous_parts([c[1:].strip() for c in message.user_comments
                                 if c.startswith("|")])
        if parts is None or "msgid" not in parts:
            continue
        message.user_comments = kept
        if not message.previous_id:
            ids = [parts["msgid"]]
            if "msgid_plural" in parts:
                ids.append(parts["msgid_plural"])
            message.previous_id = ids
    return catalog


def _previous_parts(lines: list[str]) -> dict[str, str] | None:
    """``{keyword: text}`` of ``#|`` lines, or ``None`` if one is not well formed."""
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        match = _PREVIOUS_PART.match(line)
        if match and _QUOTED.fullmatch(match.group(2)):
            current = parts[match.group(1)] = [match.group(2)]
        elif current is not None and _QUOTED.fullmatch(line):
            current.append(line)
        else:
            return None
    return {key: "".join(unescape(part) for part in value) for key, value in parts.items()}


PreviousIds = dict[tuple[str, str | None], list[str]]
"""Previous msgids by ``(msgid, msgctxt)``."""


def previous_ids(catalog: Catalog) -> PreviousIds:
    """The previous msgid of every message that has one (see :func:`keep_previous`)."""
    return {
        (_first(message.id), message.context): list(message.previous_id)
        for message in catalog if message.id and message.previous_id
    }


def keep_previous(merged: Catalog, before: PreviousIds) -> None:
    """After a merge, a fuzzy message's previous msgid is the text its translation was made
    for, as ``msgmerge`` keeps it: the one the old message had, if it was itself fuzzy.

    Babel's merge sets a previous msgid only for a new fuzzy match, and sets the old msgid
    even when that one was fuzzy already.
    """
    for message in merged:
        if not message.id or not message.fuzzy:
            continue
        old = message.previous_id[0] if message.previous_id else _first(message.id)
        known = before.get((old, message.context))
        if known:
            message.previous_id = known


def _first(ident: str | tuple[str, ...] | list[str]) -> str:
    return ident if isinstance(ident, str) else ident[0]
