"""Who each observation shows and each person's usual pose, gaze, smile and mouth.

Face tracks are runs of presence, split where the face jumps between samples and where two
embeddings within one run are different people; tracks are grouped into people by their mean
embedding. Baselines (medians) and spreads (median absolute deviations) are per person, so a
second person's habits are not read as the first person's violations.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from handlers.webcam.analyse import Obs, Observations
from handlers.webcam.identity import distance
from handlers.webcam.intervals import Span, spans
from handlers.webcam.options import Options

__all__ = ["People", "tracks"]

_SPREAD = 4.0  # a deviation counts when beyond this many of the person's own median absolute deviations
_BASE_ATTRS = ("yaw", "pitch", "gaze_h", "gaze_v", "smile", "surprise", "mouth")


class People:
    """Who each observation shows (tracks grouped by embedding) and each person's usual
    pose, gaze, smile and mouth (medians): baselines are per person, so a second person's
    different habits are not read as the first person's violations."""

    def __init__(self, data: Observations, opts: Options, usual: dict[str, float] | None = None,
                 first: np.ndarray | None = None) -> None:
        self.tracks = tracks(data, opts)
        self.person_of_track = _group(self.tracks, data, opts)
        self.person = [self._person_at(o.t) for o in data.obs]
        self.base: dict[int, dict[str, float]] = {}
        self.samples: dict[int, int] = {}
        self.spread: dict[int, dict[str, float]] = {}
        for pid in set(self.person) - {None}:
            faces = [o.face for o, p in zip(data.obs, self.person) if p == pid and o.face is not None]
            values = {a: np.array([getattr(f, a) for f in faces]) for a in _BASE_ATTRS}
            self.samples[pid] = len(faces)
            self.base[pid] = {a: float(np.median(v)) if len(v) else 0.0 for a, v in values.items()}
            self.spread[pid] = {a: float(np.median(np.abs(v - self.base[pid][a]))) if len(v) else 0.0
                                for a, v in values.items()}
        self.main = self._main(data, opts, first)
        if usual and self.main is not None:  # a live session: the person's baseline so far counts too
            n, m = usual.get("samples", 0), self.samples[self.main]
            self.base[self.main] = {a: (usual.get(a, v) * n + v * m) / max(1, n + m)
                                    for a, v in self.base[self.main].items()}

    def _main(self, data: Observations, opts: Options, first: np.ndarray | None) -> int | None:
        """The session's first person (nearest to ``first``), or else the person seen most;
        None when ``first`` is known and nobody here is that person."""
        if first is None:
            return max(self.samples, key=lambda p: (self.samples[p], -p)) if self.samples else None
        near = {}
        for pid in self.samples:
            runs = [s for s, p in zip(self.tracks, self.person_of_track) if p == pid]
            embs = [e for t, e in data.embeddings if any(s0 <= t <= s1 for s0, s1, _ in runs)]
            if embs and distance(np.mean(embs, axis=0), first) <= opts.identity_max_distance:
                near[pid] = distance(np.mean(embs, axis=0), first)
        return min(near, key=near.get) if near else None

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


def tracks(data: Observations, opts: Options) -> list[Span]:
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
