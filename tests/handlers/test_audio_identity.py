"""The voice-identity decision (calibration thresholds and margins) and the merging of alike voices."""

from __future__ import annotations

import numpy as np
import pytest

from handlers.audio import speakers, voices
from handlers.audio.speakers import Diarization, Turn

ACCEPT, REJECT, MARGIN = 0.70, 0.50, 0.10


def _voices(sims: list[float], seconds: list[float] | None = None) -> tuple[Diarization, np.ndarray]:
    """Centroids whose cosine similarity to a reference is exactly ``sims`` (and ~0 to each other's rest)."""
    dim = 256
    reference = np.zeros(dim)
    reference[0] = 1.0
    centroids = np.zeros((len(sims), dim))
    for k, s in enumerate(sims):
        centroids[k, 0] = s
        centroids[k, k + 1] = np.sqrt(1 - s * s)
    seconds = seconds or [20.0] * len(sims)
    turns = [Turn(k, 10.0 * k, 10.0 * k + 4.0) for k in range(len(sims))]
    return Diarization(turns, centroids, seconds, 10 * len(sims)), reference


def _decide(sims, seconds=None):
    d, ref = _voices(sims, seconds)
    return d, voices.identify(d, ref, ACCEPT, REJECT, MARGIN)


def test_a_matched_candidate_and_a_clearly_lower_voice_is_foreign() -> None:
    d, ident = _decide([0.78, 0.52])
    assert ident.decision == "matched" and ident.candidate == {0} and set(ident.foreign) == {1}
    assert ident.facts()["margin"] == pytest.approx(0.26)
    events = voices.voice_mismatch_events(d, ident, True, 1.0, 0.5)
    assert [(e["start_s"], e["end_s"]) for e in events] == [(10.0, 14.0)]
    assert 0.6 < events[0]["confidence"] <= 0.95


def test_a_voice_within_the_margin_is_uncertain_not_accused() -> None:
    d, ident = _decide([0.74, 0.69])
    assert ident.foreign == {} and ident.uncertain == {1}
    assert voices.voice_mismatch_events(d, ident, True, 1.0, 0.5) == []


def test_between_reject_and_accept_nobody_is_accused_for_the_best_voice() -> None:
    d, ident = _decide([0.62])
    assert ident.decision == "uncertain" and ident.uncertain == {0} and ident.foreign == {}
    assert voices.voice_mismatch_events(d, ident, True, 1.0, 0.5) == []


def test_under_reject_every_voice_is_foreign_and_confidence_grows_with_the_distance() -> None:
    _, near = _decide([0.48])
    _, far = _decide([0.20])
    assert near.decision == far.decision == "impostor"
    assert near.foreign[0] < far.foreign[0] <= 0.95


def test_little_speech_lowers_confidence() -> None:
    _, long = _decide([0.80, 0.40], [30.0, 20.0])
    _, short = _decide([0.80, 0.40], [30.0, 3.0])
    assert short.foreign[1] == pytest.approx(long.foreign[1] - 0.1)


def test_without_enrolment_the_dominant_voice_is_the_candidate() -> None:
    d, _ = _voices([0.9, 0.3])
    ident = voices.identify(d, None, ACCEPT, REJECT, MARGIN)
    assert ident.decision == "dominant_voice" and ident.candidate == {0} and set(ident.foreign) == {1}


def test_alike_clusters_merge_and_distinct_ones_stay_apart() -> None:
    rng = np.random.default_rng(1)
    base = rng.standard_normal(256)
    other = rng.standard_normal(256)

    def cloud(centre, n):
        v = centre + 0.02 * np.linalg.norm(centre) * rng.standard_normal((n, 256))
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    vectors = np.vstack([cloud(base, 6), cloud(base, 4), cloud(other, 5)])
    labels = np.array([0] * 6 + [1] * 4 + [2] * 5)
    seconds = np.ones(len(vectors))
    merged = speakers._merge_alike(vectors, labels, seconds, 0.88)
    assert len(set(merged[:10])) == 1 and merged[10] != merged[0] and len(set(merged)) == 2
    assert set(speakers._merge_alike(vectors, labels, seconds, 1.0)) == {0, 1, 2}


def test_without_enrolment_a_voice_speaking_nearly_as_much_as_the_dominant_one_is_not_accused() -> None:
    d, _ = _voices([0.9, 0.3, 0.2], [30.0, 27.0, 6.0])
    ident = voices.identify(d, None, ACCEPT, REJECT, MARGIN, dominant_ratio=0.8)
    assert ident.decision == "dominant_unclear"
    assert set(ident.foreign) == {2} and ident.uncertain == {0, 1}
    clear, _ = _voices([0.9, 0.3], [30.0, 20.0])
    assert set(voices.identify(clear, None, ACCEPT, REJECT, MARGIN, dominant_ratio=0.8).foreign) == {1}
    events = voices.voice_mismatch_events(d, ident, False, merge_gap_s=1.0, min_s=0.5)
    assert [e["details"]["voices"] for e in events] == [["S3"]]


def test_turns_cover_the_unclear_speech_of_their_stretch() -> None:
    T = speakers.Turn
    turns = [T(0, 1.0, 2.0), T(0, 3.0, 4.0), T(1, 6.0, 7.0), T(1, 21.0, 22.0)]
    filled = speakers.fill_stretches(turns, [(0.5, 8.0), (10.0, 15.0), (20.0, 23.0)])
    assert filled == [T(0, 0.5, 5.0), T(1, 5.0, 8.0), T(1, 20.0, 23.0)]
