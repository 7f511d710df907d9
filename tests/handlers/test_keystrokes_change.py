"""The typist-change detector (handlers.keystrokes.change) on simulated typists and small arrays."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from handlers.keystrokes import change, stretch_test
from handlers.keystrokes.events import read_log
from handlers.keystrokes.options import Options
from handlers.keystrokes.rhythm import build_profile, timing
from ml_service.samples import keystrokes as sim


class _Close(sim.Typist):
    """Someone typing like the candidate (same tempo and pairs) but for small pair offsets of
    their own (log SD ``amount``, about half the candidate's spread)."""

    def __init__(self, ident: int, candidate: sim.Typist, amount: float) -> None:
        super().__init__(ident)
        self.candidate, self.amount = candidate, amount
        self.tempo, self.spread = candidate.tempo, candidate.spread

    def flight_mu(self, a: str, b: str) -> float:
        return self.candidate.flight_mu(a, b) + self.amount * sim._normal("close", self.ident, a, b)


def _logs(tmp: Path, plan: sim.Plan, seconds: float, seed: int = 11, factor: float = 1.0,
          flights_only: bool = False, close: float | None = None, enrol_s: float = 150.0) -> tuple:
    """Session and enrolment timings of simulated typists 0 (the candidate) and 1 (a
    :class:`_Close` one when ``close`` is given)."""
    other = sim.Typist(61 + seed) if close is None else _Close(61 + seed, sim.Typist(60 + seed), close)
    typists = {0: sim.Typist(60 + seed), 1: other}
    truth = sim.make_session(tmp / "s.json", plan, seed=seed, duration_s=seconds, typists=typists)
    enrolled = sim.Typist(60 + seed)
    enrolled.tempo += np.log(factor)
    sim.make_session(tmp / "e.json", [("type", 0, enrol_s)], seed=seed + 1, duration_s=enrol_s, typists={0: enrolled})
    if flights_only:  # a platform that logs no release: each up at its press
        for name in ("s.json", "e.json"):
            doc = json.loads((tmp / name).read_text())
            downs = {}
            for event in doc["events"]:
                if event["type"] == "down":
                    downs[event["key"]] = event["t"]
                elif event["type"] == "up":
                    event["t"] = downs[event["key"]]
            doc["events"].sort(key=lambda e: (e["t"], e["type"] != "down"))
            (tmp / name).write_text(json.dumps(doc))
    vocab: dict[str, int] = {}
    session = read_log(tmp / "s.json", "s", vocab, 1 << 26)
    enrolment = read_log(tmp / "e.json", "e", vocab, 1 << 26)
    return timing(session, len(vocab)), timing(enrolment, len(vocab)), truth


def test_a_hold_of_zero_ms_is_unknown(tmp_path: Path) -> None:
    tm, _, _ = _logs(tmp_path, [("type", 0, 30.0)], 30.0, flights_only=True)
    assert np.isnan(tm.dwell).all() and (~np.isnan(tm.flight)).sum() > 100


def test_evidence_is_about_zero_for_the_candidate_and_positive_for_another(tmp_path: Path) -> None:
    tm, enrol, _ = _logs(tmp_path, [("type", 0, 120.0), ("type", 1, 240.0)], 240.0)
    ev = change.evidence(tm, build_profile(enrol, "enrolment"), Options())
    switch = int(np.searchsorted(tm.t, 120.0))
    own, other = ev.score[ev.index < switch], ev.score[ev.index >= switch]
    assert abs(own.mean()) < 0.5 < other.mean()
    assert np.abs(ev.residual).max() <= change.R_CAP


def test_cusum_starts_where_the_evidence_grows_and_ends_where_it_peaks() -> None:
    score = np.r_[np.zeros(200), np.full(100, 3.0), np.zeros(200)]
    assert change._cusum(score, drift=1.0, threshold=120.0) == [(200, 299, pytest.approx(200.0))]
    assert change._cusum(score, drift=1.0, threshold=250.0) == []
    assert change._cusum(np.full(50, 3.0), drift=1.0, threshold=60.0) == [(0, 49, pytest.approx(100.0))]


@pytest.mark.parametrize("flights_only", [False, True])
def test_change_reported_near_the_switch(tmp_path: Path, flights_only: bool) -> None:
    tm, enrol, truth = _logs(tmp_path, [("type", 0, 90.0), ("type", 1, 240.0)], 240.0, flights_only=flights_only)
    found = change.typist_change(tm, build_profile(enrol, "enrolment"), Options())
    assert len(found) == 1
    assert abs(found[0]["start_s"] - truth[0]["start_s"]) < 10.0
    assert found[0]["end_s"] > truth[0]["end_s"] - 20.0
    details = found[0]["details"]
    if flights_only:  # against an enrolment, a log without releases is weighed as a whole stretch
        assert details["test"] == "session" and details["significance"] >= Options().typist_flights_significance
    else:
        assert details["evidence"] >= details["threshold"] and 0.5 <= found[0]["confidence"] <= 1.0


def test_confidence_grows_with_the_evidence(tmp_path: Path) -> None:
    tm, enrol, _ = _logs(tmp_path, [("type", 0, 60.0), ("type", 1, 240.0)], 240.0)
    profile = build_profile(enrol, "enrolment")
    peak = change.typist_change(tm, profile, Options())[0]["details"]["evidence"]
    low = change.typist_change(tm, profile, Options(typist_evidence=peak * 0.5))[0]
    high = change.typist_change(tm, profile, Options(typist_evidence=peak * 0.95))[0]
    assert low["confidence"] == 1.0 and 0.5 <= high["confidence"] < 0.6


@pytest.mark.parametrize("factor", [0.92, 1.08])
def test_the_same_typist_on_another_day_is_not_a_change(tmp_path: Path, factor: float) -> None:
    tm, enrol, _ = _logs(tmp_path, [("type", 0, 600.0)], 600.0, factor=factor)
    assert change.typist_change(tm, build_profile(enrol, "enrolment"), Options()) == []


def test_excluded_keystrokes_give_no_evidence(tmp_path: Path) -> None:
    tm, enrol, _ = _logs(tmp_path, [("type", 0, 60.0), ("type", 1, 240.0)], 240.0)
    skip = tm.t >= 60.0
    ev = change.evidence(tm, build_profile(enrol, "enrolment"), Options(), exclude=skip)
    assert not skip[ev.index].any()
    assert change.typist_change(tm, build_profile(enrol, "enrolment"), Options(), exclude=skip) == []


def test_the_start_moves_back_to_where_the_evidence_began() -> None:
    # weak evidence (0.8 per timing, under the allowance 1.0) from 100, strong from 200
    score = np.r_[np.zeros(100), np.full(100, 0.8), np.full(200, 3.0)]
    (first, peak, _), = change._cusum(score, drift=1.0, threshold=120.0)
    assert first == 200 and peak == 399
    assert change._located(score, first, peak, drift=0.7) == 100
    assert change._located(score, first, peak, drift=0.9) == 200  # 0.8 per timing is under 0.9 too
    assert change._located(np.full(50, 3.0), 0, 49, drift=0.7) == 0  # never later than the CUSUM's start


def test_a_close_impostor_is_found_by_the_whole_session_test(tmp_path: Path) -> None:
    tm, enrol, _ = _logs(tmp_path, [("type", 1, 300.0)], 300.0)
    profile = build_profile(enrol, "enrolment")
    deaf = Options(typist_evidence=1e9)  # the sequential test finds nothing
    found = change.typist_change(tm, profile, deaf)
    assert len(found) == 1 and found[0]["details"]["test"] == "session"
    assert found[0]["start_s"] < 30.0 and found[0]["end_s"] > 280.0
    assert found[0]["details"]["effect"] >= found[0]["details"]["effect_threshold"]
    same, enrol0, _ = _logs(tmp_path, [("type", 0, 300.0)], 300.0)
    assert change.typist_change(same, build_profile(enrol0, "enrolment"), deaf) == []


def test_without_releases_the_confidence_stays_low(tmp_path: Path) -> None:
    tm, enrol, _ = _logs(tmp_path, [("type", 0, 90.0), ("type", 1, 400.0)], 400.0, flights_only=True)
    found = change.typist_change(tm, build_profile(enrol, "enrolment"), Options())
    assert found and all(v["confidence"] <= change.FLIGHTS_ONLY_MAX_CONFIDENCE for v in found)
    assert all(v["details"]["timing"].startswith("flights only") for v in found)
    with_dwells, enrol2, _ = _logs(tmp_path, [("type", 0, 90.0), ("type", 1, 400.0)], 400.0)
    strong = change.typist_change(with_dwells, build_profile(enrol2, "enrolment"), Options())
    assert max(v["confidence"] for v in strong) == 1.0 and strong[0]["details"]["timing"] == "flights and dwells"


def test_a_log_with_few_releases_counts_as_flights_only(tmp_path: Path) -> None:
    tm, enrol, _ = _logs(tmp_path, [("type", 0, 90.0), ("type", 1, 400.0)], 400.0)
    few = np.where(np.arange(len(tm.t)) % 5 == 0, tm.dwell, np.nan)  # holds known for 1 keystroke in 5
    found = change.typist_change(dataclasses.replace(tm, dwell=few), build_profile(enrol, "enrolment"), Options())
    assert found and all(v["details"]["timing"].startswith("flights only") for v in found)
    assert all(v["confidence"] <= change.FLIGHTS_ONLY_MAX_CONFIDENCE for v in found)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_close_typist_without_releases_is_found_near_the_switch(tmp_path: Path, seed: int) -> None:
    """Same tempo, pair offsets half the candidate's spread, no key releases: each keystroke carries
    too little evidence for the sequential test (the detector before issue 25's second round
    missed all three), but the stretch from the switch to the end differs from the enrolment."""
    plan = [("type", 0, 120.0), ("type", 1, 600.0)]
    tm, enrol, truth = _logs(tmp_path, plan, 600.0, seed=seed, flights_only=True, close=0.15, enrol_s=300.0)
    found = change.typist_change(tm, build_profile(enrol, "enrolment"), Options())
    assert len(found) == 1 and found[0]["details"]["test"] == "session"
    assert abs(found[0]["start_s"] - truth[0]["start_s"]) < 15.0
    assert found[0]["confidence"] <= change.FLIGHTS_ONLY_MAX_CONFIDENCE
    same, enrol0, _ = _logs(tmp_path, [("type", 0, 600.0)], 600.0, seed=seed, flights_only=True, enrol_s=300.0)
    assert change.typist_change(same, build_profile(enrol0, "enrolment"), Options()) == []


def test_a_short_log_without_releases_is_weighed_sequentially(tmp_path: Path) -> None:
    """Under stretch_test.MIN_FLIGHTS scored flights (a live session's 60-s segment, say) the stretch
    test has no footing: on real 60-s segments it flagged a clean one. The CUSUM weighs them."""
    tm, enrol, truth = _logs(tmp_path, [("type", 0, 30.0), ("type", 1, 90.0)], 90.0, flights_only=True)
    profile = build_profile(enrol, "enrolment")
    assert len(change.residuals(tm, profile, Options())[0][0]) < stretch_test.MIN_FLIGHTS
    found = change.typist_change(tm, profile, Options())
    assert found and {v["details"]["test"] for v in found} == {"sequential"}
    assert abs(found[0]["start_s"] - truth[0]["start_s"]) < 10.0


@pytest.mark.parametrize("seed", [0, 1])
def test_without_releases_or_enrolment_the_stretch_test_weighs_the_session(tmp_path: Path, seed: int) -> None:
    """Against the session's own start, a log without releases is weighed by the stretch test too
    (the CUSUM on flights alone gave 7 false alarms in 37 clean real hours, the stretch test 3):
    a takeover is found from near the switch, the candidate alone is not flagged."""
    tm, _, truth = _logs(tmp_path, [("type", 0, 150.0), ("type", 1, 600.0)], 600.0, seed=seed, flights_only=True)
    opts = Options()
    start = opts.typist_baseline_keys
    profile = build_profile(tm, "session_start", stop=start)
    found = change.typist_change(tm, profile, opts, start)
    assert len(found) == 1 and found[0]["details"]["test"] == "session"
    assert found[0]["details"]["baseline"] == "session_start"
    assert abs(found[0]["start_s"] - truth[0]["start_s"]) < 30.0  # a 200-keystroke profile is thin
    same, _, _ = _logs(tmp_path, [("type", 0, 600.0)], 600.0, seed=seed, flights_only=True)
    assert change.typist_change(same, build_profile(same, "session_start", stop=start), opts, start) == []
