"""deploy/: the example settings list every setting, the compose file and the systemd
units start real commands, nginx accepts its configuration and serves the tree with the
built-in server's cache semantics, and the commands the files run work."""

from __future__ import annotations

import dataclasses
import http.server
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
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


class _Upstream(http.server.BaseHTTPRequestHandler):
    """Stands in for `syndicate run` behind nginx: answers every path with its own name."""

    def do_GET(self) -> None:
        body = f"upstream {self.path}".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the TLS server block (openssl, as operators use)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("SYNDICATE_REQUIRE_NGINX") == "1":
            pytest.fail("openssl is not installed (SYNDICATE_REQUIRE_NGINX=1)")
        pytest.skip("openssl is not installed")
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=answers.example", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


# Longer than 60 lines: one nginx started on the real configuration, every rule checked.
def test_nginx_accepts_the_configuration_and_serves_the_tree(settings: Settings) -> None:
    """`nginx -t` on the configuration; then nginx on a built tree over TLS: content types,
    ETag and 304 on If-None-Match, gzip, Cache-Control, HSTS, the hub and self Link, no
    manifest or hidden files; plain HTTP redirects; /openapi.json, the API and the hub reach
    the upstream, and so do pages (their 410 and 301 come from the manifest), /metrics and
    /readyz only from the allow-list, requests beyond the limit get 429, a header line beyond
    the built-in server's limit gets 400. Skipped where nginx is not installed, except under
    ``SYNDICATE_REQUIRE_NGINX=1`` (CI installs it), where that fails."""
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
        cert, key = _certificate(tmp)
        upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        template = (DEPLOY / "nginx" / "nginx.conf").read_text(encoding="utf-8")
        path, outside = tmp / "nginx.conf", tmp / "outside.conf"
        # A port probed free can be taken by another process before nginx binds it: then
        # nginx exits, and the test tries again with other ports.
        for _ in range(5):
            port, plain = _free_port(), _free_port()
            conf = (template.replace("/srv/syndicate/public", str(root))
                    .replace("/run/nginx.pid", str(tmp / "nginx.pid"))
                    .replace("/var/log/nginx", str(tmp))
                    .replace("/var/lib/letsencrypt", str(tmp))
                    .replace("/etc/ssl/syndicate/fullchain.pem", str(cert))
                    .replace("/etc/ssl/syndicate/privkey.pem", str(key))
                    .replace("listen 80;", f"listen 127.0.0.1:{plain};")
                    .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
                    .replace("127.0.0.1:8080", f"127.0.0.1:{upstream.server_address[1]}")
                    .replace("http {", f"http {{\n    client_body_temp_path {tmp}/body;\n"
                             f"    proxy_temp_path {tmp}/proxy;\n", 1))
            path.write_text(conf, encoding="utf-8")
            # The same file, seen from an address outside the allow-list.
            outside.write_text(conf.replace("allow 127.0.0.1;", "allow 192.0.2.1;"),
                               encoding="utf-8")
            checked = subprocess.run([NGINX, "-t", "-c", str(path), "-p", str(tmp)],
                                     capture_output=True, text=True, timeout=30, check=False)
            assert checked.returncode == 0, checked.stderr
            server = subprocess.Popen([NGINX, "-c", str(path), "-p", str(tmp),
                                       "-g", "daemon off;"])
            base = f"https://127.0.0.1:{port}"
            if _wait_for(base, server):
                break
        else:
            pytest.fail("nginx found no free port in 5 tries")
        try:
            with httpx.Client(base_url=base, verify=False,
                              headers={"accept-encoding": "identity"}) as client:
                feed = client.get("/en/feed.atom")
                assert feed.status_code == 200
                assert feed.headers["content-type"].startswith("application/atom+xml")
                assert feed.headers["cache-control"].startswith("public, max-age=60")
                assert feed.headers["strict-transport-security"].startswith("max-age=")
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
                for proxied in ("/openapi.json", "/healthz", "/api/v1/subscriptions",
                                "/readyz", "/metrics", "/en/lupus/what-causes-lupus.html",
                                "/console/sign-in"):
                    answer = client.get(proxied)
                    assert (answer.status_code, answer.text) == (200, f"upstream {proxied}")
                big = client.get("/en/feed.atom", headers={"x-filler": "a" * 20_000})
                assert big.status_code == 400
                codes = [client.post("/websub", data={"hub.mode": "x"}).status_code
                         for _ in range(40)]
                assert 429 in codes and codes[0] == 200
            zipped = httpx.get(base + "/en/feed.atom", headers={"accept-encoding": "gzip"},
                               verify=False)
            assert zipped.headers.get("content-encoding") == "gzip"
            assert zipped.content == feed.content  # httpx decodes it
            redirect = httpx.get(f"http://127.0.0.1:{plain}/en/feed.atom")
            assert redirect.status_code == 301
            assert redirect.headers["location"].endswith("/en/feed.atom")
            assert redirect.headers["location"].startswith("https://")
        finally:
            server.terminate()
            server.wait(10)
        server = subprocess.Popen([NGINX, "-c", str(outside), "-p", str(tmp),
                                   "-g", "daemon off;"])
        try:
            assert _wait_for(base, server), "nginx could not bind its port again"
            with httpx.Client(base_url=base, verify=False) as client:
                assert client.get("/metrics").status_code == 403
                assert client.get("/readyz").status_code == 403
                assert client.get("/healthz").status_code == 200
        finally:
            server.terminate()
            server.wait(10)
            upstream.shutdown()
            upstream.server_close()


