"""The README's first command, minus set-up: the demo runs end to end, and every labelled
session finds exactly the checks its truth expects (a smoke test of detection, not only of
plumbing). The sample recordings go to the demo's default cache, as with ``./dev demo``."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from ml_service.sandbox.demo_samples import DEMO_SAMPLES

REPO = Path(__file__).resolve().parents[2]
CELL = re.compile(r"([a-z_]+) (\d+)/(\d+)")


@pytest.mark.timeout(1260)  # a fresh machine makes every sample recording first (the subprocess allows 1200 s)
def test_demo_finds_what_every_sample_holds_and_reports_it(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ml_service", "demo", "--out", str(tmp_path), "--timeout", "420"],
                         cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    names = {n for chosen in DEMO_SAMPLES.values() for n in chosen}
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line.split()[:1] and line.split()[0] in names}
    checks = defaultdict(set)
    for modality, names in DEMO_SAMPLES.items():
        for name in names:
            fields = rows[name].split()
            assert fields[1:3] == [modality, "yes"], rows[name]
            cells = CELL.findall(rows[name])
            assert cells and all(found == expected for _, found, expected in cells), rows[name]
            checks[modality].update(check for check, found, _ in cells if int(found) > 0)
    assert all(len(found) >= 3 for found in checks.values()), checks  # several checks per analyser
    total = len(rows)
    assert f"{total}/{total} sessions found exactly what their truth expects" in run.stdout
    assert len(set().union(*checks.values())) >= 12

    report = (tmp_path / "report.html").read_text()
    in_report = set(re.findall(r'<span class="swatch" style="[^"]*"></span>([a-z_]+)</td><td class="num">', report))
    assert in_report == set().union(*checks.values()) and len(in_report) >= 12
    assert report.count("<img ") >= len(DEMO_SAMPLES["webcam"]) + len(DEMO_SAMPLES["screencast"])

    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "Answered submission" in logs and "Traceback" not in logs
    secrets = [p.read_text() for p in (tmp_path / "env" / "secrets").iterdir()]
    assert secrets and not any(s in logs or s in run.stdout for s in secrets)
