"""The manifest: every published file with its ETag, Last-Modified, media type and size.

``manifest.json`` is what the HTTP side serves from (:mod:`syndicate.http.static`): only
files it lists are served, with its validators. A strong ETag is the SHA-256 of the bytes;
Last-Modified comes from the file's entries, never the build time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email.utils
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._files import read_json
from .layout import MANIFEST


@dataclasses.dataclass(frozen=True, slots=True)
class FileRecord:
    """What the manifest says about one published file."""

    etag: str
    last_modified: str
    content_type: str
    size: int
    status: int = 200
    """410 for a withdrawn answer's page, 301 for a page its answer moved away from."""
    location: str | None = None
    """For a 301: where the answer is now (absolute URL)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``status`` and ``location`` only when they say something)."""
        data = dataclasses.asdict(self)
        if self.status == 200:
            del data["status"]
        if self.location is None:
            del data["location"]
        return data


def http_date(value: dt.datetime) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate)."""
    return email.utils.format_datetime(value.astimezone(dt.UTC), usegmt=True)


def read_manifest(out_dir: Path) -> dict[str, FileRecord]:
    """The manifest of the tree at ``out_dir`` (empty when there is none)."""
    files = read_json(out_dir / MANIFEST).get("files", {})
    records = {}
    for path, record in files.items():
        with contextlib.suppress(TypeError):
            records[path] = FileRecord(**record)
    return records


def manifest_bytes(records: dict[str, FileRecord]) -> bytes:
    """``json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True)`` plus a newline.

    Written out by hand: ``indent`` makes json use its pure-Python encoder, which took most
    of a rebuild with nothing to write. Strings go through json's own (C) string encoder;
    a test compares the bytes with ``json.dumps``.
    """
    if not all(type(record.size) is int and isinstance(record.etag, str)
               and isinstance(record.last_modified, str) and isinstance(record.content_type, str)
               and type(record.status) is int
               and (record.location is None or isinstance(record.location, str))
               for record in records.values()):
        # Whatever a hand-edited manifest held: the generic encoder.
        data = {"version": 1, "files": {path: records[path].to_dict() for path in sorted(records)}}
        return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()
    string = _encode_string
    files = [
        f'  {string(path)}: {{\n   "content_type": {string(record.content_type)},\n'
        f'   "etag": {string(record.etag)},\n'
        f'   "last_modified": {string(record.last_modified)},\n'
        + (f'   "location": {string(record.location)},\n' if record.location is not None
           else "")
        + f'   "size": {int(record.size)!r}'
        + (f',\n   "status": {int(record.status)!r}' if record.status != 200 else "")
        + "\n  }"
        for path, record in sorted(records.items())
    ]
    body = "{\n" + ",\n".join(files) + "\n }" if files else "{}"
    return f'{{\n "files": {body},\n "version": 1\n}}\n'.encode()


_encode_string: Callable[[str], str] = (
    json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # type: ignore[attr-defined]
)
