"""Fault injection against the sandbox: servers down, 5xx, slow answers, resets, signals.

Every test ends with the same question: was every submission answered, exactly once?
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ml_service.cli import build_worker
from ml_service.core.config import Settings
from ml_service.sandbox import Sandbox, SandboxConfig
from ml_service.sandbox.faults import FaultPlan

REPO = Path(__file__).resolve().parents[2]
CLIENT, SECRET, XQ_PASSWORD = "faults-client", "faults-client-secret-0042", "faults-xq-password-77"
OUR_PATHS = ("/xqueue/login/", "/xqueue/get_submission/", "/xqueue/put_result/", "/ml/", "/media/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sandbox_config(tmp_path: Path, **kw) -> SandboxConfig:
    return SandboxConfig(state_dir=tmp_path / "sandbox", users={"ml_service": XQ_PASSWORD},
                         queues=["debug"], clients={CLIENT: SECRET}, **{"xqueue_port": 0, "platform_port": 0, **kw})


def env_for(xq_url: str, platform_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "XQUEUE_URL": xq_url, "PLATFORM_URL": platform_url, "ML_XQUEUE_AUTH": f"ml_service:{XQ_PASSWORD}",
        "ML_XQUEUE_NAME": "debug", "ML_ANALYZER": "handlers.debug.debug.process", "ML_CLIENT_ID": CLIENT,
        "ML_CLIENT_SECRET": SECRET, "ML_WORK_DIR": str(tmp_path), "ML_STATE_DIR": str(tmp_path / "state"),
        "ML_POLL_INTERVAL_S": "0.05", "ML_POLL_MAX_INTERVAL_S": "0.2", "ML_BACKOFF_MAX_S": "0.3",
        "ML_HEARTBEAT_S": "2", "ML_METRICS_PORT": "0", "ML_HTTP_TIMEOUT_S": "5", "ML_HANDLER_ISOLATION": "inline", **extra,
    }


@pytest.fixture
def wav(tmp_path) -> dict[str, Path]:
    path = tmp_path / "mic.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=300:sample_rate=16000:duration=1", str(path)], check=True)
    return {"mic.wav": path}


def submit(sb: Sandbox, n: int, files: dict[str, Path], options: dict | None = None) -> list[str]:
    ids = [f"s{i:03d}" for i in range(n)]
    for sid in ids:
        sb.submit_session("debug", {"session_id": sid, "options": options or {}}, files)
    return ids


def answered(sb: Sandbox) -> list[str]:
    return sorted(r["session_id"] for r in sb.results())


def run_until(worker, done, timeout_s: float = 60.0) -> None:
    """Run the worker in a thread until ``done()`` holds (or time runs out)."""
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():
        time.sleep(0.05)
    worker.request_stop()
    thread.join(30)
    assert not thread.is_alive()


def test_servers_down_at_start_then_up(tmp_path, wav):
    xq_port, pf_port = free_port(), free_port()
    worker = build_worker(Settings.from_env(env_for(f"http://127.0.0.1:{xq_port}",
                                                    f"http://127.0.0.1:{pf_port}", tmp_path)))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    time.sleep(1.0)  # the worker polls a dead XQueue and cannot reach the platform
    assert thread.is_alive() and worker.trouble.attempt > 0
    with Sandbox(sandbox_config(tmp_path, xqueue_port=xq_port, platform_port=pf_port)) as sb:
        ids = submit(sb, 3, wav)
        deadline = time.monotonic() + 60
        while answered(sb) != ids and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.request_stop()
        thread.join(30)
        assert answered(sb) == ids
        types = [e["event_type"] for e in sb.events()]
    assert types[0] == "service_started", "events queued while the platform was down are sent later"
    assert types.count("session_processing_end") == 3


def test_servers_down_mid_run_then_back(tmp_path, wav):
    config = sandbox_config(tmp_path)
    first = Sandbox(config)
    first.start()
    ports = [int(u.rsplit(":", 1)[1]) for u in (first.xqueue_url, first.platform_url)]
    worker = build_worker(Settings.from_env(env_for(first.xqueue_url, first.platform_url, tmp_path)))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    ids = submit(first, 2, wav)
    first.stop()  # both servers vanish while the worker may be mid-job
    time.sleep(0.5)
    config.xqueue_port, config.platform_port = ports
    with Sandbox(config) as second:
        for sid in ("s900", "s901"):
            second.submit_session("debug", {"session_id": sid}, wav)
        ids += ["s900", "s901"]
        deadline = time.monotonic() + 60
        while sorted(set(answered(second))) != sorted(ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.request_stop()
        thread.join(30)
        assert sorted(set(answered(second))) == sorted(ids)
        assert len(answered(second)) == len(ids), "no session answered twice"


def test_5xx_slow_answers_and_resets_lose_nothing(tmp_path, wav):
    with Sandbox(sandbox_config(tmp_path)) as sb:
        ids = submit(sb, 16, wav)
        sb.faults = FaultPlan(error_rate=0.15, reset_rate=0.1, slow_rate=0.1, slow_s=0.2, seed=7, paths=OUR_PATHS)
        workers = [build_worker(Settings.from_env(env_for(sb.xqueue_url, sb.platform_url, tmp_path,
                                                          ML_SERVICE_NAME=f"w{i}"))) for i in range(2)]
        threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 90
        while answered(sb) != ids and time.monotonic() < deadline:
            time.sleep(0.05)
        for w in workers:
            w.request_stop()
        for t in threads:
            t.join(30)
        injected = dict(sb.faults.injected)
        assert answered(sb) == ids, f"lost or duplicated with faults {injected}"
        bodies = [r["body"] for r in sb.results()]
    assert all(b["correct"] for b in bodies), "transient faults must not turn into error answers"
    assert injected.get("error", 0) > 0 and injected.get("reset", 0) > 0


def start_cli_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "XQUEUE_", "PLATFORM_"))}
    return subprocess.Popen([sys.executable, "-m", "ml_service", "run"], cwd=REPO, env={**base, **env},
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_for(predicate, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def journal_states(tmp_path: Path) -> dict[int, str]:
    with sqlite3.connect(tmp_path / "state" / "journal-debug.sqlite3") as db:
        return dict(db.execute("SELECT submission_id, state FROM jobs"))


@pytest.mark.parametrize("inflight, correct, code", [("rerun", True, 0), ("fail", False, 10)])
def test_sigkill_mid_job_is_answered_after_restart(tmp_path, wav, inflight, correct, code):
    marker = tmp_path / "marker"
    with Sandbox(sandbox_config(tmp_path)) as sb:
        submit(sb, 1, wav, {"marker": str(marker)})
        env = env_for(sb.xqueue_url, sb.platform_url, tmp_path, ML_ANALYZER="tests.sample_handlers.hang_once",
                      ML_HANDLER_ISOLATION="process", ML_INFLIGHT_ON_START=inflight)
        log = tmp_path / "worker.log"
        first = start_cli_worker(env, log)
        assert wait_for(marker.exists), log.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert journal_states(tmp_path) == {1: "running"} and sb.results() == []
        second = start_cli_worker(env, log)
        try:
            assert wait_for(lambda: len(sb.results()) == 1), log.read_text()
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
        body = sb.results()[0]["body"]
    assert body["correct"] is correct and body["result"]["error_code"] == code
    assert journal_states(tmp_path) == {1: "delivered"}
    assert "interrupted" in log.read_text()


def test_sigterm_mid_job_finishes_within_the_grace(tmp_path, wav):
    with Sandbox(sandbox_config(tmp_path)) as sb:
        submit(sb, 1, wav)
        env = env_for(sb.xqueue_url, sb.platform_url, tmp_path, ML_HANDLER_ISOLATION="process")
        log = tmp_path / "worker.log"
        worker = start_cli_worker(env, log)
        assert wait_for(lambda: any(e["event_type"] == "session_processing_start" for e in sb.events()))
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        assert answered(sb) == ["s000"]
        assert [e["event_type"] for e in sb.events()][-1] == "service_stopping"


def test_sigterm_on_a_hung_job_hands_it_back_and_it_is_answered_later(tmp_path, wav):
    marker = tmp_path / "marker"
    with Sandbox(sandbox_config(tmp_path, processing_delay_s=1.0)) as sb:
        submit(sb, 1, wav, {"marker": str(marker)})
        env = env_for(sb.xqueue_url, sb.platform_url, tmp_path, ML_ANALYZER="tests.sample_handlers.hang_once",
                      ML_HANDLER_ISOLATION="process", ML_SHUTDOWN_GRACE_S="0.5")
        log = tmp_path / "worker.log"
        first = start_cli_worker(env, log)
        assert wait_for(marker.exists), log.read_text()
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
        assert journal_states(tmp_path) == {1: "handed_back"} and sb.results() == []
        assert "handing back submission 1" in log.read_text()
        second = start_cli_worker(env, log)  # XQueue re-offers it after its processing delay
        try:
            assert wait_for(lambda: len(sb.results()) == 1), log.read_text()
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        assert sb.results()[0]["body"]["correct"] is True
    text = log.read_text()
    assert SECRET not in text and XQ_PASSWORD not in text and "eyJ" not in text
    assert journal_states(tmp_path) == {1: "delivered"}


def test_a_hanging_events_endpoint_never_delays_a_job(tmp_path, wav):
    """Status events leave from a background thread: jobs are answered while every event hangs."""
    with Sandbox(sandbox_config(tmp_path)) as sb:
        ids = submit(sb, 3, wav)
        sb.faults = FaultPlan(slow_rate=1.0, slow_s=20.0, paths=("/ml/events",))
        worker = build_worker(Settings.from_env(env_for(sb.xqueue_url, sb.platform_url, tmp_path,
                                                        ML_HTTP_TIMEOUT_S="60")))
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and answered(sb) != ids:
            time.sleep(0.05)
        assert answered(sb) == ids, "the jobs waited for the hanging events endpoint"
        sb.faults = FaultPlan()
        started = time.monotonic()
        worker.request_stop()
        thread.join(30)
        assert not thread.is_alive() and time.monotonic() - started < 10, "the drain at stop is bounded"
