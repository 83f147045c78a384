"""Checked catalogs kept between runs, so ``i18n status`` answers in a moment.

Reading a catalog of 20,000 messages means a strict pass over every line and every check on
every message: about a second each. A translator asks for the status again and again while
the catalogs do not change, so what reading found is kept as JSON, one file per language,
under a key made of the catalog's bytes and the code that checks it (the source of the
reading and checking modules): any change to either reads the catalog again. A catalog that
cannot be read is never cached (its error is reported each time). The cache is only ever a
copy: deleting it changes nothing but the time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
from pathlib import Path

from .._files import write_atomic
from ..tags import gettext_name
from .catalogs import LanguageCatalog, PackedEntries, PluralRule, babel_locale, read_catalog
from .provenance import TranslationReview

FORMAT = 2
_CHECKING_MODULES = ("_po", "_markup", "catalogs", "checks", "clinical", "provenance", "render",
                     "content")


@functools.cache
def code_key() -> str:
    """Digest of the modules whose code decides what reading a catalog finds."""
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    here = Path(__file__).resolve().parent
    for name in _CHECKING_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


def read_checked(path: Path, language: str, cache_dir: Path | None, *,
                 require_review: bool = True) -> LanguageCatalog:
    """The checked catalog at ``path`` (see :func:`.catalogs.read_catalog`), from the cache
    in ``cache_dir`` when the file and the code are the ones it was made from."""
    if cache_dir is None:
        return read_catalog(path, language, require_review=require_review)
    try:
        data = path.read_bytes()
    except OSError:
        return read_catalog(path, language)  # it says why, with the path
    key = hashlib.sha256(code_key().encode() + language.encode() + data).hexdigest()
    stored = cache_dir / f"{gettext_name(language)}.json"
    cached = _load(stored, key, path, language)
    if cached is not None:
        return dataclasses.replace(cached, require_review=require_review)
    catalog = read_catalog(path, language, require_review=require_review)
    with contextlib.suppress(OSError):  # a cache that cannot be written costs time only
        write_atomic(stored, _dump(catalog, key))
    return catalog


def _dump(catalog: LanguageCatalog, key: str) -> bytes:
    rows = [[context, msgid, list(entry.strings), list(entry.source), entry.line, entry.fuzzy,
             list(entry.problems)]
            for (context, msgid), entry in catalog.entries.items()]
    return json.dumps({
        "key": key, "plural_count": catalog.plural_count,
        "plural": getattr(catalog.plural, "expression", None),
        "revised": catalog.revised.isoformat() if catalog.revised else None,
        "reviews": {answer: [r.reviewer, r.date.isoformat(), r.line]
                    for answer, r in catalog.reviews.items()},
        "entries": rows,
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _load(stored: Path, key: str, path: Path, language: str) -> LanguageCatalog | None:
    try:
        data = json.loads(stored.read_bytes())
        if data.get("key") != key or data.get("plural") is None:
            return None
        rows = {
            (context, msgid): (tuple(strings), tuple(source), line, fuzzy, tuple(problems))
            for context, msgid, strings, source, line, fuzzy, problems in data["entries"]}
        revised = dt.datetime.fromisoformat(data["revised"]) if data["revised"] else None
        reviews = {answer: TranslationReview(name, dt.date.fromisoformat(day), int(line))
                   for answer, (name, day, line) in data["reviews"].items()}
        return LanguageCatalog(
            language, babel_locale(language), str(path), PackedEntries(rows),
            int(data["plural_count"]), PluralRule(str(data["plural"])), revised, reviews)
    except (OSError, ValueError, TypeError, KeyError, SyntaxError):
        return None  # absent, from another version or damaged: read the catalog
