"""Chaos run: many submissions through the sandbox, with injected faults and worker kills.

    python bench/chaos.py [--submissions 1000] [--workers 2] [--kill-every 4] [--fault-rate 0.1]
                          [--flavour xqueue|edx-submissions]

Worker processes (the real ``python -m ml_service run``, each with its own journal) pull from
one queue while the sandbox answers some requests with 5xx, slowly, or by dropping the
connection, and a chaos loop SIGKILLs or SIGTERMs a random worker every few seconds and
restarts it. ``--flavour`` picks the XQueue server the sandbox behaves like (the workers detect
it). At the end it prints one JSON line: submitted, answered exactly once, answered twice or
more, lost, submissions the server has not retired, secrets found in the logs, kills, faults —
and a short table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ml_service.sandbox.demo_media import make_wav  # noqa: E402
from ml_service.sandbox import Sandbox, SandboxConfig  # noqa: E402
from ml_service.sandbox.faults import FaultPlan  # noqa: E402

CLIENT, SECRET, XQ_PASSWORD = "chaos-client", "chaos-client-secret-7f3a9c", "chaos-xq-password-51e2"
OUR_PATHS = ("/xqueue/login/", "/xqueue/get_submission/", "/xqueue/put_result/", "/ml/", "/media/")
_TOKEN_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.|Bearer [A-Za-z0-9]")


class Fleet:
    """Worker processes that can be killed and restarted."""

    def __init__(self, sandbox: Sandbox, root: Path, count: int, analyzer: str) -> None:
        self.sandbox, self.root, self.analyzer = sandbox, root, analyzer
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.kills: Counter[str] = Counter()

    def env(self, index: int) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "XQUEUE_", "PLATFORM_"))}
        return {**base, "XQUEUE_URL": self.sandbox.xqueue_url, "PLATFORM_URL": self.sandbox.platform_url,
                "ML_XQUEUE_AUTH": f"ml_service:{XQ_PASSWORD}", "ML_XQUEUE_NAME": "debug",
                "ML_ANALYZER": self.analyzer, "ML_CLIENT_ID": CLIENT, "ML_CLIENT_SECRET": SECRET,
                "ML_SERVICE_NAME": f"chaos-{index}", "ML_STATE_DIR": str(self.root / f"state-{index}"),
                "ML_POLL_INTERVAL_S": "0.05", "ML_POLL_MAX_INTERVAL_S": "0.5", "ML_BACKOFF_MAX_S": "1",
                "ML_HEARTBEAT_S": "5", "ML_HTTP_TIMEOUT_S": "5", "ML_SHUTDOWN_GRACE_S": "2",
                "ML_LOG_LEVEL": "DEBUG", "ML_METRICS_PORT": "0",
                # ML_MAX_RUNS guards against poison jobs that kill the worker every time; here the
                # kills are random, so one job may be hit by several in a row without being poison.
                "ML_MAX_RUNS": "6"}

    def start(self, index: int) -> None:
        log = (self.root / f"worker-{index}.log").open("ab")
        self.procs[index] = subprocess.Popen([sys.executable, "-m", "ml_service", "run"], cwd=REPO,
                                             env=self.env(index), stdout=log, stderr=subprocess.STDOUT)

    def start_all(self) -> None:
        for index in range(len(self.procs)):
            self.start(index)

    def strike(self, rng: random.Random) -> None:
        """SIGKILL (70 %) or SIGTERM a random worker, then start it again."""
        index = rng.randrange(len(self.procs))
        proc = self.procs[index]
        if proc is None:
            return
        sig = signal.SIGKILL if rng.random() < 0.7 else signal.SIGTERM
        proc.send_signal(sig)
        proc.wait(30)
        self.kills[sig.name] += 1
        self.start(index)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def run_chaos(submissions: int, workers: int, kill_every_s: float, fault_rate: float, seed: int,
              timeout_s: float, root: Path, analyzer: str = "handlers.debug.debug.process",
              progress: bool = True, flavour: str = "xqueue") -> dict[str, object]:
    """Run one chaos experiment in ``root``; return the figures."""
    rng = random.Random(seed)
    media = {"mic.wav": make_wav(root / "mic.wav", seconds=1.0)}
    config = SandboxConfig(state_dir=root / "sandbox", xqueue_port=0, platform_port=0, queues=["debug"],
                           users={"ml_service": XQ_PASSWORD}, clients={CLIENT: SECRET}, processing_delay_s=5.0,
                           flavour=flavour)
    started = time.monotonic()
    with Sandbox(config) as sandbox:
        ids = [f"chaos-{i:05d}" for i in range(submissions)]
        for sid in ids:
            sandbox.submit_session("debug", {"session_id": sid}, media)
        sandbox.faults = FaultPlan(error_rate=fault_rate / 2, reset_rate=fault_rate / 4,
                                   slow_rate=fault_rate / 4, slow_s=0.5, seed=seed, paths=OUR_PATHS)
        fleet = Fleet(sandbox, root, workers, analyzer)
        fleet.start_all()
        try:
            _churn(sandbox, fleet, rng, len(ids), kill_every_s, started + timeout_s, progress)
        finally:
            injected = dict(sandbox.faults.injected)
            sandbox.faults = FaultPlan()
            fleet.stop_all()
        counts = Counter(r["session_id"] for r in sandbox.results())
        failed = [r["body"] for r in sandbox.results() if not r["body"].get("correct")]
        unretired = sandbox.state.submissions.unretired()
    logs = "".join(p.read_text(errors="replace") for p in root.glob("worker-*.log"))
    return {
        "flavour": flavour,
        "submitted": len(ids),
        "answered_once": sum(1 for s in ids if counts[s] == 1),
        "answered_twice_or_more": sum(1 for s in ids if counts[s] >= 2),
        "lost": sum(1 for s in ids if counts[s] == 0),
        "unretired": unretired,
        "error_answers": len(failed),
        "error_messages": sorted({str(b.get("msg"))[:200] for b in failed}),
        "secrets_in_logs": sum(logs.count(s) for s in (SECRET, XQ_PASSWORD)) + len(_TOKEN_LIKE.findall(logs)),
        "kills": dict(fleet.kills),
        "faults_injected": injected,
        "wall_s": round(time.monotonic() - started, 1),
    }


def _churn(sandbox: Sandbox, fleet: Fleet, rng: random.Random, expected: int, kill_every_s: float,
           deadline: float, progress: bool) -> None:
    """Kill and restart workers until every submission has an answer (or time is up)."""
    next_kill = time.monotonic() + rng.uniform(0.5, 1.5) * kill_every_s
    while time.monotonic() < deadline:
        done = len({r["session_id"] for r in sandbox.results()})
        if progress:
            print(f"\ranswered {done}/{expected}, kills {sum(fleet.kills.values())} ", end="",
                  file=sys.stderr, flush=True)
        if done >= expected:
            break
        if kill_every_s > 0 and time.monotonic() >= next_kill:
            fleet.strike(rng)
            next_kill = time.monotonic() + rng.uniform(0.5, 1.5) * kill_every_s
        time.sleep(0.2)
    if progress:
        print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=4.0, help="mean seconds between kills (0 = none)")
    parser.add_argument("--fault-rate", type=float, default=0.1, help="share of our requests that fail")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and state in this folder")
    parser.add_argument("--flavour", choices=("xqueue", "edx-submissions"), default="xqueue",
                        help="the XQueue server the sandbox behaves like")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    root = args.keep or Path(tempfile.mkdtemp(prefix="ml-service-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    figures = run_chaos(args.submissions, args.workers, args.kill_every, args.fault_rate, args.seed,
                        args.timeout, root, flavour=args.flavour)
    print(json.dumps({"record": "chaos", **figures}))
    for key in ("flavour", "submitted", "answered_once", "answered_twice_or_more", "lost", "unretired",
                "error_answers", "error_messages",
                "secrets_in_logs", "kills", "faults_injected", "wall_s"):
        print(f"{key:<24} {figures[key]}", file=sys.stderr)
    ok = figures["lost"] == 0 and figures["answered_twice_or_more"] == 0 and figures["secrets_in_logs"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
