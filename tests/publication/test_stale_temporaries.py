"""Temporary files left by killed builds are removed when the next publish starts; those
of a build still running are not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from syndicate.answers.pipeline import localize_corpus
from syndicate.publication import publish
from tests.support import hook_settings


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_publish_removes_what_killed_builds_left(workspace: Path) -> None:
    """Before: 2,030 ``.name.PID.tmp`` files after 8 killed builds, never removed."""
    settings = hook_settings(workspace, "sqlite://")
    publish(settings, localize_corpus(settings))
    out = settings.out_dir
    dead = _dead_pid()
    left = [out / f".feed.atom.{dead}.0a1b2c3d.tmp", out / "en" / f".feed.json.{dead}.tmp",
            out / "de" / f".index.html.{dead}.deadbeef.tmp"]
    alive = out / "en" / f".feed.rss.{os.getpid()}.12345678.tmp"
    unrelated = out / "en" / "notes.tmp"
    for path in (*left, alive, unrelated):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
    publish(settings, localize_corpus(settings))
    assert [path.exists() for path in left] == [False, False, False]
    assert alive.exists() and unrelated.exists()
