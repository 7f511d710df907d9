"""From voices and turns to ``multiple_speakers`` and ``voice_mismatch`` violations.

- ``multiple_speakers``: turns closer than ``episode_gap_s`` form an episode; an episode in
  which two or more voices speak is one event. ``details.speakers`` counts the voices in it,
  ``details.speakers_in_recording`` in the whole recording.
- ``voice_mismatch``: the turns of every voice judged foreign by :func:`identify`. Foreign turns
  closer than ``merge_gap_s`` are one event.

:func:`identify` compares each voice's centroid with the enrolment (cosine similarity), and
the voices with each other, with thresholds measured on real speech through other microphones
(README, "Voice identity"). The same person enrolled on a headset and heard through a laptop,
phone, browser or across the room scores 0.56-0.95; two different people 0.35-0.70. So one
fixed threshold cannot accuse; the decision is relative:

- the best-matching voice is the candidate's if it reaches ``accept`` (``voice_match_threshold``);
- if even the best voice is under ``reject`` (``voice_reject_threshold``) nobody is the
  candidate: every voice is foreign (an impostor);
- in between, the best voice is ``uncertain``: not accused, and said so in ``media``;
- any other voice is foreign only if it scores at least ``margin`` (``voice_margin``) under the
  best voice and under ``foreign_below`` (``voice_foreign_below``), else it too is ``uncertain``
  (the candidate's own voice in another condition: measured down to 0.62 in real sessions,
  while every foreign voice found on the real set scored 0.38-0.58).

Without an enrolment the dominant voice (most speech) is the candidate's and the other voices
(distinct by clustering) are foreign, unless another voice speaks more than ``dominant_ratio``
(``voice_dominant_ratio``) times as much: then who sits the exam is unclear (a meeting, two
people reading in turn), the decision is ``dominant_unclear`` and nobody is accused
(``multiple_speakers`` still reports the voices). Confidence grows with the margin and is lower for voices
with little speech; it never exceeds 0.95.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handlers.audio.frames import merge
from handlers.audio.speakers import Diarization, Turn

__all__ = ["Identity", "identify", "multiple_speaker_events", "recall_foreign", "voice_mismatch_events"]

_SHORT_VOICE_S = 5.0  # a voice with less speech than this gets 0.1 less confidence


@dataclass
class Identity:
    """Who is who: the voices taken as the candidate's, as foreign (with a confidence), as uncertain."""

    decision: str  # matched / impostor / uncertain / dominant_voice / dominant_unclear / session_voice / no_voice
    similarity: list[float]
    candidate: set[int] = field(default_factory=set)
    foreign: dict[int, float] = field(default_factory=dict)
    uncertain: set[int] = field(default_factory=set)

    def facts(self) -> dict:
        sims = sorted(self.similarity, reverse=True)
        return {"decision": self.decision, "similarity": [round(s, 3) for s in self.similarity],
                "margin": round(sims[0] - sims[1], 3) if len(sims) > 1 else None,
                "uncertain_voices": [f"S{v + 1}" for v in sorted(self.uncertain)]}


def _conf(x: float, seconds: float) -> float:
    return round(float(np.clip(x, 0.5, 0.95)) - (0.1 if seconds < _SHORT_VOICE_S else 0.0), 3)


def identify(d: Diarization, reference: np.ndarray | None, accept: float, reject: float, margin: float,
             foreign_below: float = 1.0, dominant_ratio: float = 1.0, session: np.ndarray | None = None) -> Identity:
    """The identity decision for the voices of ``d`` (see the module docstring). ``session``:
    without an enrolment, a live session's voice as first heard (``live.py``): the voice
    nearest to it leads instead of this segment's dominant one, or nobody if none comes near."""
    if not len(d.centroids):
        return Identity("no_voice", [])
    if reference is None:
        return _dominant(d, dominant_ratio) if session is None else _session_lead(d, session, reject, dominant_ratio)
    sims = [float(c @ reference) for c in d.centroids]
    best = int(np.argmax(sims))
    if sims[best] < reject:
        foreign = {k: _conf(0.6 + 3.0 * (reject - sims[k]), d.seconds[k]) for k in range(len(sims))}
        return Identity("impostor", sims, set(), foreign)
    out = Identity("matched" if sims[best] >= accept else "uncertain", sims, {best})
    if sims[best] < accept:
        out.uncertain.add(best)
    for k, s in enumerate(sims):
        if k == best:
            continue
        if sims[best] - s >= margin and s < foreign_below:
            out.foreign[k] = _conf(0.6 + 2.0 * (sims[best] - s - margin), d.seconds[k])
        else:
            out.uncertain.add(k)
    return out


