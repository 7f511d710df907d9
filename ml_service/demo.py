"""``python -m ml_service demo``: the whole system on this machine, end to end.

Starts the sandbox (XQueue + platform stand-in), makes sample recordings, registers one
client per modality, writes one env file per worker (secrets in ``*_FILE`` files), submits
sessions, starts one worker process per modality, waits with a progress line, prints a
table of results and stops everything (``--keep`` leaves it running for the status page).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ml_service.demo_media import make_demo_media
from ml_service.report import render_report
from ml_service.sandbox import Sandbox, SandboxConfig

__all__ = ["main"]

MODALITIES = ("webcam", "screencast", "audio", "debug")
_XQUEUE_USER = ("ml_service", "ml_password")
_FOREIGN_PREFIXES = ("ML_", "XQUEUE_", "PLATFORM_")
_REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    """Run the demo; 0 when every submitted session got a successful result."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    out = args.out.resolve()
    shutil.rmtree(out / "state", ignore_errors=True)
    for sub in ("state", "env", "logs", "media"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    config = SandboxConfig(state_dir=out / "state", xqueue_port=args.xqueue_port,
                           platform_port=args.platform_port, users=dict([_XQUEUE_USER]),
                           queues=list(MODALITIES), flavour=args.flavour)
    print("ml-service demo: making sample recordings ...", flush=True)
    media = make_demo_media(out / "media", seconds=args.seconds)
    with Sandbox(config) as sandbox:
        print(f"sandbox: XQueue {sandbox.xqueue_url}  platform {sandbox.platform_url}", flush=True)
        expected = _submit_all(sandbox, media, args.sessions)
        workers = [_start_worker(sandbox, out, m) for m in MODALITIES if media.get(m)]
        try:
            results = _wait_for(sandbox, expected, args.timeout, workers)
            _print_table(results, expected)
            _write_report(results, expected, media, out)
            if args.keep:
                _keep_running(sandbox)
        finally:
            _stop_workers(workers)
    print(f"worker logs: {out / 'logs'}")
    ok = len(results) == len(expected) and all(_result(r)["error_code"] == 0 for r in results)
    return 0 if ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml_service demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="working folder (default: demo-output)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each sample recording")
    parser.add_argument("--sessions", type=int, default=2, help="sessions per modality")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    parser.add_argument("--xqueue-port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--platform-port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--keep", action="store_true", help="leave everything running; Ctrl-C stops it")
    parser.add_argument("--flavour", choices=("xqueue", "edx-submissions"), default="xqueue",
                        help="the XQueue server the sandbox behaves like (the workers detect it)")
    return parser


def _submit_all(sandbox: Sandbox, media: dict[str, list[Path]], sessions: int) -> dict[str, str]:
    """Submit ``sessions`` sessions per modality; return session id -> modality."""
    expected = {}
    for modality in MODALITIES:
        files = {p.name: p for p in media.get(modality, [])}
        for n in range(1, sessions + 1 if files else 1):
            session_id = f"demo-{modality}-{n}"
            body = {"session_id": session_id, "modality": modality, "exam_id": "demo-exam"}
            sandbox.submit_session(modality, body, files)
            expected[session_id] = modality
    print(f"submitted {len(expected)} session(s) to queues {', '.join(sorted(set(expected.values())))}")
    return expected


def _analyzer_for(modality: str) -> str:
    """The modality's own handler when it is installed, else the debug handler."""
    if (_REPO_ROOT / "handlers" / modality / f"{modality}.py").is_file():
        return f"handlers.{modality}.{modality}.process"
    return "handlers.debug.debug.process"


