"""The demo's found-vs-expected comparison, and its sample selection's shape."""

from __future__ import annotations

from ml_service import samples
from ml_service.sandbox.demo_samples import DEMO_SAMPLES, compare, default_cache


def _ev(kind, start, end):
    return {"type": kind, "start_s": start, "end_s": end, "confidence": 0.9}


TRUTH = [_ev("face_absent", 10, 20), _ev("face_absent", 30, 35), _ev("multiple_faces", 40, 45)]


def test_a_session_matches_only_when_found_equals_expected_event_by_event():
    exact = compare(TRUTH, [_ev("face_absent", 11, 21), _ev("face_absent", 29, 36), _ev("multiple_faces", 40, 44)])
    assert exact.ok and exact.cells() == ["face_absent 2/2", "multiple_faces 1/1"]
    missed = compare(TRUTH, [_ev("face_absent", 11, 21), _ev("multiple_faces", 40, 44)])
    assert not missed.ok and missed.cells() == ["face_absent 1/2", "multiple_faces 1/1"]
    extra = compare(TRUTH, [*TRUTH, _ev("gaze_away", 50, 52)])
    assert not extra.ok and "gaze_away 1/0" in extra.cells()
    elsewhere = compare(TRUTH, [_ev("face_absent", 0, 5), _ev("face_absent", 30, 35), _ev("multiple_faces", 40, 45)])
    assert not elsewhere.ok and elsewhere.cells() == ["face_absent 2/2", "multiple_faces 1/1"]  # counts alone agree
    assert compare([], []).ok and compare([], []).cells() == []


def test_the_selection_names_existing_modalities_and_the_cache_follows_xdg(monkeypatch, tmp_path):
    assert set(DEMO_SAMPLES) <= set(samples.modality_names())
    for modality, names in DEMO_SAMPLES.items():
        assert len(names) >= 3 and all(n.startswith(f"{modality}-") for n in names)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache() == tmp_path / "ml-service" / "demo-samples"
