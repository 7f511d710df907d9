"""Fixtures: the real edx-submissions server, a platform stand-in, and CLI workers against them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from ml_service.sandbox import Sandbox, SandboxConfig

REPO = Path(__file__).resolve().parents[2]
CLIENT, SECRET = "interop-client", "interop-client-secret-5d1e"
XQ_USER, XQ_PASSWORD = "ml_service", "interop-xq-password-93ab"


@dataclass
class EdxServer:
    """A running ``python -m tests.interop.edx_server`` and its sqlite database."""

    url: str
    db: Path
    proc: subprocess.Popen[str]
    created: list[int] = field(default_factory=list)

    def submit(self, queue: str, answer: Any, files: dict[str, Path], *, student: str, grader: str = "",
               points_possible: int = 1) -> int:
        """Create a submission with ``create_external_grader_detail`` (through the test LMS)."""
        text = answer if isinstance(answer, str) else json.dumps(answer)
        form = {"student_id": student, "item_id": f"block-v1:ml+p+2026+type@problem+block@{student}",
                "queue_name": queue, "grader": grader, "answer": text, "points_possible": str(points_possible)}
        handles = {name: (name, path.open("rb")) for name, path in files.items()}
        try:
            resp = requests.post(f"{self.url}/lms/submit/", data=form, files=handles or None, timeout=30)
        finally:
            for _, handle in handles.values():
                handle.close()
        resp.raise_for_status()
        self.created.append(resp.json()["submission_id"])
        return self.created[-1]

    def sql(self, query: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of the server's own database."""
        with sqlite3.connect(self.db, timeout=30) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(query, args).fetchall()]

    def graders(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """``ExternalGraderDetail`` rows by submission id."""
        marks = ",".join("?" * len(ids))
        rows = self.sql(f"SELECT * FROM submissions_externalgraderdetail WHERE submission_id IN ({marks})", *ids)
        return {r["submission_id"]: r for r in rows}

    def scores(self, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Every ``Score`` row of each submission (``set_score`` writes one per recorded score)."""
        marks = ",".join("?" * len(ids))
        rows = self.sql(f"SELECT * FROM submissions_score WHERE submission_id IN ({marks}) ORDER BY id", *ids)
        found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for row in rows:
            found[row["submission_id"]].append(row)
        return found

    def wait_status(self, submission_id: int, status: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.graders([submission_id])[submission_id]["status"] != status:
            assert time.monotonic() < deadline, f"submission {submission_id} never became {status}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def edx(tmp_path_factory) -> Iterator[EdxServer]:
    folder = tmp_path_factory.mktemp("edx")
    proc = subprocess.Popen([sys.executable, "-m", "tests.interop.edx_server", "--dir", str(folder),
                             "--user", XQ_USER, "--password", XQ_PASSWORD], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line, f"the edx-submissions server did not start: {proc.stderr.read()}"
        info = json.loads(line)
        yield EdxServer(info["url"], Path(info["db"]), proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def platform(tmp_path) -> Iterator[Sandbox]:
    """The platform stand-in (token, status events); its XQueue side is not used here."""
    config = SandboxConfig(state_dir=tmp_path / "platform", xqueue_port=0, platform_port=0,
                           clients={CLIENT: SECRET})
    with Sandbox(config) as sandbox:
        yield sandbox


def worker_env(edx: EdxServer, platform: Sandbox, root: Path, queue: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "XQUEUE_", "PLATFORM_"))}
    root.mkdir(parents=True, exist_ok=True)
    return {**base, "XQUEUE_URL": edx.url, "PLATFORM_URL": platform.platform_url,
            "ML_XQUEUE_AUTH": f"{XQ_USER}:{XQ_PASSWORD}", "ML_XQUEUE_NAME": queue,
            "ML_ANALYZER": "handlers.debug.debug.process", "ML_CLIENT_ID": CLIENT, "ML_CLIENT_SECRET": SECRET,
            "ML_WORK_DIR": str(root), "ML_STATE_DIR": str(root / "state"), "ML_POLL_INTERVAL_S": "0.05",
            "ML_POLL_MAX_INTERVAL_S": "0.2", "ML_HEARTBEAT_S": "30", "ML_METRICS_PORT": "0",
            "ML_SERVICE_NAME": f"interop-{queue}", **extra}


def start_worker(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    """``python -m ml_service run ARGS`` writing to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "ml_service", "run", *args], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def run_worker(env: dict[str, str], *args: str, log: Path, timeout_s: float = 120) -> str:
    """Run a worker to its end; its log."""
    proc = start_worker(env, *args, log=log)
    assert proc.wait(timeout_s) == 0, log.read_text()
    return log.read_text()


def final_events(platform: Sandbox, queue: str) -> dict[int, list[str]]:
    """The final status events of each submission of ``queue``, in order."""
    found: dict[int, list[str]] = {}
    for event in platform.events():
        if event["event_type"] in ("session_processing_end", "session_processing_failed") \
                and event["data"].get("queue") == queue:
            found.setdefault(event["data"]["submission_id"], []).append(event["event_type"])
    return found


def wait_for(path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
