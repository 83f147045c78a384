"""Factories and a synthetic corpus: renditions with sensible defaults, and answer files with
fully translated catalogs (pseudo-translations that keep numbers, placeholders and markup)
for benchmarks and large tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import write_po

from ..answers import Corpus, Labels, Rendition, answer_messages, catalog_path, load_corpus, ui
from ..tags import gettext_name

FIXED_NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
"""A fixed clock for tests: nothing in Syndicate may depend on the real time."""


def make_labels(**overrides: Any) -> Labels:
    """Interface strings of a rendition, English by default."""
    values: dict[str, Any] = {
        "medically_reviewed": "Medically reviewed",
        "short_answer": "Short answer",
        "last_reviewed": "Last reviewed on April 6, 2026",
        "review_due": "Next review due on April 6, 2027",
        "reviewed_by": "Reviewed by Dr. Ana Núñez",
        "experiences": None,
        "disclaimer": "Medical Disclaimer: This information is for educational purposes only.",
        "attribution": "Source: DiseaseMaps",
        "read_original": "Read the answer on the publisher's site",
    }
    values.update(overrides)
    return Labels(**values)


def make_rendition(**overrides: Any) -> Rendition:
    """A complete rendition; any field can be overridden (``labels`` takes a dict too)."""
    answer_id = overrides.get("answer_id", "0123456789abcdef")
    labels = overrides.pop("labels", None)
    values: dict[str, Any] = {
        "answer_id": answer_id,
        "language": "en",
        "direction": "ltr",
        "condition": "Lupus",
        "condition_slug": "lupus",
        "slug": f"answer-{answer_id[:6]}",
        "title": "What causes Lupus?",
        "summary_html": "<p>The exact cause is not fully understood.</p>",
        "summary_text": "The exact cause is not fully understood.",
        "body_html": "<p>The exact cause is not fully understood.</p>\n<h2>Genes</h2>\n"
        "<p>Over 100 genetic variants contribute.</p>",
        "url": f"https://diseasemaps.example/lupus/answer-{answer_id[:6]}",
        "reviewed": dt.date(2026, 4, 6),
        "review_due": dt.date(2027, 4, 6),
        "reviewed_by": "Dr. Ana Núñez",
        "experiences": 0,
        "labels": make_labels(),
        "updated": dt.datetime(2026, 4, 6, tzinfo=dt.UTC),
        "source_hash": hashlib.sha256(answer_id.encode()).hexdigest(),
        "source_reviewed": dt.date(2026, 4, 6),
    }
    if isinstance(labels, Labels):
        values["labels"] = labels
    elif isinstance(labels, dict):
        values["labels"] = dataclasses.replace(values["labels"], **labels)
    values.update(overrides)
    return Rendition(**values)


# -- synthetic corpus ------------------------------------------------------------------------

CONDITIONS = (
    "Lupus", "Asthma", "Migraine", "Psoriasis", "Epilepsy", "Gout", "Anemia", "Eczema",
    "Glaucoma", "Scoliosis", "Sarcoidosis", "Fibromyalgia", "Hepatitis", "Tinnitus",
    "Vertigo", "Rosacea", "Celiac Disease", "Crohn Disease", "Multiple Sclerosis", "Narcolepsy",
)
LANGUAGES = ("es", "fr", "de", "ar", "zh-Hans", "pt", "it", "nl", "ru", "ja", "tr", "pl")
"""Target languages of the synthetic corpus, in the order they are taken."""

_SENTENCES = (
    "Researchers have identified over {n} genetic variants that contribute to susceptibility",
    "About {n} percent of people notice the first signs before the age of {m}",
    "Treatment usually combines medication, rest and regular check-ups every {n} months",
    "Symptoms can come and go, and **flares** may last from {n} days to several weeks",
    "A doctor will ask about family history and may order up to {n} different tests",
    "Exercise of about {n} minutes a day helps many people keep symptoms under control",
)
_VOWELS = str.maketrans("aeiouAEIOU", "áéíóúÁÉÍÓÚ")
_KEEP = re.compile(r"(\{[^}]*\}|https?://\S+|\]\([^)]*\)|`[^`]*`|\d[\d.,]*(?: ?[A-Za-z%]+)?"
                   r"|\b(?:not|no|never|nor|cannot|without|avoid)\b|n't)")
"""What a pseudo-translation keeps: placeholders, URLs, link targets, code, numbers with the
unit word after them and negations (the translation checks compare those with the source)."""


def pseudo_translate(text: str, language: str) -> str:
    """A fake translation that keeps placeholders, URLs, link targets, code and numbers (with
    their units)."""
    parts = _KEEP.split(text)
    out = [part if index % 2 else part.translate(_VOWELS) for index, part in enumerate(parts)]
    return f"[{language}] " + "".join(out)


def _paragraph(seed: int, sentences: int) -> str:
    chosen = []
    for k in range(sentences):
        template = _SENTENCES[(seed + k) % len(_SENTENCES)]
        chosen.append(template.format(n=(seed * 7 + k) % 90 + 10, m=(seed + k) % 30 + 20) + ".")
    return " ".join(chosen)


def answer_text(index: int, condition: str, body_bytes: int = 4000) -> tuple[str, str, str]:
    """``(answer id, slug, file text)`` of synthetic answer number ``index``."""
    answer_id = hashlib.sha256(f"answer-{index}".encode()).hexdigest()[:16]
    slug = f"question-{index:05d}"
    reviewed = dt.date(2024, 1, 1) + dt.timedelta(days=index % 850)
    lines = [
        "---",
        f"id: {answer_id}",
        f"condition: {condition}",
        f"question: What is question {index} about {condition}?",
        f"reviewed: {reviewed.isoformat()}",
        f"review_due: {(reviewed + dt.timedelta(days=365)).isoformat()}",
        "reviewed_by: Dr. Ana Núñez",
        f"experiences: {index % 40}",
        f"url: https://diseasemaps.example/{condition.lower().replace(' ', '-')}/{slug}",
        "status: published",
        "---",
        _paragraph(index, 3),
        "",
    ]
    section = 0
    while len("\n".join(lines).encode()) < body_bytes:
        section += 1
        lines += [f"## Part {section} of the answer", "", _paragraph(index + section, 4), ""]
        lines += [f"- {_paragraph(index + section + k, 1)}" for k in range(3)] + [""]
    return answer_id, slug, "\n".join(lines)


def write_catalog(
    locales_dir: Path,
    language: str,
    messages: list[tuple[str | None, str | tuple[str, str], str | tuple[str, ...]]],
    revised: dt.datetime = FIXED_NOW,
) -> Path:
    """Write a ``.po`` file from ``(context, msgid, translation)`` triples."""
    catalog = Catalog(
        locale=gettext_name(language), domain="syndicate", project="Syndicate",
        version="0.1", creation_date=revised, revision_date=revised, fuzzy=False,
    )
    for context, msgid, translation in messages:
        catalog.add(msgid, translation, context=context)
    path = catalog_path(locales_dir, language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_po(out, catalog, width=0, omit_header=False)
    return path


def translate_all(
    corpus: Corpus, language: str, translate: Any = pseudo_translate
) -> list[tuple[str | None, str | tuple[str, str], str | tuple[str, ...]]]:
    """Messages of every answer of ``corpus`` and every interface string, translated."""
    count = get_plural(gettext_name(language)).num_plurals
    messages: list[tuple[str | None, str | tuple[str, str], str | tuple[str, ...]]] = []
    seen: set[tuple[str | None, str]] = set()
    for answer in corpus.published:
        for message in answer_messages(answer):
            key = (message.context, message.text)
            if key not in seen:
                seen.add(key)
                messages.append((message.context, message.text,
                                 translate(message.text, language)))
    for source in ui.interface_messages():
        msgid = source if isinstance(source, str) else source[0]
        if (None, msgid) in seen:
            continue
        seen.add((None, msgid))
        if isinstance(source, tuple):
            forms = tuple(translate(source[min(k, 1)], language) for k in range(count))
            messages.append((None, source, forms))
        else:
            messages.append((None, source, translate(source, language)))
    return messages


def generate_corpus(
    root: Path,
    answers: int = 1000,
    languages: int = 10,
    conditions: int = 20,
    body_bytes: int = 4000,
) -> tuple[Path, Path, tuple[str, ...]]:
    """Write ``answers`` answer files and ``languages - 1`` fully translated catalogs.

    Returns ``(content_dir, locales_dir, target languages)``; the source language is ``en``
    and counts as one of ``languages``.
    """
    content_dir = root / "content"
    locales_dir = root / "locales"
    names = CONDITIONS[: max(1, min(conditions, len(CONDITIONS)))]
    for index in range(answers):
        condition = names[index % len(names)]
        folder = content_dir / condition.lower().replace(" ", "-")
        folder.mkdir(parents=True, exist_ok=True)
        _, slug, text = answer_text(index, condition, body_bytes)
        (folder / f"{slug}.md").write_text(text, encoding="utf-8")
    targets = LANGUAGES[: max(0, languages - 1)]
    corpus = load_corpus(content_dir)
    for language in targets:
        write_catalog(locales_dir, language, translate_all(corpus, language))
    return content_dir, locales_dir, targets
