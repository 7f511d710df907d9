"""The README's first command, minus set-up: the demo runs end to end and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_answers_every_session_and_prints_the_table(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "ml_service", "demo", "--out", str(tmp_path), "--sessions", "1",
         "--seconds", "2", "--timeout", "120"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("demo-")]
    assert {r[0] for r in rows} == {"demo-webcam-1", "demo-screencast-1", "demo-audio-1", "demo-debug-1"}
    assert all(r[4] == "0" for r in rows), "error column must be 0"
    assert "waiting for results: 4/4 done" in run.stdout
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "Answered submission" in logs and "Traceback" not in logs
    secrets = [p.read_text() for p in (tmp_path / "env" / "secrets").iterdir()]
    assert secrets and not any(s in logs or s in run.stdout for s in secrets)
