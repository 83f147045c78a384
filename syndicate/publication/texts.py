"""What an answer's page says beyond its rendition, in the page's language.

A build plans thousands of pages, and most of what each says besides its answer is shared:
every page of a language links the same language feed under the same heading, every page
of a condition the same condition feed. :class:`PageTexts` makes each of these once per
build and keeps them for as long as the build's plan. The notice of an overdue review
formats a date the language's way, which costs: a page's input key holds what the notice
depends on (:meth:`PageTexts.notice_key`), and the notice is made only for a page that is
rendered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import babel
from babel import Locale
from babel.dates import format_date

from ..answers import LanguageCatalog, Rendition, babel_locale, translator_for, ui
from ..config import Settings
from ..errors import CatalogError
from . import feeds, pages
from .layout import feed_name

_DATE = "\x00date\x00"
"""Stands for the date in :meth:`PageTexts.notice_key` (no translation holds it)."""


class PageTexts:
    """The texts of one build's pages, each made once."""

    def __init__(self, settings: Settings, base: str,
                 catalogs: Mapping[str, LanguageCatalog]) -> None:
        self.settings = settings
        self.base = base
        self.catalogs = catalogs
        self._made: dict[tuple[Any, ...], Any] = {}

    def page_context(self, rendition: Rendition, link: str, published: dt.datetime,
                     every: list[feeds.Translation]) -> pages.PageContext:
        """What a rendition's page shows besides the rendition (see pages), but the overdue
        notice (:meth:`with_notice`)."""
        language = rendition.language
        source = self.settings.source_language
        x_default = next((tr.url for tr in every if tr.language == source), link)
        language_feed, other_languages = self.language_texts(language)
        feed_links = (language_feed,
                      self.condition_feed(language, rendition.condition,
                                          rendition.condition_slug))
        return pages.PageContext(link, x_default, feed_links, self.settings.publisher,
                                 published, source, other_languages)

    def notice_key(self, language: str, due: dt.date) -> tuple[str, ...]:
        """Everything the overdue notice of a page due on ``due`` depends on, without
        formatting the date (thousands of pages, most due on a day of their own): the
        language's notice around its date, the date, the locale and Babel's version."""
        def make() -> str:
            return ui.review_overdue(self.translator(language), _DATE)
        template: str = self._once(("notice", language), make)
        return template, due.isoformat(), language, babel.__version__

    def with_notice(self, context: pages.PageContext, language: str, due: dt.date
                    ) -> pages.PageContext:
        """``context`` with the notice of a review overdue since ``due``."""
        return dataclasses.replace(context, overdue=self.overdue_notice(language, due))

    def language_texts(self, language: str) -> tuple[pages.FeedLink, str]:
        """The language feed's link, and the heading of the other languages' list."""
        def make() -> tuple[pages.FeedLink, str]:
            t = self.translator(language)
            return (pages.FeedLink(language, ui.feed_title(t, self.settings.publisher),
                                   f"{self.base}/{feed_name(language)}"),
                    ui.other_languages(t))
        found: tuple[pages.FeedLink, str] = self._once(("language", language), make)
        return found

    def condition_feed(self, language: str, condition: str, slug: str) -> pages.FeedLink:
        """The link of a condition's feed in a language."""
        def make() -> pages.FeedLink:
            t = self.translator(language)
            return pages.FeedLink(language,
                                  ui.condition_feed_title(t, self.settings.publisher, condition),
                                  f"{self.base}/{feed_name(language, slug)}")
        found: pages.FeedLink = self._once(("condition", language, condition, slug), make)
        return found

    def overdue_notice(self, language: str, due: dt.date) -> str:
        """The notice of a page whose review was due on ``due``."""
        def make() -> str:
            locale = self._once(("locale", language), lambda: _locale(language))
            day = format_date(due, format="long", locale=locale) if locale else due.isoformat()
            return ui.review_overdue(self.translator(language), str(day))
        found: str = self._once(("overdue", language, due), make)
        return found

    def translator(self, language: str) -> ui.Translator:
        """The interface-string translator of ``language``."""
        found: ui.Translator = self._once(
            ("translator", language), lambda: translator_for(self.catalogs.get(language)))
        return found

    def _once(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]


def _locale(language: str) -> Locale | None:
    """The Babel locale of ``language``; ``None`` for a tag Babel does not know."""
    try:
        return babel_locale(language)
    except CatalogError:
        return None
