"""``typist_change``: a sequential change-point test of the session's rhythm against a profile.

1. **Residuals, calibrated per person.** Every flight whose key pair (every dwell whose key) the
   profile saw at least ``typist_min_pair_count`` times gets ``r = (log time - profile mean) /
   spread``, the spread being the typist's own pooled within-pair spread from the profile. The
   session's recent tempo (the mean ``r`` of the previous :data:`TEMPO_ITEMS` timings), as far
   as it stays within ``typist_tempo_tolerance``, is taken off: the same person may be a little
   faster or slower on the day. ``r`` is limited to +-:data:`R_CAP` (one stray pause is no proof).
2. **Evidence per timing.** Another typist's fast and slow pairs are other pairs, so the same
   pair comes out too fast (or too slow) again and again. Each timing scores
   ``(r^2 - 1) / sqrt(2) + r * S / sqrt(m)``, where ``S`` is the sum of the ``r`` of the ``m``
   earlier timings of the same pair (key) within the last ``typist_memory_keys`` timings: the
   first term is the squared deviation (about 0 for the profiled typist), the second whether the
   pair keeps deviating the same way (about 0 for the profiled typist, growing with every
   repeat for someone else).
3. **Accumulation (CUSUM).** ``C = max(0, C + score - typist_drift)`` over the session's timings
   in order. Where ``C`` reaches ``typist_evidence`` the typist changed; the change is reported
   from the keystroke after ``C`` last stood at 0 (where the evidence started to grow) to the
   keystroke where ``C`` peaked (where it stopped growing). Changes less than ``typist_merge_s``
   apart are joined, shorter than ``typist_min_s`` dropped. Confidence: 0.5 at
   ``typist_evidence``, 1.0 at twice that. Against a profile of the session's own start (no
   enrolment) the threshold is :data:`SESSION_START_FACTOR` times higher. The reported start is
   then moved back to where a CUSUM with the smaller allowance :data:`LOCATE_DRIFT` last stood at
   0 before the peak (the first timings of a new typist carry less evidence than the allowance),
   and from there forward to where the stretch up to the change's end stands out most as a whole
   (:mod:`handlers.keystrokes.placement`): evidence that grew by chance during the candidate's
   last minutes is not reported as the new typist's.
4. **Whole session.** Against an enrolment, when the sequential test finds nothing, the
   session-level test (:mod:`handlers.keystrokes.session_test`) weighs the whole session at once:
   a typist close to the candidate is still told apart over thousands of timings.
5. **Logs without releases**, with at least ``stretch_test.MIN_FLIGHTS`` scored flights, skip
   1-4: a two-sample test of every stretch to the end (:mod:`handlers.keystrokes.stretch_test`)
   weighs them, against the enrolment or against the session's start (on the tune half the CUSUM
   on flights alone found a third of the changes with an enrolment, and without one gave 7 false
   alarms in 37 clean hours where the stretch test gives 3).

Logs without key releases (flights only; fewer than :data:`MIN_DWELL_SHARE` of the keystrokes with
a known hold, e.g. only a held key's repeats) carry less evidence per keystroke: their reports never
have a confidence above :data:`FLIGHTS_ONLY_MAX_CONFIDENCE` (the proctor should treat them as
uncertain), and ``details.timing`` says so.

The defaults were chosen on half of the people of the real development set
(``ml_service/samples/realsets/keystrokes.py``); the other half is the held-out check (handler README).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from handlers.keystrokes import placement, stretch_test
from handlers.keystrokes.intervals import Span, merge_spans, ramp
from handlers.keystrokes.options import Options
from handlers.keystrokes.rhythm import Profile, Table, Timing
from handlers.keystrokes.session_test import Verdict, decide, suffixes

__all__ = ["FLIGHTS_ONLY_MAX_CONFIDENCE", "LOCATE_DRIFT", "MIN_DWELL_SHARE", "R_CAP", "SESSION_START_FACTOR", "TEMPO_ITEMS",
           "Evidence", "evidence", "residuals", "typist_change"]

R_CAP = 2.5
TEMPO_ITEMS = 100
SESSION_START_FACTOR = 2.0  # a profile of the session's first minutes is thinner: ask for more evidence
LOCATE_DRIFT = 0.5  # allowance of the CUSUM that moves a change's start back (tune half, with placement.py: 0.3-0.85 tried)
FLIGHTS_ONLY_MAX_CONFIDENCE = 0.6
MIN_DWELL_SHARE = 0.5  # a log releasing fewer of its keys (only held-key repeats) counts as flights only
_TEMPO_MIN_ITEMS = 10


@dataclass(frozen=True)
class Evidence:
    """The scored timings of a session in keystroke order: keystroke index, residual, score."""

    index: np.ndarray
    residual: np.ndarray
    score: np.ndarray


def _residuals(values: np.ndarray, ids: np.ndarray, table: Table, opts: Options) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the scored timings and their tempo-corrected, capped residuals."""
    if not len(table.ids) or not table.usable:
        return np.array([], dtype=np.int64), np.array([])
    at = np.minimum(np.searchsorted(table.ids, ids), len(table.ids) - 1)
    known = (table.ids[at] == ids) & (table.count[at] >= opts.typist_min_pair_count) & ~np.isnan(values)
    index = np.flatnonzero(known)
    r = (values[index] - table.mean[at[index]]) / table.spread
    sums = np.concatenate(([0.0], np.cumsum(r)))
    k = np.arange(len(r))
    lo = np.maximum(0, k - TEMPO_ITEMS)
    with np.errstate(invalid="ignore", divide="ignore"):
        tempo = np.where(k - lo >= _TEMPO_MIN_ITEMS, (sums[k] - sums[lo]) / (k - lo), 0.0)
    limit = float(np.log1p(opts.typist_tempo_tolerance)) / table.spread
    return index, np.clip(r - np.clip(tempo, -limit, limit), -R_CAP, R_CAP)


