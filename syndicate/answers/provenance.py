"""Who medically reviewed a language's translation of an answer, and when.

The record lives in the catalog, where translators work, as a translator comment on any
message of the answer (its title is the natural place)::

    # medical-review: 2026-11-20 Dr. Jana Weber
    msgctxt "75da64d16c9fcccc"
    msgid "What causes Lupus?"

Translator comments (``#`` and a space) are the part of an entry that Poedit, Weblate and
the GNU tools keep as they are (``msgmerge`` and ``syndicate i18n update`` carry them over;
Poedit shows them as the translator's comment, Weblate as a comment on the string), unlike
``#.`` lines, which extraction rewrites. The date is the day of the review (ISO 8601), the
rest the reviewer's name. A record is refused, with its line, when its date is not a date,
lies after the file's ``PO-Revision-Date`` (the tool stamps the file when it is saved, so a
later review date is not true) or the name is missing or unprintable; the answer's title
then fails the check, so a mistyped record blocks rather than passes silently.

Pure functions; below :mod:`.catalogs`, which attaches the records to the catalog.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

_RECORD = re.compile(r"^#[ \t]+medical-review:[ \t]*(.*?)[ \t]*$", re.M | re.I)
_CONTEXT = re.compile(r'^[ \t]*msgctxt[ \t]+"((?:[^"\\]|\\.)*)"', re.M)
_FORM = re.compile(r"(\d{4}-\d{2}-\d{2})[ \t]+(\S.*)")
MAX_NAME = 120
EXAMPLE = "# medical-review: YYYY-MM-DD Name of the reviewer"


class TranslationReview(NamedTuple):
    """A medical review of one answer's translation in one language."""

    reviewer: str
    date: dt.date
    line: int
    """Line of the record in the catalog."""

    def as_dict(self) -> dict[str, str]:
        """What the feeds and events carry."""
        return {"reviewed": self.date.isoformat(), "reviewed_by": self.reviewer}


def read_reviews(
    text: str, revised: dt.datetime | None
) -> tuple[dict[str, TranslationReview], dict[int, list[str]]]:
    """The records of a catalog's text by answer id (the newest of each answer), and the
    problems of the refused ones by the line of the ``msgid`` they are on."""
    reviews: dict[str, TranslationReview] = {}
    problems: dict[int, list[str]] = {}
    if "medical-review:" not in text.lower():
        return reviews, problems
    for match in _RECORD.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        context, msgid_line = _entry_after(text, match.end())
        if context is None:
            problems.setdefault(msgid_line, []).append(
                f"medical review record at line {line} is not on an answer's message "
                "(it needs the answer's msgctxt)")
            continue
        review, problem = parse_record(match.group(1), line, revised)
        if review is None:
            problems.setdefault(msgid_line, []).append(
                f"medical review record at line {line}: {problem} (write {EXAMPLE!r})")
        elif context not in reviews or reviews[context].date < review.date:
            reviews[context] = review
    return reviews, problems


def _entry_after(text: str, start: int) -> tuple[str | None, int]:
    """The msgctxt of the entry a comment ending at ``start`` belongs to, and the line of its
    ``msgid`` (Babel's line of the entry)."""
    end = text.find("\n\n", start)
    block = text[start:end if end >= 0 else len(text)]
    msgid = block.find("msgid ")
    msgid_line = text.count("\n", 0, start + max(msgid, 0)) + 1
    match = _CONTEXT.search(block)
    if match is None or (msgid >= 0 and match.start() > msgid):
        return None, msgid_line
    return match.group(1), msgid_line


def parse_record(
    value: str, line: int, revised: dt.datetime | None
) -> tuple[TranslationReview | None, str]:
    """One record's ``YYYY-MM-DD Name``, checked; or ``None`` and what is wrong with it."""
    form = _FORM.fullmatch(value)
    if form is None:
        return None, "expected a date and the reviewer's name"
    try:
        date = dt.date.fromisoformat(form.group(1))
    except ValueError:
        return None, f"{form.group(1)} is not a date"
    name = form.group(2).strip()
    if len(name) > MAX_NAME or not name.isprintable() or not any(c.isalpha() for c in name):
        return None, f"the reviewer's name must be 1 to {MAX_NAME} printable characters"
    if revised is not None and date > revised.date():
        return None, (f"{date.isoformat()} is after the file's PO-Revision-Date "
                      f"{revised.date().isoformat()}")
    return TranslationReview(name, date, line), ""
