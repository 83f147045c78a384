"""Interface strings: everything a feed or page says besides the answers themselves.

They are gettext messages like the answers' text and live in the same catalogs. Each function
takes a :class:`Translator` so the strings are marked for ``pybabel extract`` (keywords
``gettext`` and ``ngettext``) and translated at one place. The ``# Translators:`` comment
right above each call becomes the message's ``#.`` line in the template (extraction runs with
that comment tag, ``pybabel extract -c Translators:``): what the string is and where it shows.
"""

from __future__ import annotations

from typing import Protocol


class Translator(Protocol):
    """The part of :class:`gettext.NullTranslations` Syndicate uses."""

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...

    def pgettext(self, context: str, message: str) -> str: ...


class SourceTranslator:
    """The source language: every message is its own translation."""

    def gettext(self, message: str) -> str:
        """Return ``message``."""
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """English plural rule."""
        return singular if n == 1 else plural

    def pgettext(self, context: str, message: str) -> str:
        """Return ``message``."""
        return message


def short_answer(t: Translator) -> str:
    """Label of the short answer."""
    # Translators: Label above the short answer, the first paragraph of every answer.
    return t.gettext("Short answer")


def medically_reviewed(t: Translator) -> str:
    """Badge shown on every answer."""
    # Translators: Badge shown on every answer: a clinician has reviewed the source text.
    return t.gettext("Medically reviewed")


def last_reviewed(t: Translator, date: str) -> str:
    """When the answer was last medically reviewed; ``date`` already formatted."""
    # Translators: Under an answer's title. {date} is the date of the medical review, already
    # written the language's way (6 de abril de 2026).
    return t.gettext("Last reviewed on {date}").format(date=date)


def review_due(t: Translator, date: str) -> str:
    """When the next medical review is due; ``date`` already formatted."""
    # Translators: Under an answer's title. {date} is when the next medical review is due,
    # already written the language's way.
    return t.gettext("Next review due on {date}").format(date=date)


def reviewed_by(t: Translator, name: str) -> str:
    """Who reviewed the answer."""
    # Translators: Under an answer's title. {name} is the reviewer's name as written in the
    # answer (not translated).
    return t.gettext("Reviewed by {name}").format(name=name)


def disclaimer(t: Translator) -> str:
    """The medical disclaimer carried by every item."""
    # Translators: The medical disclaimer carried by every item of every feed. Keep its legal
    # meaning exactly; ask for review if unsure.
    return t.gettext(
        "Medical Disclaimer: This information is for educational purposes only and does not "
        "constitute professional medical advice, diagnosis, or treatment. Always seek the advice "
        "of your physician or other qualified health provider with any questions you may have "
        "regarding a medical condition."
    )


def experiences(t: Translator, n: int, count: str, condition: str, publisher: str) -> str:
    """How many people shared their experience; ``count`` is ``n`` formatted for the locale."""
    # Translators: At the end of an answer. {n} is the count already written the language's
    # way, {condition} the translated condition name, {publisher} the site's name. Use as many
    # plural forms as the Plural-Forms header says.
    return t.ngettext(
        "{n} person with {condition} has shared their first-person experience on this "
        "question at {publisher}.",
        "{n} people with {condition} have shared their first-person experience on this "
        "question at {publisher}.",
        n,
    ).format(n=count, condition=condition, publisher=publisher)


def attribution(t: Translator, publisher: str) -> str:
    """Credit to the publisher of the answer."""
    # Translators: Credit at the end of every item. {publisher} is the site's name (not
    # translated).
    return t.gettext("Source: {publisher}").format(publisher=publisher)


def read_original(t: Translator) -> str:
    """Text of the link to the answer's page."""
    # Translators: Text of the link from a feed item to the answer's page.
    return t.gettext("Read the answer on the publisher's site")


def feed_title(t: Translator, publisher: str) -> str:
    """Title of a language's main feed."""
    # Translators: Title of a language's main feed, shown in feed readers. {publisher} is the
    # site's name.
    return t.gettext("{publisher}: health answers").format(publisher=publisher)


def condition_feed_title(t: Translator, publisher: str, condition: str) -> str:
    """Title of a language's feed for one condition."""
    # Translators: Title of the feed of one condition. {publisher} is the site's name,
    # {condition} the translated condition name.
    return t.gettext("{publisher}: answers about {condition}").format(
        publisher=publisher, condition=condition
    )


def feed_subtitle(t: Translator) -> str:
    """Description of every feed."""
    # Translators: Description of every feed, shown in feed readers.
    return t.gettext("Medically reviewed answers to questions about health conditions.")


def stale_notice(t: Translator, shown: str, source: str) -> str:
    """Notice on a translation that lags behind a newer review of the source."""
    # Translators: Notice on a translation older than the latest review of the original.
    # {shown} and {source} are dates already written the language's way.
    return t.gettext(
        "This translation shows the version reviewed on {shown}. The original answer was "
        "reviewed again on {source}; its updated translation is not available yet."
    ).format(shown=shown, source=source)


def withdrawn_title(t: Translator) -> str:
    """Heading of a withdrawn answer's page."""
    # Translators: Heading of the page left where an answer was withdrawn by its publisher.
    return t.gettext("This answer was withdrawn")


def withdrawn_notice(t: Translator, publisher: str) -> str:
    """Why a withdrawn answer is gone: on its page and in its feeds' deletion notices."""
    # Translators: Shown on a withdrawn answer's page and in feed readers' deletion notices.
    # {publisher} is the site's name (not translated).
    return t.gettext(
        "{publisher} withdrew this answer. Do not rely on copies of it shown elsewhere."
    ).format(publisher=publisher)


def review_overdue(t: Translator, date: str) -> str:
    """Notice on an answer whose medical review date has passed (it stays published)."""
    # Translators: Notice on an answer whose medical review is late. {date} is a date already
    # written the language's way.
    return t.gettext(
        "Review overdue: this answer was due for medical review on {date}."
    ).format(date=date)


def other_languages(t: Translator) -> str:
    """Heading of the list of an answer's other languages on its page."""
    # Translators: Heading of the list of links to the same answer in other languages.
    return t.gettext("Other languages")


class _Recorder:
    """A :class:`Translator` that writes down every message it is asked for."""

    def __init__(self) -> None:
        self.found: list[str | tuple[str, str]] = []

    def gettext(self, message: str) -> str:
        self.found.append(message)
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        self.found.append((singular, plural))
        return singular if n == 1 else plural

    def pgettext(self, context: str, message: str) -> str:
        self.found.append(message)
        return message


def interface_messages() -> list[str | tuple[str, str]]:
    """Every interface string, in order, without repeats: a msgid, or (singular, plural)."""
    recorder = _Recorder()
    all_messages(recorder)
    return list(dict.fromkeys(recorder.found))


def all_messages(t: Translator) -> None:
    """Call every interface string once (used to list and check them)."""
    short_answer(t)
    medically_reviewed(t)
    last_reviewed(t, "")
    review_due(t, "")
    reviewed_by(t, "")
    disclaimer(t)
    experiences(t, 1, "1", "", "")
    attribution(t, "")
    read_original(t)
    feed_title(t, "")
    condition_feed_title(t, "", "")
    feed_subtitle(t)
    stale_notice(t, "", "")
    withdrawn_title(t)
    withdrawn_notice(t, "")
    review_overdue(t, "")
    other_languages(t)
