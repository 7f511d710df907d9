"""The checks: observations in, violations (``type``, ``start_s``, ``end_s``, ``confidence``,
``details``) out.

Head pose, gaze and expressions are judged relative to the session's own median (a webcam
above or beside the screen, or a person who always smiles, is the baseline, not a violation).
Everything the camera could not see (dark or covered frames) is unknown for the face checks,
so a failed camera is reported as ``camera_blocked_or_dark`` and never as ``face_absent``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from handlers.webcam.analyse import Obs, Observations
from handlers.webcam.identity import distance
from handlers.webcam.intervals import Span, merge, spans
from handlers.webcam.options import Options

__all__ = ["all_checks"]

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


def presence(data: Observations, opts: Options) -> list[Violation]:
    absent = merge(spans(_series(data, lambda o: not o.faces), data.end_s), 0.5, opts.face_absent_min_s)
    several = merge(spans(_series(data, _several), data.end_s), opts.merge_gap_s, opts.multiple_faces_min_s)
    out = [_violation("face_absent", s, 0.9) for s in absent]
    for s in several:
        inside = [o for o in data.obs if s[0] <= o.t <= s[1] and not o.dark]
        most = max((len(o.faces) + (o.extra_small or 0) for o in inside), default=2)
        small = any(o.extra_small for o in inside)
        out.append(_violation("multiple_faces", s, 0.85, max_faces=int(max(2, most)), small_face=bool(small)))
    return out


def _several(o: Obs) -> bool | None:
    if len(o.faces) >= 2:
        return True
    if o.extra_small is None:
        return None if o.faces else False
    return o.extra_small > 0


def _baseline(data: Observations, attr: str) -> float:
    values = [getattr(o.face, attr) for o in data.obs if o.face is not None]
    return float(np.median(values)) if values else 0.0


def pose(data: Observations, opts: Options) -> list[Violation]:
    base = {a: _baseline(data, a) for a in ("yaw", "pitch", "gaze_h", "gaze_v")}

    def head(o: Obs) -> str | bool:
        f = o.face
        if f is None:
            return False
        yaw, pitch = f.yaw - base["yaw"], f.pitch - base["pitch"]
        if abs(yaw) >= opts.head_yaw_deg:
            return "left" if yaw > 0 else "right"
        if pitch <= -opts.head_pitch_down_deg:
            return "down"
        return "up" if pitch >= opts.head_pitch_up_deg else False

    def gaze(o: Obs) -> str | bool:
        f = o.face
        if f is None or head(o):
            return False
        gh, gv = f.gaze_h - base["gaze_h"], f.gaze_v - base["gaze_v"]
        if max(abs(gh), abs(gv)) < opts.gaze_threshold:
            return False
        return ("left" if gh > 0 else "right") if abs(gh) >= abs(gv) else ("up" if gv > 0 else "down")

    out = []
    for kind, label, min_s in (("head_turned", head, opts.head_turned_min_s), ("gaze_away", gaze, opts.gaze_away_min_s)):
        for s in merge(spans(_series(data, label), data.end_s), opts.merge_gap_s, min_s):
            out.append(_violation(kind, s, 0.7, direction=s[2], **_angles(data, s, base)))
    return out


def _angles(data: Observations, s: Span, base: dict[str, float]) -> dict[str, Any]:
    faces = [o.face for o in data.obs if s[0] <= o.t <= s[1] and o.face is not None]
    if not faces:
        return {}
    details = {"yaw_deg": round(float(np.median([f.yaw for f in faces]) - base["yaw"]), 1),
               "pitch_deg": round(float(np.median([f.pitch for f in faces]) - base["pitch"]), 1)}
    if s[2] == "down":
        details["note"] = "looking down: a possible phone, book or notes below the camera (indirect cue)"
    return details


def talking(data: Observations, opts: Options) -> list[Violation]:
    seen = [(o.t, o.face.mouth) for o in data.obs if o.face is not None and not o.dark]
    times = np.array([t for t, _ in seen])
    mouth = np.array([m for _, m in seen])
    half = opts.talking_window_s / 2
    labels: list[tuple[float, Hashable | None]] = []
    for o in data.obs:
        if o.face is None or o.dark:
            labels.append((o.t, None if o.dark else False))
            continue
        lo, hi = np.searchsorted(times, o.t - half), np.searchsorted(times, o.t + half, side="right")
        window = mouth[lo:hi]
        labels.append((o.t, bool(window.std() > opts.talking_mouth_std) if len(window) >= 4 else None))
    found = merge(spans(labels, data.end_s, max_edge_gap_s=half), opts.merge_gap_s, opts.talking_min_s)
    return [_violation("talking", s, 0.6, note="mouth movement: a cue for the audio analysis to confirm")
            for s in found]


def expressions(data: Observations, opts: Options) -> list[Violation]:
    smile0 = _baseline(data, "smile")

    def cue(o: Obs) -> str | bool:
        f = o.face
        if f is None:
            return False
        if f.surprise >= opts.surprise_score:
            return "surprise"
        return "smile" if f.smile - smile0 >= opts.smile_delta else False

    found = merge(spans(_series(data, cue), data.end_s), opts.merge_gap_s, opts.expression_min_s)
    return [_violation("expression_cues", s, 0.3, cue=s[2], note="a cue, not an accusation") for s in found]


def identity(data: Observations, opts: Options, reference: np.ndarray | None) -> list[Violation]:
    """Face tracks (runs of presence) with embeddings: compared to the reference and to the
    session's first person."""
    tracks = _tracks(data)
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
                conf = 0.5 + min(0.5, (d - opts.identity_max_distance) / 0.4)
                out.append(_violation(kind, span, conf, distance=round(d, 3), embeddings=len(embs)))
    merged = []
    for kind in ("identity_mismatch", "identity_change"):
        same = [(v["start_s"], v["end_s"], kind) for v in out if v["type"] == kind]
        for s in merge(same, opts.merge_gap_s, 0.0):
            parts = [v for v in out if v["type"] == kind and s[0] <= v["start_s"] <= s[1]]
            best = max(parts, key=lambda v: v["confidence"])
            merged.append({**best, "start_s": round(s[0], 2), "end_s": round(s[1], 2)})
    return merged


def _tracks(data: Observations) -> list[Span]:
    """Presence runs, split where the face jumps between consecutive samples."""
    from handlers.webcam.analyse import _jumped

    labels: list[tuple[float, Hashable | None]] = []
    track, prev = 0, None
    for o in data.obs:
        f = o.face
        if o.dark:
            labels.append((o.t, None))
            continue
        if f is None:
            prev = None
            labels.append((o.t, False))
            continue
        if prev is None or _jumped(prev, f):
            track += 1
        prev = f
        labels.append((o.t, track))
    return spans(labels, data.end_s)


def all_checks(data: Observations, opts: Options, reference: np.ndarray | None) -> list[Violation]:
    return [*camera(data, opts), *presence(data, opts), *identity(data, opts, reference),
            *pose(data, opts), *talking(data, opts), *expressions(data, opts)]