def _wait_for(base: str, server: subprocess.Popen[bytes]) -> bool:
    """Whether nginx answers at ``base`` (``False`` as soon as it has exited: a port it could
    not bind)."""
    deadline = time.monotonic() + 10
    while server.poll() is None:
        try:
            httpx.get(base + "/", verify=False)
            return True
        except httpx.TransportError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    return False


def _tool(name: str, variable: str) -> str:
    """The path of a system tool; skipped when absent, failed under ``variable=1`` (CI)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/usr/bin")
    if found is None:
        if os.environ.get(variable) == "1":
            pytest.fail(f"{name} is not installed ({variable}=1)")
        pytest.skip(f"{name} is not installed")
    return found


def test_alert_rules_pass_promtool_and_fire() -> None:
    """`promtool check rules` on the alert rules, and `promtool test rules`: the alerts fire
    on a broken deployment's series and stay quiet on a healthy one."""
    promtool = _tool("promtool", "SYNDICATE_REQUIRE_PROMTOOL")
    folder = DEPLOY / "prometheus"
    checked = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=folder,
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=folder,
                            capture_output=True, text=True, timeout=60, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_runbook_entry() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    names = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert len(names) >= 10
    for name in names:
        assert f"### {name}" in runbook, f"{name} is not in docs/operations.md"


@pytest.mark.parametrize("unit", ["syndicate.service", "syndicate-worker.service"])
def test_systemd_units_are_sandboxed(unit: str) -> None:
    """`systemd-analyze security` rates each unit at most 2.0 (offline: no running systemd
    needed), with a umask that keeps files from other users and room for many sockets."""
    path = DEPLOY / "systemd" / unit
    text = path.read_text(encoding="utf-8")
    assert "\nUMask=0027\n" in text and "\nLimitNOFILE=65536\n" in text
    analyze = _tool("systemd-analyze", "SYNDICATE_REQUIRE_SYSTEMD_ANALYZE")
    result = subprocess.run([analyze, "security", "--offline=true", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    line = next(line for line in result.stdout.splitlines() if "Overall exposure level" in line)
    score = float(line.split(":", 1)[1].split()[0])
    assert score <= 2.0, result.stdout


def test_the_image_takes_content_and_catalogs_from_volumes() -> None:
    """Nothing but the package goes into the build context, and content/ and locales/ are
    volumes, not layers (a translation deploys without a rebuild)."""
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("**") + 1:][:1] == ["!pyproject.toml"]
    assert ".venv" not in "".join(line for line in ignore if line.startswith("!"))
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY --chown=syndicate:syndicate content" not in dockerfile
    assert 'VOLUME ["/srv/syndicate/content", "/srv/syndicate/locales"]' in dockerfile
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    for name in ("service", "worker"):
        volumes = compose["services"][name]["volumes"]
        assert "../content:/srv/syndicate/content:ro" in volumes
        assert "../locales:/srv/syndicate/locales:ro" in volumes


def test_compose_file_passes_docker_compose_config() -> None:
    """`docker compose config` (the plugin) or `docker-compose config` (Debian's 1.x, which
    `.ci/run` installs when neither is there) accepts the compose file. Skipped where
    neither exists, except under ``SYNDICATE_REQUIRE_COMPOSE=1`` (CI), where that fails."""
    command: list[str] | None = None
    docker = shutil.which("docker")
    if docker is not None and subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=60,
            check=False).returncode == 0:
        command = [docker, "compose"]
    elif shutil.which("docker-compose") is not None:
        command = [str(shutil.which("docker-compose"))]
    if command is None:
        if os.environ.get("SYNDICATE_REQUIRE_COMPOSE") == "1":
            pytest.fail("neither docker compose nor docker-compose is installed "
                        "(SYNDICATE_REQUIRE_COMPOSE=1)")
        pytest.skip("neither docker compose nor docker-compose is installed")
    result = subprocess.run([*command, "-p", "syndicate", "-f", str(DEPLOY / "compose.yaml"),
                             "config", "--quiet"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_make_run_installs_only_what_running_needs(tmp_path: Path) -> None:
    """`make run` on a fresh checkout installs the package with the postgres extra, not the
    test tools; `make test` adds them."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")

    def planned(target: str) -> str:
        done = subprocess.run([make, "-n", "-B", target, f"VENV={tmp_path / 'venv'}"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    run = planned("run")
    installs = [line for line in run.splitlines() if "pip install" in line and "-e" in line]
    assert installs == [line for line in installs if "'.[postgres]'" in line], run
    assert installs and not any("[test" in line for line in installs)
    assert "'.[test,postgres]'" in planned("test")
