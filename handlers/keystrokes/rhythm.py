"""Typing rhythm: per-keystroke timing and the typist's profile.

Timing of keystroke ``i``: its *dwell* (how long the key is held, ``up - down``) and its
*flight* (``down[i] - down[i-1]``, the latency of the key pair, or digraph, ``(key[i-1],
key[i])``). Both are used as logarithms: per typist and per key (pair) they are close to
log-normal. A flight longer than :data:`MAX_FLIGHT_S` is a pause, not rhythm, and is dropped; a
dwell of 0 ms (a platform that logs the release with the press, or none) is unknown.

A :class:`Profile` holds, per key pair and per key, the mean log time and how often it was
seen, plus the typist's pooled within-pair spread. It comes from the enrolment log, or from
the session's own first ``typist_baseline_keys`` keystrokes. How a session is scored against it
is in :mod:`handlers.keystrokes.change`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handlers.keystrokes.events import KeyLog

__all__ = ["MAX_FLIGHT_S", "Profile", "Table", "Timing", "build_profile", "timing"]

MAX_FLIGHT_S = 1.5
_MIN_SECONDS = 0.001  # floor before taking logs (two events in the same millisecond)
_MIN_SPREAD = 0.05  # floor of a profile's log spread, so a too-regular enrolment cannot explode z


@dataclass(frozen=True)
class Timing:
    """Per keystroke: time, key, log flight and its pair id, log dwell (NaN where unknown)."""

    t: np.ndarray
    key: np.ndarray
    flight: np.ndarray
    pair: np.ndarray
    dwell: np.ndarray


def timing(log: KeyLog, n_keys: int) -> Timing:
    """The rhythm features of a log; ``n_keys`` is the size of the shared key vocabulary."""
    t, key = log.down_t, log.key
    latency = np.diff(t, prepend=np.nan)
    flight = np.where(latency <= MAX_FLIGHT_S, np.log(np.maximum(latency, _MIN_SECONDS)), np.nan)
    pair = np.full(len(t), -1, dtype=np.int64)
    pair[1:] = key[:-1] * max(n_keys, 1) + key[1:]
    with np.errstate(invalid="ignore"):
        held = log.up_t - t
        dwell = np.where(held > 0, np.log(np.maximum(held, _MIN_SECONDS)), np.nan)  # NaN stays NaN
    return Timing(t=t, key=key, flight=flight, pair=pair, dwell=dwell)


@dataclass(frozen=True)
class Table:
    """Per pair (or key) id: the mean log time, its count and sum of squared deviations; the
    pooled spread."""

    ids: np.ndarray  # sorted pair (or key) ids
    mean: np.ndarray  # mean log time per id
    count: np.ndarray
    spread: float  # pooled within-id standard deviation of the log time (NaN: not enough data)
    sq: np.ndarray  # per id: sum of squared deviations from its mean

    @property
    def usable(self) -> bool:
        return not np.isnan(self.spread)

    def own_spread(self, at: np.ndarray, prior: float) -> np.ndarray:
        """The spread of the ids at positions ``at``: their own, shrunk to the pooled one as if
        it had been seen ``prior`` more times (a pair seen once has the pooled spread)."""
        pooled = self.spread * self.spread
        return np.sqrt((self.sq[at] + prior * pooled) / (self.count[at] - 1 + prior))


@dataclass(frozen=True)
class Profile:
    """What a typist's rhythm looks like: flights per key pair, dwells per key."""

    flights: Table
    dwells: Table
    keystrokes: int
    source: str  # "enrolment" or "session_start"

    @property
    def usable(self) -> bool:
        return self.flights.usable


def _table(values: np.ndarray, ids: np.ndarray) -> Table:
    ok = ~np.isnan(values)
    values, ids = values[ok], ids[ok]
    uniq, inverse, count = np.unique(ids, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=values, minlength=len(uniq)) / np.maximum(count, 1)
    sq = np.bincount(inverse, weights=(values - mean[inverse]) ** 2, minlength=len(uniq))
    dof = int((count - 1).sum())
    spread = float(np.sqrt(sq.sum() / dof)) if dof >= 10 else float("nan")
    return Table(uniq, mean, count, max(spread, _MIN_SPREAD) if dof >= 10 else spread, sq)


def build_profile(tm: Timing, source: str, stop: int | None = None,
                  exclude: np.ndarray | None = None) -> Profile:
    """The profile of keystrokes ``[0, stop)`` of ``tm`` (all by default), less ``exclude``."""
    keep = np.ones(len(tm.t), dtype=bool) if exclude is None else ~exclude
    if stop is not None:
        keep[stop:] = False
    flight, dwell = np.where(keep, tm.flight, np.nan), np.where(keep, tm.dwell, np.nan)
    return Profile(
        flights=_table(flight, tm.pair),
        dwells=_table(dwell, tm.key),
        keystrokes=int(keep.sum()),
        source=source,
    )
