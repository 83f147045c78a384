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


FIXTURE = ROOT / "tests" / "fixtures" / "feeds"
GOLDEN = ROOT / "tests" / "golden" / "feeds"


def _shared_dir() -> Path:
    """``shared/`` beside the checkout; for a git worktree, beside its main checkout."""
    beside = ROOT.parent / "shared"
    git = ROOT / ".git"
    if not beside.exists() and git.is_file():
        gitdir = Path(git.read_text(encoding="utf-8").partition("gitdir:")[2].strip())
        # <main>/.git/worktrees/<name> -> <main>/../shared
        main = gitdir.parent.parent.parent
        if (main.parent / "shared").exists():
            return main.parent / "shared"
    return beside


ATOM_RNG = _shared_dir() / "atom.rng"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/ from the current output instead of comparing with it.",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    """Whether golden files are to be rewritten (``pytest --regen-golden``)."""
    return bool(request.config.getoption("--regen-golden"))


@pytest.fixture
def feed_fixture(tmp_path: Path) -> Path:
    """A writable copy of the feeds fixture corpus (English answers, Arabic catalog)."""
    import shutil

    target = tmp_path / "corpus"
    shutil.copytree(FIXTURE / "content", target / "content")
    shutil.copytree(FIXTURE / "locales", target / "locales")
    return target


@pytest.fixture
def feed_settings(feed_fixture: Path, tmp_path: Path) -> Settings:
    """Settings over the copied fixture corpus: small feeds so archives appear."""
    return load_settings(
        overrides={
            "content_dir": feed_fixture / "content",
            "locales_dir": feed_fixture / "locales",
            "out_dir": tmp_path / "public",
            "state_dir": tmp_path / "state",
            "base_url": "https://feeds.example.org",
            "feed_size": 2,
        }
    )
