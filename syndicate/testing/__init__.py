"""Shared fakes for tests, benchmarks and partners' own tests: factories of renditions, a
synthetic corpus (:mod:`.corpus`), a fixed clock and a recording webhook receiver
(:mod:`.receiver`), and real services on loopback (:mod:`.services`).

Nothing in Syndicate imports this package; it imports Syndicate.
"""

from __future__ import annotations

from .corpus import (
    CONDITIONS,
    FIXED_NOW,
    LANGUAGES,
    answer_text,
    generate_corpus,
    make_labels,
    make_rendition,
    pseudo_translate,
    translate_all,
    write_catalog,
)
from .receiver import FixedClock, Received, Receiver, Reply, webhook_ids
from .services import postgres_schema, seed_deliveries, serve_asgi, service_env

__all__ = [
    "CONDITIONS",
    "FIXED_NOW",
    "LANGUAGES",
    "FixedClock",
    "Received",
    "Receiver",
    "Reply",
    "answer_text",
    "generate_corpus",
    "make_labels",
    "make_rendition",
    "postgres_schema",
    "pseudo_translate",
    "seed_deliveries",
    "serve_asgi",
    "service_env",
    "translate_all",
    "webhook_ids",
    "write_catalog",
]
