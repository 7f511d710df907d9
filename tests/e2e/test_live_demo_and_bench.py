"""``demo --live`` and ``bench/live_latency.py``, run as a user runs them (keystrokes: fast)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "XQUEUE_", "PLATFORM_"))}


@pytest.mark.timeout(600)
def test_demo_live_plays_a_session_prints_its_alerts_and_its_merged_result(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ml_service", "demo", "--live", "--modality", "keystrokes",
                          "--speed", "40", "--segment-s", "15", "--out", str(tmp_path / "out")],
                         cwd=REPO, env=_env(), capture_output=True, text=True, timeout=540)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "keystrokes-idle-1: 100 s of keystrokes in 7 segments" in run.stdout
    # An idle minute (25.3-65.2 s) across two cuts. The segments come every 0.4 s, so which of them
    # were sent with the carry of their predecessor depends on when answers arrive: the alert may
    # cover only part of the minute (e.g. 30.0-60.0 when segment 2 came before segment 1's answer).
    alerts = [tuple(map(float, m)) for m in re.findall(r"ALERT keystrokes-idle-1: idle at ([\d.]+)-([\d.]+) s", run.stdout)]
    assert len(alerts) == 1 and 25.3 <= alerts[0][0] < alerts[0][1] <= 65.3, run.stdout
    assert "1/1 sessions found exactly what their truth expects" in run.stdout
    assert (tmp_path / "out" / "report.html").is_file()


@pytest.mark.timeout(600)
def test_demo_live_runs_against_the_edx_submissions_flavour(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ml_service", "demo", "--live", "--modality", "keystrokes",
                          "--speed", "40", "--segment-s", "50", "--flavour", "edx-submissions",
                          "--out", str(tmp_path / "out")],
                         cwd=REPO, env=_env(), capture_output=True, text=True, timeout=540)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "keystrokes-idle-1: 100 s of keystrokes in 2 segments" in run.stdout
    assert "1/1 sessions found exactly what their truth expects" in run.stdout
    assert "is edx-submissions" in (tmp_path / "out" / "logs" / "keystrokes.log").read_text(), "the worker found it"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("flavour", ["xqueue", "edx-submissions"])
def test_the_latency_bench_measures_a_played_session_against_one_pass(tmp_path, flavour):
    run = subprocess.run([sys.executable, "bench/live_latency.py", "--modality", "keystrokes", "--minutes", "3",
                          "--speed", "30", "--data", str(tmp_path), "--flavour", flavour, "--json"],
                         cwd=REPO, env=_env(), capture_output=True, text=True, timeout=540)
    assert run.returncode == 0, run.stderr[-2000:]
    records = [json.loads(line) for line in run.stdout.splitlines()]
    summary = records[-1]
    assert summary["record"] == "summary" and summary["segments"] == 3 and summary["gaps"] == 0
    assert summary["flavour"] == flavour
    assert [r["index"] for r in records[:-1]] == [0, 1, 2]
    assert summary["merged_vs_one_pass"] == "same" and summary["one_pass_s"] > 0
    assert summary["alerts_received_twice"] == 0 and summary["final_violations_not_alerted"] == 0
    assert 0 < summary["answer_p50_s"] <= summary["answer_p95_s"] and summary["final_after_last_s"] > 0
    assert summary["load_1min"]["max"] >= summary["load_1min"]["min"] >= 0