def _consistency(r: np.ndarray, ids: np.ndarray, memory: int) -> np.ndarray:
    """Per timing: squared deviation plus agreement with the same pair's recent deviations."""
    agreement = np.zeros(len(r))
    recent: dict[int, deque[tuple[int, float]]] = {}
    total: dict[int, float] = {}
    for j, (value, pair) in enumerate(zip(r.tolist(), ids.tolist())):
        seen = recent.setdefault(pair, deque())
        while seen and seen[0][0] < j - memory:
            total[pair] -= seen.popleft()[1]
        if seen:
            agreement[j] = value * total[pair] / len(seen) ** 0.5
        seen.append((j, value))
        total[pair] = total.get(pair, 0.0) + value
    return (r * r - 1.0) / np.sqrt(2.0) + agreement


def residuals(tm: Timing, profile: Profile, opts: Options, start: int = 0,
              exclude: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per feature (flights, then dwells): keystroke index, residual and pair (key) id of every
    scored timing of keystrokes ``[start, n)``."""
    keep = np.arange(len(tm.t)) >= start
    if exclude is not None:
        keep &= ~exclude
    parts = []
    for values, ids, table in ((tm.flight, tm.pair, profile.flights), (tm.dwell, tm.key, profile.dwells)):
        index, r = _residuals(np.where(keep, values, np.nan), ids, table, opts)
        parts.append((index, r, ids[index]))
    return parts


def evidence(tm: Timing, profile: Profile, opts: Options, start: int = 0,
             exclude: np.ndarray | None = None) -> Evidence:
    """Every scored flight and dwell of keystrokes ``[start, n)``, merged in keystroke order."""
    return _merged(residuals(tm, profile, opts, start, exclude), opts)


def _merged(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], opts: Options) -> Evidence:
    index = np.concatenate([p[0] for p in parts])
    order = np.argsort(index, kind="stable")
    scores = [_consistency(r, ids, opts.typist_memory_keys) for _, r, ids in parts]
    return Evidence(index[order], np.concatenate([p[1] for p in parts])[order], np.concatenate(scores)[order])


def _cusum(score: np.ndarray, drift: float, threshold: float) -> list[tuple[int, int, float]]:
    """(first, peak, peak value) of each CUSUM excursion that reached ``threshold``."""
    found, total, first, peak, peak_at = [], 0.0, 0, 0.0, 0
    for j, value in enumerate(score.tolist()):
        total = max(0.0, total + value - drift)
        if total == 0.0:
            if peak >= threshold:
                found.append((first, peak_at, peak))
            first, peak = j + 1, 0.0
        elif total > peak:
            peak, peak_at = total, j
    if peak >= threshold:
        found.append((first, peak_at, peak))
    return found


def _placed(ev: Evidence, parts: list[placement.Part], located: int, end: int) -> int:
    """The first scored keystroke, from ``located`` (where the evidence started to grow) on, from
    which the stretch up to keystroke ``end`` stands out most (:mod:`handlers.keystrokes.placement`).
    Never earlier than ``located``: that would put more of the candidate's own typing in the report."""
    begun = placement.change_start(parts, located, end)
    if begun is None:
        return located
    return min(int(ev.index[min(int(np.searchsorted(ev.index, begun)), len(ev.index) - 1)]), end)


def _located(score: np.ndarray, first: int, peak: int, drift: float) -> int:
    """Where the evidence of the excursion ``[first, peak]`` began: the last restart, before the
    peak, of a CUSUM with the smaller allowance ``drift`` (never later than ``first``)."""
    total = np.cumsum(score[: peak + 1] - drift)
    floor = np.minimum.accumulate(np.minimum(total, 0.0))  # CUSUM = total - running minimum (from 0)
    at_zero = np.flatnonzero(total <= floor)
    return min(first, int(at_zero[-1]) + 1 if len(at_zero) else 0)


def typist_change(tm: Timing, profile: Profile, opts: Options, start: int = 0,
                  exclude: np.ndarray | None = None) -> list[dict[str, Any]]:
    """``typist_change`` violations among keystrokes ``[start, n)``; ``exclude`` masks keystrokes
    another check explains (automation). A log without releases is weighed by
    :mod:`handlers.keystrokes.stretch_test` alone; otherwise, against an enrolment, the
    whole-session test runs where the sequential one found nothing."""
    parts = residuals(tm, profile, opts, start, exclude)
    ev = _merged(parts, opts)
    checked = np.arange(len(tm.t)) >= start
    with_dwells = len(parts[1][1]) > 0 and float(np.mean(~np.isnan(tm.dwell[checked]))) >= MIN_DWELL_SHARE
    if not with_dwells and len(parts[0][0]) >= stretch_test.MIN_FLIGHTS:
        return _flights_stretch(tm, ev, profile, opts, start, exclude)
    found = _sequential(tm, ev, parts, profile, opts, with_dwells)
    if not found and profile.source == "enrolment" and len(ev.index):
        stretches = [suffixes(*part, len(tm.t)) for part in parts]
        verdict = decide(stretches, opts.typist_session_effect, opts.typist_session_significance)
        if verdict is not None:
            found.append(_session_violation(tm, ev, profile, verdict, ev.index, with_dwells))
    return found


def _sequential(tm: Timing, ev: Evidence, parts: list[placement.Part], profile: Profile, opts: Options,
                with_dwells: bool) -> list[dict[str, Any]]:
    """The CUSUM's changes: excursions past the threshold, located, joined and filtered; then each
    start is moved to where the stretch up to the change's end stands out most."""
    threshold = opts.typist_evidence * (SESSION_START_FACTOR if profile.source == "session_start" else 1.0)
    spans: list[Span] = []
    peaks: dict[int, float] = {}
    for first, last, peak in _cusum(ev.score, opts.typist_drift, threshold):
        a, b = int(ev.index[_located(ev.score, first, last, LOCATE_DRIFT)]), int(ev.index[last])
        spans.append((float(tm.t[a]), float(tm.t[b]), a, b))
        peaks[a] = peak
    found = []
    for span in merge_spans(spans, opts.typist_merge_s):
        if span[1] - span[0] >= opts.typist_min_s:
            peak = max(p for a, p in peaks.items() if span[2] <= a <= span[3])
            a = _placed(ev, parts, span[2], span[3])
            test = {"test": "sequential", "evidence": round(peak, 1), "threshold": threshold}
            found.append(_violation(tm, ev, profile, (float(tm.t[a]), span[1], a, span[3]), test,
                                    ramp((peak - threshold) / threshold), with_dwells))
    return found


def _flights_stretch(tm: Timing, ev: Evidence, profile: Profile, opts: Options, start: int,
                     exclude: np.ndarray | None) -> list[dict[str, Any]]:
    """The whole-stretch test of a log without releases (flights only) against an enrolment."""
    keep = np.arange(len(tm.t)) >= start
    if exclude is not None:
        keep &= ~exclude
    part = stretch_test.scored(np.where(keep, tm.flight, np.nan), tm.pair, profile.flights)
    verdict = stretch_test.decide(stretch_test.suffixes(part, len(tm.t)), opts.typist_flights_effect,
                                  opts.typist_flights_significance)
    if verdict is None:
        return []
    return [_session_violation(tm, ev, profile, verdict, part.index, with_dwells=False)]


def _session_violation(tm: Timing, ev: Evidence, profile: Profile, verdict: Verdict, scored_at: np.ndarray,
                       with_dwells: bool) -> dict[str, Any]:
    """The flagged stretch, from its first scored keystroke to the last one of the session."""
    a = int(scored_at[min(np.searchsorted(scored_at, verdict.first), len(scored_at) - 1)])
    b = int(scored_at[-1])
    test = {"test": "session", "effect": round(verdict.effect, 3), "effect_threshold": verdict.threshold,
            "significance": round(verdict.significance, 1)}
    confidence = ramp((verdict.effect - verdict.threshold) / verdict.threshold)
    return _violation(tm, ev, profile, (float(tm.t[a]), float(tm.t[b]), a, b), test, confidence, with_dwells)


def _flight_ratio(tm: Timing, table: Table, a: int, b: int) -> float:
    """How much slower (> 1) or faster keystrokes ``[a, b]`` fly than the profile, on its pairs."""
    flights, pairs = tm.flight[a : b + 1], tm.pair[a : b + 1]
    at = np.minimum(np.searchsorted(table.ids, pairs), len(table.ids) - 1)
    known = (table.ids[at] == pairs) & ~np.isnan(flights)
    return float(np.exp(np.mean(flights[known] - table.mean[at[known]]))) if known.any() else 1.0


def _violation(tm: Timing, ev: Evidence, profile: Profile, span: Span, test: dict[str, Any],
               confidence: float, with_dwells: bool) -> dict[str, Any]:
    start_s, end_s, a, b = span
    inside = (ev.index >= a) & (ev.index <= b)
    return {
        "type": "typist_change",
        "start_s": round(start_s, 3),
        "end_s": round(end_s, 3),
        "confidence": confidence if with_dwells else min(confidence, FLIGHTS_ONLY_MAX_CONFIDENCE),
        "details": {
            **test,
            "baseline": profile.source,
            "timing": "flights and dwells" if with_dwells else "flights only (no key releases): weak evidence",
            "keystrokes": b - a + 1,
            "scored_timings": int(inside.sum()),
            "mean_abs_residual": round(float(np.mean(np.abs(ev.residual[inside]))), 3) if inside.any() else None,
            "flight_time_ratio": round(_flight_ratio(tm, profile.flights, a, b), 3),
        },
    }
