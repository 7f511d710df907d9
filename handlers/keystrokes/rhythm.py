"""Typing rhythm: per-keystroke timing, the typist's profile, and the ``typist_change`` check.

Timing of keystroke ``i``: its *dwell* (how long the key is held, ``up - down``) and its
*flight* (``down[i] - down[i-1]``, the latency of the key pair, or digraph, ``(key[i-1],
key[i])``). Both are used as logarithms: per typist and per key (pair) they are close to
log-normal. A flight longer than :data:`MAX_FLIGHT_S` is a pause, not rhythm, and is dropped.

A :class:`Profile` holds, per key pair and per key, the mean log time and how often it was
seen, plus the typist's pooled within-pair spread. It comes from the enrolment log, or from
the session's own first ``typist_baseline_keys`` keystrokes.

``typist_change`` scores every keystroke of the session whose pair (or key) the profile saw at
least ``typist_min_pair_count`` times: ``z = (log time - profile mean) / spread``, capped at
+-3. Around every keystroke a window of ``typist_window_keys`` keystrokes gives the distance
``D = mean((z - tempo)^2)``, where ``tempo`` is the window's mean ``z`` limited to
``typist_tempo_tolerance`` (the same typist may be somewhat faster or slower overall). For the
enrolled typist ``D`` is about 1; another typist, whose fast and slow pairs are different ones,
scores well above. A run of windows with ``D > typist_threshold`` (continued while ``D`` keeps
70 % of that margin over 1) is a change; its ends move to where the evidence turns (a CUSUM split
within half a window), and runs less than ``typist_merge_s`` apart are joined. This is
the absolute/relative digraph measure idea of Gunetti & Picardi (2005), in z-score form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from handlers.keystrokes.events import KeyLog
from handlers.keystrokes.intervals import Span, merge_spans, ramp, rolling_sums, runs, windows
from handlers.keystrokes.options import Options

__all__ = ["MAX_FLIGHT_S", "Profile", "Timing", "build_profile", "timing", "typist_change"]

MAX_FLIGHT_S = 1.5
_MIN_SECONDS = 0.001  # floor before taking logs (two events in the same millisecond)
_MIN_SPREAD = 0.05  # floor of a profile's log spread, so a too-regular enrolment cannot explode z
_Z_CAP = 3.0
_HYSTERESIS = 0.7  # a run of windows above the threshold goes on while D > 1 + 0.7 (threshold - 1)


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
        dwell = np.log(np.maximum(log.up_t - t, _MIN_SECONDS))  # NaN stays NaN
    return Timing(t=t, key=key, flight=flight, pair=pair, dwell=dwell)


@dataclass(frozen=True)
class _Table:
    ids: np.ndarray  # sorted pair (or key) ids
    mean: np.ndarray  # mean log time per id
    count: np.ndarray
    spread: float  # pooled within-id standard deviation of the log time (NaN: not enough data)


@dataclass(frozen=True)
class Profile:
    """What a typist's rhythm looks like: flights per key pair, dwells per key."""

    flights: _Table
    dwells: _Table
    keystrokes: int
    source: str  # "enrolment" or "session_start"

    @property
    def usable(self) -> bool:
        return not np.isnan(self.flights.spread)


def _table(values: np.ndarray, ids: np.ndarray) -> _Table:
    ok = ~np.isnan(values)
    values, ids = values[ok], ids[ok]
    uniq, inverse, count = np.unique(ids, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=values, minlength=len(uniq)) / np.maximum(count, 1)
    dof = int((count - 1).sum())
    spread = float(np.sqrt(((values - mean[inverse]) ** 2).sum() / dof)) if dof >= 10 else float("nan")
    return _Table(uniq, mean, count, max(spread, _MIN_SPREAD) if dof >= 10 else spread)


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


def _scores(values: np.ndarray, ids: np.ndarray, table: _Table, min_count: int) -> np.ndarray:
    """Capped z-scores against the table; NaN where the id was seen fewer than ``min_count`` times."""
    z = np.full(len(values), np.nan)
    if not len(table.ids) or np.isnan(table.spread):
        return z
    at = np.minimum(np.searchsorted(table.ids, ids), len(table.ids) - 1)
    count = table.count[at]
    known = (table.ids[at] == ids) & (count >= min_count) & ~np.isnan(values)
    scale = table.spread * np.sqrt(1.0 + 1.0 / np.maximum(count, 1))
    z[known] = np.clip((values[known] - table.mean[at][known]) / scale[known], -_Z_CAP, _Z_CAP)
    return z


def _part(z: np.ndarray, lo: np.ndarray, hi: np.ndarray, tolerance: float) -> tuple[np.ndarray, ...]:
    """Per window: scored count, sum of ``(z - tempo)^2``, and the unlimited mean ``z``."""
    n, s1, s2 = rolling_sums(z, lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / n, 0.0)
    tempo = np.clip(mean, -tolerance, tolerance)
    return n, s2 - 2 * tempo * s1 + n * tempo * tempo, mean


