"""Validators shared by the feed tests: RFC 4287 RELAX NG, JSON Feed schema, feedparser."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
import pytest
from lxml import etree

from tests.conftest import ATOM_RNG


@functools.cache
def atom_schema() -> etree.RelaxNG:
    """The RFC 4287 schema kept in ``tests/fixtures/atom.rng``."""
    if not ATOM_RNG.exists():
        pytest.fail(f"RFC 4287 schema missing: expected {ATOM_RNG} (tests/fixtures/)")
    return etree.RelaxNG(etree.parse(str(ATOM_RNG)))


@functools.cache
def json_feed_validator() -> jsonschema.Draft202012Validator:
    """A validator for the package's JSON Feed 1.1 schema, formats checked."""
    text = resources.files("syndicate").joinpath("schemas/jsonfeed-1.1.json").read_text("utf-8")
    schema = json.loads(text)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid_atom(data: bytes) -> None:
    schema = atom_schema()
    doc = etree.fromstring(data)
    assert schema.validate(doc), str(schema.error_log)


def assert_valid_json_feed(data: bytes) -> dict[str, Any]:
    document = json.loads(data)
    errors = [error.message for error in json_feed_validator().iter_errors(document)]
    assert not errors, errors
    return dict(document)


def parse_feed(data: bytes) -> Any:
    """feedparser's view of an Atom or RSS document; fails on any bozo."""
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def check_file(path: Path) -> None:
    """Validate one published feed file by its extension."""
    data = path.read_bytes()
    if path.suffix == ".atom":
        assert_valid_atom(data)
        parse_feed(data)
    elif path.suffix == ".rss":
        parse_feed(data)
    elif path.suffix == ".json" and path.name != "manifest.json":
        assert_valid_json_feed(data)
