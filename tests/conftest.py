"""Shared fixtures: settings over temporary folders, and the project's own folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project_root() -> Path:
    """The repository checkout (bundled content and catalogs)."""
    return ROOT


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over the bundled content and catalogs, writing under ``tmp_path``."""
    return load_settings(
        overrides={
            "content_dir": ROOT / "content",
            "locales_dir": ROOT / "locales",
            "out_dir": tmp_path / "public",
            "state_dir": tmp_path / "state",
        }
    )
