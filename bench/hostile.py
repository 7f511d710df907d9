"""Hostile-input bench: every case of bench/hostile_cases.py against the real worker, one row each.

    python bench/hostile.py [--only TEXT] [--keep DIR]

The worker is the real ``python -m ml_service run`` (debug handler, in its child process, DEBUG
logs). Stage ``sandbox`` runs it against the project's sandbox; stage ``scripted`` against a
scripted XQueue and platform (bench/hostile_servers.py) and media hosts on 127.0.0.1 (allowed)
and 127.0.0.3 (allowed, not the platform). A canary on 127.0.0.2 records every request that
should never have been made; a request carrying the platform token to any server but the
platform counts as a canary hit too. Every server is on loopback. The harness that runs the
cases is bench/hostile_harness.py.

One row per case: expected and observed answer (an error code, ``unanswerable`` when the worker
reported a pull it cannot answer, ``none`` when nothing was answered), worker alive, canary
hits, secrets in the case's log lines, job folder removed. Then one JSON line of totals.
Exit status 0 when every row passes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.hostile_cases import CASES  # noqa: E402
from bench.hostile_harness import Harness  # noqa: E402

__all__ = ["CASES", "Harness", "main", "run_hostile", "summary"]


def summary(rows: list[dict[str, Any]], exits: int, wall_s: float) -> dict[str, Any]:
    return {"record": "hostile", "cases": len(rows), "passed": sum(r["ok"] for r in rows),
            "mismatched_codes": sum(r["observed"] != r["expected"] for r in rows),
            "canary_hits": sum(r["canary_hits"] for r in rows), "worker_exits": exits,
            "workers_dead_after_a_case": sum(not r["alive"] for r in rows),
            "secrets_in_logs": sum(r["secrets"] for r in rows),
            "job_folders_left": sum(not r["folder_removed"] for r in rows),
            "groups": {g: sum(r["group"] == g for r in rows) for g in sorted({r["group"] for r in rows})},
            "wall_s": round(wall_s, 1)}


def run_hostile(root: Path, only: str | None = None, progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the catalogue (or the cases whose name contains ``only``) in ``root``."""
    cases = [c for c in CASES if only is None or only.lower() in c.name.lower()]
    started = time.monotonic()
    harness = Harness(root)
    rows = harness.run(cases, progress)
    return rows, summary(rows, harness.exits, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="run only the cases whose name contains this text")
    parser.add_argument("--keep", type=Path, default=None, help="keep logs, state and media in this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    root = args.keep or Path(tempfile.mkdtemp(prefix="ml-service-hostile-"))
    root.mkdir(parents=True, exist_ok=True)
    rows, totals = run_hostile(root, args.only)
    print(json.dumps(totals))
    return 0 if totals["passed"] == totals["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
