"""The receivers docs/partners.md gives partners, run as they are on what the service signs.

The Python receiver runs with the ``standardwebhooks`` PyPI package; the JavaScript one in
Node.js with the ``standardwebhooks`` npm package (``SYNDICATE_NPM_DIR``, default
``~/.cache/syndicate/npm``; ``.ci/run`` installs it and sets ``SYNDICATE_REQUIRE_NODE=1``,
under which a missing Node.js or package fails instead of skipping). A snippet that drifted
from the service (a renamed header, another secret format) fails here, not at a partner's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from syndicate.webhooks import policy
from tests.support import ROOT

GUIDE = ROOT / "docs" / "partners.md"
NPM_DIR = Path(os.environ.get("SYNDICATE_NPM_DIR",
                              Path.home() / ".cache" / "syndicate" / "npm"))
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test fixture, not a real secret


def _snippet(language: str, marker: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"docs/partners.md: one {language} block with {marker!r}"
    return found[0]


def _signed(event: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, policy.signed_headers([secret], "msg_test1", int(time.time()), body)


EVENTS = [
    {"type": "endpoint.verify", "timestamp": "2026-11-29T08:00:00Z",
     "data": {"challenge": "c-123"}},
    {"type": "answer.reviewed", "timestamp": "2026-11-29T08:00:00Z",
     "data": {"answer_id": "75da64d16c9fcccc", "language": "de"}},
]


def test_the_python_receiver_verifies_what_the_service_signs() -> None:
    handled: list[dict[str, Any]] = []
    scope: dict[str, Any] = {"SECRET": SECRET, "handle": handled.append}
    exec(_snippet("python", "Webhook(SECRET)"), scope)  # the guide's own code
    receive = scope["receive"]
    body, headers = _signed(EVENTS[0])
    assert receive(body, headers) == (200, {"challenge": "c-123"})
    body, headers = _signed(EVENTS[1])
    assert receive(body, headers)[0] == 200 and handled[0]["type"] == "answer.reviewed"
    forged = dict(headers, **{"webhook-signature": policy.sign(
        "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "msg_test1", int(time.time()), body)})
    assert receive(body, forged)[0] == 401


def test_the_javascript_receiver_verifies_what_the_service_signs(tmp_path: Path) -> None:
    node = shutil.which("node")
    package = NPM_DIR / "node_modules" / "standardwebhooks"
    if node is None or not package.is_dir():
        if os.environ.get("SYNDICATE_REQUIRE_NODE") == "1":
            pytest.fail(f"Node.js or {package} is missing (SYNDICATE_REQUIRE_NODE=1)")
        pytest.skip("Node.js or the standardwebhooks npm package is not installed")
    (tmp_path / "node_modules").symlink_to(NPM_DIR / "node_modules")
    module = tmp_path / "receiver.mjs"
    module.write_text(
        "globalThis.handled = [];\n"
        "globalThis.handle = (event) => globalThis.handled.push(event.type);\n"
        + _snippet("js", "new Webhook(")
        + "\nconst cases = JSON.parse(process.argv[2]);\n"
          "const out = cases.map(([body, headers]) => receive(body, headers));\n"
          "console.log(JSON.stringify({out, handled: globalThis.handled}));\n",
        encoding="utf-8")
    cases = [(body.decode(), headers) for body, headers in map(_signed, EVENTS)]
    body, headers = cases[1]
    cases.append((body.replace("75da", "0000"), headers))  # altered after signing
    result = subprocess.run([node, str(module), json.dumps(cases)], capture_output=True,
                            text=True, timeout=60, check=False, cwd=tmp_path,
                            env={**os.environ, "SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["out"] == [{"status": 200, "body": {"challenge": "c-123"}},
                             {"status": 200}, {"status": 401}]
    assert answer["handled"] == ["answer.reviewed"]