def typist_change(
    tm: Timing, profile: Profile, opts: Options, start: int = 0, exclude: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """``typist_change`` violations among keystrokes ``[start, n)``; ``exclude`` masks keystrokes
    another check explains (automation)."""
    z = _Scored.of(tm, profile, opts, exclude)
    lo, hi = windows(len(tm.t), opts.typist_window_keys, start)
    nf, sf, _ = _part(z.flight, lo, hi, z.tol_flight)
    nw, sw, _ = _part(z.dwell, lo, hi, z.tol_dwell)
    scored = nf + nw
    distance = (sf + sw) / np.maximum(scored, 1)
    enough = scored >= opts.typist_window_keys // 2
    high = enough & (distance > opts.typist_threshold)
    low = enough & (distance > 1.0 + _HYSTERESIS * (opts.typist_threshold - 1.0))
    half = opts.typist_window_keys // 2
    spans: list[Span] = []
    for a, b in runs(low):
        if not high[a : b + 1].any():
            continue
        a, b = z.refine(start + a, start + b, half, start, opts.typist_threshold)
        spans.append((float(tm.t[a]), float(tm.t[b]), a, b))
    spans = merge_spans(spans, opts.typist_merge_s)
    return [z.violation(s, profile, opts) for s in spans if s[1] - s[0] >= opts.typist_min_s]


@dataclass(frozen=True)
class _Scored:
    """The session's z-scores against a profile, and how much tempo change each may absorb."""

    flight: np.ndarray
    dwell: np.ndarray
    tol_flight: float
    tol_dwell: float

    @classmethod
    def of(cls, tm: Timing, profile: Profile, opts: Options, exclude: np.ndarray | None) -> _Scored:
        zf = _scores(tm.flight, tm.pair, profile.flights, opts.typist_min_pair_count)
        zw = _scores(tm.dwell, tm.key, profile.dwells, opts.typist_min_pair_count)
        if exclude is not None:
            zf[exclude], zw[exclude] = np.nan, np.nan
        log_tol = float(np.log1p(opts.typist_tempo_tolerance))
        spread_w = profile.dwells.spread
        return cls(zf, zw, log_tol / profile.flights.spread, 0.0 if np.isnan(spread_w) else log_tol / spread_w)

    def _excess(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Per keystroke of ``[a, b]``'s neighbourhood: sum of ``(z - tempo)^2`` and the count,
        with the tempo of ``[a, b]``."""
        total, count = np.zeros(len(self.flight)), np.zeros(len(self.flight))
        for z, tol in ((self.flight, self.tol_flight), (self.dwell, self.tol_dwell)):
            part = z[a : b + 1]
            tempo = float(np.clip(np.nanmean(part), -tol, tol)) if np.any(~np.isnan(part)) else 0.0
            ok = ~np.isnan(z)
            total[ok] += (z[ok] - tempo) ** 2
            count += ok
        return total, count

    def refine(self, a: int, b: int, reach: int, first: int, threshold: float) -> tuple[int, int]:
        """Move the run's ends, each within ``reach`` keystrokes, to where the evidence changes:
        the split that maximises the sum of ``(z - tempo)^2 - threshold`` inside (a CUSUM)."""
        total, count = self._excess(a, b)
        excess = total - threshold * count
        lo, hi = max(first, a - reach), min(a + reach, b)
        inside = np.cumsum(excess[lo : hi + 1][::-1])[::-1]  # sum of excess[k : hi + 1]
        a = lo + int(np.argmax(inside))
        lo, hi = max(a, b - reach), min(b + reach, len(excess) - 1)
        b = lo + int(np.argmax(np.cumsum(excess[lo : hi + 1])))
        return a, b

    def violation(self, span: Span, profile: Profile, opts: Options) -> dict[str, Any]:
        start_s, end_s, a, b = span
        total, count = self._excess(a, b)
        d = float(total[a : b + 1].sum() / max(count[a : b + 1].sum(), 1.0))
        flights = self.flight[a : b + 1]
        tempo = float(np.exp(np.nanmean(flights) * profile.flights.spread)) if np.any(~np.isnan(flights)) else 1.0
        thr = opts.typist_threshold
        return {
            "type": "typist_change",
            "start_s": round(start_s, 3),
            "end_s": round(end_s, 3),
            "confidence": ramp((d - thr) / (thr - 1.0)),
            "details": {
                "distance": round(d, 3),
                "threshold": thr,
                "baseline": profile.source,
                "keystrokes": b - a + 1,
                "scored_timings": int(count[a : b + 1].sum()),
                "flight_time_ratio": round(tempo, 3),
            },
        }