def recall_foreign(identity: Identity, d: Diarization, known: list[np.ndarray], same: float,
                   own: np.ndarray | None) -> Identity:
    """A voice that an earlier segment of a live session judged foreign (``known``) stays
    foreign: any voice here at least ``same`` alike to one, and more alike to it than to the
    candidate's ``own`` voice (enrolment or session voice), unless it matched the enrolment
    (or nobody can tell who sits the exam: ``dominant_unclear``)."""
    if identity.decision == "dominant_unclear":
        return identity
    for k, centroid in enumerate(d.centroids):
        alike = max((float(centroid @ f) for f in known), default=-1.0)
        mine = float(centroid @ own) if own is not None else -1.0
        if (alike < same or alike <= mine or k in identity.foreign
                or (k in identity.candidate and identity.decision == "matched")):
            continue
        identity.foreign[k] = _conf(0.6 + 2.0 * (alike - same), d.seconds[k])
        identity.uncertain.discard(k)
        identity.candidate.discard(k)
    return identity


def _dominant(d: Diarization, ratio: float) -> Identity:
    """Without enrolment: the voice with the most speech is the candidate's, the others foreign,
    unless another voice has more than ``ratio`` times its speech: then nobody is sure who sits
    the exam, and those voices are ``uncertain`` (a meeting-like session)."""
    return _lead(d, 0, [float(c @ d.centroids[0]) for c in d.centroids], ratio, "dominant_voice")


def _session_lead(d: Diarization, session: np.ndarray, reject: float, ratio: float) -> Identity:
    """A live segment without enrolment: the voice nearest the session's voice leads; none
    near it (under ``reject``): every voice is foreign. The dominance rule of :func:`_dominant`
    holds in the segment (a voice speaking more than ``ratio`` times the lead is not accused)."""
    near = [float(c @ session) for c in d.centroids]
    lead = int(np.argmax(near))
    if near[lead] < reject:
        foreign = {k: _conf(0.6 + 3.0 * (reject - near[k]), d.seconds[k]) for k in range(len(near))}
        return Identity("impostor", near, set(), foreign)
    return _lead(d, lead, [float(c @ d.centroids[lead]) for c in d.centroids], ratio, "session_voice")


def _lead(d: Diarization, lead: int, sims: list[float], ratio: float, decision: str) -> Identity:
    out = Identity(decision, sims, {lead})
    for k in range(len(sims)):
        if k == lead:
            continue
        if d.seconds[k] > ratio * d.seconds[lead]:
            out.uncertain.add(k)
        else:
            out.foreign[k] = _conf(0.6 + 2.0 * (1.0 - sims[k]) - 0.4, d.seconds[k])
    if out.uncertain:
        out.uncertain.add(lead)
        out.decision = "dominant_unclear"
    return out


def _episodes(turns: list[Turn], gap_s: float) -> list[list[Turn]]:
    groups: list[list[Turn]] = []
    for turn in sorted(turns, key=lambda t: t.start_s):
        if groups and turn.start_s - max(t.end_s for t in groups[-1]) <= gap_s:
            groups[-1].append(turn)
        else:
            groups.append([turn])
    return groups


def multiple_speaker_events(d: Diarization, episode_gap_s: float, merge_similarity: float) -> list[dict]:
    """One event per episode with two or more voices; confidence from how distinct they are."""
    events = []
    for group in _episodes(d.turns, episode_gap_s):
        voices = sorted({t.speaker for t in group})
        if len(voices) < 2:
            continue
        closest = max(float(d.centroids[a] @ d.centroids[b]) for a in voices for b in voices if a < b)
        least = min(d.seconds[v] for v in voices)
        events.append({
            "type": "multiple_speakers",
            "start_s": round(group[0].start_s, 3),
            "end_s": round(max(t.end_s for t in group), 3),
            "confidence": _conf(0.6 + 2.0 * (merge_similarity - closest), least),
            "details": {"speakers": len(voices), "speakers_in_recording": len(d.centroids),
                        "voices": [f"S{v + 1}" for v in voices]},
        })
    return events


def voice_mismatch_events(d: Diarization, identity: Identity, reference_used: bool,
                          merge_gap_s: float, min_s: float) -> list[dict]:
    """``voice_mismatch`` events: the turns of the foreign voices."""
    foreign = [t for t in d.turns if t.speaker in identity.foreign]
    events = []
    for start, end in merge([(t.start_s, t.end_s) for t in foreign], merge_gap_s, min_s):
        inside = sorted({t.speaker for t in foreign if t.start_s < end and t.end_s > start})
        events.append({
            "type": "voice_mismatch",
            "start_s": round(start, 3),
            "end_s": round(end, 3),
            "confidence": min(identity.foreign[v] for v in inside),
            "details": {"similarity": round(max(identity.similarity[v] for v in inside), 3),
                        "voices": [f"S{v + 1}" for v in inside], "decision": identity.decision,
                        "reference": "enrolment" if reference_used else "dominant_voice"},
        })
    return events
