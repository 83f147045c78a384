"""What an operator's mistake looks like: one ``Error: ...`` line naming the thing and the
fix, and an exit status per kind of problem (never a traceback)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicate.cli import cli
from syndicate.cli._common import EXIT_CODES
from tests.support import ROOT


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    return result.exit_code, result.output


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_the_exit_codes_are_distinct() -> None:
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)


def test_a_corrupt_database(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "syndicate.db").write_bytes(b"this is not a database" * 100)
    code, output = _run(["status"], env={"SYNDICATE_STATE_DIR": str(state)})
    assert code == EXIT_CODES["database"]
    line = _one_error_line(output)
    assert "file is not a database" in line and "backup" in line


def test_an_unreachable_database() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://nobody@127.0.0.1:{port}/none?connect_timeout=3"
    code, output = _run(["jobs", "list"], env={"SYNDICATE_DATABASE_URL": url})
    assert code == EXIT_CODES["database"]
    assert "SYNDICATE_DATABASE_URL" in _one_error_line(output)


def test_bad_settings(tmp_path: Path) -> None:
    code, output = _run(["status"], env={"SYNDICATE_FEED_SIZE": "many"})
    assert code == EXIT_CODES["settings"]
    assert "feed_size" in _one_error_line(output)
    code, output = _run(["status"], env={"SYNDICATE_LOG_LEVEL": "loud"})
    assert code == EXIT_CODES["settings"] and "log_level" in _one_error_line(output)


def test_an_output_folder_that_cannot_be_written(tmp_path: Path) -> None:
    """A file where the folder should be (read-only folders are refused the same way; the
    tests may run as root, for whom permissions do not apply)."""
    (tmp_path / "taken").write_text("a file")
    out = tmp_path / "taken" / "public"
    args = ["build", "--content", str(ROOT / "content"), "--locales", str(ROOT / "locales"),
            "--out", str(out)]
    code, output = _run(args)
    assert code == EXIT_CODES["output"]
    line = _one_error_line(output)
    assert str(out) in line and "--out" in line
    if os.geteuid() != 0:
        readonly = tmp_path / "readonly"
        readonly.mkdir()
        readonly.chmod(0o555)
        args[-1] = str(readonly)
        code, output = _run(args)
        assert code == EXIT_CODES["output"] and "cannot be written" in _one_error_line(output)


@pytest.mark.parametrize("command", [["build"], ["validate"], ["sync"], ["run"],
                                     ["jobs", "run", "sync"]])
def test_a_missing_content_folder(tmp_path: Path, command: list[str]) -> None:
    """Nothing is built, synced or withdrawn when the content folder is not there."""
    env = {"SYNDICATE_STATE_DIR": str(tmp_path / "state"), "SYNDICATE_PORT": "0",
           "SYNDICATE_OUT_DIR": str(tmp_path / "public")}
    code, output = _run([*command, "--content", str(tmp_path / "nothere")], env=env)
    assert code == EXIT_CODES["content"]
    assert "nothere" in _one_error_line(output)
    assert not (tmp_path / "public" / "en").exists()


def test_a_port_in_use(tmp_path: Path) -> None:
    """`syndicate run` on a taken port: one line on stderr, exit status 6, nothing else."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "SYNDICATE_PORT": str(port), "SYNDICATE_HOST": "127.0.0.1",
               "SYNDICATE_STATE_DIR": str(tmp_path / "state"),
               "SYNDICATE_OUT_DIR": str(tmp_path / "public"),
               "SYNDICATE_CONTENT_DIR": str(ROOT / "content"),
               "SYNDICATE_LOCALES_DIR": str(ROOT / "locales")}
        done = subprocess.run([sys.executable, "-m", "syndicate", "run"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == EXIT_CODES["port"], done.stderr
    assert done.stderr.strip() == (
        f"Error: setting port: 127.0.0.1:{port} is already in use: stop the other process or "
        "choose another port (--port, SYNDICATE_PORT)")
    assert done.stdout == ""


def test_a_database_at_another_schema_and_an_unknown_id(tmp_path: Path) -> None:
    """A database migrated by a newer release is a database problem (4); asking for a
    subscriber that does not exist is not (1)."""
    import sqlalchemy as sa

    from syndicate import store

    env = {"SYNDICATE_STATE_DIR": str(tmp_path / "state")}
    code, output = _run(["subscribers", "show", "sub_0123456789abcdef"], env=env)
    assert code == EXIT_CODES["error"] and "no subscriber" in _one_error_line(output)
    engine = store.open_engine(f"sqlite:///{tmp_path / 'state' / 'syndicate.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    engine.dispose()
    code, output = _run(["status"], env=env)
    assert code == EXIT_CODES["database"]
    assert "newer than this Syndicate" in _one_error_line(output)
