"""``typist_change`` for logs without key releases (flights only), against an enrolment or the
session's own start: is a stretch of the session, up to its end, typed by someone other than the
profiled candidate, and from when? ("Enrolment" below is whichever profile is used: a profile of
the session's first keystrokes is thin, and the test weighs that through ``n``.)

Flights alone carry too little evidence per keystroke for the sequential test
(:mod:`handlers.keystrokes.change`): on the tune half of the real set its CUSUM found a third of
the changes and added false alarms. This test weighs whole stretches instead, as a two-sample
test of each key pair's mean log flight in the stretch against the enrolment's:

- **Residuals** (:func:`scored`): ``r = (log time - enrolment mean) / spread``, the spread being
  the pair's own in the enrolment, shrunk to the typist's pooled spread (:data:`SPREAD_PRIOR`):
  some pairs are steady, some are not. ``r`` is capped at +-:data:`R_CAP`.
- **Per pair**, over the stretch from keystroke ``k`` to the end: ``S`` = the sum of its ``m``
  residuals and ``z^2 = S^2 / (m (1 + m / n))``, ``n`` the pair's count in the enrolment: the
  enrolment's mean is itself uncertain, so a pair typed often in the session but seen twice at
  enrolment is not taken for a change. ``z^2`` is about 1 for the candidate. The overall tempo is
  not taken off: over a whole stretch it is evidence (on the tune half, taking all of it off
  lost a third of the detections; within +-30 % it lost placing; within +-10 % it changed
  nothing).
- ``X = sum(z^2 - 1)``; the *effect* ``X / timings`` does not grow with the length, the
  *significance* ``X / sqrt(2 pairs)`` does (about a standard normal value for the candidate).

A stretch is flagged when both pass their thresholds (``typist_flights_effect``,
``typist_flights_significance``) for some start among those every :data:`STEP_KEYS` keystrokes
(with at least :data:`MIN_TIMINGS` timings); the change is put at the flagged start of largest
significance, where the typing stops looking like the candidate's. The thresholds were chosen on
whole sessions of the tune half of the real set (handler README), so a log (or live segment)
with fewer than :data:`MIN_FLIGHTS` scored flights is left to the sequential test (on real 60-s
segments this test flagged a clean one). Logs with releases keep the whole-session test of
:mod:`handlers.keystrokes.session_test`: there this test gained one or two sessions on the tune
half and lost impostors (aalto) or added false alarms (villani) on the held half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handlers.keystrokes.rhythm import Table
from handlers.keystrokes.session_test import MAX_STARTS, MIN_TIMINGS, STEP_KEYS, Suffixes, Verdict

__all__ = ["MIN_FLIGHTS", "R_CAP", "SPREAD_PRIOR", "Scored", "decide", "scored", "suffixes"]

SPREAD_PRIOR = 2.0  # a pair's own spread counts as if the pooled one had been seen this often too
R_CAP = 2.0
MIN_FLIGHTS = 400  # fewer scored flights (a live session's 60-s segment): the sequential test weighs the log


@dataclass(frozen=True)
class Scored:
    """Scored timings: keystroke index, residual, pair id, the pair's count in the enrolment."""

    index: np.ndarray
    r: np.ndarray
    ids: np.ndarray
    count: np.ndarray


def scored(values: np.ndarray, ids: np.ndarray, table: Table) -> Scored:
    """The residuals of the timings (NaN: not scored) whose pair the enrolment saw."""
    empty = np.array([], dtype=np.int64)
    if not len(table.ids) or not table.usable:
        return Scored(empty, np.array([]), empty, np.array([]))
    at = np.minimum(np.searchsorted(table.ids, ids), len(table.ids) - 1)
    index = np.flatnonzero((table.ids[at] == ids) & ~np.isnan(values))
    at = at[index]
    r = (values[index] - table.mean[at]) / table.own_spread(at, SPREAD_PRIOR)
    return Scored(index, np.clip(r, -R_CAP, R_CAP), ids[index], table.count[at].astype(float))


def suffixes(part: Scored, n_keys: int) -> Suffixes:
    """The statistics of every stretch from a candidate start to the end."""
    step = max(STEP_KEYS, -(-n_keys // MAX_STARTS))
    start = np.arange(0, max(n_keys, 1), step)
    if not len(part.r):
        zero = np.zeros(len(start))
        return Suffixes(start, zero, zero, zero)
    uniq, col = np.unique(part.ids, return_inverse=True)
    cell = (part.index // step) * len(uniq) + col
    shape = (len(start), len(uniq))

    def to_end(weights: np.ndarray) -> np.ndarray:
        per_step = np.bincount(cell, weights, minlength=shape[0] * shape[1]).reshape(shape)
        return per_step[::-1].cumsum(axis=0)[::-1]

    s, m = to_end(part.r), to_end(np.ones(len(part.r)))
    enrolled = np.zeros(len(uniq))
    enrolled[col] = part.count
    with np.errstate(invalid="ignore", divide="ignore"):
        z2 = np.where(m > 0, s * s / (m * (1.0 + m / enrolled)), 1.0)
    return Suffixes(start, (z2 - 1.0).sum(axis=1), m.sum(axis=1), (m > 0).sum(axis=1).astype(float))


def decide(stretch: Suffixes, effect_threshold: float, significance_threshold: float) -> Verdict | None:
    """The verdict from the suffix statistics, or ``None``."""
    significance = stretch.x / np.sqrt(2.0 * np.maximum(stretch.pairs, 1.0))
    effect = stretch.x / np.maximum(stretch.timings, 1.0)
    flagged = (stretch.timings >= MIN_TIMINGS) & (effect >= effect_threshold) & (significance >= significance_threshold)
    if not flagged.any():
        return None
    best = int(np.argmax(np.where(flagged, significance, -np.inf)))
    return Verdict(int(stretch.start[best]), float(effect[best]), float(significance[best]), effect_threshold)
