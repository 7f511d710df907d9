"""The checks: observations in, violations (``type``, ``start_s``, ``end_s``, ``confidence``,
``details``) out.

Head pose, gaze, mouth and expressions are judged relative to each person's own median in the
session (a webcam above or beside the screen, or a person who always smiles, is the baseline,
not a violation).
Everything the camera could not see (dark or covered frames) is unknown for the face checks,
so a failed camera is reported as ``camera_blocked_or_dark`` and never as ``face_absent``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from handlers.webcam.analyse import Obs, Observations
from handlers.webcam.identity import distance, mismatch_confidence
from handlers.webcam.intervals import Span, merge, spans
from handlers.webcam.options import Options
from handlers.webcam.person import PERSON_SHARE

__all__ = ["People", "all_checks"]

Violation = dict[str, Any]


def _violation(kind: str, span: Span, confidence: float, **details: Any) -> Violation:
    v: Violation = {"type": kind, "start_s": round(span[0], 2), "end_s": round(span[1], 2),
                    "confidence": round(float(min(1.0, max(0.0, confidence))), 3)}
    if details:
        v["details"] = details
    return v


def _series(data: Observations, label: Callable[[Obs], Hashable | None]) -> list[tuple[float, Hashable | None]]:
    return [(o.t, None if o.dark else label(o)) for o in data.obs]


def camera(data: Observations, opts: Options) -> list[Violation]:
    found = merge(spans(data.light, data.end_s), opts.merge_gap_s, opts.camera_dark_min_s)
    return [_violation("camera_blocked_or_dark", s, 0.9) for s in found]


def person_without_face(o: Obs) -> bool:
    """No face found, but the person-segmentation model sees somebody (turned away, head out of frame)."""
    return not o.faces and o.person is not None and o.person >= PERSON_SHARE


def presence(data: Observations, opts: Options) -> list[Violation]:
    """``face_absent``: nobody in front of the camera (no face and no person); ``multiple_faces``:
    another face seen on at least two samples in a row (one scan's find is not enough)."""
    absent = merge(spans(_series(data, lambda o: not o.faces and not person_without_face(o)), data.end_s), 0.5,
                   opts.face_absent_min_s)
    several = merge(_persistent(spans(_series(data, _several), data.end_s), data), opts.merge_gap_s,
                    opts.multiple_faces_min_s)
    out = [_violation("face_absent", s, 0.9) for s in absent]
    for s in several:
        inside = [o for o in data.obs if s[0] <= o.t <= s[1] and not o.dark]
        most = max((len(o.faces) + (o.extra_small or 0) for o in inside), default=2)
        sizes = [o.extra_px for o in inside if o.extra_px is not None]
        out.append(_violation("multiple_faces", s, 0.85, max_faces=int(max(2, most)),
                              smallest_other_face_px=round(float(min(sizes)), 1) if sizes else None,
                              **_evidence(inside, most)))
    return out


def _persistent(found: list[Span], data: Observations) -> list[Span]:
    """Spans holding at least two samples that saw the other face."""
    return [s for s in found if sum(1 for o in data.obs if s[0] <= o.t <= s[1] and _several(o)) >= 2]


def _evidence(inside: list[Obs], most: int) -> dict[str, Any]:
    """The sample to show the proctor (the first with the most faces) and every face counted on it."""
    best = next((o for o in inside if len(o.faces) + (o.extra_small or 0) >= most), None)
    if best is None:
        return {}
    boxes = [{"box": [round(v, 1) for v in f.box], "label": "face"} for f in best.faces]
    boxes += [{"box": [round(v, 1) for v in (b.x0, b.y0, b.x1, b.y1)], "label": "other face"} for b in best.extra_boxes]
    return {"evidence": {"t": round(best.t, 3), "boxes": boxes}}


def _several(o: Obs) -> bool | None:
    if len(o.faces) >= 2:
        return True
    if o.extra_small is None:
        return None if o.faces else False
    return o.extra_small > 0


_GAZE_DOWN_FACTOR = 1.5
_SPREAD = 4.0  # a deviation counts when beyond this many of the person's own median absolute deviations
_AWAY_NOTE = "face not visible while a person is in front of the camera (turned away, or head out of the frame)"
_BASE_ATTRS = ("yaw", "pitch", "gaze_h", "gaze_v", "smile", "surprise", "mouth")


class People:
    """Who each observation shows (tracks grouped by embedding) and each person's usual
    pose, gaze, smile and mouth (medians): baselines are per person, so a second person's
    different habits are not read as the first person's violations."""

    def __init__(self, data: Observations, opts: Options) -> None:
        self.tracks = _tracks(data, opts)
        self.person_of_track = _group(self.tracks, data, opts)
        self.person = [self._person_at(o.t) for o in data.obs]
        self.base: dict[int, dict[str, float]] = {}
        self.spread: dict[int, dict[str, float]] = {}
        for pid in set(self.person) - {None}:
            faces = [o.face for o, p in zip(data.obs, self.person) if p == pid and o.face is not None]
            values = {a: np.array([getattr(f, a) for f in faces]) for a in _BASE_ATTRS}
            self.base[pid] = {a: float(np.median(v)) if len(v) else 0.0 for a, v in values.items()}
            self.spread[pid] = {a: float(np.median(np.abs(v - self.base[pid][a]))) if len(v) else 0.0
                                for a, v in values.items()}

    def _person_at(self, t: float) -> int | None:
        for i, (s0, s1, _) in enumerate(self.tracks):
            if s0 <= t <= s1:
                return self.person_of_track[i]
        return None

    def limit(self, i: int, attr: str, threshold: float) -> float:
        """``threshold``, or more for a person whose ``attr`` usually varies more (talking, moving)."""
        pid = self.person[i]
        spread = self.spread.get(pid, {}).get(attr, 0.0) if pid is not None else 0.0
        return max(threshold, _SPREAD * spread)

    def rel(self, i: int, o: Obs, attr: str) -> float:
        pid = self.person[i]
        base = self.base.get(pid, {}).get(attr, 0.0) if pid is not None else 0.0
        return getattr(o.face, attr) - base


def _group(tracks: list[Span], data: Observations, opts: Options) -> list[int]:
    """A person id per track: same person when the mean embeddings are close; a track with
    no embedding belongs to the person of the track before it."""
    people: list[np.ndarray] = []
    out: list[int] = []
    for s0, s1, _ in tracks:
        embs = [e for t, e in data.embeddings if s0 <= t <= s1]
        if not embs:
            out.append(out[-1] if out else 0)
            continue
        mean = np.mean(embs, axis=0)
        near = [k for k, p in enumerate(people) if distance(mean, p) <= opts.identity_max_distance]
        if near:
            out.append(near[0])
        else:
            people.append(mean)
            out.append(len(people) - 1)
    return out


def pose(data: Observations, opts: Options, people: People) -> list[Violation]:
    """``head_turned``: yaw/pitch beyond the thresholds from the person's usual pose, or the face
    lost while the person is still in view (``away``); ``gaze_away``: the eyes turned while the
    head is near its usual pose, by more than the threshold and than this person's own spread."""
    def head(i: int, o: Obs) -> str | bool:
        if o.face is None:
            return "away" if person_without_face(o) else False
        yaw, pitch = people.rel(i, o, "yaw"), people.rel(i, o, "pitch")
        if abs(yaw) >= opts.head_yaw_deg:
            return "left" if yaw > 0 else "right"
        if pitch <= -opts.head_pitch_down_deg:
            return "down"
        return "up" if pitch >= opts.head_pitch_up_deg else False

    def gaze(i: int, o: Obs) -> str | bool | None:
        if o.face is None or head(i, o):
            return False
        if abs(people.rel(i, o, "yaw")) > 0.6 * opts.head_yaw_deg:
            return None  # the head is half-turned: eye blendshapes are unreliable there
        gh, gv = people.rel(i, o, "gaze_h"), people.rel(i, o, "gaze_v")
        if abs(gh) >= people.limit(i, "gaze_h", opts.gaze_threshold):
            return "left" if gh > 0 else "right"
        # vertical eye blendshapes move with blinks and speech: down needs more, up is not a cue
        return "down" if gv <= -people.limit(i, "gaze_v", _GAZE_DOWN_FACTOR * opts.gaze_threshold) else False

    out = []
    for kind, label, min_s in (("head_turned", head, opts.head_turned_min_s), ("gaze_away", gaze, opts.gaze_away_min_s)):
        labels = [(o.t, None if o.dark else label(i, o)) for i, o in enumerate(data.obs)]
        series = [(t, None if lab is None else bool(lab)) for t, lab in labels]
        for s in merge(spans(series, data.end_s), opts.merge_gap_s, min_s):
            direction = _majority([lab for t, lab in labels if s[0] <= t <= s[1] and lab])
            if direction == "away" and s[1] - s[0] < opts.face_absent_min_s:
                continue  # a face unseen for a moment (dim, small) is weak evidence: as long as an absence
            conf = 0.5 if direction == "away" else 0.7
            out.append(_violation(kind, s, conf, direction=direction, **_angles(data, (s[0], s[1], direction), people)))
    return out


def _majority(labels: list) -> str:
    return max(set(labels), key=labels.count) if labels else "away"


def _angles(data: Observations, s: Span, people: People) -> dict[str, Any]:
    inside = [(i, o) for i, o in enumerate(data.obs) if s[0] <= o.t <= s[1] and o.face is not None]
    if not inside:
        return {"note": _AWAY_NOTE} if s[2] == "away" else {}
    details: dict[str, Any] = {"yaw_deg": round(float(np.median([people.rel(i, o, "yaw") for i, o in inside])), 1),
               "pitch_deg": round(float(np.median([people.rel(i, o, "pitch") for i, o in inside])), 1)}
    if s[2] == "away":
        details["note"] = _AWAY_NOTE
    if s[2] == "down":
        details["note"] = "looking down: a possible phone, book or notes below the camera (indirect cue)"
    return details


def talking(data: Observations, opts: Options, people: People) -> list[Violation]:
    """Mouth opening and closing: the std of the inner-lip gap over a window of samples
    (frontal faces only: a turned head changes the apparent gap), then the interval is
    trimmed to its first and last clearly open mouth."""
    usable = [(i, o) for i, o in enumerate(data.obs) if o.face is not None and not o.dark and _frontal(i, o, opts, people)]
    times = np.array([o.t for _, o in usable])
    mouth = np.array([o.face.mouth for _, o in usable])
    is_usable = {i for i, _ in usable}
    half = opts.talking_window_s / 2
    labels: list[tuple[float, Hashable | None]] = []
    for i, o in enumerate(data.obs):
        if i not in is_usable:
            labels.append((o.t, None if (o.dark or o.face is not None) else False))
            continue
        lo, hi = np.searchsorted(times, o.t - half), np.searchsorted(times, o.t + half, side="right")
        window = mouth[lo:hi]
        labels.append((o.t, bool(window.std() > opts.talking_mouth_std) if len(window) >= 4 else None))
    found = merge(spans(labels, data.end_s, max_edge_gap_s=half), opts.merge_gap_s, 0.0)
    trimmed = [_trim_open(s, usable, people, opts) for s in found]
    return [_violation("talking", s, 0.6, note="mouth movement: a cue for the audio analysis to confirm")
            for s in trimmed if s[1] - s[0] >= opts.talking_min_s]


def _frontal(i: int, o: Obs, opts: Options, people: People) -> bool:
    return abs(people.rel(i, o, "yaw")) < 0.8 * opts.head_yaw_deg and abs(people.rel(i, o, "pitch")) < 0.8 * opts.head_pitch_down_deg


def _trim_open(s: Span, usable: list[tuple[int, Obs]], people: People, opts: Options) -> Span:
    inside = [(i, o) for i, o in usable if s[0] <= o.t <= s[1]]
    is_open = [o.t for i, o in inside if people.rel(i, o, "mouth") > 1.5 * opts.talking_mouth_std]
    if not is_open:
        return s
    gap = 0.5 / max(1.0, opts.dense_fps)
    return (max(s[0], is_open[0] - gap), min(s[1], is_open[-1] + gap), s[2])


def expressions(data: Observations, opts: Options, people: People, speech: list[Violation] | None = None) -> list[Violation]:
    """Cues, not accusations: a smile or surprise well above this person's usual and beyond their
    own spread, held for ``expression_min_s``. Passing smiles, and smiles while talking
    (``speech``: the talking intervals; people smile as they speak), are not cues."""
    spoken = [(v["start_s"], v["end_s"]) for v in speech or []]

    def cue(i: int, o: Obs) -> str | bool:
        if o.face is None:
            return False
        if people.rel(i, o, "surprise") >= people.limit(i, "surprise", opts.surprise_score):
            return "surprise"
        if any(a <= o.t <= b for a, b in spoken):
            return False
        return "smile" if people.rel(i, o, "smile") >= people.limit(i, "smile", opts.smile_delta) else False

    series = [(o.t, None if o.dark else cue(i, o)) for i, o in enumerate(data.obs)]
    found = merge(spans(series, data.end_s), opts.merge_gap_s, opts.expression_min_s)
    return [_violation("expression_cues", s, 0.3, cue=s[2], note="a cue, not an accusation") for s in found]


def identity(data: Observations, opts: Options, reference: np.ndarray | None) -> list[Violation]:
    """Face tracks (runs of presence) with embeddings: compared to the reference and to the
    session's first person."""
    tracks = _tracks(data, opts)
    embedded = [(s, [e for t, e in data.embeddings if s[0] <= t <= s[1]]) for s in tracks]
    embedded = [(s, e) for s, e in embedded if e]
    if not embedded:
        return []
    first = np.mean(embedded[0][1], axis=0)
    out = []
    for span, embs in embedded:
        for kind, target in (("identity_mismatch", reference), ("identity_change", first)):
            if target is None:
                continue
            d = float(np.median([distance(e, target) for e in embs]))
            if d > opts.identity_max_distance:
                out.append(_violation(kind, span, mismatch_confidence(d, opts.identity_max_distance),
                                      distance=round(d, 3), embeddings=len(embs), **_face_evidence(data, span)))
    merged = []
    for kind in ("identity_mismatch", "identity_change"):
        same = [(v["start_s"], v["end_s"], kind) for v in out if v["type"] == kind]
        for s in merge(same, opts.merge_gap_s, 0.0):
            parts = [v for v in out if v["type"] == kind and s[0] <= v["start_s"] <= s[1]]
            best = max(parts, key=lambda v: v["confidence"])
            merged.append({**best, "start_s": round(s[0], 2), "end_s": round(s[1], 2)})
    return merged


def _face_evidence(data: Observations, span: Span) -> dict[str, Any]:
    """The first embedded sample of the span and the box of the face that did not match."""
    times = {round(t, 3) for t, _ in data.embeddings if span[0] <= t <= span[1]}
    seen = next((o for o in data.obs if round(o.t, 3) in times and o.face is not None), None)
    if seen is None:
        return {}
    return {"evidence": {"t": round(seen.t, 3), "boxes": [{"box": [round(v, 1) for v in seen.face.box],
                                                           "label": "not matching"}]}}


def _tracks(data: Observations, opts: Options) -> list[Span]:
    """Presence runs, split where the face jumps between consecutive samples, and where two
    consecutive embeddings within one run are different people (at the colour jump between
    them, else half-way)."""
    runs = _runs(data, [])
    cuts = [c for s0, s1, _ in runs for c in _identity_cuts(data, opts, s0, s1)]
    return _runs(data, cuts) if cuts else runs


def _runs(data: Observations, cuts: list[float]) -> list[Span]:
    from handlers.webcam.analyse import _jumped

    labels: list[tuple[float, Hashable | None]] = []
    track, prev, cuts = 0, None, sorted(cuts)
    for o in data.obs:
        if o.dark:
            labels.append((o.t, None))
            continue
        if o.face is None:
            prev = None
            labels.append((o.t, False))
            continue
        if prev is None or _jumped(prev, o.face) or (cuts and o.t >= cuts[0]):
            track += 1
            while cuts and o.t >= cuts[0]:
                cuts.pop(0)
        prev = o.face
        labels.append((o.t, track))
    return spans(labels, data.end_s)


def _identity_cuts(data: Observations, opts: Options, start: float, end: float) -> list[float]:
    """Where one run changes person: between two embeddings that differ, at the first sample
    whose face colours are nearer the later embedding's sample than the earlier one's."""
    inside = [(t, e) for t, e in data.embeddings if start <= t <= end]
    cuts = []
    for (ta, ea), (tb, eb) in zip(inside, inside[1:]):
        if distance(ea, eb) <= opts.identity_max_distance:
            continue
        seen = [o for o in data.obs if ta <= o.t <= tb and o.look is not None]
        look_a, look_b = seen[0].look, seen[-1].look
        cuts.append(next((o.t for o in seen[1:] if np.abs(o.look - look_b).sum() < np.abs(o.look - look_a).sum()),
                         (ta + tb) / 2))
    return cuts


def all_checks(data: Observations, opts: Options, reference: np.ndarray | None) -> list[Violation]:
    people = People(data, opts)
    speech = talking(data, opts, people)
    return [*camera(data, opts), *presence(data, opts), *identity(data, opts, reference),
            *pose(data, opts, people), *speech, *expressions(data, opts, people, speech)]
