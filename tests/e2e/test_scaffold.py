"""``new-handler``: a generated handler passes check-config and its own test, and the worker
answers a session with it through the sandbox (in a copy of the repository, so the real tree
is never touched)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ml_service.core.results import validate_result
from ml_service.sandbox import Sandbox, SandboxConfig
from ml_service.samples.truth import TRUTH_SUFFIX, read_truth
from ml_service.scaffold import write_handler

REPO = Path(__file__).resolve().parents[2]
NAME = "gazelle"
CLIENT, SECRET, XQ_PASSWORD = "e2e-scaffold", "scaffold-client-secret-31", "xq-scaffold-pw-58"


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of what a worker needs (the packages, the handlers, tests/handlers)."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("ml_service", "handlers"):
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    (root / "tests" / "handlers").mkdir(parents=True)
    return root


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "XQUEUE_", "PLATFORM_"))}
    return {**env, **settings}


def test_a_generated_handler_is_configured_tested_and_answers_through_the_worker(repo, tmp_path):
    written = write_handler(NAME, repo)
    assert {p.relative_to(repo).as_posix() for p in written} >= {
        f"handlers/{NAME}/{NAME}.py", f"handlers/{NAME}/requirements.txt", f"handlers/{NAME}/install.sh",
        f"handlers/{NAME}/README.md", f"ml_service/samples/{NAME}.py", f"tests/handlers/test_{NAME}.py"}
    assert os.access(repo / "handlers" / NAME / "install.sh", os.X_OK)
    for _ in range(2):  # idempotent
        run = subprocess.run(["bash", str(repo / "handlers" / NAME / "install.sh")], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr

    own = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/handlers/test_{NAME}.py"],
                         cwd=repo, env=_env(), capture_output=True, text=True, timeout=300)
    assert own.returncode == 0 and "1 passed" in own.stdout, own.stdout + own.stderr

    config = SandboxConfig(state_dir=tmp_path / "state", xqueue_port=0, platform_port=0, users={"ml_service": XQ_PASSWORD},
                           queues=[NAME], clients={CLIENT: SECRET})
    with Sandbox(config) as sb:
        env = _env(XQUEUE_URL=sb.xqueue_url, PLATFORM_URL=sb.platform_url, ML_XQUEUE_AUTH=f"ml_service:{XQ_PASSWORD}",
                   ML_XQUEUE_NAME=NAME, ML_ANALYZER=f"handlers.{NAME}.{NAME}.process", ML_CLIENT_ID=CLIENT,
                   ML_CLIENT_SECRET=SECRET, ML_WORK_DIR=str(tmp_path), ML_POLL_INTERVAL_S="0.05",
                   ML_POLL_MAX_INTERVAL_S="0.2", ML_METRICS_PORT="0", ML_STATE_DIR=str(tmp_path / "worker-state"))
        check = subprocess.run([sys.executable, "-m", "ml_service", "check-config"], cwd=repo, env=env,
                               capture_output=True, text=True, timeout=120)
        assert check.returncode == 0 and f"handler handlers.{NAME}.{NAME}.process loads: ok" in check.stdout, check.stderr

        made = subprocess.run([sys.executable, "-m", "ml_service.samples", "--out", str(tmp_path / "samples"),
                               "--modality", NAME], cwd=repo, env=_env(), capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        [sample] = [read_truth(p) for p in (tmp_path / "samples").rglob(f"*{TRUTH_SUFFIX}")]
        sb.submit_session(NAME, {"session_id": sample.name, "modality": NAME},
                          {p.name: p for p in sample.recordings})
        run = subprocess.run([sys.executable, "-m", "ml_service", "run", "--burst"], cwd=repo, env=env,
                             capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stderr
        [answer] = [r["body"] for r in sb.results()]
    assert answer["correct"] is True and validate_result(answer["result"]) == []
    assert answer["result"]["modality"] == NAME and answer["result"]["violations"] == []
    assert abs(answer["result"]["media"]["duration_s"] - sample.duration_s) < 0.1


def test_a_taken_or_bad_name_writes_nothing(repo):
    for bad in ("Bad-Name", "class", "truth", "webcam"):
        with pytest.raises(ValueError):
            write_handler(bad, repo)
    assert not (repo / "handlers" / "Bad-Name").exists()
