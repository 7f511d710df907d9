"""The compose demo's one-shot submitter (docker-compose.yml, service ``demo_submitter``).

Waits for the sandbox's platform stand-in, makes sample recordings with ffmpeg
(:func:`ml_service.sandbox.demo_media.make_demo_media`), submits one session per queue through
``POST /api/sessions``, then polls ``GET /api/results`` until every session is answered and
prints a table. Exit status: 0 when every session got a result with ``error_code`` 0, 1 when
one failed or the time ran out, 2 when the sandbox never answered.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from ml_service.sandbox.demo_media import make_demo_media


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    http = requests.Session()
    http.trust_env = False  # loopback only, never through a proxy
    base = args.platform_url.rstrip("/")
    if not _wait_for_platform(http, base, args.timeout):
        print(f"demo: the sandbox at {base} did not answer within {args.timeout:.0f} s", flush=True)
        return 2
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        media = make_demo_media(Path(tmp), seconds=args.seconds)
        run = uuid.uuid4().hex[:6]
        sessions = {f"compose-{q}-{run}": q for q in queues if _submit(http, base, q, f"compose-{q}-{run}", media)}
    results = _wait_for_results(http, base, sessions, args.timeout)
    return _report(sessions, results)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform-url", default="http://127.0.0.1:8000")
    parser.add_argument("--queues", default="webcam,screencast,audio,keystrokes,debug", help="comma list")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each sample recording")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the sandbox, then results")
    return parser


def _wait_for_platform(http: requests.Session, base: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if http.get(f"{base}/api/services", timeout=5).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(1)
    return False


def _submit(http: requests.Session, base: str, queue: str, session_id: str, media: dict[str, list[Path]]) -> bool:
    paths = media.get(queue) or media["debug"]
    body = {"session_id": session_id, "modality": queue, "exam_id": "compose-demo"}
    files = {p.name: (p.name, p.read_bytes()) for p in paths}
    resp = http.post(f"{base}/api/sessions", data={"queue": queue, "body": json.dumps(body)}, files=files, timeout=30)
    if resp.status_code != 200:
        print(f"demo: queue {queue} refused the session: HTTP {resp.status_code} {resp.text.strip()}", flush=True)
        return False
    print(f"demo: submitted {session_id} to queue {queue} as submission {resp.json()['submission_id']}", flush=True)
    return True


def _wait_for_results(http: requests.Session, base: str, sessions: dict[str, str],
                      timeout_s: float) -> dict[str, dict[str, Any]]:
    deadline, found = time.monotonic() + timeout_s, {}
    while sessions and time.monotonic() < deadline:
        try:
            rows = http.get(f"{base}/api/results", timeout=5).json()
        except (requests.RequestException, ValueError):
            rows = []
        found = {r["session_id"]: r for r in rows if r.get("session_id") in sessions}
        if len(found) == len(sessions):
            break
        time.sleep(1)
    return found


def _report(sessions: dict[str, str], results: dict[str, dict[str, Any]]) -> int:
    ok = bool(sessions)
    print(f"{'session':<28} {'queue':<11} {'error':>5} {'score':>6} {'time_s':>7}  message")
    for session_id, queue in sessions.items():
        row = results.get(session_id)
        body = row["body"] if row and isinstance(row.get("body"), dict) else {}
        result = body.get("result") or {}
        code = result.get("error_code", "-")
        ok = ok and code == 0
        msg = str(body.get("msg", "no result yet")).replace("<p>", "").replace("</p>", "")[:60]
        print(f"{session_id:<28} {queue:<11} {code!s:>5} {result.get('score', 0):>6.2f} "
              f"{result.get('processing_time_s', 0):>7.2f}  {msg}", flush=True)
    print("demo: every session answered without error" if ok else "demo: FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
