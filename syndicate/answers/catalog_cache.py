"""What ``i18n status`` needs of each catalog, kept between runs so it answers in a moment.

Reading a catalog of 20,000 messages means a strict pass over every line and every check on
every message: seconds each. A translator asks for the status again and again while the
catalogs do not change, so the *digest* of a checked catalog (for each message: its line,
its state, why it is not usable and, for a message a translator may have to redo, its
translation; the medical review records) is kept as JSON, one file
per language, under a key made of the catalog's bytes and the code that checks it (the
source of the reading and checking modules): any change to either reads the catalog again.
Messages are keyed by a short hash of msgctxt and msgid, so the digest stays small. A catalog
that cannot be read is never cached (its error is reported each time). The cache is only
ever a copy: deleting it changes nothing but the time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Literal

from .._files import write_atomic
from ..tags import gettext_name
from .catalogs import (
    CONDITION_CONTEXT,
    CheckedMessages,
    Entry,
    Key,
    LanguageCatalog,
    read_catalog,
)
from .clinical import review_reasons
from .provenance import TranslationReview

FORMAT = 4
_CHECKING_MODULES = ("answers/_po", "answers/_markup", "answers/catalogs", "answers/checks",
                     "answers/clinical", "answers/provenance", "answers/render",
                     "answers/content", "tags")
"""Modules of the package (paths under it, without ``.py``) whose code the checks run."""
_CHECKING_LIBRARIES = ("babel", "markdown-it-py", "nh3")
"""Distributions whose version can change what the checks find (number formats and plural
rules of each locale, markup), besides Python's own (Unicode tables)."""


