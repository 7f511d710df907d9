"""A short chaos run (the long one is bench/chaos.py): faults and kills lose nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_chaos():
    spec = importlib.util.spec_from_file_location("bench_chaos", REPO / "bench" / "chaos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(460)  # the run allows itself 400 s
@pytest.mark.parametrize("flavour, submissions", [("xqueue", 100), ("edx-submissions", 60)])
def test_submissions_with_faults_and_worker_kills_are_each_answered_once(tmp_path, flavour, submissions):
    figures = load_chaos().run_chaos(submissions=submissions, workers=2, kill_every_s=1.5, fault_rate=0.1, seed=3,
                                     timeout_s=400, root=tmp_path, progress=False, flavour=flavour)
    assert figures["lost"] == 0 and figures["unretired"] == 0, figures
    assert figures["secrets_in_logs"] == 0, figures
    assert figures["answered_once"] + figures["answered_twice_or_more"] == submissions, figures
    assert figures["answered_twice_or_more"] == 0, figures
    assert figures["error_answers"] == 0, figures
    assert sum(figures["kills"].values()) >= 3 and sum(figures["faults_injected"].values()) > 0, figures
