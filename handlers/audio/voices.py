"""From voices and turns to ``multiple_speakers`` and ``voice_mismatch`` violations.

- ``multiple_speakers``: turns closer than ``episode_gap_s`` form an episode; an episode in
  which two or more voices speak is one event. ``details.speakers`` counts the voices in it,
  ``details.speakers_in_recording`` in the whole recording. A lone voice far from any other
  speech is not reported here (it is a ``voice_mismatch`` if it is not the candidate's).
- ``voice_mismatch``: the turns of every voice that is not the candidate's. One person has one
  voice: with an enrolment clip, the candidate's is the voice most similar to it, provided its
  centroid's cosine similarity reaches ``match_threshold`` (else no voice is the candidate's:
  an impostor); without one, the dominant voice (most speech). Mismatching turns closer than
  ``merge_gap_s`` are one event.
"""

from __future__ import annotations

import numpy as np

from handlers.audio.frames import merge
from handlers.audio.speakers import Diarization, Turn

__all__ = ["candidate_voices", "multiple_speaker_events", "voice_mismatch_events"]


def _confidence(margin: float) -> float:
    """0.6 at the threshold, 0.99 when 0.15 beyond it."""
    return round(float(np.clip(0.6 + margin * 2.6, 0.6, 0.99)), 3)


def _episodes(turns: list[Turn], gap_s: float) -> list[list[Turn]]:
    groups: list[list[Turn]] = []
    for turn in sorted(turns, key=lambda t: t.start_s):
        if groups and turn.start_s - max(t.end_s for t in groups[-1]) <= gap_s:
            groups[-1].append(turn)
        else:
            groups.append([turn])
    return groups


def multiple_speaker_events(d: Diarization, episode_gap_s: float, cluster_threshold: float) -> list[dict]:
    events = []
    for group in _episodes(d.turns, episode_gap_s):
        voices = sorted({t.speaker for t in group})
        if len(voices) < 2:
            continue
        sims = [float(d.centroids[a] @ d.centroids[b]) for a in voices for b in voices if a < b]
        events.append({
            "type": "multiple_speakers",
            "start_s": round(group[0].start_s, 3),
            "end_s": round(max(t.end_s for t in group), 3),
            "confidence": _confidence(cluster_threshold - max(sims)),
            "details": {"speakers": len(voices), "speakers_in_recording": len(d.centroids),
                        "voices": [f"S{v + 1}" for v in voices]},
        })
    return events


def candidate_voices(d: Diarization, reference: np.ndarray | None, threshold: float) -> tuple[set[int], list[float]]:
    """Voices taken as the candidate's, and each voice's similarity to the reference used."""
    if reference is None:
        sims = [float(c @ d.centroids[0]) for c in d.centroids]
        return {0}, sims
    sims = [float(c @ reference) for c in d.centroids]
    best = int(np.argmax(sims))
    return ({best} if sims[best] >= threshold else set()), sims


def voice_mismatch_events(d: Diarization, reference: np.ndarray | None, threshold: float,
                          merge_gap_s: float, min_s: float) -> list[dict]:
    candidate, sims = candidate_voices(d, reference, threshold)
    foreign = [t for t in d.turns if t.speaker not in candidate]
    events = []
    for start, end in merge([(t.start_s, t.end_s) for t in foreign], merge_gap_s, min_s):
        inside = sorted({t.speaker for t in foreign if t.start_s < end and t.end_s > start})
        sim = max(sims[v] for v in inside)
        events.append({
            "type": "voice_mismatch",
            "start_s": round(start, 3),
            "end_s": round(end, 3),
            "confidence": _confidence(threshold - sim),
            "details": {"similarity": round(sim, 3), "voices": [f"S{v + 1}" for v in inside],
                        "reference": "enrolment" if reference is not None else "dominant_voice"},
        })
    return events