@functools.cache
def code_key() -> str:
    """Digest of the code that decides what reading a catalog finds: the modules, the
    libraries' versions and Python's (the checks' findings kept here are reused by
    ``sync`` too, whose renditions must be what a fresh reading gives)."""
    digest = hashlib.sha256(f"format {FORMAT}\0{sys.version}".encode())
    for name in _CHECKING_LIBRARIES:
        try:
            digest.update(f"\0{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"\0{name}=".encode())
    package = Path(__file__).resolve().parent.parent
    for name in _CHECKING_MODULES:
        digest.update((package / f"{name}.py").read_bytes())
    return digest.hexdigest()


EntryState = Literal["translated", "fuzzy", "untranslated", "failing"]


def entry_state(entry: Entry | None) -> EntryState:
    """How far one entry is: fuzzy counts as not translated, whatever Babel says."""
    if entry is None:
        return "untranslated"
    if entry.fuzzy:
        return "fuzzy"
    if not entry.translated:
        return "untranslated"
    if entry.problems:
        return "failing"
    return "translated"


def message_hash(key: Key) -> str:
    """A short stable name of a message (msgctxt and msgid)."""
    context = "\x04" if key[0] is None else key[0]
    return hashlib.blake2b(f"{context}\x00{key[1]}".encode(), digest_size=9).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class CatalogDigest:
    """A checked catalog reduced to what the status reports need."""

    language: str
    path: str
    entries: Mapping[str, tuple[int, EntryState, str, str]]
    """By :func:`message_hash`: ``(line, state, why not usable, translation)``; the
    translation only of a message a to-do list may show (not usable, or carrying a dose
    that may lack its review), else empty: the digest stays small."""
    reviews: Mapping[str, TranslationReview]
    require_review: bool = True

    def unreviewed_dose(self, key: Key) -> bool:
        """A translated message carrying a dose (known by the caller) whose answer has no
        review while one is required (see :meth:`.catalogs.LanguageCatalog.usable`)."""
        return self.require_review and key[0] is not None and key[0] != CONDITION_CONTEXT \
            and key[0] not in self.reviews


def digest(catalog: LanguageCatalog) -> CatalogDigest:
    """The digest of a checked catalog."""
    entries: dict[str, tuple[int, EntryState, str, str]] = {}
    for key, entry in catalog.entries.items():
        state = entry_state(entry)
        reason = catalog.why_not(key) if state != "translated" else ""
        shown = state != "translated" or (
            key[0] is not None and key[0] != CONDITION_CONTEXT and "dose" in review_reasons(key[1]))
        entries[message_hash(key)] = (entry.line, state, reason,
                                      entry.strings[0] if shown and entry.strings else "")
    return CatalogDigest(catalog.language, catalog.path, entries, dict(catalog.reviews),
                         catalog.require_review)


CACHE_FOLDER = "i18n-cache"
"""The folder under the state directory where ``i18n status``, the console and ``sync`` keep
checked catalogs and the answers' messages (one cache: each warms it for the others)."""


def read_digest(path: Path, language: str, cache_dir: Path | None, *,
                require_review: bool = True) -> CatalogDigest:
    """The digest of the catalog at ``path`` (:class:`CatalogError` if it cannot be read),
    from the cache in ``cache_dir`` when the file and the code are the ones it was made
    from."""
    if cache_dir is None:
        return digest(read_catalog(path, language, require_review=require_review))
    try:
        data = path.read_bytes()
    except OSError:
        return digest(read_catalog(path, language))  # it says why, with the path
    stored = cache_dir / f"{gettext_name(language)}.json"
    cached = _load(stored, _digest_key(language, data), language, str(path))
    if cached is not None:
        return dataclasses.replace(cached, require_review=require_review)
    # A catalog saved again: its unchanged messages keep what the checks found last time.
    checked = known_checks(cache_dir, language)
    catalog = read_catalog(path, language, require_review=require_review, checked=checked,
                           data=data)
    return record(cache_dir, language, data, catalog, checked)


def _digest_key(language: str, data: bytes) -> str:
    return hashlib.sha256(code_key().encode() + language.encode() + data).hexdigest()


def _checks_key(language: str) -> str:
    return hashlib.sha256(code_key().encode() + language.encode()).hexdigest()


def known_checks(cache_dir: Path, language: str) -> CheckedMessages:
    """What the checks found in the last reading of the language's catalog kept in
    ``cache_dir``, to be given to :func:`.catalogs.read_catalog`: only the messages changed
    since are checked again."""
    return CheckedMessages(_load_checks(cache_dir / f"{gettext_name(language)}.checks.json",
                                        _checks_key(language)))


def record(cache_dir: Path, language: str, data: bytes, catalog: LanguageCatalog,
           checked: CheckedMessages) -> CatalogDigest:
    """Keep in ``cache_dir`` the digest of ``catalog``, read from the bytes ``data`` with
    ``checked`` (:func:`known_checks`), and the checks' findings; the digest.

    Whoever reads and checks a catalog (``sync`` as well as ``i18n status``) records it, so
    the next status of an unchanged catalog reads nothing."""
    found = digest(catalog)
    with contextlib.suppress(OSError):  # a cache that cannot be written costs time only
        write_atomic(cache_dir / f"{gettext_name(language)}.json",
                     _dump(found, _digest_key(language, data)))
        write_atomic(cache_dir / f"{gettext_name(language)}.checks.json", json.dumps(
            {"key": _checks_key(language), "checked": checked.used}, ensure_ascii=False,
            separators=(",", ":")).encode("utf-8"))
    return found


def _load_checks(stored: Path, key: str) -> dict[str, list[str]]:
    """The findings kept for a language, if made by this checking code (else none)."""
    try:
        data = json.loads(stored.read_bytes())
        found = data["checked"] if data.get("key") == key else {}
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError, TypeError, KeyError):
        return {}  # absent or damaged: every message is checked again


def _dump(found: CatalogDigest, key: str) -> bytes:
    return json.dumps({
        "key": key,
        "reviews": {answer: [r.reviewer, r.date.isoformat(), r.line]
                    for answer, r in found.reviews.items()},
        "entries": found.entries,
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _load(stored: Path, key: str, language: str, path: str) -> CatalogDigest | None:
    try:
        data = json.loads(stored.read_bytes())
        if data.get("key") != key:
            return None
        reviews = {answer: TranslationReview(name, dt.date.fromisoformat(day), int(line))
                   for answer, (name, day, line) in data["reviews"].items()}
        # [line, state, reason, translation] lists, unpacked like the tuples they were: no copy
        return CatalogDigest(language, path, data["entries"], reviews)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent, from another version or damaged: read the catalog
