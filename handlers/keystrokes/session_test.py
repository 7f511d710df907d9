"""``typist_change``, whole-session part for logs with key releases: is the session typed by
someone other than the enrolled candidate, and from when? (Logs without releases are weighed by
:mod:`handlers.keystrokes.stretch_test` instead.)

The sequential test (:mod:`handlers.keystrokes.change`) needs every timing to carry more evidence
than its allowance, so a typist whose rhythm differs only a little from the candidate's is never
found, however long they type. This test looks at a whole stretch at once. For the keystrokes
from ``k`` to the end and for each key pair (key) seen there, ``S`` is the sum of the calibrated
residuals of its ``m`` timings (:func:`handlers.keystrokes.change.residuals`); per feature (flights,
dwells), ``X = sum(S^2 / m - 1)``:

- the *effect*, ``X / timings`` summed over the features, estimates how far the pairs' mean times
  sit from the candidate's, in the candidate's own spreads squared (about 0 for the candidate,
  0.1-0.3 for the candidate on another day, 0.5-3 for someone else): it does not grow with the
  session's length, so a long session of the candidate is not taken for an impostor;
- the *significance*, ``X / sqrt(2 pairs)`` (flights and dwells together), is about a standard
  normal value for the candidate typing as enrolled, and grows with the length for someone else.

The session is flagged when, from its first checked keystroke, both pass their thresholds
(``typist_session_effect``, ``typist_session_significance``). The change is put where the
significance of the stretch to the end is largest (over starts every :data:`STEP_KEYS`
keystrokes), i.e. where the typing stops looking like the candidate's. The thresholds were set
on the tune half of the real set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_STARTS", "MIN_TIMINGS", "STEP_KEYS", "Suffixes", "Verdict",
           "decide", "suffixes"]

STEP_KEYS = 25
MAX_STARTS = 400  # at most this many candidate starts (a longer log takes a wider step)
MIN_TIMINGS = 50  # scored timings needed for a session verdict


@dataclass(frozen=True)
class Suffixes:
    """Per candidate start keystroke: the ``X``, timings and pairs of the stretch to the end."""

    start: np.ndarray
    x: np.ndarray
    timings: np.ndarray
    pairs: np.ndarray


@dataclass(frozen=True)
class Verdict:
    """A flagged session: from which keystroke, with what effect and significance."""

    first: int
    effect: float
    significance: float
    threshold: float


def suffixes(index: np.ndarray, r: np.ndarray, ids: np.ndarray, n_keys: int) -> Suffixes:
    """The statistics of every stretch from a candidate start to the end, for one feature."""
    step = max(STEP_KEYS, -(-n_keys // MAX_STARTS))
    start = np.arange(0, max(n_keys, 1), step)
    if not len(r):
        zero = np.zeros(len(start))
        return Suffixes(start, zero, zero, zero)
    uniq, col = np.unique(ids, return_inverse=True)
    cell = (index // step) * len(uniq) + col
    shape = (len(start), len(uniq))
    s = np.bincount(cell, r, minlength=shape[0] * shape[1]).reshape(shape)[::-1].cumsum(axis=0)[::-1]
    m = np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape)[::-1].cumsum(axis=0)[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(m > 0, s * s / np.maximum(m, 1) - 1.0, 0.0).sum(axis=1)
    return Suffixes(start, x, m.sum(axis=1).astype(float), (m > 0).sum(axis=1).astype(float))


def decide(parts: list[Suffixes], effect_threshold: float, significance_threshold: float) -> Verdict | None:
    """The session verdict from the flights' and dwells' suffix statistics, or ``None``."""
    timings = sum(p.timings for p in parts)
    if not len(timings) or timings[0] < MIN_TIMINGS:
        return None
    x, pairs = sum(p.x for p in parts), sum(p.pairs for p in parts)
    significance = x / np.sqrt(2.0 * np.maximum(pairs, 1.0))
    effect = sum(p.x[0] / max(p.timings[0], 1.0) for p in parts)
    if effect < effect_threshold or significance[0] < significance_threshold:
        return None
    best = int(np.argmax(np.where(timings >= MIN_TIMINGS, significance, -np.inf)))
    return Verdict(int(parts[0].start[best]), float(effect), float(significance[0]), effect_threshold)
