"""Answers in, renditions out: the first stage.

Answer files are parsed and validated (:mod:`.content`), cut into messages for the gettext
catalogs translators keep (:mod:`.catalogs`, checked by :mod:`.checks`; their commands in
:mod:`.translators`), and localized into complete renditions, or refused with reasons
(:mod:`.localize`, rendered to safe HTML by :mod:`.render`, with the interface strings of
:mod:`.ui`), for the whole corpus at once (:mod:`.pipeline`). Pure but for reading
``content/`` and ``locales/``, and the translators' commands, which write catalogs.
"""

from __future__ import annotations

from .catalogs import (
    DOMAIN,
    LanguageCatalog,
    answer_messages,
    babel_locale,
    catalog_path,
    discover_languages,
    read_catalog,
    template_path,
)
from .content import Answer, Block, Corpus, Problem, load_corpus, parse_answer
from .localize import (
    Incomplete,
    Labels,
    Rendition,
    localize,
    localize_source,
    mark_stale,
    translator_for,
)
from .pipeline import Localization, Progress, localize_corpus, target_languages
from .render import XML_INVALID, escape

__all__ = [
    "DOMAIN",
    "XML_INVALID",
    "Answer",
    "Block",
    "Corpus",
    "Incomplete",
    "Labels",
    "LanguageCatalog",
    "Localization",
    "Problem",
    "Progress",
    "Rendition",
    "answer_messages",
    "babel_locale",
    "catalog_path",
    "discover_languages",
    "escape",
    "load_corpus",
    "localize",
    "localize_corpus",
    "localize_source",
    "mark_stale",
    "parse_answer",
    "read_catalog",
    "target_languages",
    "template_path",
    "translator_for",
]
