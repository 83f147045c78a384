"""The one grammar of language tags and safe names.

Both become folder names (``locales/<tag>/``, ``public/<tag>/<condition>/<slug>.html``), URL
paths and API filters, so both admit only what can never leave its folder: ASCII letters and
digits in short parts, no ``/``, ``..``, NUL or line break. Match them with ``fullmatch``
(:func:`is_language_tag`, :func:`is_safe_name`): with ``match`` and ``$`` a trailing newline
would pass.
"""

from __future__ import annotations

import re

from .errors import CatalogError

LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
"""A BCP 47 tag as Syndicate accepts it (``es``, ``pt-BR``, ``zh-Hans``), or its gettext
spelling (``pt_BR``, ``zh_Hans``): a primary language subtag, then letters and digits in
``-``/``_``-separated subtags."""

SAFE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
"""Answer ids, condition folders and slugs: 1 to 64 lower-case ASCII letters, digits and
inner hyphens."""


def is_language_tag(value: str) -> bool:
    """Whether ``value`` is a whole language tag."""
    return LANGUAGE_TAG.fullmatch(value) is not None


def is_safe_name(value: str) -> bool:
    """Whether ``value`` is a whole safe name (id, condition folder or slug)."""
    return SAFE_NAME.fullmatch(value) is not None


def check_language_tag(language: str) -> str:
    """``language`` if it is a language tag; :class:`CatalogError` naming it otherwise."""
    if not is_language_tag(language):
        raise CatalogError(
            f"{language!r} is not a language tag (e.g. es, pt-BR, zh-Hans)",
            path=language, language=language,
        )
    return language


def bcp47(locale_dir_name: str) -> str:
    """BCP 47 tag of a gettext locale name: ``zh_Hans`` -> ``zh-Hans``, ``pt_BR`` -> ``pt-BR``."""
    return locale_dir_name.replace("_", "-")


def gettext_name(language: str) -> str:
    """gettext locale name of a BCP 47 tag: ``zh-Hans`` -> ``zh_Hans``."""
    return language.replace("-", "_")


def slugify(name: str) -> str:
    """Folder name for a condition: ``Multiple Sclerosis`` -> ``multiple-sclerosis``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
