"""``python -m ml_service demo``: the whole system on this machine, end to end.

Starts the sandbox (XQueue + platform stand-in), registers one client per modality, writes one
env file per worker (secrets in ``*_FILE`` files) and starts one worker process per modality.
Meanwhile it makes (first run) or reuses the labelled sample recordings that
:mod:`ml_service.sandbox.demo_samples` chooses and submits one session per sample as soon as its
modality's samples exist. It waits with a progress line, prints per session the checks found
against those the sample's truth expects (:mod:`ml_service.sandbox.demo_table`), writes one report of
every session, and stops everything (``--keep`` leaves it running for the status page). Exit
status 0 only when every session was answered without error and matched its truth.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ml_service.sandbox.config import FLAVOURS
from ml_service.sandbox.demo_samples import DEMO_SAMPLES, default_cache, make_demo_samples
from ml_service.sandbox.demo_table import print_table, write_report
from ml_service.samples import Sample
from ml_service.sandbox import Sandbox, SandboxConfig

__all__ = ["main"]

_XQUEUE_USER = ("ml_service", "ml_password")
_FOREIGN_PREFIXES = ("ML_", "XQUEUE_", "PLATFORM_")
_REPO_ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    """Run the demo; 0 when every session got a successful result that matches its truth."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    out = args.out.resolve()
    shutil.rmtree(out / "state", ignore_errors=True)
    for sub in ("state", "env", "logs"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    modalities = args.modality or list(DEMO_SAMPLES)
    config = SandboxConfig(state_dir=out / "state", xqueue_port=args.xqueue_port,
                           platform_port=args.platform_port, users=dict([_XQUEUE_USER]),
                           queues=modalities, flavour=args.flavour)
    with Sandbox(config) as sandbox:
        print(f"sandbox: XQueue {sandbox.xqueue_url}  platform {sandbox.platform_url}", flush=True)
        workers = [_start_worker(sandbox, out, m) for m in modalities]
        try:
            expected = _make_and_submit(sandbox, args.samples or default_cache(), modalities)
            results = _wait_for(sandbox, expected, args.timeout, workers)
            matched = print_table(results, expected)
            write_report(results, expected, out / "report.html", {m: _analyzer_for(m) for m in modalities})
            if args.keep:
                _keep_running(sandbox)
        finally:
            _stop_workers(workers)
    print(f"worker logs: {out / 'logs'}")
    return 0 if matched == len(expected) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml_service demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="working folder (default: demo-output)")
    parser.add_argument("--samples", type=Path, default=None,
                        help=f"where the sample recordings are kept and reused (default: {default_cache()})")
    parser.add_argument("--modality", action="append", choices=list(DEMO_SAMPLES), default=None,
                        help="only this modality's sessions (repeatable; default: all)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="give up waiting for results after this many seconds")
    parser.add_argument("--xqueue-port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--platform-port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--keep", action="store_true", help="leave everything running; Ctrl-C stops it")
    _add_flavour_option(parser)
    return parser


def _add_flavour_option(parser: argparse.ArgumentParser) -> None:
    """``--flavour``, for this demo and ``demo --live``: passed to :class:`SandboxConfig` as is."""
    parser.add_argument("--flavour", choices=FLAVOURS, default="xqueue",
                        help="the XQueue server the sandbox behaves like (the workers detect it)")


def _make_and_submit(sandbox: Sandbox, cache: Path, modalities: list[str]) -> dict[str, Sample]:
    """Make (or reuse) the samples; submit each modality's sessions as soon as they exist."""
    cache, started, expected = cache.resolve(), time.monotonic(), {}
    print(f"sample recordings: {cache} (made on the first run, then reused)", flush=True)

    def submit(modality: str, chosen: list[Sample], reused: bool) -> None:
        for sample in chosen:
            _submit(sandbox, sample)
            expected[sample.name] = sample
        how = "reused" if reused else f"generated in {time.monotonic() - started:.0f} s"
        print(f"  {modality}: {len(chosen)} samples {how}, submitted", flush=True)

    made = make_demo_samples(cache, modalities, on_ready=submit)
    return {s.name: expected[s.name] for chosen in made.values() for s in chosen}


def _submit(sandbox: Sandbox, sample: Sample) -> None:
    """Submit one session: the sample's recordings, reference files and options."""
    files = {p.name: p for p in sample.recordings}
    body: dict[str, Any] = {"session_id": sample.name, "modality": sample.modality, "exam_id": "demo-exam",
                            "recordings": list(files), "options": sample.options}
    for key in ("reference_photo", "reference_voice"):
        ref = getattr(sample, key)
        if ref is not None:
            body[key] = f"reference-{ref.name}"
            files[body[key]] = ref
    sandbox.submit_session(sample.modality, body, files)


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
        "ML_SERVICE_NAME=demo-" + modality, f"ML_STATE_DIR={out / 'state' / 'workers'}",
        "ML_POLL_MAX_INTERVAL_S=2", "ML_HEARTBEAT_S=10", "ML_METRICS_PORT=0", "",
    ]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
    log = open(out / "logs" / f"{modality}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "ml_service", "--env-file", str(env_file), "run"],
                            cwd=_REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _wait_for(sandbox: Sandbox, expected: dict[str, Sample], timeout_s: float,
              workers: list[subprocess.Popen[bytes]]) -> list[dict[str, Any]]:
    """Poll the results store, printing progress when it changes, until every session is answered."""
    deadline, ticker, shown = time.monotonic() + timeout_s, threading.Event(), None
    results: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        results = _latest_per_session(sandbox.results(), expected)
        alive = sum(w.poll() is None for w in workers)
        if (len(results), alive) != shown:
            shown = (len(results), alive)
            print(f"waiting for results: {len(results)}/{len(expected)} done, {alive} worker(s) running",
                  flush=True)
        if len(results) == len(expected) or alive == 0:
            break
        ticker.wait(0.5)
    if len(results) < len(expected):
        print(f"timed out: {len(expected) - len(results)} session(s) unanswered", file=sys.stderr)
    return results


def _latest_per_session(rows: list[dict[str, Any]], expected: dict[str, Sample]) -> list[dict[str, Any]]:
    latest = {r["session_id"]: r for r in rows if r["session_id"] in expected}
    return [latest[s] for s in expected if s in latest]


def _keep_running(sandbox: Sandbox) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    print(f"status page: {sandbox.platform_url}/  (each result links to its report; Ctrl-C to stop)",
          flush=True)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        print()
    finally:
        signal.signal(signal.SIGTERM, previous)


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
