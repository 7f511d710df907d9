"""A short hostile-input run (the whole catalogue is bench/hostile.py): issue 24's bugs and one
case of each kind, against the real worker, the sandbox, scripted servers and a canary."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PICKED = ("bug", "B27 ", "N07 ", "U32 ", "U40 ", "M05 ", "M06 ", "M11 ", "P16 ", "P26 ", "P27 ", "F09 ")


def load_hostile():
    spec = importlib.util.spec_from_file_location("bench_hostile", REPO / "bench" / "hostile.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_hostile_cases_get_their_answers_with_no_canary_hit_exit_or_secret(tmp_path):
    hostile = load_hostile()
    cases = [c for c in hostile.CASES if any(p in c.name for p in PICKED)]
    assert len(cases) >= 16 and {c.group for c in cases} == {"body", "names", "urls", "media", "protocol", "platform"}
    harness = hostile.Harness(tmp_path)
    rows = harness.run(cases, progress=True)
    totals = hostile.summary(rows, harness.exits, 0.0)
    failed = [r for r in rows if not r["ok"]]
    assert failed == [], failed
    assert (totals["canary_hits"], totals["worker_exits"], totals["secrets_in_logs"]) == (0, 0, 0)


def test_the_catalogue_is_large_and_names_are_unique():
    cases = load_hostile().CASES
    assert len(cases) >= 80
    assert len({c.name.split()[0] for c in cases}) == len(cases)
