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
from handlers.webcam.cues import expressions, talking
from handlers.webcam.identity import distance, mismatch_confidence
from handlers.webcam.intervals import Span, Violation, merge, spans, violation
from handlers.webcam.options import Options
from handlers.webcam.people import People, tracks
from handlers.webcam.person import PERSON_SHARE

__all__ = ["People", "all_checks", "expressions", "first_person", "pose", "presence", "talking"]


def _series(data: Observations, label: Callable[[Obs], Hashable | None]) -> list[tuple[float, Hashable | None]]:
    return [(o.t, None if o.dark else label(o)) for o in data.obs]


def camera(data: Observations, opts: Options) -> list[Violation]:
    found = merge(spans(data.light, data.end_s), opts.merge_gap_s, opts.camera_dark_min_s)
    return [violation("camera_blocked_or_dark", s, 0.9) for s in found]


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
    out = [violation("face_absent", s, 0.9) for s in absent]
    for s in several:
        inside = [o for o in data.obs if s[0] <= o.t <= s[1] and not o.dark]
        most = max((len(o.faces) + (o.extra_small or 0) for o in inside), default=2)
        sizes = [o.extra_px for o in inside if o.extra_px is not None]
        out.append(violation("multiple_faces", s, 0.85, max_faces=int(max(2, most)),
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
    boxes = [{"box": [round(float(v), 1) for v in f.box], "label": "face"} for f in best.faces]
    boxes += [{"box": [round(float(v), 1) for v in (b.x0, b.y0, b.x1, b.y1)], "label": "other face"} for b in best.extra_boxes]
    return {"evidence": {"t": round(best.t, 3), "boxes": boxes}}


def _several(o: Obs) -> bool | None:
    if len(o.faces) >= 2:
        return True
    if o.extra_small is None:
        return None if o.faces else False
    return o.extra_small > 0


_GAZE_DOWN_FACTOR = 1.5
_GAZE_HELD_SHARE = 0.6  # share of a gaze span's samples that must look that way
_AWAY_NOTE = "face not visible while a person is in front of the camera (turned away, or head out of the frame)"


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
            inside = [lab for t, lab in labels if s[0] <= t <= s[1] and lab is not None]
            direction = _majority([lab for lab in inside if lab])
            if direction == "away" and s[1] - s[0] < opts.face_absent_min_s:
                continue  # a face unseen for a moment (dim, small) is weak evidence: as long as an absence
            if kind == "gaze_away" and not _held(inside, direction, s, opts):
                continue
            conf = _confidence(kind, direction)
            out.append(violation(kind, s, conf, direction=direction, **_angles(data, (s[0], s[1], direction), people)))
    return out


def _held(inside: list, direction: str, s: Span, opts: Options) -> bool:
    """Eyes off the usual direction on most samples of the span (not blinks and glances joined by
    the merge gap), and eyes down for at least ``gaze_down_min_s``: looking down at the keyboard,
    the screen under the camera or a prompt is what a candidate at work looks like (on real
    footage, 2-5 s reading glances were 17 of 20 gaze reports in 0.45 clean hours)."""
    if sum(1 for lab in inside if lab == direction) < _GAZE_HELD_SHARE * len(inside):
        return False
    return direction != "down" or s[1] - s[0] >= opts.gaze_down_min_s


def _majority(labels: list) -> str:
    return max(set(labels), key=labels.count) if labels else "away"


def _confidence(kind: str, direction: str) -> float:
    """A lost face and the eyes alone are weaker evidence than a turned head. Eyes down are the
    weakest, even held for ``gaze_down_min_s``: a candidate reading the exam on a screen below the
    camera looks the same (README "Real footage")."""
    if kind == "gaze_away":
        return 0.4 if direction == "down" else 0.5
    return 0.5 if direction == "away" else 0.7


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


def first_person(data: Observations, opts: Options) -> np.ndarray | None:
    """The mean embedding of the first face track that has embeddings."""
    for s0, s1, _ in tracks(data, opts):
        embs = [e for t, e in data.embeddings if s0 <= t <= s1]
        if embs:
            return np.mean(embs, axis=0)
    return None


def identity(data: Observations, opts: Options, reference: np.ndarray | None,
             first: np.ndarray | None = None) -> list[Violation]:
    """Face tracks (runs of presence) with embeddings: compared to the reference and to the
    session's first person (``first``: known from earlier segments of a live session)."""
    embedded = [(s, [e for t, e in data.embeddings if s[0] <= t <= s[1]]) for s in tracks(data, opts)]
    embedded = [(s, e) for s, e in embedded if e]
    if not embedded:
        return []
    first = first if first is not None else np.mean(embedded[0][1], axis=0)
    out = []
    for span, embs in embedded:
        for kind, target in (("identity_mismatch", reference), ("identity_change", first)):
            if target is None:
                continue
            d = float(np.median([distance(e, target) for e in embs]))
            if d > opts.identity_max_distance:
                out.append(violation(kind, span, mismatch_confidence(d, opts.identity_max_distance),
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


def all_checks(data: Observations, opts: Options, reference: np.ndarray | None,
               first: np.ndarray | None = None, usual: dict[str, float] | None = None) -> list[Violation]:
    """Every check; ``first`` and ``usual`` come from earlier segments of a live session."""
    people = People(data, opts, usual, first)
    speech = talking(data, opts, people)
    return [*camera(data, opts), *presence(data, opts), *identity(data, opts, reference, first),
            *pose(data, opts, people), *speech, *expressions(data, opts, people, speech)]
