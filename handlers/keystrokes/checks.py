"""The event checks: ``paste_burst``, ``automation`` and ``idle`` (``typist_change`` is in rhythm).

- ``paste_burst``: pastes less than ``paste_merge_s`` apart form one burst; a burst of at least
  ``paste_min_chars`` characters is reported from its first to its last paste.
- ``automation``: around every keystroke, a window of ``automation_window_keys`` keystrokes.
  Human flights spread widely (log standard deviation about 0.4-0.6: each key pair has its own
  speed); a script's are nearly constant. A window is automated when its flights' log standard
  deviation is below ``automation_max_log_sd``, or when it is typed faster than
  ``automation_max_keys_per_s``. Runs of such windows are grown key by key while the flights
  stay within the run's own narrow range, so the interval ends where the script did.
- ``idle``: no down, up or paste for at least ``idle_min_s``; with ``idle_include_edges`` the
  stretches before the first and after the last event (to the log's ``duration``) count too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handlers.keystrokes.events import KeyLog
from handlers.keystrokes.intervals import merge_spans, ramp, rolling_sums, runs, windows
from handlers.keystrokes.options import Options
from handlers.keystrokes.rhythm import Timing

__all__ = ["automation", "idle", "paste_bursts"]

_AUTOMATION_MERGE_S = 2.0


def _violation(kind: str, start_s: float, end_s: float, confidence: float, **details: Any) -> dict[str, Any]:
    return {"type": kind, "start_s": round(float(start_s), 3), "end_s": round(float(end_s), 3),
            "confidence": confidence, "details": details}


def paste_bursts(log: KeyLog, opts: Options) -> list[dict[str, Any]]:
    """Bursts of pasted text of at least ``paste_min_chars`` characters."""
    t, chars = log.paste_t, log.paste_chars
    if not len(t):
        return []
    breaks = np.flatnonzero(np.diff(t) > opts.paste_merge_s) + 1
    found = []
    for a, b in zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [len(t)]))):
        total = int(chars[a:b].sum())
        if total >= opts.paste_min_chars:
            excess = (total - opts.paste_min_chars) / (3.0 * opts.paste_min_chars)
            found.append(_violation("paste_burst", t[a], t[b - 1], ramp(excess), chars=total, pastes=int(b - a)))
    return found


def idle(log: KeyLog, opts: Options) -> list[dict[str, Any]]:
    """Stretches of at least ``idle_min_s`` without keyboard activity."""
    t = log.activity_t
    if opts.idle_include_edges:
        t = np.concatenate(([0.0], t, [log.duration_s]))
    gaps = np.diff(t)
    return [
        _violation("idle", t[i], t[i + 1], ramp((gaps[i] - opts.idle_min_s) / opts.idle_min_s),
                   gap_s=round(float(gaps[i]), 3))
        for i in np.flatnonzero(gaps >= opts.idle_min_s)
    ]


def automation(tm: Timing, opts: Options) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``automation`` violations, and the mask of the keystrokes that are no human rhythm: those
    the violations cover, and bursts faster than ``automation_max_keys_per_s`` too short to report
    (a hand mashing keys)."""
    n, width = len(tm.t), opts.automation_window_keys
    covered = np.zeros(n, dtype=bool)
    if n < width:
        return [], covered
    lo, hi = windows(n, width)
    count, s1, s2 = rolling_sums(tm.flight, lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt(np.maximum(s2 - s1 * s1 / count, 0.0) / (count - 1))
        rate = (hi - lo - 1) / (tm.t[hi - 1] - tm.t[lo])
    regular = (count >= width // 2) & (spread < opts.automation_max_log_sd)
    fast = (hi - lo >= width // 2) & (rate > opts.automation_max_keys_per_s)
    spans = [_grow(tm.flight, a, b, width // 2) for a, b in runs(regular | fast)]
    spans = merge_spans([(float(tm.t[a]), float(tm.t[b]), a, b) for a, b in spans], _AUTOMATION_MERGE_S)
    found = []
    for start_s, end_s, a, b in spans:
        fast = b > a and (b - a) / max(end_s - start_s, 1e-9) > opts.automation_max_keys_per_s
        if b - a + 1 < width // 2 or end_s - start_s < opts.automation_min_s:
            covered[a : b + 1] |= fast  # a burst too short to report (mashing keys) is no rhythm either
            continue
        covered[a : b + 1] = True
        found.append(_automation_violation(tm, a, b, start_s, end_s, opts))
    return found, covered


def _grow(flight: np.ndarray, a: int, b: int, limit: int) -> tuple[int, int]:
    """Extend ``[a, b]`` while the neighbouring flights stay within the run's own range."""
    inside = flight[a + 1 : b + 1]
    inside = inside[~np.isnan(inside)]
    if len(inside) < 2:
        return a, b
    centre, spread = float(np.median(inside)), max(float(np.std(inside)), 0.03)

    def near(i: int) -> bool:
        return not np.isnan(flight[i]) and abs(flight[i] - centre) <= 3 * spread

    first, last = a, b
    while a > 0 and first - a < limit and near(a):
        a -= 1
    while b + 1 < len(flight) and b - last < limit and near(b + 1):
        b += 1
    return a, b


def _automation_violation(tm: Timing, a: int, b: int, start_s: float, end_s: float,
                          opts: Options) -> dict[str, Any]:
    flights = tm.flight[a + 1 : b + 1]
    flights = flights[~np.isnan(flights)]
    spread = float(np.std(flights, ddof=1)) if len(flights) > 1 else 0.0
    rate = (b - a) / (end_s - start_s) if end_s > start_s else float("inf")
    regular = (opts.automation_max_log_sd - spread) / opts.automation_max_log_sd
    fast = (rate - opts.automation_max_keys_per_s) / opts.automation_max_keys_per_s
    return _violation(
        "automation", start_s, end_s, ramp(max(regular, fast)),
        reason="regular timing" if regular >= fast else "too fast",
        flight_log_sd=round(spread, 3), keys_per_s=round(min(rate, 1e6), 2), keystrokes=b - a + 1,
    )