def _start_worker(sandbox: Sandbox, out: Path, modality: str) -> subprocess.Popen[bytes]:
    client_id, secret = f"demo-{modality}", secrets.token_urlsafe(24)
    sandbox.add_client(client_id, secret)
    secret_dir = out / "env" / "secrets"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    _write_private(secret_dir / f"{modality}.client_secret", secret)
    _write_private(secret_dir / "xqueue_auth", ":".join(_XQUEUE_USER))
    env_file = out / "env" / f"{modality}.env"
    env_file.write_text("\n".join([
        f"XQUEUE_URL={sandbox.xqueue_url}", f"PLATFORM_URL={sandbox.platform_url}",
        f"ML_XQUEUE_AUTH_FILE={secret_dir / 'xqueue_auth'}", f"ML_XQUEUE_NAME={modality}",
        f"ML_ANALYZER={_analyzer_for(modality)}", f"ML_CLIENT_ID={client_id}",
        f"ML_CLIENT_SECRET_FILE={secret_dir / f'{modality}.client_secret'}",
        "ML_SERVICE_NAME=demo-" + modality, f"ML_STATE_DIR={out / 'state' / 'workers'}", "ML_POLL_MAX_INTERVAL_S=2", "ML_HEARTBEAT_S=10", "ML_METRICS_PORT=0", "",
    ]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
    log = open(out / "logs" / f"{modality}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "ml_service", "--env-file", str(env_file), "run"],
                            cwd=_REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _wait_for(sandbox: Sandbox, expected: dict[str, str], timeout_s: float,
              workers: list[subprocess.Popen[bytes]]) -> list[dict[str, Any]]:
    """Poll the results store, showing progress, until every session is answered."""
    deadline, ticker = time.monotonic() + timeout_s, threading.Event()
    results: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        results = _latest_per_session(sandbox.results(), expected)
        alive = sum(w.poll() is None for w in workers)
        print(f"\rwaiting for results: {len(results)}/{len(expected)} done, {alive} worker(s) running ",
              end="", flush=True)
        if len(results) == len(expected) or alive == 0:
            break
        ticker.wait(0.5)
    print()
    if len(results) < len(expected):
        print(f"timed out: {len(expected) - len(results)} session(s) unanswered", file=sys.stderr)
    return results


def _latest_per_session(rows: list[dict[str, Any]], expected: dict[str, str]) -> list[dict[str, Any]]:
    latest = {r["session_id"]: r for r in rows if r["session_id"] in expected}
    return [latest[s] for s in expected if s in latest]


def _result(row: dict[str, Any]) -> dict[str, Any]:
    body = row["body"]
    return body.get("result", {}) if isinstance(body, dict) else {"error_code": -1}


def _print_table(results: list[dict[str, Any]], expected: dict[str, str]) -> None:
    header = f"{'session':<22} {'modality':<11} {'violations':>10} {'score':>6} {'error':>5} {'time_s':>7}  message"
    print(header)
    print("-" * len(header))
    for row in results:
        res = _result(row)
        msg = (res.get("msg") or row["body"].get("msg", "")).replace("<p>", "").replace("</p>", "")
        print(f"{row['session_id']:<22} {expected[row['session_id']]:<11} {len(res.get('violations', [])):>10} "
              f"{res.get('score', 0):>6.2f} {res.get('error_code', -1):>5} "
              f"{res.get('processing_time_s', 0):>7.2f}  {msg[:60]}")


def _write_report(results: list[dict[str, Any]], expected: dict[str, str],
                  media: dict[str, list[Path]], out: Path) -> None:
    """One proctor's report combining the first session of each modality, with thumbnails."""
    firsts: dict[str, dict[str, Any]] = {}
    for row in results:
        modality = expected[row["session_id"]]
        if modality != "debug" and modality not in firsts and _result(row).get("schema"):
            firsts[modality] = _result(row)
    if not firsts:
        return
    recordings = {m: media[m][0] for m in firsts if media.get(m)}
    path = render_report(firsts, recordings, out / "report.html", session_id="demo (first session of each modality)")
    print(f"report: {path}")


def _keep_running(sandbox: Sandbox) -> None:
    print(f"status page: {sandbox.platform_url}/  (each result links to its report; Ctrl-C to stop)",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print()


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
