"""Benchmark: ``syndicate i18n status`` over 1,000 answers in 10 languages, against 3 s.

    python bench/i18n_status.py                        # 1,000 answers x 10 languages
    python bench/i18n_status.py --answers 100 --languages 3

The corpus comes from :func:`syndicate.testing.generate_corpus` (answers of about 4 KB, fully
pseudo-translated catalogs, 10 target languages). Each run is the real command in a fresh
process (``python -m syndicate i18n status --json``), measured by the wall clock:

- *cold*: no checked catalog kept yet, so every catalog is read, strictly checked and indexed
  (what the first status after catalogs change costs);
- *warm*: the checked catalogs are in ``<state>/i18n-cache`` (what a translator asking again,
  or after changing one catalog, waits for). The goal applies to this run: ``ok`` says
  whether it took under ``goal_s``.

The report is checked too: every language and answer is present and every answer publishable
(the corpus is fully translated), so a fast wrong answer does not pass. The last line of
output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 3.0


def _run(root: Path, content: Path, locales: Path) -> tuple[float, dict[str, object]]:
    env = dict(os.environ, SYNDICATE_STATE_DIR=str(root / "state"))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "syndicate", "i18n", "status", "--json", "--content",
         str(content), "--locales", str(locales)],
        capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"status failed: {done.stderr}")
    report: dict[str, object] = json.loads(done.stdout)
    return elapsed, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--languages", type=int, default=10, help="target languages")
    args = parser.parse_args()
    from syndicate.testing import generate_corpus

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"generating {args.answers} answers x {args.languages} languages...",
              file=sys.stderr)
        content, locales, targets = generate_corpus(root, args.answers, args.languages + 1)
        cold, report = _run(root, content, locales)
        print(f"cold: {cold:.2f} s", file=sys.stderr)
        warm, again = _run(root, content, locales)
        print(f"warm: {warm:.2f} s", file=sys.stderr)
        # A translator saves one catalog: only that language is read and checked again.
        edited = sorted(locales.glob("*/LC_MESSAGES/*.po"))[0]
        with edited.open("a", encoding="utf-8") as handle:
            handle.write("\n# edited by the benchmark\n")
        one, _ = _run(root, content, locales)
        print(f"one catalog edited: {one:.2f} s", file=sys.stderr)
        languages = report["languages"]
        assert isinstance(languages, list) and report == again
        complete = all(line["answers"] == args.answers and line["blocked"] == 0
                       for line in languages) and len(languages) == len(targets)
        result = {
            "bench": "i18n_status", "answers": args.answers, "languages": len(targets),
            "rows": len(report["rows"]) if isinstance(report["rows"], list) else 0,
            "cold_s": round(cold, 3), "warm_s": round(warm, 3),
            "one_catalog_edited_s": round(one, 3), "goal_s": GOAL_SECONDS,
            "report_complete": complete, "ok": complete and warm < GOAL_SECONDS,
            "loadavg": Path("/proc/loadavg").read_text().split()[:3]
            if Path("/proc/loadavg").exists() else None,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
