"""Worker against the project's sandbox over real loopback sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ml_service.cli import build_worker
from ml_service.core.config import Settings
from ml_service.core.errors import AuthError
from ml_service.core.platform import PlatformClient, ServiceIdentity
from ml_service.core.results import validate_result
from ml_service.sandbox import Sandbox, SandboxConfig

REPO = Path(__file__).resolve().parents[2]
CLIENT, SECRET = "e2e-debug", "e2e-client-secret-value-42"
XQ_PASSWORD = "xq-password-e2e-77"


class Clock:
    def __init__(self) -> None:
        import time
        self.offset, self._time = 0.0, time.time

    def __call__(self) -> float:
        return self._time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(tmp_path, clock):
    config = SandboxConfig(state_dir=tmp_path / "state", xqueue_port=0, platform_port=0,
                           users={"ml_service": XQ_PASSWORD}, queues=["debug"],
                           clients={CLIENT: SECRET}, clock=clock)
    with Sandbox(config) as sb:
        yield sb


@pytest.fixture
def media(tmp_path) -> dict[str, Path]:
    wav = tmp_path / "mic.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=16000:duration=2", str(wav)], check=True)
    return {"mic.wav": wav}


def worker_env(sb: Sandbox, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "XQUEUE_URL": sb.xqueue_url, "PLATFORM_URL": sb.platform_url,
        "ML_XQUEUE_AUTH": f"ml_service:{XQ_PASSWORD}", "ML_XQUEUE_NAME": "debug",
        "ML_ANALYZER": "handlers.debug.debug.process", "ML_CLIENT_ID": CLIENT,
        "ML_CLIENT_SECRET": SECRET, "ML_WORK_DIR": str(tmp_path), "ML_POLL_INTERVAL_S": "0.05",
        "ML_POLL_MAX_INTERVAL_S": "0.2", "ML_HEARTBEAT_S": "5", "ML_METRICS_PORT": "0", "ML_STATE_DIR": str(tmp_path / "state"),
        **extra,
    }


def submit(sb: Sandbox, n: int, files: dict[str, Path]) -> list[str]:
    ids = [f"sess-{i}" for i in range(n)]
    for sid in ids:
        sb.submit_session("debug", {"session_id": sid, "modality": "debug"}, files)
    return ids


def test_cli_worker_answers_every_session_and_logs_no_secret(sandbox, tmp_path, media):
    ids = submit(sandbox, 3, media)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "XQUEUE_", "PLATFORM_"))}
    env.update(worker_env(sandbox, tmp_path, ML_LOG_LEVEL="DEBUG"))
    run = subprocess.run([sys.executable, "-m", "ml_service", "run", "--burst"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr

    results = {r["session_id"]: r["body"] for r in sandbox.results()}
    assert sorted(results) == ids
    for body in results.values():
        assert body["correct"] is True and validate_result(body["result"]) == []
        assert body["result"]["media"]["files"][0]["streams"][0]["sample_rate"] == 16000
    types = [e["event_type"] for e in sandbox.events()]
    assert types[0] == "service_started" and types[-1] == "service_stopping"
    assert types.count("session_processing_end") == 3

    logs = run.stdout + run.stderr
    assert "Answered submission" in logs
    for secret in (SECRET, XQ_PASSWORD, "Bearer ", "eyJ"):
        assert secret not in logs, f"secret-like text {secret[:6]!r}... leaked into the logs"


def test_check_config_masks_secrets(sandbox, tmp_path):
    env = {**os.environ, **worker_env(sandbox, tmp_path)}
    run = subprocess.run([sys.executable, "-m", "ml_service", "check-config"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "handler handlers.debug.debug.process loads: ok" in run.stdout
    assert SECRET not in run.stdout and XQ_PASSWORD not in run.stdout


def test_several_workers_on_one_queue_never_analyse_a_live_pull_twice(sandbox, tmp_path, media):
    ids = submit(sandbox, 8, media)
    workers = [build_worker(Settings.from_env(worker_env(sandbox, tmp_path, ML_SERVICE_NAME=f"w{i}")))
               for i in range(3)]
    threads = [threading.Thread(target=w.run, kwargs={"burst": True}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(w.jobs_done for w in workers) == 8
    starts = [e["data"]["submission_id"] for e in sandbox.events()
              if e["event_type"] == "session_processing_start"]
    assert sorted(starts) == sorted(set(starts)) and len(starts) == 8
    assert sorted(r["session_id"] for r in sandbox.results()) == sorted(ids)


def test_worker_survives_a_sandbox_restart(tmp_path, media, clock):
    config = SandboxConfig(state_dir=tmp_path / "state", xqueue_port=0, platform_port=0,
                           users={"ml_service": XQ_PASSWORD}, queues=["debug"],
                           clients={CLIENT: SECRET}, clock=clock)
    first = Sandbox(config)
    first.start()
    submit(first, 1, media)
    worker = build_worker(Settings.from_env(worker_env(first, tmp_path)))
    worker.run(max_jobs=1)
    ports = (int(first.xqueue_url.rsplit(":", 1)[1]), int(first.platform_url.rsplit(":", 1)[1]))
    first.submit_session("debug", {"session_id": "after-restart"}, media)
    first.stop()

    config.xqueue_port, config.platform_port = ports
    with Sandbox(config) as second:
        worker.run(max_jobs=2)
        sessions = [r["session_id"] for r in second.results()]
    assert sessions == ["sess-0", "after-restart"]


def test_expired_token_is_replaced_after_a_401(sandbox, tmp_path, media, clock):
    worker = build_worker(Settings.from_env(worker_env(sandbox, tmp_path)))
    submit(sandbox, 1, media)
    worker.run(max_jobs=1)
    clock.offset += 7200  # the sandbox now sees every token issued so far as expired
    submit(sandbox, 1, media)
    worker.run(max_jobs=1)
    assert worker.outbox.pending == 0
    ends = [e for e in sandbox.events() if e["event_type"] == "session_processing_end"]
    assert len(ends) == 2


def test_unregistered_client_is_rejected_but_jobs_are_still_answered(sandbox, tmp_path, media):
    identity = ServiceIdentity("intruder", "debug")
    with pytest.raises(AuthError):
        PlatformClient(sandbox.platform_url, "intruder", "guess", identity).token()
    submit(sandbox, 1, media)
    worker = build_worker(Settings.from_env(worker_env(sandbox, tmp_path, ML_CLIENT_ID="intruder")))
    worker.run(max_jobs=1)
    assert [r["session_id"] for r in sandbox.results()] == ["sess-0"]
    assert sandbox.events() == []
    assert worker.outbox.pending >= 4
