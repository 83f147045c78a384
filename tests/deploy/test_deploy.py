"""deploy/: the example settings list every setting, the compose file and the systemd
units start real commands, nginx accepts its configuration and serves the tree with the
built-in server's cache semantics, and the commands the files run work."""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from syndicate.cli import cli
from syndicate.config import Settings, load_settings
from tests.support import ROOT, Proc, service_env

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def test_example_settings_document_every_setting() -> None:
    """Every Settings field is in the example file, with a comment above it, and the file
    loads as settings."""
    text = (DEPLOY / "syndicate.example.toml").read_text(encoding="utf-8")
    section = tomllib.loads(text)["syndicate"]
    assert set(section) == {field.name for field in dataclasses.fields(Settings)}
    lines = text.splitlines()
    for name in section:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name} = "))
        assert lines[index - 1].startswith("#"), f"{name} has no comment"
    load_settings(DEPLOY / "syndicate.example.toml")


def _argv(command: list[str] | str) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else command


def test_compose_runs_postgres_the_service_and_workers() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert _argv(services["migrate"]["command"]) == ["syndicate", "db", "upgrade"]
    assert _argv(services["service"]["command"]) == ["syndicate", "run"]
    assert _argv(services["worker"]["command"]) == ["syndicate", "worker"]
    for name in ("service", "worker", "migrate"):
        env = services[name]["environment"]
        assert env["SYNDICATE_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["service"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully")
    for name in ("service", "worker"):
        assert "public:/srv/syndicate/public" in services[name]["volumes"]


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    assert "\nUSER syndicate" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'CMD ["syndicate", "run"]' in text


def _exec_start(unit: str) -> list[str]:
    text = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert "KillSignal=SIGTERM" in text and "User=syndicate" in text
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.parametrize(("unit", "command"), [("syndicate.service", "run"),
                                               ("syndicate-worker.service", "worker")])
def test_systemd_units_start_the_right_commands(unit: str, command: str) -> None:
    argv = _exec_start(unit)
    assert Path(argv[0]).name == "syndicate" and argv[1] == command
    assert argv[2:] == ["--config", "/etc/syndicate/syndicate.toml"]
    result = CliRunner().invoke(cli, [*argv[1:2], "--help"])
    assert result.exit_code == 0 and "--config" in result.output


