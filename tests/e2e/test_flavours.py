"""One worker, both XQueue servers: the sandbox as openedx/xqueue and as edx-submissions."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml_service.core import metrics
from ml_service.cli import build_worker
from ml_service.core.config import Settings
from ml_service.sandbox.demo_media import make_wav
from ml_service.sandbox.demo_samples import DEMO_SAMPLES
from ml_service.sandbox import Sandbox, SandboxConfig
from ml_service.sandbox.faults import FaultPlan

REPO = Path(__file__).resolve().parents[2]
CLIENT, SECRET, XQ_PASSWORD = "flavour-client", "flavour-client-secret-31c", "flavour-xq-password-8e0"


def sandbox_for(tmp_path: Path, flavour: str, **extra) -> Sandbox:
    return Sandbox(SandboxConfig(state_dir=tmp_path / "sandbox", xqueue_port=0, platform_port=0, queues=["debug"],
                                 users={"ml_service": XQ_PASSWORD}, clients={CLIENT: SECRET}, flavour=flavour,
                                 **extra))


def env_for(sb: Sandbox, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"XQUEUE_URL": sb.xqueue_url, "PLATFORM_URL": sb.platform_url, "ML_XQUEUE_AUTH": f"ml_service:{XQ_PASSWORD}",
            "ML_XQUEUE_NAME": "debug", "ML_ANALYZER": "handlers.debug.debug.process", "ML_CLIENT_ID": CLIENT,
            "ML_CLIENT_SECRET": SECRET, "ML_WORK_DIR": str(tmp_path), "ML_STATE_DIR": str(tmp_path / "state"),
            "ML_POLL_INTERVAL_S": "0.05", "ML_POLL_MAX_INTERVAL_S": "0.2", "ML_METRICS_PORT": "0",
            "ML_HANDLER_ISOLATION": "inline", **extra}


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    return {"mic.wav": make_wav(tmp_path / "mic.wav", 1.0)}


def final_events(sb: Sandbox) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    for event in sb.events():
        if event["event_type"] in ("session_processing_end", "session_processing_failed"):
            found.setdefault(event["data"]["submission_id"], []).append(event)
    return found


@pytest.mark.parametrize("flavour", ["xqueue", "edx-submissions"])
def test_auto_detects_the_server_and_answers_every_session_once(tmp_path, media, flavour):
    with sandbox_for(tmp_path, flavour) as sb:
        ids = {sb.submit_session("debug", {"session_id": f"s-{i}"}, media): f"s-{i}" for i in range(3)}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "XQUEUE_", "PLATFORM_"))}
        run = subprocess.run([sys.executable, "-m", "ml_service", "run", "--burst"], cwd=REPO, timeout=120,
                             env={**env, **env_for(sb, tmp_path)}, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert f"XQueue at {sb.xqueue_url} is {flavour}" in run.stderr
        results = sb.results()
        assert sorted(r["session_id"] for r in results) == sorted(ids.values())
        for r in results:
            trust = r["body"]["result"]["score"]
            expected = trust if flavour == "xqueue" else (1 if trust >= 0.5 else 0)
            assert r["body"]["score"] == expected and r["body"]["session_id"] == ids[r["submission_id"]]
        assert {sid: [e["event_type"] for e in evs] for sid, evs in final_events(sb).items()} == \
            {sid: ["session_processing_end"] for sid in ids}
        assert sb.state.submissions.unretired() == 0


def test_edx_answer_not_stored_is_reported_and_answered_with_error_11(tmp_path, media, caplog):
    with sandbox_for(tmp_path, "edx-submissions", edx_score="integer") as sb:  # an edx-submissions before 4.0.2
        sid = sb.submit_session("debug", {"session_id": "s-frac"}, media)
        worker = build_worker(Settings.from_env(env_for(sb, tmp_path, ML_XQUEUE_SCORE="fraction",
                                                        ML_ANALYZER="tests.sample_handlers.ok")))  # trust < 1
        before = metrics.default().not_stored.labels("debug")._value.get()
        caplog.set_level(logging.INFO)
        worker.run(burst=True)

        assert metrics.default().not_stored.labels("debug")._value.get() == before + 1
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and "did not store the score" in errors[0] and "fraction" in errors[0]
        row = sb.state.edx.submission(sid)
        assert (row["status"], row["num_failures"], row["points_earned"]) == ("retired", 1, 0)
        [stored] = sb.results()
        assert stored["body"]["result"]["error_code"] == 11 and stored["body"]["score"] == 0
        events = final_events(sb)[sid]
        assert [e["event_type"] for e in events] == ["session_processing_end", "session_processing_failed"]
        assert events[-1]["data"]["error_code"] == 11 and "did not store" in events[-1]["data"]["answer_not_stored"]


def test_xqueue_callback_failure_is_reported_and_the_kept_answer_sent_again(tmp_path, media, caplog):
    with sandbox_for(tmp_path, "xqueue", processing_delay_s=0.3, callback_timeout_s=1.0) as sb:
        sid = sb.submit_session("debug", {"session_id": "s-cb"}, media)
        sb.faults = FaultPlan(error_rate=1.0, paths=("/xqueue/callback/",))  # the LMS is down
        worker = build_worker(Settings.from_env(env_for(sb, tmp_path)))
        caplog.set_level(logging.INFO)
        worker.run(max_jobs=1)
        assert sb.results() == [] and sb.state.queue.submission(sid)["num_failures"] == 1
        sb.faults = FaultPlan()  # the LMS is back
        worker.run(max_jobs=2)

        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert any("its callback to the LMS failed" in w for w in warnings), warnings
        [stored] = sb.results()
        assert stored["body"]["result"]["error_code"] == 0 and stored["session_id"] == "s-cb"
        events = final_events(sb)[sid]
        assert [e["event_type"] for e in events] == ["session_processing_end", "session_processing_end"]
        assert "callback to the LMS failed" in events[-1]["data"]["answer_not_stored"]
        assert stored["body"]["answer_id"] == json.loads(sb.state.queue.submission(sid)["grader_reply"])["answer_id"]


@pytest.mark.timeout(960)  # the subprocess allows 900 s
def test_demo_runs_against_the_edx_submissions_flavour(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ml_service", "demo", "--out", str(tmp_path), "--modality", "keystrokes",
                          "--modality", "audio", "--timeout", "420", "--flavour", "edx-submissions"],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    total = sum(len(DEMO_SAMPLES[m]) for m in ("keystrokes", "audio"))
    assert f"{total}/{total} sessions found exactly what their truth expects" in run.stdout, run.stdout
    logs = [p.read_text() for p in (tmp_path / "logs").glob("*.log")]
    assert len(logs) == 2 and all("is edx-submissions" in log for log in logs), "every worker found the flavour"
