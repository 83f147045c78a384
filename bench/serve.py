"""Benchmark: conditional and full GETs of a feed from the built-in server and from nginx.

    python bench/serve.py                 # 5 s per run, 50 connections
    python bench/serve.py --seconds 2 --connections 20

Builds a tree from a synthetic corpus whose English Atom feed is about 260 KB, then serves
it from Syndicate's static ASGI app (uvicorn, httptools, uvloop; one process) and, when
``nginx`` is installed, from nginx (one worker, sendfile, the same files) in the same run.
Load comes from ``wrk`` (one thread) when installed; without wrk the script says so and
stops, because a Python client would measure itself, not the servers. Reports requests/s for
``If-None-Match`` -> 304 and for full identity GETs, and the ratios to nginx. The last line of
output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from syndicate.answers import localize_corpus
from syndicate.config import load_settings
from syndicate.publication import publish
from syndicate.testing import generate_corpus

FEED = "/en/feed.atom"
SERVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import uvicorn

    from syndicate.http import PublicationTree, StaticApp

    app = StaticApp(PublicationTree(Path(sys.argv[1]), "http://127.0.0.1"))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), loop="uvloop", http="httptools",
                log_level="warning", access_log=False, lifespan="off")
    """
)
NGINX = textwrap.dedent(
    """
    worker_processes 1;
    daemon off;
    pid {tmp}/nginx.pid;
    error_log {tmp}/error.log warn;
    events {{ worker_connections 1024; }}
    http {{
        access_log off;
        sendfile on;
        tcp_nopush on;
        keepalive_requests 1000000;
        types {{ application/atom+xml atom; }}
        client_body_temp_path {tmp}/body;
        proxy_temp_path {tmp}/proxy;
        fastcgi_temp_path {tmp}/fastcgi;
        uwsgi_temp_path {tmp}/uwsgi;
        scgi_temp_path {tmp}/scgi;
        server {{
            listen 127.0.0.1:{port};
            root {root};
            etag on;
        }}
    }}
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"server at {url} did not start")


def build_tree(root: Path, entries: int) -> Path:
    content, locales, _ = generate_corpus(root, answers=entries, languages=1, conditions=4)
    settings = load_settings(overrides={
        "content_dir": content, "locales_dir": locales, "out_dir": root / "public",
        "state_dir": root / "state", "feed_size": entries})
    publish(settings, localize_corpus(settings))
    return settings.out_dir


def wrk(url: str, seconds: float, connections: int, headers: dict[str, str]) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if match is None or errors:
        raise SystemExit(f"wrk failed against {url}:\n{output}")
    return float(match.group(1))


def measure(base: str, seconds: float, connections: int) -> dict[str, float]:
    first = httpx.get(base + FEED, headers={"accept-encoding": "identity"})
    first.raise_for_status()
    etag = first.headers["etag"]
    probe = httpx.get(base + FEED, headers={"if-none-match": etag, "accept-encoding": "identity"})
    assert probe.status_code == 304, probe.status_code
    return {
        "bytes": len(first.content),
        "not_modified_rps": wrk(base + FEED, seconds, connections,
                                {"If-None-Match": etag, "Accept-Encoding": "identity"}),
        "full_rps": wrk(base + FEED, seconds, connections, {"Accept-Encoding": "identity"}),
    }


def start_nginx(nginx: str, tmp: Path, root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX.format(tmp=tmp, port=port, root=root))
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)])
    return process, f"http://127.0.0.1:{port}"


def median_figures(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds, medians kept")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--entries", type=int, default=40, help="entries in the feed (~260 KB)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): nothing measured")
        print(json.dumps({"skipped": "wrk not installed"}))
        return
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    results: dict[str, object] = {"seconds": args.seconds, "rounds": args.rounds,
                                  "connections": args.connections}
    with tempfile.TemporaryDirectory() as temp:
        tmp = Path(temp)
        tmp.chmod(0o755)  # nginx workers run as an unprivileged user and must read the tree
        out = build_tree(tmp / "corpus", args.entries)
        port = free_port()
        servers = {"syndicate": (
            subprocess.Popen([sys.executable, "-c", SERVER, str(out), str(port)]),
            f"http://127.0.0.1:{port}")}
        if nginx is None:
            print("nginx is not installed: no peer figures")
        else:
            servers["nginx"] = start_nginx(nginx, tmp, out)
        try:
            for _, base in servers.values():
                wait_for(base + "/")
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name, (_, base) in servers.items():
                    runs[name].append(measure(base, args.seconds, args.connections))
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=10)
    for name, figures in runs.items():
        median = median_figures(figures)
        results[name] = median
        print(f"{name:>9}: {median['not_modified_rps']:,.0f} 304/s, "
              f"{median['full_rps']:,.0f} full GET/s of {median['bytes']:,.0f} bytes "
              f"(median of {args.rounds})")
    if "nginx" in runs:
        ours, theirs = median_figures(runs["syndicate"]), median_figures(runs["nginx"])
        ratio_304 = ours["not_modified_rps"] / theirs["not_modified_rps"]
        ratio_full = ours["full_rps"] / theirs["full_rps"]
        results["ratio_304"] = round(ratio_304, 3)
        results["ratio_full"] = round(ratio_full, 3)
        results["goal_met"] = ratio_304 >= 0.2 and ratio_full >= 0.8
        print(f"ratio 304 {ratio_304:.2f} (goal >= 0.2), full {ratio_full:.2f} (goal >= 0.8)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