def test_the_units_command_lines_run(workspace: Path, tmp_path: Path) -> None:
    """The units' commands, with the example settings adapted to this machine: `db
    upgrade` then `run` serving the feeds, and `worker`; both stop on SIGTERM with 0."""
    text = (DEPLOY / "syndicate.example.toml").read_text(encoding="utf-8")
    settings = tomllib.loads(text)["syndicate"]
    config = tmp_path / "syndicate.toml"
    database = f"sqlite:///{tmp_path / 'state' / 'syndicate.db'}"
    overrides = {"database_url": database, "content_dir": str(workspace / "content"),
                 "locales_dir": str(workspace / "locales"), "out_dir": str(tmp_path / "public"),
                 "state_dir": str(tmp_path / "state"), "languages": [], "host": "127.0.0.1",
                 "port": 0, "sync_interval": 60.0}
    lines = []
    for line in text.splitlines():
        name = line.split(" = ", 1)[0]
        if name in overrides and name in settings:
            value = overrides[name]
            line = f"{name} = " + (f'"{value}"' if isinstance(value, str) else str(value))
        lines.append(line)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {key: value for key, value in service_env(workspace, database).items()
           if not key.startswith("SYNDICATE_")}
    upgrade = subprocess.run(
        [sys.executable, "-m", "syndicate", "db", "upgrade", "--config", str(config)],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert upgrade.returncode == 0, upgrade.stderr
    for unit, check in (("syndicate.service", "serving"), ("syndicate-worker.service",
                                                            "delivering")):
        argv = _exec_start(unit)[1:]
        argv[argv.index("/etc/syndicate/syndicate.toml")] = str(config)
        proc = Proc(argv, env, tmp_path, unit)
        try:
            proc.wait_for_output(check)
            if unit == "syndicate.service":
                base = proc.url()
                deadline = time.monotonic() + 20
                while httpx.get(base + "/en/feed.atom").status_code != 200:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
            assert proc.terminate() == 0
        finally:
            proc.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nginx_accepts_the_configuration_and_serves_the_tree(settings: Settings) -> None:
    """`nginx -t` on the configuration; then nginx on a built tree: content types, ETag and
    304 on If-None-Match, gzip, Cache-Control, the hub and self Link, no manifest or
    hidden files, and the proxied paths reach the upstream. Skipped where nginx is not
    installed, except under ``SYNDICATE_REQUIRE_NGINX=1`` (CI installs it), where that fails."""
    if NGINX is None:
        if os.environ.get("SYNDICATE_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is not installed (SYNDICATE_REQUIRE_NGINX=1)")
        pytest.skip("nginx is not installed")
    result = CliRunner().invoke(cli, ["build", "--out", str(settings.out_dir)])
    assert result.exit_code == 0, result.output
    with tempfile.TemporaryDirectory(prefix="nginx-") as raw:
        tmp = Path(raw)
        tmp.chmod(0o755)  # nginx workers run as www-data and must read the tree
        root = tmp / "public"
        shutil.copytree(settings.out_dir, root)
        (root / ".partial.tmp").write_text("half a feed")
        for path in [tmp, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        port, upstream = _free_port(), _free_port()
        conf = (DEPLOY / "nginx" / "nginx.conf").read_text(encoding="utf-8")
        conf = (conf.replace("/srv/syndicate/public", str(root))
                .replace("/run/nginx.pid", str(tmp / "nginx.pid"))
                .replace("/var/log/nginx", str(tmp))
                .replace("listen 80;", f"listen 127.0.0.1:{port};")
                .replace("127.0.0.1:8080", f"127.0.0.1:{upstream}")
                .replace("http {", f"http {{\n    client_body_temp_path {tmp}/body;\n"
                         f"    proxy_temp_path {tmp}/proxy;\n", 1))
        path = tmp / "nginx.conf"
        path.write_text(conf, encoding="utf-8")
        checked = subprocess.run([NGINX, "-t", "-c", str(path), "-p", str(tmp)],
                                 capture_output=True, text=True, timeout=30, check=False)
        assert checked.returncode == 0, checked.stderr
        server = subprocess.Popen([NGINX, "-c", str(path), "-p", str(tmp), "-g", "daemon off;"])
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 10
            while True:
                try:
                    httpx.get(base + "/")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            with httpx.Client(base_url=base, headers={"accept-encoding": "identity"}) as client:
                feed = client.get("/en/feed.atom")
                assert feed.status_code == 200
                assert feed.headers["content-type"].startswith("application/atom+xml")
                assert feed.headers["cache-control"].startswith("public, max-age=60")
                assert 'rel="hub"' in feed.headers["link"] and "/en/feed.atom>" in (
                    feed.headers["link"])
                assert "last-modified" in feed.headers
                again = client.get("/en/feed.atom",
                                   headers={"if-none-match": feed.headers["etag"]})
                assert again.status_code == 304
                for name, kind in (("feed.rss", "application/rss+xml"),
                                   ("feed.json", "application/feed+json")):
                    assert client.get(f"/en/{name}").headers["content-type"].startswith(kind)
                assert client.get("/feeds.opml").headers["content-type"].startswith("text/x-opml")
                assert client.get("/manifest.json").status_code == 404
                assert client.get("/.partial.tmp").status_code == 404
                assert client.get("/healthz").status_code == 502  # proxied; nobody upstream
                assert client.get("/console/sign-in").status_code == 502  # the console too
            zipped = httpx.get(base + "/en/feed.atom", headers={"accept-encoding": "gzip"})
            assert zipped.headers.get("content-encoding") == "gzip"
            assert zipped.content == feed.content  # httpx decodes it
        finally:
            server.terminate()
            server.wait(10)
