"""Speed of the keystroke handler (see docs/samples-and-bench.md; run by bench/speed.py).

- ``decode_only``: parse the JSON log and touch every event's time and type, nothing else.
- ``pipeline``: ``handlers.keystrokes.keystrokes.process`` on the log, as the worker calls it.
- ``naive``: the same rhythm evidence without running state: at every keystroke it re-pairs the
  raw events of the last ``typist_memory_keys`` keystrokes, recomputes their flights, residuals
  and the newest keystroke's score from scratch in plain Python and adds it to the CUSUM; it
  stops after ``budget_s`` and extrapolates.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import handler_on

import handlers.keystrokes.keystrokes  # noqa: F401 - imported before the timed call
from handlers.keystrokes.options import Options
from handlers.keystrokes.rhythm import MAX_FLIGHT_S

__all__ = ["MODALITY", "decode_only", "naive", "pipeline"]

MODALITY = "keystrokes"


def _load(path: Path) -> tuple[list[dict[str, Any]], float]:
    data = json.loads(Path(path).read_bytes())
    if isinstance(data, list):
        return data, 0.001
    return data["events"], 0.001 if data.get("time_unit", "ms") == "ms" else 1.0


def decode_only(path: Path) -> dict[str, Any]:
    """Parse the log; count events per type and find the last time."""
    events, scale = _load(path)
    kinds: dict[str, int] = defaultdict(int)
    last = 0.0
    for event in events:
        kinds[event["type"]] += 1
        last = max(last, event["t"] * scale)
    return {"events": len(events), "keystrokes": kinds["down"], "pastes": kinds["paste"], "last_s": last}


def pipeline(path: Path) -> dict[str, Any]:
    """The handler on the file, as the worker calls it; returns its result."""
    return handler_on(MODALITY, path)


def _features(events: list[dict[str, Any]], scale: float) -> list[tuple[float, str, float | None]]:
    """(down time, key, dwell) per keystroke of a slice of raw events, paired from scratch."""
    strokes: list[list[Any]] = []
    held: dict[str, int] = {}
    for event in events:
        t, kind = event["t"] * scale, event["type"]
        if kind == "down" and event["key"] not in held:
            held[event["key"]] = len(strokes)
            strokes.append([t, event["key"], None])
        elif kind == "up" and event["key"] in held:
            stroke = strokes[held.pop(event["key"])]
            stroke[2] = max(t - stroke[0], 0.001)
    return [(t, k, d) for t, k, d in strokes]


def _profile(strokes: list[tuple[float, str, float | None]]) -> tuple[dict, dict, float, float]:
    flights, dwells = defaultdict(list), defaultdict(list)
    for (t0, k0, _), (t1, k1, d1) in zip(strokes, strokes[1:]):
        if t1 - t0 <= MAX_FLIGHT_S:
            flights[(k0, k1)].append(math.log(max(t1 - t0, 0.001)))
        if d1 is not None:
            dwells[k1].append(math.log(d1))
    return flights, dwells, _pooled(flights), _pooled(dwells)


def _pooled(groups: dict) -> float:
    ss = dof = 0.0
    for values in groups.values():
        mean = sum(values) / len(values)
        ss += sum((v - mean) ** 2 for v in values)
        dof += len(values) - 1
    return max(math.sqrt(ss / dof), 0.05) if dof else 1.0


def _z(value: float, seen: list[float], spread: float) -> float:
    mean = sum(seen) / len(seen)
    return max(-3.0, min(3.0, (value - mean) / (spread * math.sqrt(1 + 1 / len(seen)))))


def _score(strokes: list[tuple[float, str, float | None]], flights: dict, spread: float) -> float:
    """The newest keystroke's flight score against the profile, from the window's raw strokes."""
    residuals: dict[tuple[str, str], list[float]] = defaultdict(list)
    last = 0.0
    for (t0, k0, _), (t1, k1, _) in zip(strokes, strokes[1:]):
        seen = flights.get((k0, k1), ())
        if t1 - t0 <= MAX_FLIGHT_S and len(seen) >= 2:
            r = max(-2.5, min(2.5, (math.log(max(t1 - t0, 0.001)) - sum(seen) / len(seen)) / spread))
            residuals[(k0, k1)].append(r)
            last = (r * r - 1) / math.sqrt(2) + (r * sum(residuals[(k0, k1)][:-1]) /
                                                 math.sqrt(len(residuals[(k0, k1)]) - 1)
                                                 if len(residuals[(k0, k1)]) > 1 else 0.0)
    return last


def naive(path: Path, budget_s: float) -> dict[str, Any]:
    """Recompute every keystroke's evidence from the raw events; extrapolate if the budget runs out."""
    started = time.perf_counter()
    opts = Options()
    events, scale = _load(path)
    downs = [i for i, e in enumerate(events) if e["type"] == "down"]
    duration = max((e["t"] * scale for e in events), default=0.0)
    flights, _, spread, _ = _profile(_features(events[: downs[opts.typist_baseline_keys]], scale))
    memory, done, total, peak = opts.typist_memory_keys, 0, 0.0, 0.0
    centres = range(opts.typist_baseline_keys, len(downs))
    for centre in centres:
        strokes = _features(events[downs[max(opts.typist_baseline_keys, centre - memory)] : downs[centre] + 1], scale)
        total = max(0.0, total + _score(strokes, flights, spread) - opts.typist_drift)
        peak = max(peak, total)
        done += 1
        if time.perf_counter() - started > budget_s:
            break
    elapsed = time.perf_counter() - started
    share = done / max(len(centres), 1)
    return {"seconds_per_media_second": elapsed / max(share * duration, 1e-9),
            "extrapolated": done < len(centres), "keystrokes": done, "peak_evidence": peak}
